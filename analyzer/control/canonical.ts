// The quick way through a control frame body (spec §3), for the frames
// nearly every writer sends: one map whose keys are the message's own, in
// the order of the spec's tables (MESSAGE_FIELDS), every value in its plain
// form (positive ints, ASCII strs, bins, fopt/bopt keys in table order too).
// Such a body is read straight into the message: the keys are compared as
// bytes with the ones expected next (no key string made, no map built and
// looked up again), the values are checked as they are read, and the message
// is made as one object literal per type.
//
// Anything else — another key order, an unknown or nil key, a float, a
// negative or non-minimal int, a non-ASCII str, a value that fails its check,
// any malformed byte — is not judged here: decodeCanonical returns undefined
// and the frame is decoded the general way (msgpack.ts, then validateMessage),
// which says what is wrong, if anything. What it returns is what the general
// way returns for the same bytes: the map decoded, kept as the message
// because its keys are already the message's (validateMessage's `owned`
// case), with fopt/bopt remade in table order.
import {checkAddress} from './addr.js'
import {MESSAGE_FIELDS, MESSAGE_TYPES, TERMINATE_REASONS, type ControlMessage, type FieldKind, type SynAckOptions} from './messages.js'

const ascii = new TextEncoder()
const utf8 = new TextDecoder('utf-8', {fatal: true})

/** A key as the bytes of its fixstr. */
function keyBytes(k: string): Uint8Array {
  const s = ascii.encode(k)
  const out = new Uint8Array(1 + s.length)
  out[0] = 0xa0 | s.length
  out.set(s, 1)
  return out
}

interface Field {
  key: Uint8Array
  kind: FieldKind
  optional: boolean
}

/** Per message type (MESSAGE_TYPES order): its name as a fixstr, and its keys after `v` and `t`. */
const TYPES = MESSAGE_TYPES.map((t) => ({
  name: keyBytes(t),
  fields: MESSAGE_FIELDS[t].map((f): Field => ({key: keyBytes(f.key), kind: f.kind, optional: f.optional === true})),
}))
const KEY_V = keyBytes('v')
const KEY_T = keyBytes('t')
const KEY_MSS = keyBytes('mss')
const KEY_WS = keyBytes('ws')
const KEY_SACK = keyBytes('sack')
const KEY_TS = keyBytes('ts')
const REASONS: ReadonlySet<string> = new Set(TERMINATE_REASONS)

/** No value (a value that is never one: the body is left to the general decoder). */
const NO = undefined

// The body being read (one at a time: nothing here calls out).
let b: Uint8Array = new Uint8Array(0)
let p = 0
let end = 0
let borrow = false
/** The values of the current message's keys after `v` and `t`, by field index (undefined: absent). */
const vals: unknown[] = new Array(16).fill(undefined)

/**
 * The message in body `buf[start, stop)` when it is written the plain way (see the header); undefined otherwise
 * (decode it the general way). borrowBins: the `pkts` bins are views of buf rather than copies (for a caller
 * that is done with them before buf changes).
 */
export function decodeCanonical(buf: Uint8Array, start: number, stop: number, borrowBins: boolean): ControlMessage | undefined {
  b = buf
  p = start
  end = stop
  borrow = borrowBins
  try {
    return message()
  } finally {
    b = EMPTY
  }
}

const EMPTY = new Uint8Array(0)

function message(): ControlMessage | undefined {
  const n = count(0x80, 0xde)
  if (n < 2 || !key(KEY_V) || p >= end || b[p] !== 1) return NO
  p++
  if (!key(KEY_T)) return NO
  let ti = 0
  while (ti < TYPES.length && !key(TYPES[ti]!.name)) ti++
  if (ti === TYPES.length) return NO
  const fields = TYPES[ti]!.fields
  let fi = 0
  for (let k = 2; k < n; k++) {
    // The next key: the next field's, or a later one's when those between are optional (absent).
    for (;;) {
      if (fi === fields.length) return NO
      if (key(fields[fi]!.key)) break
      if (!fields[fi]!.optional) return NO
      vals[fi++] = undefined
    }
    const v = value(fields[fi]!.kind)
    if (v === NO) return NO
    vals[fi++] = v
  }
  for (; fi < fields.length; fi++) {
    if (!fields[fi]!.optional) return NO
    vals[fi] = undefined
  }
  if (p !== end) return NO
  return BUILD[ti]!(vals)
}

/**
 * The element count of the map or array header at the cursor, in its fix form (fix: 0x80 fixmap, 0x90 fixarray;
 * up to 15) or its 16-bit form (code16: 0xde map16, 0xdc array16), the cursor past it; -1 for anything else.
 */
