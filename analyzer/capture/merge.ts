// Reading several capture files at once, merged by capture time (a k-way
// merge). Several files given to `check` are several vantage points of the
// same events (one capture per interface: client side, LAN, node inside):
// read one after the other, a handoff's segments are spread over the whole
// run, so every handoff would have to be held until the last file; read
// merged, the pass moves through capture time once, as with one file, and
// what it holds follows the connections in progress.
//
// Order: every record of every file, ordered by timestamp (less the file's
// clock offset, when one is given); ties go to the lower file index (then the
// file's own order). Only the heads of the
// per-file queues are compared: a file's own records are never reordered,
// even where they are a little out of time order (real captures are), so
// each file reads exactly as readCapture() would read it. A record without
// a timestamp (pcapng Simple Packet Block) sorts at its file's previous one.
//
// Each file has its own handlers (its own onInterface, joinSections /
// reassembleIp wrappers, interface ids): the merge calls them, one record
// at a time, in merged order. Interface, info and warning events are
// delivered as soon as they reach the head of their file's queue.
//
// Damage: a CaptureError ends that file only. Every record before the damage
// is delivered (at its place in time), then onFileEnd(fi, error) is called;
// the other files go on to their end. Errors of the handlers (not capture
// errors) stop the whole read and propagate.
//
// Memory: each file's parser is fed one chunk (1 MiB; gzip: what the
// decompressor gives) only when all of that file's records from the chunk
// before have been delivered, so at most about one chunk of records per file
// is held, as numbers in arrays reused from chunk to chunk. A plain file's
// chunk buffer is reused (its records are views into it until delivered); a
// record the parser assembled in its own buffer (one straddling two chunks)
// is copied, since that buffer is reused for the next straddler.
import {open, type FileHandle} from 'node:fs/promises'
import {createReadStream} from 'node:fs'
import {pipeline, type Readable} from 'node:stream'
import {createGunzip} from 'node:zlib'
import {CaptureParser} from './parser.js'
import {abortError, ChunkFileReader, displayName, ioError, isZlibError, READ_CHUNK, type ReadResult} from './read.js'
import {ParsedPacket} from './stream-parser.js'
import {CaptureError, type CaptureHandlers, type CaptureInterface, type CaptureWarning, type FileInfo, type PacketRecord} from './types.js'

export interface MergeInput {
  /** A capture file ('-': standard input). */
  path: string
  handlers: CaptureHandlers
  /**
   * Seconds to subtract from this file's capture times for the merge order (its clock's offset from the
   * others', when they are known to differ: check.ts). The records keep their own times.
   */
  clockOffsetSec?: number
}

export interface MergeOptions {
  signal?: AbortSignal
  /** Read size of plain files (default 1 MiB). */
  chunkSize?: number
  /**
   * File fi has delivered its last record: error is its CaptureError (its records before the damage were
   * delivered), null when it was read to its end. Called at that point of the merged order.
   */
  onFileEnd?: (fi: number, error: CaptureError | null) => void
}

export interface MergedFileResult {
  /** What readCapture would return; null when the file failed before its header was read. */
  result: ReadResult | null
  error: CaptureError | null
}

const DEFAULT_CHUNK = READ_CHUNK

// Kinds of queued entries.
const PACKET = 0
const INFO = 1
const IFACE = 2
const WARNING = 3

/** Where the next chunk of a file comes from. */
interface ChunkReader {
  gzip: boolean
  /** The next chunk (a plain file's reuses one buffer), null at the end. */
  read(): Promise<Uint8Array | null>
  close(): Promise<void>
}

/** A plain file read at increasing offsets into one buffer (the first chunk already read, to sniff gzip). */
function plainReader(fh: FileHandle, buf: Uint8Array, first: number, file: string): ChunkReader {
  let pos = first
  let pending: number | null = first
  const reader = new ChunkFileReader(fh.fd, file)
  return {
    gzip: false,
    read: async () => {
      let n: number
      if (pending !== null) {
        n = pending
        pending = null
      } else {
        n = await reader.read(buf, pos)
        pos += n
      }
      if (n === 0) return null
      return n === buf.length ? buf : buf.subarray(0, n)
    },
    close: () => fh.close().catch(() => {}),
  }
}

