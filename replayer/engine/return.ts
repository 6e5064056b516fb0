// The return rewrite (spec §4): BE → client, applied by the BE to every
// segment its TCP sends on the connection (the SYN/ACK is dropped, not
// rewritten, by the caller).
//
//   source IP := VIP (IP only: the BE sends the frame itself, so its own MAC
//   is the right Ethernet source and the destination MAC is the client's
//   next hop; §4 names no MAC for this direction)
//   seq −= Δ
//   TSval −= τ (timestamps translated and the option present; TSecr echoes
//   the client's own clock and stays)
//   window := min(0xFFFF, (window << wsB) >> wsF) when wsB ≠ wsF and SYN is
//   clear (see window.ts for why never on SYN segments)
//   IPv4 header and TCP checksums updated incrementally.
//
// Nothing else is written: destination, ports, ack, SACK blocks, IP ID, TTL,
// DSCP, other options, payload.
//
// The inverse (invert = true) maps a packet the client received from the VIP
// back to what the BE's TCP sent: source := baddr, seq += Δ, TSval += τ, and
// the window un-scaled — exact only when rescaling lost nothing (window.ts);
// res.windowExact says which.
import type {PacketDecoder} from '../../analyzer/wire/decode.js'
import {applyChecksumDeltas, classifyTcpChecksum} from './checksum-update.js'
import {add32, addrEq, set16, setAddr} from './fields.js'
import type {RewriteResult} from './result.js'
import type {TranslationState} from './state.js'
import {rescaleClamps, rescaleWindow, unscaleExact, unscaleWindow} from './window.js'

const TCP_SYN = 0x02

/** The decoded packet is BE → client (or, inverted, VIP → client) on this connection. */
export function matchesReturn(dec: PacketDecoder, st: TranslationState, invert: boolean): boolean {
  if (dec.ipVersion !== st.family || dec.srcPort !== st.vport || dec.dstPort !== st.cport) return false
  const b = dec.bytes
  return addrEq(b, dec.ipSrcOffset, invert ? st.vip : st.baddr, st.addrLen) && addrEq(b, dec.ipDstOffset, st.cip, st.addrLen)
}

/** Rewrites the decoded (checked, matching) packet in place. */
export function applyReturn(dec: PacketDecoder, st: TranslationState, res: RewriteResult, invert: boolean): void {
  const b = dec.bytes
  const l4 = dec.l4Offset
  const kind = classifyTcpChecksum(dec) // before any byte changes
  res.tcpChecksum = kind

  const addrDelta = setAddr(b, dec.ipSrcOffset, invert ? st.baddr : st.vip, st.addrLen)

  let tcpDelta = add32(b, l4 + 4, invert ? st.delta : st.negDelta, l4)
  if (st.tsActive && dec.hasTimestamp) tcpDelta += add32(b, dec.tsOffset, invert ? st.tau : st.negTau, l4)
  if (st.wsB !== st.wsF && (dec.tcpFlags & TCP_SYN) === 0) {
    const w = dec.window
    let nw: number
    if (invert) {
      nw = unscaleWindow(w, st.wsB, st.wsF)
      res.windowExact = unscaleExact(w, st.wsB, st.wsF)
    } else {
      nw = rescaleWindow(w, st.wsB, st.wsF)
      res.windowClamped = rescaleClamps(w, st.wsB, st.wsF)
    }
    tcpDelta += set16(b, l4 + 14, nw)
  }
  applyChecksumDeltas(dec, kind, addrDelta, addrDelta, tcpDelta)
}
