// Whether the engine's rewrite of a candidate segment (the client's, for a
// forwarded segment; the BE TCP's, for a return one) would be the segment
// seen, found without rewriting anything: the rewrite (replayer/engine
// forward.ts, return.ts) writes mod 2^32 sums of the fields it read, a
// rescaled window and one address, and moves nothing, so its result is
// arithmetic on the candidate's fields as read. context.ts pairs every
// forwarded and return segment this way; the engine rewrites a copy only for
// a candidate that is not the seen segment (the expected fields a check then
// reports), so what a check reads is still the engine's rewrite.
//
// Whether the engine would rewrite the candidate at all is the engine's
// decision (Engine.accepts decodes the header and checks it as a rewrite
// does). A header of the usual shape — Ethernet or raw IP, IPv4 with no
// fragment bits, TCP with well-formed options — is read here instead (plainHeader),
// which answers only where the decoder's checks could not refuse it; any
// other header goes to the engine.
import {formatIpv4, formatIpv6, readU32} from '../wire/addr.js'
import {LINKTYPE} from '../wire/linktype.js'
import {OPTIONS_OK, resetTcpOptions, scanTcpOptions, TcpOptionsFields} from '../wire/tcp-options.js'
import {TCP_FLAG} from '../wire/tcp.js'
import {read16} from '../../replayer/engine/fields.js'
import type {TranslationState} from '../../replayer/engine/state.js'
import {rescaleWindow} from '../../replayer/engine/window.js'
import {v4, type Handoff, type Seg} from '../correlate/assemble.js'

/** One handoff's IPv4 addresses as numbers and strings, so a header's addresses need no string made (-1: not IPv4). */
export interface KnownAddrs {
  n: number[]
  s: string[]
}

export function knownAddrs(h: Handoff): KnownAddrs {
  const s = [h.cip, h.vip, h.baddr].filter((a) => a !== '')
  return {n: s.map(v4), s}
}

/** Where a header's fields are: a PacketDecoder that decoded it, or plainHeader's reading. */
export interface HeaderAt {
  bytes: Uint8Array
  ipVersion: number
  ipSrcOffset: number
  ipDstOffset: number
  l4Offset: number
  hasTimestamp: boolean
  tsOffset: number
  sackCount: number
  sackOffsets: Int32Array
}

/** The address at off, as the decoder writes it (the handoff's own string for its IPv4 addresses). */
export function addrOf(d: HeaderAt, off: number, known: KnownAddrs): string {
  if (d.ipVersion === 4) {
    const i = known.n.indexOf(readU32(d.bytes, off))
    return i >= 0 ? known.s[i]! : formatIpv4(d.bytes, off)
  }
  return formatIpv6(d.bytes, off)
}

/** addrOf of a header holding `bytes` (one of the state's addresses, of its family). */
export function addrText(bytes: Uint8Array, family: 4 | 6, known: KnownAddrs): string {
  if (family === 4) {
    const i = known.n.indexOf(readU32(bytes, 0))
    return i >= 0 ? known.s[i]! : formatIpv4(bytes, 0)
  }
  return formatIpv6(bytes, 0)
}

/**
 * Whether the engine's rewrite (forward when fwd, else return) of the header at d, which it accepts, would
 * give seen's fields as context.ts's rewrittenFields reads them. vipText / baddrText: addrText of the state's
 * VIP and BE address, the addresses the rewrites write.
 */
export function rewriteIs(d: HeaderAt, st: TranslationState, known: KnownAddrs, vipText: string, baddrText: string, seen: Seg,
  fwd: boolean): boolean {
  const b = d.bytes
  const l4 = d.l4Offset
  const flags = b[l4 + 13]!
  if (seen.sport !== read16(b, l4) || seen.dport !== read16(b, l4 + 2) || seen.flags !== flags || seen.hasTs !== d.hasTimestamp) return false
  let seq = readU32(b, l4 + 4)
  let ack = readU32(b, l4 + 8)
  let window = read16(b, l4 + 14)
  let tsVal = d.hasTimestamp ? readU32(b, d.tsOffset) : 0
  let tsEcr = d.hasTimestamp ? readU32(b, d.tsOffset + 4) : 0
  // Forward: ack (with ACK), SACK edges and TSecr (≠ 0) moved; return: seq and TSval, the window rescaled (no SYN).
  const sackAdd = fwd ? st.delta : 0
  if (fwd) {
    if (flags & TCP_FLAG.ACK) ack = (ack + st.delta) >>> 0
    if (st.tsActive && d.hasTimestamp && tsEcr !== 0) tsEcr = (tsEcr + st.tau) >>> 0
  } else {
    seq = (seq + st.negDelta) >>> 0
    if (st.tsActive && d.hasTimestamp) tsVal = (tsVal + st.negTau) >>> 0
    if (st.wsB !== st.wsF && (flags & TCP_FLAG.SYN) === 0) window = rescaleWindow(window, st.wsB, st.wsF)
  }
  if (seen.seq !== seq || seen.ack !== ack || seen.window !== window || seen.tsVal !== tsVal || seen.tsEcr !== tsEcr) return false
  if (seen.sack.length !== 2 * d.sackCount) return false
  for (let i = 0; i < d.sackCount; i++) {
    const o = d.sackOffsets[i]!
    if (seen.sack[2 * i] !== ((readU32(b, o) + sackAdd) >>> 0) || seen.sack[2 * i + 1] !== ((readU32(b, o + 4) + sackAdd) >>> 0)) return false
  }
  return (fwd ? addrOf(d, d.ipSrcOffset, known) : vipText) === seen.src && (fwd ? baddrText : addrOf(d, d.ipDstOffset, known)) === seen.dst
}

