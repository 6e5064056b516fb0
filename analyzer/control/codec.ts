// Encoding and single-frame decoding of control messages (spec §3).
//
// A frame is a 4-byte unsigned big-endian length L (1 <= L <= 1,048,576)
// followed by L bytes holding one MessagePack map with string keys.
//
// Encoding is deterministic: keys in the order of the spec's tables (v, t,
// node, at, then the type's keys — MESSAGE_FIELDS), every integer in its
// smallest MessagePack form (positive fixint, 0xcc, 0xcd, 0xce, 0xcf), strings
// as fixstr/str8/16/32, byte strings as bin8/16/32, maps as fixmap (<= 15
// entries) or map16, optional keys omitted when absent (never written as nil).
// The same message therefore always gives the same bytes, which is what the
// replayer and the golden tests rely on.

import {MESSAGE_FIELDS, OPTION_FIELDS, validateMessage, type ControlMessage, type FieldKind, type SynAckOptions, type ValidationCode} from './messages.js'
import {MsgpackReader, Writer, type ReadReason} from './msgpack.js'
import {decodeCanonical} from './canonical.js'

/** Largest frame body the spec allows (1 MiB). */
export const MAX_FRAME_LENGTH = 1_048_576
/** Bytes of the length prefix. */
export const LENGTH_PREFIX = 4

/** Thrown by encodeMessage/encodeFrame: the message is not one §3 allows, or too big. */
export class ControlEncodeError extends Error {
  constructor(
    readonly code: ValidationCode | 'oversize',
    message: string,
  ) {
    super(message)
    this.name = 'ControlEncodeError'
  }
}

function writeValue(w: Writer, kind: FieldKind, v: unknown): void {
  switch (kind) {
    case 'name':
    case 'str':
    case 'ip':
    case 'mac':
    case 'reason':
      w.str(v as string)
      return
    case 'uint32':
    case 'uint':
    case 'port':
      w.uint(v as number)
      return
    case 'opts': {
      const o = v as SynAckOptions
      let n = 0
      for (const of of OPTION_FIELDS) if (o[of.key] !== undefined) n++
      w.mapHeader(n)
      for (const of of OPTION_FIELDS) {
        const x = o[of.key]
        if (x === undefined) continue
        w.str(of.key)
        if (typeof x === 'boolean') w.bool(x)
        else w.uint(x)
      }
      return
    }
    case 'pkts': {
      const a = v as Uint8Array[]
      w.arrayHeader(a.length)
      for (const p of a) w.bin(p)
      return
    }
  }
}

/** Writes the map of an already validated (normalised) message. */
function writeMessage(w: Writer, msg: ControlMessage): void {
  const fields = MESSAGE_FIELDS[msg.t]
  const m = msg as unknown as Record<string, unknown>
  let n = 2 // v and t
  for (const fl of fields) if (m[fl.key] !== undefined) n++
  w.mapHeader(n)
  w.str('v')
  w.uint(msg.v)
  w.str('t')
  w.str(msg.t)
  for (const fl of fields) {
    const x = m[fl.key]
    if (x === undefined) continue
    w.str(fl.key)
    writeValue(w, fl.kind, x)
  }
}

function prepare(msg: ControlMessage): {norm: ControlMessage; length: number} {
  // Validate first: the codec must never put a frame on the wire that our own
  // analyzer would flag. (It also drops keys the spec does not define.)
  const r = validateMessage(msg)
  if (!r.ok) throw new ControlEncodeError(r.code, `cannot encode ${String((msg as {t?: unknown}).t)} message: ${r.code}: ${r.detail}`)
  const counter = new Writer(null)
  writeMessage(counter, r.msg)
  const length = counter.pos
  if (length < 1 || length > MAX_FRAME_LENGTH) {
    throw new ControlEncodeError('oversize', `${r.msg.t} message encodes to ${length} bytes; a control frame holds 1..${MAX_FRAME_LENGTH} (spec §3)`)
  }
  return {norm: r.msg, length}
}

