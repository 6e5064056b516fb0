// Streaming parser for pcapng: both byte orders, several sections (each SHB
// may switch byte order; interface ids restart per section), any number of
// interfaces with their own link types, if_tsresol (10^-n and 2^-n) and
// if_tsoffset, EPB, SPB, the obsolete Packet Block, comments. Every other
// block (NRB, ISB, DSB, custom, unknown) is skipped after its length checks.

import {CaptureError, MAX_BLOCK_LEN, MAX_CAPLEN, type CaptureHandlers, type CaptureInterface, type FileInfo, type ParserOptions} from './types.js'
import {StreamParser, optString, u16be, u16le, u32be, u32le} from './stream-parser.js'
import {tsConvFromResol, tsConvert, type TsConv} from './timestamp.js'

export const BT_SHB = 0x0a0d0d0a
export const BT_IDB = 0x00000001
export const BT_PB = 0x00000002
export const BT_SPB = 0x00000003
export const BT_NRB = 0x00000004
export const BT_ISB = 0x00000005
export const BT_EPB = 0x00000006
export const BOM = 0x1a2b3c4d

const OPT_ENDOFOPT = 0
const OPT_COMMENT = 1

interface IfState {
  iface: CaptureInterface
  conv: TsConv
  snapLen: number
}

function pad4(n: number): number {
  return (n + 3) & ~3
}

function blockName(t: number): string {
  switch (t) {
    case BT_SHB: return 'SHB'
    case BT_IDB: return 'IDB'
    case BT_PB: return 'Packet Block'
    case BT_SPB: return 'SPB'
    case BT_NRB: return 'NRB'
    case BT_ISB: return 'ISB'
    case BT_EPB: return 'EPB'
    default: return `block type 0x${t.toString(16).padStart(8, '0')}`
  }
}

export class PcapngParser extends StreamParser {
  /** Filled in at the first SHB; kept up to date (sections, byteOrder, comments). */
  info: FileInfo | null = null
  readonly interfaces: CaptureInterface[] = []
  private section = -1
  private sectionIfs: IfState[] = []
  private le = true
  private warnedCaplen = false

  constructor(handlers: CaptureHandlers, opts?: ParserOptions) {
    super(handlers, opts)
    this.need = 12
  }

  private u32(b: Uint8Array, i: number): number {
    return this.le ? u32le(b, i) : u32be(b, i)
  }
  private u16(b: Uint8Array, i: number): number {
    return this.le ? u16le(b, i) : u16be(b, i)
  }