function count(fix: number, code16: number): number {
  if (p >= end) return -1
  const c = b[p]!
  if (c >= fix && c <= fix + 0x0f) {
    p += 1
    return c & 0x0f
  }
  if (c !== code16 || p + 3 > end) return -1
  const n = (b[p + 1]! << 8) | b[p + 2]!
  p += 3
  return n
}

/** True (and past it) when the key at the cursor is k (a fixstr's bytes). */
function key(k: Uint8Array): boolean {
  const n = k.length
  if (p + n > end) return false
  for (let i = 0; i < n; i++) if (b[p + i] !== k[i]) return false
  p += n
  return true
}

function value(kind: FieldKind): unknown {
  switch (kind) {
    case 'name': {
      const s = str()
      return s === '' ? NO : s
    }
    case 'str':
      return str()
    case 'reason': {
      const s = str()
      return s !== NO && REASONS.has(s) ? s : NO
    }
    case 'ip':
      return ip()
    case 'mac':
      return mac()
    case 'uint32': {
      const i = uint()
      return i >= 0 && i <= 0xffff_ffff ? i : NO
    }
    case 'uint': {
      const i = uint()
      return i >= 0 ? i : NO
    }
    case 'port': {
      const i = uint()
      return i >= 0 && i <= 0xffff ? i : NO
    }
    case 'opts':
      return opts()
    case 'pkts':
      return pkts()
  }
}

/** A positive int in its plain forms (fixint, uint 8/16/32/64 below 2^53); -1 for anything else. */
function uint(): number {
  if (p >= end) return -1
  const c = b[p]!
  if (c <= 0x7f) {
    p++
    return c
  }
  const w = c === 0xcc ? 1 : c === 0xcd ? 2 : c === 0xce ? 4 : c === 0xcf ? 8 : 0
  if (w === 0 || p + 1 + w > end) return -1
  const q = p + 1
  p = q + w
  if (w === 1) return b[q]!
  if (w === 2) return (b[q]! << 8) | b[q + 1]!
  const hi = b[q]! * 0x100_0000 + ((b[q + 1]! << 16) | (b[q + 2]! << 8) | b[q + 3]!)
  if (w === 4) return hi
  // Below 2^53 (what the general reader gives as a number).
  if (hi >= 0x20_0000) return -1
  return hi * 0x1_0000_0000 + (b[q + 4]! * 0x100_0000 + ((b[q + 5]! << 16) | (b[q + 6]! << 8) | b[q + 7]!))
}

/** Start and length of an ASCII str's bytes at the cursor (fixstr, str8, str16), the cursor past it; false otherwise. */
let sAt = 0
let sLen = 0
function strBytes(): boolean {
  if (p >= end) return false
  const c = b[p]!
  let n: number
  let q: number
  if (c >= 0xa0 && c <= 0xbf) {
    n = c & 0x1f
    q = p + 1
  } else if (c === 0xd9 && p + 2 <= end) {
    n = b[p + 1]!
    q = p + 2
  } else if (c === 0xda && p + 3 <= end) {
    n = (b[p + 1]! << 8) | b[p + 2]!
    q = p + 3
  } else return false
  if (q + n > end) return false
  for (let i = q; i < q + n; i++) if (b[i]! >= 0x80) return false
  sAt = q
  sLen = n
  p = q + n
  return true
}

/** The string of the bytes strBytes found (ASCII). */
function strOf(): string {
  if (sLen > 32) return utf8.decode(b.subarray(sAt, sAt + sLen))
  let out = ''
  for (let i = sAt; i < sAt + sLen; i++) out += String.fromCharCode(b[i]!)
  return out
}

function str(): string | undefined {
  return strBytes() ? strOf() : NO
}

/** A dotted IPv4 address as checkAddress accepts it (octets 0..255 without leading zeros), on its bytes; or IPv6 text checkAddress accepts. */
function ip(): string | undefined {
  if (!strBytes()) return NO
  let i = sAt
  const z = sAt + sLen
  let colon = false
  for (let j = i; j < z; j++) if (b[j] === 0x3a) colon = true
  if (colon) {
    const s = strOf()
    return checkAddress(s) === null ? s : NO
  }
  for (let octet = 0; octet < 4; octet++) {
    if (octet > 0) {
      if (i >= z || b[i] !== 0x2e) return NO
      i++
    }
    const s = i
    let v = 0
    while (i < z && i - s < 3 && b[i]! >= 0x30 && b[i]! <= 0x39) v = v * 10 + b[i++]! - 0x30
    const digits = i - s
    if (digits === 0 || (digits > 1 && b[s] === 0x30) || v > 255) return NO
  }
  return i === z ? strOf() : NO
}

