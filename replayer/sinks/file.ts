// FileSink: the derived legs written to a capture file.
//
// Deterministic: timestamps are the input's (no wall clock), the order is
// the derivation's (time, then leg, then input order), and nothing about the
// run (version, host, date, paths) is written — the same input gives the
// same bytes, so outputs can be golden-tested.
//
// pcapng (default, or by extension .pcapng / --format): one interface per
// leg present, in the fixed leg order, with a description, named after the
// leg and the vantage point (spec §7) where it is carried — the names the
// checker's vantage assignment (analyzer/correlate/vantage.ts) recognises:
//   forwarded-lan       forwarded leg, FE → BE on the cluster LAN      → lan
//   be-inside           BE inside leg, between the BE's BTCP and TCP   → inside
//   return-client       return leg, what the client must see           → client
// and, unless legs-only, the input packets they came from, as captured, so
// that `handoff check FILE` judges the file on its own, every forwarded and
// return segment packet by packet against the one it was rewritten from:
//   control             the control connections that carried the selected
//                       handoffs' handoff-req / handoff-ack / terminate, every
//                       packet of them from one view (whole connections: a
//                       control stream with holes cannot be decoded, so other
//                       handoffs' messages on them come along)   → control
//   captured-client     the client's segments (client → VIP)       → client
//   captured-be-inside  the BE TCP's segments (BE → client)        → inside
// Every packet carries a comment naming its handoff and source
// ("fe1/1 ← trace.pcapng#12", "fe1/1 ← handoff-req pkts[0]",
// "fe1/1 ← trace.pcapng#3 (as captured)").
// pcap: one link type per file and no interface names — the legs only (the
// format for other tools, e.g. tcpreplay): legs with different link types
// (the BE-inside leg is raw IP) cannot share it; the error says what to do.
import {PcapngWriter} from '../../analyzer/capture/pcapng-writer.js'
import {PcapWriter} from '../../analyzer/capture/pcap-writer.js'
import {linkTypeName} from '../../analyzer/wire/linktype.js'
import {PacketDecoder} from '../../analyzer/wire/decode.js'
import {CAPTURED_ROLES, LEG_DESCRIPTION, LEG_LABEL, LEGS, type CapturedPacket, type CapturedRole, type DerivedPacket, type LegName} from '../select/legs.js'

export type FileFormat = 'pcap' | 'pcapng'

/** pcapng interface names (see the header): what is carried, then where. */
export const LEG_INTERFACE: Record<LegName, string> = {
  forwarded: 'forwarded-lan',
  'be-inside': 'be-inside',
  return: 'return-client',
}

export const CAPTURED_INTERFACE: Record<CapturedRole, string> = {
  control: 'control',
  client: 'captured-client',
  be: 'captured-be-inside',
}

const CAPTURED_DESCRIPTION: Record<CapturedRole, string> = {
  control: 'as captured: the control connections that carried the selected handoffs\' handoff-req, handoff-ack and terminate (spec §3)',
  client: 'as captured: the client\'s segments (client → VIP) the forwarded leg and the handoff-req\'s pkts came from',
  be: 'as captured: the BE TCP\'s segments (BE → client) the return leg came from, before the return rewrite',
}

export class SinkError extends Error {
  constructor(message: string) {
    super(message)
    this.name = 'SinkError'
  }
}

/** The format for a path: .pcap → pcap, anything else → pcapng. */
export function formatForPath(path: string): FileFormat {
  return /\.(pcap|cap|dmp)$/i.test(path) ? 'pcap' : 'pcapng'
}

export interface FileSinkResult {
  file: string
  format: FileFormat
  packets: number
  bytes: number
  /** Per leg: packets written. */
  legs: Partial<Record<LegName, number>>
  /** Input packets written as captured next to the legs (pcapng only, unless legs-only), per role. */
  captured: Partial<Record<CapturedRole, number>>
  /** Every written packet decoded again with full checksum recomputation. */
  verified: number
}

/**
 * Re-checks a frame that is about to be written: it decodes as TCP and its
 * IPv4 header and TCP checksums recompute to the field values (or are
 * unverifiable only because the payload was not captured). Returns null or
 * what is wrong.
 */
