// What capinfos and `tcpdump -r` would tell about one capture file, gathered
// in one streaming pass: format, sections, interfaces, counts, time span,
// protocol mix, conversations, checksum failures and anomalies. Memory grows
// with the number of conversations and interfaces, not with the file.
import type {CaptureInterface, FileInfo, PacketRecord} from '../capture/types.js'
import {ConversationTable, type Conversation} from '../flows/conversations.js'
import type {ChecksumStatus, PacketDecoder} from '../wire/decode.js'
import {linkTypeName} from '../wire/linktype.js'
import {formatIso, tsBefore, tsDiff} from './timestamp.js'

export interface InterfaceSummary {
  id: number
  section: number
  linkType: number
  linkTypeName: string
  snapLen: number
  name?: string
  description?: string
  tsResolution: string
  packets: number
  bytes: number
}

export interface ProtocolCount {
  protocol: string
  packets: number
  bytes: number
}

export interface ChecksumCounts {
  good: number
  bad: number
  /** Wrong only in the sender-side offload pattern (CHECKSUM_PARTIAL): not corruption. */
  partial: number
  unverified: number
  /** Frame numbers of the first bad ones (not 'partial'), at most 20. */
  badFrames: number[]
}

export interface AnomalyCount {
  anomaly: string
  packets: number
  firstFrame: number
}

export interface InspectReport {
  file: string
  format: string
  byteOrder: string
  gzip: boolean
  version: string
  sections: number
  comments: string[]
  application?: string
  interfaces: InterfaceSummary[]
  packets: number
  /** Captured bytes (sum of caplen). */
  capturedBytes: number
  /** Bytes on the wire (sum of origlen). */
  wireBytes: number
  /** Packets with caplen < origlen. */
  snaplenTruncated: number
  first: string | null
  last: string | null
  durationSec: number
  /** Packets without a timestamp (pcapng Simple Packet Blocks). */
  untimed: number
  protocols: ProtocolCount[]
  checksums: {ip: ChecksumCounts; tcp: ChecksumCounts; udp: ChecksumCounts}
  tcpConversations: number
  udpConversations: number
  conversations: Conversation[]
  anomalies: AnomalyCount[]
  /** Set when reading stopped at damage: everything above was read before it. */
  error?: {code: string; offset: number; message: string}
  warnings: {code: string; offset: number; message: string}[]
}

function newCounts(): ChecksumCounts {
  return {good: 0, bad: 0, partial: 0, unverified: 0, badFrames: []}
}

function countChecksum(c: ChecksumCounts, s: ChecksumStatus, frame: number): void {
  switch (s) {
    case 'good': c.good++; break
    case 'bad': c.bad++; if (c.badFrames.length < 20) c.badFrames.push(frame); break
    case 'partial': c.partial++; break
    case 'unverified': c.unverified++; break
    default: break
  }
}

function resolutionName(unitsPerSec: number): string {
  if (unitsPerSec === 1e6) return 'us'
  if (unitsPerSec === 1e9) return 'ns'
  if (unitsPerSec === 1e3) return 'ms'
  const log2 = Math.log2(unitsPerSec)
  return Number.isInteger(log2) ? `2^-${log2}` : `1/${unitsPerSec}`
}

const ETHERTYPE_NAMES: Record<number, string> = {
  0x0806: 'arp', 0x8035: 'rarp', 0x86dd: 'ipv6', 0x0800: 'ipv4', 0x8847: 'mpls', 0x8848: 'mpls',
  0x88cc: 'lldp', 0x8863: 'pppoe-discovery', 0x8864: 'pppoe', 0x9000: 'loopback', 0x88e5: 'macsec',
}

const IP_PROTO_NAMES: Record<number, string> = {
  1: 'icmp', 2: 'igmp', 4: 'ipip', 6: 'tcp', 17: 'udp', 41: 'ipv6-in-ip', 47: 'gre', 50: 'esp', 51: 'ah',
  58: 'icmpv6', 88: 'eigrp', 89: 'ospf', 103: 'pim', 112: 'vrrp', 132: 'sctp',
}

const SLOT_NAMES = ['ipv4', 'ipv6', 'arp', 'vlan', 'vlan (stacked)', 'ip fragment', '802.3 llc', 'undecoded'] as const
const SLOT = {ipv4: 256, ipv6: 257, arp: 258, vlan: 259, vlanStacked: 260, fragment: 261, llc: 262, undecoded: 263} as const
const SLOT_COUNT = 256 + SLOT_NAMES.length

export class CaptureSummary {
  private info: FileInfo | null = null
  private readonly interfaces: InterfaceSummary[] = []
  private packets = 0
  private capturedBytes = 0
  private wireBytes = 0
  private snaplenTruncated = 0
  private untimed = 0
  private firstSec = 0
  private firstNsec = 0
  private lastSec = 0
  private lastNsec = 0
  private timed = 0
  private readonly slotPackets = new Float64Array(SLOT_COUNT)
  private readonly slotBytes = new Float64Array(SLOT_COUNT)
  private readonly otherProtocols = new Map<string, ProtocolCount>()
  private readonly ip = newCounts()
  private readonly tcp = newCounts()
  private readonly udp = newCounts()
  private readonly anomalies = new Map<string, AnomalyCount>()
  readonly conversations = new ConversationTable()
  private readonly warnings: InspectReport['warnings'] = []

  constructor(private readonly file: string) {}

  onInfo(info: FileInfo): void {
    this.info = info
  }

  onInterface(i: CaptureInterface): void {
    this.interfaces[i.id] = {
      id: i.id, section: i.section, linkType: i.linkType, linkTypeName: linkTypeName(i.linkType),
      snapLen: i.snapLen, name: i.name, description: i.description,
      tsResolution: resolutionName(i.tsUnitsPerSec), packets: 0, bytes: 0,
    }
  }

