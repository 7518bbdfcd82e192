import { Readable } from "node:stream";
import type { GetOptions, ListEntry, ListOptions, ObjectInfo, OpOptions, PutBody, PutOptions, PutResult, StorageBackend, StorageOp } from "../../backend";
import { StorageError, type StorageErrorCode } from "../../errors";
import { destroyBody, sleep } from "../../streams";

export type FaultOp = StorageOp | "*";
type DataOp = "get" | "put";

interface RuleBase {
  op: FaultOp;
  /** Calls left that this rule applies to (Infinity: until cleared). */
  remaining: number;
}
interface FailRule extends RuleBase {
  kind: "fail";
  code: StorageErrorCode;
  retryable: boolean | undefined;
}
interface StallRule extends RuleBase {
  kind: "stall";
  ms: number | undefined;
}
interface CorruptRule extends RuleBase {
  kind: "corrupt";
  offset: number;
}
interface CutRule extends RuleBase {
  kind: "cut";
  afterBytes: number;
  mode: "error" | "end";
}
interface BreakListRule extends RuleBase {
  kind: "breakList";
  afterEntries: number;
}
type Rule = FailRule | StallRule | CorruptRule | CutRule | BreakListRule;

export interface FaultCall {
  op: StorageOp;
  key: string;
  /** The kinds of fault that fired on this call. */
  faults: Rule["kind"][];
}

/**
 * Scripted faults for one backend (restic's damageOnceBackend, pgBackRest's scripted server). Rules
 * apply to the next calls of an operation, in the order they were added; each rule fires on at most
 * `times` calls (default: once for `failNext`, forever for the others until `clear`). A call first
 * stalls (if a stall rule matches), then fails (fail rule), else runs the real operation with its
 * bytes corrupted or cut (get/put rules).
 */
export class FaultController {
  readonly #rules: Rule[] = [];
  /** Every call that reached this decorator, oldest first. */
  readonly calls: FaultCall[] = [];

  /** Fail the next `times` calls of `op` (default a retryable `storage_unavailable`). */
  failNext(op: FaultOp, times = 1, opts: { code?: StorageErrorCode; retryable?: boolean } = {}): this {
    this.#rules.push({ kind: "fail", op, remaining: times, code: opts.code ?? "storage_unavailable", retryable: opts.retryable });
    return this;
  }

  /** Fail every call of `op` until `up()` or `clear()`. */
  failAlways(op: FaultOp = "*", opts: { code?: StorageErrorCode; retryable?: boolean } = {}): this {
    return this.failNext(op, Infinity, opts);
  }

  /** The provider is down: every operation fails with a retryable `storage_unavailable`. */
  down(): this {
    return this.failAlways("*");
  }

  /** Remove every fail rule (the provider is back); other rules stay. */
  up(): this {
    return this.#remove((r) => r.kind === "fail");
  }

  /** Flip one byte (at `offset` of the stream, default 0) of the next `times` gets or puts (default: all). */
  corrupt(op: DataOp, opts: { times?: number; offset?: number } = {}): this {
    this.#rules.push({ kind: "corrupt", op, remaining: opts.times ?? Infinity, offset: opts.offset ?? 0 });
    return this;
  }

  /**
   * Hold the next `times` calls of `op` (default: all) for `ms`, or until the call's signal aborts
   * when `ms` is absent: a provider that accepted the connection and went silent.
   */
  stall(op: FaultOp, opts: { times?: number; ms?: number } = {}): this {
    this.#rules.push({ kind: "stall", op, remaining: opts.times ?? Infinity, ms: opts.ms });
    return this;
  }

  /**
   * Cut the byte stream of the next `times` gets or puts (default: all) after `afterBytes` bytes.
   * `mode: "error"` (default) is a dropped connection: a get stream errors with a retryable
   * `storage_short_read`, a put rejects with a retryable `storage_unavailable` and stores nothing.
   * `mode: "end"` is a lying provider: the get stream ends cleanly early / the put stores the
   * truncated bytes, which only checksums and sizes catch.
   */
  cut(op: DataOp, opts: { afterBytes: number; times?: number; mode?: "error" | "end" }): this {
    this.#rules.push({ kind: "cut", op, remaining: opts.times ?? Infinity, afterBytes: opts.afterBytes, mode: opts.mode ?? "error" });
    return this;
  }

