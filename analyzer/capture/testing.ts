// Test support for the capture layer: build pcap / pcapng byte vectors by
// hand (either byte order, any block), and collect what a parser delivers
// (with copies of the data) under any chunking. Used by the unit and fuzz
// tests; handy for other modules' tests that need a crafted capture.

import {CaptureParser} from './parser.js'
import {CaptureError, type CaptureInterface, type FileInfo} from './types.js'

const enc = new TextEncoder()

/** Concatenates byte arrays. */
export function concat(...parts: Uint8Array[]): Uint8Array {
  let n = 0
  for (const p of parts) n += p.length
  const out = new Uint8Array(n)
  let o = 0
  for (const p of parts) {
    out.set(p, o)
    o += p.length
  }
  return out
}

/** A little byte builder with a fixed byte order. */
export class Bytes {
  private readonly out: number[] = []
  constructor(readonly le: boolean) {}
  u8(v: number): this {
    this.out.push(v & 0xff)
    return this
  }
  u16(v: number): this {
    if (this.le) this.out.push(v & 0xff, (v >>> 8) & 0xff)
    else this.out.push((v >>> 8) & 0xff, v & 0xff)
    return this
  }
  u32(v: number): this {
    v = v >>> 0
    if (this.le) this.out.push(v & 0xff, (v >>> 8) & 0xff, (v >>> 16) & 0xff, v >>> 24)
    else this.out.push(v >>> 24, (v >>> 16) & 0xff, (v >>> 8) & 0xff, v & 0xff)
    return this
  }
  /** 64-bit value from a BigInt (two's complement for negatives). */
  u64(v: bigint): this {
    const x = BigInt.asUintN(64, v)
    const hi = Number(x >> 32n)
    const lo = Number(x & 0xffffffffn)
    return this.le ? this.u32(lo).u32(hi) : this.u32(hi).u32(lo)
  }
  bytes(b: Uint8Array | number[]): this {
    for (const x of b) this.out.push(x & 0xff)
    return this
  }
  pad4(): this {
    while (this.out.length % 4 !== 0) this.out.push(0)
    return this
  }
  get length(): number {
    return this.out.length
  }
  build(): Uint8Array {
    return Uint8Array.from(this.out)
  }
}

// ------------------------------------------------------------------ pcap

export function pcapHeader(o: {le?: boolean; magic?: number; linkType?: number; snapLen?: number; major?: number; minor?: number} = {}): Uint8Array {
  return new Bytes(o.le ?? true)
    .u32(o.magic ?? 0xa1b2c3d4)
    .u16(o.major ?? 2)
    .u16(o.minor ?? 4)
    .u32(0)
    .u32(0)
    .u32(o.snapLen ?? 65535)
    .u32(o.linkType ?? 1)
    .build()
}

export function pcapRecord(o: {le?: boolean; sec: number; frac: number; data: Uint8Array; origLen?: number; modified?: boolean; capLen?: number}): Uint8Array {
  const w = new Bytes(o.le ?? true).u32(o.sec).u32(o.frac).u32(o.capLen ?? o.data.length).u32(o.origLen ?? o.data.length)
  if (o.modified) w.u32(7).u16(0x0800).u8(0).u8(0) // ifindex, protocol, pkt_type, pad
  return w.bytes(o.data).build()
}

// ---------------------------------------------------------------- pcapng

export type OptionSpec = [code: number, value: string | Uint8Array | number[]]

function optionBytes(w: Bytes, opts: OptionSpec[] | undefined, endOfOpt = true): void {
  if (!opts || opts.length === 0) return
  for (const [code, v] of opts) {
    const b = typeof v === 'string' ? enc.encode(v) : Uint8Array.from(v)
    w.u16(code).u16(b.length).bytes(b).pad4()
  }
  if (endOfOpt) w.u32(0)
}

/** A whole block: type, length, body (padded), options, length. */
export function block(le: boolean, type: number, body: (w: Bytes) => void, opts?: OptionSpec[]): Uint8Array {
  const w = new Bytes(le)
  body(w)
  w.pad4()
  optionBytes(w, opts)
  const inner = w.build()
  const total = 12 + inner.length
  return concat(new Bytes(le).u32(type).u32(total).build(), inner, new Bytes(le).u32(total).build())
}

