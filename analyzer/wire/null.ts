// BSD loopback (LINKTYPE_NULL 0) and OpenBSD loopback (LINKTYPE_LOOP 108): a
// 4-byte address family, then the IP packet. For NULL the family is in the
// byte order of the machine that captured, which need not be ours nor the
// file's, so both orders are tried: families are small numbers, so the
// reading whose upper 16 bits are zero is the right one. LOOP is always in
// network byte order. AF_INET is 2 everywhere; AF_INET6 is 24 (NetBSD,
// OpenBSD), 28 (FreeBSD, DragonFly) or 30 (macOS, iOS) — and 10 on Linux,
// which shows up in files written by Linux tools.
import type {Anomaly} from './anomaly.js'
import {WireError} from './anomaly.js'

export const NULL_FAMILY = 0
export const NULL_HEADER_LEN = 4

export const AF_INET = 2
export const AF_INET6_VALUES = [24, 28, 30, 10] as const

/** 4 for AF_INET, 6 for an AF_INET6 value, 0 otherwise. */
export function ipVersionOfFamily(family: number): number {
  if (family === 2) return 4
  if (family === 24 || family === 28 || family === 30 || family === 10) return 6
  return 0
}

/** Reads a NULL family, detecting the capturing host's byte order. */
export function readNullFamily(b: Uint8Array, o: number): number {
  const le = (b[o] | (b[o + 1] << 8) | (b[o + 2] << 16) | (b[o + 3] << 24)) >>> 0
  if ((le & 0xffff0000) === 0) return le
  return ((b[o] << 24) | (b[o + 1] << 16) | (b[o + 2] << 8) | b[o + 3]) >>> 0
}

/** Reads a LOOP family (network byte order). */
export function readLoopFamily(b: Uint8Array, o: number): number {
  return ((b[o] << 24) | (b[o + 1] << 16) | (b[o + 2] << 8) | b[o + 3]) >>> 0
}

export class NullView {
  /** networkOrder: true for LINKTYPE_LOOP. */
  constructor(readonly bytes: Uint8Array, readonly offset = 0, readonly networkOrder = false) {}

  static check(bytes: Uint8Array, offset: number, end: number = bytes.length): Anomaly | null {
    return end - offset < NULL_HEADER_LEN ? 'truncated-link-header' : null
  }

  static checked(bytes: Uint8Array, offset = 0, end: number = bytes.length, networkOrder = false): NullView {
    const a = NullView.check(bytes, offset, end)
    if (a) throw new WireError(a)
    return new NullView(bytes, offset, networkOrder)
  }

  get family(): number {
    return this.networkOrder ? readLoopFamily(this.bytes, this.offset) : readNullFamily(this.bytes, this.offset)
  }
  /** True when the family is stored little-endian (NULL written on a little-endian host). */
  get littleEndian(): boolean {
    return !this.networkOrder && this.bytes[this.offset + 3] === 0 && this.bytes[this.offset] !== 0
  }
  get ipVersion(): number { return ipVersionOfFamily(this.family) }
  get payloadOffset(): number { return this.offset + NULL_HEADER_LEN }
}
