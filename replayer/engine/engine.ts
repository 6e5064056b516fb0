// Engine: the fast path. One object per translated connection holds the
// TranslationState, ONE PacketDecoder and ONE RewriteResult, so a rewrite
// allocates nothing: decode (flat fields, absolute offsets), check that this
// direction applies, write the fields in place, patch the checksums once.
//
//   const eng = new Engine(TranslationState.fromControl(req, ack))
//   const r = eng.rewriteForward(frame, LINKTYPE.ETHERNET, capLen, origLen)
//   if (r.ok) send(frame)
//
// Four operations: rewriteForward (client → BE), rewriteReturn (BE → client),
// and their inverses invertForward / invertReturn, which map an observed
// rewritten packet back to what the other side must have sent (for the
// analyzer's packet-by-packet checks and for tests). The result object is
// reused: read it before the next call.
import {PacketDecoder} from '../../analyzer/wire/decode.js'
import type {ChecksumStatus} from '../../analyzer/wire/decode.js'
import {segmentComplete} from './checksum-update.js'
import {applyForward, matchesForward} from './forward.js'
import {RewriteResult} from './result.js'
import {applyReturn, matchesReturn} from './return.js'
import type {TranslationState} from './state.js'
import {RewriteVerifier} from './verify.js'

export interface EngineOptions {
  /**
   * Re-decode every rewritten packet and recompute its checksums from
   * scratch; throw EngineVerifyError when a verdict changed. Costs a full
   * checksum pass over each packet twice (input and output). Default false.
   */
  verify?: boolean
  /**
   * The decoder to use (it is reset by every call), shared by engines that
   * run one at a time — `handoff check` makes one engine per handoff. Must
   * not sum checksums unless `verify`. Default: one of its own.
   */
  decoder?: PacketDecoder
}

/** The operation names, as they appear in EngineVerifyError. */
export type EngineOperation = 'rewriteForward' | 'rewriteReturn' | 'invertForward' | 'invertReturn'

const OPS: readonly EngineOperation[] = ['rewriteForward', 'rewriteReturn', 'invertForward', 'invertReturn']
const OP_FORWARD = 0
const OP_RETURN = 1
const OP_INV_FORWARD = 2
const OP_INV_RETURN = 3

export class Engine {
  readonly state: TranslationState
  readonly verify: boolean
  /** Calls so far (all operations, whatever the outcome); the default packet index is this count, from 1. */
  packets = 0
  private readonly dec: PacketDecoder
  private readonly res = new RewriteResult()
  private readonly verifier: RewriteVerifier | null

  /** The result of the last call: the same object every call returns. */
  get result(): RewriteResult {
    return this.res
  }

  constructor(state: TranslationState, opts: EngineOptions = {}) {
    this.state = state
    this.verify = opts.verify ?? false
    // Without verify nothing needs the decoder's own full checksum pass; the
    // rewrite sums only what it must (see checksum-update.ts).
    this.dec = opts.decoder ?? new PacketDecoder({verifyChecksums: this.verify})
    this.verifier = this.verify ? new RewriteVerifier() : null
  }

  /**
   * Client → BE, in place. The frame is bytes[start, start + capLen) — a
   * frame inside a larger buffer (a whole capture file) needs no subarray.
   * capLen -1 (default) = to the end of bytes; origLen -1 (default) = capLen;
   * index (for EngineVerifyError) defaults to the running count of calls.
   */
  rewriteForward(bytes: Uint8Array, linkType: number, capLen = -1, origLen = -1, start = 0, index?: number): RewriteResult {
    return this.run(OP_FORWARD, bytes, linkType, capLen, origLen, start, index)
  }

  /** BE → client, in place. */
  rewriteReturn(bytes: Uint8Array, linkType: number, capLen = -1, origLen = -1, start = 0, index?: number): RewriteResult {
    return this.run(OP_RETURN, bytes, linkType, capLen, origLen, start, index)
  }

  /** A forwarded packet (client → BE address) back to what the client sent, in place. */
  invertForward(bytes: Uint8Array, linkType: number, capLen = -1, origLen = -1, start = 0, index?: number): RewriteResult {
    return this.run(OP_INV_FORWARD, bytes, linkType, capLen, origLen, start, index)
  }

  /** A return packet (VIP → client) back to what the BE's TCP sent, in place. */
  invertReturn(bytes: Uint8Array, linkType: number, capLen = -1, origLen = -1, start = 0, index?: number): RewriteResult {
    return this.run(OP_INV_RETURN, bytes, linkType, capLen, origLen, start, index)
  }

