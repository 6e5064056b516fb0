// Rewrites a synthetic handoff trace (test/support/handoff-trace.ts: one
// pcapng, one Ethernet interface per vantage point) into what other capture
// tools and other hosts produce from the same traffic: other link types per
// interface (802.1Q / QinQ, Linux cooked SLL / SLL2, raw IP, BSD loopback),
// snaplen-cut frames, Ethernet padding, IPv4 options and fragments, IPv6
// extension headers, TSO / GRO super-segments, duplicated frames, timestamps
// out of order, and the container's own variations (pcap either byte order
// and resolution, pcapng with several sections, unknown blocks, options,
// if_tsresol / if_tsoffset). The file bytes are written by hand
// (analyzer/capture/testing.ts), not by our writers, so a reader bug cannot
// cancel out against the same writer bug.
//
// Every transform keeps the traffic's meaning: a check of the result must
// find what the original's check found (the tests compare the two).
import {writeFileSync} from 'node:fs'
import {readCaptureSync} from '../../analyzer/capture/read.js'
import {concat, epb, idb, otherBlock, pcapHeader, pcapRecord, shb, type OptionSpec} from '../../analyzer/capture/testing.js'
import {fold16, ipv4HeaderChecksum, pseudoHeaderSumV4, pseudoHeaderSumV6, tcpOrUdpChecksum} from '../../analyzer/wire/checksum.js'
import {PacketDecoder} from '../../analyzer/wire/decode.js'
import {LINKTYPE} from '../../analyzer/wire/linktype.js'

export interface Iface {
  name: string
  linkType: number
}

export interface Frame {
  iface: number
  /** Capture time, nanoseconds since the epoch. */
  ts: bigint
  data: Uint8Array
  origLen: number
}

export interface Trace {
  ifaces: Iface[]
  frames: Frame[]
}

/** Every frame of a capture file, copied, with its interface. */
export function loadTrace(path: string): Trace {
  const t: Trace = {ifaces: [], frames: []}
  readCaptureSync(path, {
    onInterface: (i) => { t.ifaces[i.id] = {name: i.name ?? '', linkType: i.linkType} },
    onPacket: (r) => {
      t.frames.push({iface: r.interfaceId, ts: BigInt(r.tsSec) * 1_000_000_000n + BigInt(r.tsNsec), data: r.data.slice(), origLen: r.origLen})
    },
  })
  return t
}

export function ifaceId(t: Trace, name: string): number {
  const i = t.ifaces.findIndex((x) => x.name === name)
  if (i < 0) throw new Error(`no interface ${name}`)
  return i
}

const dec = new PacketDecoder({verifyChecksums: false})

/** The frame decoded (as an Ethernet frame unless the interface says otherwise). */
export function decodeFrame(f: Uint8Array, linkType = LINKTYPE.ETHERNET as number): PacketDecoder {
  return dec.decode(linkType, f, f.length, f.length)
}

// ---- link layers (from an Ethernet frame) ----------------------------------

export type Link = 'ethernet' | 'vlan' | 'qinq' | 'sll' | 'sll2' | 'raw' | 'raw12' | 'raw14' | 'null-le' | 'null-be' | 'loop'

export function linkTypeOf(l: Link): number {
  switch (l) {
    case 'ethernet': case 'vlan': case 'qinq': return LINKTYPE.ETHERNET
    case 'sll': return LINKTYPE.LINUX_SLL
    case 'sll2': return LINKTYPE.LINUX_SLL2
    case 'raw': return LINKTYPE.RAW
    case 'raw12': return LINKTYPE.DLT_RAW_12
    case 'raw14': return LINKTYPE.DLT_RAW_14
    case 'null-le': case 'null-be': return LINKTYPE.NULL
    case 'loop': return LINKTYPE.LOOP
  }
}

