// The control spool's own encoding of the records it nearly always holds: a
// FramedMessage as check's control pass makes it (ControlCollector's framed,
// a validated message — control/canonical.ts or validateMessage — whose
// `pkts` were taken out). Its shape is known, so a record is written field by
// field in that order — no key written, looked up or numbered, no walk of
// every object's keys and values (record-codec.ts's general encoding, which
// was most of the cost of spooling a message) — and read back as the same
// object literals, keys in the same order.
//
// A record of any other shape (another key, another order, a value of
// another type, a request that still has its `pkts`…) is refused (encode
// returns null) and the spool writes it with record-codec.ts as before.
//
// Layout: file, direction (each a str, or "same as the record before");
// fileIndex, iface, frame, tsSec, tsNsec (uint); pktsPrint (count + 1, 0 for
// none; then each + 1); the message: its type's index (MESSAGE_TYPES), a
// bit per field present (MESSAGE_FIELDS), then each present field's value.
// `v` is 1, `t` the type's name, a request's `pkts` the empty array, and the
// record's `t` tsSec + tsNsec / 1e9, all checked when written.
// uint: LEB128; str: uint of byte length × 2 + (1 when not ASCII), the bytes.
import {buildMessage} from '../control/canonical.js'
import {MESSAGE_FIELDS, MESSAGE_TYPES, type ControlMessage, type FieldKind} from '../control/messages.js'
import type {FramedMessage} from './control.js'
import {GrowBuffer} from './grow-buffer.js'

const FRAMED_KEYS = ['msg', 'file', 'fileIndex', 'iface', 'frame', 'tsSec', 'tsNsec', 't', 'direction']
const TYPE_INDEX: ReadonlyMap<string, number> = new Map(MESSAGE_TYPES.map((t, i) => [t, i]))
const FIELDS = MESSAGE_TYPES.map((t) => MESSAGE_FIELDS[t])
const SAME = 0xff
/** fopt / bopt's keys but ws (optional, second). */
const OPT_KEYS = ['mss', 'sack', 'ts']

/** Thrown inside encode: not a record of the shape this codec writes. */
const REFUSE = new Error('not a framed message of the usual shape')

export class FramedWriter extends GrowBuffer {
  private lastFile: string | null = null
  private lastDirection: string | null = null

  /** The record's bytes (valid until the next call), or null: not of this shape (nothing remembered of it). */
  encode(m: FramedMessage): Buffer | null {
    this.pos = 0
    try {
      this.framed(m)
    } catch (e) {
      if (e === REFUSE) return null
      throw e
    }
    this.lastFile = m.file
    this.lastDirection = m.direction
    return this.buf.subarray(0, this.pos)
  }

  private framed(m: FramedMessage): void {
    if (Object.getPrototypeOf(m) !== Object.prototype) throw REFUSE
    // Its keys (for-in: no array made), in order.
    let n = 0
    for (const k in m) {
      if (n < 9 ? k !== FRAMED_KEYS[n] : n > 9 || k !== 'pktsPrint') throw REFUSE
      n++
    }
    if (n < 9) throw REFUSE
    const {file, direction} = m
    if (typeof file !== 'string' || typeof direction !== 'string') throw REFUSE
    if (m.t !== m.tsSec + m.tsNsec / 1e9) throw REFUSE
    this.sameOr(file, this.lastFile)
    this.sameOr(direction, this.lastDirection)
    this.uint(m.fileIndex)
    this.uint(m.iface)
    this.uint(m.frame)
    this.uint(m.tsSec)
    this.uint(m.tsNsec)
    const print = m.pktsPrint
    if (n === 10) {
      if (!Array.isArray(print) || Object.getPrototypeOf(print) !== Array.prototype) throw REFUSE
      this.uint(print.length + 1)
      for (let i = 0; i < print.length; i++) {
        const x = print[i]
        if (typeof x !== 'number' || x < -1 || Object.is(x, -0)) throw REFUSE
        this.uint(x + 1)
      }
    } else this.uint(0)
    this.message(m.msg)
  }

  private message(msg: ControlMessage): void {
    if (typeof msg !== 'object' || msg === null || Object.getPrototypeOf(msg) !== Object.prototype) throw REFUSE
    if (msg.v !== 1) throw REFUSE
    const ti = TYPE_INDEX.get(msg.t)
    if (ti === undefined) throw REFUSE
    const fields = FIELDS[ti]!
    const m = msg as unknown as Record<string, unknown>
    // The keys present: v, t, then fields in table order (optional ones may be left out), and nothing else.
    let present = 0
    let i = -2
    for (const k in m) {
      if (i === -2) {
        if (k !== 'v') throw REFUSE
      } else if (i === -1) {
        if (k !== 't') throw REFUSE
      } else {
        while (i < fields.length && k !== fields[i]!.key) {
          if (fields[i]!.optional !== true) throw REFUSE
          i++
        }
        if (i === fields.length) throw REFUSE
        present |= 1 << i
      }
      i++
    }
    if (i < 0) throw REFUSE
    for (; i < fields.length; i++) if (fields[i]!.optional !== true) throw REFUSE
    this.u8(ti)
    this.uint(present)
    for (let i = 0; i < fields.length; i++) if ((present & (1 << i)) !== 0) this.value(fields[i]!.kind, m[fields[i]!.key])
  }

