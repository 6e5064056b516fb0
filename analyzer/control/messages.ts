// Control-channel messages (spec §3): their types, the one table that lists
// each message's keys in the spec's order, and validation of decoded maps.
//
// The field table drives both validation and encoding (codec.ts), so the two
// cannot disagree about which keys exist, which are optional, or their order.

import {checkAddress, isMac} from './addr.js'
import {describe, MsgpackFloat} from './msgpack.js'

export const PROTOCOL_VERSION = 1
/** Default TCP port of the control channel (spec §1). */
export const CONTROL_PORT = 7070

export const MESSAGE_TYPES = ['hello', 'handoff-req', 'handoff-ack', 'handoff-nack', 'terminate', 'ping', 'pong'] as const
export type MessageType = (typeof MESSAGE_TYPES)[number]

export const TERMINATE_REASONS = ['fin', 'rst', 'timeout'] as const
export type TerminateReason = (typeof TERMINATE_REASONS)[number]

/** Keys of every message. `at` is microseconds since the Unix epoch. */
export interface MessageBase<T extends MessageType> {
  v: 1
  t: T
  node: string
  at: number
}

/** `fopt` / `bopt`: the options a node's SYN/ACK announced. */
export interface SynAckOptions {
  mss: number
  /** Window-scale shift; absent when the SYN/ACK had no window-scale option. */
  ws?: number
  sack: boolean
  ts: boolean
}

export interface Hello extends MessageBase<'hello'> {
  /** The node's service address. */
  addr: string
  mac: string
}

export interface HandoffReq extends MessageBase<'handoff-req'> {
  hid: string
  cip: string
  cport: number
  vip: string
  vport: number
  ciss: number
  fiss: number
  fts?: number
  fopt: SynAckOptions
  /** The stored client segments as IP datagrams (no link header): SYN, ACK, data… */
  pkts: Uint8Array[]
  url: string
  host?: string
}

export interface HandoffAck extends MessageBase<'handoff-ack'> {
  hid: string
  biss: number
  bts?: number
  bopt: SynAckOptions
  baddr: string
  bmac: string
}

export interface HandoffNack extends MessageBase<'handoff-nack'> {
  hid: string
  err: string
}

export interface Terminate extends MessageBase<'terminate'> {
  hid: string
  reason: TerminateReason
  /** Payload bytes received from the client. */
  cbytes: number
  /** Payload bytes sent to the client. */
  sbytes: number
}

export interface Ping extends MessageBase<'ping'> {
  n: number
}

export interface Pong extends MessageBase<'pong'> {
  n: number
}

export type ControlMessage = Hello | HandoffReq | HandoffAck | HandoffNack | Terminate | Ping | Pong
export type MessageOf<T extends MessageType> = Extract<ControlMessage, {t: T}>

// ---------------------------------------------------------------------------
// The field table.

/**
 * - `name`: non-empty str (node names, handoff ids, the request target)
 * - `str`: any str
 * - `ip`: dotted IPv4 or RFC 5952 IPv6 (see addr.ts)
 * - `mac`: `aa:bb:cc:dd:ee:ff`
 * - `uint32`: sequence numbers and timestamps (spec: unsigned 32-bit)
 * - `uint`: non-negative integer; we hold it as a JS number, so it must be < 2^53
 * - `port`: uint <= 65535
 * - `reason`: fin | rst | timeout
 * - `opts`: a SynAckOptions map
 * - `pkts`: array of bin
 */
export type FieldKind = 'name' | 'str' | 'ip' | 'mac' | 'uint32' | 'uint' | 'port' | 'reason' | 'opts' | 'pkts'

export interface FieldSpec {
  readonly key: string
  readonly kind: FieldKind
  readonly optional?: boolean
}

const f = (key: string, kind: FieldKind, optional = false): FieldSpec => ({key, kind, optional})

/** `node` and `at`, which follow `v` and `t` in every message. */
const COMMON: readonly FieldSpec[] = [f('node', 'name'), f('at', 'uint')]

/**
 * Keys after `v` and `t`, per type, in the order of the spec's tables. This is
 * also the encoding order: v, t, node, at, then the type's keys.
 */
