// The small, strict subset of MessagePack the control channel needs (spec §3:
// "plain MessagePack: no extension types, no msgpackr records").
//
// Why not msgpackr here (the design notes suggest `Packr`/`unpack`):
//  - Packr cannot write the spec's shapes: a JS number >= 2^32 (our `at`,
//    microseconds since the epoch, ~1.8e15) is written as float64 (0xcb) and a
//    bigint as int64 (0xd3) — never uint64 (0xcf) — and every map gets a map16
//    header even with 2 keys. We want the minimal, deterministic encoding so
//    the byte-exact vectors in the tests are what any MessagePack writer with
//    "smallest format" rules produces.
//  - `unpack` loses what a conformance checker must see: a float where a uint
//    belongs decodes to the same JS number; `__proto__` keys are renamed;
//    non-string map keys are silently stringified; a duplicated key keeps the
//    last value; ext types become Dates/records/objects. It also needs a
//    separate pass to say *where* (which byte) a frame went wrong.
// This reader is one pass, allocates only the values it returns, copies every
// `bin` (so nothing we hand out aliases a caller's reused buffer), and reports
// a named reason with a byte position. msgpackr stays in the tests as an
// independent decoder to cross-check our frames.

/**
 * A MessagePack float (0xca/0xcb). Boxed so that validation can tell "1.0 sent
 * as float" from the integer 1: the spec's numbers are all integers.
 */
export class MsgpackFloat {
  constructor(readonly value: number) {}
}

export type ReadReason =
  | 'not-msgpack' // a byte that is no MessagePack type (0xc1)
  | 'ext-type' // an extension type (0xc7-0xc9, 0xd4-0xd8): forbidden by §3
  | 'bad-length' // the value needs more bytes than the frame length gives
  | 'trailing-bytes' // the frame holds bytes after its one value
  | 'non-string-key' // a map key that is not a string (§3: "map with string keys")
  | 'duplicate-key' // the same key twice in one map: receivers would disagree on its value
  | 'bad-utf8' // a str that is not valid UTF-8
  | 'too-deep' // nesting beyond MAX_DEPTH (the spec needs 3 levels)

export interface ReadError {
  reason: ReadReason
  detail: string
  /** Index of the offending byte, relative to the start of the value read. */
  pos: number
}

/** Far more than the spec needs (message → fopt/pkts → bin), small enough for the stack. */
export const MAX_DEPTH = 32

const TWO32 = 0x1_0000_0000
const utf8 = new TextDecoder('utf-8', {fatal: true})
const utf8enc = new TextEncoder()

class ReadFail extends Error {
  constructor(
    readonly reason: ReadReason,
    readonly detail: string,
    readonly at: number,
  ) {
    super(detail)
  }
}

function hex(b: number): string {
  return '0x' + b.toString(16).padStart(2, '0')
}

/**
 * Reads exactly one MessagePack value from `buf[start, end)`. Reusable: one
 * instance per decoder, no per-call state beyond the cursor.
 */
export class MsgpackReader {
  private buf: Uint8Array = new Uint8Array(0)
  private p = 0
  private end = 0
  private base = 0
  /** Set when `readAll` returns undefined. */
  error: ReadError | null = null

  /**
   * Returns the value, or undefined with `this.error` set (MessagePack has no
   * undefined, so the sentinel is unambiguous). Never throws.
   */
  readAll(buf: Uint8Array, start: number, end: number): unknown {
    this.buf = buf
    this.p = start
    this.end = end
    this.base = start
    this.error = null
    try {
      const v = this.value(0)
      if (this.p !== end) {
        throw new ReadFail('trailing-bytes', `${end - this.p} byte(s) after the MessagePack value (which ends at byte ${this.p - start} of ${end - start})`, this.p)
      }
      return v
    } catch (e) {
      if (e instanceof ReadFail) {
        this.error = {reason: e.reason, detail: e.detail, pos: e.at - start}
      } else {
        // Should not happen (every input path is checked); still, never throw out.
        this.error = {reason: 'not-msgpack', detail: `reader failure: ${(e as Error).message}`, pos: this.p - start}
      }
      return undefined
    } finally {
      // Do not keep the caller's buffer alive.
      this.buf = EMPTY
    }
  }

  // `what` must be a constant: this runs for every value, and building a
  // message string on the success path was measurable.
  private need(n: number, what: string, at: number): void {
    if (this.p + n > this.end) {
      throw new ReadFail('bad-length', `${what} at byte ${at - this.base} needs ${n} more byte(s), the frame has ${this.end - this.p}`, at)
    }
  }

