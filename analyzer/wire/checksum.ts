// The Internet checksum (RFC 1071) and its incremental update (RFC 1624).
//
// Sums here are *unfolded* accumulations of 16-bit big-endian words: callers
// chain sum16() over several ranges (pseudo-header, header, payload) and fold
// once at the end. Chaining is only correct when every range but the last has
// even length, because a range's first byte is always taken as the high byte
// of a word. The unfolded sum of a 64 KiB segment stays below 2^32, so plain
// number arithmetic is exact; fold16() copes with larger sums anyway.
//
// Incremental update uses RFC 1624 eqn. 3, HC' = ~(~HC + ~m + m'), not RFC
// 1141's HC' = HC + m + ~m' (eqn. 2 form): the latter can yield 0xFFFF where a
// full recomputation yields 0x0000 (RFC 1624 §4's example). A rewrite engine
// that must produce the same bytes as a full recomputation needs eqn. 3.
import {HOST_LITTLE_ENDIAN} from './words.js'

/** Below this many bytes the plain byte loop wins over setting up 32-bit reads. */
const WIDE_MIN = 64

// One Uint32Array over the last ArrayBuffer seen. A capture reader hands us
// many packets that are slices of one big buffer, so this is created once per
// buffer, not per packet. It keeps that one buffer reachable until the next.
let wideBuf: ArrayBufferLike | null = null
let wide: Uint32Array = new Uint32Array(0)

/** Byte-at-a-time sum; the reference and the path for short ranges. */
function sum16Bytes(bytes: Uint8Array, start: number, end: number, acc: number): number {
  let s = acc
  let i = start
  // Unrolled by 8 bytes: plain indexed reads, no allocation.
  const end8 = end - 7
  for (; i < end8; i += 8) {
    s += ((bytes[i] << 8) | bytes[i + 1]) + ((bytes[i + 2] << 8) | bytes[i + 3]) +
      ((bytes[i + 4] << 8) | bytes[i + 5]) + ((bytes[i + 6] << 8) | bytes[i + 7])
  }
  const end2 = end - 1
  for (; i < end2; i += 2) s += (bytes[i] << 8) | bytes[i + 1]
  if (i < end) s += bytes[i] << 8
  return s
}

/**
 * Adds the 16-bit big-endian words of bytes[start, end) to acc; a trailing odd
 * byte is padded with zero. Long ranges are summed 32 bits at a time through a
 * Uint32Array in host byte order: ones-complement sums do not care about word
 * size (2^16 ≡ 1 mod 0xFFFF) and a byte swap of every word swaps the sum
 * (RFC 1071 §2), so the host-order sum is swapped back at the end. That is
 * about twice as fast as byte loads for full-size segments.
 */
export function sum16(bytes: Uint8Array, start: number, end: number, acc = 0): number {
  if (end - start < WIDE_MIN) return sum16Bytes(bytes, start, end, acc)
  const buf = bytes.buffer
  if (buf !== wideBuf) {
    wideBuf = buf
    wide = new Uint32Array(buf, 0, buf.byteLength >>> 2)
  }
  const base = bytes.byteOffset
  let s = acc
  let i = start
  // Head: bytes up to the first 4-aligned address; even positions (relative
  // to start) are high bytes.
  while (((base + i) & 3) !== 0) {
    s += ((i - start) & 1) === 0 ? bytes[i] << 8 : bytes[i]
    i++
  }
  const w = wide
  let k = (base + i) >>> 2
  const kEnd = k + ((end - i) >>> 2)
  // Whole 32-bit words go into a float accumulator: 2^32 ≡ 1 (mod 0xFFFF),
  // so folding the 32-bit sum later is the same as adding 16-bit halves now,
  // and 16 Ki words of < 2^32 (a 64 KiB segment) stay far below 2^53.
  let h = 0
  for (; k + 3 < kEnd; k += 4) h += w[k] + w[k + 1] + w[k + 2] + w[k + 3]
  for (; k < kEnd; k++) h += w[k]
  h = fold16(h)
  // A host-order read puts the first byte low on LE hosts: right when that
  // byte sits at an odd position, swapped otherwise (and the reverse on BE).
  const firstIsHigh = ((i - start) & 1) === 0
  s += firstIsHigh === HOST_LITTLE_ENDIAN ? ((h & 0xff) << 8) | (h >>> 8) : h
  i = (kEnd << 2) - base
  for (; i < end; i++) s += ((i - start) & 1) === 0 ? bytes[i] << 8 : bytes[i]
  return s
}