  /** Break the next `times` listings (default: all) with a retryable `storage_unavailable` after `afterEntries` entries. */
  breakList(opts: { afterEntries: number; times?: number }): this {
    this.#rules.push({ kind: "breakList", op: "list", remaining: opts.times ?? Infinity, afterEntries: opts.afterEntries });
    return this;
  }

  /** Remove every rule (the call log stays). */
  clear(): this {
    return this.#remove(() => true);
  }

  /** How many calls of `op` reached the decorator. */
  count(op: StorageOp): number {
    return this.calls.filter((c) => c.op === op).length;
  }

  #remove(pred: (r: Rule) => boolean): this {
    for (let i = this.#rules.length - 1; i >= 0; i--) if (pred(this.#rules[i]!)) this.#rules.splice(i, 1);
    return this;
  }

  /** Take (consume one use of) the first rule of `kind` matching `op`. */
  take<K extends Rule["kind"]>(kind: K, op: StorageOp): Extract<Rule, { kind: K }> | undefined {
    const rule = this.#rules.find((r) => r.kind === kind && (r.op === "*" || r.op === op) && r.remaining > 0);
    if (!rule) return undefined;
    rule.remaining--;
    if (rule.remaining <= 0) this.#remove((r) => r === rule);
    return rule as Extract<Rule, { kind: K }>;
  }
}

/** A backend with a fault injector in front of it. */
export interface FaultyBackend extends StorageBackend {
  readonly faults: FaultController;
}

/** Wrap `inner` with a fault injector (tests only; `openBackend({ faults: true })` puts it next to the real backend). */
export function withFaults(inner: StorageBackend, controller = new FaultController()): FaultyBackend {
  return new FaultBackend(inner, controller);
}

const CUT = Symbol("fault-cut");

/**
 * Bytes pass through; one byte flipped at `corruptAt`; after `cutAfter` bytes the stream errors or
 * ends. A generator behind `Readable.from` with a tiny high-water mark, so the bytes before a cut
 * reach the consumer before the error does (as on a real dropped connection).
 */
function tamper(
  source: AsyncIterable<unknown> | Iterable<unknown>,
  opts: { corruptAt?: number | undefined; cut?: CutRule | undefined; cutError: () => Error },
): Readable {
  async function* run(): AsyncGenerator<Buffer> {
    let pos = 0;
    for await (const raw of source) {
      let out = Buffer.isBuffer(raw) ? raw : Buffer.from(raw as Uint8Array);
      const at = opts.corruptAt;
      if (at !== undefined && at >= pos && at < pos + out.length) {
        out = Buffer.from(out);
        out[at - pos] = out[at - pos]! ^ 0xff;
      }
      const cut = opts.cut;
      if (cut && pos + out.length > cut.afterBytes) {
        const keep = out.subarray(0, Math.max(0, cut.afterBytes - pos));
        if (keep.length > 0) yield keep;
        if (cut.mode === "error") throw opts.cutError();
        return;
      }
      pos += out.length;
      yield out;
    }
  }
  return Readable.from(run(), { objectMode: false, ...(opts.cut ? { highWaterMark: 1 } : {}) });
}

class FaultBackend implements FaultyBackend {
  readonly name: string;
  readonly faults: FaultController;
  readonly #inner: StorageBackend;

  constructor(inner: StorageBackend, faults: FaultController) {
    this.name = inner.name;
    this.#inner = inner;
    this.faults = faults;
  }

