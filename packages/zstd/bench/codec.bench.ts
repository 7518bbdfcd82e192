// `pnpm bench:codec`: the codecs a tenant backup can use, side by side on the same COPY-like text
// (`BENCH_MB`, default 200), each in a process of its own that streams the file as a backup streams
// its export: the commands `gzip -6` and `zstd -3` (the anchors), our gzip (libdeflate, node:zlib)
// and our zstd (libzstd, node:zlib's where Node has it), compressing and then decompressing. Rows:
// time, CPU (every thread), output size, peak RSS; ratios per round (ours ÷ the command). The
// machines are shared and noisy: read the CPU ratios, never turn them into test assertions.
// BENCH_LEVEL (6) is gzip's level, BENCH_ZSTD_LEVEL (3) zstd's.
import { createReadStream, createWriteStream, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { PassThrough, Transform, type TransformCallback } from "node:stream";
import { pipeline } from "node:stream/promises";
import { createGunzip } from "node:zlib";
import { createGzipStream, gzipEngines } from "@hesaab/gzip";
import { benchChild, benchResult, benchRounds, emitReport, mb, ownPeakRssMiB, timedTool, type BenchRatio, type BenchRow } from "@hesaab/testkit/bench";
import { createZstdDecompressStream, createZstdStream, zstdEngines } from "../src";

const MB = Number(process.env.BENCH_MB ?? 200);
const GZIP_LEVEL = Number(process.env.BENCH_LEVEL ?? 6);
const ZSTD_LEVEL = Number(process.env.BENCH_ZSTD_LEVEL ?? 3);

/** One of our measurements, run in a child: `codec` `engine` compressing (or decompressing) `input` into `output`. */
interface Job {
  codec: "gzip" | "zstd";
  engine: string;
  /** `copy`: no codec, the floor of every row of ours (Node reading and writing the file). */
  op: "compress" | "decompress" | "copy";
  input: string;
  output: string;
}
interface Measured {
  seconds: number;
  cpuSeconds: number;
  bytes: number;
  peakRssMiB: number;
}

function stage(job: Job): Transform {
  if (job.op === "copy") return new PassThrough();
  if (job.op === "decompress") return job.codec === "gzip" ? createGunzip() : createZstdDecompressStream({ engine: job.engine as "libzstd" | "zlib" });
  return job.codec === "gzip"
    ? createGzipStream({ level: GZIP_LEVEL, engine: job.engine as "libdeflate" | "zlib" })
    : createZstdStream({ level: ZSTD_LEVEL, engine: job.engine as "libzstd" | "zlib" });
}

/** In the child: the job, timed with this process's own CPU (every thread) and peak RSS. */
async function runJob(job: Job): Promise<Measured> {
  let bytes = 0;
  const count = new Transform({
    transform(chunk: Buffer, _enc, cb: TransformCallback) {
      bytes += chunk.length;
      cb(null, chunk);
    },
  });
  const cpu = process.cpuUsage();
  const started = performance.now();
  await pipeline(createReadStream(job.input, { highWaterMark: 1 << 16 }), stage(job), count, createWriteStream(job.output));
  const used = process.cpuUsage(cpu);
  return { seconds: (performance.now() - started) / 1000, cpuSeconds: (used.user + used.system) / 1e6, bytes, peakRssMiB: ownPeakRssMiB() };
}

/** In the parent: the job in a fresh process (its RSS is its own, not the text generator's). */
function measure(job: Job): Promise<Measured> {
  return benchChild<Measured>(import.meta.url, ["--job", JSON.stringify(job)], process.env);
}

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

/** A row per measurement, filled round by round; the note shows the median CPU and the output. */
class Rows {
  readonly #rows = new Map<string, { seconds: number[]; peakRssMiB: number[]; cpu: number[]; bytes: number }>();
  add(label: string, m: { seconds: number; cpuSeconds?: number | undefined; bytes: number; peakRssMiB?: number | undefined }): void {
    const row = this.#rows.get(label) ?? { seconds: [], peakRssMiB: [], cpu: [], bytes: 0 };
    row.seconds.push(m.seconds);
    if (m.peakRssMiB !== undefined) row.peakRssMiB.push(m.peakRssMiB);
    if (m.cpuSeconds !== undefined) row.cpu.push(m.cpuSeconds);
    row.bytes = m.bytes;
    this.#rows.set(label, row);
  }
  cpu(label: string, round: number): number {
    return this.#rows.get(label)!.cpu[round]!;
  }
  bytes(label: string): number {
    return this.#rows.get(label)!.bytes;
  }
  has(label: string): boolean {
    return this.#rows.has(label);
  }
  table(input: number): BenchRow[] {
    return [...this.#rows].map(([label, r]) => {
      const cpu = [...r.cpu].sort((a, b) => a - b)[Math.floor(r.cpu.length / 2)];
      const size = r.bytes > 0 ? `, ${mb(r.bytes)} (${(input / r.bytes).toFixed(2)}:1)` : "";
      return { label, seconds: r.seconds, peakRssMiB: r.peakRssMiB, note: `CPU ${cpu?.toFixed(2) ?? "?"} s${size}` };
    });
  }
}

