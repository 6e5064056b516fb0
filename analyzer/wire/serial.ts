// Sequence-number arithmetic modulo 2^32 (RFC 793 §3.3, RFC 1982 serial
// comparison). TCP sequence numbers, acks, SACK edges and timestamps all wrap,
// so every add/subtract is folded back to uint32 with `>>> 0` and every
// comparison looks at the signed 32-bit distance instead of the raw values:
// 0xFFFFFFF0 is "before" 0x00000010 even though it is numerically larger.

/** (a + b) mod 2^32, as an unsigned 32-bit number. */
export function seqAdd(a: number, b: number): number {
  return (a + b) >>> 0
}

/** (a - b) mod 2^32, as an unsigned 32-bit number. */
export function seqSub(a: number, b: number): number {
  return (a - b) >>> 0
}

/**
 * Signed distance from b to a in sequence space, in [-2^31, 2^31).
 * seqDiff(5, 0xFFFFFFFE) === 7. Used for "how many bytes ahead".
 */
export function seqDiff(a: number, b: number): number {
  return (a - b) | 0
}

/**
 * a is before b (RFC 1982). RFC 1982 leaves a pair exactly 2^31 apart
 * undefined; this form calls a < b there (the distance is -2^31), which is
 * what Linux's before() does too.
 */
export function seqLt(a: number, b: number): boolean {
  return ((a - b) | 0) < 0
}

export function seqLe(a: number, b: number): boolean {
  return ((a - b) | 0) <= 0
}

export function seqGt(a: number, b: number): boolean {
  return ((a - b) | 0) > 0
}

export function seqGe(a: number, b: number): boolean {
  return ((a - b) | 0) >= 0
}

/** The later of two sequence numbers in serial order. */
export function seqMax(a: number, b: number): number {
  return ((a - b) | 0) >= 0 ? a >>> 0 : b >>> 0
}

/** The earlier of two sequence numbers in serial order. */
export function seqMin(a: number, b: number): number {
  return ((a - b) | 0) <= 0 ? a >>> 0 : b >>> 0
}

/** lo <= x < hi in serial order (a window check). */
export function seqInWindow(x: number, lo: number, hi: number): boolean {
  return ((x - lo) | 0) >= 0 && ((x - hi) | 0) < 0
}