  protected parse(b: Uint8Array, pos: number, end: number): number {
    const delta = this.consumed - pos
    let p = pos
    const dv = new DataView(b.buffer, b.byteOffset, b.byteLength)
    for (;;) {
      const avail = end - p
      if (avail < 8) {
        this.need = this.section < 0 ? 12 : 8
        break
      }
      const le = this.le
      let type = dv.getUint32(p, le)
      if (type === BT_EPB && avail >= 32) {
        // Fast path for the common block: an EPB on a known interface.
        const len = dv.getUint32(p + 4, le)
        const cap = dv.getUint32(p + 20, le)
        const ifid = dv.getUint32(p + 8, le)
        const ifs = this.sectionIfs
        if ((len & 3) === 0 && len <= MAX_BLOCK_LEN && len >= 32 + cap && ifid < ifs.length) {
          if (avail < len) {
            this.need = len
            break
          }
          if (dv.getUint32(p + len - 4, le) === len) {
            const st = ifs[ifid]
            if (cap > st.snapLen && st.snapLen !== 0 && !this.warnedCaplen) this.caplenWarn(cap, st, delta + p)
            const rec = this.rec
            const hi = dv.getUint32(p + 12, le)
            const lo = dv.getUint32(p + 16, le)
            const c = st.conv
            if (c.kind === 0 && hi < 0x200000) {
              // inline copy of tsConvert's first case (value < 2^53, units | 1e9)
              const u = c.units
              const t = hi * 4294967296 + lo
              let sec = Math.floor(t * c.inv)
              let r = t - sec * u
              if (r < 0) {
                sec--
                r += u
              } else if (r >= u) {
                sec++
                r -= u
              }
              rec.tsSec = sec + c.offsetSec
              rec.tsNsec = r * c.k
            } else if (c.kind === 0 && c.units === 1e9) {
              // inline copy of tsConvert's second case for nanoseconds
              let q = Math.floor((hi * 4294967296 + lo) * 1e-9)
              let r = (lo - Math.imul(q >>> 0, 1000000000)) >>> 0
              if (r >= 3294967296) r -= 4294967296
              if (r < 0) {
                q--
                r += 1000000000
              } else if (r >= 1000000000) {
                q++
                r -= 1000000000
              }
              rec.tsSec = q + c.offsetSec
              rec.tsNsec = r
            } else tsConvert(c, hi, lo, rec)
            rec.hasTimestamp = true
            rec.interfaceId = st.iface.id
            rec.linkType = st.iface.linkType
            rec.capLen = cap
            rec.origLen = dv.getUint32(p + 24, le)
            rec.fileOffset = delta + p
            rec.buffer = b
            rec.dataOffset = p + 28
            const os = p + 28 + ((cap + 3) & ~3)
            if (p + len - 4 - os >= 4) this.packetOptions(b, os, p + len - 4, delta + p, p, 'EPB')
            else {
              rec.comments = null
              rec.flags = undefined
              rec.dropCount = undefined
            }
            rec.index = ++this.packets
            p += len
            this.handlers.onPacket(rec)
            continue
          }
        }
        // anything unusual: the general path below reports it
      }
      if (type === BT_SHB || this.section < 0) {
        if (this.section < 0 && u32le(b, p) !== BT_SHB) {
          const hex = Array.from(b.subarray(p, p + 4), (x) => x.toString(16).padStart(2, '0')).join(' ')
          throw this.err('bad-magic', delta + p, 'unknown magic', `${hex} is not a pcapng Section Header Block`)
        }
        type = BT_SHB
        if (avail < 12) {
          this.need = 12
          break
        }
        const bom = u32le(b, p + 8)
        if (bom === BOM) this.le = true
        else if (bom === 0x4d3c2b1a) this.le = false
        else {
          const hex = Array.from(b.subarray(p + 8, p + 12), (x) => x.toString(16).padStart(2, '0')).join(' ')
          throw this.err('bad-magic', delta + p, 'bad Section Header Block', `byte-order magic is ${hex}, expected 1a 2b 3c 4d or 4d 3c 2b 1a`)
        }
      }
      const len = this.le ? u32le(b, p + 4) : u32be(b, p + 4)
      if (len < 12 || (len & 3) !== 0) {
        throw this.err('bad-block-length', delta + p, `bad ${blockName(type)}`,
          `block length ${len} is ${len < 12 ? 'less than 12' : 'not a multiple of 4'}`)
      }
      if (len > MAX_BLOCK_LEN) {
        throw this.err('block-too-large', delta + p, `impossible ${blockName(type)}`,
          `block length ${len} exceeds the ${MAX_BLOCK_LEN}-byte limit`)
      }
      if (avail < len) {
        this.need = len
        break
      }
      const trail = this.le ? u32le(b, p + len - 4) : u32be(b, p + len - 4)
      if (trail !== len) {
        throw this.err('block-length-mismatch', delta + p, `corrupt ${blockName(type)}`,
          `block length is ${len} at the start but ${trail} at the end`)
      }
      switch (type) {
        case BT_EPB:
          this.epb(b, p, len, delta + p)
          break
        case BT_SPB:
          this.spb(b, p, len, delta + p)
          break
        case BT_PB:
          this.pb(b, p, len, delta + p)
          break
        case BT_IDB:
          this.idb(b, p, len, delta + p)
          break
        case BT_SHB:
          this.shb(b, p, len, delta + p)
          break
        default:
          // NRB, ISB, DSB, custom blocks, unknown: skipped.
          break
      }
      p += len
    }
    this.consumed = delta + p
    return p
  }

  // ------------------------------------------------------------ blocks

  private shb(b: Uint8Array, p: number, len: number, off: number): void {
    if (len < 28) throw this.err('bad-block-length', off, 'bad SHB', `block length ${len} is less than 28`)
    const major = this.u16(b, p + 12)
    const minor = this.u16(b, p + 14)
    this.section++
    this.sectionIfs = []
    const order = this.le ? 'little' : 'big'
    const comments: string[] = []
    let app: string | undefined, os: string | undefined, hw: string | undefined
    const oe = p + len - 4
    let o = p + 24
    while (oe - o >= 4) {
      const code = this.u16(b, o)
      const olen = this.u16(b, o + 2)
      if (code === OPT_ENDOFOPT) break
      if (o + 4 + olen > oe) this.badOption(code, olen, o, oe, 'SHB', off, p)
      if (code === OPT_COMMENT) comments.push(optString(b, o + 4, olen))
      else if (code === 2) hw = optString(b, o + 4, olen)
      else if (code === 3) os = optString(b, o + 4, olen)
      else if (code === 4) app = optString(b, o + 4, olen)
      o += 4 + pad4(olen)
    }
    let info = this.info
    if (info === null) {
      info = this.info = {
        format: 'pcapng',
        byteOrder: order,
        gzip: this.gzip,
        sections: 1,
        comments,
        version: `${major}.${minor}`,
      }
      if (app !== undefined) info.application = app
      if (os !== undefined) info.os = os
      if (hw !== undefined) info.hardware = hw
      this.handlers.onInfo?.(info)
    } else {
      info.sections = this.section + 1
      if (info.byteOrder !== order) info.byteOrder = 'mixed'
      for (const c of comments) info.comments.push(c)
      if (info.application === undefined && app !== undefined) info.application = app
      if (info.os === undefined && os !== undefined) info.os = os
      if (info.hardware === undefined && hw !== undefined) info.hardware = hw
    }
    if (major !== 1) {
      this.warn(off, 'unsupported-version',
        `section ${this.section} has pcapng version ${major}.${minor} (only 1.x is defined); reading it anyway`)
    }
  }

