import { existsSync, mkdirSync, rmSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { ADDONS } from "@hesaab/bundle/lib";
import { benchChild, s3rverCpuSeconds } from "../src/bench";

const fixture = path.join(path.dirname(fileURLToPath(import.meta.url)), "fixtures", "child.bench.ts");

interface Report {
  args: string[];
  execArgv: string[];
  file: string;
  peakRssMiB: number;
  fromEnv: string | undefined;
}

describe("benchChild", () => {
  it("runs the bench file as a bundle under plain node, with its arguments and environment, and returns what it sent", async () => {
    const r = await benchChild<Report>(fixture, ["--phase", "x"], { ...process.env, CHILD_FIXTURE: "yes" });
    expect(r.args).toEqual(["--phase", "x"]);
    expect(r.fromEnv).toBe("yes");
    expect(r.execArgv).toEqual([]); // no tsx loader: measured as deployed
    expect(r.file).toMatch(new RegExp(`node_modules/\\.cache/bench-child-${process.pid}-[^/]+/child\\.bench\\.mjs$`));
    expect(r.peakRssMiB).toBeGreaterThan(10);
    // the workspace's built native addons are shipped beside the bundle, where the packages look for them
    const dir = path.dirname(fileURLToPath(r.file));
    const packages = path.join(fixture, "../../../..");
    const built = ADDONS.filter((a) => existsSync(path.join(packages, a.pkg, "build", a.file)));
    for (const addon of built) expect(existsSync(path.join(dir, addon.file)), addon.file).toBe(true);
  });

  it("removes the bundles of bench processes that are gone, and only theirs", async () => {
    const cache = path.join(path.dirname(fixture), "..", "..", "node_modules", ".cache");
    const orphan = path.join(cache, "bench-child-999999999-abc"); // no such process
    const living = path.join(cache, `bench-child-${process.ppid}-abc`); // a process that runs: kept
    for (const dir of [orphan, living]) mkdirSync(dir, { recursive: true });
    try {
      await benchChild<Report>(fixture, [], process.env);
      expect(existsSync(orphan)).toBe(false);
      expect(existsSync(living)).toBe(true);
    } finally {
      for (const dir of [orphan, living]) rmSync(dir, { recursive: true, force: true });
    }
  });

  it("builds the bundle once per process", async () => {
    const a = await benchChild<Report>(fixture, [], process.env);
    const b = await benchChild<Report>(fixture, [], process.env);
    expect(b.file).toBe(a.file);
  });

  it("fails with the child's exit status when it ends without success", async () => {
    await expect(benchChild(fixture, ["--fail"], process.env)).rejects.toThrow(/child\.bench\.mjs --fail exited with 3/);
  });

  it("reads no s3rver CPU for a data directory no s3rver serves", () => {
    expect(s3rverCpuSeconds("/nonexistent/no-s3rver-here")).toBe(0);
  });
});
