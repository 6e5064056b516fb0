// Where check's segment pass keeps the bytes it copies out of the capture
// (segment headers, request payloads, return-stream bytes for reassembly):
// in 4 KiB blocks, each copy a view of one, instead of a slice (an
// ArrayBuffer of its own) per copy. ArrayBuffers are freed only when the GC
// finds their views dead, so one per kept segment made external memory — and
// with it the peak RSS — grow far beyond what was live. A handoff's arena is
// released once the handoff is judged (its segments let go): its blocks go
// back to a pool that the next handoffs draw from, so the blocks in use
// follow the connections active at a time, not the trace.
//
// Release only what nothing reads any more: a released block is written
// again by the next arena that takes it.

const BLOCK = 4096
/** Free blocks kept for reuse (4 MiB); more are left to the GC. */
const POOL_MAX = 1024
const pool: Uint8Array[] = []

export class ByteArena {
  private buf: Uint8Array | null = null
  private used = 0
  /** Pooled blocks this arena took (copies larger than a block get a buffer of their own, not pooled). */
  private blocks: Uint8Array[] = []

  /** Where put() left its last copy in the buffer it returned. */
  at = 0

  /** A copy of src[s, e), as a view of the arena (stable until release()). */
  copy(src: Uint8Array, s: number, e: number): Uint8Array {
    const b = this.put(src, s, e)
    return b.length === e - s ? b : b.subarray(this.at, this.at + e - s)
  }

  /**
   * A copy of src[s, e) at `this.at` of the buffer returned (a block, stable until release()): for a caller that
   * keeps the buffer and offset rather than a view (a view is an object of ~100 bytes, made in ~70 ns).
   */
  put(src: Uint8Array, s: number, e: number): Uint8Array {
    const n = e - s
    if (n > BLOCK) {
      this.at = 0
      return src.slice(s, e)
    }
    let b = this.buf
    if (b === null || this.used + n > BLOCK) {
      b = this.buf = pool.pop() ?? new Uint8Array(BLOCK)
      this.blocks.push(b)
      this.used = 0
    }
    const at = this.used
    if (n <= 128) for (let i = 0; i < n; i++) b[at + i] = src[s + i]!
    else b.set(src.subarray(s, e), at)
    this.used = at + n
    this.at = at
    return b
  }

  /** Gives the blocks back to the pool: no view this arena handed out may be read after this. */
  release(): void {
    for (const b of this.blocks) if (pool.length < POOL_MAX) pool.push(b)
    this.blocks = []
    this.buf = null
    this.used = 0
  }
}
