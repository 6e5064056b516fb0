// Shared by the engine's unit tests and its benchmark (not a test itself):
// a seeded PRNG, link-layer wrappers for frames built with build.ts, a tiny
// classic-pcap writer/reader (kept here so the engine's tests do not depend on
// the capture layer), and a generator of random valid TCP packets and
// translation states.
import {closeSync, openSync, writeSync} from 'node:fs'
import {parseMac} from '../../analyzer/wire/addr.js'
import {buildTcpPacket, type TcpPacketSpec} from '../../analyzer/wire/build.js'
import {PacketDecoder} from '../../analyzer/wire/decode.js'
import {LINKTYPE} from '../../analyzer/wire/linktype.js'
import {TranslationState, type TranslationValues} from '../../replayer/engine/state.js'
import {pick, prng, randInt, randU32, type Rand} from '../support/random.js'
export {pick, prng, randInt, randU32, type Rand}

/** A uint32 that is often near the 2^32 wrap (within ±4096 of 0). */
export function randSeqish(r: Rand): number {
  const x = r()
  if (x < 0.3) return (0x100000000 - randInt(r, 1, 4096)) >>> 0
  if (x < 0.45) return randInt(r, 0, 4096)
  return randU32(r)
}

// ---- link layers ---------------------------------------------------------

export type LinkName = 'ethernet' | 'sll' | 'sll2' | 'null' | 'loop' | 'raw' | 'ipv4' | 'ipv6'

export function linkTypeOf(link: LinkName): number {
  switch (link) {
    case 'ethernet': return LINKTYPE.ETHERNET
    case 'sll': return LINKTYPE.LINUX_SLL
    case 'sll2': return LINKTYPE.LINUX_SLL2
    case 'null': return LINKTYPE.NULL
    case 'loop': return LINKTYPE.LOOP
    case 'raw': return LINKTYPE.RAW
    case 'ipv4': return LINKTYPE.IPV4
    case 'ipv6': return LINKTYPE.IPV6
  }
}

/** Prepends a non-Ethernet link header to an IP datagram (Ethernet comes from build.ts itself). */
export function wrapLink(link: LinkName, ip: Uint8Array, senderMac = '02:00:00:00:00:aa'): Uint8Array {
  const v6 = ip[0] >> 4 === 6
  const et = v6 ? 0x86dd : 0x0800
  const mac = parseMac(senderMac)
  let h: Uint8Array
  switch (link) {
    case 'sll':
      // packet type 4 (outgoing), ARPHRD_ETHER 1, address length 6, address (8 bytes), protocol
      h = new Uint8Array(16)
      h.set([0, 4, 0, 1, 0, 6], 0); h.set(mac, 6); h[14] = et >> 8; h[15] = et & 0xff
      break
    case 'sll2':
      // protocol, reserved, ifindex 3, ARPHRD_ETHER 1, packet type 0, address length 6, address (8 bytes)
      h = new Uint8Array(20)
      h[0] = et >> 8; h[1] = et & 0xff; h.set([0, 0, 0, 3, 0, 1, 0, 6], 4); h.set(mac, 12)
      break
    case 'null':
      // host (little-endian) order family: AF_INET 2, AF_INET6 30 (macOS)
      h = Uint8Array.of(v6 ? 30 : 2, 0, 0, 0)
      break
    case 'loop':
      h = Uint8Array.of(0, 0, 0, v6 ? 24 : 2)
      break
    case 'raw': case 'ipv4': case 'ipv6':
      return ip
    case 'ethernet':
      throw new Error('build Ethernet frames with build.ts')
  }
  const out = new Uint8Array(h.length + ip.length)
  out.set(h, 0)
  out.set(ip, h.length)
  return out
}

/** Builds a TCP packet for a link: Ethernet via spec.ethernet, the others wrapped around raw IP. */
export function buildFrame(link: LinkName, spec: TcpPacketSpec): Uint8Array {
  if (link === 'ethernet') return buildTcpPacket({...spec, ethernet: spec.ethernet ?? {}})
  return wrapLink(link, buildTcpPacket({...spec, ethernet: undefined}))
}

// ---- classic pcap ----------------------------------------------------------

export interface PcapRecord {
  data: Uint8Array
  origLen: number
}

