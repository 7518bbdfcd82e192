import "@mantine/core/styles.css";
import "@mantine/charts/styles.css";
import "./app.css";
import { Alert, Button, Center, Group, Loader, MantineProvider, NavLink, Paper, Stack, Text, TextInput, Title } from "@mantine/core";
import { QueryClientProvider, useQuery } from "@tanstack/react-query";
import { lazy, StrictMode, Suspense, useState, type ComponentType, type FormEvent } from "react";
import { createRoot } from "react-dom/client";
import { hrefOf, SCREENS, useRoute, type ScreenPath } from "./routes";
import { queryClient, session, TRPCProvider, trpcClient, useTRPC } from "./trpc";

/** A screen from its module, loaded the first time it is shown: each is a chunk of its own, so the charts come only with the screens that draw them. */
function screen<K extends string>(load: () => Promise<Record<K, ComponentType>>, name: K) {
  return lazy(async () => ({ default: (await load())[name] }));
}

const SCREEN_COMPONENTS: Record<ScreenPath, ComponentType> = {
  "/backups": screen(() => import("./screens/backups"), "BackupsScreen"),
  "/tenants": screen(() => import("./screens/tenants"), "TenantsScreen"),
  "/tenant": screen(() => import("./screens/tenant"), "TenantScreen"),
  "/restore": screen(() => import("./screens/restore"), "RestoreScreen"),
  "/disaster-recovery": screen(() => import("./screens/dr"), "DisasterRecoveryScreen"),
  "/storage": screen(() => import("./screens/storage"), "StorageScreen"),
  "/verification": screen(() => import("./screens/operations"), "VerificationScreen"),
  "/retention": screen(() => import("./screens/operations"), "RetentionScreen"),
  "/keys": screen(() => import("./screens/operations"), "KeysScreen"),
  "/drills": screen(() => import("./screens/operations"), "DrillsScreen"),
  "/alerts": screen(() => import("./screens/alerts-audit"), "AlertsScreen"),
  "/audit": screen(() => import("./screens/alerts-audit"), "AuditScreen"),
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
        <Suspense
          fallback={
            <Group>
              <Loader size="sm" aria-hidden />
              <Text size="sm">Loading…</Text>
            </Group>
          }
        >
          {/* a new screen (or another tenant's page) starts with fresh state */}
          <Screen key={`${route.path}?${route.params.get("id") ?? ""}`} />
        </Suspense>
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
