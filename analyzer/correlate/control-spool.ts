// The control pass's messages, on disk: check's first pass writes every
// handoff message (lean: no `pkts`) here as it decodes it, and the segment
// pass reads them back only as far ahead in capture time as it needs
// (handoff-feed.ts). So what the first pass learns costs disk, not memory,
// however long the trace (issue 5: memory grows with active connections).
//
// Format: records of a 4-byte big-endian length, a tag byte and the record:
// tag 0, record-codec.ts's encoding (plain objects, arrays, strings, numbers,
// booleans, null, undefined, bigints, Uint8Arrays: everything a
// FramedMessage holds, kept as it was, which plain JSON or MessagePack would
// not); tag 1, node:v8's structured serialisation, for a record holding
// anything else. The file is private to the process (so are the codec's
// string tables, shared by writer and readers) and removed when the command
// ends, also on an early exit.
import {closeSync, mkdtempSync, openSync, readSync, rmSync, writeSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {deserialize, serialize} from 'node:v8'
import type {FramedMessage} from './control.js'
import {CodecTables, NotPlain, RecordReader, RecordWriter} from './record-codec.js'

const BUF = 1 << 16
/** What follows a record's length: record-codec.ts's encoding, or node:v8's. */
const TAG_CODEC = 0
const TAG_V8 = 1

/** Records of any structured-clonable type on disk, written in order and read back in that order (any number of times). */
export class RecordSpool<T> {
  private readonly dir: string
  private readonly path: string
  private readonly fd: number
  private buf = Buffer.allocUnsafe(BUF)
  private used = 0
  private readonly onExit = () => rmSync(this.dir, {recursive: true, force: true})
  private readonly tables = new CodecTables()
  private readonly writer = new RecordWriter(this.tables)
  /** Records written. */
  count = 0

  constructor(prefix: string) {
    this.dir = mkdtempSync(join(tmpdir(), prefix))
    this.path = join(this.dir, 'records')
    process.once('exit', this.onExit)
    this.fd = openSync(this.path, 'w+')
  }

  write(m: T): void {
    let tag = TAG_CODEC
    let body: Buffer
    try {
      body = this.writer.encode(m)
    } catch (e) {
      if (!(e instanceof NotPlain)) throw e
      tag = TAG_V8
      body = serialize(m)
    }
    const need = 5 + body.length
    if (this.used + need > this.buf.length) this.flush()
    if (need > this.buf.length) this.buf = Buffer.allocUnsafe(need)
    this.buf.writeUInt32BE(1 + body.length, this.used)
    this.buf[this.used + 4] = tag
    body.copy(this.buf, this.used + 5)
    this.used += need
    this.count++
  }

  /** A reader from the first record (the writes so far; call after the last write). */
  reader(): SpoolReader<T> {
    this.flush()
    return new SpoolReader<T>(this.fd, new RecordReader(this.tables))
  }

  remove(): void {
    try { closeSync(this.fd) } catch { /* closed already */ }
    process.off('exit', this.onExit)
    this.onExit()
  }

  private flush(): void {
    let off = 0
    while (off < this.used) off += writeSync(this.fd, this.buf, off, this.used - off)
    this.used = 0
  }
}

export class ControlSpool extends RecordSpool<FramedMessage> {
  constructor() {
    super('handoff-control-')
  }
}

/** The records in the order written, read in 64 KiB blocks (synchronous: the segment pass calls it between packets). */
export class SpoolReader<T = FramedMessage> {
  private buf = Buffer.allocUnsafe(BUF)
  private start = 0
  private end = 0
  private pos = 0
  private peeked: T | null = null
  private done = false

  constructor(private readonly fd: number, private readonly codec: RecordReader) {}

  /** The next record without taking it; null at the end. */
  peek(): T | null {
    if (this.peeked === null && !this.done) this.peeked = this.read()
    return this.peeked
  }

  next(): T | null {
    const m = this.peek()
    this.peeked = null
    return m
  }

  private read(): T | null {
    if (!this.fill(4)) return this.eof()
    const len = this.buf.readUInt32BE(this.start)
    if (!this.fill(4 + len)) return this.eof()
    const at = this.start + 5
    const m = (this.buf[this.start + 4] === TAG_CODEC ? this.codec.decode(this.buf, at, this.start + 4 + len)
      : deserialize(this.buf.subarray(at, this.start + 4 + len))) as T
    this.start += 4 + len
    return m
  }

  private eof(): null {
    this.done = true
    return null
  }

  /** At least n unread bytes in the buffer; false at the end of the file. */
  private fill(n: number): boolean {
    if (this.end - this.start >= n) return true
    if (n > this.buf.length) {
      const b = Buffer.allocUnsafe(n)
      this.buf.copy(b, 0, this.start, this.end)
      this.buf = b
    } else this.buf.copy(this.buf, 0, this.start, this.end)
    this.end -= this.start
    this.start = 0
    while (this.end < n) {
      const got = readSync(this.fd, this.buf, this.end, this.buf.length - this.end, this.pos)
      if (got === 0) return false
      this.pos += got
      this.end += got
    }
    return true
  }
}
