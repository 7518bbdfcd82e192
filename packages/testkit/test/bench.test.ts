import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterEach, describe, expect, it, vi } from "vitest";
import { emitReport, medianRun, spread, timedTool } from "../src/bench";

describe("bench reports", () => {
  afterEach(() => {
    vi.unstubAllEnvs();
    vi.restoreAllMocks();
  });

  it("summarises a ratio per round: median, min and max", () => {
    expect(spread([1.4, 1.1, 1.2])).toEqual({ median: 1.2, min: 1.1, max: 1.4 });
    expect(spread([2, 1])).toEqual({ median: 2, min: 1, max: 2 });
    expect(() => spread([])).toThrow(/no values/);
  });

  it("picks the run whose time is the median, with its other figures", () => {
    const runs = [
      { seconds: 3, rss: 30 },
      { seconds: 1, rss: 10 },
      { seconds: 2, rss: 20 },
    ];
    expect(medianRun(runs)).toEqual({ seconds: 2, rss: 20 });
    expect(medianRun(runs.slice(0, 2))).toEqual({ seconds: 3, rss: 30 }); // the upper of the middle two, as spread
    expect(() => medianRun([])).toThrow(/no runs/);
  });

  it("prints one table and writes the result file pnpm bench reads", () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), "bench-result-"));
    vi.stubEnv("BENCH_RESULT_DIR", dir);
    const out: string[] = [];
    vi.spyOn(process.stdout, "write").mockImplementation((s) => (out.push(String(s)), true));
    try {
      const result = emitReport({
        bench: "demo",
        title: "Demo benchmark",
        setup: ["one table"],
        rows: [
          { label: "anchor", seconds: [2, 2.2, 1.9], peakRssMiB: [10, 12, 11] },
          { label: "ours", seconds: [2.4, 2.1, 2.0], peakRssMiB: [150, 160, 155] },
        ],
        ratios: [{ name: "ours/anchor", what: "ours ÷ anchor", values: [1.2, 0.95, 1.05], target: 1.1 }],
      });
      expect(result.ratioSpreads[0]).toMatchObject({ median: 1.05, min: 0.95, max: 1.2, met: true });
      expect(result.peakRssMiB).toBe(160);
      const table = out.join("");
      expect(table).toMatch(/ours\/anchor \(ours ÷ anchor\)\s+1\.05\s+0\.95–1\.20\s+target ≤ 1\.1: met/);
      expect(table).toMatch(/ours\s+2\.10 s\s+2\.00–2\.40\s+160 MiB/);
      expect(JSON.parse(readFileSync(path.join(dir, "demo.json"), "utf8")).ratioSpreads[0].median).toBe(1.05);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("times a stock tool and names the command when it fails", () => {
    const run = timedTool("head -c 100000 /dev/zero | gzip -1 > /dev/null");
    expect(run.seconds).toBeGreaterThan(0);
    if (run.peakRssMiB !== undefined) expect(run.cpuSeconds).toBeGreaterThanOrEqual(0); // GNU time gives both, or neither
    expect(() => timedTool("false | cat")).toThrow(/command failed \(1\): false \| cat/);
  });
});
