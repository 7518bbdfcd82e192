import { randomBytes } from "node:crypto";
import { Readable, Writable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { expect } from "vitest";
import {
  createDecryptStream,
  createEncryptStream,
  isCryptoError,
  type ArtifactIdentity,
  type CryptoErrorCode,
  type DecryptOptions,
  type EncryptOptions,
} from "../src";

export const C12 = 4096;
export const IDENTITY: ArtifactIdentity = { kind: "tenant", tenantId: "tenant-a", backupId: "bkp_one" };

/** Deterministic-size random plaintext. */
export function plaintext(n: number): Buffer {
  return randomBytes(n);
}

export function encOptions(overrides: Partial<EncryptOptions> = {}): EncryptOptions {
  return { dek: Buffer.alloc(32, 7), dekId: Buffer.alloc(16, 9), ...IDENTITY, contentEncoding: "none", chunkLog2: 12, ...overrides };
}

/** Splits `data` at the given sizes (cycling), for write-split independence. */
export function split(data: Buffer, sizes: number[]): Buffer[] {
  const out: Buffer[] = [];
  let at = 0;
  for (let i = 0; at < data.length; i++) {
    const n = sizes[i % sizes.length]!;
    out.push(data.subarray(at, at + n));
    at += n;
  }
  return out;
}

async function collect(source: Readable, transform: NodeJS.ReadWriteStream): Promise<{ out: Buffer; error: unknown }> {
  const pieces: Buffer[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, cb) {
      pieces.push(chunk);
      cb();
    },
  });
  let error: unknown;
  try {
    await pipeline(source, transform, sink);
  } catch (err) {
    error = err;
  }
  return { out: Buffer.concat(pieces), error };
}

export async function encrypt(data: Buffer, options: Partial<EncryptOptions> = {}, pieces?: Buffer[]): Promise<Buffer> {
  const { out, error } = await collect(Readable.from(pieces ?? [data]), createEncryptStream(encOptions(options)));
  if (error) throw error;
  return out;
}

/** Decrypts, returning what was emitted and the error (if any). */
export async function decryptAll(artifact: Buffer, options: Partial<DecryptOptions> = {}, pieces?: Buffer[]): Promise<{ out: Buffer; error: unknown }> {
  const opts: DecryptOptions = { dek: Buffer.alloc(32, 7), expect: IDENTITY, ...options };
  return collect(Readable.from(pieces ?? [artifact]), createDecryptStream(opts));
}

export async function decrypt(artifact: Buffer, options: Partial<DecryptOptions> = {}): Promise<Buffer> {
  const { out, error } = await decryptAll(artifact, options);
  if (error) throw error;
  return out;
}

export async function expectCode(artifact: Buffer, code: CryptoErrorCode | CryptoErrorCode[], options: Partial<DecryptOptions> = {}): Promise<Buffer> {
  const { out, error } = await decryptAll(artifact, options);
  const codes = Array.isArray(code) ? code : [code];
  expect(isCryptoError(error), `expected a CryptoError, got ${String(error)}`).toBe(true);
  expect(codes).toContain((error as { code: string }).code);
  return out;
}

export function flipBit(data: Buffer, offset: number, bit = 0): Buffer {
  const copy = Buffer.from(data);
  copy[offset] = copy[offset]! ^ (1 << bit);
  return copy;
}
