// The control pass's messages, on disk: check's first pass writes every
// handoff message (lean: no `pkts`) here as it decodes it, and the segment
// pass reads them back only as far ahead in capture time as it needs
// (handoff-feed.ts). So what the first pass learns costs disk, not memory,
// however long the trace (issue 5: memory grows with active connections).
//
// Format: records of a 4-byte big-endian length and node:v8's structured
// serialisation of the FramedMessage (it keeps bigints, Uint8Arrays and
// undefined as they were, which plain JSON or MessagePack would not), or,
// for records that are plain JSON (external-sort.ts's), their JSON text:
// written into the block buffer in place, where v8.serialize makes a new
// malloc'd Buffer per record — on tens of thousands of records at the end
// of check that grew the process by ~50 MiB before GC ran. The
// file is private to the process and removed when the command ends, also on
// an early exit.
import {closeSync, mkdtempSync, openSync, readSync, rmSync, writeSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {deserialize, serialize} from 'node:v8'
import type {FramedMessage} from './control.js'

const BUF = 1 << 16

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
  /** Records written. */
  count = 0
  /** Bytes written (buffered ones included): where the next record will start. */
  size = 0

  constructor(prefix: string, private readonly format: 'v8' | 'json' = 'v8') {
    this.dir = mkdtempSync(join(tmpdir(), prefix))
    this.path = join(this.dir, 'messages.v8')
    removeOnExit(this.dir)
    this.fd = openSync(this.path, 'w+')
  }

  write(m: T): void {
    const text = this.format === 'json' ? JSON.stringify(m) : null
    const body = text === null ? serialize(m) : null
    const len = text !== null ? Buffer.byteLength(text) : body!.length
    const need = 4 + len
    if (this.used + need > this.buf.length) this.flush()
    if (need > this.buf.length) this.buf = Buffer.allocUnsafe(need)
    this.buf.writeUInt32BE(len, this.used)
    if (text !== null) this.buf.write(text, this.used + 4, 'utf8')
    else body!.copy(this.buf, this.used + 4)
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
    this.flush()
    return new SpoolReader<T>(this.fd, from, to, bufBytes, this.format)
  }

  remove(): void {
    try { closeSync(this.fd) } catch { /* closed already */ }
    live.delete(this.dir)
    rmSync(this.dir, {recursive: true, force: true})
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
  private buf: Buffer
  private start = 0
  private end = 0
  private pos: number
  private peeked: T | null = null
  private done = false

  constructor(private readonly fd: number, from = 0, private readonly to = Infinity, bufBytes = BUF,
    private readonly format: 'v8' | 'json' = 'v8') {
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
    const m = (this.format === 'json' ? JSON.parse(this.buf.toString('utf8', this.start + 4, this.start + 4 + len))
      : deserialize(this.buf.subarray(this.start + 4, this.start + 4 + len))) as T
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