/** A whole little-endian microsecond pcap in memory. */
export function pcapBytes(linkType: number, recs: readonly PcapRecord[] | readonly Uint8Array[]): Uint8Array {
  let total = 24
  for (const x of recs) total += 16 + (x instanceof Uint8Array ? x.length : x.data.length)
  const out = new Uint8Array(total)
  const dv = new DataView(out.buffer)
  dv.setUint32(0, 0xa1b2c3d4, true); dv.setUint16(4, 2, true); dv.setUint16(6, 4, true)
  dv.setUint32(16, 262144, true); dv.setUint32(20, linkType, true)
  let o = 24
  let i = 0
  for (const x of recs) {
    const data = x instanceof Uint8Array ? x : x.data
    const orig = x instanceof Uint8Array ? x.length : x.origLen
    dv.setUint32(o, 1700000000 + Math.floor(i / 1000), true); dv.setUint32(o + 4, (i % 1000) * 1000, true)
    dv.setUint32(o + 8, data.length, true); dv.setUint32(o + 12, orig, true)
    out.set(data, o + 16)
    o += 16 + data.length
    i++
  }
  return out
}

export function writePcapFile(path: string, linkType: number, recs: readonly PcapRecord[] | readonly Uint8Array[]): void {
  const fd = openSync(path, 'w')
  try {
    const b = pcapBytes(linkType, recs)
    let off = 0
    while (off < b.length) off += writeSync(fd, b, off, Math.min(1 << 26, b.length - off))
  } finally {
    closeSync(fd)
  }
}

/** Walks the records of a little-endian classic pcap held in memory (views, no copies). */
export function forEachPcapRecord(file: Uint8Array, fn: (data: Uint8Array, capLen: number, origLen: number, recOffset: number) => void): number {
  const dv = new DataView(file.buffer, file.byteOffset, file.byteLength)
  if (dv.getUint32(0, true) !== 0xa1b2c3d4) throw new Error('not a little-endian microsecond pcap')
  let o = 24
  let n = 0
  while (o + 16 <= file.length) {
    const cap = dv.getUint32(o + 8, true)
    const orig = dv.getUint32(o + 12, true)
    fn(file.subarray(o + 16, o + 16 + cap), cap, orig, o)
    o += 16 + cap
    n++
  }
  return n
}

export function pcapLinkType(file: Uint8Array): number {
  return new DataView(file.buffer, file.byteOffset, file.byteLength).getUint32(20, true)
}

// ---- random connections and packets ---------------------------------------

export interface RandomConn {
  values: TranslationValues
  state: TranslationState
}

const V4 = {cip: '198.51.100.7', vip: '203.0.113.10', baddr: '10.0.0.2'}
const V6 = {cip: '2001:db8:c::7', vip: '2001:db8:f::10', baddr: 'fd00::2'}

/** A random translation state: Δ and τ often near the wrap, shifts 0..14 or absent. */
export function randomConn(r: Rand, family: 4 | 6): RandomConn {
  const a = family === 4 ? V4 : V6
  const x = r()
  const values: TranslationValues = {
    cip: a.cip, cport: randInt(r, 1024, 65535), vip: a.vip, vport: pick(r, [80, 443, 8080]), baddr: a.baddr,
    bmac: '02:00:00:00:0b:0e', feMac: '02:00:00:00:0f:0e',
    delta: randSeqish(r),
    tau: r() < 0.8 ? randSeqish(r) : undefined,
    wsF: x < 0.2 ? undefined : randInt(r, 0, 14),
    wsB: x > 0.8 ? undefined : pick(r, [0, 2, 7, 9, 14, randInt(r, 0, 14)]),
  }
  return {values, state: TranslationState.fromValues(values)}
}

export interface RandomPacket {
  frame: Uint8Array
  linkType: number
  link: LinkName
  spec: TcpPacketSpec
  /** The checksum treatment asked of the builder. */
  checksum: 'good' | 'partial' | 'bad'
}

export interface RandomPacketOptions {
  link?: LinkName
  /** Direction the addresses are laid out for. */
  dir: 'forward' | 'return' | 'forwarded' | 'returned'
  /** Probability of a partial checksum / a bad checksum. */
  partial?: number
  bad?: number
  maxPayload?: number
}

const LINKS: readonly LinkName[] = ['ethernet', 'ethernet', 'ethernet', 'sll', 'sll2', 'null', 'loop', 'raw', 'ipv4', 'ipv6']