export const MESSAGE_FIELDS: {readonly [T in MessageType]: readonly FieldSpec[]} = {
  hello: [...COMMON, f('addr', 'ip'), f('mac', 'mac')],
  'handoff-req': [
    ...COMMON,
    f('hid', 'name'),
    f('cip', 'ip'),
    f('cport', 'port'),
    f('vip', 'ip'),
    f('vport', 'port'),
    f('ciss', 'uint32'),
    f('fiss', 'uint32'),
    f('fts', 'uint32', true),
    f('fopt', 'opts'),
    f('pkts', 'pkts'),
    f('url', 'name'),
    f('host', 'str', true),
  ],
  'handoff-ack': [...COMMON, f('hid', 'name'), f('biss', 'uint32'), f('bts', 'uint32', true), f('bopt', 'opts'), f('baddr', 'ip'), f('bmac', 'mac')],
  'handoff-nack': [...COMMON, f('hid', 'name'), f('err', 'str')],
  terminate: [...COMMON, f('hid', 'name'), f('reason', 'reason'), f('cbytes', 'uint'), f('sbytes', 'uint')],
  ping: [...COMMON, f('n', 'uint')],
  pong: [...COMMON, f('n', 'uint')],
}

/** Keys of `fopt`/`bopt` in the spec's order. `mss` <= 65535 and `ws` <= 255: both are TCP option fields of that width. */
export const OPTION_FIELDS: readonly {key: 'mss' | 'ws' | 'sack' | 'ts'; kind: 'uint16' | 'uint8' | 'bool'; optional: boolean}[] = [
  {key: 'mss', kind: 'uint16', optional: false},
  {key: 'ws', kind: 'uint8', optional: true},
  {key: 'sack', kind: 'bool', optional: false},
  {key: 'ts', kind: 'bool', optional: false},
]

// ---------------------------------------------------------------------------
// Validation.

export type ValidationCode =
  | 'not-a-map' // the value is not a map (with string keys)
  | 'missing-key' // a required key is absent or nil
  | 'wrong-type' // a key's value has the wrong MessagePack type or does not fit its declared width (e.g. uint32)
  | 'bad-version' // `v` is an integer other than 1
  | 'unknown-type' // `t` is a string naming no message of §3
  | 'bad-value' // right type, impossible value (address syntax, MAC, reason, port/mss/ws range, empty name, uint >= 2^53)

export type ValidationResult = {ok: true; msg: ControlMessage} | {ok: false; code: ValidationCode; detail: string}

/** Each type's keys (MESSAGE_FIELDS), by a type name as decoded: none for a name of no type. */
const FIELDS_OF: ReadonlyMap<string, readonly FieldSpec[]> = new Map(MESSAGE_TYPES.map((t) => [t, MESSAGE_FIELDS[t]]))
const REASON_SET: ReadonlySet<string> = new Set(TERMINATE_REASONS)

// Failure is reported through these two module variables instead of a result
// object per field: validation runs once per control message.
let failCode: ValidationCode = 'wrong-type'
let failDetail = ''
const FAIL: unique symbol = Symbol('fail')

function fail(code: ValidationCode, detail: string): typeof FAIL {
  failCode = code
  failDetail = detail
  return FAIL
}

/** A plain map: what our reader returns for a MessagePack map, or an object literal. */
function isMap(v: unknown): v is Record<string, unknown> {
  if (typeof v !== 'object' || v === null) return false
  const proto = Object.getPrototypeOf(v)
  return proto === null || proto === Object.prototype
}

/**
 * An integer from a decoded value: a JS integer or a bigint (uint64/int64
 * beyond 2^53 decode as bigint, and msgpackr may hand out bigints too).
 * Returns null when it is no integer at all (str, float, bool…).
 */
function integerOf(v: unknown): number | bigint | null {
  if (typeof v === 'number') return Number.isInteger(v) ? v : null
  if (typeof v === 'bigint') return v
  return null
}

