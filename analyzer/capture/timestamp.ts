// Exact conversion of 64-bit pcapng timestamps (hi/lo 32-bit words, in units
// of 1/U s) to seconds + nanoseconds, without going through one float for
// values above 2^53 and without BigInt on the common paths.

/** How to convert timestamps of one interface. */
export interface TsConv {
  /** Units per second (10^n or 2^n). */
  units: number
  /** 0: units divides 1e9 (10^0..10^9), 1: power of two 2^n, n <= 32, 2: anything else (BigInt). */
  kind: 0 | 1 | 2
  /** kind 0: ns per unit. kind 1: n. */
  k: number
  /** 1 / units (a multiplication is cheaper than a division; results are corrected). */
  inv: number
  /** if_tsoffset, seconds. */
  offsetSec: number
}

/** Builds the converter for an if_tsresol byte (undefined = default 10^-6). */
export function tsConvFromResol(resol: number | undefined, offsetSec: number): TsConv {
  if (resol === undefined) return {units: 1e6, kind: 0, k: 1000, inv: 1 / 1e6, offsetSec}
  const n = resol & 0x7f
  if (resol & 0x80) {
    const units = 2 ** n
    if (n <= 32) return {units, kind: 1, k: n, inv: 1 / units, offsetSec}
    return {units, kind: 2, k: n, inv: 1 / units, offsetSec}
  }
  const units = 10 ** n
  if (n <= 9) return {units, kind: 0, k: 10 ** (9 - n), inv: 1 / units, offsetSec}
  return {units, kind: 2, k: n, inv: 1 / units, offsetSec}
}

const TWO32 = 4294967296

/** Where tsConvert puts its result. */
export interface TsOut {
  tsSec: number
  tsNsec: number
}

/** Converts hi:lo (unsigned 32-bit words) with `c`, into out.tsSec / out.tsNsec. */
export function tsConvert(c: TsConv, hi: number, lo: number, out: TsOut): void {
  if (c.kind === 0) {
    const u = c.units
    if (hi < 0x200000) {
      // value < 2^53: exact as a double
      const t = hi * TWO32 + lo
      let s = Math.floor(t * c.inv)
      let r = t - s * u
      while (r < 0) {
        s--
        r += u
      }
      while (r >= u) {
        s++
        r -= u
      }
      out.tsSec = s + c.offsetSec
      out.tsNsec = r * c.k
      return
    }
    if (u > 2048) {
      // q from one (inexact) double division is off by at most 1; the exact
      // remainder is then known modulo 2^32, which is enough because it lies
      // in [-u, 2u) and 3u < 2^32.
      let q = Math.floor((hi * TWO32 + lo) * c.inv)
      let r = (lo - Math.imul(q >>> 0, u)) >>> 0
      if (r >= TWO32 - u) r -= TWO32
      while (r < 0) {
        q--
        r += u
      }
      while (r >= u) {
        q++
        r -= u
      }
      out.tsSec = q + c.offsetSec
      out.tsNsec = r * c.k
      return
    }
  } else if (c.kind === 1) {
    const n = c.k
    let s: number, frac: number
    if (n === 32) {
      s = hi
      frac = lo
    } else {
      // hi * 2^(32-n) + (lo >>> n)
      s = hi * 2 ** (32 - n) + (n === 0 ? lo : Math.floor(lo / 2 ** n))
      frac = n === 0 ? 0 : lo % 2 ** n
    }
    // frac * 1e9 / 2^n exactly: frac * 1953125 < 2^53, times 2^9 and / 2^n are exact.
    out.tsSec = s + c.offsetSec
    out.tsNsec = Math.floor((frac * 1953125 * 512) / 2 ** n)
    return
  }
  // General case: BigInt.
  const t = (BigInt(hi) << 32n) | BigInt(lo)
  const u = BigInt(c.units)
  out.tsSec = Number(t / u) + c.offsetSec
  out.tsNsec = Number(((t % u) * 1000000000n) / u)
}

/**
 * Encodes seconds + nanoseconds as a 64-bit count of 1/units (units 1e6 or
 * 1e9, or any 10^n <= 1e9), exactly. Result in encHi / encLo.
 */
export let encHi = 0
export let encLo = 0

export function tsEncode(sec: number, nsec: number, units: number): void {
  // sec * units + frac, split so that every step is exact (units <= 1e9)
  const frac = units === 1e9 ? nsec : Math.floor(nsec / (1e9 / units))
  const s1 = Math.floor(sec / 65536)
  const s0 = sec - s1 * 65536
  const x = s0 * units + frac // < 2^53
  const y = s1 * units // < 2^53 while sec < 2^53 / 1e9 * 65536
  const yh = Math.floor(y / 65536)
  const yl = y - yh * 65536
  const xh = Math.floor(x / TWO32)
  const xl = x - xh * TWO32
  let lo = yl * 65536 + xl
  const carry = Math.floor(lo / TWO32)
  lo -= carry * TWO32
  encHi = yh + xh + carry
  encLo = lo
}