/** plainHeader's reading of the last header it answered for (its options found by the decoder's own scan). */
class PlainHeader extends TcpOptionsFields implements HeaderAt {
  bytes: Uint8Array = new Uint8Array(0)
  readonly ipVersion = 4
  ipSrcOffset = 0
  ipDstOffset = 0
  l4Offset = 0
}

const plain = new PlainHeader()

/**
 * The header of o when it is of the usual shape and the engine would surely rewrite it (forward when fwd,
 * else return) — Engine.accepts would say yes: its fields' places (valid until the next call); null when
 * not sure (another link type, a VLAN tag, IPv6, a length or option the decoder could find wrong, or not
 * this connection's direction: the engine then decides). Each test below is one the decoder
 * (analyzer/wire/decode.ts, decode of the header copy as the engine decodes it: capLen = hdrLen) or
 * checkRewritable would fail it on, taken the safe way.
 */
export function plainHeader(o: Seg, st: TranslationState, fwd: boolean): HeaderAt | null {
  if (st.family !== 4) return null
  const b = o.hdrBuf
  const start = o.hdrOff
  const capLen = o.hdrLen
  const end = start + capLen
  // Ethernet with no VLAN tag, or raw IP: IPv4 with its header whole (a header copy ends where the payload starts).
  const lt = o.linkType
  let ip: number
  if (lt === LINKTYPE.ETHERNET) {
    if (capLen < 14 || b[start + 12] !== 0x08 || b[start + 13] !== 0x00) return null
    ip = start + 14
  } else if (lt === LINKTYPE.RAW || lt === LINKTYPE.DLT_RAW_12 || lt === LINKTYPE.DLT_RAW_14 || lt === LINKTYPE.IPV4) ip = start
  else return null
  if (end - ip < 20 || b[ip]! >> 4 !== 4) return null
  const ihl = (b[ip]! & 15) * 4
  if (ihl < 20 || ihl > end - ip) return null
  // No fragment bits (MF, offset), TCP.
  if ((b[ip + 6]! & 0x3f) !== 0 || b[ip + 7] !== 0 || b[ip + 9] !== 6) return null
  // Where the datagram ends: the total length (0: where the frame ends, as the decoder takes a TSO super-packet's),
  // never past the capture unless the snap length cut it (the decoder would distrust the length).
  const total = read16(b, ip + 2)
  const snapCut = capLen < o.origLen
  let declaredEnd: number
  if (total === 0) declaredEnd = snapCut && start + o.origLen > end ? start + o.origLen : end
  else {
    if (total < ihl) return null
    declaredEnd = ip + total
    if (declaredEnd > end && !snapCut) return null
  }
  const ipEnd = declaredEnd < end ? declaredEnd : end
  const l4 = ip + ihl
  if (ipEnd - l4 < 20) return null
  const hl = (b[l4 + 12]! >> 4) * 4
  if (hl < 20 || hl > declaredEnd - l4 || hl > ipEnd - l4) return null
  // This connection's direction (matchesForward / matchesReturn).
  const sport = read16(b, l4)
  const dport = read16(b, l4 + 2)
  if (fwd ? sport !== st.cport || dport !== st.vport || !addrIs(b, ip + 12, st.cip) || !addrIs(b, ip + 16, st.vip)
    : sport !== st.vport || dport !== st.cport || !addrIs(b, ip + 12, st.baddr) || !addrIs(b, ip + 16, st.cip)) return null
  // Options well formed ('bad-tcp-option-length' otherwise), read by the decoder's scan.
  resetTcpOptions(plain)
  if (hl > 20 && scanTcpOptions(b, l4 + 20, l4 + hl, plain) !== OPTIONS_OK) return null
  plain.bytes = b
  plain.ipSrcOffset = ip + 12
  plain.ipDstOffset = ip + 16
  plain.l4Offset = l4
  return plain
}

function addrIs(b: Uint8Array, off: number, a: Uint8Array): boolean {
  return b[off] === a[0] && b[off + 1] === a[1] && b[off + 2] === a[2] && b[off + 3] === a[3]
}
