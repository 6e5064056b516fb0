// IPv6 header (RFC 8200) and its extension headers. The upper-layer protocol
// is found by walking the Next Header chain; each extension header we know the
// length rule for is recorded so the rewrite engine and reports can see them.
import type {Anomaly} from './anomaly.js'
import {WireError} from './anomaly.js'
import {formatIpv6} from './addr.js'

export const IPV6_VER_TC_FL = 0 // version 4 bits, traffic class 8, flow label 20
export const IPV6_PAYLOAD_LEN = 4
export const IPV6_NEXT_HEADER = 6
export const IPV6_HOP_LIMIT = 7
export const IPV6_SRC = 8
export const IPV6_DST = 24
export const IPV6_HEADER_LEN = 40

export const IPV6_EXT = {
  HOP_BY_HOP: 0,
  ROUTING: 43,
  FRAGMENT: 44,
  AH: 51,
  NO_NEXT: 59,
  DEST_OPTS: 60,
} as const

/** Extension headers whose length we know how to read (others end the walk as the upper layer). */
export function isIpv6ExtHeader(nh: number): boolean {
  return nh === 0 || nh === 43 || nh === 44 || nh === 60 || nh === 51
}

/**
 * Length in bytes of the extension header of type nh at off (needs 2 bytes).
 * Hop-by-hop, routing, destination options: (len + 1) * 8; fragment: 8;
 * AH: (len + 2) * 4 (RFC 4302 counts 32-bit words).
 */
export function ipv6ExtHeaderLen(nh: number, bytes: Uint8Array, off: number): number {
  if (nh === 44) return 8
  if (nh === 51) return (bytes[off + 1] + 2) * 4
  return (bytes[off + 1] + 1) * 8
}

export class Ipv6View {
  constructor(readonly bytes: Uint8Array, readonly offset = 0) {}

  static check(bytes: Uint8Array, offset: number, end: number = bytes.length): Anomaly | null {
    if (end - offset < IPV6_HEADER_LEN) return 'truncated-ip-header'
    if (bytes[offset] >> 4 !== 6) return 'bad-ip-version'
    return null
  }

  static checked(bytes: Uint8Array, offset = 0, end: number = bytes.length): Ipv6View {
    const a = Ipv6View.check(bytes, offset, end)
    if (a) throw new WireError(a)
    return new Ipv6View(bytes, offset)
  }

  get version(): number { return this.bytes[this.offset] >> 4 }
  get trafficClass(): number { return ((this.bytes[this.offset] & 15) << 4) | (this.bytes[this.offset + 1] >> 4) }
  set trafficClass(v: number) {
    const b = this.bytes, o = this.offset
    b[o] = 0x60 | ((v >> 4) & 15)
    b[o + 1] = ((v & 15) << 4) | (b[o + 1] & 15)
  }
  get flowLabel(): number {
    const b = this.bytes, o = this.offset
    return ((b[o + 1] & 15) << 16) | (b[o + 2] << 8) | b[o + 3]
  }
  set flowLabel(v: number) {
    const b = this.bytes, o = this.offset
    b[o + 1] = (b[o + 1] & 0xf0) | ((v >> 16) & 15)
    b[o + 2] = (v >> 8) & 0xff
    b[o + 3] = v & 0xff
  }
  /** Bytes after the fixed header (extension headers + upper layer). */
  get payloadLen(): number { return (this.bytes[this.offset + 4] << 8) | this.bytes[this.offset + 5] }
  set payloadLen(v: number) {
    this.bytes[this.offset + 4] = (v >>> 8) & 0xff
    this.bytes[this.offset + 5] = v & 0xff
  }
  get nextHeader(): number { return this.bytes[this.offset + IPV6_NEXT_HEADER] }
  set nextHeader(v: number) { this.bytes[this.offset + IPV6_NEXT_HEADER] = v & 0xff }
  get hopLimit(): number { return this.bytes[this.offset + IPV6_HOP_LIMIT] }
  set hopLimit(v: number) { this.bytes[this.offset + IPV6_HOP_LIMIT] = v & 0xff }
  get srcOffset(): number { return this.offset + IPV6_SRC }
  get dstOffset(): number { return this.offset + IPV6_DST }
  /** Copies of the addresses (16 bytes). */
  src(): Uint8Array { return this.bytes.slice(this.offset + IPV6_SRC, this.offset + IPV6_SRC + 16) }
  dst(): Uint8Array { return this.bytes.slice(this.offset + IPV6_DST, this.offset + IPV6_DST + 16) }
  setSrc(a: Uint8Array): void { this.bytes.set(a.subarray(0, 16), this.offset + IPV6_SRC) }
  setDst(a: Uint8Array): void { this.bytes.set(a.subarray(0, 16), this.offset + IPV6_DST) }
  srcAddr(): string { return formatIpv6(this.bytes, this.offset + IPV6_SRC) }
  dstAddr(): string { return formatIpv6(this.bytes, this.offset + IPV6_DST) }
  get payloadOffset(): number { return this.offset + IPV6_HEADER_LEN }
}

/** View over an IPv6 Fragment header (8 bytes). */
export class Ipv6FragmentView {
  constructor(readonly bytes: Uint8Array, readonly offset = 0) {}

  static check(bytes: Uint8Array, offset: number, end: number = bytes.length): Anomaly | null {
    return end - offset < 8 ? 'truncated-ipv6-ext-header' : null
  }

  get nextHeader(): number { return this.bytes[this.offset] }
  /** Fragment offset in bytes. */
  get fragOffset(): number { return (((this.bytes[this.offset + 2] << 8) | this.bytes[this.offset + 3]) & 0xfff8) }
  get moreFrags(): boolean { return (this.bytes[this.offset + 3] & 1) !== 0 }
  get ident(): number {
    const b = this.bytes, o = this.offset + 4
    return ((b[o] << 24) | (b[o + 1] << 16) | (b[o + 2] << 8) | b[o + 3]) >>> 0
  }
  /** RFC 6946: offset 0 and M clear — a whole datagram in a fragment header. */
  get isAtomic(): boolean { return this.fragOffset === 0 && !this.moreFrags }
}

/** Plain value form of the fixed IPv6 header. */
export class Ipv6Repr {
  constructor(
    public src: Uint8Array,
    public dst: Uint8Array,
    public nextHeader: number,
    public payloadLen: number,
    public hopLimit = 64,
    public trafficClass = 0,
    public flowLabel = 0,
  ) {}

  static parse(v: Ipv6View): Ipv6Repr {
    return new Ipv6Repr(v.src(), v.dst(), v.nextHeader, v.payloadLen, v.hopLimit, v.trafficClass, v.flowLabel)
  }

  get headerLen(): number { return IPV6_HEADER_LEN }

  emit(v: Ipv6View): void {
    v.bytes[v.offset] = 0x60
    v.trafficClass = this.trafficClass
    v.flowLabel = this.flowLabel
    v.payloadLen = this.payloadLen
    v.nextHeader = this.nextHeader
    v.hopLimit = this.hopLimit
    v.setSrc(this.src)
    v.setDst(this.dst)
  }
}
