// PacketDecoder: one reusable object that decodes a captured frame, link layer
// to TCP options, into flat fields (gopacket's DecodingLayerParser idea). Every
// decode() resets the fields and fills them again; nothing is allocated per
// packet on the common path — VLAN tags, IPv6 extension headers, SACK blocks,
// unknown options and anomalies go into arrays owned by the decoder, and
// addresses are kept as offsets and only formatted when asked for.
//
// Malformed input never throws. The decoder records a named anomaly (see
// anomaly.ts), stops at the damaged layer and keeps what it decoded above it.
// Fields of a layer that was not reached keep their reset values (-1 for
// offsets and ports, 0 otherwise); `ipHeaderLen > 0` and `l4HeaderLen > 0` say
// whether the IP and transport headers were decoded.
//
// Offsets are absolute indexes into `bytes` (which may be a larger buffer: see
// the `start` argument), so views (ipv4.ts, tcp.ts, …) and the rewrite engine
// can use them directly.
import type {Anomaly} from './anomaly.js'
import {formatIpv4, formatIpv6, formatMac} from './addr.js'
import {finishChecksum, fold16, pseudoHeaderSumV4, pseudoHeaderSumV6, sum16} from './checksum.js'
import {LINKTYPE, linkTypeName} from './linktype.js'
import {ipVersionOfFamily, readLoopFamily, readNullFamily} from './null.js'
import {OPTIONS_OK, resetTcpOptions, scanTcpOptions, TCP_MAX_SACK_BLOCKS, TCP_MAX_UNKNOWN_OPTIONS} from './tcp-options.js'
import type {TcpOptionsSink} from './tcp-options.js'
import {tcpFlagsString} from './tcp.js'

export type LinkKind = 'ethernet' | 'sll' | 'sll2' | 'null' | 'loop' | 'raw' | 'none'
export type NetworkKind = 'ipv4' | 'ipv6' | 'arp' | 'other' | 'none'
export type TransportKind = 'tcp' | 'udp' | 'icmp' | 'icmpv6' | 'other' | 'none'
/**
 * - 'good': verified correct.
 * - 'bad': verified wrong, and not the offload pattern.
 * - 'partial': wrong as a full checksum, but the field holds the folded
 *   pseudo-header sum (with or without the length, or its complement): the
 *   Linux CHECKSUM_PARTIAL pattern of a capture taken on the sending host
 *   before the NIC (or veth peer) filled it in. tshark calls these bad.
 * - 'unverified': could not be checked — segment not fully captured, an IP
 *   fragment, an IP length that cannot be trusted, or verification turned off.
 * - 'none': there is no checksum: no such layer, IPv6 (no header checksum),
 *   or UDP over IPv4 with checksum 0 (RFC 768: not computed).
 */
export type ChecksumStatus = 'good' | 'bad' | 'partial' | 'unverified' | 'none'

export interface DecoderOptions {
  /** Verify IPv4/TCP/UDP/ICMP checksums (sums every payload byte). Default true. */
  verifyChecksums?: boolean
}

const EMPTY = new Uint8Array(0)

/** Status is bad or partial: what tshark would call a bad checksum. */
export function isChecksumWrong(s: ChecksumStatus): boolean {
  return s === 'bad' || s === 'partial'
}

/** a and b are the same ones-complement number (0x0000 and 0xFFFF are both zero). */
function onesEq(a: number, b: number): boolean {
  return a === b || ((a === 0 || a === 0xffff) && (b === 0 || b === 0xffff))
}

export class PacketDecoder implements TcpOptionsSink {
  verifyChecksums: boolean

  // ---- input ----
  bytes: Uint8Array = EMPTY
  linkType = -1
  /** Captured length actually usable: min(capLen, bytes.length - start). */
  capLen = 0
  origLen = 0
  /** Index of the frame's first byte in bytes. */
  start = 0
  /** start + capLen: nothing at or past this index belongs to the frame. */
  end = 0
  /** capLen < origLen: the capture kept only part of the frame. */
  snaplenTruncated = false

  // ---- link layer ----
  linkKind: LinkKind = 'none'
  /** Bytes from start to the network header, VLAN tags included (-1 when not reached). */
  linkHeaderLen = -1
  /** Ethernet destination / source MAC offsets, -1 when there is no Ethernet header. */
  ethDstOffset = -1
  ethSrcOffset = -1
  /** SLL/SLL2 link-layer address (the sender's) offset and length, -1/0 when absent. */
  linkAddrOffset = -1
  linkAddrLen = 0
  /** SLL/SLL2 packet type (0 to-us … 4 outgoing), -1 when not SLL. */
  sllPacketType = -1
  /** SLL/SLL2 ARPHRD_ type, -1 when not SLL. */
  sllHaType = -1
  /** SLL2 interface index, -1 otherwise. */
  sllIfIndex = -1
  /** NULL/LOOP address family, -1 otherwise. */
  nullFamily = -1
  vlanCount = 0
  /** Per tag, outermost first; valid for indexes < vlanCount. */
  vlanTpids: number[] = []
  vlanVids: number[] = []
  vlanPcps: number[] = []
  vlanDeis: boolean[] = []
  /** EtherType of the network layer (after VLAN tags; SLL protocol; synthesised 0x0800/0x86dd for raw/NULL), -1 if none. */
  etherType = -1

