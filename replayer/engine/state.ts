// TranslationState: everything the §4 rewrites of one handed-off connection
// need, reduced to numbers and byte arrays so the hot path only compares and
// copies (no strings, no parsing, no allocation per packet).
//
// Built from the two control messages (fromControl) or from explicit values
// (fromValues, for tests, the replayer's --delta style flags, and captures
// where the control channel was not recorded). Both paths validate and throw
// EngineConfigError with a message that names the offending field.
//
// Window-scale shifts — what the spec implies:
//   RFC 7323 §2.2/§2.3: window scaling is in effect on a connection only when
//   BOTH ends sent the option in their SYNs; a <SYN,ACK> may carry it only if
//   the <SYN> did; when it is not in effect the shift is 0 in both directions;
//   a shift above 14 MUST be used as 14.
//   The client's SYN is the same one both TCPs saw (the BE gets it replayed),
//   so for each of the two TCP connections the question is only whether that
//   node's SYN/ACK carried the option:
//     wsF = fopt.ws when present (the client then scales what it reads by it),
//           else 0 — the client reads the FE's windows unscaled.
//     wsB = bopt.ws when present (the BE's TCP writes window >> wsB), else 0.
//   If the client's SYN had no window scale, neither SYN/ACK may carry one
//   and both are 0: nothing to rescale. Each shift is clamped to 14.
//   Spec gap (not ours to fix here): the forward direction leaves the
//   client's window as is, which is right only when the client's own shift is
//   in effect on both connections (i.e. both fopt.ws and bopt.ws present or
//   both absent). With fopt.ws present and bopt.ws absent the BE under-reads
//   the client's window (harmless, slow); the reverse case over-reads it.
//
// Timestamps: τ exists only when both SYN/ACKs carried the timestamp option
// (fopt.ts && bopt.ts) and both fts and bts are known. Otherwise tsActive is
// false and no TSval/TSecr is touched in either direction.
import type {HandoffAck, HandoffReq} from '../../analyzer/control/messages.js'
import {formatIpv4, formatIpv6, formatMac, parseIpv4Bytes, parseIpv6, parseMac} from '../../analyzer/wire/addr.js'

/** RFC 7323 §2.3: a received shift above 14 is used as 14. */
export const MAX_WSCALE = 14

/** Invalid translation parameters (bad address, mixed families, out-of-range number…). */
export class EngineConfigError extends Error {
  constructor(message: string) {
    super(message)
    this.name = 'EngineConfigError'
  }
}

/** Explicit parameters for fromValues(). Give either delta or fiss+biss; tau, or fts+bts, or neither (no TS translation). */
export interface TranslationValues {
  /** Client address and port. */
  cip: string
  cport: number
  /** The FE's address as the client sees it, and the service port. */
  vip: string
  vport: number
  /** The BE's address, and its MAC (forward rewrites the Ethernet destination to it when given). */
  baddr: string
  bmac?: string
  /** The FE's MAC: lets invertForward restore the Ethernet destination. */
  feMac?: string
  /** Sequence offset Δ = (biss − fiss) mod 2^32. */
  delta?: number
  fiss?: number
  biss?: number
  /** Timestamp offset τ = (bts − fts) mod 2^32; absent = no timestamp translation. */
  tau?: number
  fts?: number
  bts?: number
  /** Window-scale shifts in effect (0 when not negotiated); clamped to 14. */
  wsF?: number
  wsB?: number
}

function uint32(name: string, v: unknown): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > 0xffffffff) {
    throw new EngineConfigError(`${name} must be an unsigned 32-bit integer, got ${String(v)}`)
  }
  return v
}

function port(name: string, v: unknown): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > 0xffff) {
    throw new EngineConfigError(`${name} must be a port number 0..65535, got ${String(v)}`)
  }
  return v
}

function shift(name: string, v: unknown): number {
  if (v === undefined) return 0
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > 255) {
    throw new EngineConfigError(`${name} must be a window-scale shift 0..255, got ${String(v)}`)
  }
  return Math.min(v, MAX_WSCALE)
}

function addr(name: string, s: unknown): {bytes: Uint8Array; family: 4 | 6} {
  if (typeof s !== 'string') throw new EngineConfigError(`${name} must be an IP address string, got ${String(s)}`)
  try {
    return s.includes(':') ? {bytes: parseIpv6(s), family: 6} : {bytes: parseIpv4Bytes(s), family: 4}
  } catch {
    throw new EngineConfigError(`${name} is not an IPv4 or IPv6 address: ${JSON.stringify(s)}`)
  }
}

function mac(name: string, s: string | undefined): Uint8Array | null {
  if (s === undefined) return null
  try {
    return parseMac(s)
  } catch {
    throw new EngineConfigError(`${name} is not a MAC address: ${JSON.stringify(s)}`)
  }
}

export class TranslationState {
  /** 4 or 6: every address of the connection is of this family. */
  readonly family: 4 | 6
  /** Bytes per address (4 or 16). */
  readonly addrLen: number
  readonly cip: Uint8Array
  readonly cport: number
  readonly vip: Uint8Array
  readonly vport: number
  readonly baddr: Uint8Array
  /** null when unknown: the Ethernet destination is then left alone. */
  readonly bmac: Uint8Array | null
  readonly feMac: Uint8Array | null
  /** Δ = (biss − fiss) mod 2^32. */
  readonly delta: number
  /** (−Δ) mod 2^32, precomputed so the hot path does no uint32 arithmetic of its own. */
  readonly negDelta: number
  /** Timestamps are translated (both SYN/ACKs had them and both values are known). */
  readonly tsActive: boolean
  /** τ = (bts − fts) mod 2^32; 0 when !tsActive. */
  readonly tau: number
  /** (−τ) mod 2^32. */
  readonly negTau: number
  /** Shifts in effect, 0..14. */
  readonly wsF: number
  readonly wsB: number