/** Chunks of a stream (gunzipped when it starts with the gzip magic): standard input, gzip files. */
async function streamReader(src: Readable, chunkSize: number): Promise<ChunkReader> {
  const it = src[Symbol.asyncIterator]() as AsyncIterator<Uint8Array>
  const first = await it.next()
  const gzip = !first.done && first.value.length >= 2 && first.value[0] === 0x1f && first.value[1] === 0x8b
  let firstChunk: Uint8Array | null = first.done ? null : first.value
  let ended = !!first.done
  const rest = async function* (): AsyncGenerator<Uint8Array> {
    if (firstChunk !== null) yield firstChunk
    firstChunk = null
    while (!ended) {
      const r = await it.next()
      if (r.done) return
      yield r.value
    }
  }
  let gunzip: ReturnType<typeof createGunzip> | null = null
  let iter: AsyncIterator<Uint8Array>
  if (gzip) {
    gunzip = createGunzip({chunkSize: Math.max(chunkSize >> 2, 64 * 1024)})
    pipeline(rest(), gunzip, () => {})
    iter = gunzip[Symbol.asyncIterator]()
  } else iter = rest()
  return {
    gzip,
    read: async () => {
      const r = await iter.next()
      return r.done ? null : r.value
    },
    close: async () => {
      ended = true
      await iter.return?.().catch(() => {})
      gunzip?.destroy()
      if (src !== process.stdin) src.destroy()
    },
  }
}

async function openReader(path: string, file: string, chunkSize: number): Promise<ChunkReader> {
  if (path === '-') return streamReader(process.stdin, chunkSize)
  let fh: FileHandle
  try {
    fh = await open(path, 'r')
  } catch (e) {
    throw ioError(file, -1, e, 'cannot open')
  }
  const buf = new Uint8Array(chunkSize)
  let n: number
  try {
    n = (await fh.read(buf, 0, chunkSize, 0)).bytesRead
  } catch (e) {
    await fh.close().catch(() => {})
    throw ioError(file, 0, e)
  }
  if (n >= 2 && buf[0] === 0x1f && buf[1] === 0x8b) {
    await fh.close().catch(() => {})
    return streamReader(createReadStream(path, {highWaterMark: chunkSize}), chunkSize)
  }
  return plainReader(fh, buf, n, file)
}

/**
 * The records one chunk gave, waiting for their turn: numbers in arrays
 * reused from chunk to chunk (no object per record), events in `obj`.
 */
class RecordQueue {
  n = 0
  head = 0
  readonly kind: number[] = []
  /** The packet's buffer, or the event's object. */
  readonly obj: unknown[] = []
  // Merge key: the timestamp, or the file's previous one for a record without one.
  readonly kSec: number[] = []
  readonly kNsec: number[] = []
  readonly index: number[] = []
  readonly iface: number[] = []
  readonly linkType: number[] = []
  readonly tsSec: number[] = []
  readonly tsNsec: number[] = []
  readonly capLen: number[] = []
  readonly origLen: number[] = []
  readonly dataOffset: number[] = []
  readonly fileOffset: number[] = []
  readonly hasTs: boolean[] = []
  readonly comments: (string[] | null)[] = []
  readonly flags: (number | undefined)[] = []
  readonly dropCount: (number | undefined)[] = []
  private lastSec = 0
  private lastNsec = 0
  /** The file's clock offset, whole seconds and nanoseconds (0 ≤ offNsec < 1e9), taken off the merge key. */
  private offSec = 0
  private offNsec = 0

  setOffset(sec: number): void {
    const ns = Math.round(sec * 1e9)
    this.offSec = Math.floor(ns / 1e9)
    this.offNsec = ns - this.offSec * 1e9
  }

  get empty(): boolean {
    return this.head === this.n
  }

  reset(): void {
    // Drop the references of the chunk just delivered (buffers, events), keep the arrays' room.
    for (let i = 0; i < this.n; i++) {
      this.obj[i] = null
      this.comments[i] = null
    }
    this.n = 0
    this.head = 0
  }

  event(kind: number, o: unknown): void {
    const i = this.n++
    this.kind[i] = kind
    this.obj[i] = o
    this.comments[i] = null
  }