export function shb(le: boolean, o: {major?: number; minor?: number; options?: OptionSpec[]} = {}): Uint8Array {
  return block(le, 0x0a0d0d0a, (w) => w.u32(0x1a2b3c4d).u16(o.major ?? 1).u16(o.minor ?? 0).u64(-1n), o.options)
}

export function idb(le: boolean, o: {linkType?: number; snapLen?: number; options?: OptionSpec[]} = {}): Uint8Array {
  return block(le, 1, (w) => w.u16(o.linkType ?? 1).u16(0).u32(o.snapLen ?? 0), o.options)
}

/** ts = 64-bit timestamp in interface units. */
export function epb(le: boolean, o: {ifid?: number; ts: bigint; data: Uint8Array; origLen?: number; options?: OptionSpec[]}): Uint8Array {
  return block(le, 6, (w) => {
    w.u32(o.ifid ?? 0).u32(Number(o.ts >> 32n)).u32(Number(o.ts & 0xffffffffn))
    w.u32(o.data.length).u32(o.origLen ?? o.data.length).bytes(o.data)
  }, o.options)
}

export function spb(le: boolean, o: {data: Uint8Array; origLen?: number}): Uint8Array {
  return block(le, 3, (w) => w.u32(o.origLen ?? o.data.length).bytes(o.data))
}

/** Obsolete Packet Block (type 2). */
export function pb(le: boolean, o: {ifid?: number; drops?: number; ts: bigint; data: Uint8Array; origLen?: number; options?: OptionSpec[]}): Uint8Array {
  return block(le, 2, (w) => {
    w.u16(o.ifid ?? 0).u16(o.drops ?? 0).u32(Number(o.ts >> 32n)).u32(Number(o.ts & 0xffffffffn))
    w.u32(o.data.length).u32(o.origLen ?? o.data.length).bytes(o.data)
  }, o.options)
}

/** Any other block (NRB = 4, ISB = 5, DSB = 0x0a, custom = 0xbad / 0x40000bad …) with an opaque body. */
export function otherBlock(le: boolean, type: number, body: Uint8Array | number[]): Uint8Array {
  return block(le, type, (w) => w.bytes(body))
}

// ------------------------------------------------------------- collecting

export interface CollectedPacket {
  index: number
  interfaceId: number
  linkType: number
  tsSec: number
  tsNsec: number
  capLen: number
  origLen: number
  data: Uint8Array
  fileOffset: number
  comments: string[] | null
  hasTimestamp: boolean
  flags?: number
  dropCount?: number
}

export interface Collected {
  info: FileInfo | null
  interfaces: CaptureInterface[]
  packets: CollectedPacket[]
  warnings: {offset: number; code: string; message: string}[]
  error: CaptureError | null
}

/**
 * Parses `bytes` with a CaptureParser, pushing chunks of the sizes that
 * `chunkSizes` yields (default: all at once). Copies everything it keeps.
 * Only CaptureError is caught; anything else propagates.
 */
export function collect(bytes: Uint8Array, chunkSizes?: () => number, file = 'test'): Collected {
  const out: Collected = {info: null, interfaces: [], packets: [], warnings: [], error: null}
  const p = new CaptureParser({
    onInfo: (i) => {
      out.info = i
    },
    onInterface: (i) => {
      out.interfaces.push(i)
    },
    onPacket: (r) => {
      const c: CollectedPacket = {
        index: r.index,
        interfaceId: r.interfaceId,
        linkType: r.linkType,
        tsSec: r.tsSec,
        tsNsec: r.tsNsec,
        capLen: r.capLen,
        origLen: r.origLen,
        data: r.data.slice(),
        fileOffset: r.fileOffset,
        comments: r.comments ? [...r.comments] : null,
        hasTimestamp: r.hasTimestamp,
      }
      if (r.flags !== undefined) c.flags = r.flags
      if (r.dropCount !== undefined) c.dropCount = r.dropCount
      out.packets.push(c)
    },
    onWarning: (w) => {
      out.warnings.push(w)
    },
  }, {file})
  try {
    if (!chunkSizes) p.push(bytes)
    else {
      let i = 0
      let guard = 0
      while (i < bytes.length) {
        const n = Math.max(1, Math.floor(chunkSizes()))
        p.push(bytes.subarray(i, Math.min(bytes.length, i + n)))
        i += n
        if (++guard > bytes.length + 1) throw new Error('collect: runaway chunking')
      }
    }
    p.end()
  } catch (e) {
    if (!(e instanceof CaptureError)) throw e
    out.error = e
  }
  return out
}