  private constructor(v: {
    family: 4 | 6; cip: Uint8Array; cport: number; vip: Uint8Array; vport: number; baddr: Uint8Array
    bmac: Uint8Array | null; feMac: Uint8Array | null; delta: number; tsActive: boolean; tau: number; wsF: number; wsB: number
  }) {
    this.family = v.family
    this.addrLen = v.family === 4 ? 4 : 16
    this.cip = v.cip
    this.cport = v.cport
    this.vip = v.vip
    this.vport = v.vport
    this.baddr = v.baddr
    this.bmac = v.bmac
    this.feMac = v.feMac
    this.delta = v.delta >>> 0
    this.tsActive = v.tsActive
    this.tau = v.tsActive ? v.tau >>> 0 : 0
    this.negDelta = (-this.delta) >>> 0
    this.negTau = (-this.tau) >>> 0
    this.wsF = v.wsF
    this.wsB = v.wsB
  }

  /** Explicit values; see TranslationValues. */
  static fromValues(v: TranslationValues): TranslationState {
    const c = addr('cip', v.cip)
    const vi = addr('vip', v.vip)
    const b = addr('baddr', v.baddr)
    if (c.family !== vi.family || b.family !== vi.family) {
      throw new EngineConfigError(
        `address families differ: cip ${v.cip} (IPv${c.family}), vip ${v.vip} (IPv${vi.family}), baddr ${v.baddr} (IPv${b.family}); a handed-off connection has one family`)
    }
    let delta: number
    if (v.delta !== undefined) {
      if (v.fiss !== undefined || v.biss !== undefined) throw new EngineConfigError('give either delta or fiss+biss, not both')
      delta = uint32('delta', v.delta)
    } else {
      if (v.fiss === undefined || v.biss === undefined) throw new EngineConfigError('delta, or both fiss and biss, are required')
      delta = (uint32('biss', v.biss) - uint32('fiss', v.fiss)) >>> 0
    }
    let tsActive = false
    let tau = 0
    if (v.tau !== undefined) {
      if (v.fts !== undefined || v.bts !== undefined) throw new EngineConfigError('give either tau or fts+bts, not both')
      tau = uint32('tau', v.tau)
      tsActive = true
    } else if (v.fts !== undefined || v.bts !== undefined) {
      if (v.fts === undefined || v.bts === undefined) throw new EngineConfigError('fts and bts must be given together')
      tau = (uint32('bts', v.bts) - uint32('fts', v.fts)) >>> 0
      tsActive = true
    }
    return new TranslationState({
      family: vi.family,
      cip: c.bytes,
      cport: port('cport', v.cport),
      vip: vi.bytes,
      vport: port('vport', v.vport),
      baddr: b.bytes,
      bmac: mac('bmac', v.bmac),
      feMac: mac('feMac', v.feMac),
      delta,
      tsActive,
      tau,
      wsF: shift('wsF', v.wsF),
      wsB: shift('wsB', v.wsB),
    })
  }

  /**
   * From a handoff-req and its handoff-ack (same hid). feMac (the FE's MAC,
   * from its hello) is optional and only used by invertForward.
   */
  static fromControl(req: HandoffReq, ack: HandoffAck, opts: {feMac?: string} = {}): TranslationState {
    if (req.hid !== ack.hid) throw new EngineConfigError(`handoff-req ${req.hid} and handoff-ack ${ack.hid} are for different handoffs`)
    // Timestamps: only when both SYN/ACKs carried them (spec §4), and then both values must be there.
    const useTs = req.fopt.ts && ack.bopt.ts
    if (useTs && (req.fts === undefined || ack.bts === undefined)) {
      throw new EngineConfigError(
        `handoff ${req.hid}: both SYN/ACKs used timestamps but ${req.fts === undefined ? 'fts' : 'bts'} is missing`)
    }
    try {
      return TranslationState.fromValues({
        cip: req.cip,
        cport: req.cport,
        vip: req.vip,
        vport: req.vport,
        baddr: ack.baddr,
        bmac: ack.bmac,
        feMac: opts.feMac,
        fiss: req.fiss,
        biss: ack.biss,
        fts: useTs ? req.fts : undefined,
        bts: useTs ? ack.bts : undefined,
        wsF: req.fopt.ws,
        wsB: ack.bopt.ws,
      })
    } catch (e) {
      if (e instanceof EngineConfigError) throw new EngineConfigError(`handoff ${req.hid}: ${e.message}`)
      throw e
    }
  }

  /** Readable form (allocates): for logs, errors and --json. */
  describe(): {cip: string; cport: number; vip: string; vport: number; baddr: string; bmac: string | null; feMac: string | null;
    delta: number; tsActive: boolean; tau: number; wsF: number; wsB: number} {
    const f = (b: Uint8Array) => (this.family === 4 ? formatIpv4(b, 0) : formatIpv6(b, 0))
    return {
      cip: f(this.cip), cport: this.cport, vip: f(this.vip), vport: this.vport, baddr: f(this.baddr),
      bmac: this.bmac ? formatMac(this.bmac, 0) : null, feMac: this.feMac ? formatMac(this.feMac, 0) : null,
      delta: this.delta, tsActive: this.tsActive, tau: this.tau, wsF: this.wsF, wsB: this.wsB,
    }
  }
}