  // ---- network layer ----
  network: NetworkKind = 'none'
  ipOffset = -1
  /** 4 or 6 once the IP header validated, else 0. */
  ipVersion = 0
  /** IPv4 IHL*4, or 40 + all IPv6 extension headers walked; 0 when the header was not decoded. */
  ipHeaderLen = 0
  /** Datagram length the header declares (IPv4 total length; IPv6 40 + payload length). */
  ipTotalLen = 0
  /** End of the datagram inside the capture: min(ipOffset + ipTotalLen, end) (Ethernet padding excluded). */
  ipEnd = -1
  ipSrcOffset = -1
  ipDstOffset = -1
  /** TTL / hop limit. */
  ttl = 0
  /** IPv4 TOS byte / IPv6 traffic class. */
  tos = 0
  ipv4Id = 0
  /** The 3 IPv4 flag bits: 4 reserved, 2 DF, 1 MF. */
  ipv4Flags = 0
  /** Fragment offset in bytes (IPv4 or IPv6 fragment header). */
  fragOffset = 0
  moreFragments = false
  /** MF set or offset != 0 (IPv4), or a non-atomic IPv6 fragment header. */
  isFragment = false
  /** IPv6 fragment header with offset 0 and M clear (RFC 6946). */
  ipv6AtomicFragment = false
  /** Fragment identification (IPv6 fragment header), -1 when none. */
  ipv6FragId = -1
  ipv6FlowLabel = 0
  ipv6ExtCount = 0
  /** Per extension header in order: Next Header value that introduced it, offset, length in bytes. */
  ipv6ExtTypes: number[] = []
  ipv6ExtOffsets: number[] = []
  ipv6ExtLens: number[] = []
  /** Upper-layer protocol number (after IPv6 extension headers), -1 when not reached. */
  proto = -1
  /** IPv4 header checksum field as captured. */
  ipChecksum = 0
  ipChecksumStatus: ChecksumStatus = 'none'
  /** The header checksum that would be correct, -1 unless ipChecksumStatus is 'bad'. */
  ipChecksumExpected = -1

  // ---- transport layer ----
  transport: TransportKind = 'none'
  l4Offset = -1
  /** Transport header length decoded (TCP data offset * 4, UDP 8, ICMP 4); 0 when not decoded. */
  l4HeaderLen = 0
  /** Segment length from the IP header (transport header + payload on the wire). */
  l4Len = 0
  srcPort = -1
  dstPort = -1
  seq = 0
  ack = 0
  /** The 8 TCP flag bits (CWR ECE URG ACK PSH RST SYN FIN). */
  tcpFlags = 0
  window = 0
  urgent = 0
  /** TCP data offset in 32-bit words as in the header (header length = dataOffset * 4). */
  dataOffset = 0
  // TCP options (TcpOptionsSink)
  mss = -1
  wscale = -1
  sackPermitted = false
  sackCount = 0
  sackEdges = new Uint32Array(2 * TCP_MAX_SACK_BLOCKS)
  sackOffsets = new Int32Array(TCP_MAX_SACK_BLOCKS)
  hasTimestamp = false
  tsVal = 0
  tsEcr = 0
  tsOffset = -1
  unknownOptCount = 0
  unknownOptKinds = new Uint8Array(TCP_MAX_UNKNOWN_OPTIONS)
  unknownOptOffsets = new Int32Array(TCP_MAX_UNKNOWN_OPTIONS)
  unknownOptLens = new Uint8Array(TCP_MAX_UNKNOWN_OPTIONS)
  /** UDP length field, -1 when not UDP. */
  udpLength = -1
  icmpType = -1
  icmpCode = -1
  /** Transport checksum field as captured. */
  l4Checksum = 0
  l4ChecksumStatus: ChecksumStatus = 'none'
  /** The checksum that would be correct, -1 unless the status is 'bad' or 'partial'. */
  l4ChecksumExpected = -1
  /** First payload byte (after TCP/UDP/ICMP header), -1 when not reached. */
  payloadOffset = -1
  /** Payload bytes present in the capture. */
  payloadLen = 0
  /** Payload bytes on the wire according to the IP length. */
  payloadWireLen = 0
  /** payloadLen < payloadWireLen. */
  payloadTruncated = false
  // What verifyNow() needs to check a transport checksum that decode() left
  // unverified because verifyChecksums was off: set by checkL4, -1 when none.
  private l4CsumOff = -1
  private l4CsumProto = 0
  private l4CsumPseudo = false

  // ---- anomalies ----
  /** Named anomalies of this packet, in the order found; valid for indexes < anomalyCount. */
  anomalies: Anomaly[] = []
  anomalyCount = 0

  constructor(opts: DecoderOptions = {}) {
    this.verifyChecksums = opts.verifyChecksums ?? true
  }

