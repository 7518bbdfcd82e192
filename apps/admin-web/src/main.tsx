import "@mantine/core/styles.css";
import "@mantine/charts/styles.css";
import "./app.css";
import { Alert, Button, Center, Group, Loader, MantineProvider, NavLink, Paper, Stack, Text, TextInput, Title } from "@mantine/core";
import { QueryClientProvider, useQuery } from "@tanstack/react-query";
import { StrictMode, useState, type FormEvent } from "react";
import { createRoot } from "react-dom/client";
import { hrefOf, SCREENS, useRoute, type ScreenPath } from "./routes";
import { AlertsScreen, AuditScreen } from "./screens/alerts-audit";
import { BackupsScreen } from "./screens/backups";
import { DisasterRecoveryScreen } from "./screens/dr";
import { DrillsScreen, KeysScreen, RetentionScreen, VerificationScreen } from "./screens/operations";
import { RestoreScreen } from "./screens/restore";
import { StorageScreen } from "./screens/storage";
import { TenantScreen } from "./screens/tenant";
import { TenantsScreen } from "./screens/tenants";
import { queryClient, session, TRPCProvider, trpcClient, useTRPC } from "./trpc";

const SCREEN_COMPONENTS: Record<ScreenPath, () => React.JSX.Element> = {
  "/backups": BackupsScreen,
  "/tenants": TenantsScreen,
  "/tenant": TenantScreen,
  "/restore": RestoreScreen,
  "/disaster-recovery": DisasterRecoveryScreen,
  "/storage": StorageScreen,
  "/verification": VerificationScreen,
  "/retention": RetentionScreen,
  "/keys": KeysScreen,
  "/drills": DrillsScreen,
  "/alerts": AlertsScreen,
  "/audit": AuditScreen,
};

function SignIn({ reason }: { reason: string }) {
  const [token, setToken] = useState("");
  const submit = (e: FormEvent) => {
    e.preventDefault();
    session.set(token.trim());
    void queryClient.resetQueries();
  };
  return (
    <Center mih="100vh">
      <Paper withBorder p="xl" w={560}>
        <form onSubmit={submit}>
          <Stack>
            <Title order={1} size="h3">
              HesaabPlus Backup
            </Title>
            <Alert color="orange" role="alert">
              {reason}.
            </Alert>
            <Text size="sm">
              Open the admin app from HesaabPlus's admin login, or paste a session an operator made with <code>pnpm hesaab admin session --user you</code>:
            </Text>
            <TextInput value={token} onChange={(e) => setToken(e.currentTarget.value)} placeholder="eyJ…" aria-label="admin session" />
            <Group justify="flex-end">
              <Button type="submit" disabled={token.trim() === ""}>
                Sign in
              </Button>
            </Group>
          </Stack>
        </form>
      </Paper>
    </Center>
  );
}

function App() {
  const trpc = useTRPC();
  const me = useQuery(trpc.admin.me.queryOptions());
  const route = useRoute();
  if (me.isPending)
    return (
      <Center mih="100vh">
        <Loader aria-hidden />
        <Text ml="sm">Signing in…</Text>
      </Center>
    );
  if (me.isError) return <SignIn reason={me.error.message} />;
  const signOut = () => {
    session.set(null);
    void queryClient.resetQueries();
  };
  const Screen = SCREEN_COMPONENTS[route.path];
  // a tenant's page belongs to the tenants screen in the navigation
  const current = route.path === "/tenant" ? "/tenants" : route.path;
  return (
    <div className="shell">
      <header className="shell-header">
        <Title order={1} size="h4">
          HesaabPlus Backup
        </Title>
        <Group>
          <Text size="sm">Signed in as {me.data.userId}</Text>
          <Button variant="default" size="xs" onClick={signOut}>
            Sign out
          </Button>
        </Group>
      </header>
      <nav className="shell-nav" aria-label="screens">
        {SCREENS.map((s) => (
          <NavLink key={s.path} href={hrefOf(s.path)} label={s.label} active={current === s.path} aria-current={current === s.path ? "page" : undefined} />
        ))}
      </nav>
      <main className="shell-main">
        {/* a new screen (or another tenant's page) starts with fresh state */}
        <Screen key={`${route.path}?${route.params.get("id") ?? ""}`} />
      </main>
    </div>
  );
}

session.take();
createRoot(document.getElementById("root")!).render(
  <StrictMode>
    {/* no <style> tags: the gateway's CSP allows only the app's own stylesheets (the defaults are in @mantine/core/styles.css) */}
    <MantineProvider withCssVariables={false} withGlobalClasses={false} forceColorScheme="light">
      <QueryClientProvider client={queryClient}>
        <TRPCProvider trpcClient={trpcClient} queryClient={queryClient}>
          <App />
        </TRPCProvider>
      </QueryClientProvider>
    </MantineProvider>
  </StrictMode>,
);
