// In-place field writers shared by the forward and return rewrites. Each one
// writes the new value and returns the RFC 1624 delta Σ(~m + m') of what it
// changed, unfolded; the caller adds the deltas of one packet together and
// patches each checksum once (checksum-update.ts). Nothing here allocates.
import {csumDelta16, swap16} from '../../analyzer/wire/checksum.js'

export function read16(b: Uint8Array, o: number): number {
  return (b[o] << 8) | b[o + 1]
}

export function write16(b: Uint8Array, o: number, v: number): void {
  b[o] = (v >>> 8) & 0xff
  b[o + 1] = v & 0xff
}

export function read32(b: Uint8Array, o: number): number {
  return ((b[o] << 24) | (b[o + 1] << 16) | (b[o + 2] << 8) | b[o + 3]) >>> 0
}

export function write32(b: Uint8Array, o: number, v: number): void {
  b[o] = v >>> 24
  b[o + 1] = (v >>> 16) & 0xff
  b[o + 2] = (v >>> 8) & 0xff
  b[o + 3] = v & 0xff
}

/**
 * Adds `add` (mod 2^32) to the 32-bit field at off and returns the RFC 1624
 * delta (the same as csumDelta32). regionStart is the first byte of the
 * checksummed region (the TCP header): a field at an odd distance from it —
 * SACK or timestamp options behind a 3-byte window-scale option — straddles
 * two checksum words.
 */
export function add32(b: Uint8Array, off: number, add: number, regionStart: number): number {
  if (add === 0) return 0
  // In 16-bit halves with the carry by hand: every intermediate stays a small
  // integer, so V8 never boxes a uint32 as a heap number on this path.
  const oh = (b[off] << 8) | b[off + 1]
  const ol = (b[off + 2] << 8) | b[off + 3]
  const sl = ol + (add & 0xffff)
  const nl = sl & 0xffff
  const nh = (oh + (add >>> 16) + (sl >>> 16)) & 0xffff
  b[off] = nh >>> 8
  b[off + 1] = nh & 0xff
  b[off + 2] = nl >>> 8
  b[off + 3] = nl & 0xff
  if (((off - regionStart) & 1) === 1) {
    // Odd distance from the region start: the field's bytes sit in the other
    // halves of their checksum words, which is the same as summing the
    // byte-swapped words (RFC 1071 §2(B)).
    return (~swap16(oh) & 0xffff) + (~swap16(ol) & 0xffff) + swap16(nh) + swap16(nl)
  }
  return (~oh & 0xffff) + (~ol & 0xffff) + nh + nl
}

/** Writes a 16-bit field (always even-aligned where we use it: the TCP window). */
export function set16(b: Uint8Array, off: number, v: number): number {
  const oldV = read16(b, off)
  if (oldV === v) return 0
  write16(b, off, v)
  return csumDelta16(oldV, v)
}

/**
 * Replaces an address (4 or 16 bytes) at off with addr. Addresses are whole
 * 16-bit words both in the IPv4 header and in the pseudo-header, so the delta
 * is never odd-aligned.
 */
export function setAddr(b: Uint8Array, off: number, addr: Uint8Array, len: number): number {
  let d = 0
  for (let i = 0; i < len; i += 2) {
    const o = (b[off + i] << 8) | b[off + i + 1]
    const n = (addr[i] << 8) | addr[i + 1]
    if (o === n) continue // an unchanged word adds nothing (not even ones-complement -0)
    d += (~o & 0xffff) + n
    b[off + i] = addr[i]
    b[off + i + 1] = addr[i + 1]
  }
  return d
}

/** bytes[off, off+len) equals addr[0, len). */
export function addrEq(b: Uint8Array, off: number, addr: Uint8Array, len: number): boolean {
  for (let i = 0; i < len; i++) if (b[off + i] !== addr[i]) return false
  return true
}

/** Copies a 6-byte MAC (no checksum covers the Ethernet header; the FCS is not captured). */
export function setMac(b: Uint8Array, off: number, mac: Uint8Array): void {
  for (let i = 0; i < 6; i++) b[off + i] = mac[i]
}
