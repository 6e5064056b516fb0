// Optional verification of every rewrite (Engine option `verify`), the lesson
// of tcpedit's silent bugs (bad checksums on VLAN frames, truncated packets):
// re-decode what was written with a separate decoder, recompute the IPv4
// header and TCP checksums from scratch, and compare their verdict with the
// input's. A rewrite must not change the verdict:
//   good → good, partial → partial, and bad → bad (the engine carries an
//   upstream error over unchanged rather than hiding it).
// A packet whose segment was not fully captured has no TCP verdict
// ('unverified'); its IPv4 header is still checked. Any difference throws
// EngineVerifyError — never silent output.
import {PacketDecoder} from '../../analyzer/wire/decode.js'
import type {ChecksumStatus} from '../../analyzer/wire/decode.js'

export type VerifiedChecksum = 'ipv4-header' | 'tcp'

export class EngineVerifyError extends Error {
  constructor(
    /** The packet's index (the caller's, or the engine's 1-based count of calls). */
    readonly packetIndex: number,
    /** Which checksum disagrees. */
    readonly checksum: VerifiedChecksum,
    /** The operation that wrote the packet ('rewriteForward', …). */
    readonly operation: string,
    /** Verdict on the input, and on the output. */
    readonly expected: ChecksumStatus,
    readonly actual: ChecksumStatus,
    /** The field as written, and the value a full recomputation gives (-1 when the decoder did not report one). */
    readonly stored: number,
    readonly correct: number,
  ) {
    super(`packet ${packetIndex}: ${operation} left the ${checksum === 'tcp' ? 'TCP' : 'IPv4 header'} checksum ${actual}` +
      ` (it was ${expected} before the rewrite; field 0x${stored.toString(16).padStart(4, '0')}` +
      (correct >= 0 ? `, a full recomputation gives 0x${correct.toString(16).padStart(4, '0')})` : ')'))
    this.name = 'EngineVerifyError'
  }
}

/** Statuses that are a verdict (the others say nothing to compare). */
function isVerdict(s: ChecksumStatus): boolean {
  return s === 'good' || s === 'bad' || s === 'partial'
}

export class RewriteVerifier {
  private readonly dec = new PacketDecoder({verifyChecksums: true})

  /**
   * Throws EngineVerifyError when the rewritten frame's checksums do not get
   * the verdicts the input had (ipBefore / tcpBefore, from a decoder with
   * checksum verification on).
   */
  check(operation: string, index: number, bytes: Uint8Array, linkType: number, capLen: number, origLen: number, start: number,
    ipBefore: ChecksumStatus, tcpBefore: ChecksumStatus): void {
    const d = this.dec.decode(linkType, bytes, capLen, origLen, start)
    if (isVerdict(ipBefore) && d.ipChecksumStatus !== ipBefore) {
      throw new EngineVerifyError(index, 'ipv4-header', operation, ipBefore, d.ipChecksumStatus, d.ipChecksum, d.ipChecksumExpected)
    }
    if (isVerdict(tcpBefore) && d.l4ChecksumStatus !== tcpBefore) {
      throw new EngineVerifyError(index, 'tcp', operation, tcpBefore, d.l4ChecksumStatus, d.l4Checksum, d.l4ChecksumExpected)
    }
  }
}
