// Window rescaling of the return direction (spec §4) and its inverse.
//
// The BE's TCP writes its receive window right-shifted by wsB (its announced
// shift); the client reads the field left-shifted by wsF (the FE's). So the
// window in bytes is W << wsB, and the field the client must see is
// (W << wsB) >> wsF, clamped to the 16 bits the field has.
//
// Never on a segment with SYN set: RFC 7323 §2.2 — "The window field in a
// SYN (i.e., a <SYN> or <SYN,ACK>) segment itself is never scaled." Its
// field is already the window in bytes for both sides, so rescaling it would
// be wrong (and the BE's SYN/ACK is dropped anyway, spec §2 step 7; the rule
// matters when the engine is asked to compute what such a segment would be).
//
// Rescaling is lossy, so the inverse is exact only sometimes:
//   wsB > wsF (k = wsB − wsF): f(W) = min(0xFFFF, W << k). Exact when the
//     observed field has its k low bits clear; 0xFFFF means clamped (any W
//     ≥ (0xFFFF >> k) + 1).
//   wsB < wsF (k = wsF − wsB): f(W) = W >> k drops k bits: 2^k windows map to
//     each field value, so the inverse is never exact.
// When it is not exact, unscaleWindow gives the LOWEST window consistent with
// the observation (the BE offered at least that much).

/** The field the client must see for a BE window field w (no SYN; wsB ≠ wsF). */
export function rescaleWindow(w: number, wsB: number, wsF: number): number {
  const v = (w << wsB) >>> wsF // w ≤ 0xFFFF and shifts ≤ 14: fits in 31 bits
  return v > 0xffff ? 0xffff : v
}

/** rescaleWindow had to clamp. */
export function rescaleClamps(w: number, wsB: number, wsF: number): boolean {
  return (w << wsB) >>> wsF > 0xffff
}

/** The lowest BE window field w with rescaleWindow(w) === observed (or the nearest when none exists). */
export function unscaleWindow(observed: number, wsB: number, wsF: number): number {
  if (wsB > wsF) {
    const k = wsB - wsF
    if ((observed & ((1 << k) - 1)) === 0) return observed >>> k
    if (observed === 0xffff) return (0xffff >>> k) + 1 // clamped
    return observed >>> k // no window maps here
  }
  const k = wsF - wsB
  const v = observed << k
  return v > 0xffff ? 0xffff : v
}

/** unscaleWindow's answer is the only window that maps to observed. */
export function unscaleExact(observed: number, wsB: number, wsF: number): boolean {
  if (wsB === wsF) return true
  if (wsB > wsF) return (observed & ((1 << (wsB - wsF)) - 1)) === 0
  return false
}
