// TCP header (RFC 9293). Setters write in place and leave the checksum alone:
// the rewrite engine batches its changes into one RFC 1624 delta (checksum.ts)
// and the builder recomputes from scratch.
import type {Anomaly} from './anomaly.js'
import {WireError} from './anomaly.js'
import {readU32, writeU32} from './addr.js'
import {finishChecksum, fold16, sum16} from './checksum.js'
import {TcpOptionsRepr, TcpOptionsView} from './tcp-options.js'

export const TCP_SRC_PORT = 0
export const TCP_DST_PORT = 2
export const TCP_SEQ = 4
export const TCP_ACK = 8
export const TCP_DATA_OFF = 12 // high nibble: header length / 4; low bit: AE (was NS)
export const TCP_FLAGS = 13
export const TCP_WINDOW = 14
export const TCP_CHECKSUM = 16
export const TCP_URGENT = 18
export const TCP_MIN_HEADER_LEN = 20
export const TCP_MAX_HEADER_LEN = 60

export const TCP_FLAG = {
  FIN: 0x01,
  SYN: 0x02,
  RST: 0x04,
  PSH: 0x08,
  ACK: 0x10,
  URG: 0x20,
  ECE: 0x40,
  CWR: 0x80,
} as const

// tcpdump prints flags in this order (tcp_flag_values in print-tcp.c), with
// '.' for ACK and "none" when no flag is set: "S", "S.", "P.", "F.", "R.".
const FLAG_ORDER: Array<[number, string]> = [
  [0x01, 'F'], [0x02, 'S'], [0x04, 'R'], [0x08, 'P'], [0x10, '.'], [0x20, 'U'], [0x40, 'E'], [0x80, 'W'],
]
const FLAG_STRINGS: string[] = (() => {
  const t: string[] = []
  for (let f = 0; f < 256; f++) {
    let s = ''
    for (const [bit, ch] of FLAG_ORDER) if (f & bit) s += ch
    t.push(s === '' ? 'none' : s)
  }
  return t
})()

/** Renders the 8 flag bits like tcpdump: 'S', 'S.', 'P.', 'F.', 'R', 'none'. No allocation. */
export function tcpFlagsString(flags: number): string {
  return FLAG_STRINGS[flags & 0xff]
}

/** Parses a tcpdump-style flag string ('S.', 'FP.', 'none') back to bits. */
export function parseTcpFlags(s: string): number {
  if (s === 'none' || s === '') return 0
  let f = 0
  for (const ch of s) {
    const e = FLAG_ORDER.find(([, c]) => c === ch)
    if (!e) throw new Error(`bad TCP flag '${ch}' in '${s}'`)
    f |= e[0]
  }
  return f
}

export class TcpView {
  constructor(readonly bytes: Uint8Array, readonly offset = 0) {}

  /** 20 bytes, data offset >= 5, the whole declared header inside [offset, end). */
  static check(bytes: Uint8Array, offset: number, end: number = bytes.length): Anomaly | null {
    if (end - offset < TCP_MIN_HEADER_LEN) return 'truncated-tcp-header'
    const hl = (bytes[offset + TCP_DATA_OFF] >> 4) * 4
    if (hl < TCP_MIN_HEADER_LEN) return 'bad-tcp-data-offset'
    if (hl > end - offset) return 'truncated-tcp-header'
    return null
  }

  static checked(bytes: Uint8Array, offset = 0, end: number = bytes.length): TcpView {
    const a = TcpView.check(bytes, offset, end)
    if (a) throw new WireError(a)
    return new TcpView(bytes, offset)
  }

  private u16(o: number): number { return (this.bytes[this.offset + o] << 8) | this.bytes[this.offset + o + 1] }
  private w16(o: number, v: number): void {
    this.bytes[this.offset + o] = (v >>> 8) & 0xff
    this.bytes[this.offset + o + 1] = v & 0xff
  }