/** The MessagePack body of a message (no length prefix). Throws ControlEncodeError. */
export function encodeMessage(msg: ControlMessage): Uint8Array {
  const {norm, length} = prepare(msg)
  const out = new Uint8Array(length)
  writeMessage(new Writer(out), norm)
  return out
}

/** One complete frame: u32 BE length + body. Throws ControlEncodeError. */
export function encodeFrame(msg: ControlMessage): Uint8Array {
  const {norm, length} = prepare(msg)
  const out = new Uint8Array(LENGTH_PREFIX + length)
  new DataView(out.buffer).setUint32(0, length)
  writeMessage(new Writer(out, LENGTH_PREFIX), norm)
  return out
}

/** Why a frame body was refused: a MessagePack-level or a message-level reason. */
export type BodyReason = ReadReason | ValidationCode

/**
 * Every reason a `control-framing` error can carry:
 * - framing (the stream can no longer be cut into frames; decoding stops):
 *   `zero-length`, `oversize` (L > 1 MiB), `stream-gap` (reassembly reported a
 *   hole), `truncated-frame` (the stream ended inside a frame);
 * - body (the frame is intact, its content is not; decoding goes on):
 *   `not-msgpack`, `ext-type`, `bad-length` (the value needs more bytes than
 *   L), `trailing-bytes` (bytes after the value), `non-string-key`,
 *   `duplicate-key`, `bad-utf8`, `too-deep`, and the validation codes
 *   `not-a-map`, `missing-key`, `wrong-type`, `bad-version`, `unknown-type`,
 *   `bad-value`.
 */
export type FramingReason = 'zero-length' | 'oversize' | 'stream-gap' | 'truncated-frame' | BodyReason

export type BodyResult = {ok: true; msg: ControlMessage} | {ok: false; reason: BodyReason; detail: string}

const sharedReader = new MsgpackReader()

/**
 * Decodes one frame body `buf[start, end)` (without its length prefix) into a
 * validated message. Never throws. Byte strings in the result are copies;
 * with borrowBins, a message's `pkts` may be views of buf instead (for a
 * caller done with them before buf changes).
 */
export function decodeBody(buf: Uint8Array, start = 0, end = buf.length, reader: MsgpackReader = sharedReader, borrowBins = false): BodyResult {
  // A body written the plain way (nearly all) straight into its message; the rest the general way, which also
  // says what is wrong.
  const msg = decodeCanonical(buf, start, end, borrowBins)
  if (msg !== undefined) return {ok: true, msg}
  const value = reader.readAll(buf, start, end)
  if (value === undefined) {
    const e = reader.error!
    return {ok: false, reason: e.reason, detail: e.detail}
  }
  // The map was decoded for this call: validation may keep it as the message.
  const r = validateMessage(value, true)
  return r.ok ? r : {ok: false, reason: r.code, detail: r.detail}
}

/** Convenience for a single whole frame (prefix + body), e.g. in tests and tools. */
export function decodeFrame(frame: Uint8Array): {ok: true; msg: ControlMessage} | {ok: false; reason: FramingReason; detail: string} {
  if (frame.length < LENGTH_PREFIX) return {ok: false, reason: 'truncated-frame', detail: `${frame.length} byte(s) cannot hold a length prefix`}
  const len = new DataView(frame.buffer, frame.byteOffset, frame.byteLength).getUint32(0)
  if (len === 0) return {ok: false, reason: 'zero-length', detail: 'length prefix is 0'}
  if (len > MAX_FRAME_LENGTH) return {ok: false, reason: 'oversize', detail: `length prefix ${len} exceeds ${MAX_FRAME_LENGTH}`}
  if (len > frame.length - LENGTH_PREFIX) {
    return {ok: false, reason: 'truncated-frame', detail: `length prefix says ${len} byte(s), only ${frame.length - LENGTH_PREFIX} follow`}
  }
  if (len < frame.length - LENGTH_PREFIX) {
    return {ok: false, reason: 'trailing-bytes', detail: `length prefix says ${len} byte(s), ${frame.length - LENGTH_PREFIX} follow (more than one frame?)`}
  }
  return decodeBody(frame, LENGTH_PREFIX, frame.length)
}