  private idb(b: Uint8Array, p: number, len: number, off: number): void {
    if (len < 20) throw this.err('bad-block-length', off, 'bad IDB', `block length ${len} is less than 20`)
    const linkType = this.u16(b, p + 8)
    const snapLen = this.u32(b, p + 12)
    const iface: CaptureInterface = {
      id: this.interfaces.length,
      section: this.section,
      linkType,
      snapLen,
      tsUnitsPerSec: 1e6,
      tsOffsetSec: 0,
      comments: [],
    }
    let resol: number | undefined
    let offset = 0
    const oe = p + len - 4
    let o = p + 16
    while (oe - o >= 4) {
      const code = this.u16(b, o)
      const olen = this.u16(b, o + 2)
      if (code === OPT_ENDOFOPT) break
      if (o + 4 + olen > oe) this.badOption(code, olen, o, oe, 'IDB', off, p)
      const v = o + 4
      switch (code) {
        case OPT_COMMENT:
          iface.comments.push(optString(b, v, olen))
          break
        case 2:
          iface.name = optString(b, v, olen)
          break
        case 3:
          iface.description = optString(b, v, olen)
          break
        case 9:
          if (olen >= 1) resol = b[v]
          break
        case 14:
          if (olen >= 8) {
            // signed 64-bit seconds
            const hi = this.le ? u32le(b, v + 4) : u32be(b, v)
            const lo = this.le ? u32le(b, v) : u32be(b, v + 4)
            offset = (hi | 0) * 4294967296 + lo
          }
          break
      }
      o += 4 + pad4(olen)
    }
    const conv = tsConvFromResol(resol, offset)
    iface.tsUnitsPerSec = conv.units
    iface.tsOffsetSec = offset
    this.interfaces.push(iface)
    this.sectionIfs.push({iface, conv, snapLen})
    this.handlers.onInterface?.(iface)
  }

  private ifState(local: number, off: number, what: string): IfState {
    const st = this.sectionIfs[local]
    if (st === undefined) {
      throw this.err('unknown-interface', off, `bad ${what}`,
        `interface id ${local} but section ${this.section} has ${this.sectionIfs.length} interface(s)`)
    }
    return st
  }

  private checkCap(cap: number, room: number, off: number, what: string): void {
    if (cap > MAX_CAPLEN) {
      throw this.err('caplen-too-large', off, `impossible ${what}`,
        `captured length ${cap} exceeds the ${MAX_CAPLEN}-byte limit`)
    }
    if (cap > room) {
      throw this.err('bad-block-length', off, `bad ${what}`,
        `captured length ${cap} does not fit in the block (room for ${room} bytes)`)
    }
  }

  private epb(b: Uint8Array, p: number, len: number, off: number): void {
    if (len < 32) throw this.err('bad-block-length', off, 'bad EPB', `block length ${len} is less than 32`)
    const le = this.le
    const ifid = le ? u32le(b, p + 8) : u32be(b, p + 8)
    const hi = le ? u32le(b, p + 12) : u32be(b, p + 12)
    const lo = le ? u32le(b, p + 16) : u32be(b, p + 16)
    const cap = le ? u32le(b, p + 20) : u32be(b, p + 20)
    const orig = le ? u32le(b, p + 24) : u32be(b, p + 24)
    this.checkCap(cap, len - 32, off, 'EPB')
    this.timedPacket(b, p, len, off, this.ifState(ifid, off, 'EPB'), hi, lo, cap, orig, 'EPB', -1)
  }

  private spb(b: Uint8Array, p: number, len: number, off: number): void {
    if (len < 16) throw this.err('bad-block-length', off, 'bad SPB', `block length ${len} is less than 16`)
    const orig = this.u32(b, p + 8)
    const st = this.ifState(0, off, 'SPB')
    let cap = Math.min(orig, len - 16)
    if (st.snapLen !== 0 && cap > st.snapLen) cap = st.snapLen
    const rec = this.rec
    rec.tsSec = 0
    rec.tsNsec = 0
    rec.hasTimestamp = false
    rec.interfaceId = st.iface.id
    rec.linkType = st.iface.linkType
    rec.capLen = cap
    rec.origLen = orig
    rec.fileOffset = off
    rec.buffer = b
    rec.dataOffset = p + 12
    rec.comments = null
    rec.flags = undefined
    rec.dropCount = undefined
    rec.index = ++this.packets
    this.handlers.onPacket(rec)
  }