/** Folds an unfolded sum to 16 bits with end-around carry. Never returns 0 unless sum is 0. */
export function fold16(sum: number): number {
  let s = sum
  while (s > 0xffffffff) s = (s % 0x10000) + Math.floor(s / 0x10000)
  while (s > 0xffff) s = (s & 0xffff) + (s >>> 16)
  return s
}

/** The checksum to store for a region whose unfolded sum (field taken as zero) is sum. */
export function finishChecksum(sum: number): number {
  return ~fold16(sum) & 0xffff
}

/** Internet checksum of bytes[start, end) (RFC 1071), as it would be stored. */
export function internetChecksum(bytes: Uint8Array, start: number, end: number): number {
  return finishChecksum(sum16(bytes, start, end))
}

/**
 * IPv4 header checksum to store for the header at ipOff of headerLen bytes,
 * computed with the checksum field (bytes 10-11) taken as zero.
 */
export function ipv4HeaderChecksum(bytes: Uint8Array, ipOff: number, headerLen: number): number {
  return finishChecksum(sum16(bytes, ipOff + 12, ipOff + headerLen, sum16(bytes, ipOff, ipOff + 10)))
}

/** Unfolded IPv4 pseudo-header sum (RFC 793): src, dst, zero+protocol, upper-layer length. */
export function pseudoHeaderSumV4(bytes: Uint8Array, srcOff: number, dstOff: number, proto: number, l4Len: number): number {
  return ((bytes[srcOff] << 8) | bytes[srcOff + 1]) + ((bytes[srcOff + 2] << 8) | bytes[srcOff + 3]) +
    ((bytes[dstOff] << 8) | bytes[dstOff + 1]) + ((bytes[dstOff + 2] << 8) | bytes[dstOff + 3]) +
    proto + (l4Len & 0xffff) + (l4Len >>> 16)
}

/** Unfolded IPv6 pseudo-header sum (RFC 8200 §8.1): src, dst, 32-bit length, next header. */
export function pseudoHeaderSumV6(bytes: Uint8Array, srcOff: number, dstOff: number, proto: number, l4Len: number): number {
  return sum16(bytes, dstOff, dstOff + 16, sum16(bytes, srcOff, srcOff + 16)) + proto + (l4Len & 0xffff) + (l4Len >>> 16)
}

/** Offset of the checksum field inside the transport header, by protocol (TCP 16, UDP 6, ICMP/ICMPv6 2), or -1. */
export function checksumFieldOffset(proto: number): number {
  switch (proto) {
    case 6: return 16
    case 17: return 6
    case 1: case 58: return 2
    default: return -1
  }
}

/**
 * The full TCP/UDP checksum to store for the segment bytes[l4Off, l4Off+l4Len)
 * behind the IP header at ipOff (version read from the header; IPv4 or IPv6).
 * proto is the upper-layer protocol (6 or 17). The checksum field itself is
 * taken as zero. For UDP a computed 0 is returned as 0xFFFF (RFC 768), since 0
 * means "no checksum". The IPv6 pseudo-header uses the header's destination
 * field (a routing header's final destination is not looked up).
 */
export function tcpOrUdpChecksum(bytes: Uint8Array, ipOff: number, l4Off: number, l4Len: number, proto: number): number {
  const v6 = (bytes[ipOff] >> 4) === 6
  const ph = v6
    ? pseudoHeaderSumV6(bytes, ipOff + 8, ipOff + 24, proto, l4Len)
    : pseudoHeaderSumV4(bytes, ipOff + 12, ipOff + 16, proto, l4Len)
  const f = l4Off + checksumFieldOffset(proto)
  const s = sum16(bytes, f + 2, l4Off + l4Len, sum16(bytes, l4Off, f, ph))
  const c = finishChecksum(s)
  return proto === 17 && c === 0 ? 0xffff : c
}

// ---- incremental update (RFC 1624) ---------------------------------------

/** Byte-swaps a 16-bit value. */
export function swap16(v: number): number {
  return ((v & 0xff) << 8) | ((v >>> 8) & 0xff)
}

/**
 * Unfolded delta ~m + m' for a 16-bit field changing from oldV to newV. Deltas
 * add up: sum them for several fields and apply once with csumApply().
 * odd: the field starts at an odd offset from the start of the checksummed
 * region (e.g. a TCP option after a 3-byte window-scale option); its bytes
 * then sit in the low/high halves of two different words, which is the same
 * as adding the byte-swapped value (ones-complement sums commute with swaps).
 */
export function csumDelta16(oldV: number, newV: number, odd = false): number {
  if (odd) {
    oldV = swap16(oldV)
    newV = swap16(newV)
  }
  return (~oldV & 0xffff) + (newV & 0xffff)
}