export function checkWritten(dec: PacketDecoder, p: DerivedPacket): string | null {
  dec.decode(p.linkType, p.data, p.data.length, p.origLen)
  if (dec.transport !== 'tcp' || dec.l4HeaderLen === 0) return 'does not decode as a TCP segment'
  if (dec.ipChecksumStatus === 'bad') return `IPv4 header checksum is wrong (0x${dec.ipChecksum.toString(16)}, expected 0x${dec.ipChecksumExpected.toString(16)})`
  if (dec.l4ChecksumStatus === 'bad') return `TCP checksum is wrong (0x${dec.l4Checksum.toString(16)}, expected 0x${dec.l4ChecksumExpected.toString(16)})`
  return null
}

/**
 * Writes `packets` to `path`, after checking each one again (checkWritten).
 * A packet whose input checksum was already wrong keeps it wrong (the engine
 * never hides an upstream error) and is written as such; any other failed
 * check is a SinkError and nothing is written. `captured` (pcapng only) goes
 * along as it is, on its own interfaces.
 */
export function writeLegs(path: string, packets: DerivedPacket[], format: FileFormat = formatForPath(path),
  captured: readonly CapturedPacket[] = []): FileSinkResult {
  const legsPresent = LEGS.filter((l) => packets.some((p) => p.leg === l))
  const dec = new PacketDecoder({verifyChecksums: true})
  for (const p of packets) {
    const bad = checkWritten(dec, p)
    if (bad !== null && !(p.inputChecksumBad && bad.includes('checksum'))) {
      throw new SinkError(`handoff ${p.hid}, ${p.source} (leg ${LEG_LABEL[p.leg]}): the rewritten packet ${bad}; nothing written`)
    }
  }
  const res: FileSinkResult = {file: path, format, packets: 0, bytes: 0, legs: {}, captured: {}, verified: packets.length}
  if (format === 'pcap') {
    const types = new Set(packets.map((p) => p.linkType))
    if (types.size > 1) {
      const per = legsPresent.map((l) => `${l}: ${linkTypeName(packets.find((p) => p.leg === l)!.linkType)}`).join(', ')
      throw new SinkError(`a pcap file holds one link type, and these legs differ (${per}): write pcapng, or choose legs with --leg`)
    }
    const w = PcapWriter.open(path, {linkType: packets[0]?.linkType ?? 1, tsResolution: 'ns'})
    try {
      for (const p of packets) {
        w.writePacket(p.tsSec, p.tsNsec, p.data, p.origLen)
        count(res, p)
      }
    } finally {
      w.close()
    }
    return res
  }
  const w = PcapngWriter.open(path, {application: 'handoff replay'})
  try {
    const ids = new Map<string, number>()
    for (const l of legsPresent) {
      for (const lt of new Set(packets.filter((p) => p.leg === l).map((p) => p.linkType))) {
        ids.set(`${l}|${lt}`, w.addInterface({linkType: lt, name: LEG_INTERFACE[l], description: `${LEG_LABEL[l]}: ${LEG_DESCRIPTION[l]}`, tsResolution: 'ns'}))
      }
    }
    for (const r of CAPTURED_ROLES) {
      for (const lt of new Set(captured.filter((p) => p.role === r).map((p) => p.linkType))) {
        ids.set(`${r}|${lt}`, w.addInterface({linkType: lt, name: CAPTURED_INTERFACE[r], description: CAPTURED_DESCRIPTION[r], tsResolution: 'ns'}))
      }
    }
    // Both lists are in time order: merged, the captured packet before what was derived from it (same time).
    let i = 0
    let j = 0
    while (i < packets.length || j < captured.length) {
      const p = packets[i]
      const c = captured[j]
      if (c !== undefined && (p === undefined || c.tsSec < p.tsSec || (c.tsSec === p.tsSec && c.tsNsec <= p.tsNsec))) {
        w.writePacket(ids.get(`${c.role}|${c.linkType}`)!, c.tsSec, c.tsNsec, c.data, c.origLen, `${c.hid ?? 'control channel'} ← ${c.source} (as captured)`)
        res.packets++
        res.bytes += c.data.length
        res.captured[c.role] = (res.captured[c.role] ?? 0) + 1
        j++
      } else {
        w.writePacket(ids.get(`${p!.leg}|${p!.linkType}`)!, p!.tsSec, p!.tsNsec, p!.data, p!.origLen, `${p!.hid} ← ${p!.source}`)
        count(res, p!)
        i++
      }
    }
  } finally {
    w.close()
  }
  return res
}

function count(res: FileSinkResult, p: DerivedPacket): void {
  res.packets++
  res.bytes += p.data.length
  res.legs[p.leg] = (res.legs[p.leg] ?? 0) + 1
}