  /**
   * Whether rewriteForward (fwd) or rewriteReturn would rewrite this frame (status 'ok'), found without
   * writing anything: the frame is decoded and checked as those do, and the decoder then holds it (its
   * fields as read, its offsets). For a caller that can tell what the rewrite would write from those fields
   * alone (the analyzer's checks compare a candidate's rewrite with the segment seen), so that it need not
   * copy the frame to rewrite it. Not counted in `packets`; the result is left alone.
   */
  accepts(fwd: boolean, bytes: Uint8Array, linkType: number, capLen: number, origLen: number, start = 0): boolean {
    const dec = this.dec.decode(linkType, bytes, capLen, origLen, start)
    if (!checkRewritable(dec, this.probe.reset())) return false
    return fwd ? matchesForward(dec, this.state, false) : matchesReturn(dec, this.state, false)
  }

  /** accepts's result (checkRewritable writes why it refuses): apart from the one callers read. */
  private readonly probe = new RewriteResult()

  private run(op: number, bytes: Uint8Array, linkType: number, capLen: number, origLen: number, start: number,
    index: number | undefined): RewriteResult {
    const res = this.res.reset()
    this.packets++
    if (capLen < 0) capLen = bytes.length - start
    if (origLen < 0) origLen = capLen
    const dec = this.dec.decode(linkType, bytes, capLen, origLen, start)
    if (!checkRewritable(dec, res)) return res
    const st = this.state
    const fwd = op === OP_FORWARD || op === OP_INV_FORWARD
    const invert = op >= OP_INV_FORWARD
    if (!(fwd ? matchesForward(dec, st, invert) : matchesReturn(dec, st, invert))) {
      return res.fail('not-this-connection', fwd ? (invert ? 'not client → BE' : 'not client → VIP') : (invert ? 'not VIP → client' : 'not BE → client'))
    }
    res.unverifiable = !segmentComplete(dec)
    // Keep the input's verdicts before the rewrite overwrites the bytes.
    const ipBefore: ChecksumStatus = dec.ipChecksumStatus
    const tcpBefore: ChecksumStatus = dec.l4ChecksumStatus
    if (fwd) applyForward(dec, st, res, invert)
    else applyReturn(dec, st, res, invert)
    if (this.verifier !== null) {
      this.verifier.check(OPS[op], index ?? this.packets, bytes, linkType, capLen, origLen, start, ipBefore, tcpBefore)
    }
    return res
  }
}

/**
 * The decoded frame is a TCP segment whose every field §4 names can be
 * rewritten; otherwise sets the result's status and returns false.
 */
export function checkRewritable(dec: PacketDecoder, res: RewriteResult): boolean {
  if (dec.linkKind === 'none' || dec.hasAnomaly('unsupported-link-type')) return !res.fail('unsupported', 'link type not decoded')
  if (dec.network !== 'ipv4' && dec.network !== 'ipv6') {
    if (dec.etherType < 0 && dec.snaplenTruncated) return !res.fail('truncated', 'capture ends in the link header')
    if (dec.etherType < 0 && dec.anomalyCount > 0) return !res.fail('malformed', 'link header damaged')
    return !res.fail('not-tcp', 'not IP')
  }
  if (dec.ipVersion === 0 || dec.ipHeaderLen === 0) {
    if (dec.hasAnomaly('truncated-ip-header')) return !res.fail('truncated', 'capture ends in the IP header')
    return !res.fail('malformed', 'IP header damaged')
  }
  if (dec.isFragment) return !res.fail('fragment', 'IP fragment')
  if (dec.hasAnomaly('truncated-ipv6-ext-header')) return !res.fail('truncated', 'capture ends in an IPv6 extension header')
  if (dec.hasAnomaly('bad-ip-total-length') || dec.hasAnomaly('bad-ipv6-ext-header-length') ||
    dec.hasAnomaly('ip-total-length-exceeds-capture')) {
    return !res.fail('malformed', 'IP length cannot be trusted')
  }
  if (dec.proto !== 6) return !res.fail('not-tcp', 'not TCP')
  for (let i = 0; i < dec.ipv6ExtCount; i++) {
    if (dec.ipv6ExtTypes[i] === 43) return !res.fail('unsupported', 'IPv6 routing header')
  }
  if (dec.l4HeaderLen === 0) {
    if (dec.hasAnomaly('truncated-tcp-header')) return !res.fail('truncated', 'capture ends in the TCP header')
    return !res.fail('malformed', 'bad TCP data offset')
  }
  if (dec.hasAnomaly('bad-tcp-option-length')) return !res.fail('malformed', 'TCP options cannot be parsed')
  return true
}
