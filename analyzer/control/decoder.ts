// Streaming decoder for one direction of a control-channel TCP stream.
//
// Input: the reassembled bytes of the stream, in chunks of any size (a frame
// may be split over many chunks, a chunk may hold many frames). Output: one
// event per frame — a validated message, or a `control-framing` error (spec
// §5) with a named reason and the stream offset of the frame's length prefix.
//
// Resynchronisation policy — the length prefix is the only framing there is:
//  - A frame whose length is valid (1..1 MiB) but whose body is bad (not
//    MessagePack, ext type, not a map, missing/mistyped key, trailing bytes…)
//    is reported and skipped. The length told us where the next frame starts,
//    so decoding goes on (`fatal: false`).
//  - A length of 0 or > 1 MiB means the framing itself is lost: we cannot know
//    where any later frame starts, and guessing (scanning for something that
//    looks like a length) would invent frames. Reported once, `fatal: true`,
//    and the rest of the stream is ignored.
//  - A hole in the stream (`gap()`, or a `push` whose streamOffset skips
//    ahead) loses the framing the same way, even at a frame boundary: the
//    missing bytes may hold any number of frames. One `stream-gap` error, stop.
//  - `end()` inside a frame: one `truncated-frame` error.
// Frames completed before an error are always emitted first, in order.
//
// Allocation: whole frames are decoded straight from the caller's chunk; only
// a frame split across chunks is copied, once, into a buffer of its exact
// size. Everything handed out (bin values) is a copy, so callers may reuse
// their chunk buffers (node_pcap does).

import {decodeBody, LENGTH_PREFIX, MAX_FRAME_LENGTH, type FramingReason} from './codec.js'
import type {ControlMessage} from './messages.js'
import {MsgpackReader} from './msgpack.js'

export interface ControlMessageEvent {
  kind: 'message'
  msg: ControlMessage
  /** Stream offset of the frame's length prefix. */
  offset: number
  /** Bytes of the whole frame, prefix included: offset + length is the next frame. */
  length: number
}

export interface FramingErrorEvent {
  kind: 'error'
  /** The spec §5 check id this error is an instance of. */
  code: 'control-framing'
  reason: FramingReason
  detail: string
  /** Stream offset of the length prefix of the frame concerned (for `stream-gap` outside a frame: where the hole starts). */
  offset: number
  /** Bytes of the whole frame (prefix included) when its length is known and valid. */
  length?: number
  /** True when decoding stopped here: the rest of the stream is ignored. */
  fatal: boolean
}

export type DecodeEvent = ControlMessageEvent | FramingErrorEvent

export interface FrameDecoderOptions {
  /**
   * Receives the events instead of the return values of push/gap/end (which
   * then return an empty array). Called after the whole chunk is processed,
   * so the decoder's state is consistent even if the callback throws (the
   * chunk's remaining events are then not delivered).
   */
  onEvent?: (ev: DecodeEvent) => void
  /** Stream offset of the first byte, when the first push gives none. Default 0. */
  startOffset?: number
  /**
   * A message's `pkts` may be views of the chunk pushed rather than copies: for a caller done with each message's
   * `pkts` before it reuses the chunk (onEvent, or the events returned, handled before the next push).
   */
  borrowBins?: boolean
}

const NO_EVENTS: readonly DecodeEvent[] = Object.freeze([])

export class FrameDecoder {
  private readonly onEvent: ((ev: DecodeEvent) => void) | undefined
  private readonly borrowBins: boolean
  private readonly reader = new MsgpackReader()
  /** Stream offset of the next byte expected. */
  private pos = 0
  private started = false
  private stopped = false
  private ended = false
  /** Stream offset of the partial frame held, or -1. */
  private frameStart = -1
  private readonly hdr = new Uint8Array(LENGTH_PREFIX)
  private hdrFill = 0
  private body: Uint8Array | null = null
  private bodyFill = 0
  /** Events of the call in progress; null until the first one (most pushes have none... or one). */
  private out: DecodeEvent[] | null = null
  /** Frames decoded into messages / errors reported, since construction or reset. */
  messages = 0
  errors = 0

