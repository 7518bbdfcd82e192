#!/usr/bin/env node
// `pnpm bench`: every benchmark, one after another, then one summary of their ratios and peak RSS.
//
//   pnpm bench                      all of them (BENCH_ROUNDS=3 for figures worth quoting)
//   pnpm bench crypto codec         some of them
//
// Each `pnpm bench:<name>` prints its own table and writes it to BENCH_RESULT_DIR (here a fresh
// directory under .bench/, kept: the JSON a run leaves is what its README's figures came from). A
// benchmark that fails is named in the summary; the others still run. Exit status 1 if one failed.
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

const root = path.dirname(path.dirname(fileURLToPath(import.meta.url)));
const ALL = ["crypto", "codec", "backup", "restore", "dr", "night"];
const chosen = process.argv.slice(2);
for (const name of chosen) {
  if (!ALL.includes(name)) {
    process.stderr.write(`no benchmark named ${name}: choose from ${ALL.join(", ")}\n`);
    process.exit(2);
  }
}
const names = chosen.length > 0 ? chosen : ALL;
const dir = path.join(root, ".bench", new Date().toISOString().replace(/[:.]/g, "-"));
mkdirSync(dir, { recursive: true });

const outcomes = [];
for (const name of names) {
  process.stderr.write(`\n=== pnpm bench:${name}\n`);
  const started = performance.now();
  const r = spawnSync("pnpm", [`bench:${name}`], { cwd: root, stdio: "inherit", env: { ...process.env, BENCH_RESULT_DIR: dir } });
  const minutes = (performance.now() - started) / 60000;
  const file = path.join(dir, `${name}.json`);
  outcomes.push({ name, minutes, ok: r.status === 0 && existsSync(file), result: existsSync(file) ? JSON.parse(readFileSync(file, "utf8")) : undefined });
}

const lines = ["", `Summary (${names.length} benchmarks; results in ${path.relative(root, dir)})`];
const first = outcomes.find((o) => o.result)?.result;
if (first) lines.push(...first.machine.map((l) => `  machine: ${l}`), `  rounds: ${first.rounds}`);
lines.push("", `  ${"benchmark".padEnd(10)} ${"ratio".padEnd(58)} median  min–max      target     peak RSS`);
for (const o of outcomes) {
  if (!o.ok) {
    lines.push(`  ${o.name.padEnd(10)} FAILED after ${o.minutes.toFixed(1)} min (its output is above)`);
    continue;
  }
  const rss = `${o.result.peakRssMiB.toFixed(0)} MiB`;
  o.result.ratioSpreads.forEach((r, i) => {
    const target = r.target === undefined ? "" : `≤ ${r.target} ${r.met ? "met" : "NOT met"}`;
    lines.push(
      `  ${(i === 0 ? o.name : "").padEnd(10)} ${`${r.name} (${r.what})`.slice(0, 58).padEnd(58)} ${r.median.toFixed(2).padStart(6)}  ${`${r.min.toFixed(2)}–${r.max.toFixed(2)}`.padEnd(11)}  ${target.padEnd(10)} ${i === 0 ? rss.padStart(8) : ""}`,
    );
  });
}
process.stdout.write(`${lines.join("\n")}\n`);
process.exit(outcomes.every((o) => o.ok) ? 0 : 1);
