// Linux "cooked" capture v2 (LINKTYPE_LINUX_SLL2 276), 20 bytes: like v1 but
// with the interface index, and the protocol moved to the front.
import type {Anomaly} from './anomaly.js'
import {WireError} from './anomaly.js'
import {formatMac} from './addr.js'

export const SLL2_PROTOCOL = 0
export const SLL2_RESERVED = 2
export const SLL2_IFINDEX = 4
export const SLL2_HATYPE = 8
export const SLL2_PKTTYPE = 10
export const SLL2_HALEN = 11
export const SLL2_ADDR = 12
export const SLL2_HEADER_LEN = 20

export class Sll2View {
  constructor(readonly bytes: Uint8Array, readonly offset = 0) {}

  static check(bytes: Uint8Array, offset: number, end: number = bytes.length): Anomaly | null {
    return end - offset < SLL2_HEADER_LEN ? 'truncated-link-header' : null
  }

  static checked(bytes: Uint8Array, offset = 0, end: number = bytes.length): Sll2View {
    const a = Sll2View.check(bytes, offset, end)
    if (a) throw new WireError(a)
    return new Sll2View(bytes, offset)
  }

  get protocol(): number { return (this.bytes[this.offset] << 8) | this.bytes[this.offset + 1] }
  set protocol(v: number) {
    this.bytes[this.offset] = (v >>> 8) & 0xff
    this.bytes[this.offset + 1] = v & 0xff
  }
  get ifIndex(): number {
    const b = this.bytes, o = this.offset + SLL2_IFINDEX
    return ((b[o] << 24) | (b[o + 1] << 16) | (b[o + 2] << 8) | b[o + 3]) >>> 0
  }
  get haType(): number { return (this.bytes[this.offset + SLL2_HATYPE] << 8) | this.bytes[this.offset + SLL2_HATYPE + 1] }
  get packetType(): number { return this.bytes[this.offset + SLL2_PKTTYPE] }
  get addrLen(): number { return this.bytes[this.offset + SLL2_HALEN] }
  get addrOffset(): number { return this.offset + SLL2_ADDR }
  get payloadOffset(): number { return this.offset + SLL2_HEADER_LEN }
  addr(): string { return formatMac(this.bytes, this.offset + SLL2_ADDR, Math.min(8, this.addrLen)) }
}