/** An Ethernet frame re-encapsulated; `outgoing`: the SLL packet type says the capturing host sent it. */
export function relinkFrame(eth: Uint8Array, l: Link, outgoing = false): Uint8Array {
  const type = (eth[12]! << 8) | eth[13]!
  const ip = eth.subarray(14)
  const v6 = type === 0x86dd
  switch (l) {
    case 'ethernet': return eth.slice()
    case 'vlan': return concat(eth.subarray(0, 12), Uint8Array.of(0x81, 0x00, 0x20, 0x0a), eth.subarray(12))
    // 802.1ad S-tag (VID 200) over an 802.1Q C-tag (VID 2001), as in tcpdump's 802.1ad_QinQ.pcap.
    case 'qinq': return concat(eth.subarray(0, 12), Uint8Array.of(0x88, 0xa8, 0x00, 0xc8, 0x81, 0x00, 0x07, 0xd1), eth.subarray(12))
    case 'sll': {
      const h = new Uint8Array(16)
      h[1] = outgoing ? 4 : 0
      h[3] = 1 // ARPHRD_ETHER
      h[5] = 6
      h.set(eth.subarray(6, 12), 6)
      h[14] = type >> 8
      h[15] = type & 255
      return concat(h, ip)
    }
    case 'sll2': {
      const h = new Uint8Array(20)
      h[0] = type >> 8
      h[1] = type & 255
      h[7] = 3 // ifindex
      h[9] = 1
      h[10] = outgoing ? 4 : 0
      h[11] = 6
      h.set(eth.subarray(6, 12), 12)
      return concat(h, ip)
    }
    case 'raw': case 'raw12': case 'raw14': return ip.slice()
    // AF_INET 2; AF_INET6 30 (macOS) in the capturing host's byte order, 24 (OpenBSD) for LOOP.
    case 'null-le': return concat(Uint8Array.of(v6 ? 30 : 2, 0, 0, 0), ip)
    case 'null-be': return concat(Uint8Array.of(0, 0, 0, v6 ? 30 : 2), ip)
    case 'loop': return concat(Uint8Array.of(0, 0, 0, v6 ? 24 : 2), ip)
  }
}

/** The trace with interfaces re-encapsulated (by name; others keep Ethernet). */
export function relink(t: Trace, links: Record<string, Link>): Trace {
  const ifaces = t.ifaces.map((i) => (links[i.name] ? {...i, linkType: linkTypeOf(links[i.name]!)} : i))
  const frames = t.frames.map((f) => {
    const l = links[t.ifaces[f.iface]!.name]
    if (!l) return f
    const data = relinkFrame(f.data, l)
    return {...f, data, origLen: f.origLen + data.length - f.data.length}
  })
  return {ifaces, frames}
}

// ---- checksums --------------------------------------------------------------

/** Recomputes the IPv4 header checksum and the TCP checksum (over ipEnd) of an Ethernet frame in place. */
export function fixChecksums(b: Uint8Array): Uint8Array {
  const d = decodeFrame(b)
  if (d.ipVersion === 4) {
    b[d.ipOffset + 10] = 0
    b[d.ipOffset + 11] = 0
    const c = ipv4HeaderChecksum(b, d.ipOffset, d.ipHeaderLen)
    b[d.ipOffset + 10] = c >> 8
    b[d.ipOffset + 11] = c & 255
  }
  if (d.transport === 'tcp' && d.l4HeaderLen > 0 && !d.isFragment) {
    const c = d.ipVersion === 4
      ? tcpOrUdpChecksum(b, d.ipOffset, d.l4Offset, d.ipEnd - d.l4Offset, 6)
      : v6Checksum(b, d)
    b[d.l4Offset + 16] = c >> 8
    b[d.l4Offset + 17] = c & 255
  }
  return b
}

