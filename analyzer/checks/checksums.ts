// Shared by ip-checksum and tcp-checksum: which segments count. Every segment
// of a handed-off connection on any leg and at any vantage point, and every
// control-channel packet. 'partial' (the CHECKSUM_PARTIAL pattern of a
// capture on the sending host, analyzer/wire/decode.ts) is not wrong (§5);
// 'unverified' (payload not captured, fragments) cannot be judged.
import type {Seg} from '../correlate/assemble.js'

export function countsForChecksum(s: Seg): boolean {
  return s.leg !== 'other' && s.leg !== 'stray-forward' && s.leg !== 'stray-return'
}
