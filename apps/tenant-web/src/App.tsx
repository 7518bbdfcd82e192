// The shell: Mantine set up for the gateway's strict CSP, the language and its direction, the header.
import { Container, DirectionProvider, Group, MantineProvider, SegmentedControl, Title, useDirection } from "@mantine/core";
import { useEffect, useMemo, useState } from "react";
import { applyLanguage, direction, formatters, I18nContext, messages, useI18n, type I18n, type Language } from "./i18n";
import { MyData } from "./MyData";

/**
 * The gateway's CSP (style-src 'self') blocks `<style>` elements a script adds, so Mantine adds none:
 * its variables come from styles.css (the default theme's, so the theme is left as it is; app.css
 * sets the fonts), no global classes (no hiddenFrom/visibleFrom), a fixed light scheme (a
 * scheme switch adds a style to pause transitions) and no responsive style props. Style props still
 * work: React writes them through the CSSOM, which CSP allows.
 */
export function App({ initialLanguage }: { initialLanguage: Language }) {
  return (
    <MantineProvider withCssVariables={false} withGlobalClasses={false} forceColorScheme="light">
      <DirectionProvider initialDirection={direction(initialLanguage)} detectDirection={false}>
        <Localised initialLanguage={initialLanguage} />
      </DirectionProvider>
    </MantineProvider>
  );
}

function Localised({ initialLanguage }: { initialLanguage: Language }) {
  const [language, setLanguage] = useState(initialLanguage);
  const [chosen, setChosen] = useState(false);
  const { setDirection } = useDirection();
  useEffect(() => {
    applyLanguage(language, chosen);
    setDirection(direction(language));
  }, [language, chosen, setDirection]);
  const i18n = useMemo<I18n>(
    () => ({
      language,
      t: messages[language],
      f: formatters(language),
      setLanguage: (next) => {
        setChosen(true);
        setLanguage(next);
      },
    }),
    [language],
  );
  return (
    <I18nContext value={i18n}>
      <Container size="sm" px="md" py="lg" component="main">
        <Group justify="space-between" align="center" mb="md" wrap="wrap" gap="sm">
          <Title order={1} size="h2">
            {i18n.t.title}
          </Title>
          <LanguageSwitch />
        </Group>
        <MyData />
      </Container>
    </I18nContext>
  );
}

/** Two radio buttons (arrow keys move between them), each language named in itself. */
function LanguageSwitch() {
  const { language, setLanguage, t } = useI18n();
  return (
    <SegmentedControl
      aria-label={t.language}
      size="sm"
      value={language}
      onChange={setLanguage}
      data={[
        { value: "fa", label: <span lang="fa">فارسی</span> },
        { value: "en", label: <span lang="en">English</span> },
      ]}
    />
  );
}
