// deploy/monitoring/ checked against the metrics the code registers: every metric an alert rule or a
// dashboard panel names exists, with its labels; rules are shaped as Prometheus loads them; the scrape
// targets are the services' ports. Where promtool is installed (Debian's prometheus package; CI installs
// it and sets HESAAB_REQUIRE_PROMTOOL), Prometheus's own check of the config and its rules as well.
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { ServiceMetrics } from "@hesaab/observability";
import { parsePrometheusText } from "@hesaab/testkit";

const dir = fileURLToPath(new URL("../../../deploy/monitoring", import.meta.url));
const read = (file: string) => readFileSync(path.join(dir, file), "utf8");

/** Every metric a process can expose, with its type and label names. */
async function exposed(): Promise<Map<string, { type: string; labels: Set<string> }>> {
  const metrics = new ServiceMetrics({ service: "check", defaultMetrics: false });
  metrics.storageUsageGauges(async () => []);
  metrics.queueDepthGauges(async () => []);
  const families = parsePrometheusText(await metrics.text());
  const out = new Map<string, { type: string; labels: Set<string> }>();
  for (const { name, labelNames } of metrics.describe()) {
    out.set(name, { type: families.get(name)?.type ?? "untyped", labels: new Set(["service", "le", "instance", "job", ...labelNames]) });
  }
  return out;
}

/** The hesaab_ metrics an expression names, histogram series mapped to their metric. */
function metricsIn(expr: string): string[] {
  return [...expr.matchAll(/\bhesaab_[a-z0-9_]+/g)].map((m) => m[0].replace(/_(bucket|count|sum)$/, ""));
}

/** Label names used in `{…}` selectors and `by (…)` clauses of an expression. */
function labelsIn(expr: string): string[] {
  const selectors = [...expr.matchAll(/\{([^}]*)\}/g)].flatMap((m) => [...m[1]!.matchAll(/([a-z_]+)\s*(=~|!~|!=|=)/g)].map((l) => l[1]!));
  const by = [...expr.matchAll(/\bby\s*\(([^)]*)\)/g)].flatMap((m) => m[1]!.split(",").map((s) => s.trim()));
  return [...selectors, ...by].filter(Boolean);
}

interface Rule {
  alert: string;
  expr: string;
  for?: string;
  labels: { severity: string };
  annotations: { summary: string; description?: string };
}

describe("deploy/monitoring", () => {
  it("alerts.rules.yaml: every rule well formed, over metrics and labels that exist", async () => {
    const known = await exposed();
    const { groups } = parse(read("alerts.rules.yaml")) as { groups: { name: string; rules: Rule[] }[] };
    const rules = groups.flatMap((g) => g.rules);
    expect(rules.length).toBeGreaterThanOrEqual(8);
    expect(new Set(rules.map((r) => r.alert)).size).toBe(rules.length);
    for (const rule of rules) {
      expect(rule.alert, rule.alert).toMatch(/^Hesaab[A-Za-z]+$/);
      expect(["critical", "warning", "info"], rule.alert).toContain(rule.labels.severity);
      expect(rule.annotations.summary, rule.alert).toBeTruthy();
      if (rule.for) expect(rule.for, rule.alert).toMatch(/^\d+[smh]$/);
      // balanced brackets: a typo here is a rule Prometheus refuses to load
      for (const [open, close] of [
        ["(", ")"],
        ["[", "]"],
        ["{", "}"],
      ] as const)
        expect(rule.expr.split(open).length, `${rule.alert} ${open}${close}`).toBe(rule.expr.split(close).length);
      const names = metricsIn(rule.expr);
      if (!/\bup\{/.test(rule.expr)) expect(names.length, rule.alert).toBeGreaterThan(0);
      for (const name of names) {
        const metric = known.get(name);
        expect(metric, `${rule.alert}: ${name}`).toBeDefined();
        for (const label of labelsIn(rule.expr)) if (label !== "job") expect([...metric!.labels], `${rule.alert}: ${name} label ${label}`).toContain(label);
      }
    }
  });

  it("grafana-dashboard.json: every panel queries metrics that exist", async () => {
    const known = await exposed();
    const dashboard = JSON.parse(read("grafana-dashboard.json")) as { uid: string; panels: { title: string; targets: { expr: string }[] }[] };
    expect(dashboard.uid).toBe("hesaab-backup");
    const used = new Set<string>();
    for (const panel of dashboard.panels) {
      expect(panel.targets.length, panel.title).toBeGreaterThan(0);
      for (const { expr } of panel.targets) {
        for (const name of metricsIn(expr)) {
          expect(known.has(name), `${panel.title}: ${name}`).toBe(true);
          used.add(name);
          for (const label of labelsIn(expr)) expect([...known.get(name)!.labels], `${panel.title}: ${name} label ${label}`).toContain(label);
        }
      }
    }
    // the dashboard shows every metric the code exposes
    expect([...known.keys()].filter((n) => !used.has(n))).toEqual([]);
  });

  it("prometheus.yaml scrapes each service's own port and the gateway's", () => {
    const config = parse(read("prometheus.yaml")) as { rule_files: string[]; scrape_configs: { static_configs: { targets: string[] }[] }[] };
    expect(config.rule_files).toEqual(["alerts.rules.yaml"]);
    expect(config.scrape_configs[0]!.static_configs[0]!.targets).toEqual(["backup-svc:9411", "storage-svc:9412", "dr-svc:9413", "gateway:8080"]);
  });
});

const promtool = spawnSync("promtool", ["--version"]).status === 0;

describe.runIf(promtool || process.env.HESAAB_REQUIRE_PROMTOOL === "1")("deploy/monitoring with promtool", () => {
  it("promtool check config: the scrape config and its rule file load", () => {
    const r = spawnSync("promtool", ["check", "config", path.join(dir, "prometheus.yaml")], { encoding: "utf8" });
    expect(r.error, "promtool is not installed (apt-get install prometheus)").toBeUndefined();
    expect(r.status, `${r.stdout}${r.stderr}`).toBe(0);
  });
});
