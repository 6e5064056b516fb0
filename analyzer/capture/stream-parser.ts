// Push-parser plumbing shared by the pcap and pcapng parsers.
//
// Records are parsed IN PLACE from the chunk the caller pushed whenever they
// lie wholly inside it (packets are then views into that chunk, no copy).
// Only a record that straddles chunk boundaries is assembled in the parser's
// own growable buffer (`pend`), and only as many bytes as that record needs
// are copied there; parsing then continues in place in the chunk. Memory is
// therefore bounded by the largest record, whatever the file size.

import {CaptureError, type CaptureHandlers, type PacketRecord, type ParserOptions} from './types.js'

const EMPTY = new Uint8Array(0)

/**
 * The one PacketRecord object a parser reuses for every packet.
 * `data` makes a fresh view on each access (nothing is allocated for
 * consumers that never read it): read it once per packet and keep the local.
 * `buffer` + `dataOffset` + `capLen` give allocation-free access.
 */
export class ParsedPacket implements PacketRecord {
  index = 0
  interfaceId = 0
  linkType = 0
  tsSec = 0
  tsNsec = 0
  capLen = 0
  origLen = 0
  fileOffset = 0
  comments: string[] | null = null
  hasTimestamp = true
  flags: number | undefined = undefined
  dropCount: number | undefined = undefined
  /** The buffer the packet bytes live in (valid only during the callback). */
  buffer: Uint8Array = EMPTY
  /** Offset of the first packet byte in `buffer`. */
  dataOffset = 0

  get data(): Uint8Array {
    return this.buffer.subarray(this.dataOffset, this.dataOffset + this.capLen)
  }

  set data(v: Uint8Array) {
    this.buffer = v
    this.dataOffset = 0
    this.capLen = v.length
  }
}

export abstract class StreamParser {
  protected readonly handlers: CaptureHandlers
  readonly file: string
  protected readonly gzip: boolean
  /** Bytes of the current incomplete unit (always starts at a unit boundary). */
  protected pend: Uint8Array = new Uint8Array(0)
  protected pendLen = 0
  /** Bytes the current unit needs (from its start) before parse() can progress. */
  protected need = 1
  /** Stream offset of the next unparsed byte. */
  protected consumed = 0
  /** Packets delivered so far. */
  packets = 0
  private failed: unknown = null
  private ended = false
  private started = false
  protected readonly rec = new ParsedPacket()

  constructor(handlers: CaptureHandlers, opts?: ParserOptions) {
    this.handlers = handlers
    this.file = opts?.file ?? ''
    this.gzip = opts?.gzip ?? false
  }

  /** Bytes pushed so far (decompressed stream). */
  get bytes(): number {
    return this.consumed + this.pendLen
  }

  /**
   * Parses from b[pos] up to b[end]; returns the position of the first byte
   * of the first incomplete unit (== end when everything was consumed) and
   * sets `this.need`. `this.consumed` is the stream offset of b[pos] on entry
   * and must be advanced to the returned position.
   */
  protected abstract parse(b: Uint8Array, pos: number, end: number): number

  /** The error to raise when the input ends inside a unit of `pendLen` bytes. */
  protected abstract truncated(): CaptureError

  push(chunk: Uint8Array): void {
    if (this.failed !== null) throw this.failed
    if (this.ended) throw new Error('capture parser: push() after end()')
    this.started = true
    try {
      this.pushInner(chunk)
    } catch (e) {
      this.fail(e)
    }
  }

  end(): void {
    if (this.failed !== null) throw this.failed
    if (this.ended) return
    this.ended = true
    if (this.pendLen > 0 || !this.started || this.consumed === 0) {
      this.fail(this.truncated())
    }
  }

  private fail(e: unknown): never {
    if (e instanceof CaptureError && this.file && !e.file) e.setFile(this.file)
    this.failed = e
    throw e
  }

  protected warn(offset: number, code: string, message: string): void {
    this.handlers.onWarning?.({offset, code, message})
  }

  protected err(code: string, offset: number, what: string, detail: string): CaptureError {
    return new CaptureError(code, offset, what, detail, this.file)
  }

  private pushInner(chunk: Uint8Array): void {
    const n = chunk.length
    let off = 0
    // 1. Complete the pending unit, copying only what it needs.
    while (this.pendLen > 0 && off < n) {
      const take = Math.min(this.need - this.pendLen, n - off)
      this.append(chunk, off, take)
      off += take
      if (this.pendLen >= this.need) {
        const p = this.parse(this.pend, 0, this.pendLen)
        if (p > 0) {
          if (p < this.pendLen) this.pend.copyWithin(0, p, this.pendLen)
          this.pendLen -= p
        } else if (this.need <= this.pendLen) {
          // parse() must either consume or ask for more; guard against loops.
          throw new Error('capture parser: no progress (internal error)')
        }
      }
    }
    // 2. Parse the rest in place; keep the incomplete tail.
    if (off < n) {
      const p = this.parse(chunk, off, n)
      if (p < n) this.append(chunk, p, n - p)
    }
  }

  private append(src: Uint8Array, off: number, len: number): void {
    const need = this.pendLen + len
    if (need > this.pend.length) {
      let cap = Math.max(this.pend.length * 2, 65536)
      while (cap < need) cap *= 2
      const nb = new Uint8Array(cap)
      nb.set(this.pend.subarray(0, this.pendLen))
      this.pend = nb
    }
    this.pend.set(src.subarray(off, off + len), this.pendLen)
    this.pendLen = need
  }
}

// ---------------------------------------------------------------- helpers

export function u16le(b: Uint8Array, i: number): number {
  return b[i] | (b[i + 1] << 8)
}
export function u16be(b: Uint8Array, i: number): number {
  return (b[i] << 8) | b[i + 1]
}
export function u32le(b: Uint8Array, i: number): number {
  return (b[i] | (b[i + 1] << 8) | (b[i + 2] << 16) | (b[i + 3] << 24)) >>> 0
}
export function u32be(b: Uint8Array, i: number): number {
  return ((b[i] << 24) | (b[i + 1] << 16) | (b[i + 2] << 8) | b[i + 3]) >>> 0
}

const utf8 = new TextDecoder('utf-8')

/** UTF-8 string of an option value, without trailing NULs. */
export function optString(b: Uint8Array, start: number, len: number): string {
  let e = start + len
  while (e > start && b[e - 1] === 0) e--
  return utf8.decode(b.subarray(start, e))
}
