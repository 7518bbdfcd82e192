// Checks the compression streams of @hesaab/gzip and @hesaab/zstd share: the same text, the same way
// of feeding a stage, the same backpressure and failure checks.
import { randomBytes } from "node:crypto";
import { Readable, Writable, type Transform } from "node:stream";
import { pipeline } from "node:stream/promises";
import { setTimeout as sleep } from "node:timers/promises";

/** COPY-like text with some randomness: compressible, and different in every chunk (order matters). */
export function copyText(bytes: number): Buffer {
  const lines: string[] = [];
  let size = 0;
  for (let i = 0; size < bytes; i++) {
    const line = `${i}\tinv-${i.toString(36)}\t${randomBytes(6).toString("hex")}\t${(i * 7.31).toFixed(2)}\t2026-11-${String((i % 28) + 1).padStart(2, "0")}\n`;
    lines.push(line);
    size += line.length;
  }
  return Buffer.from(lines.join("")).subarray(0, bytes);
}

/** `input` cut into pieces of `size` bytes. */
export function pieces(input: Buffer, size: number): Buffer[] {
  return Array.from({ length: Math.ceil(input.length / size) }, (_, i) => input.subarray(i * size, (i + 1) * size));
}

/** All that `stage` makes of `input`, written to it in pieces of `size` bytes. */
export async function through(input: Buffer, stage: Transform, size = 64 * 1024): Promise<Buffer> {
  const out: Buffer[] = [];
  await pipeline(
    Readable.from(pieces(input, size)),
    stage,
    new Writable({
      write(chunk: Buffer, _encoding, callback) {
        out.push(chunk);
        callback();
      },
    }),
  );
  return Buffer.concat(out);
}

/**
 * Feeds `stage` up to 64 MiB of incompressible pieces and never reads it: the bytes it had taken
 * after 500 ms, and after 300 ms more (equal when it stopped asking: backpressure works).
 */
export async function bytesTakenUnread(stage: Transform): Promise<{ stalledAt: number; later: number }> {
  let produced = 0;
  const source = Readable.from(
    (function* () {
      while (produced < 64 * 1024 * 1024) {
        produced += 64 * 1024;
        yield randomBytes(64 * 1024); // incompressible: the output is as large as the input
      }
    })(),
  );
  source.pipe(stage); // nobody reads stage
  await sleep(500);
  const stalledAt = produced;
  await sleep(300);
  source.destroy();
  stage.destroy();
  return { stalledAt, later: produced };
}

/** Pipes `first`, then a failure ("the export failed"), through `stage`: what the pipeline rejects with. */
export function failingSourceThrough(stage: Transform, first: Buffer): Promise<void> {
  const failing = Readable.from(
    (async function* () {
      yield first;
      throw new Error("the export failed");
    })(),
  );
  return pipeline(failing, stage, new Writable({ write: (_c, _e, cb) => cb() }));
}