  private reset(): void {
    this.linkKind = 'none'
    this.linkHeaderLen = -1
    this.ethDstOffset = -1
    this.ethSrcOffset = -1
    this.linkAddrOffset = -1
    this.linkAddrLen = 0
    this.sllPacketType = -1
    this.sllHaType = -1
    this.sllIfIndex = -1
    this.nullFamily = -1
    this.vlanCount = 0
    this.etherType = -1
    this.network = 'none'
    this.ipOffset = -1
    this.ipVersion = 0
    this.ipHeaderLen = 0
    this.ipTotalLen = 0
    this.ipEnd = -1
    this.ipSrcOffset = -1
    this.ipDstOffset = -1
    this.ttl = 0
    this.tos = 0
    this.ipv4Id = 0
    this.ipv4Flags = 0
    this.fragOffset = 0
    this.moreFragments = false
    this.isFragment = false
    this.ipv6AtomicFragment = false
    this.ipv6FragId = -1
    this.ipv6FlowLabel = 0
    this.ipv6ExtCount = 0
    this.proto = -1
    this.ipChecksum = 0
    this.ipChecksumStatus = 'none'
    this.ipChecksumExpected = -1
    this.transport = 'none'
    this.l4Offset = -1
    this.l4HeaderLen = 0
    this.l4Len = 0
    this.srcPort = -1
    this.dstPort = -1
    this.seq = 0
    this.ack = 0
    this.tcpFlags = 0
    this.window = 0
    this.urgent = 0
    this.dataOffset = 0
    resetTcpOptions(this)
    this.udpLength = -1
    this.icmpType = -1
    this.icmpCode = -1
    this.l4Checksum = 0
    this.l4ChecksumStatus = 'none'
    this.l4ChecksumExpected = -1
    this.payloadOffset = -1
    this.payloadLen = 0
    this.payloadWireLen = 0
    this.payloadTruncated = false
    this.l4CsumOff = -1
    this.anomalyCount = 0
  }

  private flag(a: Anomaly): void {
    this.anomalies[this.anomalyCount++] = a
  }

  /**
   * Decodes one frame. bytes[start, start + capLen) is the captured data
   * (clamped to bytes.length); origLen is the length on the wire. Returns this.
   */
  decode(linkType: number, bytes: Uint8Array, capLen: number, origLen: number, start = 0): this {
    this.reset()
    this.bytes = bytes
    this.linkType = linkType
    this.start = start
    const avail = bytes.length - start
    this.capLen = capLen < avail ? (capLen > 0 ? capLen : 0) : avail > 0 ? avail : 0
    this.end = start + this.capLen
    this.origLen = origLen
    this.snaplenTruncated = this.capLen < origLen
    const b = bytes
    const end = this.end
    let o = start
    switch (linkType) {
      case LINKTYPE.ETHERNET:
        this.linkKind = 'ethernet'
        if (end - o < 14) { this.flag('truncated-ethernet'); return this }
        this.ethDstOffset = o
        this.ethSrcOffset = o + 6
        this.decodeEtherType(o + 12)
        return this
      case LINKTYPE.LINUX_SLL:
        this.linkKind = 'sll'
        if (end - o < 16) { this.flag('truncated-link-header'); return this }
        this.sllPacketType = (b[o] << 8) | b[o + 1]
        this.sllHaType = (b[o + 2] << 8) | b[o + 3]
        this.linkAddrOffset = o + 6
        this.linkAddrLen = Math.min(8, (b[o + 4] << 8) | b[o + 5])
        this.decodeEtherType(o + 14)
        return this
      case LINKTYPE.LINUX_SLL2:
        this.linkKind = 'sll2'
        if (end - o < 20) { this.flag('truncated-link-header'); return this }
        this.sllIfIndex = ((b[o + 4] << 24) | (b[o + 5] << 16) | (b[o + 6] << 8) | b[o + 7]) >>> 0
        this.sllHaType = (b[o + 8] << 8) | b[o + 9]
        this.sllPacketType = b[o + 10]
        this.linkAddrOffset = o + 12
        this.linkAddrLen = Math.min(8, b[o + 11])
        // The protocol sits at the front, but the payload starts after 20 bytes:
        // decodeEtherType reads the type at typeOff and continues at typeOff + 2.
        this.decodeEtherTypeAt(o, o + 20)
        return this
      case LINKTYPE.NULL:
      case LINKTYPE.LOOP: {
        this.linkKind = linkType === LINKTYPE.NULL ? 'null' : 'loop'
        if (end - o < 4) { this.flag('truncated-link-header'); return this }
        const fam = linkType === LINKTYPE.NULL ? readNullFamily(b, o) : readLoopFamily(b, o)
        this.nullFamily = fam
        const v = ipVersionOfFamily(fam)
        this.linkHeaderLen = 4
        if (v === 0) { this.network = 'other'; this.flag('unknown-null-family'); return this }
        this.etherType = v === 4 ? 0x0800 : 0x86dd
        this.decodeIp(o + 4, v)
        return this
      }
      case LINKTYPE.RAW:
      case LINKTYPE.DLT_RAW_12:
      case LINKTYPE.DLT_RAW_14:
        this.linkKind = 'raw'
        this.linkHeaderLen = 0
        if (end - o < 1) { this.flag('truncated-ip-header'); return this }
        {
          const v = b[o] >> 4
          if (v !== 4 && v !== 6) { this.flag('bad-ip-version'); return this }
          this.etherType = v === 4 ? 0x0800 : 0x86dd
          this.decodeIp(o, v)
        }
        return this
      case LINKTYPE.IPV4:
        this.linkKind = 'raw'
        this.linkHeaderLen = 0
        this.etherType = 0x0800
        this.decodeIp(o, 4)
        return this
      case LINKTYPE.IPV6:
        this.linkKind = 'raw'
        this.linkHeaderLen = 0
        this.etherType = 0x86dd
        this.decodeIp(o, 6)
        return this
      default:
        this.flag('unsupported-link-type')
        return this
    }
  }

