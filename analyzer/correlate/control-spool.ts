// The control pass's messages, on disk: check's first pass writes every
// handoff message (lean: no `pkts`) here as it decodes it, and the segment
// pass reads them back only as far ahead in capture time as it needs
// (handoff-feed.ts). So what the first pass learns costs disk, not memory,
// however long the trace (issue 5: memory grows with active connections).
//
// Format: records of a 4-byte big-endian length and, in the default format
// ('codec'), a tag byte and the record: tag 0, record-codec.ts's encoding
// (plain objects, arrays, strings, numbers, booleans, null, undefined,
// bigints, Uint8Arrays: everything a FramedMessage holds, kept as it was,
// which plain JSON or MessagePack would not); tag 1, node:v8's structured
// serialisation, for a record holding anything else. The codec refers to
// what came before (numbered keys, "same string as last time"), so such a
// spool is read from its first record only (the report's summaries are
// written so too: JSON.stringify cost ~15 µs a summary). In the 'json' format
// (plain JSON records: external-sort.ts's runs), the record's
// JSON text, written into the block buffer in place (v8.serialize made a new
// malloc'd Buffer per record: on tens of thousands of records at the end of
// check that grew the process by ~50 MiB before GC ran); its readers may
// start at any record. The file is private to the process (so are the
// codec's tables, shared by writer and readers) and removed when the command
// ends, also on an early exit; one a killed process left goes at the next
// run (temp-dir.ts).
import {closeSync, openSync, readSync, rmSync, writeSync} from 'node:fs'
import {join} from 'node:path'
import {deserialize, serialize} from 'node:v8'
import type {FramedMessage} from './control.js'
import {CodecTables, NotPlain, RecordReader, RecordWriter} from './record-codec.js'
import {FramedReader, FramedWriter} from './framed-codec.js'
import {makeTempDir} from '../temp-dir.js'

const BUF = 1 << 16
/** What follows a record's length in the 'codec' format: record-codec.ts's encoding, or node:v8's. */
const TAG_CODEC = 0
const TAG_V8 = 1
/** The spool's own encoding of its usual records (OwnCodec: ControlSpool's framed-codec.ts). */
const TAG_OWN = 2

/** A spool's faster encoding of the records it usually holds: encode gives null for any other record. */
export interface OwnCodec<T> {
  writer(): {encode(m: T): Buffer | null}
  /** One per reader (a reader reads from the first record, as the writer wrote). */
  reader(): {decode(b: Buffer, start: number, end: number): T}
}

export type SpoolFormat = 'codec' | 'json'

/** Directories of the spools not removed yet: removed on exit, also an early one (one listener for them all). */
const live = new Set<string>()
let exitHook = false
function removeOnExit(dir: string): void {
  live.add(dir)
  if (exitHook) return
  exitHook = true
  process.once('exit', () => {
    for (const d of live) rmSync(d, {recursive: true, force: true})
  })
}

/** Records of any structured-clonable type on disk, written in order and read back in that order (any number of times). */
export class RecordSpool<T> {
  private readonly dir: string
  private readonly path: string
  private readonly fd: number
  private buf = Buffer.allocUnsafe(BUF)
  private used = 0
  private readonly tables = new CodecTables()
  private readonly writer = new RecordWriter(this.tables)
  /** Records written. */
  count = 0
  /** Bytes written (buffered ones included): where the next record will start. */
  size = 0

  private readonly own: {encode(m: T): Buffer | null} | null

  constructor(prefix: string, private readonly format: SpoolFormat = 'codec', private readonly ownCodec: OwnCodec<T> | null = null) {
    this.own = ownCodec?.writer() ?? null
    this.dir = makeTempDir(prefix)
    this.path = join(this.dir, 'records')
    removeOnExit(this.dir)
    this.fd = openSync(this.path, 'w+')
  }

