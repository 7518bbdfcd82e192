import { z } from "zod";

/** Prefixes of every id this system mints: the prefix says what an id names, in logs and URLs alike. */
export const ID_PREFIXES = {
  backup: "bkp",
  restore: "rst",
  export: "exp",
  alert: "alr",
  event: "evt",
  job: "job",
  request: "req",
  /** A restore drill's attested record. */
  drill: "drl",
  /** An operation started through the API (verification, retention, key rotation or shredding): its events carry it. */
  operation: "op",
} as const;
export type IdPrefix = (typeof ID_PREFIXES)[keyof typeof ID_PREFIXES];

const CROCKFORD = "0123456789abcdefghjkmnpqrstvwxyz";

function encode(bytes: Uint8Array): string {
  let bits = 0;
  let value = 0;
  let out = "";
  for (const byte of bytes) {
    value = (value << 8) | byte;
    bits += 8;
    while (bits >= 5) {
      out += CROCKFORD[(value >>> (bits - 5)) & 31];
      bits -= 5;
    }
  }
  if (bits > 0) out += CROCKFORD[(value << (5 - bits)) & 31];
  return out;
}

/** `bkp_01j…`: 6 bytes of milliseconds then 10 random bytes, base32: ids sort by creation time. */
export function newId(prefix: IdPrefix, now = Date.now()): string {
  const bytes = new Uint8Array(16);
  for (let i = 5, t = now; i >= 0; i--, t = Math.floor(t / 256)) bytes[i] = t % 256;
  globalThis.crypto.getRandomValues(bytes.subarray(6));
  return `${prefix}_${encode(bytes)}`;
}

export function idSchema(prefix: IdPrefix) {
  return z.string().regex(new RegExp(`^${prefix}_[0-9a-z]{26}$`), `must be an id starting with ${prefix}_`);
}

/**
 * When an id of `newId` was minted (its first 48 bits are milliseconds), or undefined for a string
 * that is not one. Live progress starts reading events there instead of at the stream's first one.
 */
export function idTime(id: string): Date | undefined {
  const m = /^[a-z]{3}_([0-9a-z]{26})$/.exec(id);
  if (!m) return undefined;
  let v = 0;
  // 10 characters = 50 bits (48 of time, 2 random): exact in a double
  for (const ch of m[1]!.slice(0, 10)) {
    const d = CROCKFORD.indexOf(ch);
    if (d < 0) return undefined;
    v = v * 32 + d;
  }
  return new Date(Math.floor(v / 4));
}
