// Streaming parser for classic pcap: both byte orders, microsecond
// (a1b2c3d4) and nanosecond (a1b23c4d) magic, and Kuznetzov's "modified"
// pcap (a1b2cd34, 24-byte record headers).

import {CaptureError, MAX_CAPLEN, type CaptureHandlers, type CaptureInterface, type FileInfo, type ParserOptions} from './types.js'
import {StreamParser, u16be, u16le, u32be, u32le} from './stream-parser.js'

export const PCAP_MAGIC_US = 0xa1b2c3d4
export const PCAP_MAGIC_NS = 0xa1b23c4d
export const PCAP_MAGIC_MODIFIED = 0xa1b2cd34
const FILE_HDR = 24

/** Recognises a pcap magic in the first 4 bytes; null when it is not one. */
export function pcapMagicKind(b: Uint8Array, i = 0): {le: boolean; ns: boolean; modified: boolean} | null {
  const be = u32be(b, i)
  const le = u32le(b, i)
  for (const [v, isLe] of [[le, true], [be, false]] as const) {
    if (v === PCAP_MAGIC_US) return {le: isLe, ns: false, modified: false}
    if (v === PCAP_MAGIC_NS) return {le: isLe, ns: true, modified: false}
    if (v === PCAP_MAGIC_MODIFIED) return {le: isLe, ns: false, modified: true}
  }
  return null
}

export class PcapParser extends StreamParser {
  /** Filled in once the file header has been read. */
  info: FileInfo | null = null
  readonly interfaces: CaptureInterface[] = []
  private headerDone = false
  private le = true
  private ns = false
  private hdrLen = 16
  private linkType = 0
  private snapLen = 0
  /** cap > this triggers the checks (a one-time 'caplen-exceeds-snaplen' warning, the size limit). */
  private snapWarn = MAX_CAPLEN
  private fracLimit = 1e6
  private fracMul = 1000

  constructor(handlers: CaptureHandlers, opts?: ParserOptions) {
    super(handlers, opts)
    this.need = 4 // the magic first, so that garbage is reported however the input is chunked
  }

  private readHeader(b: Uint8Array, p: number): void {
    const kind = pcapMagicKind(b, p)
    if (kind === null) {
      const hex = Array.from(b.subarray(p, p + 4), (x) => x.toString(16).padStart(2, '0')).join(' ')
      throw this.err('bad-magic', 0, 'unknown magic', `${hex} is not a pcap magic number`)
    }
    const le = (this.le = kind.le)
    this.ns = kind.ns
    this.hdrLen = kind.modified ? 24 : 16
    this.fracLimit = kind.ns ? 1e9 : 1e6
    this.fracMul = kind.ns ? 1 : 1000
    const major = le ? u16le(b, p + 4) : u16be(b, p + 4)
    const minor = le ? u16le(b, p + 6) : u16be(b, p + 6)
    const snap = le ? u32le(b, p + 16) : u32be(b, p + 16)
    const net = le ? u32le(b, p + 20) : u32be(b, p + 20)
    // The top bits of the link-type field carry FCS information (RFC 9xxx draft).
    this.linkType = net & 0xffff
    this.snapLen = snap
    this.snapWarn = snap > 0 && snap < MAX_CAPLEN ? snap : MAX_CAPLEN
    if (major !== 2) {
      this.warn(0, 'unsupported-version', `pcap version ${major}.${minor} (expected 2.x); reading anyway`)
    }
    const info: FileInfo = {
      format: 'pcap',
      byteOrder: le ? 'little' : 'big',
      gzip: this.gzip,
      sections: 1,
      comments: [],
      version: `${major}.${minor}`,
    }
    if (kind.modified) info.variant = 'modified'
    this.info = info
    const iface: CaptureInterface = {
      id: 0,
      section: 0,
      linkType: this.linkType,
      snapLen: snap,
      tsUnitsPerSec: kind.ns ? 1e9 : 1e6,
      tsOffsetSec: 0,
      comments: [],
    }
    this.interfaces.push(iface)
    this.rec.linkType = this.linkType
    this.rec.interfaceId = 0
    this.rec.hasTimestamp = true
    this.rec.comments = null
    this.handlers.onInfo?.(info)
    this.handlers.onInterface?.(iface)
  }

