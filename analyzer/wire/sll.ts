// Linux "cooked" capture v1 (LINKTYPE_LINUX_SLL 113), 16 bytes, written when
// capturing on "any" or on devices without a link header. The protocol field
// is an EtherType for ordinary devices.
import type {Anomaly} from './anomaly.js'
import {WireError} from './anomaly.js'
import {formatMac} from './addr.js'

export const SLL_PKTTYPE = 0 // 0 to-us, 1 broadcast, 2 multicast, 3 other-host, 4 outgoing
export const SLL_HATYPE = 2 // ARPHRD_ type
export const SLL_HALEN = 4 // link-layer address length
export const SLL_ADDR = 6 // 8 bytes, first HALEN used
export const SLL_PROTOCOL = 14
export const SLL_HEADER_LEN = 16

export const SLL_PACKET_TYPE_NAMES = ['to-us', 'broadcast', 'multicast', 'other-host', 'outgoing'] as const

export class SllView {
  constructor(readonly bytes: Uint8Array, readonly offset = 0) {}

  static check(bytes: Uint8Array, offset: number, end: number = bytes.length): Anomaly | null {
    return end - offset < SLL_HEADER_LEN ? 'truncated-link-header' : null
  }

  static checked(bytes: Uint8Array, offset = 0, end: number = bytes.length): SllView {
    const a = SllView.check(bytes, offset, end)
    if (a) throw new WireError(a)
    return new SllView(bytes, offset)
  }

  private u16(o: number): number { return (this.bytes[this.offset + o] << 8) | this.bytes[this.offset + o + 1] }
  get packetType(): number { return this.u16(SLL_PKTTYPE) }
  get haType(): number { return this.u16(SLL_HATYPE) }
  /** Link-layer address length as written (may exceed 8; only 8 bytes are stored). */
  get addrLen(): number { return this.u16(SLL_HALEN) }
  get addrOffset(): number { return this.offset + SLL_ADDR }
  get protocol(): number { return this.u16(SLL_PROTOCOL) }
  set protocol(v: number) {
    this.bytes[this.offset + SLL_PROTOCOL] = (v >>> 8) & 0xff
    this.bytes[this.offset + SLL_PROTOCOL + 1] = v & 0xff
  }
  get payloadOffset(): number { return this.offset + SLL_HEADER_LEN }
  /** The sender's link-layer address (source for incoming, own for outgoing). */
  addr(): string { return formatMac(this.bytes, this.offset + SLL_ADDR, Math.min(8, this.addrLen)) }
}
