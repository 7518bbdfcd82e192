import { Readable, Writable, type Transform } from "node:stream";
import { pipeline } from "node:stream/promises";

/** Runs `data` through `transform`; returns everything emitted and the error, if any. */
export async function collect(transform: Transform, data: Buffer): Promise<{ out: Buffer; error: unknown }> {
  const pieces: Buffer[] = [];
  let error: unknown;
  try {
    await pipeline(
      Readable.from([data]),
      transform,
      new Writable({
        write(chunk: Buffer, _enc, cb) {
          pieces.push(chunk);
          cb();
        },
      }),
    );
  } catch (err) {
    error = err;
  }
  return { out: Buffer.concat(pieces), error };
}
