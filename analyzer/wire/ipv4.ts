// IPv4 header (RFC 791). The view reads and writes fields in place; the
// address setters do NOT touch checksums (the rewrite engine patches both the
// header and the TCP/UDP checksum from one delta, see checksum.ts), while
// fillChecksum() recomputes the header checksum from scratch.
import type {Anomaly} from './anomaly.js'
import {WireError} from './anomaly.js'
import {formatIpv4, readU32, writeU32} from './addr.js'
import {ipv4HeaderChecksum, sum16, fold16} from './checksum.js'

export const IPV4_VER_IHL = 0
export const IPV4_TOS = 1 // DSCP (6 bits) + ECN (2 bits)
export const IPV4_TOTAL_LEN = 2
export const IPV4_IDENT = 4
export const IPV4_FLAGS_FRAG = 6 // reserved, DF, MF, 13-bit offset in 8-byte units
export const IPV4_TTL = 8
export const IPV4_PROTOCOL = 9
export const IPV4_CHECKSUM = 10
export const IPV4_SRC = 12
export const IPV4_DST = 16
export const IPV4_MIN_HEADER_LEN = 20

export const IPV4_FLAG_RESERVED = 0x8000
export const IPV4_FLAG_DF = 0x4000
export const IPV4_FLAG_MF = 0x2000

export const IP_PROTO = {
  HOPOPT: 0,
  ICMP: 1,
  TCP: 6,
  UDP: 17,
  IPV6_ROUTE: 43,
  IPV6_FRAG: 44,
  ESP: 50,
  AH: 51,
  ICMPV6: 58,
  IPV6_NONXT: 59,
  IPV6_OPTS: 60,
} as const

export class Ipv4View {
  constructor(readonly bytes: Uint8Array, readonly offset = 0) {}

  /**
   * Validates what the accessors need: 20 bytes, version 4, IHL >= 5 and the
   * whole IHL-declared header inside [offset, end). The total length is not
   * checked against end here: captures are often cut short by the snaplen.
   */
  static check(bytes: Uint8Array, offset: number, end: number = bytes.length): Anomaly | null {
    if (end - offset < IPV4_MIN_HEADER_LEN) return 'truncated-ip-header'
    const vi = bytes[offset]
    if (vi >> 4 !== 4) return 'bad-ip-version'
    const hl = (vi & 15) * 4
    if (hl < IPV4_MIN_HEADER_LEN) return 'bad-ip-header-length'
    if (hl > end - offset) return 'truncated-ip-header'
    return null
  }

  static checked(bytes: Uint8Array, offset = 0, end: number = bytes.length): Ipv4View {
    const a = Ipv4View.check(bytes, offset, end)
    if (a) throw new WireError(a)
    return new Ipv4View(bytes, offset)
  }

  private u16(o: number): number { return (this.bytes[this.offset + o] << 8) | this.bytes[this.offset + o + 1] }
  private w16(o: number, v: number): void {
    this.bytes[this.offset + o] = (v >>> 8) & 0xff
    this.bytes[this.offset + o + 1] = v & 0xff
  }