  get srcPort(): number { return this.u16(TCP_SRC_PORT) }
  set srcPort(v: number) { this.w16(TCP_SRC_PORT, v) }
  get dstPort(): number { return this.u16(TCP_DST_PORT) }
  set dstPort(v: number) { this.w16(TCP_DST_PORT, v) }
  get seq(): number { return readU32(this.bytes, this.offset + TCP_SEQ) }
  set seq(v: number) { writeU32(this.bytes, this.offset + TCP_SEQ, v >>> 0) }
  get ack(): number { return readU32(this.bytes, this.offset + TCP_ACK) }
  set ack(v: number) { writeU32(this.bytes, this.offset + TCP_ACK, v >>> 0) }
  /** Header length in bytes (data offset * 4). */
  get headerLen(): number { return (this.bytes[this.offset + TCP_DATA_OFF] >> 4) * 4 }
  set headerLen(v: number) {
    this.bytes[this.offset + TCP_DATA_OFF] = (((v >> 2) & 15) << 4) | (this.bytes[this.offset + TCP_DATA_OFF] & 15)
  }
  /** Data offset in 32-bit words, as in the header. */
  get dataOffset(): number { return this.bytes[this.offset + TCP_DATA_OFF] >> 4 }
  /** The 8 classic flag bits (CWR … FIN). */
  get flags(): number { return this.bytes[this.offset + TCP_FLAGS] }
  set flags(v: number) { this.bytes[this.offset + TCP_FLAGS] = v & 0xff }
  /** AE (accurate ECN, formerly NS) bit. */
  get ae(): boolean { return (this.bytes[this.offset + TCP_DATA_OFF] & 1) !== 0 }
  get syn(): boolean { return (this.flags & TCP_FLAG.SYN) !== 0 }
  get fin(): boolean { return (this.flags & TCP_FLAG.FIN) !== 0 }
  get rst(): boolean { return (this.flags & TCP_FLAG.RST) !== 0 }
  get hasAck(): boolean { return (this.flags & TCP_FLAG.ACK) !== 0 }
  get window(): number { return this.u16(TCP_WINDOW) }
  set window(v: number) { this.w16(TCP_WINDOW, v) }
  get checksum(): number { return this.u16(TCP_CHECKSUM) }
  set checksum(v: number) { this.w16(TCP_CHECKSUM, v) }
  get urgent(): number { return this.u16(TCP_URGENT) }
  set urgent(v: number) { this.w16(TCP_URGENT, v) }
  get optionsOffset(): number { return this.offset + TCP_MIN_HEADER_LEN }
  get optionsEnd(): number { return this.offset + this.headerLen }
  get payloadOffset(): number { return this.offset + this.headerLen }
  flagsString(): string { return tcpFlagsString(this.flags) }
  /** In-place access to TSval/TSecr and SACK edges. */
  options(): TcpOptionsView { return new TcpOptionsView(this.bytes, this.optionsOffset, this.optionsEnd) }

  /**
   * Checksum this segment (header + segLen - headerLen bytes of payload) should
   * carry, given the unfolded pseudo-header sum (checksum.ts pseudoHeaderSumV4/V6
   * with proto 6 and segLen).
   */
  computeChecksum(pseudoSum: number, segLen: number): number {
    const o = this.offset
    return finishChecksum(sum16(this.bytes, o + 18, o + segLen, sum16(this.bytes, o, o + 16, pseudoSum)))
  }
  verifyChecksum(pseudoSum: number, segLen: number): boolean {
    return fold16(sum16(this.bytes, this.offset, this.offset + segLen, pseudoSum)) === 0xffff
  }
  fillChecksum(pseudoSum: number, segLen: number): void { this.checksum = this.computeChecksum(pseudoSum, segLen) }
}

/** Plain value form of a TCP header (the payload is not part of it). */
export class TcpRepr {
  constructor(
    public srcPort: number,
    public dstPort: number,
    public seq: number,
    public ack: number,
    public flags: number,
    public window: number,
    public urgent = 0,
    public options: TcpOptionsRepr = new TcpOptionsRepr(),
    public optionsLayout: 'linux' | 'compact' = 'linux',
  ) {}

  static parse(v: TcpView): TcpRepr {
    return new TcpRepr(v.srcPort, v.dstPort, v.seq, v.ack, v.flags, v.window, v.urgent,
      TcpOptionsRepr.parse(v.bytes, v.optionsOffset, v.optionsEnd))
  }

  get headerLen(): number { return TCP_MIN_HEADER_LEN + this.options.length(this.optionsLayout) }

  /** Writes the header and options; the checksum field is left 0 (fill it once the payload is in place). */
  emit(v: TcpView): void {
    v.srcPort = this.srcPort
    v.dstPort = this.dstPort
    v.seq = this.seq
    v.ack = this.ack
    v.bytes[v.offset + TCP_DATA_OFF] = 0
    v.headerLen = this.headerLen
    v.flags = this.flags
    v.window = this.window
    v.checksum = 0
    v.urgent = this.urgent
    this.options.emit(v.bytes, v.optionsOffset, this.optionsLayout)
  }
}
