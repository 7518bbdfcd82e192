// A FIFO of byte pieces that hands out exact lengths without copying the large pieces.
//
// Writers may deliver data in any split; the ciphers need exact chunk lengths. Pieces are kept by
// reference (a piece written to a Node stream must not be modified afterwards, so holding it is
// safe) and split with `subarray`. Runs of tiny pieces are coalesced into one buffer so that a
// writer dribbling bytes does not turn into millions of cipher calls.

const SMALL_PIECE = 8 * 1024;
const COALESCE_TARGET = 64 * 1024;

export class ByteQueue {
  #pieces: Buffer[] = [];
  #head = 0;
  #small: Buffer[] = [];
  #smallLength = 0;
  #length = 0;

  get length(): number {
    return this.#length;
  }

  push(data: Buffer): void {
    if (data.length === 0) return;
    this.#length += data.length;
    if (data.length < SMALL_PIECE) {
      this.#small.push(data);
      this.#smallLength += data.length;
      if (this.#smallLength >= COALESCE_TARGET) this.#flushSmall();
      return;
    }
    this.#flushSmall();
    this.#pieces.push(data);
  }

  /** Removes exactly `n` bytes (n <= length) and returns them as pieces, in order. */
  take(n: number): Buffer[] {
    if (n > this.#length) throw new RangeError("take past the end of the queue");
    this.#flushSmall();
    const out: Buffer[] = [];
    let need = n;
    while (need > 0) {
      const piece = this.#pieces[this.#head]!;
      if (piece.length <= need) {
        out.push(piece);
        need -= piece.length;
        this.#pieces[this.#head++] = EMPTY;
      } else {
        out.push(piece.subarray(0, need));
        this.#pieces[this.#head] = piece.subarray(need);
        need = 0;
      }
    }
    if (this.#head > 64 && this.#head * 2 > this.#pieces.length) {
      this.#pieces = this.#pieces.slice(this.#head);
      this.#head = 0;
    }
    this.#length -= n;
    return out;
  }

  /** Removes exactly `n` bytes as one contiguous buffer (copies only when they span pieces). */
  takeContiguous(n: number): Buffer {
    const pieces = this.take(n);
    return pieces.length === 1 ? pieces[0]! : Buffer.concat(pieces, n);
  }

  /** Copies the first `n` bytes (n <= length) without removing them. */
  peek(n: number): Buffer {
    this.#flushSmall();
    const out = Buffer.allocUnsafe(n);
    let at = 0;
    for (let i = this.#head; at < n; i++) {
      const piece = this.#pieces[i]!;
      at += piece.copy(out, at, 0, Math.min(piece.length, n - at));
    }
    return out;
  }

  #flushSmall(): void {
    if (this.#small.length === 0) return;
    this.#pieces.push(this.#small.length === 1 ? this.#small[0]! : Buffer.concat(this.#small, this.#smallLength));
    this.#small = [];
    this.#smallLength = 0;
  }
}

const EMPTY = Buffer.alloc(0);
