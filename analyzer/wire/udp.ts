// UDP header (RFC 768). Over IPv4 a zero checksum means "not computed"; a
// computed zero is sent as 0xFFFF. Over IPv6 the checksum is mandatory
// (RFC 8200 §8.1), so zero there is simply wrong.
import type {Anomaly} from './anomaly.js'
import {WireError} from './anomaly.js'
import {csumApply, finishChecksum, sum16} from './checksum.js'

export const UDP_SRC_PORT = 0
export const UDP_DST_PORT = 2
export const UDP_LENGTH = 4
export const UDP_CHECKSUM = 6
export const UDP_HEADER_LEN = 8

export class UdpView {
  constructor(readonly bytes: Uint8Array, readonly offset = 0) {}

  static check(bytes: Uint8Array, offset: number, end: number = bytes.length): Anomaly | null {
    return end - offset < UDP_HEADER_LEN ? 'truncated-udp-header' : null
  }

  static checked(bytes: Uint8Array, offset = 0, end: number = bytes.length): UdpView {
    const a = UdpView.check(bytes, offset, end)
    if (a) throw new WireError(a)
    return new UdpView(bytes, offset)
  }

  private u16(o: number): number { return (this.bytes[this.offset + o] << 8) | this.bytes[this.offset + o + 1] }
  private w16(o: number, v: number): void {
    this.bytes[this.offset + o] = (v >>> 8) & 0xff
    this.bytes[this.offset + o + 1] = v & 0xff
  }
  get srcPort(): number { return this.u16(UDP_SRC_PORT) }
  set srcPort(v: number) { this.w16(UDP_SRC_PORT, v) }
  get dstPort(): number { return this.u16(UDP_DST_PORT) }
  set dstPort(v: number) { this.w16(UDP_DST_PORT, v) }
  /** Header + payload length as written. */
  get length(): number { return this.u16(UDP_LENGTH) }
  set length(v: number) { this.w16(UDP_LENGTH, v) }
  get checksum(): number { return this.u16(UDP_CHECKSUM) }
  set checksum(v: number) { this.w16(UDP_CHECKSUM, v) }
  get payloadOffset(): number { return this.offset + UDP_HEADER_LEN }

  /** Checksum to store given the unfolded pseudo-header sum (proto 17, length). 0 becomes 0xFFFF. */
  computeChecksum(pseudoSum: number, len: number = this.length): number {
    const o = this.offset
    const c = finishChecksum(sum16(this.bytes, o + 8, o + len, sum16(this.bytes, o, o + 6, pseudoSum)))
    return c === 0 ? 0xffff : c
  }
  fillChecksum(pseudoSum: number, len: number = this.length): void { this.checksum = this.computeChecksum(pseudoSum, len) }
}

/**
 * RFC 1624 update for a UDP checksum: an absent checksum (0, IPv4 only) stays
 * absent, and a result of 0 is stored as 0xFFFF.
 */
export function udpCsumApply(hc: number, delta: number): number {
  if (hc === 0) return 0
  const n = csumApply(hc, delta)
  return n === 0 ? 0xffff : n
}

export class UdpRepr {
  constructor(public srcPort: number, public dstPort: number, public payloadLen: number) {}
  static parse(v: UdpView): UdpRepr { return new UdpRepr(v.srcPort, v.dstPort, v.length - UDP_HEADER_LEN) }
  get headerLen(): number { return UDP_HEADER_LEN }
  /** Writes the header with checksum 0 (fill it once the payload is in place). */
  emit(v: UdpView): void {
    v.srcPort = this.srcPort
    v.dstPort = this.dstPort
    v.length = UDP_HEADER_LEN + this.payloadLen
    v.checksum = 0
  }
}
