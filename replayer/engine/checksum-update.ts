// Patching the IPv4 header and TCP checksums after a rewrite, once per packet,
// with RFC 1624 eqn. 3 (HC' = ~(~HC + Σ(~m + m'))), which gives the same bytes
// as a full recomputation (eqn. 2 / RFC 1141 can leave 0xFFFF where a full
// computation gives 0x0000).
//
// Partial checksums. A capture taken on the sending host with TX checksum
// offload shows the TCP checksum field holding only the folded pseudo-header
// sum (Linux CHECKSUM_PARTIAL); the NIC adds header and payload later. Such a
// field covers the addresses and the length, nothing of the TCP header. So:
// the address delta is folded in WITHOUT complementing (F' = F + ~m + m'),
// and the seq/ack/SACK/TS/window deltas are NOT applied. The result is the
// pseudo-header sum of the rewritten packet: still 'partial', and exactly
// what the stack would have stored had it sent the rewritten packet. Treating
// it as a full checksum would turn it into garbage that is neither.
//
// Telling them apart costs a full sum, so it is done only when it matters:
// the pseudo-header sum (a few words) is compared with the field first; only
// when it matches one of the partial patterns (with or without the length;
// plain or complemented — the same four the decoder knows) is the whole
// segment summed, and a valid full checksum wins (a real checksum can equal
// the pattern by chance, about 4 in 65536). When the segment was not fully
// captured that confirmation is impossible and the pattern decides: a
// truncated capture on an offloading sender matches it always, an ordinary
// checksum only by that 4-in-65536 chance.
import {csumApply, csumApplyPartial, fold16, pseudoHeaderSumV4, pseudoHeaderSumV6, sum16} from '../../analyzer/wire/checksum.js'
import type {PacketDecoder} from '../../analyzer/wire/decode.js'
import {read16, write16} from './fields.js'
import type {TcpChecksumKind} from './result.js'

const PROTO_TCP = 6

/** a and b are the same ones-complement number (0x0000 and 0xFFFF are both zero). */
function onesEq(a: number, b: number): boolean {
  return a === b || ((a === 0 || a === 0xffff) && (b === 0 || b === 0xffff))
}

/** Unfolded pseudo-header sum of the decoded packet (current bytes). */
function pseudoSum(dec: PacketDecoder): number {
  const b = dec.bytes
  return dec.ipVersion === 4
    ? pseudoHeaderSumV4(b, dec.ipSrcOffset, dec.ipDstOffset, PROTO_TCP, dec.l4Len)
    : pseudoHeaderSumV6(b, dec.ipSrcOffset, dec.ipDstOffset, PROTO_TCP, dec.l4Len)
}

/** The whole segment is in the capture, so a full checksum can be computed. */
export function segmentComplete(dec: PacketDecoder): boolean {
  return !dec.payloadTruncated && dec.ipEnd - dec.l4Offset === dec.l4Len
}

/**
 * How the TCP checksum field of the decoded packet must be treated. Call it
 * BEFORE writing anything: it reads the packet as it came in.
 */
export function classifyTcpChecksum(dec: PacketDecoder): TcpChecksumKind {
  const b = dec.bytes
  const field = read16(b, dec.l4Offset + 16)
  const len = dec.l4Len
  const ph = pseudoSum(dec)
  const p1 = fold16(ph)
  const p0 = fold16(ph - (len & 0xffff) - (len >>> 16))
  let kind: TcpChecksumKind
  if (onesEq(field, p1) || onesEq(field, p0)) kind = 'partial'
  else if (onesEq(field, ~p1 & 0xffff) || onesEq(field, ~p0 & 0xffff)) kind = 'partial-complement'
  else return 'full'
  if (segmentComplete(dec) && fold16(sum16(b, dec.l4Offset, dec.l4Offset + len, ph)) === 0xffff) return 'full'
  return kind
}

/**
 * Patches the checksums of the decoded packet after its fields were written.
 * ipDelta: delta of the IPv4 header fields (the address); pseudoDelta: delta
 * of the pseudo-header (the same address change); tcpDelta: delta of the TCP
 * header fields. kind comes from classifyTcpChecksum on the original bytes.
 */
export function applyChecksumDeltas(dec: PacketDecoder, kind: TcpChecksumKind, ipDelta: number, pseudoDelta: number, tcpDelta: number): void {
  const b = dec.bytes
  if (dec.ipVersion === 4 && ipDelta !== 0) {
    const o = dec.ipOffset + 10
    write16(b, o, csumApply(read16(b, o), ipDelta))
  }
  const o = dec.l4Offset + 16
  switch (kind) {
    case 'full':
      if (pseudoDelta + tcpDelta !== 0) write16(b, o, csumApply(read16(b, o), pseudoDelta + tcpDelta))
      break
    case 'partial':
      if (pseudoDelta !== 0) write16(b, o, csumApplyPartial(read16(b, o), pseudoDelta))
      break
    case 'partial-complement':
      if (pseudoDelta !== 0) write16(b, o, csumApply(read16(b, o), pseudoDelta))
      break
  }
}
