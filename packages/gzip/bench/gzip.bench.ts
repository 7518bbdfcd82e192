// `pnpm bench:gzip`: our gzip engines side by side with the gzip command on the same COPY-like
// text, in one run: wall time, CPU (this process, every thread), output size, and the ratio to
// `gzip -6`. BENCH_MB (default 200) sets the input size, BENCH_LEVEL (6) the level. The machines are
// shared and noisy: read the ratios, never turn them into test assertions.
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, statSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { Readable, Writable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { createGzipStream, gzipBuffer, gzipEngines, type GzipEngine } from "../src";

const MB = Number(process.env.BENCH_MB ?? 200);
const LEVEL = Number(process.env.BENCH_LEVEL ?? 6);

/** Rows like an invoice table's COPY text: ids, codes, amounts, dates, some free text. */
function copyText(bytes: number): Buffer {
  const out = Buffer.allocUnsafe(bytes);
  let at = 0;
  let seed = 1;
  const rand = () => (seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648;
  const words = ["invoice", "payment", "tax", "discount", "customer", "shipping", "refund", "credit", "note", "رسید", "فاکتور"];
  for (let i = 0; at < bytes; i++) {
    const line = `${i}\t${(rand() * 1e9).toFixed(0)}\tINV-${(rand() * 1e6).toFixed(0)}\t${(rand() * 1e5).toFixed(2)}\t2026-${String(1 + (i % 12)).padStart(2, "0")}-${String(1 + (i % 28)).padStart(2, "0")}\t${words[i % words.length]} ${words[(i * 7) % words.length]}\t\\N\n`;
    at += out.write(line, at);
  }
  return out;
}

interface Row {
  label: string;
  seconds: number;
  cpu: number;
  bytes: number;
}

async function timed(label: string, fn: () => Promise<number> | number): Promise<Row> {
  const cpu = process.cpuUsage();
  const started = performance.now();
  const bytes = await fn();
  const used = process.cpuUsage(cpu);
  return { label, seconds: (performance.now() - started) / 1000, cpu: (used.user + used.system) / 1e6, bytes };
}

async function streamed(input: Buffer, engine: GzipEngine, parallel: number): Promise<number> {
  let bytes = 0;
  const pieces = Array.from({ length: Math.ceil(input.length / 65536) }, (_, i) => input.subarray(i * 65536, (i + 1) * 65536));
  await pipeline(
    Readable.from(pieces),
    createGzipStream({ level: LEVEL, engine, parallel }),
    new Writable({
      write(chunk: Buffer, _enc, cb) {
        bytes += chunk.length;
        cb();
      },
    }),
  );
  return bytes;
}

const work = mkdtempSync(path.join(os.tmpdir(), "gzip-bench-"));
try {
  const input = copyText(MB * 1e6);
  const file = path.join(work, "copy.txt");
  writeFileSync(file, input);
  const rows: Row[] = [];
  const cli = spawnSync("bash", ["-c", `TIMEFORMAT='%R %U %S'; time (gzip -${LEVEL} -c ${file} > ${file}.gz)`], { encoding: "utf8" });
  const [real, user, sys] = cli.stderr.trim().split("\n").pop()!.split(" ").map(Number);
  const anchor: Row = { label: `gzip -${LEVEL} (the command)`, seconds: real!, cpu: user! + sys!, bytes: statSync(`${file}.gz`).size };
  rows.push(anchor);
  for (const engine of gzipEngines) {
    rows.push(await timed(`${engine}: stream, 1 thread`, () => streamed(input, engine, 1)));
    if (engine === "libdeflate") rows.push(await timed(`${engine}: stream, 2 threads`, () => streamed(input, engine, 2)));
    rows.push(
      await timed(`${engine}: 50 kB buffers, sync`, () => {
        let bytes = 0;
        for (let i = 0; i < input.length; i += 50_000) bytes += gzipBuffer(input.subarray(i, i + 50_000), { level: LEVEL, engine }).length;
        return bytes;
      }),
    );
  }
  const lines = [
    `gzip engines, level ${LEVEL}, ${MB} MB of COPY-like text; ${os.cpus().length} cores, node ${process.version}, load ${os.loadavg()[0]!.toFixed(2)}`,
    "",
    `  ${"".padEnd(34)}    time   CPU      output   ratio   CPU / gzip's`,
    ...rows.map(
      (r) =>
        `  ${r.label.padEnd(34)} ${r.seconds.toFixed(2).padStart(6)} s ${r.cpu.toFixed(2).padStart(5)} s ${(r.bytes / 1e6).toFixed(1).padStart(7)} MB ${(input.length / r.bytes).toFixed(2).padStart(6)}   ${(r.cpu / anchor.cpu).toFixed(2).padStart(5)}`,
    ),
    "",
    `  peak RSS ${(process.resourceUsage().maxRSS / 1024).toFixed(0)} MiB (the input is held in memory: ${MB} MB)`,
  ];
  process.stdout.write(`${lines.join("\n")}\n`);
} finally {
  rmSync(work, { recursive: true, force: true });
}