  private decodeEtherType(typeOff: number): void {
    this.decodeEtherTypeAt(typeOff, typeOff + 2)
  }

  /** Reads the EtherType at typeOff; the payload starts at next. Walks any VLAN tags. */
  private decodeEtherTypeAt(typeOff: number, next: number): void {
    const b = this.bytes
    const end = this.end
    let et = (b[typeOff] << 8) | b[typeOff + 1]
    let o = next
    // 802.1Q / 802.1ad / 0x9100 tags, any number: TCI(2) + next type(2) each.
    while (et === 0x8100 || et === 0x88a8 || et === 0x9100) {
      if (end - o < 4) { this.flag('truncated-vlan'); return }
      const k = this.vlanCount++
      this.vlanTpids[k] = et
      this.vlanPcps[k] = b[o] >> 5
      this.vlanDeis[k] = (b[o] & 0x10) !== 0
      this.vlanVids[k] = ((b[o] & 15) << 8) | b[o + 1]
      et = (b[o + 2] << 8) | b[o + 3]
      o += 4
    }
    this.etherType = et
    this.linkHeaderLen = o - this.start
    if (et === 0x0800) this.decodeIp(o, 4)
    else if (et === 0x86dd) this.decodeIp(o, 6)
    else if (et === 0x0806) this.network = 'arp'
    else this.network = 'other'
  }