  get version(): number { return this.bytes[this.offset] >> 4 }
  /** Header length in bytes (IHL * 4). */
  get headerLen(): number { return (this.bytes[this.offset] & 15) * 4 }
  set headerLen(v: number) { this.bytes[this.offset] = 0x40 | ((v >> 2) & 15) }
  get tos(): number { return this.bytes[this.offset + IPV4_TOS] }
  set tos(v: number) { this.bytes[this.offset + IPV4_TOS] = v & 0xff }
  get dscp(): number { return this.bytes[this.offset + IPV4_TOS] >> 2 }
  get ecn(): number { return this.bytes[this.offset + IPV4_TOS] & 3 }
  get totalLen(): number { return this.u16(IPV4_TOTAL_LEN) }
  set totalLen(v: number) { this.w16(IPV4_TOTAL_LEN, v) }
  get ident(): number { return this.u16(IPV4_IDENT) }
  set ident(v: number) { this.w16(IPV4_IDENT, v) }
  /** The 3 flag bits as a number: 4 reserved, 2 DF, 1 MF. */
  get flags(): number { return this.bytes[this.offset + IPV4_FLAGS_FRAG] >> 5 }
  get dontFrag(): boolean { return (this.bytes[this.offset + IPV4_FLAGS_FRAG] & 0x40) !== 0 }
  get moreFrags(): boolean { return (this.bytes[this.offset + IPV4_FLAGS_FRAG] & 0x20) !== 0 }
  /** Fragment offset in bytes (field * 8). */
  get fragOffset(): number { return (this.u16(IPV4_FLAGS_FRAG) & 0x1fff) * 8 }
  set flagsFrag(v: number) { this.w16(IPV4_FLAGS_FRAG, v) }
  get flagsFrag(): number { return this.u16(IPV4_FLAGS_FRAG) }
  /** MF set or a non-zero offset: only a piece of the upper-layer datagram. */
  get isFragment(): boolean { return (this.u16(IPV4_FLAGS_FRAG) & 0x3fff) !== 0 }
  get ttl(): number { return this.bytes[this.offset + IPV4_TTL] }
  set ttl(v: number) { this.bytes[this.offset + IPV4_TTL] = v & 0xff }
  get protocol(): number { return this.bytes[this.offset + IPV4_PROTOCOL] }
  set protocol(v: number) { this.bytes[this.offset + IPV4_PROTOCOL] = v & 0xff }
  get checksum(): number { return this.u16(IPV4_CHECKSUM) }
  set checksum(v: number) { this.w16(IPV4_CHECKSUM, v) }
  /** Source address as a uint32. */
  get src(): number { return readU32(this.bytes, this.offset + IPV4_SRC) }
  set src(v: number) { writeU32(this.bytes, this.offset + IPV4_SRC, v) }
  get dst(): number { return readU32(this.bytes, this.offset + IPV4_DST) }
  set dst(v: number) { writeU32(this.bytes, this.offset + IPV4_DST, v) }
  get srcOffset(): number { return this.offset + IPV4_SRC }
  get dstOffset(): number { return this.offset + IPV4_DST }
  srcAddr(): string { return formatIpv4(this.bytes, this.offset + IPV4_SRC) }
  dstAddr(): string { return formatIpv4(this.bytes, this.offset + IPV4_DST) }
  setSrcBytes(a: Uint8Array): void { this.bytes.set(a.subarray(0, 4), this.offset + IPV4_SRC) }
  setDstBytes(a: Uint8Array): void { this.bytes.set(a.subarray(0, 4), this.offset + IPV4_DST) }
  get optionsOffset(): number { return this.offset + IPV4_MIN_HEADER_LEN }
  get optionsLen(): number { return this.headerLen - IPV4_MIN_HEADER_LEN }
  get payloadOffset(): number { return this.offset + this.headerLen }

  /** True when the header checksum verifies. */
  verifyChecksum(): boolean {
    return fold16(sum16(this.bytes, this.offset, this.offset + this.headerLen)) === 0xffff
  }
  /** The checksum this header should carry. */
  computeChecksum(): number { return ipv4HeaderChecksum(this.bytes, this.offset, this.headerLen) }
  fillChecksum(): void { this.checksum = this.computeChecksum() }
}

/** Plain value form of an IPv4 header (parse from a view, emit into one). */
export class Ipv4Repr {
  constructor(
    public src: number,
    public dst: number,
    public protocol: number,
    /** Upper-layer length (totalLen - headerLen). */
    public payloadLen: number,
    public ttl = 64,
    public tos = 0,
    public ident = 0,
    /** Raw 16-bit flags + fragment offset field (0x4000 = DF). */
    public flagsFrag = IPV4_FLAG_DF,
    public options: Uint8Array = new Uint8Array(0),
  ) {}

  static parse(v: Ipv4View): Ipv4Repr {
    return new Ipv4Repr(v.src, v.dst, v.protocol, v.totalLen - v.headerLen, v.ttl, v.tos, v.ident, v.flagsFrag,
      v.bytes.slice(v.optionsOffset, v.offset + v.headerLen))
  }

  /** Header length this repr emits (options zero-padded to 4 bytes). */
  get headerLen(): number { return IPV4_MIN_HEADER_LEN + ((this.options.length + 3) & ~3) }

  /** Writes the header into v (which must have headerLen bytes) and fills its checksum. */
  emit(v: Ipv4View): void {
    const hl = this.headerLen
    v.headerLen = hl
    v.tos = this.tos
    v.totalLen = hl + this.payloadLen
    v.ident = this.ident
    v.flagsFrag = this.flagsFrag
    v.ttl = this.ttl
    v.protocol = this.protocol
    v.src = this.src
    v.dst = this.dst
    v.bytes.fill(0, v.optionsOffset, v.offset + hl)
    v.bytes.set(this.options, v.optionsOffset)
    v.fillChecksum()
  }
}
