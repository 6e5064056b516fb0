// Packet builder for tests and for code that must synthesise segments (the
// replayer, the lab). It emits through the reprs and views of this directory,
// so a built packet exercises the same code the decoder validates, and fills
// every checksum from scratch (never incrementally) — which makes it the
// reference the incremental updates are tested against.
import {parseIpv4, parseIpv6, parseMac} from './addr.js'
import {pseudoHeaderSumV4, pseudoHeaderSumV6} from './checksum.js'
import {ETH_HEADER_LEN} from './ethernet.js'
import {IPV4_FLAG_DF, Ipv4Repr, Ipv4View} from './ipv4.js'
import {IPV6_HEADER_LEN, Ipv6Repr, Ipv6View} from './ipv6.js'
import {TcpOptionsRepr} from './tcp-options.js'
import {parseTcpFlags, TcpRepr, TcpView, TCP_MIN_HEADER_LEN} from './tcp.js'
import {UDP_HEADER_LEN, UdpView} from './udp.js'

export interface VlanSpec {
  vid: number
  pcp?: number
  dei?: boolean
  /** TPID that introduces this tag: 0x8100 (default), 0x88a8, 0x9100. */
  tpid?: number
}

export interface EthernetSpec {
  src?: string
  dst?: string
  /** Outermost first. */
  vlans?: VlanSpec[]
}

export type Ipv6ExtSpec =
  | {type: 0 | 43 | 60; /** body after next-header and length bytes; zero-padded to 8n-2 */ data?: Uint8Array}
  | {type: 44; fragOffset?: number; more?: boolean; id?: number}

interface IpSpec {
  /** IPv4 dotted or IPv6 text; both must be the same family. */
  src: string
  dst: string
  ttl?: number
  /** IPv4 TOS / IPv6 traffic class. */
  tos?: number
  ipId?: number
  /** IPv4 DF bit (default true). */
  df?: boolean
  /** Raw IPv4 flags + fragment offset field; overrides df. */
  flagsFrag?: number
  ipv4Options?: Uint8Array
  flowLabel?: number
  ipv6ExtHeaders?: Ipv6ExtSpec[]
  /** Wrap in Ethernet (with optional VLAN tags). Without it the result starts at the IP header. */
  ethernet?: EthernetSpec
  /** IPv4 header checksum: correct (default) or a literal value. */
  ipChecksum?: 'good' | number
  /** Transport checksum: 'good' (default), 'partial' (folded pseudo-header sum, like Linux CHECKSUM_PARTIAL), or a literal. */
  checksum?: 'good' | 'partial' | number
}

export interface TcpPacketSpec extends IpSpec {
  srcPort: number
  dstPort: number
  seq?: number
  ack?: number
  /** Bits, or tcpdump letters ('S', 'S.', 'P.', 'F.', 'R'). Default 'P.' when there is payload, else '.'. */
  flags?: number | string
  window?: number
  urgent?: number
  options?: TcpOptionsRepr | ConstructorParameters<typeof TcpOptionsRepr>[0]
  optionsLayout?: 'linux' | 'compact'
  /** Options bytes used verbatim (zero-padded to 4), e.g. deliberately malformed ones. */
  rawOptions?: Uint8Array
  payload?: Uint8Array | string
}

export interface UdpPacketSpec extends IpSpec {
  srcPort: number
  dstPort: number
  payload?: Uint8Array | string
}

const DEFAULT_SRC_MAC = '02:00:00:00:00:01'
const DEFAULT_DST_MAC = '02:00:00:00:00:02'

function toBytes(p: Uint8Array | string | undefined): Uint8Array {
  if (p === undefined) return new Uint8Array(0)
  return typeof p === 'string' ? new TextEncoder().encode(p) : p
}

function extLen(e: Ipv6ExtSpec): number {
  if (e.type === 44) return 8
  return Math.max(8, (2 + (e.data?.length ?? 0) + 7) & ~7)
}