/** TCP checksum over IPv6 with extension headers (tcpOrUdpChecksum assumes TCP right after the fixed header). */
function v6Checksum(b: Uint8Array, d: PacketDecoder): number {
  const len = d.ipEnd - d.l4Offset
  const save = [b[d.l4Offset + 16]!, b[d.l4Offset + 17]!]
  b[d.l4Offset + 16] = 0
  b[d.l4Offset + 17] = 0
  let s = pseudoHeaderSumV6(b, d.ipSrcOffset, d.ipDstOffset, 6, len)
  for (let i = d.l4Offset; i < d.ipEnd; i += 2) s += (b[i]! << 8) | (i + 1 < d.ipEnd ? b[i + 1]! : 0)
  b[d.l4Offset + 16] = save[0]!
  b[d.l4Offset + 17] = save[1]!
  return ~fold16(s) & 0xffff
}

/** The CHECKSUM_PARTIAL pattern (folded pseudo-header sum with the length) in place. */
export function partialChecksum(b: Uint8Array): Uint8Array {
  const d = decodeFrame(b)
  const len = d.ipEnd - d.l4Offset
  const s = fold16(d.ipVersion === 6 ? pseudoHeaderSumV6(b, d.ipSrcOffset, d.ipDstOffset, 6, len)
    : pseudoHeaderSumV4(b, d.ipSrcOffset, d.ipDstOffset, 6, len))
  b[d.l4Offset + 16] = s >> 8
  b[d.l4Offset + 17] = s & 255
  return b
}

function setU16(b: Uint8Array, o: number, v: number): void {
  b[o] = (v >> 8) & 255
  b[o + 1] = v & 255
}

// ---- IP-level transforms of one Ethernet frame ------------------------------

/** IPv4 options (a router alert and a NOP/EOL word) inserted after the fixed header. */
export function withIpv4Options(eth: Uint8Array): Uint8Array {
  const d = decodeFrame(eth)
  if (d.ipVersion !== 4) return eth
  const o = d.ipOffset
  const opts = Uint8Array.of(0x94, 0x04, 0x00, 0x00, 0x01, 0x01, 0x01, 0x00)
  const b = concat(eth.subarray(0, o + d.ipHeaderLen), opts, eth.subarray(o + d.ipHeaderLen))
  b[o] = 0x40 | ((d.ipHeaderLen + opts.length) >> 2)
  setU16(b, o + 2, d.ipTotalLen + opts.length)
  // The TCP checksum does not cover IP options; a wrong header checksum stays wrong.
  const wasRight = ipv4HeaderChecksum(eth, o, d.ipHeaderLen) === ((eth[o + 10]! << 8) | eth[o + 11]!)
  const c = ipv4HeaderChecksum(b, o, d.ipHeaderLen + opts.length)
  setU16(b, o + 10, wasRight ? c : c ^ 0x5555)
  return b
}

/** IPv6 hop-by-hop (router alert) and destination options (PadN) headers before the upper layer. */
export function withIpv6ExtHeaders(eth: Uint8Array): Uint8Array {
  const d = decodeFrame(eth)
  if (d.ipVersion !== 6 || d.ipv6ExtCount > 0) return eth
  const o = d.ipOffset
  const next = eth[o + 6]!
  const hbh = Uint8Array.of(60, 0, 0x05, 0x02, 0x00, 0x00, 0x01, 0x00) // → dest opts; router alert (MLD 0); PadN(0)
  const dst = Uint8Array.of(next, 0, 0x01, 0x04, 0, 0, 0, 0) // → TCP; PadN(4)
  const b = concat(eth.subarray(0, o + 40), hbh, dst, eth.subarray(o + 40))
  b[o + 6] = 0 // hop-by-hop
  setU16(b, o + 4, d.ipTotalLen - 40 + 16)
  return b
}

