// TCP options (RFC 9293 §3.1; MSS 2, window scale 3 (RFC 7323), SACK
// permitted 4 and SACK 5 (RFC 2018), timestamps 8 (RFC 7323)). Parsing writes
// into a caller-owned sink (the decoder itself) so the hot path allocates
// nothing; it records where TSval and each SACK block sit, because the
// rewrite engine patches them in place. A malformed option never throws: the
// scan reports where it went wrong.
import {readU32, writeU32} from './addr.js'
import {WireError} from './anomaly.js'

export const TCPOPT = {
  EOL: 0,
  NOP: 1,
  MSS: 2,
  WSCALE: 3,
  SACK_PERMITTED: 4,
  SACK: 5,
  TIMESTAMP: 8,
  MPTCP: 30,
  FASTOPEN: 34,
} as const

/** RFC 7323 §2.3: shifts above 14 are treated as 14. */
export const TCP_MAX_WSCALE = 14
/** 40 bytes of option space hold at most 4 SACK blocks. */
export const TCP_MAX_SACK_BLOCKS = 4
/** Two bytes is the least an unknown option takes, so 20 fit in 40 bytes. */
export const TCP_MAX_UNKNOWN_OPTIONS = 20

/** Where scanTcpOptions() puts what it finds; PacketDecoder and TcpOptionsView implement it. */
export interface TcpOptionsSink {
  mss: number // -1 when absent
  wscale: number // shift as sent (not clamped), -1 when absent
  sackPermitted: boolean
  sackCount: number
  /** left0, right0, left1, right1, … (uint32) */
  sackEdges: Uint32Array
  /** Offset of each block's left edge in the packet (right edge is +4). */
  sackOffsets: Int32Array
  hasTimestamp: boolean
  tsVal: number
  tsEcr: number
  /** Offset of TSval in the packet (TSecr is +4), -1 when absent. */
  tsOffset: number
  unknownOptCount: number
  unknownOptKinds: Uint8Array
  /** Offset of each unknown option's kind byte; its bytes are [off, off + len). */
  unknownOptOffsets: Int32Array
  unknownOptLens: Uint8Array
}

/** Clears the option fields of a sink. */
export function resetTcpOptions(s: TcpOptionsSink): void {
  s.mss = -1
  s.wscale = -1
  s.sackPermitted = false
  s.sackCount = 0
  s.hasTimestamp = false
  s.tsVal = 0
  s.tsEcr = 0
  s.tsOffset = -1
  s.unknownOptCount = 0
}

/** Result of scanTcpOptions when all options were well formed. */
export const OPTIONS_OK = -1

/**
 * Scans options in bytes[start, end). Returns OPTIONS_OK, or the offset of the
 * first malformed option: a length byte missing, < 2 or running past end (the
 * scan stops there — the rest cannot be framed), or a known option with the
 * wrong length (skipped using its length byte; the scan goes on and the
 * first such offset is returned). The sink is NOT reset here.
 */
export function scanTcpOptions(b: Uint8Array, start: number, end: number, s: TcpOptionsSink): number {
  let bad = OPTIONS_OK
  let i = start
  while (i < end) {
    const kind = b[i]
    if (kind === 0) break // EOL: the rest is padding
    if (kind === 1) { i++; continue }
    if (i + 1 >= end) return bad === OPTIONS_OK ? i : bad
    const len = b[i + 1]
    if (len < 2 || i + len > end) return bad === OPTIONS_OK ? i : bad
    switch (kind) {
      case 2:
        if (len === 4) s.mss = (b[i + 2] << 8) | b[i + 3]
        else if (bad === OPTIONS_OK) bad = i
        break
      case 3:
        if (len === 3) s.wscale = b[i + 2]
        else if (bad === OPTIONS_OK) bad = i
        break
      case 4:
        if (len === 2) s.sackPermitted = true
        else if (bad === OPTIONS_OK) bad = i
        break
      case 5:
        if ((len - 2) % 8 !== 0 || len === 2) {
          if (bad === OPTIONS_OK) bad = i
          break
        }
        for (let o = i + 2; o < i + len && s.sackCount < TCP_MAX_SACK_BLOCKS; o += 8) {
          const k = s.sackCount++
          s.sackOffsets[k] = o
          s.sackEdges[2 * k] = ((b[o] << 24) | (b[o + 1] << 16) | (b[o + 2] << 8) | b[o + 3]) >>> 0
          s.sackEdges[2 * k + 1] = ((b[o + 4] << 24) | (b[o + 5] << 16) | (b[o + 6] << 8) | b[o + 7]) >>> 0
        }
        break
      case 8:
        if (len === 10) {
          s.hasTimestamp = true
          s.tsOffset = i + 2
          s.tsVal = ((b[i + 2] << 24) | (b[i + 3] << 16) | (b[i + 4] << 8) | b[i + 5]) >>> 0
          s.tsEcr = ((b[i + 6] << 24) | (b[i + 7] << 16) | (b[i + 8] << 8) | b[i + 9]) >>> 0
        } else if (bad === OPTIONS_OK) bad = i
        break
      default:
        if (s.unknownOptCount < TCP_MAX_UNKNOWN_OPTIONS) {
          const k = s.unknownOptCount++
          s.unknownOptKinds[k] = kind
          s.unknownOptOffsets[k] = i
          s.unknownOptLens[k] = len
        }
    }
    i += len
  }
  return bad
}