  constructor(opts: FrameDecoderOptions = {}) {
    this.onEvent = opts.onEvent
    this.borrowBins = opts.borrowBins === true
    this.pos = opts.startOffset ?? 0
  }

  /** Stream offset of the next byte the decoder expects. */
  get offset(): number {
    return this.pos
  }

  /** True once framing was lost (or end() was called): later input is ignored. */
  get isStopped(): boolean {
    return this.stopped || this.ended
  }

  /**
   * Feeds the next bytes of the stream. `streamOffset` is the stream offset of
   * `chunk[0]`; when given, the first push sets the decoder's position, and a
   * later one that skips ahead is a hole (see gap()); one that starts before
   * the current position overlaps bytes already consumed, and that part is
   * skipped (removing retransmitted bytes is reassembly's job; we do not
   * decode the same bytes twice). Never throws.
   */
  push(chunk: Uint8Array, streamOffset?: number): readonly DecodeEvent[] {
    if (this.stopped || this.ended) return NO_EVENTS
    if (streamOffset !== undefined) {
      if (!this.started) {
        this.pos = streamOffset
      } else if (streamOffset > this.pos) {
        return this.gap(streamOffset - this.pos)
      } else if (streamOffset < this.pos) {
        const skip = this.pos - streamOffset
        if (skip >= chunk.length) return NO_EVENTS
        chunk = chunk.subarray(skip)
      }
    }
    this.started = true
    this.out = null
    this.consume(chunk)
    return this.flush()
  }

  /**
   * The reassembly lost `n` bytes (unknown if omitted) at the current
   * position. Framing cannot be recovered: one `stream-gap` error, then stop.
   */
  gap(n?: number): readonly DecodeEvent[] {
    // A hole of 0 bytes is no hole.
    if (this.stopped || this.ended || n === 0) return NO_EVENTS
    this.out = null
    const where = this.pos
    const size = n === undefined ? 'a hole' : `a hole of ${n} byte(s)`
    let detail = `stream reassembly reported ${size} at stream offset ${where}`
    let offset = where
    if (this.frameStart >= 0) {
      offset = this.frameStart
      detail += `, inside the frame at offset ${this.frameStart} (${this.partialDesc()})`
    }
    this.fatal('stream-gap', `${detail}; framing is lost, the rest of the stream is ignored`, offset)
    if (n !== undefined) this.pos += n
    this.started = true
    return this.flush()
  }

  /** The stream is over. A partial frame is reported as `truncated-frame`. */
  end(): readonly DecodeEvent[] {
    if (this.ended) return NO_EVENTS
    this.ended = true
    if (this.stopped || this.frameStart < 0) return NO_EVENTS
    this.out = null
    const len = this.body !== null ? LENGTH_PREFIX + this.body.length : undefined
    this.fatal('truncated-frame', `the stream ended inside the frame at offset ${this.frameStart} (${this.partialDesc()})`, this.frameStart, len)
    return this.flush()
  }

  /** Forgets everything: ready for a new stream starting at `startOffset`. */
  reset(startOffset = 0): void {
    this.pos = startOffset
    this.started = false
    this.stopped = false
    this.ended = false
    this.dropPartial()
    this.out = null
    this.messages = 0
    this.errors = 0
  }

  // -------------------------------------------------------------------------

