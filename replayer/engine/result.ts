// The outcome of one rewrite. The Engine owns ONE RewriteResult and resets
// and returns it on every call, so the hot path allocates nothing: read what
// you need before the next call (or copy it).

/**
 * - 'ok': the packet was rewritten in place.
 * - 'not-tcp': not IPv4/IPv6, or not TCP. Untouched.
 * - 'not-this-connection': TCP, but not the 4-tuple this direction applies to. Untouched.
 * - 'truncated': the capture ends inside the link, IP or TCP header (options
 *   included), so not every field §4 names can be rewritten. Untouched.
 *   (A packet whose headers are complete but whose payload was cut is
 *   rewritten: status 'ok' with unverifiable = true.)
 * - 'malformed': the headers cannot be trusted (bad IP/TCP lengths, a TCP
 *   option whose framing is broken, an IP length past the capture). Untouched.
 * - 'fragment': an IP fragment. A non-first fragment has no TCP header to
 *   match; a first fragment's checksum covers bytes we do not have. Untouched.
 * - 'unsupported': a link type the packet layer does not decode, or IPv6 with
 *   a routing header (its pseudo-header uses the final destination). Untouched.
 */
export type RewriteStatus = 'ok' | 'not-tcp' | 'not-this-connection' | 'truncated' | 'malformed' | 'fragment' | 'unsupported'

/**
 * How the TCP checksum field was treated:
 * - 'full': an ordinary checksum (valid or not): updated with RFC 1624 eqn. 3
 *   for every changed field, so a valid one stays valid and a wrong one stays
 *   wrong by the same amount (the engine never hides an upstream error).
 * - 'partial': CHECKSUM_PARTIAL offload pattern (the field holds the folded
 *   pseudo-header sum). Only the address change is folded in, so the field is
 *   again the pseudo-header sum of the new packet: still partial, and what
 *   the NIC would complete correctly.
 * - 'partial-complement': the same, with the complemented sum stored.
 */
export type TcpChecksumKind = 'full' | 'partial' | 'partial-complement'

export class RewriteResult {
  status: RewriteStatus = 'ok'
  /** A short constant phrase saying why, for statuses other than 'ok' ('' for ok). */
  detail = ''
  /** Rewritten, but the TCP checksum cannot be checked: the payload was not fully captured (capLen < origLen). */
  unverifiable = false
  tcpChecksum: TcpChecksumKind = 'full'
  /** The Ethernet destination MAC was rewritten (forward: bmac; invertForward: feMac). */
  macRewritten = false
  /** rewriteReturn: the rescaled window did not fit 16 bits and was clamped to 0xFFFF. */
  windowClamped = false
  /**
   * invertReturn: false when the window the BE sent cannot be known exactly
   * (rescaling dropped low bits, or clamped); the field then holds the lowest
   * window consistent with what was observed. Always true for other operations.
   */
  windowExact = true

  get ok(): boolean {
    return this.status === 'ok'
  }

  /** @internal */
  reset(): this {
    this.status = 'ok'
    this.detail = ''
    this.unverifiable = false
    this.tcpChecksum = 'full'
    this.macRewritten = false
    this.windowClamped = false
    this.windowExact = true
    return this
  }

  /** @internal */
  fail(status: RewriteStatus, detail: string): this {
    this.status = status
    this.detail = detail
    return this
  }
}
