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

import {HOST_LITTLE_ENDIAN, wordsOf} from '../wire/words.js'

const BLOCK = 4096
/** Free blocks kept for reuse (4 MiB); more are left to the GC. */
const POOL_MAX = 1024
const pool: Uint8Array[] = []
/** The same blocks as 32-bit words, index for index (made once per block, not each time one is taken). */
const poolWords: Int32Array[] = []

export class ByteArena {
  private buf: Uint8Array | null = null
  /** The same block as 32-bit words (put's small copies are word-aligned in it). */
  private words: Int32Array = new Int32Array(0)
  private used = 0
  /** Pooled blocks this arena took (copies larger than a block get a buffer of their own, not pooled). */
  private blocks: Uint8Array[] = []
  private blockWords: Int32Array[] = []

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
    // Small copies start on a 4-byte boundary of the block (at most 3 bytes lost each), so that copyWords can
    // write whole words.
    let at = (this.used + 3) & ~3
    let b = this.buf
    if (b === null || at + n > BLOCK) {
      const pooled = pool.pop()
      if (pooled === undefined) {
        b = new Uint8Array(BLOCK)
        this.words = new Int32Array(b.buffer, 0, BLOCK >>> 2)
      } else {
        b = pooled
        this.words = poolWords.pop()!
      }
      this.buf = b
      this.blocks.push(b)
      this.blockWords.push(this.words)
      at = 0
    }
    if (n <= 128) copyWords(this.words, b, at, src, s, n)
    else b.set(src.subarray(s, e), at)
    this.used = at + n
    this.at = at
    return b
  }

  /** Gives the blocks back to the pool: no view this arena handed out may be read after this. */
  release(): void {
    for (let i = 0; i < this.blocks.length && pool.length < POOL_MAX; i++) {
      pool.push(this.blocks[i]!)
      poolWords.push(this.blockWords[i]!)
    }
    this.blocks = []
    this.blockWords = []
    this.buf = null
    this.used = 0
  }
}

/**
 * Copies src[s, s + n) to block b at `at` (4-aligned; dst: the block's words). A segment header (~70 bytes)
 * is copied per kept segment, so this is a hot path: whole 32-bit words, two aligned reads of the source
 * shifted together when it is not 4-aligned (as payloadHash reads), are about three times faster than a byte
 * loop (a subarray + set() per copy makes a view object each time). The shift assumes a little-endian host;
 * elsewhere, and where the read would pass the end of the source's buffer, bytes are copied one by one.
 */
function copyWords(dst: Int32Array, b: Uint8Array, at: number, src: Uint8Array, s: number, n: number): void {
  const nw = n >>> 2
  let i = 0
  if (HOST_LITTLE_ENDIAN && nw > 0) {
    const abs = src.byteOffset + s
    const sh = (abs & 3) * 8
    const k0 = abs >>> 2
    const j0 = at >>> 2
    const w = wordsOf(src.buffer)
    if (sh === 0) {
      if (k0 + nw <= w.length) {
        for (let k = 0; k < nw; k++) dst[j0 + k] = w[k0 + k]!
        i = nw * 4
      }
    } else if (k0 + nw < w.length) {
      let lo = w[k0]!
      for (let k = 0; k < nw; k++) {
        const hi = w[k0 + k + 1]!
        dst[j0 + k] = (lo >>> sh) | (hi << (32 - sh))
        lo = hi
      }
      i = nw * 4
    }
  }
  for (; i < n; i++) b[at + i] = src[s + i]!
}