  private consume(chunk: Uint8Array): void {
    const n = chunk.length
    const base = this.pos
    this.pos = base + n
    let i = 0

    // 1. Complete a frame left over from earlier chunks.
    if (this.frameStart >= 0) {
      if (this.body === null) {
        const take = Math.min(LENGTH_PREFIX - this.hdrFill, n)
        for (let k = 0; k < take; k++) this.hdr[this.hdrFill + k] = chunk[k]!
        this.hdrFill += take
        i = take
        if (this.hdrFill < LENGTH_PREFIX) return
        const len = u32(this.hdr, 0)
        if (!this.lengthOk(len, this.frameStart)) return
        this.body = new Uint8Array(len)
        this.bodyFill = 0
      }
      const body = this.body
      const take = Math.min(body.length - this.bodyFill, n - i)
      body.set(chunk.subarray(i, i + take), this.bodyFill)
      this.bodyFill += take
      i += take
      if (this.bodyFill < body.length) return
      const start = this.frameStart
      this.dropPartial()
      this.frame(body, 0, body.length, start)
    }

    // 2. Whole frames straight from the chunk, no copy.
    while (n - i >= LENGTH_PREFIX) {
      const len = u32(chunk, i)
      if (!this.lengthOk(len, base + i)) return
      if (n - i - LENGTH_PREFIX < len) break
      this.frame(chunk, i + LENGTH_PREFIX, i + LENGTH_PREFIX + len, base + i)
      i += LENGTH_PREFIX + len
    }

    // 3. Keep the tail: a partial length prefix, or a valid length and part of the body.
    if (i < n) {
      this.frameStart = base + i
      if (n - i < LENGTH_PREFIX) {
        for (let k = i; k < n; k++) this.hdr[k - i] = chunk[k]!
        this.hdrFill = n - i
      } else {
        // Its length was checked by the loop above.
        const body = new Uint8Array(u32(chunk, i))
        body.set(chunk.subarray(i + LENGTH_PREFIX, n))
        this.hdrFill = LENGTH_PREFIX
        this.body = body
        this.bodyFill = n - i - LENGTH_PREFIX
      }
    }
  }

  /** Decodes one complete frame body and emits its event. */
  private frame(buf: Uint8Array, start: number, end: number, offset: number): void {
    const length = LENGTH_PREFIX + (end - start)
    const r = decodeBody(buf, start, end, this.reader, this.borrowBins)
    if (r.ok) {
      this.messages++
      this.emit({kind: 'message', msg: r.msg, offset, length})
    } else {
      this.errors++
      this.emit({kind: 'error', code: 'control-framing', reason: r.reason, detail: `frame at offset ${offset} (${end - start}-byte body): ${r.detail}`, offset, length, fatal: false})
    }
  }

  /** False (after reporting and stopping) when a length prefix breaks the framing. */
  private lengthOk(len: number, offset: number): boolean {
    if (len >= 1 && len <= MAX_FRAME_LENGTH) return true
    const what = len === 0 ? 'length prefix is 0 (a frame holds at least 1 byte)' : `length prefix ${len} exceeds the ${MAX_FRAME_LENGTH}-byte limit`
    this.fatal(len === 0 ? 'zero-length' : 'oversize', `frame at offset ${offset}: ${what}; framing is lost, the rest of the stream (from offset ${offset}) is ignored`, offset)
    return false
  }

  private fatal(reason: FramingReason, detail: string, offset: number, length?: number): void {
    this.stopped = true
    this.dropPartial()
    this.errors++
    const ev: FramingErrorEvent = {kind: 'error', code: 'control-framing', reason, detail, offset, fatal: true}
    if (length !== undefined) ev.length = length
    this.emit(ev)
  }

  private partialDesc(): string {
    return this.body === null
      ? `${this.hdrFill} of ${LENGTH_PREFIX} length-prefix byte(s) received`
      : `${this.bodyFill} of ${this.body.length} body byte(s) received`
  }

  private dropPartial(): void {
    this.frameStart = -1
    this.hdrFill = 0
    this.body = null
    this.bodyFill = 0
  }

  private emit(ev: DecodeEvent): void {
    if (this.out === null) this.out = [ev]
    else this.out.push(ev)
  }

  private flush(): readonly DecodeEvent[] {
    const out = this.out
    this.out = null
    if (out === null) return NO_EVENTS
    if (this.onEvent === undefined) return out
    for (const ev of out) this.onEvent(ev)
    return NO_EVENTS
  }
}

function u32(b: Uint8Array, i: number): number {
  return b[i]! * 0x100_0000 + ((b[i + 1]! << 16) | (b[i + 2]! << 8) | b[i + 3]!)
}