  protected parse(b: Uint8Array, pos: number, end: number): number {
    const delta = this.consumed - pos
    let p = pos
    if (!this.headerDone) {
      if (end - p < FILE_HDR) {
        // Check the magic early so garbage is reported without waiting for 24 bytes.
        if (end - p >= 4 && pcapMagicKind(b, p) === null) this.readHeader(b, p)
        this.need = end - p >= 4 ? FILE_HDR : 4
        return p
      }
      this.readHeader(b, p)
      this.headerDone = true
      p += FILE_HDR
    }
    const hl = this.hdrLen
    const le = this.le
    const rec = this.rec
    const handlers = this.handlers
    const fracMul = this.fracMul
    for (;;) {
      const avail = end - p
      if (avail < hl) {
        this.need = hl
        break
      }
      let sec: number, frac: number, cap: number, orig: number
      if (le) {
        sec = (b[p] | (b[p + 1] << 8) | (b[p + 2] << 16) | (b[p + 3] << 24)) >>> 0
        frac = (b[p + 4] | (b[p + 5] << 8) | (b[p + 6] << 16) | (b[p + 7] << 24)) >>> 0
        cap = (b[p + 8] | (b[p + 9] << 8) | (b[p + 10] << 16) | (b[p + 11] << 24)) >>> 0
        orig = (b[p + 12] | (b[p + 13] << 8) | (b[p + 14] << 16) | (b[p + 15] << 24)) >>> 0
      } else {
        sec = ((b[p] << 24) | (b[p + 1] << 16) | (b[p + 2] << 8) | b[p + 3]) >>> 0
        frac = ((b[p + 4] << 24) | (b[p + 5] << 16) | (b[p + 6] << 8) | b[p + 7]) >>> 0
        cap = ((b[p + 8] << 24) | (b[p + 9] << 16) | (b[p + 10] << 8) | b[p + 11]) >>> 0
        orig = ((b[p + 12] << 24) | (b[p + 13] << 16) | (b[p + 14] << 8) | b[p + 15]) >>> 0
      }
      if (cap > this.snapWarn) this.caplenCheck(cap, delta + p)
      if (avail - hl < cap) {
        this.need = hl + cap
        break
      }
      if (frac >= this.fracLimit) {
        // Out-of-range fraction: normalise (exactly) instead of failing.
        sec += Math.floor(frac / this.fracLimit)
        frac %= this.fracLimit
      }
      rec.index = ++this.packets
      rec.tsSec = sec
      rec.tsNsec = frac * fracMul
      rec.capLen = cap
      rec.origLen = orig
      rec.fileOffset = delta + p
      rec.buffer = b
      rec.dataOffset = p + hl
      p += hl + cap
      handlers.onPacket(rec)
    }
    this.consumed = delta + p
    return p
  }

  private caplenCheck(cap: number, offset: number): void {
    if (cap > MAX_CAPLEN) {
      throw this.err('caplen-too-large', offset, 'impossible record',
        `captured length ${cap} exceeds the ${MAX_CAPLEN}-byte limit`)
    }
    this.warn(offset, 'caplen-exceeds-snaplen',
      `record at byte ${offset} has captured length ${cap} > snaplen ${this.snapLen} (reported once)`)
    this.snapWarn = MAX_CAPLEN
  }

  protected truncated(): CaptureError {
    const n = this.pendLen
    const off = this.consumed
    if (!this.headerDone) {
      if (n === 0) return this.err('truncated-header', 0, 'empty file', 'no pcap file header (0 bytes)')
      return this.err('truncated-header', 0, 'truncated file header', `need ${FILE_HDR} bytes, only ${n} remain`)
    }
    if (n < this.hdrLen) {
      return this.err('truncated-header', off, 'truncated record header', `need ${this.hdrLen} bytes, only ${n} remain`)
    }
    const b = this.pend
    const cap = this.le ? u32le(b, 8) : u32be(b, 8)
    return this.err('truncated-record', off, 'truncated record',
      `header says ${cap} bytes of packet data, only ${n - this.hdrLen} remain`)
  }
}