/** A sink's fields, as a class to extend: TcpOptionsView, and readers that scan options into themselves. */
export class TcpOptionsFields implements TcpOptionsSink {
  mss = -1
  wscale = -1
  sackPermitted = false
  sackCount = 0
  sackEdges = new Uint32Array(2 * TCP_MAX_SACK_BLOCKS)
  sackOffsets = new Int32Array(TCP_MAX_SACK_BLOCKS)
  hasTimestamp = false
  tsVal = 0
  tsEcr = 0
  tsOffset = -1
  unknownOptCount = 0
  unknownOptKinds = new Uint8Array(TCP_MAX_UNKNOWN_OPTIONS)
  unknownOptOffsets = new Int32Array(TCP_MAX_UNKNOWN_OPTIONS)
  unknownOptLens = new Uint8Array(TCP_MAX_UNKNOWN_OPTIONS)
}

/**
 * In-place access to the options of one TCP header: finds TSval/TSecr and the
 * SACK blocks once, then reads and writes them where they are. Writing does not
 * touch the TCP checksum (use checksum.ts rewrite32 with the offsets, or
 * recompute).
 */
export class TcpOptionsView extends TcpOptionsFields {
  /** OPTIONS_OK or the offset of the first malformed option. */
  readonly malformedAt: number

  /** start/end: the options area (TCP header offset + 20 to header end). */
  constructor(readonly bytes: Uint8Array, readonly start: number, readonly end: number) {
    super()
    this.malformedAt = scanTcpOptions(bytes, start, end, this)
  }

  static checked(bytes: Uint8Array, start: number, end: number): TcpOptionsView {
    const v = new TcpOptionsView(bytes, start, end)
    if (v.malformedAt !== OPTIONS_OK) throw new WireError('bad-tcp-option-length', `bad TCP option at ${v.malformedAt}`)
    return v
  }

  getTsVal(): number { return readU32(this.bytes, this.tsOffset) }
  setTsVal(v: number): void { this.requireTs(); writeU32(this.bytes, this.tsOffset, v) }
  getTsEcr(): number { return readU32(this.bytes, this.tsOffset + 4) }
  setTsEcr(v: number): void { this.requireTs(); writeU32(this.bytes, this.tsOffset + 4, v) }
  sackLeft(i: number): number { return readU32(this.bytes, this.blockOffset(i)) }
  sackRight(i: number): number { return readU32(this.bytes, this.blockOffset(i) + 4) }
  setSackLeft(i: number, v: number): void { writeU32(this.bytes, this.blockOffset(i), v) }
  setSackRight(i: number, v: number): void { writeU32(this.bytes, this.blockOffset(i) + 4, v) }

  private requireTs(): void {
    if (this.tsOffset < 0) throw new RangeError('no timestamp option')
  }
  private blockOffset(i: number): number {
    if (i < 0 || i >= this.sackCount) throw new RangeError(`no SACK block ${i}`)
    return this.sackOffsets[i]
  }
}

export interface UnknownTcpOption {
  kind: number
  /** Option data after kind and length. */
  data: Uint8Array
}

/**
 * Plain value form of a TCP option list. emit() lays options out either the
 * way Linux does ('linux': MSS, SACK-permitted+TS or NOP NOP TS, NOP WS,
 * NOP NOP SACK; every 32-bit field 4-aligned) or back to back ('compact':
 * MSS, WS, SACK-permitted, TS, SACK with no NOPs, so 32-bit fields sit at odd
 * offsets — useful to test checksum updates).
 * The list is padded to a multiple of 4 with EOL + zeros.
 */