  /** rec is valid only now: `chunk` is the buffer being parsed; a record elsewhere (the parser's own buffer) is copied. */
  packet(rec: PacketRecord, chunk: ArrayBufferLike): void {
    const i = this.n++
    this.kind[i] = PACKET
    let buf = rec.buffer
    let off = rec.dataOffset
    if (buf.buffer !== chunk) {
      buf = buf.slice(off, off + rec.capLen)
      off = 0
    }
    this.obj[i] = buf
    this.dataOffset[i] = off
    if (rec.hasTimestamp) {
      this.lastSec = rec.tsSec
      this.lastNsec = rec.tsNsec
    }
    const ns = this.lastNsec - this.offNsec
    this.kSec[i] = this.lastSec - this.offSec - (ns < 0 ? 1 : 0)
    this.kNsec[i] = ns < 0 ? ns + 1e9 : ns
    this.index[i] = rec.index
    this.iface[i] = rec.interfaceId
    this.linkType[i] = rec.linkType
    this.tsSec[i] = rec.tsSec
    this.tsNsec[i] = rec.tsNsec
    this.capLen[i] = rec.capLen
    this.origLen[i] = rec.origLen
    this.fileOffset[i] = rec.fileOffset
    this.hasTs[i] = rec.hasTimestamp
    this.comments[i] = rec.comments
    this.flags[i] = rec.flags
    this.dropCount[i] = rec.dropCount
  }

  /** Fills the reused record with entry i. */
  load(i: number, r: ParsedPacket): void {
    r.index = this.index[i]!
    r.interfaceId = this.iface[i]!
    r.linkType = this.linkType[i]!
    r.tsSec = this.tsSec[i]!
    r.tsNsec = this.tsNsec[i]!
    r.buffer = this.obj[i] as Uint8Array
    r.dataOffset = this.dataOffset[i]!
    r.capLen = this.capLen[i]!
    r.origLen = this.origLen[i]!
    r.fileOffset = this.fileOffset[i]!
    r.hasTimestamp = this.hasTs[i]!
    r.comments = this.comments[i]!
    r.flags = this.flags[i]
    r.dropCount = this.dropCount[i]
  }
}

/** One file of the merge: its reader, its parser (feeding the queue) and its handlers (fed from the queue). */
class MergeFile {
  readonly file: string
  readonly q = new RecordQueue()
  /** The record handed to the file's handlers (reused, like a parser's). */
  private readonly rec = new ParsedPacket()
  reader: ChunkReader | null = null
  parser: CaptureParser | null = null
  /** No more input: end of file, or damage (error). */
  done = false
  /** Every record delivered and onFileEnd called. */
  ended = false
  error: CaptureError | null = null
  /** The chunk being parsed (records in it are kept as views). */
  private chunk: ArrayBufferLike | null = null

  constructor(readonly fi: number, readonly path: string, readonly handlers: CaptureHandlers, clockOffsetSec = 0) {
    this.file = displayName(path)
    this.q.setOffset(clockOffsetSec)
  }

  private readonly enqueue: CaptureHandlers = {
    onInfo: (i: FileInfo) => this.q.event(INFO, i),
    onInterface: (i: CaptureInterface) => this.q.event(IFACE, i),
    onWarning: (w: CaptureWarning) => this.q.event(WARNING, w),
    onPacket: (r: PacketRecord) => this.q.packet(r, this.chunk!),
  }

  /** Reads chunks until the queue holds something or the input is over. The queue must be empty. */
  async refill(signal: AbortSignal | undefined, chunkSize: number): Promise<void> {
    this.q.reset()
    while (this.q.empty && !this.done) {
      try {
        if (signal?.aborted) throw abortError(this.file, this.parser?.bytes ?? 0)
        if (this.reader === null) {
          this.reader = await openReader(this.path, this.file, chunkSize)
          this.parser = new CaptureParser(this.enqueue, {file: this.file, gzip: this.reader.gzip})
        }
        const parser = this.parser!
        let c: Uint8Array | null
        try {
          c = await this.reader.read()
        } catch (e) {
          if (e instanceof CaptureError) throw e
          if (signal?.aborted) throw abortError(this.file, parser.bytes)
          if (this.reader.gzip && isZlibError(e)) {
            const msg = e instanceof Error ? e.message : String(e)
            throw new CaptureError('bad-gzip', parser.bytes, 'corrupt or truncated gzip data',
              `${msg} (after ${parser.bytes} decompressed bytes, ${parser.packets} packets)`, this.file)
          }
          throw ioError(this.file, parser.bytes, e)
        }
        if (c === null) {
          this.done = true
          parser.end() // throws when the file ends inside a record, or is empty
        } else {
          this.chunk = c.buffer
          parser.push(c) // records of the chunk up to any damage are queued before a CaptureError
        }
      } catch (e) {
        if (!(e instanceof CaptureError)) throw e
        this.done = true
        this.error = e
      }
      if (this.done) await this.close()
    }
  }

