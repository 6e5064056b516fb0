// A compact binary encoding of the plain records the control spool holds
// (control-spool.ts): objects, arrays, strings, numbers, booleans, null,
// undefined, bigints and Uint8Arrays. node:v8's serialize handles the same
// and more, but costs ~10 µs a message in fixed overhead (a serializer made
// per call, every key written out): on a 2 M-packet trace with 125 k control
// messages that was 2 s of check's 27 s. Here a record is a few hundred
// bytes written and read by plain loops; every object key is written as a
// number into a table that the writer and its readers share (they live in
// the one process, the spool being private to it), and a string value equal
// to the last one under the same key (the file name, a connection's
// direction) as a one-byte "same again".
//
// Anything else (a Map, a Date, a class instance…) is refused with
// NotPlain: the spool then writes that record with node:v8.
import {GrowBuffer} from './grow-buffer.js'

/** A value this codec does not write (the caller falls back to another encoding). */
export class NotPlain extends Error {}

const T_UNDEF = 0
const T_NULL = 1
const T_FALSE = 2
const T_TRUE = 3
const T_INT = 4
const T_FLOAT = 5
const T_STR = 6
/** A string value equal to the last string value written under the same key. */
const T_STR_SAME = 7
const T_ARRAY = 8
const T_OBJECT = 9
const T_BYTES = 10
const T_BIGINT = 11
/** A string of ASCII characters only (read back with a latin1 decode, which is cheaper than UTF-8). */
const T_ASCII = 12

/** Object keys numbered, at most this many (a key beyond is written out, after KEY_INLINE). */
const KEY_TABLE_MAX = 1 << 16
const KEY_INLINE = 0

/** The object keys the writer has numbered (index + 1), shared with its readers. */
export class CodecTables {
  readonly keys: string[] = []
  readonly keyIndex = new Map<string, number>()
}

export class RecordWriter extends GrowBuffer {
  private readonly f64 = new Float64Array(1)
  private readonly f64Bytes = new Uint8Array(this.f64.buffer)

  constructor(private readonly tables: CodecTables) {
    super()
  }

  /** The encoding of v (valid until the next call). Throws NotPlain. */
  encode(v: unknown): Buffer {
    this.pos = 0
    this.undo.length = 0
    try {
      this.value(v, 0, -1)
    } catch (e) {
      // Refused half way: the record is written otherwise, so no reader sees the strings set as "last" in it.
      for (let i = this.undo.length - 2; i >= 0; i -= 2) this.last[this.undo[i] as number] = this.undo[i + 1] as string | undefined
      throw e
    }
    return this.buf.subarray(0, this.pos)
  }

  /** Pairs of (key number, its last string before) of the record being written. */
  private readonly undo: (number | string | undefined)[] = []

  /** Unsigned LEB128 (lengths, counts, table indexes). */
  private uint(x: number): void {
    this.ensure(8)
    const b = this.buf
    let p = this.pos
    // Below 2^31 (nearly every count and number of a record) by shifts; above, by division.
    while (x >= 0x8000_0000) {
      b[p++] = (x & 0x7f) | 0x80
      x = Math.floor(x / 128)
    }
    while (x >= 0x80) {
      b[p++] = (x & 0x7f) | 0x80
      x >>>= 7
    }
    b[p++] = x
    this.pos = p
  }

  /**
   * A key: its number (index + 1, numbered on first use), or KEY_INLINE and the string when the table is full.
   * Returns its number, -1 for none.
   */
  private key(k: string): number {
    const t = this.tables
    let i = t.keyIndex.get(k)
    if (i === undefined && t.keys.length < KEY_TABLE_MAX) {
      i = t.keys.length + 1
      t.keyIndex.set(k, i)
      t.keys.push(k)
    }
    if (i !== undefined) { this.uint(i); return i }
    this.uint(KEY_INLINE)
    this.str(k, -1)
    return -1
  }

  /** A string; keyNo: the key it is the value of (its number), -1 for none. */
  private str(s: string, keyNo: number): void {
    if (keyNo >= 0) {
      const before = this.last[keyNo]
      if (before === s) { this.u8(T_STR_SAME); return }
      this.undo.push(keyNo, before)
      this.last[keyNo] = s
    }
    const n = s.length
    this.ensure(6 + 3 * n)
    const b = this.buf
    if (n < 128) {
      // Short and ASCII (nearly every string of a control message): one byte of length, bytes copied here.
      const at = this.pos
      let i = 0
      for (; i < n; i++) {
        const c = s.charCodeAt(i)
        if (c >= 0x80) break
        b[at + 2 + i] = c
      }
      if (i === n) {
        b[at] = T_ASCII
        b[at + 1] = n
        this.pos = at + 2 + n
        return
      }
    }
    b[this.pos] = T_STR
    const lenAt = this.pos + 1
    this.pos += 5
    const written = b.write(s, this.pos, 'utf8')
    b.writeUInt32LE(written, lenAt)
    this.pos += written
  }

  /** The last string value written under each key (by key number), for T_STR_SAME. */
  private readonly last: (string | undefined)[] = []