  /** version: what the link layer announced (4 or 6). */
  private decodeIp(o: number, version: number): void {
    const b = this.bytes
    const end = this.end
    this.network = version === 4 ? 'ipv4' : 'ipv6'
    this.ipOffset = o
    if (end - o < (version === 4 ? 20 : 40)) {
      // One byte is enough to tell a wrong version from a short header.
      if (end > o && b[o] >> 4 !== version) this.flag('bad-ip-version')
      else this.flag('truncated-ip-header')
      return
    }
    if (b[o] >> 4 !== version) { this.flag('bad-ip-version'); return }
    let declaredEnd: number
    let l4: number
    let proto: number
    if (version === 4) {
      const hl = (b[o] & 15) * 4
      if (hl < 20) { this.flag('bad-ip-header-length'); return }
      if (hl > end - o) { this.flag('truncated-ip-header'); return }
      this.ipVersion = 4
      this.ipHeaderLen = hl
      this.tos = b[o + 1]
      const total = (b[o + 2] << 8) | b[o + 3]
      this.ipTotalLen = total
      this.ipv4Id = (b[o + 4] << 8) | b[o + 5]
      this.ipv4Flags = b[o + 6] >> 5
      this.moreFragments = (b[o + 6] & 0x20) !== 0
      this.fragOffset = (((b[o + 6] & 0x1f) << 8) | b[o + 7]) * 8
      this.isFragment = this.moreFragments || this.fragOffset !== 0
      this.ttl = b[o + 8]
      proto = b[o + 9]
      this.proto = proto
      this.ipChecksum = (b[o + 10] << 8) | b[o + 11]
      this.ipSrcOffset = o + 12
      this.ipDstOffset = o + 16
      if (this.verifyChecksums) this.checkIpv4(o, hl)
      else this.ipChecksumStatus = 'unverified'
      if (total === 0 && end - o > hl) {
        // TSO/GSO super-packets are often captured with total length 0. The
        // datagram then ends where the frame did on the wire (a super-packet is
        // never padded): past the capture when the snap length cut it, so its
        // checksum is not summed over the part that was kept.
        this.flag('ip-total-length-zero')
        const wireEnd = this.start + this.origLen
        declaredEnd = this.snaplenTruncated && wireEnd > end ? wireEnd : end
        this.ipTotalLen = declaredEnd - o
      } else if (total < hl) {
        this.flag('bad-ip-total-length')
        this.ipEnd = Math.min(o + hl, end)
        return
      } else declaredEnd = o + total
      l4 = o + hl
    } else {
      this.ipVersion = 6
      this.tos = ((b[o] & 15) << 4) | (b[o + 1] >> 4)
      this.ipv6FlowLabel = ((b[o + 1] & 15) << 16) | (b[o + 2] << 8) | b[o + 3]
      const plen = (b[o + 4] << 8) | b[o + 5]
      proto = b[o + 6]
      this.ttl = b[o + 7]
      this.ipSrcOffset = o + 8
      this.ipDstOffset = o + 24
      this.ipTotalLen = 40 + plen
      declaredEnd = o + 40 + plen
      if (plen === 0 && proto === 0) {
        // RFC 2675 jumbogram: the real length is in a hop-by-hop option.
        this.flag('ipv6-jumbogram')
        declaredEnd = end
        this.ipTotalLen = end - o
      }
      l4 = o + 40
    }
    // Where the datagram ends inside the capture.
    let ipEnd = declaredEnd
    let lengthTrusted = true
    if (declaredEnd > end) {
      ipEnd = end
      if (this.snaplenTruncated) this.flag('snaplen-truncated')
      else { this.flag('ip-total-length-exceeds-capture'); lengthTrusted = false }
    }
    this.ipEnd = ipEnd
    if (version === 6) {
      // Walk the extension header chain to the upper layer.
      this.ipHeaderLen = 40
      while (proto === 0 || proto === 43 || proto === 44 || proto === 60 || proto === 51) {
        // Need the length byte (the whole 8 bytes for a fragment header) first.
        const need = proto === 44 ? 8 : 2
        if (l4 + need > ipEnd) {
          this.flag(l4 + need > declaredEnd ? 'bad-ipv6-ext-header-length' : 'truncated-ipv6-ext-header')
          this.proto = proto
          this.ipHeaderLen = l4 - o
          return
        }
        const len = proto === 44 ? 8 : proto === 51 ? (b[l4 + 1] + 2) * 4 : (b[l4 + 1] + 1) * 8
        if (l4 + len > ipEnd) {
          this.flag(l4 + len > declaredEnd ? 'bad-ipv6-ext-header-length' : 'truncated-ipv6-ext-header')
          this.proto = proto
          this.ipHeaderLen = l4 - o
          return
        }
        const k = this.ipv6ExtCount++
        this.ipv6ExtTypes[k] = proto
        this.ipv6ExtOffsets[k] = l4
        this.ipv6ExtLens[k] = len
        if (proto === 44) {
          this.fragOffset = ((b[l4 + 2] << 8) | b[l4 + 3]) & 0xfff8
          this.moreFragments = (b[l4 + 3] & 1) !== 0
          this.ipv6FragId = ((b[l4 + 4] << 24) | (b[l4 + 5] << 16) | (b[l4 + 6] << 8) | b[l4 + 7]) >>> 0
          if (this.fragOffset === 0 && !this.moreFragments) this.ipv6AtomicFragment = true
          else this.isFragment = true
        }
        proto = b[l4]
        l4 += len
      }
      this.proto = proto
      this.ipHeaderLen = l4 - o
    }
    this.l4Offset = l4
    this.l4Len = declaredEnd - l4
    if (this.isFragment) {
      this.flag('ip-fragment')
      if (this.fragOffset !== 0) {
        // Not the first piece: there is no transport header here.
        this.transport = 'none'
        this.payloadOffset = l4
        this.payloadWireLen = this.l4Len
        this.payloadLen = ipEnd - l4
        this.payloadTruncated = this.payloadLen < this.payloadWireLen
        return
      }
    }
    switch (proto) {
      case 6: this.decodeTcp(l4, ipEnd, lengthTrusted); break
      case 17: this.decodeUdp(l4, ipEnd, lengthTrusted); break
      case 1: this.decodeIcmp(l4, ipEnd, lengthTrusted, 'icmp'); break
      case 58: this.decodeIcmp(l4, ipEnd, lengthTrusted, 'icmpv6'); break
      case 59: this.transport = 'none'; break
      default:
        this.transport = 'other'
        this.payloadOffset = l4
        this.payloadWireLen = this.l4Len
        this.payloadLen = ipEnd - l4
        this.payloadTruncated = this.payloadLen < this.payloadWireLen
    }
  }

  /** Unfolded pseudo-header sum for the current packet and upper-layer length. */
  private pseudoSum(proto: number, len: number): number {
    return this.ipVersion === 4
      ? pseudoHeaderSumV4(this.bytes, this.ipSrcOffset, this.ipDstOffset, proto, len)
      : pseudoHeaderSumV6(this.bytes, this.ipSrcOffset, this.pseudoDstOffset(), proto, len)
  }

  /**
   * IPv6 pseudo-header destination: the final destination, which is the last
   * address of a type 0/2 routing header or segment 0 of a segment routing
   * header (type 4) when segments are left (RFC 8200 §8.1).
   */
  private pseudoDstOffset(): number {
    const b = this.bytes
    for (let k = 0; k < this.ipv6ExtCount; k++) {
      if (this.ipv6ExtTypes[k] !== 43) continue
      const r = this.ipv6ExtOffsets[k]
      const type = b[r + 2], left = b[r + 3], n = b[r + 1] >> 1
      if (left === 0 || n === 0) continue
      if (type === 0 || type === 2) return r + 8 + 16 * (n - 1)
      if (type === 4) return r + 8
    }
    return this.ipDstOffset
  }

