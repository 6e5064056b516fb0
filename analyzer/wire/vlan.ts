// 802.1Q / 802.1ad VLAN tags. In the frame a tag is TPID(2) TCI(2); the TPID
// takes the place of the EtherType, so a view here covers the 4 bytes that
// follow it: TCI (PCP 3 bits, DEI 1 bit, VID 12 bits) and the next type.
// Tags stack (QinQ, QinQinQ…): after a tag comes another TPID or the payload
// EtherType.
import type {Anomaly} from './anomaly.js'
import {WireError} from './anomaly.js'

export const VLAN_TCI = 0
export const VLAN_TYPE = 2
export const VLAN_TAG_LEN = 4

/** 0x8100 (802.1Q), 0x88a8 (802.1ad), 0x9100 (pre-standard QinQ). */
export function isVlanTpid(etherType: number): boolean {
  return etherType === 0x8100 || etherType === 0x88a8 || etherType === 0x9100
}

export class VlanView {
  /** offset: first byte after the TPID. */
  constructor(readonly bytes: Uint8Array, readonly offset = 0) {}

  static check(bytes: Uint8Array, offset: number, end: number = bytes.length): Anomaly | null {
    return end - offset < VLAN_TAG_LEN ? 'truncated-vlan' : null
  }

  static checked(bytes: Uint8Array, offset = 0, end: number = bytes.length): VlanView {
    const a = VlanView.check(bytes, offset, end)
    if (a) throw new WireError(a)
    return new VlanView(bytes, offset)
  }

  get tci(): number { return (this.bytes[this.offset] << 8) | this.bytes[this.offset + 1] }
  set tci(v: number) {
    this.bytes[this.offset] = (v >>> 8) & 0xff
    this.bytes[this.offset + 1] = v & 0xff
  }
  get pcp(): number { return this.bytes[this.offset] >> 5 }
  set pcp(v: number) { this.bytes[this.offset] = (this.bytes[this.offset] & 0x1f) | ((v & 7) << 5) }
  get dei(): boolean { return (this.bytes[this.offset] & 0x10) !== 0 }
  set dei(v: boolean) { this.bytes[this.offset] = (this.bytes[this.offset] & 0xef) | (v ? 0x10 : 0) }
  get vid(): number { return this.tci & 0x0fff }
  set vid(v: number) { this.tci = (this.tci & 0xf000) | (v & 0x0fff) }
  /** The EtherType (or next TPID) after this tag. */
  get etherType(): number { return (this.bytes[this.offset + VLAN_TYPE] << 8) | this.bytes[this.offset + VLAN_TYPE + 1] }
  set etherType(v: number) {
    this.bytes[this.offset + VLAN_TYPE] = (v >>> 8) & 0xff
    this.bytes[this.offset + VLAN_TYPE + 1] = v & 0xff
  }
}

export interface VlanTagRepr {
  /** TPID that introduced this tag (0x8100, 0x88a8, 0x9100). */
  tpid: number
  pcp: number
  dei: boolean
  vid: number
}
