// pcapng writer (little-endian, one section): several interfaces (IDBs may
// be added at any time, also after packets), EPBs with comments, SHB comment
// and application, ISBs with receive / drop counts.

import {FdSink, pad4, utf8} from './fd-sink.js'
import {encHi, encLo, tsEncode} from './timestamp.js'
import {MAX_CAPLEN} from './types.js'

export interface WriterInterface {
  linkType: number
  /** Default 262144 (0 = unlimited). Packets are NOT cut to it. */
  snapLen?: number
  name?: string
  description?: string
  /** Default 'ns'. */
  tsResolution?: 'us' | 'ns'
  comment?: string
  /** More comments (each one opt_comment). */
  comments?: string[]
}

export interface PcapngWriterOptions {
  comment?: string
  /** More SHB comments. */
  comments?: string[]
  /** shb_userappl */
  application?: string
  /** shb_os */
  os?: string
  /** shb_hardware */
  hardware?: string
}

export interface PacketExtras {
  /** epb_flags */
  flags?: number
  /** epb_dropcount */
  dropCount?: number
}

type Opt = [code: number, value: Uint8Array]

function strOpts(code: number, ...vals: (string | string[] | undefined)[]): Opt[] {
  const out: Opt[] = []
  for (const v of vals) {
    if (v === undefined) continue
    for (const s of Array.isArray(v) ? v : [v]) {
      const b = utf8(s)
      if (b.length > 0xffff) throw new RangeError(`pcapng writer: option ${code} is ${b.length} bytes (max 65535)`)
      out.push([code, b])
    }
  }
  return out
}

function u64(v: number): Uint8Array {
  const b = new Uint8Array(8)
  const dv = new DataView(b.buffer)
  const hi = Math.floor(v / 4294967296)
  dv.setUint32(0, v - hi * 4294967296, true)
  dv.setUint32(4, hi, true)
  return b
}

function optsLen(opts: Opt[]): number {
  if (opts.length === 0) return 0
  let n = 4 // opt_endofopt
  for (const [, v] of opts) n += 4 + pad4(v.length)
  return n
}

export class PcapngWriter {
  private readonly sink: FdSink
  /** Units per second of each interface (1e6 or 1e9). */
  private readonly units: number[] = []
  /** Packets written so far. */
  packets = 0

  private constructor(sink: FdSink, o: PcapngWriterOptions) {
    this.sink = sink
    const opts: Opt[] = [
      ...strOpts(1, o.comment, o.comments),
      ...strOpts(2, o.hardware),
      ...strOpts(3, o.os),
      ...strOpts(4, o.application),
    ]
    this.block(0x0a0d0d0a, 16, opts, (s) => {
      s.u32(0x1a2b3c4d)
      s.u16(1)
      s.u16(0)
      s.u32(0xffffffff) // section length: unknown
      s.u32(0xffffffff)
    })
  }

  /** Creates / truncates `path` ('-' = stdout) and writes the SHB. */
  static open(path: string, opts?: PcapngWriterOptions): PcapngWriter {
    return new PcapngWriter(FdSink.open(path), opts ?? {})
  }

  private block(type: number, fixed: number, opts: Opt[], body: (s: FdSink) => void): void {
    const total = 12 + fixed + optsLen(opts)
    const s = this.sink
    s.reserve(total)
    s.u32(type)
    s.u32(total)
    body(s)
    if (opts.length > 0) {
      for (const [code, v] of opts) {
        s.u16(code)
        s.u16(v.length)
        s.bytes(v)
        s.zeros(pad4(v.length) - v.length)
      }
      s.u32(0)
    }
    s.u32(total)
  }

  /** Writes an IDB; returns the interface id to use in writePacket. */
  addInterface(i: WriterInterface): number {
    const ns = (i.tsResolution ?? 'ns') === 'ns'
    const opts: Opt[] = [
      ...strOpts(1, i.comment, i.comments),
      ...strOpts(2, i.name),
      ...strOpts(3, i.description),
    ]
    if (ns) opts.push([9, Uint8Array.of(9)])
    this.block(0x00000001, 8, opts, (s) => {
      s.u16(i.linkType)
      s.u16(0)
      s.u32(i.snapLen ?? 262144)
    })
    this.units.push(ns ? 1e9 : 1e6)
    return this.units.length - 1
  }

  /**
   * Writes an EPB. `comment` may be one string or several. Timestamps are
   * written exactly (ns interfaces) or truncated to µs (us interfaces).
   */
  writePacket(
    ifaceId: number,
    tsSec: number,
    tsNsec: number,
    data: Uint8Array,
    origLen?: number,
    comment?: string | string[],
    extra?: PacketExtras,
  ): void {
    const units = this.units[ifaceId]
    if (units === undefined) throw new RangeError(`pcapng writer: no interface ${ifaceId} (${this.units.length} added)`)
    const cap = data.length
    if (cap > MAX_CAPLEN) throw new RangeError(`pcapng writer: packet of ${cap} bytes exceeds ${MAX_CAPLEN}`)
    tsEncode(tsSec, tsNsec, units)
    const hi = encHi
    const lo = encLo
    const s = this.sink
    if (comment === undefined && extra === undefined) {
      // fast path: no options
      const total = 32 + pad4(cap)
      s.reserve(total)
      s.u32(6)
      s.u32(total)
      s.u32(ifaceId)
      s.u32(hi)
      s.u32(lo)
      s.u32(cap)
      s.u32(origLen ?? cap)
      s.bytes(data)
      s.zeros(pad4(cap) - cap)
      s.u32(total)
    } else {
      const opts = strOpts(1, comment)
      if (extra?.flags !== undefined) {
        const b = new Uint8Array(4)
        new DataView(b.buffer).setUint32(0, extra.flags >>> 0, true)
        opts.push([2, b])
      }
      if (extra?.dropCount !== undefined) opts.push([4, u64(extra.dropCount)])
      this.block(6, 20 + pad4(cap), opts, (s) => {
        s.u32(ifaceId)
        s.u32(hi)
        s.u32(lo)
        s.u32(cap)
        s.u32(origLen ?? cap)
        s.bytes(data)
        s.zeros(pad4(cap) - cap)
      })
    }
    this.packets++
  }

  /** Writes an ISB (isb_ifrecv / isb_ifdrop when given). */
  writeStats(ifaceId: number, st: {tsSec: number; tsNsec: number; received?: number; dropped?: number}): void {
    const units = this.units[ifaceId]
    if (units === undefined) throw new RangeError(`pcapng writer: no interface ${ifaceId} (${this.units.length} added)`)
    tsEncode(st.tsSec, st.tsNsec, units)
    const hi = encHi
    const lo = encLo
    const opts: Opt[] = []
    if (st.received !== undefined) opts.push([4, u64(st.received)])
    if (st.dropped !== undefined) opts.push([5, u64(st.dropped)])
    this.block(5, 12, opts, (s) => {
      s.u32(ifaceId)
      s.u32(hi)
      s.u32(lo)
    })
  }

  flush(): void {
    this.sink.flush()
  }

  /** Flushes and closes; idempotent. */
  close(): void {
    this.sink.close()
  }
}