  private pb(b: Uint8Array, p: number, len: number, off: number): void {
    if (len < 32) throw this.err('bad-block-length', off, 'bad Packet Block', `block length ${len} is less than 32`)
    const ifid = this.u16(b, p + 8)
    const drops = this.u16(b, p + 10)
    const hi = this.u32(b, p + 12)
    const lo = this.u32(b, p + 16)
    const cap = this.u32(b, p + 20)
    const orig = this.u32(b, p + 24)
    this.checkCap(cap, len - 32, off, 'Packet Block')
    this.timedPacket(b, p, len, off, this.ifState(ifid, off, 'Packet Block'), hi, lo, cap, orig, 'Packet Block', drops)
  }

  /**
   * The part EPB and the obsolete Packet Block share (same layout from the
   * timestamp on): fills the reused record for the packet at b[p + 28, +cap)
   * and hands it over. headerDrops: the PB's drops_count (0xffff = unknown),
   * or -1 for an EPB (which has it only as an option).
   */
  private timedPacket(b: Uint8Array, p: number, len: number, off: number, st: IfState, hi: number, lo: number,
    cap: number, orig: number, what: string, headerDrops: number): void {
    if (cap > st.snapLen && st.snapLen !== 0 && !this.warnedCaplen) this.caplenWarn(cap, st, off)
    const rec = this.rec
    tsConvert(st.conv, hi, lo, rec)
    rec.hasTimestamp = true
    rec.interfaceId = st.iface.id
    rec.linkType = st.iface.linkType
    rec.capLen = cap
    rec.origLen = orig
    rec.fileOffset = off
    rec.buffer = b
    rec.dataOffset = p + 28
    const os = p + 28 + pad4(cap)
    const oe = p + len - 4
    if (oe - os >= 4) this.packetOptions(b, os, oe, off, p, what)
    else {
      rec.comments = null
      rec.flags = undefined
      rec.dropCount = undefined
    }
    if (headerDrops >= 0) rec.dropCount = headerDrops === 0xffff ? undefined : headerDrops
    rec.index = ++this.packets
    this.handlers.onPacket(rec)
  }

  /** EPB / PB options: opt_comment, epb_flags (2), epb_dropcount (4). */
  private packetOptions(b: Uint8Array, o: number, oe: number, off: number, p: number, what: string): void {
    const rec = this.rec
    let comments: string[] | null = null
    let flags: number | undefined
    let drops: number | undefined
    while (oe - o >= 4) {
      const code = this.u16(b, o)
      const olen = this.u16(b, o + 2)
      if (code === OPT_ENDOFOPT) break
      if (o + 4 + olen > oe) this.badOption(code, olen, o, oe, what, off, p)
      const v = o + 4
      if (code === OPT_COMMENT) {
        if (comments === null) comments = []
        comments.push(optString(b, v, olen))
      } else if (code === 2 && olen >= 4) {
        flags = this.u32(b, v)
      } else if (code === 4 && olen >= 8) {
        const hi = this.le ? u32le(b, v + 4) : u32be(b, v)
        const lo = this.le ? u32le(b, v) : u32be(b, v + 4)
        drops = hi * 4294967296 + lo
      }
      o += 4 + pad4(olen)
    }
    rec.comments = comments
    rec.flags = flags
    rec.dropCount = drops
  }

  private badOption(code: number, olen: number, o: number, oe: number, what: string, off: number, p: number): never {
    throw this.err('bad-option', off + (o - p), `bad option in the ${what} at byte ${off}`,
      `option ${code} says ${olen} bytes, only ${oe - o - 4} remain in the block`)
  }

  private caplenWarn(cap: number, st: IfState, off: number): void {
    this.warnedCaplen = true
    this.warn(off, 'caplen-exceeds-snaplen',
      `block at byte ${off} has captured length ${cap} > snaplen ${st.snapLen} of interface ${st.iface.id} (reported once)`)
  }

  protected truncated(): CaptureError {
    const n = this.pendLen
    const off = this.consumed
    if (this.section < 0 && n === 0) {
      return this.err('truncated-header', 0, 'empty file', 'no pcapng Section Header Block (0 bytes)')
    }
    const b = this.pend
    const hdr = this.section < 0 || (n >= 4 && u32le(b, 0) === BT_SHB) ? 12 : 8
    if (n < hdr) {
      return this.err('truncated-header', off, 'truncated block header', `need ${hdr} bytes, only ${n} remain`)
    }
    const type = this.u32(b, 0)
    const len = this.u32(b, 4)
    return this.err('truncated-record', off, `truncated ${blockName(type)}`,
      `header says ${len} bytes, only ${n} remain`)
  }
}