async function main(): Promise<void> {
  const work = mkdtempSync(path.join(os.tmpdir(), "codec-bench-"));
  try {
    const text = path.join(work, "copy.txt");
    writeFileSync(text, copyText(MB * 1e6));
    const out = (name: string) => path.join(work, name);
    const gzipCli = `gzip -${GZIP_LEVEL}`;
    const zstdCli = `zstd -${ZSTD_LEVEL}`;
    const ours = [
      ...gzipEngines.map((engine) => ({ codec: "gzip" as const, engine, label: `gzip ${engine}` })),
      ...zstdEngines.map((engine) => ({ codec: "zstd" as const, engine, label: `zstd ${engine}` })),
    ];
    const rows = new Rows();
    const rounds = benchRounds();
    for (let round = 0; round < rounds; round++) {
      rows.add(`${gzipCli} (the command)`, timedTool(`gzip -${GZIP_LEVEL} -c ${text} > ${out("cli.gz")}`, { output: out("cli.gz") }));
      rows.add(`${zstdCli} (the command)`, timedTool(`zstd -q -${ZSTD_LEVEL} -c ${text} > ${out("cli.zst")}`, { output: out("cli.zst") }));
      rows.add("node: read → write, no codec (our floor)", await measure({ codec: "gzip", engine: "none", op: "copy", input: text, output: "/dev/null" }));
      rows.add(`${zstdCli} -T2 (the command, libzstd's own threads)`, timedTool(`zstd -q -T2 -${ZSTD_LEVEL} -c ${text} > /dev/null`));
      for (const o of ours)
        rows.add(`${o.label}: compress`, await measure({ codec: o.codec, engine: o.engine, op: "compress", input: text, output: out(`${o.label}`) }));
      rows.add("gzip -d (the command)", timedTool(`gzip -dc ${out("cli.gz")} > /dev/null`));
      rows.add("zstd -d (the command)", timedTool(`zstd -q -dc ${out("cli.zst")} > /dev/null`));
      rows.add(
        "gzip node:zlib: decompress",
        await measure({ codec: "gzip", engine: "zlib", op: "decompress", input: out(`gzip ${gzipEngines[0]}`), output: "/dev/null" }),
      );
      for (const engine of zstdEngines)
        rows.add(
          `zstd ${engine}: decompress`,
          await measure({ codec: "zstd", engine, op: "decompress", input: out(`zstd ${zstdEngines[0]}`), output: "/dev/null" }),
        );
    }
    const perRound = (of: string, anchor: string) => Array.from({ length: rounds }, (_, i) => rows.cpu(of, i) / rows.cpu(anchor, i));
    const ratios: BenchRatio[] = [
      ...ours.map((o) => ({
        name: `${o.label} compress CPU`,
        what: `ours ÷ ${o.codec === "gzip" ? gzipCli : zstdCli}`,
        values: perRound(`${o.label}: compress`, `${o.codec === "gzip" ? gzipCli : zstdCli} (the command)`),
      })),
      ...zstdEngines.map((engine) => ({
        name: `zstd ${engine} decompress CPU`,
        what: "ours ÷ zstd -d",
        values: perRound(`zstd ${engine}: decompress`, "zstd -d (the command)"),
      })),
    ];
    if (rows.has("zstd libzstd: compress") && rows.has("gzip libdeflate: compress"))
      ratios.push({
        name: "switching codec: CPU",
        what: "zstd libzstd ÷ gzip libdeflate",
        values: perRound("zstd libzstd: compress", "gzip libdeflate: compress"),
      });
    const size = (a: string, b: string) => (rows.has(a) && rows.has(b) ? `${(rows.bytes(a) / rows.bytes(b)).toFixed(3)}` : "–");
    emitReport({
      bench: "codec",
      title: `Codecs for tenant backups: gzip -${GZIP_LEVEL} and zstd -${ZSTD_LEVEL}, ours beside the commands`,
      setup: [`${MB} MB of COPY-like text, read from a file by every row (ours: 1 MiB gzip members, 8 MiB zstd frames, two compressed at once)`],
      rows: rows.table(MB * 1e6),
      ratios,
      notes: [
        `output size, ours ÷ the command: gzip libdeflate ${size("gzip libdeflate: compress", `${gzipCli} (the command)`)}, zstd libzstd ${size("zstd libzstd: compress", `${zstdCli} (the command)`)}; zstd libzstd ÷ gzip libdeflate ${size("zstd libzstd: compress", "gzip libdeflate: compress")}`,
        "CPU is the process's (every thread); the commands' from GNU time. Decompression reads our own output (libzstd's, libdeflate's).",
        "Every row of ours includes Node's own cost of streaming the file (the floor row): compare the codecs above it.",
      ],
    });
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

const at = process.argv.indexOf("--job");
if (at > 0) benchResult(await runJob(JSON.parse(process.argv[at + 1]!) as Job));
else await main();