  /** Delivers the events at the head of the queue; true when a packet is there next. */
  headPacket(): boolean {
    const q = this.q
    while (q.head < q.n) {
      if (q.kind[q.head] === PACKET) return true
      this.deliverEvent(q.head++)
    }
    return false
  }

  deliverEvent(i: number): void {
    const q = this.q
    const o = q.obj[i]
    switch (q.kind[i]) {
      case INFO: this.handlers.onInfo?.(o as FileInfo); break
      case IFACE: this.handlers.onInterface?.(o as CaptureInterface); break
      case WARNING: this.handlers.onWarning?.(o as CaptureWarning); break
    }
  }

  deliverPacket(i: number): void {
    this.q.load(i, this.rec)
    this.handlers.onPacket(this.rec)
  }

  result(): ReadResult | null {
    const p = this.parser
    if (p === null || p.info === null) return null
    return {info: p.info, interfaces: p.interfaces, packets: p.packets, bytes: p.bytes}
  }

  async close(): Promise<void> {
    const r = this.reader
    this.reader = null
    if (r !== null) await r.close()
  }
}

/**
 * Reads every file of `inputs` at once, each record through its own file's
 * handlers, in timestamp order (see the header). Never throws a
 * CaptureError: each file's is in its result (and given to onFileEnd).
 */
export async function readMerged(inputs: readonly MergeInput[], opts: MergeOptions = {}): Promise<MergedFileResult[]> {
  const chunkSize = opts.chunkSize ?? DEFAULT_CHUNK
  const signal = opts.signal
  const files = inputs.map((x, fi) => new MergeFile(fi, x.path, x.handlers, x.clockOffsetSec))
  try {
    let live = files
    for (;;) {
      // Every file still going has a packet at its head (its events before it delivered), or is over.
      let over = false
      for (let i = 0; i < live.length; i++) {
        const f = live[i]!
        while (!f.headPacket()) {
          if (f.done) {
            f.ended = true
            over = true
            opts.onFileEnd?.(f.fi, f.error)
            break
          }
          await f.refill(signal, chunkSize)
        }
      }
      if (over) live = live.filter((f) => !f.ended)
      if (live.length === 0) break
      deliverMerged(live)
    }
  } finally {
    for (const f of files) await f.close()
  }
  return files.map((f) => ({result: f.result(), error: f.error}))
}

/**
 * Delivers the files' packets in merged order while every file has one queued: returns once a file's queue has
 * run dry (readMerged refills it). Synchronous, so that the loop run for every packet is optimised as a plain
 * function (in readMerged's async loop it cost ~1 µs a packet).
 */
function deliverMerged(live: readonly MergeFile[]): void {
  for (;;) {
    // The smallest head (time, then file index), and the next smallest: the bound up to which the first
    // file's records go before another file's head comes.
    let best = live[0]!
    let bSec = best.q.kSec[best.q.head]!
    let bNsec = best.q.kNsec[best.q.head]!
    let oSec = Infinity
    let oNsec = 0
    let oFi = Infinity
    for (let i = 1; i < live.length; i++) {
      const f = live[i]!
      const s = f.q.kSec[f.q.head]!
      const ns = f.q.kNsec[f.q.head]!
      if (s < bSec || (s === bSec && ns < bNsec)) {
        // (equal times keep the earlier, lower-indexed file: live is in file order)
        oSec = bSec; oNsec = bNsec; oFi = best.fi
        best = f; bSec = s; bNsec = ns
      } else if (s < oSec || (s === oSec && (ns < oNsec || (ns === oNsec && f.fi < oFi)))) {
        oSec = s; oNsec = ns; oFi = f.fi
      }
    }
    // Deliver from `best` while its head comes before the other files' smallest head.
    const q = best.q
    const lowerFi = best.fi < oFi
    while (q.head < q.n) {
      const i = q.head
      if (q.kind[i] !== PACKET) {
        q.head++
        best.deliverEvent(i)
        continue
      }
      const s = q.kSec[i]!
      if (s > oSec) break
      if (s === oSec) {
        const ns = q.kNsec[i]!
        if (ns > oNsec || (ns === oNsec && !lowerFi)) break
      }
      q.head++
      best.deliverPacket(i)
    }
    // Its queue dry (or only events left, which headPacket delivers): back to readMerged for more.
    if (!best.headPacket()) return
  }
}
