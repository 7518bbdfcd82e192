/**
 * Deterministic randomness for the generator. Never Math.random: the same seed must give the same
 * platform, byte for byte, on any machine.
 *
 * Every entity gets its own small generator, derived from (tenant seed, kind, index), so a row's
 * values never depend on how many rows came before it or in which order tables are produced.
 */

/** murmur3's 32-bit finalizer: a cheap, well-mixing bijection on uint32. */
export function mix32(x: number): number {
  let h = x >>> 0;
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

/** Combine two uint32 into one well-mixed uint32 (order matters). */
export function combine(a: number, b: number): number {
  return mix32((mix32(a) + Math.imul(b >>> 0, 0x9e3779b9) + 0x7f4a7c15) >>> 0);
}

/** mulberry32: 32 bits of state, period 2^32; plenty for test data. */
export class Rng {
  private state: number;

  constructor(seed: number) {
    this.state = seed >>> 0;
  }

  /** The next uint32. */
  next(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  }

  /** A float in [0, 1). */
  float(): number {
    return this.next() / 4294967296;
  }

  /** An integer in [lo, hi] (inclusive). */
  int(lo: number, hi: number): number {
    return lo + Math.floor(this.float() * (hi - lo + 1));
  }

  chance(p: number): boolean {
    return this.float() < p;
  }

  pick<T>(items: readonly T[]): T {
    return items[Math.floor(this.float() * items.length)]!;
  }

  /** `n` random bytes. */
  bytes(n: number): Buffer {
    const out = Buffer.allocUnsafe(n);
    let i = 0;
    for (; i + 4 <= n; i += 4) out.writeUInt32LE(this.next(), i);
    if (i < n) {
      const last = this.next();
      for (let k = 0; i < n; i++, k++) out[i] = (last >>> (8 * k)) & 0xff;
    }
    return out;
  }

  /** A version-4-shaped uuid made from this generator's bits (deterministic, not random). */
  uuid(): string {
    const hex = (v: number) => v.toString(16).padStart(8, "0");
    const a = hex(this.next());
    const b = hex(this.next());
    const c = hex(this.next());
    const d = hex(this.next());
    const variant = ((parseInt(c[0]!, 16) & 0x3) | 0x8).toString(16);
    return `${a}-${b.slice(0, 4)}-4${b.slice(5, 8)}-${variant}${c.slice(1, 4)}-${c.slice(4, 8)}${d}`;
  }
}

/** A generator for one entity: `kind` names the table or purpose, `index` the row. */
export function rngFor(seed: number, kind: number, index = 0): Rng {
  return new Rng(combine(combine(seed, kind), index));
}