/** An IPv4 datagram split into fragments of at most `size` payload bytes (a multiple of 8). DF cleared. */
export function fragmentIpv4(eth: Uint8Array, size: number): Uint8Array[] {
  const d = decodeFrame(eth)
  if (d.ipVersion !== 4) return [eth]
  const o = d.ipOffset
  const hl = d.ipHeaderLen
  const body = eth.subarray(o + hl, d.ipEnd)
  const out: Uint8Array[] = []
  // A wrong header checksum stays wrong in every fragment.
  const bad = ipv4HeaderChecksum(eth, o, hl) !== ((eth[o + 10]! << 8) | eth[o + 11]!) ? 0x5555 : 0
  for (let off = 0; off < body.length; off += size) {
    const piece = body.subarray(off, Math.min(body.length, off + size))
    const b = concat(eth.subarray(0, o + hl), piece)
    setU16(b, o + 2, hl + piece.length)
    const mf = off + size < body.length
    setU16(b, o + 6, (mf ? 0x2000 : 0) | (off >> 3))
    b[o + 10] = 0
    b[o + 11] = 0
    setU16(b, o + 10, ipv4HeaderChecksum(b, o, hl) ^ bad)
    out.push(b)
  }
  return out
}

/**
 * An IPv6 packet split into fragments of at most `size` bytes of its fragmentable part (a multiple of 8),
 * RFC 8200 §4.5: the unfragmentable part (the IPv6 header and the hop-by-hop, routing and destination-options
 * headers before the upper layer) in each, then a Fragment header (identification `id`) naming the upper layer.
 */
export function fragmentIpv6(eth: Uint8Array, size: number, id = 0x1234abcd): Uint8Array[] {
  const d = decodeFrame(eth)
  if (d.ipVersion !== 6) return [eth]
  const o = d.ipOffset
  let nh = eth[o + 6]!
  let nhAt = o + 6
  let x = o + 40
  while (nh === 0 || nh === 43 || nh === 60) {
    nhAt = x
    nh = eth[x]!
    x += (eth[x + 1]! + 1) * 8
  }
  const body = eth.subarray(x, d.ipEnd)
  const out: Uint8Array[] = []
  for (let off = 0; off < body.length; off += size) {
    const piece = body.subarray(off, Math.min(body.length, off + size))
    const more = off + size < body.length
    const fh = Uint8Array.of(nh, 0, (off >> 8) & 0xff, (off & 0xf8) | (more ? 1 : 0), id >>> 24, (id >>> 16) & 255, (id >>> 8) & 255, id & 255)
    const b = concat(eth.subarray(0, x), fh, piece)
    b[nhAt] = 44
    setU16(b, o + 4, x - (o + 40) + 8 + piece.length)
    out.push(b)
  }
  return out
}

/** Trailing bytes after the datagram up to a 60-byte frame (non-zero: a sloppy NIC's leftovers). */
export function padFrame(eth: Uint8Array, fill = 0xa5): Uint8Array {
  if (eth.length >= 60) return eth
  const b = new Uint8Array(60).fill(fill)
  b.set(eth)
  return b
}

/**
 * Consecutive TCP segments of one direction (same 4-tuple, contiguous seq)
 * merged into one super-segment, as GRO hands it to a capture on the
 * receiving host, or as TSO hands it to a capture on the sending host: the
 * first segment's headers, every payload, the last segment's flags (PSH /
 * FIN), the IP length (0 with `zeroLength`, as TSO often leaves it) and the
 * checksum (full, or partial with `partial`).
 */
export function mergeSegments(segs: Uint8Array[], o: {zeroLength?: boolean; partial?: boolean} = {}): Uint8Array {
  const d0 = decodeFrame(segs[0]!)
  const head = segs[0]!.subarray(0, d0.payloadOffset)
  const ipOff = d0.ipOffset
  const l4 = d0.l4Offset
  const payloads = segs.map((s) => {
    const d = decodeFrame(s)
    return s.subarray(d.payloadOffset, d.ipEnd)
  })
  const last = decodeFrame(segs[segs.length - 1]!).tcpFlags
  const b = concat(head, ...payloads)
  b[l4 + 13] = (b[l4 + 13]! & ~0x09) | (last & 0x09)
  const total = b.length - ipOff
  if (d0.ipVersion === 4) setU16(b, ipOff + 2, total)
  else setU16(b, ipOff + 4, total - 40)
  fixChecksums(b)
  if (o.partial) partialChecksum(b)
  if (o.zeroLength && d0.ipVersion === 4) {
    setU16(b, ipOff + 2, 0)
    b[ipOff + 10] = 0
    b[ipOff + 11] = 0
    setU16(b, ipOff + 10, ipv4HeaderChecksum(b, ipOff, d0.ipHeaderLen))
  }
  return b
}

