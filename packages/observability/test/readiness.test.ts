import { describe, expect, it } from "vitest";
import { checkReadiness, type ReadinessCheck } from "../src";

const up = (name: string, kind: ReadinessCheck["kind"]): ReadinessCheck => ({ name, kind, probe: async () => {} });
const down = (name: string, kind: ReadinessCheck["kind"]): ReadinessCheck => ({
  name,
  kind,
  probe: async () => {
    throw Object.assign(new Error(`${name} refused`), { code: "ECONNREFUSED" });
  },
});

describe("checkReadiness", () => {
  it("is ready with everything up, degraded with one provider down, not ready with both or a critical one down", async () => {
    expect((await checkReadiness("s", [up("pg", "critical"), up("b2", "provider"), up("r2", "provider")])).status).toBe("ready");
    expect((await checkReadiness("s", [up("pg", "critical"), up("b2", "provider"), down("r2", "provider")])).status).toBe("degraded");
    expect((await checkReadiness("s", [up("pg", "critical"), down("b2", "provider"), down("r2", "provider")])).status).toBe("not_ready");
    const report = await checkReadiness("s", [down("pg", "critical"), up("b2", "provider"), up("r2", "provider")]);
    expect(report.status).toBe("not_ready");
    expect(report.checks.pg).toEqual({ ok: false, kind: "critical", error: { code: "ECONNREFUSED", message: "pg refused" } });
  });

  it("counts a probe that never answers as down, without waiting for it", async () => {
    const hung: ReadinessCheck = { name: "nats", kind: "critical", probe: () => new Promise(() => {}) };
    const report = await checkReadiness("s", [hung], { timeoutMs: 10 });
    expect(report.status).toBe("not_ready");
    expect(report.checks.nats!.error!.code).toBe("timeout");
  });
});