/** Lays out link + IP header; returns the buffer and where the upper layer goes. */
function frame(spec: IpSpec, proto: number, l4Len: number): {bytes: Uint8Array; ipOff: number; l4Off: number; v6: boolean} {
  const v6 = spec.src.includes(':')
  if (v6 !== spec.dst.includes(':')) throw new Error('src and dst must be the same IP version')
  const vlans = spec.ethernet?.vlans ?? []
  const linkLen = spec.ethernet ? ETH_HEADER_LEN + 4 * vlans.length : 0
  const exts = v6 ? spec.ipv6ExtHeaders ?? [] : []
  const v4repr = v6 ? undefined : new Ipv4Repr(parseIpv4(spec.src), parseIpv4(spec.dst), proto, l4Len,
    spec.ttl ?? 64, spec.tos ?? 0, spec.ipId ?? 0,
    spec.flagsFrag ?? (spec.df === false ? 0 : IPV4_FLAG_DF), spec.ipv4Options ?? new Uint8Array(0))
  const extTotal = exts.reduce((n, e) => n + extLen(e), 0)
  const ipHl = v6 ? IPV6_HEADER_LEN + extTotal : v4repr!.headerLen
  const bytes = new Uint8Array(linkLen + ipHl + l4Len)
  const ipOff = linkLen
  if (spec.ethernet) {
    bytes.set(parseMac(spec.ethernet.dst ?? DEFAULT_DST_MAC), 0)
    bytes.set(parseMac(spec.ethernet.src ?? DEFAULT_SRC_MAC), 6)
    let o = 12
    for (const t of vlans) {
      const tpid = t.tpid ?? 0x8100
      const tci = ((t.pcp ?? 0) << 13) | (t.dei ? 0x1000 : 0) | (t.vid & 0xfff)
      bytes[o] = tpid >> 8; bytes[o + 1] = tpid & 0xff; bytes[o + 2] = tci >> 8; bytes[o + 3] = tci & 0xff
      o += 4
    }
    const et = v6 ? 0x86dd : 0x0800
    bytes[o] = et >> 8; bytes[o + 1] = et & 0xff
  }
  if (v6) {
    const first = exts.length > 0 ? exts[0].type : proto
    new Ipv6Repr(parseIpv6(spec.src), parseIpv6(spec.dst), first, extTotal + l4Len, spec.ttl ?? 64, spec.tos ?? 0,
      spec.flowLabel ?? 0).emit(new Ipv6View(bytes, ipOff))
    let o = ipOff + IPV6_HEADER_LEN
    exts.forEach((e, i) => {
      const next = i + 1 < exts.length ? exts[i + 1].type : proto
      const len = extLen(e)
      bytes[o] = next
      if (e.type === 44) {
        const fo = (e.fragOffset ?? 0) & 0xfff8
        bytes[o + 2] = fo >> 8
        bytes[o + 3] = (fo & 0xf8) | (e.more ? 1 : 0)
        const id = e.id ?? 0
        bytes[o + 4] = id >>> 24; bytes[o + 5] = (id >>> 16) & 0xff; bytes[o + 6] = (id >>> 8) & 0xff; bytes[o + 7] = id & 0xff
      } else {
        bytes[o + 1] = len / 8 - 1
        if (e.data) bytes.set(e.data, o + 2)
        // Otherwise the zero bytes are Pad1 options: a valid empty option area.
      }
      o += len
    })
  } else {
    const v = new Ipv4View(bytes, ipOff)
    v4repr!.emit(v)
    if (spec.ipChecksum !== undefined && spec.ipChecksum !== 'good') v.checksum = spec.ipChecksum
  }
  return {bytes, ipOff, l4Off: ipOff + ipHl, v6}
}