/** Unfolded delta for a 32-bit field (two 16-bit words) changing from oldV to newV. */
export function csumDelta32(oldV: number, newV: number, odd = false): number {
  let oh = (oldV >>> 16) & 0xffff, ol = oldV & 0xffff
  let nh = (newV >>> 16) & 0xffff, nl = newV & 0xffff
  if (odd) {
    oh = swap16(oh); ol = swap16(ol); nh = swap16(nh); nl = swap16(nl)
  }
  return (~oh & 0xffff) + (~ol & 0xffff) + nh + nl
}

/**
 * Unfolded delta for len bytes (even, e.g. a 4- or 16-byte address) changing
 * from oldB[oldOff..] to newB[newOff..]. Take it BEFORE writing the new bytes
 * when oldB and newB are the same buffer.
 */
export function csumDeltaBytes(oldB: Uint8Array, oldOff: number, newB: Uint8Array, newOff: number, len: number, odd = false): number {
  let d = 0
  for (let i = 0; i < len; i += 2) {
    let o = (oldB[oldOff + i] << 8) | oldB[oldOff + i + 1]
    let n = (newB[newOff + i] << 8) | newB[newOff + i + 1]
    if (odd) {
      o = swap16(o)
      n = swap16(n)
    }
    d += (~o & 0xffff) + n
  }
  return d
}

/** RFC 1624 eqn. 3: HC' = ~(~HC + delta), where delta = Σ(~m + m'). */
export function csumApply(hc: number, delta: number): number {
  return ~fold16((~hc & 0xffff) + delta) & 0xffff
}

/**
 * The same delta applied to a CHECKSUM_PARTIAL field (which holds the folded,
 * non-complemented pseudo-header sum; see decode.ts): m' replaces m inside
 * that sum, so F' = F + ~m + m'. Only meaningful for pseudo-header fields
 * (addresses, length).
 */
export function csumApplyPartial(field: number, delta: number): number {
  return fold16(field + delta)
}

/** New checksum after a 16-bit field changes (eqn. 3). */
export function csumUpdate16(hc: number, oldV: number, newV: number, odd = false): number {
  return csumApply(hc, csumDelta16(oldV, newV, odd))
}

/** New checksum after a 32-bit field changes (eqn. 3). */
export function csumUpdate32(hc: number, oldV: number, newV: number, odd = false): number {
  return csumApply(hc, csumDelta32(oldV, newV, odd))
}

/** New checksum after an address (4 or 16 bytes) changes (eqn. 3). */
export function csumUpdateAddr(hc: number, oldB: Uint8Array, oldOff: number, newB: Uint8Array, newOff: number, len: number): number {
  return csumApply(hc, csumDeltaBytes(oldB, oldOff, newB, newOff, len))
}

// In-place conveniences: write a field and patch the checksum covering it.
// regionStart is where the checksummed region starts (IP header for the IPv4
// header checksum, the TCP/UDP header for the transport checksum); it decides
// whether the field is odd-aligned.

/** Writes a big-endian 16-bit field at fieldOff and updates the checksum at csumOff. */
export function rewrite16(bytes: Uint8Array, csumOff: number, fieldOff: number, value: number, regionStart: number): void {
  const oldV = (bytes[fieldOff] << 8) | bytes[fieldOff + 1]
  const hc = (bytes[csumOff] << 8) | bytes[csumOff + 1]
  bytes[fieldOff] = (value >>> 8) & 0xff
  bytes[fieldOff + 1] = value & 0xff
  const n = csumUpdate16(hc, oldV, value & 0xffff, ((fieldOff - regionStart) & 1) === 1)
  bytes[csumOff] = n >>> 8
  bytes[csumOff + 1] = n & 0xff
}

/** Writes a big-endian 32-bit field at fieldOff and updates the checksum at csumOff. */
export function rewrite32(bytes: Uint8Array, csumOff: number, fieldOff: number, value: number, regionStart: number): void {
  const oldV = ((bytes[fieldOff] << 24) | (bytes[fieldOff + 1] << 16) | (bytes[fieldOff + 2] << 8) | bytes[fieldOff + 3]) >>> 0
  const hc = (bytes[csumOff] << 8) | bytes[csumOff + 1]
  bytes[fieldOff] = value >>> 24
  bytes[fieldOff + 1] = (value >>> 16) & 0xff
  bytes[fieldOff + 2] = (value >>> 8) & 0xff
  bytes[fieldOff + 3] = value & 0xff
  const n = csumUpdate32(hc, oldV, value >>> 0, ((fieldOff - regionStart) & 1) === 1)
  bytes[csumOff] = n >>> 8
  bytes[csumOff + 1] = n & 0xff
}