  onWarning(w: {offset: number; code: string; message: string}): void {
    this.warnings.push({code: w.code, offset: w.offset, message: w.message})
  }

  /** One packet, already decoded by `d`. */
  onPacket(rec: PacketRecord, d: PacketDecoder): void {
    this.packets++
    this.capturedBytes += rec.capLen
    this.wireBytes += rec.origLen
    if (rec.capLen < rec.origLen) this.snaplenTruncated++
    const iface = this.interfaces[rec.interfaceId]
    if (iface !== undefined) { iface.packets++; iface.bytes += rec.capLen }
    if (rec.hasTimestamp) {
      if (this.timed === 0 || tsBefore(rec.tsSec, rec.tsNsec, this.firstSec, this.firstNsec)) {
        this.firstSec = rec.tsSec; this.firstNsec = rec.tsNsec
      }
      if (this.timed === 0 || tsBefore(this.lastSec, this.lastNsec, rec.tsSec, rec.tsNsec)) {
        this.lastSec = rec.tsSec; this.lastNsec = rec.tsNsec
      }
      this.timed++
    } else {
      this.untimed++
    }
    this.countProtocols(d, rec.origLen)
    countChecksum(this.ip, d.ipChecksumStatus, rec.index)
    if (d.transport === 'tcp') countChecksum(this.tcp, d.l4ChecksumStatus, rec.index)
    else if (d.transport === 'udp') countChecksum(this.udp, d.l4ChecksumStatus, rec.index)
    for (let i = 0; i < d.anomalyCount; i++) {
      const name = d.anomalies[i]
      const a = this.anomalies.get(name)
      if (a === undefined) this.anomalies.set(name, {anomaly: name, packets: 1, firstFrame: rec.index})
      else a.packets++
    }
    this.conversations.add(d, rec.index, rec.tsSec, rec.tsNsec)
  }

  // Per-packet counting uses numeric slots (0–255: IP protocol numbers, then
  // the named ones below); names are attached only when the report is built.
  private count(slot: number, bytes: number): void {
    this.slotPackets[slot]++
    this.slotBytes[slot] += bytes
  }

  private countOther(name: string, bytes: number): void {
    const p = this.otherProtocols.get(name)
    if (p === undefined) this.otherProtocols.set(name, {protocol: name, packets: 1, bytes})
    else { p.packets++; p.bytes += bytes }
  }

  private countProtocols(d: PacketDecoder, bytes: number): void {
    if (d.vlanCount > 0) this.count(d.vlanCount > 1 ? SLOT.vlanStacked : SLOT.vlan, bytes)
    switch (d.network) {
      case 'ipv4': this.count(SLOT.ipv4, bytes); break
      case 'ipv6': this.count(SLOT.ipv6, bytes); break
      case 'arp': this.count(SLOT.arp, bytes); return
      case 'other':
        // EtherType values up to 1500 are 802.3 lengths: an LLC frame follows.
        if (d.etherType >= 0 && d.etherType <= 1500) { this.count(SLOT.llc, bytes); return }
        this.countOther(ETHERTYPE_NAMES[d.etherType] ?? `ethertype 0x${d.etherType.toString(16).padStart(4, '0')}`, bytes)
        return
      default:
        if (d.linkKind === 'none') this.countOther(`link type ${d.linkType}`, bytes)
        else this.count(SLOT.undecoded, bytes)
        return
    }
    if (d.isFragment) this.count(SLOT.fragment, bytes)
    if (d.proto >= 0) this.count(d.proto & 0xff, bytes)
  }

  private protocolList(): ProtocolCount[] {
    const list = [...this.otherProtocols.values()]
    for (let slot = 0; slot < SLOT_COUNT; slot++) {
      if (this.slotPackets[slot] === 0) continue
      const protocol = slot < 256 ? (IP_PROTO_NAMES[slot] ?? `ip proto ${slot}`) : SLOT_NAMES[slot - 256]
      list.push({protocol, packets: this.slotPackets[slot], bytes: this.slotBytes[slot]})
    }
    return list.sort((a, b) => b.packets - a.packets || a.protocol.localeCompare(b.protocol))
  }

  report(error?: {code: string; offset: number; message: string}): InspectReport {
    const info = this.info
    const convs = this.conversations.list()
    const tcpConversations = convs.filter((c) => c.proto === 'tcp').length
    return {
      file: this.file,
      format: info === null ? 'unknown' : info.format + (info.variant ? ` (${info.variant})` : ''),
      byteOrder: info?.byteOrder ?? 'unknown',
      gzip: info?.gzip ?? false,
      version: info?.version ?? '',
      sections: info?.sections ?? 0,
      comments: info?.comments ?? [],
      application: info?.application,
      interfaces: this.interfaces.filter((i) => i !== undefined),
      packets: this.packets,
      capturedBytes: this.capturedBytes,
      wireBytes: this.wireBytes,
      snaplenTruncated: this.snaplenTruncated,
      first: this.timed > 0 ? formatIso(this.firstSec, this.firstNsec) : null,
      last: this.timed > 0 ? formatIso(this.lastSec, this.lastNsec) : null,
      durationSec: this.timed > 0 ? tsDiff(this.firstSec, this.firstNsec, this.lastSec, this.lastNsec) : 0,
      untimed: this.untimed,
      protocols: this.protocolList(),
      checksums: {ip: this.ip, tcp: this.tcp, udp: this.udp},
      tcpConversations,
      udpConversations: convs.length - tcpConversations,
      conversations: convs,
      anomalies: [...this.anomalies.values()].sort((a, b) => a.firstFrame - b.firstFrame),
      error,
      warnings: this.warnings,
    }
  }
}