/** Applies f to the frames of the named interfaces that f accepts; f returns the replacement frames. */
export function mapFrames(t: Trace, names: readonly string[] | null, f: (data: Uint8Array, fr: Frame) => Uint8Array[] | null): Trace {
  const ids = names === null ? null : new Set(names.map((n) => ifaceId(t, n)))
  const frames: Frame[] = []
  for (const fr of t.frames) {
    const r = ids === null || ids.has(fr.iface) ? f(fr.data, fr) : null
    if (r === null) { frames.push(fr); continue }
    r.forEach((data, k) => frames.push({iface: fr.iface, ts: fr.ts + BigInt(k) * 1000n, data, origLen: fr.origLen + data.length - fr.data.length}))
  }
  return {ifaces: t.ifaces, frames}
}

// ---- writing -----------------------------------------------------------------

export interface PcapngOptions {
  le?: boolean
  /** if_tsresol per interface: units per second as 10^-n (n < 128) or 2^-(n & 127) (n ≥ 128). Default 6 (µs). */
  tsresol?: number
  /** if_tsoffset (seconds) for every interface: stored timestamps are that much earlier. */
  tsoffset?: number
  /** Start a new section (SHB, interfaces again) after each of these frame indexes. */
  sectionBreaks?: number[]
  /** Unknown / non-packet blocks between packets (a custom block, a DSB-like unknown type, an NRB). */
  extraBlocks?: boolean
  /** Comments on the SHB, the IDBs and every EPB, and epb_flags. */
  comments?: boolean
  /** Cut every frame to this many bytes (capLen < origLen). */
  snaplen?: number
  /** Only the frames of these interfaces (by name) are cut. Default: all. */
  snaplenIfaces?: string[]
}

function unitsPerSec(tsresol: number): bigint {
  return tsresol & 0x80 ? 1n << BigInt(tsresol & 0x7f) : 10n ** BigInt(tsresol)
}

/** The trace as pcapng bytes, written block by block. */
export function pcapngBytes(t: Trace, o: PcapngOptions = {}): Uint8Array {
  const le = o.le ?? true
  const resol = o.tsresol ?? 6
  const ups = unitsPerSec(resol)
  const off = BigInt(o.tsoffset ?? 0)
  const parts: Uint8Array[] = []
  const section = () => {
    parts.push(shb(le, o.comments ? {options: [[1, 'section comment'], [4, 'trace-transform']]} : {}))
    t.ifaces.forEach((i, k) => {
      const opts: OptionSpec[] = []
      if (i.name) opts.push([2, i.name])
      if (o.comments) opts.push([1, `interface ${k}`])
      if (resol !== 6) opts.push([9, [resol]])
      if (off !== 0n) {
        const v = new DataView(new ArrayBuffer(8))
        v.setBigInt64(0, off, le)
        opts.push([14, new Uint8Array(v.buffer)])
      }
      parts.push(idb(le, {linkType: i.linkType, snapLen: o.snaplen ?? 0, options: opts}))
    })
  }
  section()
  const breaks = new Set(o.sectionBreaks ?? [])
  t.frames.forEach((f, k) => {
    const units = ((f.ts - off * 1_000_000_000n) * ups) / 1_000_000_000n
    const cut = o.snaplen !== undefined && f.data.length > o.snaplen && (o.snaplenIfaces?.includes(t.ifaces[f.iface]!.name) ?? true)
    const data = cut ? f.data.subarray(0, o.snaplen) : f.data
    const opts: OptionSpec[] | undefined = o.comments ? [[1, `frame ${k + 1}`], [2, [1, 0, 0, 0]]] : undefined
    parts.push(epb(le, {ifid: f.iface, ts: units, data, origLen: f.origLen, ...(opts ? {options: opts} : {})}))
    if (o.extraBlocks && k % 7 === 3) {
      parts.push(otherBlock(le, 0x00000bad, [0x00, 0x00, 0x7f, 0xf9, 1, 2, 3, 4])) // custom block (PEN 32761)
      parts.push(otherBlock(le, 0x0000abcd, [9, 9, 9, 9])) // a type nobody defines
      parts.push(otherBlock(le, 4, [1, 0, 8, 0, 10, 0, 0, 1, 104, 111, 115, 116, 0, 0, 0, 0, 0, 0, 0, 0])) // NRB: 10.0.0.1 host
    }
    if (breaks.has(k)) section()
  })
  return concat(...parts)
}