  private u8(): number {
    return this.buf[this.p++]!
  }
  private u16(): number {
    const b = this.buf
    const v = (b[this.p]! << 8) | b[this.p + 1]!
    this.p += 2
    return v
  }
  private u32(): number {
    const b = this.buf
    const p = this.p
    this.p += 4
    return b[p]! * 0x100_0000 + ((b[p + 1]! << 16) | (b[p + 2]! << 8) | b[p + 3]!)
  }

  private value(depth: number): unknown {
    const at = this.p
    this.need(1, 'a value', at)
    const b = this.u8()
    if (b <= 0x7f) return b
    if (b >= 0xe0) return b - 0x100
    if (b <= 0x8f) return this.map(b & 0x0f, depth, at)
    if (b <= 0x9f) return this.array(b & 0x0f, depth, at)
    if (b <= 0xbf) return this.str(b & 0x1f, at)
    switch (b) {
      case 0xc0:
        return null
      case 0xc2:
        return false
      case 0xc3:
        return true
      case 0xc4:
        this.need(1, 'bin8 length', at)
        return this.bin(this.u8(), at)
      case 0xc5:
        this.need(2, 'bin16 length', at)
        return this.bin(this.u16(), at)
      case 0xc6:
        this.need(4, 'bin32 length', at)
        return this.bin(this.u32(), at)
      case 0xca: {
        this.need(4, 'float32', at)
        const v = new DataView(this.buf.buffer, this.buf.byteOffset + this.p, 4).getFloat32(0)
        this.p += 4
        return new MsgpackFloat(v)
      }
      case 0xcb: {
        this.need(8, 'float64', at)
        const v = new DataView(this.buf.buffer, this.buf.byteOffset + this.p, 8).getFloat64(0)
        this.p += 8
        return new MsgpackFloat(v)
      }
      case 0xcc:
        this.need(1, 'uint8', at)
        return this.u8()
      case 0xcd:
        this.need(2, 'uint16', at)
        return this.u16()
      case 0xce:
        this.need(4, 'uint32', at)
        return this.u32()
      case 0xcf: {
        this.need(8, 'uint64', at)
        const hi = this.u32()
        const lo = this.u32()
        // Below 2^53 a number is exact; above, a bigint (validation decides).
        return hi < 0x20_0000 ? hi * TWO32 + lo : (BigInt(hi) << 32n) | BigInt(lo)
      }
      case 0xd0:
        this.need(1, 'int8', at)
        return (this.u8() << 24) >> 24
      case 0xd1:
        this.need(2, 'int16', at)
        return (this.u16() << 16) >> 16
      case 0xd2:
        this.need(4, 'int32', at)
        return this.u32() | 0
      case 0xd3: {
        this.need(8, 'int64', at)
        const hi = this.u32() | 0
        const lo = this.u32()
        if (hi >= -0x20_0000 && hi < 0x20_0000) return hi * TWO32 + lo
        return BigInt.asIntN(64, (BigInt(hi >>> 0) << 32n) | BigInt(lo))
      }
      case 0xd9:
        this.need(1, 'str8 length', at)
        return this.str(this.u8(), at)
      case 0xda:
        this.need(2, 'str16 length', at)
        return this.str(this.u16(), at)
      case 0xdb:
        this.need(4, 'str32 length', at)
        return this.str(this.u32(), at)
      case 0xdc:
        this.need(2, 'array16 length', at)
        return this.array(this.u16(), depth, at)
      case 0xdd:
        this.need(4, 'array32 length', at)
        return this.array(this.u32(), depth, at)
      case 0xde:
        this.need(2, 'map16 length', at)
        return this.map(this.u16(), depth, at)
      case 0xdf:
        this.need(4, 'map32 length', at)
        return this.map(this.u32(), depth, at)
      case 0xc1:
        throw new ReadFail('not-msgpack', `byte 0xc1 (never used in MessagePack) at byte ${at - this.base}`, at)
      default: {
        // 0xc7-0xc9 (ext 8/16/32) and 0xd4-0xd8 (fixext 1..16). msgpackr
        // records start with one of these (0xd4 0x72 …), so they land here too.
        const typePos = b <= 0xc9 ? this.p + (b === 0xc7 ? 1 : b === 0xc8 ? 2 : 4) : this.p
        const type = typePos < this.end ? ` type ${(this.buf[typePos]! << 24) >> 24}` : ''
        throw new ReadFail('ext-type', `MessagePack extension ${hex(b)}${type} at byte ${at - this.base}: the control channel is plain MessagePack`, at)
      }
    }
  }

