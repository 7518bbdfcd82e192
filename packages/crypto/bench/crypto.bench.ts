// `pnpm bench:crypto`: BKP1 encrypt and decrypt throughput and peak memory on a 1 GiB stream
// (1 MiB chunks, 64 KiB writes as a file or gzip stream would give), printed beside
// `openssl speed -evp aes-256-gcm` (16384-byte column) measured in the same run, `BENCH_ROUNDS`
// times (medians and min–max in one table; `BENCH_BYTES` sets the stream's size).
//
// Each measured phase runs in its own child process so that its peak RSS (the kernel's maxrss) is
// its own. The decrypt phase reads an artifact written beforehand to a temporary file, in 64 KiB
// synchronous reads from the page cache: a fast source standing in for a network download, so that
// the figure is the decryptor's and not fs.ReadStream's one-read-at-a-time thread-pool round trips.
// Machines here are shared and noisy: read the ratio, and run twice before believing a change.
import { randomBytes } from "node:crypto";
import { closeSync, createWriteStream, mkdtempSync, openSync, readSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { Readable, Writable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { benchChild, benchResult, benchRounds, emitReport, ownPeakRssMiB, spread, timedTool } from "@hesaab/testkit/bench";
import { createDecryptStream, createEncryptStream } from "../src";

const GiB = 1024 ** 3;
const TOTAL = Number(process.env.BENCH_BYTES ?? GiB);
const WRITE = 64 * 1024;
const BLOCK = 1 << 20;
const identity = { kind: "tenant" as const, tenantId: "tenant-bench", backupId: "bkp_bench" };
const TARGET_GBPS = 1;

interface PhaseResult {
  phase: string;
  bytes: number;
  seconds: number;
  cpuSeconds: number;
  maxRssMb: number;
  startRssMb: number;
}

function plaintextSource(): Readable {
  const block = randomBytes(BLOCK);
  function* pieces() {
    for (let at = 0; at < TOTAL; at += WRITE) yield block.subarray(at % BLOCK, (at % BLOCK) + Math.min(WRITE, TOTAL - at));
  }
  return Readable.from(pieces());
}

/** The file as a stream of 64 KiB pieces read synchronously (fresh buffers, as a socket would give). */
function fileSource(file: string): Readable {
  const fd = openSync(file, "r");
  return new Readable({
    highWaterMark: WRITE,
    read() {
      const buf = Buffer.allocUnsafe(WRITE);
      const n = readSync(fd, buf);
      this.push(n > 0 ? buf.subarray(0, n) : null);
    },
    destroy(err, cb) {
      closeSync(fd);
      cb(err);
    },
  });
}

function countingSink(onBytes: (n: number) => void): Writable {
  return new Writable({
    highWaterMark: 1 << 20,
    write(chunk: Buffer, _enc, cb) {
      onBytes(chunk.length);
      cb();
    },
  });
}

function keys() {
  return { dek: Buffer.from(process.env.BENCH_DEK!, "hex"), dekId: Buffer.from(process.env.BENCH_DEK_ID!, "hex") };
}

async function runPhase(phase: string, file: string): Promise<PhaseResult> {
  const { dek, dekId } = keys();
  const startRssMb = process.memoryUsage().rss / 1024 ** 2;
  let bytes = 0;
  const started = performance.now();
  const cpu = process.cpuUsage();
  if (phase === "encrypt") {
    await pipeline(
      plaintextSource(),
      createEncryptStream({ dek, dekId, ...identity, contentEncoding: "none" }),
      countingSink(() => {}),
    );
    bytes = TOTAL;
  } else {
    await pipeline(
      fileSource(file),
      createDecryptStream({ dek, dekId, expect: identity }),
      countingSink((n) => (bytes += n)),
    );
  }
  const seconds = (performance.now() - started) / 1000;
  const used = process.cpuUsage(cpu);
  return { phase, bytes, seconds, cpuSeconds: (used.user + used.system) / 1e6, maxRssMb: ownPeakRssMiB(), startRssMb };
}

function inChild(phase: string, file: string, env: NodeJS.ProcessEnv): Promise<PhaseResult> {
  return benchChild<PhaseResult>(import.meta.url, ["--phase", phase, file], env);
}

/**
 * AES-256-GCM throughput of `openssl speed -evp aes-256-gcm`, 16384-byte column, in GB/s (wall
 * clock), with its run's peak RSS. As an anchor row: the time openssl would take for our bytes.
 */
function opensslSpeed(): { gbps: number; peakRssMiB: number | undefined; command: string } {
  const command = "openssl speed -elapsed -seconds 2 -evp aes-256-gcm 2>/dev/null";
  const run = timedTool(command, { stdout: true });
  const lines = run.stdout.trim().split("\n");
  const headerIndex = lines.findIndex((l) => l.startsWith("type"));
  const columns = (lines[headerIndex] ?? "").trim().split(/\s{2,}/);
  const column = columns.indexOf("16384 bytes");
  const row = lines.slice(headerIndex + 1).find((l) => /aes-256-gcm/i.test(l));
  if (headerIndex < 0 || column < 0 || !row) throw new Error(`cannot parse openssl speed output:\n${run.stdout}`);
  const values = row
    .trim()
    .split(/\s+/)
    .slice(-(columns.length - 1));
  const kbps = Number.parseFloat(values[column - 1]!.replace(/k$/, ""));
  return { gbps: (kbps * 1000) / 1e9, peakRssMiB: run.peakRssMiB, command: command.replace(" 2>/dev/null", "") };
}

async function main(): Promise<void> {
  const rounds = benchRounds();
  const dir = mkdtempSync(path.join(tmpdir(), "bkp1-bench-"));
  const file = path.join(dir, "artifact.bkp1");
  const env = { ...process.env, BENCH_DEK: randomBytes(32).toString("hex"), BENCH_DEK_ID: randomBytes(16).toString("hex") };
  try {
    process.stderr.write(`preparing a ${(TOTAL / GiB).toFixed(2)} GiB artifact in ${dir}\n`);
    process.env.BENCH_DEK = env.BENCH_DEK;
    process.env.BENCH_DEK_ID = env.BENCH_DEK_ID;
    const { dek, dekId } = keys();
    await pipeline(plaintextSource(), createEncryptStream({ dek, dekId, ...identity, contentEncoding: "none" }), createWriteStream(file));

    const runs = { encrypt: [] as PhaseResult[], decrypt: [] as PhaseResult[], openssl: [] as ReturnType<typeof opensslSpeed>[] };
    for (let round = 1; round <= rounds; round++) {
      process.stderr.write(`round ${round} of ${rounds}: encrypt, decrypt, then openssl speed\n`);
      runs.encrypt.push(await inChild("encrypt", file, env));
      const decrypt = await inChild("decrypt", file, env);
      if (decrypt.bytes !== TOTAL) throw new Error(`decrypted ${decrypt.bytes} bytes, expected ${TOTAL}`);
      runs.decrypt.push(decrypt);
      runs.openssl.push(opensslSpeed());
    }
    const gbps = (r: PhaseResult) => r.bytes / r.seconds / 1e9;
    const opensslSeconds = runs.openssl.map((o) => TOTAL / 1e9 / o.gbps);
    const ours = (phase: "encrypt" | "decrypt") => {
      const rs = runs[phase];
      const median = spread(rs.map(gbps)).median;
      return {
        label: `${phase}: BKP1 (ours)`,
        seconds: rs.map((r) => r.seconds),
        peakRssMiB: rs.map((r) => r.maxRssMb),
        note: `${median.toFixed(2)} GB/s, ${spread(rs.map((r) => r.bytes / r.cpuSeconds / 1e9)).median.toFixed(2)} GB/s per CPU-second, start RSS ${rs[0]!.startRssMb.toFixed(0)} MiB`,
      };
    };
    const slowest = Math.min(spread(runs.encrypt.map(gbps)).median, spread(runs.decrypt.map(gbps)).median);
    emitReport({
      bench: "crypto",
      title: "BKP1 encrypt and decrypt (pnpm bench:crypto)",
      setup: [`${(TOTAL / GiB).toFixed(2)} GiB stream, 1 MiB chunks, ${WRITE / 1024} KiB writes; anchor: ${runs.openssl[0]!.command}, 16384-byte column`],
      rows: [
        ours("encrypt"),
        ours("decrypt"),
        {
          label: "openssl speed aes-256-gcm (same bytes)",
          seconds: opensslSeconds,
          peakRssMiB: runs.openssl.flatMap((o) => (o.peakRssMiB === undefined ? [] : [o.peakRssMiB])),
          note: `${spread(runs.openssl.map((o) => o.gbps)).median.toFixed(2)} GB/s`,
        },
      ],
      ratios: (["encrypt", "decrypt"] as const).map((phase) => ({
        name: `${phase}/openssl`,
        what: `our ${phase} time ÷ openssl speed's`,
        values: runs[phase].map((r, i) => r.seconds / opensslSeconds[i]!),
      })),
      notes: [`target ≥ ${TARGET_GBPS} GB/s both ways: ${slowest >= TARGET_GBPS ? "met" : "NOT met"} (slower of the two: ${slowest.toFixed(2)} GB/s)`],
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const phaseAt = process.argv.indexOf("--phase");
if (phaseAt >= 0) {
  const result = await runPhase(process.argv[phaseAt + 1]!, process.argv[phaseAt + 2]!);
  benchResult(result);
} else {
  await main();
}