export function writePcapng(path: string, t: Trace, o: PcapngOptions = {}): string {
  writeFileSync(path, pcapngBytes(t, o))
  return path
}

/** One interface of the trace as a classic pcap file. */
export function writePcap(path: string, t: Trace, iface: number, o: {le?: boolean; ns?: boolean; snaplen?: number} = {}): string {
  const le = o.le ?? true
  const parts = [pcapHeader({le, magic: o.ns ? 0xa1b23c4d : 0xa1b2c3d4, linkType: t.ifaces[iface]!.linkType, snapLen: o.snaplen ?? 262144})]
  for (const f of t.frames) {
    if (f.iface !== iface) continue
    const sec = Number(f.ts / 1_000_000_000n)
    const ns = Number(f.ts % 1_000_000_000n)
    const data = o.snaplen !== undefined && f.data.length > o.snaplen ? f.data.subarray(0, o.snaplen) : f.data
    parts.push(pcapRecord({le, sec, frac: o.ns ? ns : Math.floor(ns / 1000), data, origLen: f.origLen}))
  }
  writeFileSync(path, concat(...parts))
  return path
}

/**
 * At one view, runs of consecutive data segments from `src` (contiguous seq,
 * nothing else of that direction between them) merged by mergeSegments into
 * one frame at the first segment's place (TSO: the sender hands them down as
 * one) or the last's (GRO: the receiver delivers them when the last came).
 * Returns the trace and how many super-segments were made.
 */
export function mergeRuns(t: Trace, view: string, src: string, o: {at: 'first' | 'last'; zeroLength?: boolean; partial?: boolean; max?: number}): {trace: Trace; merged: number} {
  const id = ifaceId(t, view)
  const runs: number[][] = []
  let run: number[] = []
  let next = -1
  const close = () => {
    if (run.length > 1) runs.push(run)
    run = []
  }
  t.frames.forEach((f, k) => {
    if (f.iface !== id) return
    const d = decodeFrame(f.data, t.ifaces[id]!.linkType)
    if (d.transport !== 'tcp' || d.srcAddr() !== src) return
    const len = d.payloadWireLen
    if (len === 0 || (d.tcpFlags & 0x07) !== 0) { close(); next = -1; return } // pure ACK, SYN, FIN, RST: ends a run
    if (run.length > 0 && d.seq === next && run.length < (o.max ?? 64)) run.push(k)
    else { close(); run = [k] }
    next = (d.seq + len) >>> 0
  })
  close()
  const drop = new Set<number>()
  const put = new Map<number, Uint8Array>()
  for (const r of runs) {
    const m = mergeSegments(r.map((k) => t.frames[k]!.data), o)
    put.set(o.at === 'first' ? r[0]! : r[r.length - 1]!, m)
    for (const k of r) drop.add(k)
  }
  const frames: Frame[] = []
  t.frames.forEach((f, k) => {
    const m = put.get(k)
    if (m !== undefined) frames.push({...f, data: m, origLen: m.length})
    else if (!drop.has(k)) frames.push(f)
  })
  return {trace: {ifaces: t.ifaces, frames}, merged: runs.length}
}
