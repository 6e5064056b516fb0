// The forward rewrite (spec §4): client → BE. Applied by the FE to every
// client segment after the handoff and by the BE to the replayed SYN, ACK and
// request segments.
//
//   destination IP := baddr; Ethernet destination := bmac (Ethernet frames,
//   when bmac is known; VLAN tags, SLL/SLL2/NULL headers are left as they are)
//   ack += Δ (only with the ACK flag: otherwise the field is not an ack)
//   every SACK edge += Δ
//   TSecr += τ (timestamps translated, option present, TSecr ≠ 0: a zero
//   TSecr means "no echo" (RFC 7323 §3.2) and must stay zero)
//   IPv4 header and TCP checksums updated incrementally.
//
// Nothing else is written: source address, ports, seq, window, IP ID, TTL,
// DSCP, other options, payload.
//
// The inverse (invert = true) maps a forwarded packet, as seen between FE
// and BE, back to what the client sent: destination := VIP, Ethernet
// destination := feMac (when known; else left alone), ack −= Δ, SACK −= Δ,
// TSecr −= τ when TSecr ≠ 0. One corner is not invertible: a client TSecr of
// exactly (2^32 − τ) forwards to 0, indistinguishable from "no echo"; the
// inverse reads 0 as "no echo" (it is 2^-32 likely, and the spec's TSecr ≠ 0
// rule makes the forward map non-injective there).
import type {PacketDecoder} from '../../analyzer/wire/decode.js'
import {applyChecksumDeltas, classifyTcpChecksum} from './checksum-update.js'
import {add32, addrEq, setAddr, setMac} from './fields.js'
import type {RewriteResult} from './result.js'
import type {TranslationState} from './state.js'

const TCP_ACK = 0x10

/** The decoded packet is client → VIP (or, inverted, client → BE) on this connection. */
export function matchesForward(dec: PacketDecoder, st: TranslationState, invert: boolean): boolean {
  if (dec.ipVersion !== st.family || dec.srcPort !== st.cport || dec.dstPort !== st.vport) return false
  const b = dec.bytes
  return addrEq(b, dec.ipSrcOffset, st.cip, st.addrLen) && addrEq(b, dec.ipDstOffset, invert ? st.baddr : st.vip, st.addrLen)
}

/** Rewrites the decoded (checked, matching) packet in place. */
export function applyForward(dec: PacketDecoder, st: TranslationState, res: RewriteResult, invert: boolean): void {
  const b = dec.bytes
  const l4 = dec.l4Offset
  const kind = classifyTcpChecksum(dec) // before any byte changes
  res.tcpChecksum = kind

  const addrDelta = setAddr(b, dec.ipDstOffset, invert ? st.vip : st.baddr, st.addrLen)
  if (dec.ethDstOffset >= 0) {
    const mac = invert ? st.feMac : st.bmac
    if (mac !== null) {
      setMac(b, dec.ethDstOffset, mac)
      res.macRewritten = true
    }
  }

  const d = invert ? st.negDelta : st.delta
  let tcpDelta = 0
  if ((dec.tcpFlags & TCP_ACK) !== 0) tcpDelta += add32(b, l4 + 8, d, l4)
  for (let i = 0; i < dec.sackCount; i++) {
    const o = dec.sackOffsets[i]
    tcpDelta += add32(b, o, d, l4) + add32(b, o + 4, d, l4)
  }
  if (st.tsActive && dec.hasTimestamp && dec.tsEcr !== 0) {
    tcpDelta += add32(b, dec.tsOffset + 4, invert ? st.negTau : st.tau, l4)
  }
  applyChecksumDeltas(dec, kind, addrDelta, addrDelta, tcpDelta)
}