  write(m: T): void {
    let need: number
    if (this.format === 'json') {
      const text = JSON.stringify(m)
      const len = Buffer.byteLength(text)
      need = 4 + len
      this.room(need)
      this.buf.writeUInt32BE(len, this.used)
      this.buf.write(text, this.used + 4, 'utf8')
    } else {
      let tag = TAG_OWN
      let body = this.own?.encode(m) ?? null
      if (body === null) {
        tag = TAG_CODEC
        try {
          body = this.writer.encode(m)
        } catch (e) {
          if (!(e instanceof NotPlain)) throw e
          tag = TAG_V8
          body = serialize(m)
        }
      }
      need = 5 + body.length
      this.room(need)
      this.buf.writeUInt32BE(1 + body.length, this.used)
      this.buf[this.used + 4] = tag
      body.copy(this.buf, this.used + 5)
    }
    this.used += need
    this.size += need
    this.count++
  }

  /**
   * A reader from the first record (the writes so far; call after the last write), or of the
   * records between byte positions `from` and `to` (`size` before and after writing them: a run
   * of external-sort.ts). `bufBytes`: its read buffer (smaller when many are open at once).
   */
  reader(from = 0, to = Infinity, bufBytes = BUF): SpoolReader<T> {
    if (this.format === 'codec' && from !== 0) throw new Error('a codec spool is read from its first record (internal error)')
    this.flush()
    return new SpoolReader<T>(this.fd, from, to, bufBytes, this.format === 'json' ? null : new RecordReader(this.tables),
      this.ownCodec?.reader() ?? null)
  }

  remove(): void {
    try { closeSync(this.fd) } catch { /* closed already */ }
    live.delete(this.dir)
    rmSync(this.dir, {recursive: true, force: true})
  }

  /** The buffer has room for n more bytes (flushed, or grown for a record larger than it). */
  private room(n: number): void {
    if (this.used + n > this.buf.length) this.flush()
    if (n > this.buf.length) this.buf = Buffer.allocUnsafe(n)
  }

  private flush(): void {
    let off = 0
    while (off < this.used) off += writeSync(this.fd, this.buf, off, this.used - off)
    this.used = 0
  }
}

/** The control pass's messages: written with framed-codec.ts (record-codec.ts for any of another shape). */
export class ControlSpool extends RecordSpool<FramedMessage> {
  constructor() {
    super('handoff-control-', 'codec', FRAMED_CODEC)
  }
}

const FRAMED_CODEC: OwnCodec<FramedMessage> = {writer: () => new FramedWriter(), reader: () => new FramedReader()}

/** The records in the order written, read in 64 KiB blocks (synchronous: the segment pass calls it between packets). */
export class SpoolReader<T = FramedMessage> {
  private buf: Buffer
  private start = 0
  private end = 0
  private pos: number
  private peeked: T | null = null
  private done = false

  constructor(private readonly fd: number, from = 0, private readonly to = Infinity, bufBytes = BUF,
    /** The 'codec' format's decoder; null: 'json'. */
    private readonly codec: RecordReader | null = null,
    /** The spool's own codec's decoder (TAG_OWN), if it has one. */
    private readonly own: {decode(b: Buffer, start: number, end: number): T} | null = null) {
    this.pos = from
    this.buf = Buffer.allocUnsafe(bufBytes)
  }

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
    const end = this.start + 4 + len
    const tag = this.buf[this.start + 4]
    const m = (this.codec === null ? JSON.parse(this.buf.toString('utf8', this.start + 4, end))
      : tag === TAG_OWN ? this.own!.decode(this.buf, this.start + 5, end)
        : tag === TAG_CODEC ? this.codec.decode(this.buf, this.start + 5, end)
          : deserialize(this.buf.subarray(this.start + 5, end))) as T
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
      const want = Math.min(this.buf.length - this.end, this.to - this.pos)
      const got = want <= 0 ? 0 : readSync(this.fd, this.buf, this.end, want, this.pos)
      if (got === 0) return false
      this.pos += got
      this.end += got
    }
    return true
  }
}