  /**
   * Sets the transport checksum status for a segment [l4, l4 + l4Len) fully captured. payloadSum ≥ 0: the
   * payload's sum, given (verifyNow's); its header is then summed alone.
   */
  private checkL4(l4: number, csumOff: number, proto: number, withPseudo: boolean, verifiable: boolean, payloadSum = -1): void {
    const b = this.bytes
    const field = (b[csumOff] << 8) | b[csumOff + 1]
    this.l4Checksum = field
    if (!this.verifyChecksums || !verifiable) {
      this.l4ChecksumStatus = 'unverified'
      if (verifiable) { this.l4CsumOff = csumOff; this.l4CsumProto = proto; this.l4CsumPseudo = withPseudo }
      return
    }
    const len = this.l4Len
    const ph = withPseudo ? this.pseudoSum(proto, len) : 0
    // The header's length is even (a multiple of 4 for TCP), so the payload's sum chains after it.
    const s = payloadSum >= 0 && this.payloadOffset + this.payloadLen === l4 + len
      ? sum16(b, l4, this.payloadOffset, ph) + payloadSum
      : sum16(b, l4, l4 + len, ph)
    if (fold16(s) === 0xffff) { this.l4ChecksumStatus = 'good'; return }
    let expected = finishChecksum(s + (~field & 0xffff))
    if (proto === 17 && expected === 0) expected = 0xffff
    this.l4ChecksumExpected = expected
    if (withPseudo) {
      // CHECKSUM_PARTIAL: the stack stored the pseudo-header sum and left the
      // rest to the NIC. Linux folds it with the length; some drivers/TSO paths
      // store it without; a few store the complement.
      const p1 = fold16(ph)
      const p0 = fold16(ph - (len & 0xffff) - (len >>> 16))
      if (onesEq(field, p1) || onesEq(field, p0) || onesEq(field, ~p1 & 0xffff) || onesEq(field, ~p0 & 0xffff)) {
        this.l4ChecksumStatus = 'partial'
        return
      }
    }
    this.l4ChecksumStatus = 'bad'
  }

  private decodeTcp(l4: number, ipEnd: number, lengthTrusted: boolean): void {
    const b = this.bytes
    this.transport = 'tcp'
    const avail = ipEnd - l4
    if (avail < 20) {
      // A first fragment may simply end inside the header: that is 'ip-fragment', not damage.
      if (!this.isFragment) this.flag('truncated-tcp-header')
      return
    }
    this.srcPort = (b[l4] << 8) | b[l4 + 1]
    this.dstPort = (b[l4 + 2] << 8) | b[l4 + 3]
    this.seq = ((b[l4 + 4] << 24) | (b[l4 + 5] << 16) | (b[l4 + 6] << 8) | b[l4 + 7]) >>> 0
    this.ack = ((b[l4 + 8] << 24) | (b[l4 + 9] << 16) | (b[l4 + 10] << 8) | b[l4 + 11]) >>> 0
    const doff = b[l4 + 12] >> 4
    this.dataOffset = doff
    this.tcpFlags = b[l4 + 13]
    this.window = (b[l4 + 14] << 8) | b[l4 + 15]
    this.l4Checksum = (b[l4 + 16] << 8) | b[l4 + 17]
    this.urgent = (b[l4 + 18] << 8) | b[l4 + 19]
    const hl = doff * 4
    if (hl < 20 || (lengthTrusted && hl > this.l4Len)) { this.flag('bad-tcp-data-offset'); return }
    if (hl > avail) {
      if (!this.isFragment) this.flag('truncated-tcp-header')
      this.l4ChecksumStatus = 'unverified'
      // Cut by the snap length inside the options (tcpdump -s 68 on a SYN): the
      // segment's payload length is still known from the IP header.
      if (this.snaplenTruncated && lengthTrusted && !this.isFragment) this.payloadWireLen = this.l4Len - hl
      // Keep the options that were captured before the cut (as tshark does);
      // an option cut in half is part of the truncation already flagged.
      if (avail > 20) scanTcpOptions(b, l4 + 20, ipEnd, this)
      return
    }
    this.l4HeaderLen = hl
    if (hl > 20 && scanTcpOptions(b, l4 + 20, l4 + hl, this) !== OPTIONS_OK) this.flag('bad-tcp-option-length')
    this.payloadOffset = l4 + hl
    this.payloadWireLen = this.l4Len - hl
    this.payloadLen = ipEnd - (l4 + hl)
    this.payloadTruncated = this.payloadLen < this.payloadWireLen
    this.checkL4(l4, l4 + 16, 6, true, lengthTrusted && !this.isFragment && !this.payloadTruncated)
  }

  private decodeUdp(l4: number, ipEnd: number, lengthTrusted: boolean): void {
    const b = this.bytes
    this.transport = 'udp'
    if (ipEnd - l4 < 8) {
      if (!this.isFragment) this.flag('truncated-udp-header')
      return
    }
    this.srcPort = (b[l4] << 8) | b[l4 + 1]
    this.dstPort = (b[l4 + 2] << 8) | b[l4 + 3]
    const ulen = (b[l4 + 4] << 8) | b[l4 + 5]
    this.udpLength = ulen
    this.l4Checksum = (b[l4 + 6] << 8) | b[l4 + 7]
    this.l4HeaderLen = 8
    this.payloadOffset = l4 + 8
    let verifiable = lengthTrusted && !this.isFragment
    if (!this.isFragment && (ulen < 8 || (lengthTrusted && ulen > this.l4Len))) {
      this.flag('bad-udp-length')
      verifiable = false
    }
    this.payloadWireLen = this.l4Len - 8
    this.payloadLen = ipEnd - (l4 + 8)
    this.payloadTruncated = this.payloadLen < this.payloadWireLen
    if (this.payloadTruncated) verifiable = false
    if (this.l4Checksum === 0 && this.ipVersion === 4) { this.l4ChecksumStatus = 'none'; return }
    this.checkL4(l4, l4 + 6, 17, true, verifiable)
  }