function checkUint(v: unknown, path: string, max: number, width: string): number | typeof FAIL {
  const i = integerOf(v)
  if (i === null) return fail('wrong-type', `${path}: expected ${width}, got ${describe(v)}`)
  if (i < 0) return fail('wrong-type', `${path}: expected ${width}, got negative ${i}`)
  if (i > max) {
    // Over the declared width (uint32) is the wrong type; over 2^53 for a
    // plain uint is a value we cannot hold exactly.
    return max === Number.MAX_SAFE_INTEGER
      ? fail('bad-value', `${path}: ${i} is beyond 2^53-1, too large to hold exactly`)
      : fail(width === 'uint32' ? 'wrong-type' : 'bad-value', `${path}: ${i} does not fit ${width}`)
  }
  return Number(i)
}

function checkOpts(v: unknown, path: string): SynAckOptions | typeof FAIL {
  if (!isMap(v)) return fail('wrong-type', `${path}: expected a map, got ${describe(v)}`)
  const out: Partial<SynAckOptions> = {}
  for (const o of OPTION_FIELDS) {
    const x = v[o.key]
    const p = `${path}.${o.key}`
    if (x === undefined || x === null) {
      if (o.optional) continue
      return fail('missing-key', `${p}: required key is ${x === null ? 'nil' : 'absent'}`)
    }
    if (o.kind === 'bool') {
      if (typeof x !== 'boolean') return fail('wrong-type', `${p}: expected a bool, got ${describe(x)}`)
      out[o.key as 'sack' | 'ts'] = x
    } else {
      const n = checkUint(x, p, o.kind === 'uint16' ? 0xffff : 0xff, o.kind)
      if (n === FAIL) return FAIL
      out[o.key as 'mss' | 'ws'] = n
    }
  }
  return out as SynAckOptions
}

function checkField(kind: FieldKind, v: unknown, path: string): unknown {
  switch (kind) {
    case 'name':
    case 'str':
      if (typeof v !== 'string') return fail('wrong-type', `${path}: expected a str, got ${describe(v)}`)
      if (kind === 'name' && v.length === 0) return fail('bad-value', `${path}: must not be empty`)
      return v
    case 'ip': {
      if (typeof v !== 'string') return fail('wrong-type', `${path}: expected an address str, got ${describe(v)}`)
      const why = checkAddress(v)
      return why === null ? v : fail('bad-value', `${path}: ${JSON.stringify(v)} is ${why}`)
    }
    case 'mac':
      if (typeof v !== 'string') return fail('wrong-type', `${path}: expected a MAC str, got ${describe(v)}`)
      return isMac(v) ? v : fail('bad-value', `${path}: ${JSON.stringify(v)} is not a MAC written aa:bb:cc:dd:ee:ff (lower case)`)
    case 'uint32':
      return checkUint(v, path, 0xffff_ffff, 'uint32')
    case 'uint':
      return checkUint(v, path, Number.MAX_SAFE_INTEGER, 'uint')
    case 'port':
      return checkUint(v, path, 0xffff, 'port (uint16)')
    case 'reason':
      if (typeof v !== 'string') return fail('wrong-type', `${path}: expected a str, got ${describe(v)}`)
      return REASON_SET.has(v) ? v : fail('bad-value', `${path}: ${JSON.stringify(v)} is not one of ${TERMINATE_REASONS.join(', ')}`)
    case 'opts':
      return checkOpts(v, path)
    case 'pkts': {
      if (!Array.isArray(v)) return fail('wrong-type', `${path}: expected an array of bin, got ${describe(v)}`)
      for (let i = 0; i < v.length; i++) {
        if (!(v[i] instanceof Uint8Array)) return fail('wrong-type', `${path}[${i}]: expected a bin, got ${describe(v[i])}`)
      }
      // Same array and buffers: the decoder already copied them out of the
      // frame; for objects built in memory the caller owns them.
      return v as Uint8Array[]
    }
  }
}

/**
 * Checks a decoded value against §3 and returns a normalised message: only
 * the spec's keys (unknown keys are ignored, as §3 says), in table order,
 * optional keys absent-or-nil → omitted, integers as JS numbers (bigints are
 * accepted and converted when they fit). Checks `v` first (a future version
 * may have other types), then `t`, then the keys in table order; the first
 * failure is reported. owned: obj is the caller's to give (decoded for this
 * call): it may come back as the message rather than be copied.
 */
