// One packet as a line of text (tcpdump-like, but with every field the
// handoff checks care about) or as a JSON object (for NDJSON output).
import type {PacketRecord} from '../capture/types.js'
import type {PacketDecoder} from '../wire/decode.js'
import {formatIso, formatTimeOfDay} from './timestamp.js'

export interface PacketJson {
  frame: number
  interface: number
  time: string | null
  capLen: number
  origLen: number
  link: string
  network: string
  transport: string
  src: string | null
  dst: string | null
  srcPort?: number
  dstPort?: number
  vlans?: number[]
  flags?: string
  seq?: number
  ack?: number
  window?: number
  len?: number
  options?: {mss?: number; wscale?: number; sackPermitted?: boolean; sack?: [number, number][]; tsVal?: number; tsEcr?: number; unknown?: number[]}
  ipChecksum?: string
  checksum?: string
  fragment?: boolean
  anomalies?: string[]
}

function optionsText(d: PacketDecoder): string {
  const parts: string[] = []
  if (d.mss >= 0) parts.push(`mss ${d.mss}`)
  if (d.sackPermitted) parts.push('sackOK')
  if (d.hasTimestamp) parts.push(`TS val ${d.tsVal} ecr ${d.tsEcr}`)
  if (d.wscale >= 0) parts.push(`wscale ${d.wscale}`)
  if (d.sackCount > 0) {
    const blocks: string[] = []
    for (let i = 0; i < d.sackCount; i++) blocks.push(`{${d.sackLeft(i)}:${d.sackRight(i)}}`)
    parts.push(`sack ${d.sackCount} ${blocks.join('')}`)
  }
  for (let i = 0; i < d.unknownOptCount; i++) parts.push(`opt-${d.unknownOptKinds[i]}`)
  return parts.length > 0 ? `, options [${parts.join(',')}]` : ''
}

function checksumText(what: string, status: string): string {
  return status === 'bad' || status === 'partial' || status === 'unverified' ? `, ${what} ${status}` : ''
}

/** e.g. `17 12:00:01.000123 eth0 10.77.1.1.40000 > 10.77.1.2.80: TCP [S.], seq 1, ack 2, win 502, length 0` */
export function packetLine(rec: PacketRecord, d: PacketDecoder, ifaceName: string, digits: 6 | 9): string {
  const time = rec.hasTimestamp ? formatTimeOfDay(rec.tsSec, rec.tsNsec, digits) : '-'
  const head = `${rec.index} ${time} ${ifaceName}`
  const vlan = d.vlanCount > 0 ? ` vlan ${Array.from({length: d.vlanCount}, (_, i) => d.vlanVids[i]).join('.')}` : ''
  const anomalies = d.anomalyCount > 0 ? ` !${d.anomalies.slice(0, d.anomalyCount).join(' !')}` : ''
  let body: string
  if (d.network === 'ipv4' || d.network === 'ipv6') {
    const ipv = d.network === 'ipv6' ? 'IP6' : 'IP'
    const frag = d.isFragment ? ' frag' : ''
    const ipck = checksumText('ip cksum', d.ipChecksumStatus)
    if (d.transport === 'tcp' && d.srcPort >= 0) {
      const ack = (d.tcpFlags & 0x10) !== 0 ? `, ack ${d.ack}` : ''
      body = `${ipv} ${d.srcAddr()}.${d.srcPort} > ${d.dstAddr()}.${d.dstPort}: TCP [${d.flagsString()}], seq ${d.seq}${ack}, win ${d.window}${optionsText(d)}, length ${d.payloadWireLen}${checksumText('cksum', d.l4ChecksumStatus)}${ipck}${frag}`
    } else if (d.transport === 'udp' && d.srcPort >= 0) {
      body = `${ipv} ${d.srcAddr()}.${d.srcPort} > ${d.dstAddr()}.${d.dstPort}: UDP, length ${d.payloadWireLen}${checksumText('cksum', d.l4ChecksumStatus)}${ipck}${frag}`
    } else {
      const what = d.transport === 'icmp' || d.transport === 'icmpv6'
        ? `${d.transport.toUpperCase()} type ${d.icmpType} code ${d.icmpCode}`
        : `proto ${d.proto}`
      body = `${ipv} ${d.srcAddr()} > ${d.dstAddr()}: ${what}${ipck}${frag}`
    }
  } else if (d.network === 'arp') {
    body = 'ARP'
  } else if (d.network === 'other') {
    body = `ethertype 0x${d.etherType.toString(16).padStart(4, '0')}`
  } else {
    body = `link type ${d.linkType}`
  }
  const caplen = rec.capLen < rec.origLen ? ` [${rec.capLen}/${rec.origLen} captured]` : ''
  return `${head}${vlan} ${body}${caplen}${anomalies}`
}

export function packetJson(rec: PacketRecord, d: PacketDecoder): PacketJson {
  const ip = d.network === 'ipv4' || d.network === 'ipv6'
  const j: PacketJson = {
    frame: rec.index,
    interface: rec.interfaceId,
    time: rec.hasTimestamp ? formatIso(rec.tsSec, rec.tsNsec) : null,
    capLen: rec.capLen,
    origLen: rec.origLen,
    link: d.linkTypeName(),
    network: d.network,
    transport: d.transport,
    src: ip ? d.srcAddr() : null,
    dst: ip ? d.dstAddr() : null,
  }
  if (d.vlanCount > 0) j.vlans = Array.from({length: d.vlanCount}, (_, i) => d.vlanVids[i])
  if (d.network === 'ipv4') j.ipChecksum = d.ipChecksumStatus
  if (d.isFragment) j.fragment = true
  if ((d.transport === 'tcp' || d.transport === 'udp') && d.srcPort >= 0) {
    j.srcPort = d.srcPort
    j.dstPort = d.dstPort
    j.len = d.payloadWireLen
    j.checksum = d.l4ChecksumStatus
  }
  if (d.transport === 'tcp' && d.srcPort >= 0) {
    j.flags = d.flagsString()
    j.seq = d.seq
    j.ack = d.ack
    j.window = d.window
    const o: NonNullable<PacketJson['options']> = {}
    if (d.mss >= 0) o.mss = d.mss
    if (d.wscale >= 0) o.wscale = d.wscale
    if (d.sackPermitted) o.sackPermitted = true
    if (d.sackCount > 0) o.sack = Array.from({length: d.sackCount}, (_, i) => [d.sackLeft(i), d.sackRight(i)] as [number, number])
    if (d.hasTimestamp) { o.tsVal = d.tsVal; o.tsEcr = d.tsEcr }
    if (d.unknownOptCount > 0) o.unknown = Array.from(d.unknownOptKinds.subarray(0, d.unknownOptCount))
    if (Object.keys(o).length > 0) j.options = o
  }
  if (d.anomalyCount > 0) j.anomalies = d.anomalies.slice(0, d.anomalyCount)
  return j
}