  private str(n: number, at: number): string {
    this.need(n, 'str', at)
    const b = this.buf
    const s = this.p
    this.p += n
    // Keys and most values are short ASCII: build them without a subarray
    // view or a TextDecoder call.
    if (n <= 32) {
      let out = ''
      let i = s
      for (; i < s + n; i++) {
        const c = b[i]!
        if (c >= 0x80) break
        out += String.fromCharCode(c)
      }
      if (i === s + n) return out
    }
    try {
      return utf8.decode(b.subarray(s, s + n))
    } catch {
      throw new ReadFail('bad-utf8', `str at byte ${at - this.base} is not valid UTF-8`, at)
    }
  }

  private bin(n: number, at: number): Uint8Array {
    this.need(n, 'bin', at)
    // Copy: the source may be a caller's reused chunk (node_pcap reuses one
    // buffer) or a slab; what we hand out must own its bytes.
    const out = new Uint8Array(n)
    out.set(this.buf.subarray(this.p, this.p + n))
    this.p += n
    return out
  }

  /**
   * A short ASCII fixstr key at the cursor that was read before (consumed), or undefined (nothing consumed). The
   * same few keys come in every message: one string each, already internalized, instead of one built per key and
   * hashed again on every property store.
   */
  private knownKey(): string | undefined {
    const b = this.buf
    const p = this.p
    if (p >= this.end) return undefined
    const n = b[p]! - 0xa0
    if (n < 1 || n > KEY_CACHE_LEN || p + 1 + n > this.end) return undefined
    let h = n
    for (let i = p + 1; i <= p + n; i++) h = Math.imul(h ^ b[i]!, 0x01000193)
    const k = keyCache.get(h)
    if (k !== undefined && k.length === n) {
      let i = 0
      while (i < n && k.charCodeAt(i) === b[p + 1 + i]) i++
      if (i === n) {
        this.p = p + 1 + n
        return k
      }
      return undefined
    }
    if (k !== undefined || keyCache.size >= KEY_CACHE_MAX) return undefined
    let out = ''
    for (let i = p + 1; i <= p + n; i++) {
      const c = b[i]!
      if (c >= 0x80) return undefined
      out += String.fromCharCode(c)
    }
    // Internalized once, here: a key used as a property name is looked up by that string.
    const key = internalize(out)
    keyCache.set(h, key)
    this.p = p + 1 + n
    return key
  }

  private array(n: number, depth: number, at: number): unknown[] {
    if (depth >= MAX_DEPTH) throw new ReadFail('too-deep', `nesting deeper than ${MAX_DEPTH} at byte ${at - this.base}`, at)
    // Each element takes at least one byte: refuse absurd counts before
    // allocating an array for them.
    if (n > this.end - this.p) {
      throw new ReadFail('bad-length', `array of ${n} element(s) at byte ${at - this.base} cannot fit in the ${this.end - this.p} byte(s) left in the frame`, at)
    }
    const out = new Array<unknown>(n)
    for (let i = 0; i < n; i++) out[i] = this.value(depth + 1)
    return out
  }

  private map(n: number, depth: number, at: number): Record<string, unknown> {
    if (depth >= MAX_DEPTH) throw new ReadFail('too-deep', `nesting deeper than ${MAX_DEPTH} at byte ${at - this.base}`, at)
    if (n * 2 > this.end - this.p) {
      throw new ReadFail('bad-length', `map of ${n} entr(ies) at byte ${at - this.base} cannot fit in the ${this.end - this.p} byte(s) left in the frame`, at)
    }
    // A plain object literal, not Object.create(null): V8 keeps literals with
    // a few keys in fast mode (null-prototype objects go to dictionary mode,
    // which made this the hottest line of decoding). Own-property checks keep
    // inherited names (`constructor`, `toString`) from looking like keys, and
    // a `__proto__` key is defined as an ordinary property, never as the
    // prototype.
    const out: Record<string, unknown> = {}
    for (let i = 0; i < n; i++) {
      const kat = this.p
      const k = this.knownKey() ?? this.value(depth + 1)
      if (typeof k !== 'string') {
        throw new ReadFail('non-string-key', `map key at byte ${kat - this.base} is ${describe(k)}, not a string`, kat)
      }
      if (Object.hasOwn(out, k)) {
        throw new ReadFail('duplicate-key', `map key ${JSON.stringify(k)} repeated at byte ${kat - this.base}`, kat)
      }
      const v = this.value(depth + 1)
      if (k === '__proto__') Object.defineProperty(out, k, {value: v, enumerable: true, writable: true, configurable: true})
      else out[k] = v
    }
    return out
  }
}