export function validateMessage(obj: unknown, owned = false): ValidationResult {
  if (!isMap(obj)) return {ok: false, code: 'not-a-map', detail: `the frame holds ${describe(obj)}, not a map`}

  const v = obj['v']
  if (v === undefined || v === null) return {ok: false, code: 'missing-key', detail: `v: required key is ${v === null ? 'nil' : 'absent'}`}
  const vi = integerOf(v)
  if (vi === null) return {ok: false, code: 'wrong-type', detail: `v: expected uint, got ${describe(v)}`}
  if (vi !== PROTOCOL_VERSION && vi !== BigInt(PROTOCOL_VERSION)) {
    return {ok: false, code: 'bad-version', detail: `v: protocol version ${vi}, this codec speaks ${PROTOCOL_VERSION}`}
  }

  const t = obj['t']
  if (t === undefined || t === null) return {ok: false, code: 'missing-key', detail: `t: required key is ${t === null ? 'nil' : 'absent'}`}
  if (typeof t !== 'string') return {ok: false, code: 'wrong-type', detail: `t: expected a str, got ${describe(t)}`}
  const fields = FIELDS_OF.get(t)
  if (fields === undefined) return {ok: false, code: 'unknown-type', detail: `t: unknown message type ${JSON.stringify(t)}`}

  // Checked first, the message built after (the keys present: a bit each, in table order).
  let present = 0
  // The normalised fopt / bopt (a new map: a message has one at most); some value is a bigint (made a number).
  let opts: unknown
  let bigints = false
  for (let i = 0; i < fields.length; i++) {
    const field = fields[i]!
    const x = obj[field.key]
    if (x === undefined || x === null) {
      if (field.optional) continue
      return {ok: false, code: 'missing-key', detail: `${field.key}: required key of ${t} is ${x === null ? 'nil' : 'absent'}`}
    }
    const r = checkField(field.kind, x, field.key)
    if (r === FAIL) return {ok: false, code: failCode, detail: failDetail}
    if (field.kind === 'opts') opts = r
    else if (typeof x === 'bigint') bigints = true
    present |= 1 << i
  }
  if (owned && hasKeysOf(obj, fields, present)) {
    // The map itself (the caller's to give: decoded for this call) when it holds just the keys the message keeps,
    // in their order, as a frame of any §3 writer does: only values normalised (fopt, bigints) are replaced.
    if (obj['v'] !== PROTOCOL_VERSION) obj['v'] = PROTOCOL_VERSION
    for (let i = 0; i < fields.length; i++) {
      if ((present & (1 << i)) === 0) continue
      const field = fields[i]!
      if (field.kind === 'opts') obj[field.key] = opts
      else if (bigints && typeof obj[field.key] === 'bigint') obj[field.key] = checkField(field.kind, obj[field.key], field.key)
    }
    return {ok: true, msg: obj as unknown as ControlMessage}
  }
  const out: Record<string, unknown> = {v: PROTOCOL_VERSION, t}
  for (let i = 0; i < fields.length; i++) {
    if ((present & (1 << i)) === 0) continue
    const field = fields[i]!
    out[field.key] = field.kind === 'opts' ? opts : checkField(field.kind, obj[field.key], field.key)
  }
  return {ok: true, msg: out as unknown as ControlMessage}
}

/**
 * True when obj (a plain object with Object.prototype) has exactly the keys v, t and the fields present, in this
 * order: the keys a normalised message has.
 */
function hasKeysOf(obj: Record<string, unknown>, fields: readonly FieldSpec[], present: number): boolean {
  if (Object.getPrototypeOf(obj) !== Object.prototype) return false
  let i = -2
  for (const k in obj) {
    if (i === -2) {
      if (k !== 'v') return false
    } else if (i === -1) {
      if (k !== 't') return false
    } else {
      while (i < fields.length && (present & (1 << i)) === 0) i++
      if (i >= fields.length || k !== fields[i]!.key) return false
    }
    i++
  }
  while (i >= 0 && i < fields.length && (present & (1 << i)) === 0) i++
  return i === fields.length
}

/** Re-exported so users of validateMessage can build float values in tests. */
export {MsgpackFloat}