  private decodeIcmp(l4: number, ipEnd: number, lengthTrusted: boolean, kind: 'icmp' | 'icmpv6'): void {
    const b = this.bytes
    this.transport = kind
    if (ipEnd - l4 < 4) {
      if (!this.isFragment) this.flag('truncated-icmp-header')
      return
    }
    this.icmpType = b[l4]
    this.icmpCode = b[l4 + 1]
    this.l4HeaderLen = 4
    this.payloadOffset = l4 + 4
    this.payloadWireLen = this.l4Len - 4
    this.payloadLen = ipEnd - (l4 + 4)
    this.payloadTruncated = this.payloadLen < this.payloadWireLen
    this.checkL4(l4, l4 + 2, kind === 'icmp' ? 1 : 58, kind === 'icmpv6',
      lengthTrusted && !this.isFragment && !this.payloadTruncated)
  }

  /**
   * Verifies the checksums of the packet just decoded as decode() would have
   * with verifyChecksums on: lets a reader decode everything without summing
   * payloads and pay for the sums only on the packets it keeps. No-op when
   * they were verified already. payloadSum: the unfolded ones-complement sum
   * of the payload [payloadOffset, payloadOffset + payloadLen), when the
   * caller has it (correlate/payload-hash.ts's, from its own walk over the
   * payload): the payload is then not read again.
   */
  verifyNow(payloadSum = -1): void {
    if (this.verifyChecksums) return
    if (this.ipVersion === 4 && this.ipChecksumStatus === 'unverified') this.checkIpv4(this.ipOffset, this.ipHeaderLen)
    if (this.l4CsumOff >= 0) {
      const off = this.l4CsumOff
      this.l4CsumOff = -1
      this.verifyChecksums = true
      this.checkL4(this.l4Offset, off, this.l4CsumProto, this.l4CsumPseudo, true, payloadSum)
      this.verifyChecksums = false
    }
  }

  /** IPv4 header checksum status of the header [o, o + hl). */
  private checkIpv4(o: number, hl: number): void {
    const b = this.bytes
    if (fold16(sum16(b, o, o + hl)) === 0xffff) this.ipChecksumStatus = 'good'
    else {
      this.ipChecksumStatus = 'bad'
      this.ipChecksumExpected = finishChecksum(sum16(b, o + 12, o + hl, sum16(b, o, o + 10)))
    }
  }

  // ---- lazy formatting and helpers (these may allocate) ----

  /** Source IP address (dotted IPv4 / RFC 5952 IPv6), '' when there is none. */
  srcAddr(): string {
    if (this.ipSrcOffset < 0) return ''
    return this.ipVersion === 6 || this.network === 'ipv6'
      ? formatIpv6(this.bytes, this.ipSrcOffset)
      : formatIpv4(this.bytes, this.ipSrcOffset)
  }

  dstAddr(): string {
    if (this.ipDstOffset < 0) return ''
    return this.ipVersion === 6 || this.network === 'ipv6'
      ? formatIpv6(this.bytes, this.ipDstOffset)
      : formatIpv4(this.bytes, this.ipDstOffset)
  }

  /** Ethernet source MAC, '' when there is no Ethernet header. */
  ethSrc(): string { return this.ethSrcOffset < 0 ? '' : formatMac(this.bytes, this.ethSrcOffset) }
  ethDst(): string { return this.ethDstOffset < 0 ? '' : formatMac(this.bytes, this.ethDstOffset) }
  /** SLL/SLL2 sender link address, '' when absent. */
  linkAddr(): string { return this.linkAddrOffset < 0 ? '' : formatMac(this.bytes, this.linkAddrOffset, this.linkAddrLen) }
  linkTypeName(): string { return linkTypeName(this.linkType) }
  /** tcpdump-style flags ('S', 'S.', 'P.', 'F.', 'R', 'none'); no allocation. */
  flagsString(): string { return tcpFlagsString(this.tcpFlags) }
  sackLeft(i: number): number { return this.sackEdges[2 * i] }
  sackRight(i: number): number { return this.sackEdges[2 * i + 1] }
  hasAnomaly(a: Anomaly): boolean {
    for (let i = 0; i < this.anomalyCount; i++) if (this.anomalies[i] === a) return true
    return false
  }
  /** The transport checksum is wrong (bad or partial), as tshark would report it. */
  l4ChecksumWrong(): boolean { return isChecksumWrong(this.l4ChecksumStatus) }
  /** Wrong only because of sender-side offload (CHECKSUM_PARTIAL pattern). */
  l4ChecksumLooksOffloaded(): boolean { return this.l4ChecksumStatus === 'partial' }