export class TcpOptionsRepr {
  mss?: number
  wscale?: number
  sackPermitted = false
  sack: Array<[number, number]> = []
  timestamp?: {tsVal: number; tsEcr: number}
  unknown: UnknownTcpOption[] = []

  constructor(init: Partial<Pick<TcpOptionsRepr, 'mss' | 'wscale' | 'sackPermitted' | 'sack' | 'timestamp' | 'unknown'>> = {}) {
    Object.assign(this, init)
  }

  /** Parses bytes[start, end); throws WireError('bad-tcp-option-length') when malformed. */
  static parse(bytes: Uint8Array, start: number, end: number): TcpOptionsRepr {
    const v = TcpOptionsView.checked(bytes, start, end)
    const r = new TcpOptionsRepr()
    if (v.mss >= 0) r.mss = v.mss
    if (v.wscale >= 0) r.wscale = v.wscale
    r.sackPermitted = v.sackPermitted
    for (let i = 0; i < v.sackCount; i++) r.sack.push([v.sackEdges[2 * i], v.sackEdges[2 * i + 1]])
    if (v.hasTimestamp) r.timestamp = {tsVal: v.tsVal, tsEcr: v.tsEcr}
    for (let i = 0; i < v.unknownOptCount; i++) {
      const o = v.unknownOptOffsets[i]
      r.unknown.push({kind: v.unknownOptKinds[i], data: bytes.slice(o + 2, o + v.unknownOptLens[i])})
    }
    return r
  }

  /** Byte length emit() writes for a layout (padded to a multiple of 4). */
  length(layout: 'linux' | 'compact' = 'linux'): number {
    return (this.rawLength(layout) + 3) & ~3
  }

  private rawLength(layout: 'linux' | 'compact'): number {
    const linux = layout === 'linux'
    let n = 0
    if (this.mss !== undefined) n += 4
    if (this.timestamp) n += this.sackPermitted ? 12 : linux ? 12 : 10
    else if (this.sackPermitted) n += linux ? 4 : 2
    if (this.wscale !== undefined) n += linux ? 4 : 3
    if (this.sack.length > 0) n += 2 + 8 * this.sack.length + (linux ? 2 : 0)
    for (const u of this.unknown) n += 2 + u.data.length
    return n
  }

  /** Writes the options at bytes[off..] and returns the padded length written. */
  emit(bytes: Uint8Array, off: number, layout: 'linux' | 'compact' = 'linux'): number {
    const linux = layout === 'linux'
    let i = off
    if (this.mss !== undefined) {
      bytes[i++] = 2; bytes[i++] = 4; bytes[i++] = this.mss >> 8; bytes[i++] = this.mss & 0xff
    }
    // Compact puts the 3-byte window scale first so the 32-bit fields after it
    // land on odd offsets.
    if (!linux && this.wscale !== undefined) { bytes[i++] = 3; bytes[i++] = 3; bytes[i++] = this.wscale }
    if (this.timestamp) {
      if (this.sackPermitted) { bytes[i++] = 4; bytes[i++] = 2 } else if (linux) { bytes[i++] = 1; bytes[i++] = 1 }
      bytes[i++] = 8; bytes[i++] = 10
      writeU32(bytes, i, this.timestamp.tsVal); writeU32(bytes, i + 4, this.timestamp.tsEcr); i += 8
    } else if (this.sackPermitted) {
      if (linux) { bytes[i++] = 1; bytes[i++] = 1 }
      bytes[i++] = 4; bytes[i++] = 2
    }
    if (linux && this.wscale !== undefined) { bytes[i++] = 1; bytes[i++] = 3; bytes[i++] = 3; bytes[i++] = this.wscale }
    if (this.sack.length > 0) {
      if (this.sack.length > TCP_MAX_SACK_BLOCKS) throw new RangeError('at most 4 SACK blocks fit')
      if (linux) { bytes[i++] = 1; bytes[i++] = 1 }
      bytes[i++] = 5; bytes[i++] = 2 + 8 * this.sack.length
      for (const [l, r] of this.sack) { writeU32(bytes, i, l); writeU32(bytes, i + 4, r); i += 8 }
    }
    for (const u of this.unknown) {
      bytes[i++] = u.kind; bytes[i++] = 2 + u.data.length
      bytes.set(u.data, i); i += u.data.length
    }
    const padded = (i - off + 3) & ~3
    if (padded > 40) throw new RangeError(`TCP options take ${i - off} bytes, at most 40 fit`)
    bytes.fill(0, i, off + padded) // EOL then zeros
    return padded
  }
}