  /** keyNo: the number of the key v is the value of, -1 for none. */
  private value(v: unknown, depth: number, keyNo: number): void {
    if (depth > 64) throw new NotPlain('nested too deep')
    switch (typeof v) {
      case 'undefined': this.u8(T_UNDEF); return
      case 'boolean': this.u8(v ? T_TRUE : T_FALSE); return
      case 'string': this.str(v, keyNo); return
      case 'bigint': this.u8(T_BIGINT); this.str(v.toString(), -1); return
      case 'number':
        if (Number.isInteger(v) && v >= 0 && v <= Number.MAX_SAFE_INTEGER && !Object.is(v, -0)) {
          this.u8(T_INT)
          this.uint(v)
        } else {
          this.u8(T_FLOAT)
          this.ensure(8)
          this.f64[0] = v
          this.buf.set(this.f64Bytes, this.pos)
          this.pos += 8
        }
        return
      case 'object': break
      default: throw new NotPlain(typeof v)
    }
    if (v === null) { this.u8(T_NULL); return }
    if (Array.isArray(v)) {
      this.u8(T_ARRAY)
      this.uint(v.length)
      for (let i = 0; i < v.length; i++) this.value(v[i], depth + 1, -1)
      return
    }
    if (v instanceof Uint8Array) {
      if (Buffer.isBuffer(v)) throw new NotPlain('Buffer') // read back as a Uint8Array: not the same type
      this.u8(T_BYTES)
      this.uint(v.length)
      this.ensure(v.length)
      this.buf.set(v, this.pos)
      this.pos += v.length
      return
    }
    const proto = Object.getPrototypeOf(v)
    if (proto !== Object.prototype && proto !== null) throw new NotPlain(proto?.constructor?.name ?? 'object')
    // Keys and values as two lists (the same order): a load by a computed key, per key, costs far more.
    const keys = Object.keys(v)
    const values = Object.values(v)
    this.u8(T_OBJECT)
    this.uint(keys.length)
    for (let i = 0; i < keys.length; i++) this.value(values[i], depth + 1, this.key(keys[i]!))
  }
}

export class RecordReader {
  private buf: Buffer = Buffer.alloc(0)
  private pos = 0
  private end = 0
  private readonly f64 = new Float64Array(1)
  private readonly f64Bytes = new Uint8Array(this.f64.buffer)

  constructor(private readonly tables: CodecTables) {}

  /** The value encoded in b[start, end). */
  decode(b: Buffer, start: number, end: number): unknown {
    this.buf = b
    this.pos = start
    this.end = end
    const v = this.value(-1)
    if (this.pos !== end) throw new Error(`record codec: ${end - this.pos} byte(s) left over (internal error)`)
    return v
  }

  private uint(): number {
    let x = 0
    let mul = 1
    for (;;) {
      const c = this.buf[this.pos++]!
      x += (c & 0x7f) * mul
      if (c < 0x80) return x
      mul *= 128
    }
  }

  /** Reads a key into this.k; returns its number, -1 for none. */
  private key(): number {
    const i = this.uint()
    if (i !== KEY_INLINE) {
      this.k = this.tables.keys[i - 1]!
      return i
    }
    this.k = this.value(-1) as string
    return -1
  }

  /** The key key() read last. */
  private k = ''

  private str(tag: number, keyNo: number): string {
    const b = this.buf as Buffer
    let s: string
    if (tag === T_ASCII) {
      const n = b[this.pos]!
      s = b.toString('latin1', this.pos + 1, this.pos + 1 + n)
      this.pos += 1 + n
    } else {
      const n = b.readUInt32LE(this.pos)
      s = b.toString('utf8', this.pos + 4, this.pos + 4 + n)
      this.pos += 4 + n
    }
    if (keyNo >= 0) this.last[keyNo] = s
    return s
  }

  /** The last string value read under each key, as the writer kept it. */
  private readonly last: (string | undefined)[] = []

  /** keyNo: the number of the key the value is of, -1 for none. */
  private value(keyNo: number): unknown {
    if (this.pos >= this.end) throw new Error('record codec: record ends early (internal error)')
    const tag = this.buf[this.pos++]!
    switch (tag) {
      case T_UNDEF: return undefined
      case T_NULL: return null
      case T_FALSE: return false
      case T_TRUE: return true
      case T_INT: return this.uint()
      case T_FLOAT:
        this.f64Bytes.set(this.buf.subarray(this.pos, this.pos + 8))
        this.pos += 8
        return this.f64[0]!
      case T_ASCII:
      case T_STR: return this.str(tag, keyNo)
      case T_STR_SAME: return this.last[keyNo]!
      case T_BIGINT: return BigInt(this.value(-1) as string)
      case T_ARRAY: {
        const n = this.uint()
        const a = new Array<unknown>(n)
        for (let i = 0; i < n; i++) a[i] = this.value(-1)
        return a
      }
      case T_BYTES: {
        const n = this.uint()
        // A copy: the reader's buffer is reused.
        const out = new Uint8Array(this.buf.subarray(this.pos, this.pos + n))
        this.pos += n
        return out
      }
      case T_OBJECT: {
        const n = this.uint()
        const o: Record<string, unknown> = {}
        for (let i = 0; i < n; i++) {
          const keyNo = this.key()
          const k = this.k
          const v = this.value(keyNo)
          // A key "__proto__" (decoded from a trace) is an own property, as it was, not the prototype.
          if (k === '__proto__') Object.defineProperty(o, k, {value: v, enumerable: true, writable: true, configurable: true})
          else o[k] = v
        }
        return o
      }
      default: throw new Error(`record codec: unknown tag ${tag} (internal error)`)
    }
  }
}