/** aa:bb:cc:dd:ee:ff, lower case (isMac), on its bytes. */
function mac(): string | undefined {
  if (!strBytes() || sLen !== 17) return NO
  for (let i = 0; i < 17; i++) {
    const c = b[sAt + i]!
    if (i % 3 === 2 ? c !== 0x3a : !((c >= 0x30 && c <= 0x39) || (c >= 0x61 && c <= 0x66))) return NO
  }
  return strOf()
}

/** fopt / bopt: mss, ws (optional), sack, ts, in this order. */
function opts(): SynAckOptions | undefined {
  if (p >= end) return NO
  const n = b[p]! - 0x80
  if (n !== 3 && n !== 4) return NO
  p++
  if (!key(KEY_MSS)) return NO
  const mss = uint()
  if (mss < 0 || mss > 0xffff) return NO
  let ws = -1
  if (n === 4) {
    if (!key(KEY_WS)) return NO
    ws = uint()
    if (ws < 0 || ws > 0xff) return NO
  }
  if (!key(KEY_SACK)) return NO
  const sack = bool()
  if (sack === NO || !key(KEY_TS)) return NO
  const ts = bool()
  if (ts === NO) return NO
  // Key order as validateMessage's normalised map.
  return ws >= 0 ? {mss, ws, sack, ts} : {mss, sack, ts}
}

function bool(): boolean | undefined {
  if (p >= end) return NO
  const c = b[p]!
  if (c !== 0xc2 && c !== 0xc3) return NO
  p++
  return c === 0xc3
}

/** An array of bins (fixarray or array16). */
function pkts(): Uint8Array[] | undefined {
  const n = count(0x90, 0xdc)
  if (n < 0 || n > end - p) return NO
  const out = new Array<Uint8Array>(n)
  for (let i = 0; i < n; i++) {
    if (p >= end) return NO
    const t = b[p]!
    let len: number
    let q: number
    if (t === 0xc4 && p + 2 <= end) {
      len = b[p + 1]!
      q = p + 2
    } else if (t === 0xc5 && p + 3 <= end) {
      len = (b[p + 1]! << 8) | b[p + 2]!
      q = p + 3
    } else return NO
    if (q + len > end) return NO
    if (borrow) out[i] = new Uint8Array(b.buffer, b.byteOffset + q, len)
    else {
      const copy = new Uint8Array(len)
      copy.set(b.subarray(q, q + len))
      out[i] = copy
    }
    p = q + len
  }
  return out
}

type Build = (x: unknown[]) => ControlMessage
const as = (m: object) => m as ControlMessage

// One object literal per type (and per optional key but the last), keys in table order (MESSAGE_FIELDS): x holds
// the values by field index.
const BUILD: Build[] = MESSAGE_TYPES.map((t): Build => {
  switch (t) {
    case 'hello':
      return (x) => as({v: 1, t: 'hello', node: x[0], at: x[1], addr: x[2], mac: x[3]})
    case 'handoff-req':
      return (x) => {
        const m: Record<string, unknown> = x[9] === undefined
          ? {v: 1, t: 'handoff-req', node: x[0], at: x[1], hid: x[2], cip: x[3], cport: x[4], vip: x[5], vport: x[6], ciss: x[7],
              fiss: x[8], fopt: x[10], pkts: x[11], url: x[12]}
          : {v: 1, t: 'handoff-req', node: x[0], at: x[1], hid: x[2], cip: x[3], cport: x[4], vip: x[5], vport: x[6], ciss: x[7],
              fiss: x[8], fts: x[9], fopt: x[10], pkts: x[11], url: x[12]}
        if (x[13] !== undefined) m['host'] = x[13]
        return as(m)
      }
    case 'handoff-ack':
      return (x) => as(x[4] === undefined
        ? {v: 1, t: 'handoff-ack', node: x[0], at: x[1], hid: x[2], biss: x[3], bopt: x[5], baddr: x[6], bmac: x[7]}
        : {v: 1, t: 'handoff-ack', node: x[0], at: x[1], hid: x[2], biss: x[3], bts: x[4], bopt: x[5], baddr: x[6], bmac: x[7]})
    case 'handoff-nack':
      return (x) => as({v: 1, t: 'handoff-nack', node: x[0], at: x[1], hid: x[2], err: x[3]})
    case 'terminate':
      return (x) => as({v: 1, t: 'terminate', node: x[0], at: x[1], hid: x[2], reason: x[3], cbytes: x[4], sbytes: x[5]})
    case 'ping':
      return (x) => as({v: 1, t: 'ping', node: x[0], at: x[1], n: x[2]})
    case 'pong':
      return (x) => as({v: 1, t: 'pong', node: x[0], at: x[1], n: x[2]})
  }
})

/** The message of type MESSAGE_TYPES[ti] whose keys after `v` and `t` have the values x (by field index, undefined: absent), already checked. */
export function buildMessage(ti: number, x: unknown[]): ControlMessage {
  return BUILD[ti]!(x)
}