const EMPTY = new Uint8Array(0)

/** Map keys read before (knownKey), by a hash of their bytes: at most this many, of at most this many bytes. */
const KEY_CACHE_MAX = 256
const KEY_CACHE_LEN = 15
const keyCache = new Map<number, string>()

/** The string as a property key V8 keeps once (what an object literal's key is). */
function internalize(s: string): string {
  const o: Record<string, number> = {[s]: 0}
  return Object.keys(o)[0]!
}

/** A short description of a decoded value's MessagePack type, for details. */
export function describe(v: unknown): string {
  if (v === null || v === undefined) return 'nil'
  if (typeof v === 'boolean') return 'a bool'
  if (typeof v === 'number') return Number.isInteger(v) ? `the int ${v}` : `the number ${v}`
  if (typeof v === 'bigint') return `the int ${v}`
  if (typeof v === 'string') return 'a str'
  if (v instanceof MsgpackFloat) return `a float (${v.value})`
  if (v instanceof Uint8Array) return 'a bin'
  if (Array.isArray(v)) return 'an array'
  if (typeof v === 'object') {
    const proto = Object.getPrototypeOf(v)
    return proto === null || proto === Object.prototype ? 'a map' : `a ${(v as object).constructor?.name ?? 'non-plain'} object`
  }
  return typeof v
}

// ---------------------------------------------------------------------------
// Writing. Two passes over the same calls: `Writer` with no buffer only
// counts bytes, so the frame is allocated once at its exact size (and an
// oversize frame is refused before any allocation).

export class Writer {
  pos: number
  private readonly buf: Uint8Array | null
  private readonly view: DataView | null

  constructor(buf: Uint8Array | null, pos = 0) {
    this.buf = buf
    this.view = buf ? new DataView(buf.buffer, buf.byteOffset, buf.byteLength) : null
    this.pos = pos
  }

  /** Smallest encoding of a non-negative safe integer. */
  uint(n: number): void {
    const b = this.buf
    if (n <= 0x7f) {
      if (b) b[this.pos] = n
      this.pos += 1
    } else if (n <= 0xff) {
      if (b) {
        b[this.pos] = 0xcc
        b[this.pos + 1] = n
      }
      this.pos += 2
    } else if (n <= 0xffff) {
      if (b) {
        b[this.pos] = 0xcd
        this.view!.setUint16(this.pos + 1, n)
      }
      this.pos += 3
    } else if (n <= 0xffff_ffff) {
      if (b) {
        b[this.pos] = 0xce
        this.view!.setUint32(this.pos + 1, n)
      }
      this.pos += 5
    } else {
      if (b) {
        b[this.pos] = 0xcf
        this.view!.setUint32(this.pos + 1, Math.floor(n / TWO32))
        this.view!.setUint32(this.pos + 5, n % TWO32)
      }
      this.pos += 9
    }
  }

  bool(v: boolean): void {
    if (this.buf) this.buf[this.pos] = v ? 0xc3 : 0xc2
    this.pos += 1
  }

  str(s: string): void {
    const n = Buffer.byteLength(s, 'utf8')
    this.header(n, 0xa0, 31, 0xd9, 0xda, 0xdb)
    if (this.buf) utf8enc.encodeInto(s, this.buf.subarray(this.pos, this.pos + n))
    this.pos += n
  }

  bin(v: Uint8Array): void {
    const n = v.byteLength
    this.header(n, -1, -1, 0xc4, 0xc5, 0xc6)
    if (this.buf) this.buf.set(v, this.pos)
    this.pos += n
  }

  mapHeader(n: number): void {
    this.header(n, 0x80, 15, -1, 0xde, 0xdf)
  }

  arrayHeader(n: number): void {
    this.header(n, 0x90, 15, -1, 0xdc, 0xdd)
  }

  /** fix form when n <= fixMax, else the 8/16/32-bit length forms. */
  private header(n: number, fix: number, fixMax: number, t8: number, t16: number, t32: number): void {
    const b = this.buf
    if (n <= fixMax) {
      if (b) b[this.pos] = fix | n
      this.pos += 1
    } else if (t8 !== -1 && n <= 0xff) {
      if (b) {
        b[this.pos] = t8
        b[this.pos + 1] = n
      }
      this.pos += 2
    } else if (n <= 0xffff) {
      if (b) {
        b[this.pos] = t16
        this.view!.setUint16(this.pos + 1, n)
      }
      this.pos += 3
    } else {
      if (b) {
        b[this.pos] = t32
        this.view!.setUint32(this.pos + 1, n)
      }
      this.pos += 5
    }
  }
}