  /** Record the call, stall and fail as the rules say. */
  async #before(op: StorageOp, key: string, signal: AbortSignal | undefined): Promise<FaultCall> {
    const call: FaultCall = { op, key, faults: [] };
    this.faults.calls.push(call);
    const stall = this.faults.take("stall", op);
    if (stall) {
      call.faults.push("stall");
      if (stall.ms === undefined) await sleep({ ms: 2 ** 31 - 1, signal, provider: this.name });
      else await sleep({ ms: stall.ms, signal, provider: this.name });
    }
    const fail = this.faults.take("fail", op);
    if (fail) {
      call.faults.push("fail");
      throw new StorageError({
        code: fail.code,
        provider: this.name,
        key,
        message: `${this.name}: injected fault: ${op} failed`,
        ...(fail.retryable === undefined ? {} : { retryable: fail.retryable }),
        context: { injected: true },
      });
    }
    return call;
  }

  #tamperRules(call: FaultCall, op: DataOp): { corrupt: CorruptRule | undefined; cut: CutRule | undefined } {
    const corrupt = this.faults.take("corrupt", op);
    const cut = this.faults.take("cut", op);
    if (corrupt) call.faults.push("corrupt");
    if (cut) call.faults.push("cut");
    return { corrupt, cut };
  }

  async put(key: string, body: PutBody, opts?: PutOptions): Promise<PutResult> {
    let call: FaultCall;
    try {
      call = await this.#before("put", key, opts?.signal);
    } catch (err) {
      destroyBody(body); // as a real backend does when a put fails
      throw err;
    }
    const { corrupt, cut } = this.#tamperRules(call, "put");
    if (!corrupt && !cut) return this.#inner.put(key, body, opts);
    const wrap = (source: Buffer | Readable): Readable =>
      tamper(Buffer.isBuffer(source) ? [source] : source, {
        corruptAt: corrupt?.offset,
        cut,
        cutError: () => Object.assign(new Error("injected cut"), { [CUT]: true }),
      });
    const tampered: PutBody = typeof body === "function" ? () => wrap(body()) : wrap(body);
    try {
      return await this.#inner.put(key, tampered, opts);
    } catch (err) {
      if (err instanceof Error && CUT in err) {
        throw new StorageError({
          code: "storage_unavailable",
          provider: this.name,
          key,
          message: `${this.name}: injected fault: upload connection cut after ${cut?.afterBytes} bytes`,
          context: { injected: true },
        });
      }
      throw err;
    }
  }

  async get(key: string, opts?: GetOptions): Promise<Readable> {
    const call = await this.#before("get", key, opts?.signal);
    const stream = await this.#inner.get(key, opts);
    const { corrupt, cut } = this.#tamperRules(call, "get");
    if (!corrupt && !cut) return stream;
    stream.on("error", () => {}); // surfaces through the tampered stream's iteration
    return tamper(stream, {
      corruptAt: corrupt?.offset,
      cut,
      cutError: () =>
        new StorageError({
          code: "storage_short_read",
          provider: this.name,
          key,
          message: `${this.name}: injected fault: read of ${key} cut after ${cut?.afterBytes} bytes`,
          context: { injected: true },
        }),
    });
  }

  async head(key: string, opts?: OpOptions): Promise<ObjectInfo | null> {
    await this.#before("head", key, opts?.signal);
    return this.#inner.head(key, opts);
  }

  async *list(prefix: string, opts?: ListOptions): AsyncIterable<ListEntry> {
    const call = await this.#before("list", prefix, opts?.signal);
    const broken = this.faults.take("breakList", "list");
    if (broken) call.faults.push("breakList");
    let n = 0;
    for await (const entry of this.#inner.list(prefix, opts)) {
      if (broken && n >= broken.afterEntries) {
        throw new StorageError({
          code: "storage_unavailable",
          provider: this.name,
          message: `${this.name}: injected fault: listing broke after ${n} entries`,
          context: { injected: true, prefix },
        });
      }
      n++;
      yield entry;
    }
  }

  async delete(key: string, opts?: OpOptions): Promise<void> {
    await this.#before("delete", key, opts?.signal);
    return this.#inner.delete(key, opts);
  }
}
