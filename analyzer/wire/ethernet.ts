// Ethernet II header (IEEE 802.3 with an EtherType): dst MAC, src MAC, type.
import type {Anomaly} from './anomaly.js'
import {WireError} from './anomaly.js'
import {formatMac} from './addr.js'

export const ETH_DST = 0
export const ETH_SRC = 6
export const ETH_TYPE = 12
export const ETH_HEADER_LEN = 14

export const ETHERTYPE = {
  IPV4: 0x0800,
  ARP: 0x0806,
  RARP: 0x8035,
  VLAN: 0x8100, // 802.1Q C-tag
  QINQ: 0x88a8, // 802.1ad S-tag
  VLAN_9100: 0x9100, // pre-standard QinQ, still seen in the wild
  IPV6: 0x86dd,
} as const

/** Values below 0x0600 in the type field are an 802.3 length, not an EtherType (LLC follows). */
export const ETHERTYPE_MIN = 0x0600

export class EthernetView {
  constructor(readonly bytes: Uint8Array, readonly offset = 0) {}

  /** Null when bytes[offset, end) holds a whole header, else the anomaly. */
  static check(bytes: Uint8Array, offset: number, end: number = bytes.length): Anomaly | null {
    return end - offset < ETH_HEADER_LEN ? 'truncated-ethernet' : null
  }

  static checked(bytes: Uint8Array, offset = 0, end: number = bytes.length): EthernetView {
    const a = EthernetView.check(bytes, offset, end)
    if (a) throw new WireError(a)
    return new EthernetView(bytes, offset)
  }

  get dstOffset(): number { return this.offset + ETH_DST }
  get srcOffset(): number { return this.offset + ETH_SRC }
  get etherType(): number { return (this.bytes[this.offset + ETH_TYPE] << 8) | this.bytes[this.offset + ETH_TYPE + 1] }
  set etherType(v: number) {
    this.bytes[this.offset + ETH_TYPE] = (v >>> 8) & 0xff
    this.bytes[this.offset + ETH_TYPE + 1] = v & 0xff
  }
  get headerLen(): number { return ETH_HEADER_LEN }
  get payloadOffset(): number { return this.offset + ETH_HEADER_LEN }

  dstMac(): string { return formatMac(this.bytes, this.offset + ETH_DST) }
  srcMac(): string { return formatMac(this.bytes, this.offset + ETH_SRC) }
  setDst(mac: Uint8Array): void { this.bytes.set(mac.subarray(0, 6), this.offset + ETH_DST) }
  setSrc(mac: Uint8Array): void { this.bytes.set(mac.subarray(0, 6), this.offset + ETH_SRC) }
}

/** Plain value form of an Ethernet header. */
export class EthernetRepr {
  constructor(public dst: Uint8Array, public src: Uint8Array, public etherType: number) {}

  static parse(v: EthernetView): EthernetRepr {
    return new EthernetRepr(v.bytes.slice(v.offset, v.offset + 6), v.bytes.slice(v.offset + 6, v.offset + 12), v.etherType)
  }

  get headerLen(): number { return ETH_HEADER_LEN }

  emit(v: EthernetView): void {
    v.setDst(this.dst)
    v.setSrc(this.src)
    v.etherType = this.etherType
  }
}