function pseudo(bytes: Uint8Array, ipOff: number, v6: boolean, proto: number, len: number): number {
  return v6
    ? pseudoHeaderSumV6(bytes, ipOff + 8, ipOff + 24, proto, len)
    : pseudoHeaderSumV4(bytes, ipOff + 12, ipOff + 16, proto, len)
}

function fold(s: number): number {
  while (s > 0xffff) s = (s & 0xffff) + (s >>> 16)
  return s
}

/** Builds an IPv4 or IPv6 TCP segment (optionally in Ethernet + VLAN tags) with correct checksums. */
export function buildTcpPacket(spec: TcpPacketSpec): Uint8Array {
  const payload = toBytes(spec.payload)
  const opts = spec.options instanceof TcpOptionsRepr ? spec.options : new TcpOptionsRepr(spec.options ?? {})
  const layout = spec.optionsLayout ?? 'linux'
  const optLen = spec.rawOptions ? (spec.rawOptions.length + 3) & ~3 : opts.length(layout)
  if (optLen > 40) throw new RangeError(`TCP options of ${optLen} bytes do not fit`)
  const hl = TCP_MIN_HEADER_LEN + optLen
  const l4Len = hl + payload.length
  const {bytes, ipOff, l4Off, v6} = frame(spec, 6, l4Len)
  const flags = spec.flags === undefined ? (payload.length > 0 ? 0x18 : 0x10)
    : typeof spec.flags === 'string' ? parseTcpFlags(spec.flags) : spec.flags
  const repr = new TcpRepr(spec.srcPort, spec.dstPort, (spec.seq ?? 0) >>> 0, (spec.ack ?? 0) >>> 0, flags,
    spec.window ?? 65535, spec.urgent ?? 0, spec.rawOptions ? new TcpOptionsRepr() : opts, layout)
  const tv = new TcpView(bytes, l4Off)
  repr.emit(tv)
  if (spec.rawOptions) {
    tv.headerLen = hl
    bytes.set(spec.rawOptions, l4Off + TCP_MIN_HEADER_LEN)
  }
  bytes.set(payload, l4Off + hl)
  const ph = pseudo(bytes, ipOff, v6, 6, l4Len)
  const c = spec.checksum ?? 'good'
  if (c === 'good') tv.fillChecksum(ph, l4Len)
  else if (c === 'partial') tv.checksum = fold(ph)
  else tv.checksum = c
  return bytes
}

/** Builds an IPv4 or IPv6 UDP datagram (optionally in Ethernet + VLAN tags) with correct checksums. */
export function buildUdpPacket(spec: UdpPacketSpec): Uint8Array {
  const payload = toBytes(spec.payload)
  const l4Len = UDP_HEADER_LEN + payload.length
  const {bytes, ipOff, l4Off, v6} = frame(spec, 17, l4Len)
  const uv = new UdpView(bytes, l4Off)
  uv.srcPort = spec.srcPort
  uv.dstPort = spec.dstPort
  uv.length = l4Len
  bytes.set(payload, l4Off + UDP_HEADER_LEN)
  const ph = pseudo(bytes, ipOff, v6, 17, l4Len)
  const c = spec.checksum ?? 'good'
  if (c === 'good') uv.fillChecksum(ph, l4Len)
  else if (c === 'partial') uv.checksum = fold(ph)
  else uv.checksum = c
  return bytes
}

/** Hex string (no separators) to bytes; whitespace and '|' ignored. For pasted test vectors. */
export function hexToBytes(hex: string): Uint8Array {
  const h = hex.replace(/[\s|]/g, '')
  if (h.length % 2 !== 0 || /[^0-9a-fA-F]/.test(h)) throw new Error('bad hex')
  const out = new Uint8Array(h.length / 2)
  for (let i = 0; i < out.length; i++) out[i] = parseInt(h.slice(2 * i, 2 * i + 2), 16)
  return out
}

export function bytesToHex(b: Uint8Array): string {
  let s = ''
  for (const x of b) s += x.toString(16).padStart(2, '0')
  return s
}