/** A random valid TCP packet of the connection, in the given direction's addressing. */
export function randomPacket(r: Rand, conn: RandomConn, o: RandomPacketOptions): RandomPacket {
  const v = conn.values
  const family = conn.state.family
  let link = o.link ?? pick(r, LINKS)
  if (link === 'ipv4' && family === 6) link = 'ipv6'
  if (link === 'ipv6' && family === 4) link = 'ipv4'
  const fromClient = o.dir === 'forward' || o.dir === 'forwarded'
  const src = fromClient ? v.cip : o.dir === 'return' ? v.baddr : v.vip
  const dst = fromClient ? (o.dir === 'forward' ? v.vip : v.baddr) : v.cip
  const flagsX = r()
  const flags = flagsX < 0.6 ? 0x18 : flagsX < 0.75 ? 0x10 : flagsX < 0.82 ? 0x02 : flagsX < 0.88 ? 0x12 : flagsX < 0.93 ? 0x11 : flagsX < 0.97 ? 0x04 : 0x14
  const ts = r() < 0.75
  const maxSack = ts ? 3 : 4
  const sack: Array<[number, number]> = []
  const nSack = r() < 0.4 ? randInt(r, 1, maxSack) : 0
  for (let i = 0; i < nSack; i++) {
    const left = randSeqish(r)
    sack.push([left, (left + randInt(r, 1, 65535)) >>> 0])
  }
  const syn = (flags & 0x02) !== 0
  const layout = r() < 0.3 ? 'compact' : 'linux'
  // Keep the options within 40 bytes for either layout.
  const options = {
    mss: syn && r() < 0.8 ? randInt(r, 536, 9000) : undefined,
    wscale: syn && r() < 0.7 ? randInt(r, 0, 14) : undefined,
    sackPermitted: syn && r() < 0.7,
    sack: syn ? [] : sack,
    timestamp: ts ? {tsVal: randSeqish(r), tsEcr: r() < 0.15 ? 0 : randSeqish(r)} : undefined,
  }
  const payloadLen = r() < 0.35 ? 0 : randInt(r, 1, o.maxPayload ?? 300)
  const payload = new Uint8Array(payloadLen)
  for (let i = 0; i < payloadLen; i++) payload[i] = (r() * 256) | 0
  const cx = r()
  const checksum: 'good' | 'partial' | 'bad' = cx < (o.partial ?? 0.1) ? 'partial' : cx < (o.partial ?? 0.1) + (o.bad ?? 0.05) ? 'bad' : 'good'
  const vlanX = r()
  const spec: TcpPacketSpec = {
    src, dst,
    srcPort: fromClient ? v.cport : v.vport,
    dstPort: fromClient ? v.vport : v.cport,
    seq: randSeqish(r),
    ack: (flags & 0x10) !== 0 || r() < 0.5 ? randSeqish(r) : 0,
    flags,
    window: r() < 0.1 ? 0xffff : randInt(r, 0, 0xffff),
    urgent: r() < 0.05 ? randInt(r, 0, 0xffff) : 0,
    options,
    optionsLayout: layout,
    payload,
    ttl: randInt(r, 1, 255),
    tos: randInt(r, 0, 255),
    ipId: randInt(r, 0, 0xffff),
    df: r() < 0.8,
    flowLabel: randInt(r, 0, 0xfffff),
    ipv4Options: family === 4 && r() < 0.1 ? Uint8Array.of(1, 1, 1, 0) : undefined,
    ipv6ExtHeaders: family === 6 && r() < 0.15 ? [{type: pick(r, [0, 60] as const)}] : undefined,
    ethernet: link === 'ethernet'
      ? {
        src: '02:00:00:00:cc:01',
        dst: fromClient ? (o.dir === 'forward' ? v.feMac : v.bmac) : '02:00:00:00:cc:02',
        vlans: vlanX < 0.6 ? [] : vlanX < 0.8 ? [{vid: randInt(r, 1, 4094), pcp: randInt(r, 0, 7)}]
          : [{vid: randInt(r, 1, 4094), tpid: 0x88a8}, {vid: randInt(r, 1, 4094), dei: r() < 0.5}],
      }
      : undefined,
    checksum: checksum === 'partial' ? 'partial' : 'good',
  }
  const frame = buildFrame(link, spec)
  if (checksum === 'bad') {
    // Corrupt the TCP checksum by a known amount: flip one bit of the field.
    const d = new PacketDecoder({verifyChecksums: false}).decode(linkTypeOf(link), frame, frame.length, frame.length)
    frame[d.l4Offset + 17] ^= 0x01
  }
  return {frame, linkType: linkTypeOf(link), link, spec, checksum}
}