  private value(kind: FieldKind, v: unknown): void {
    switch (kind) {
      case 'name': case 'str': case 'ip': case 'mac': case 'reason':
        if (typeof v !== 'string') throw REFUSE
        this.str(v)
        return
      case 'uint32': case 'uint': case 'port':
        this.uint(v)
        return
      case 'opts': {
        if (typeof v !== 'object' || v === null || Object.getPrototypeOf(v) !== Object.prototype) throw REFUSE
        const o = v as Record<string, unknown>
        // mss, ws (optional), sack, ts.
        let n = 0
        let ws = false
        for (const k in o) {
          if (n === 1 && k === 'ws') ws = true
          else if (k !== OPT_KEYS[ws ? n - 1 : n]) throw REFUSE
          n++
        }
        if (n !== (ws ? 4 : 3)) throw REFUSE
        if (typeof o['sack'] !== 'boolean' || typeof o['ts'] !== 'boolean') throw REFUSE
        this.u8((ws ? 4 : 0) | (o['sack'] ? 2 : 0) | (o['ts'] ? 1 : 0))
        this.uint(o['mss'])
        if (ws) this.uint(o['ws'])
        return
      }
      case 'pkts':
        // Taken out by the control pass (PKTS_NOT_KEPT): read back as an empty array, as record-codec.ts does.
        if (!Array.isArray(v) || v.length !== 0) throw REFUSE
        return
    }
  }

  /** A non-negative safe integer, LEB128. */
  private uint(v: unknown): void {
    if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0 || Object.is(v, -0)) throw REFUSE
    this.ensure(8)
    const b = this.buf
    let p = this.pos
    let x = v
    while (x >= 0x8000_0000) {
      b[p++] = (x & 0x7f) | 0x80
      x = Math.floor(x / 128)
    }
    let y = x
    while (y >= 0x80) {
      b[p++] = (y & 0x7f) | 0x80
      y >>>= 7
    }
    b[p++] = y
    this.pos = p
  }

  private sameOr(s: string, last: string | null): void {
    if (s === last) this.u8(SAME)
    else {
      this.u8(0)
      this.str(s)
    }
  }

  private str(s: string): void {
    const n = s.length
    this.ensure(5 + 3 * n)
    const b = this.buf
    // ASCII (nearly every string of a message): the bytes after the length, written here.
    const at = this.pos + (n < 64 ? 1 : 5)
    let i = 0
    for (; i < n; i++) {
      const c = s.charCodeAt(i)
      if (c >= 0x80) break
      b[at + i] = c
    }
    if (i === n) {
      if (n < 64) {
        b[this.pos] = n * 2
        this.pos = at + n
      } else {
        this.uint(n * 2)
        b.copyWithin(this.pos, at, at + n)
        this.pos += n
      }
      return
    }
    const bytes = Buffer.byteLength(s, 'utf8')
    this.uint(bytes * 2 + 1)
    this.ensure(bytes)
    this.buf.write(s, this.pos, 'utf8')
    this.pos += bytes
  }
}

export class FramedReader {
  private b: Buffer = Buffer.alloc(0)
  private p = 0
  private lastFile = ''
  private lastDirection = ''
  private readonly vals: unknown[] = new Array(16).fill(undefined)

  /** The record in b[start, end). */
  decode(b: Buffer, start: number, end: number): FramedMessage {
    this.b = b
    this.p = start
    const file = b[this.p] === SAME ? (this.p++, this.lastFile) : (this.p++, this.str())
    const direction = b[this.p] === SAME ? (this.p++, this.lastDirection) : (this.p++, this.str())
    this.lastFile = file
    this.lastDirection = direction
    const fileIndex = this.uint()
    const iface = this.uint()
    const frame = this.uint()
    const tsSec = this.uint()
    const tsNsec = this.uint()
    const t = tsSec + tsNsec / 1e9
    const np = this.uint()
    let print: number[] | undefined
    if (np > 0) {
      print = []
      for (let i = 0; i < np - 1; i++) print.push(this.uint() - 1)
    }
    const msg = this.message()
    if (this.p !== end) throw new Error(`framed codec: ${end - this.p} byte(s) left over (internal error)`)
    return print === undefined ? {msg, file, fileIndex, iface, frame, tsSec, tsNsec, t, direction}
      : {msg, file, fileIndex, iface, frame, tsSec, tsNsec, t, direction, pktsPrint: print}
  }

  private message(): ControlMessage {
    const ti = this.b[this.p++]!
    const present = this.uint()
    const fields = FIELDS[ti]!
    const x = this.vals
    for (let i = 0; i < fields.length; i++) {
      x[i] = (present & (1 << i)) === 0 ? undefined : this.value(fields[i]!.kind)
    }
    return buildMessage(ti, x)
  }

  private value(kind: FieldKind): unknown {
    switch (kind) {
      case 'name': case 'str': case 'ip': case 'mac': case 'reason':
        return this.str()
      case 'uint32': case 'uint': case 'port':
        return this.uint()
      case 'opts': {
        const f = this.b[this.p++]!
        const mss = this.uint()
        const sack = (f & 2) !== 0
        const ts = (f & 1) !== 0
        return (f & 4) !== 0 ? {mss, ws: this.uint(), sack, ts} : {mss, sack, ts}
      }
      case 'pkts':
        return []
    }
  }

  private uint(): number {
    const b = this.b
    let x = 0
    let mul = 1
    for (;;) {
      const c = b[this.p++]!
      x += (c & 0x7f) * mul
      if (c < 0x80) return x
      mul *= 128
    }
  }

  private str(): string {
    const h = this.uint()
    const n = h >>> 1
    const s = this.b.toString((h & 1) === 0 ? 'latin1' : 'utf8', this.p, this.p + n)
    this.p += n
    return s
  }
}