  /** A plain snapshot of every field (allocates: for tests, `inspect`, JSON output). */
  toJSON(): DecodedPacket {
    const n = this.anomalyCount
    return {
      linkType: this.linkType,
      linkTypeName: this.linkTypeName(),
      capLen: this.capLen,
      origLen: this.origLen,
      snaplenTruncated: this.snaplenTruncated,
      linkKind: this.linkKind,
      linkHeaderLen: this.linkHeaderLen,
      ethSrc: this.ethSrc(),
      ethDst: this.ethDst(),
      linkAddr: this.linkAddr(),
      sllPacketType: this.sllPacketType,
      sllHaType: this.sllHaType,
      sllIfIndex: this.sllIfIndex,
      nullFamily: this.nullFamily,
      vlans: Array.from({length: this.vlanCount}, (_, i) => ({
        tpid: this.vlanTpids[i], pcp: this.vlanPcps[i], dei: this.vlanDeis[i], vid: this.vlanVids[i],
      })),
      etherType: this.etherType,
      network: this.network,
      ipOffset: this.ipOffset,
      ipVersion: this.ipVersion,
      ipHeaderLen: this.ipHeaderLen,
      ipTotalLen: this.ipTotalLen,
      src: this.srcAddr(),
      dst: this.dstAddr(),
      ttl: this.ttl,
      tos: this.tos,
      ipv4Id: this.ipv4Id,
      ipv4Flags: this.ipv4Flags,
      fragOffset: this.fragOffset,
      moreFragments: this.moreFragments,
      isFragment: this.isFragment,
      ipv6AtomicFragment: this.ipv6AtomicFragment,
      ipv6FragId: this.ipv6FragId,
      ipv6FlowLabel: this.ipv6FlowLabel,
      ipv6Ext: Array.from({length: this.ipv6ExtCount}, (_, i) => ({
        type: this.ipv6ExtTypes[i], offset: this.ipv6ExtOffsets[i], len: this.ipv6ExtLens[i],
      })),
      proto: this.proto,
      ipChecksum: this.ipChecksum,
      ipChecksumStatus: this.ipChecksumStatus,
      transport: this.transport,
      l4Offset: this.l4Offset,
      l4HeaderLen: this.l4HeaderLen,
      l4Len: this.l4Len,
      srcPort: this.srcPort,
      dstPort: this.dstPort,
      seq: this.seq,
      ack: this.ack,
      tcpFlags: this.tcpFlags,
      flags: this.flagsString(),
      window: this.window,
      urgent: this.urgent,
      dataOffset: this.dataOffset,
      mss: this.mss,
      wscale: this.wscale,
      sackPermitted: this.sackPermitted,
      sack: Array.from({length: this.sackCount}, (_, i) => [this.sackEdges[2 * i], this.sackEdges[2 * i + 1]] as [number, number]),
      hasTimestamp: this.hasTimestamp,
      tsVal: this.tsVal,
      tsEcr: this.tsEcr,
      unknownOptions: Array.from({length: this.unknownOptCount}, (_, i) => ({
        kind: this.unknownOptKinds[i], offset: this.unknownOptOffsets[i], len: this.unknownOptLens[i],
      })),
      udpLength: this.udpLength,
      icmpType: this.icmpType,
      icmpCode: this.icmpCode,
      l4Checksum: this.l4Checksum,
      l4ChecksumStatus: this.l4ChecksumStatus,
      payloadOffset: this.payloadOffset,
      payloadLen: this.payloadLen,
      payloadWireLen: this.payloadWireLen,
      payloadTruncated: this.payloadTruncated,
      anomalies: this.anomalies.slice(0, n),
    }
  }
}

/** What PacketDecoder.toJSON() returns. */
export interface DecodedPacket {
  linkType: number
  linkTypeName: string
  capLen: number
  origLen: number
  snaplenTruncated: boolean
  linkKind: LinkKind
  linkHeaderLen: number
  ethSrc: string
  ethDst: string
  linkAddr: string
  sllPacketType: number
  sllHaType: number
  sllIfIndex: number
  nullFamily: number
  vlans: Array<{tpid: number; pcp: number; dei: boolean; vid: number}>
  etherType: number
  network: NetworkKind
  ipOffset: number
  ipVersion: number
  ipHeaderLen: number
  ipTotalLen: number
  src: string
  dst: string
  ttl: number
  tos: number
  ipv4Id: number
  ipv4Flags: number
  fragOffset: number
  moreFragments: boolean
  isFragment: boolean
  ipv6AtomicFragment: boolean
  ipv6FragId: number
  ipv6FlowLabel: number
  ipv6Ext: Array<{type: number; offset: number; len: number}>
  proto: number
  ipChecksum: number
  ipChecksumStatus: ChecksumStatus
  transport: TransportKind
  l4Offset: number
  l4HeaderLen: number
  l4Len: number
  srcPort: number
  dstPort: number
  seq: number
  ack: number
  tcpFlags: number
  flags: string
  window: number
  urgent: number
  dataOffset: number
  mss: number
  wscale: number
  sackPermitted: boolean
  sack: Array<[number, number]>
  hasTimestamp: boolean
  tsVal: number
  tsEcr: number
  unknownOptions: Array<{kind: number; offset: number; len: number}>
  udpLength: number
  icmpType: number
  icmpCode: number
  l4Checksum: number
  l4ChecksumStatus: ChecksumStatus
  payloadOffset: number
  payloadLen: number
  payloadWireLen: number
  payloadTruncated: boolean
  anomalies: Anomaly[]
}
