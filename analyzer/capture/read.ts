// Reading capture files: plain or gzip-compressed pcap / pcapng, from a path
// or from standard input ('-'), in constant memory.

import {closeSync, createReadStream, openSync, readSync} from 'node:fs'
import {open} from 'node:fs/promises'
import {addAbortSignal, pipeline, Readable} from 'node:stream'
import {constants as zc, createGunzip, gunzipSync} from 'node:zlib'
import {CaptureParser} from './parser.js'
import {CaptureError, type CaptureHandlers, type CaptureInterface, type FileInfo} from './types.js'

export interface ReadResult {
  info: FileInfo
  interfaces: CaptureInterface[]
  packets: number
  /** Bytes of the (decompressed) stream that were read. */
  bytes: number
}

export interface ReadOptions {
  signal?: AbortSignal
  /** Read size (default READ_CHUNK). */
  chunkSize?: number
}

/**
 * Read size: small enough for the chunk to stay in the CPU's cache from the copy out of the page cache to the
 * parser's reading of it. Measured on the 2 M-packet bench trace (931 MB), read and parsed with a trivial
 * handler: 1 MiB chunks 610 ms of CPU, 256 KiB 633 ms, 128 KiB 305 ms, 64 KiB 346 ms. A record cut by a chunk's
 * end is copied whole once (stream-parser.ts): one in ~280 here.
 */
export const READ_CHUNK = 128 << 10
const DEFAULT_CHUNK = READ_CHUNK
/** Chunks read synchronously between two turns of the event loop (16 MiB). */
const YIELD_EVERY = (16 << 20) / READ_CHUNK

/**
 * Reads a plain file's chunks: each a synchronous read, since a read from the page cache takes microseconds
 * and a round trip through libuv's thread pool longer than parsing the chunk (8 % of check's wall time on a
 * 2 M-packet trace was spent idle waiting for it); the event loop still gets a turn every YIELD_EVERY chunks
 * (signals, timers). Throws the CaptureError of an I/O error.
 */
export class ChunkFileReader {
  private chunks = 0

  constructor(private readonly fd: number, private readonly file: string) {}

  /** Bytes read into buf[0, …) from file position pos (0 at the end). */
  async read(buf: Uint8Array, pos: number): Promise<number> {
    let n: number
    try {
      n = readSync(this.fd, buf, 0, buf.length, pos)
    } catch (e) {
      throw ioError(this.file, pos, e)
    }
    if (++this.chunks % YIELD_EVERY === 0) await new Promise((r) => setImmediate(r))
    return n
  }
}

/** The name errors use for a path ('-' is standard input). */
export function displayName(path: string): string {
  return path === '-' ? '<stdin>' : path
}

export function ioError(file: string, offset: number, e: unknown, what = 'read error'): CaptureError {
  const msg = e instanceof Error ? e.message : String(e)
  return new CaptureError('io', offset, what, msg, file)
}

export function isZlibError(e: unknown): boolean {
  const code = (e as {code?: unknown})?.code
  return typeof code === 'string' && code.startsWith('Z_')
}

export function abortError(file: string, offset: number): CaptureError {
  return new CaptureError('aborted', offset, 'reading aborted', '', file)
}

function result(p: CaptureParser): ReadResult {
  const info = p.info
  if (info === null) throw new Error('capture parser ended without a header (internal error)')
  return {info, interfaces: p.interfaces, packets: p.packets, bytes: p.bytes}
}

/**
 * Streams a capture file through `handlers`. Every complete record before
 * any damage is delivered, then a CaptureError (with `file` set) is thrown.
 * Gzip input (1f 8b) is decompressed transparently. `path` '-' = stdin.
 */
export async function readCapture(path: string, handlers: CaptureHandlers, opts?: ReadOptions): Promise<ReadResult> {
  const file = displayName(path)
  const signal = opts?.signal
  const chunkSize = opts?.chunkSize ?? DEFAULT_CHUNK
  if (signal?.aborted) throw abortError(file, 0)
  if (path === '-') return readStream(process.stdin, file, handlers, signal, chunkSize)

  let fh
  try {
    fh = await open(path, 'r')
  } catch (e) {
    throw ioError(file, -1, e, 'cannot open')
  }
  const buf = new Uint8Array(chunkSize)
  let gzip = false
  let parser: CaptureParser | null = null
  const reader = new ChunkFileReader(fh.fd, file)
  try {
    let pos = 0
    for (;;) {
      const n = await reader.read(buf, pos)
      if (pos === 0 && n >= 2 && buf[0] === 0x1f && buf[1] === 0x8b) {
        gzip = true
        break
      }
      if (parser === null) parser = new CaptureParser(handlers, {file, gzip: false})
      if (n === 0) break
      parser.push(n === chunkSize ? buf : buf.subarray(0, n))
      pos += n
      if (signal?.aborted) throw abortError(file, parser.bytes)
    }
  } finally {
    await fh.close().catch(() => {})
  }
  if (gzip) {
    return readStream(createReadStream(path, {highWaterMark: chunkSize}), file, handlers, signal, chunkSize)
  }
  parser!.end()
  return result(parser!)
}

async function readStream(
  src: Readable,
  file: string,
  handlers: CaptureHandlers,
  signal: AbortSignal | undefined,
  chunkSize: number,
): Promise<ReadResult> {
  if (signal) addAbortSignal(signal, src)
  const it = src[Symbol.asyncIterator]() as AsyncIterator<Uint8Array>
  let first: IteratorResult<Uint8Array>
  try {
    first = await it.next()
  } catch (e) {
    if (signal?.aborted) throw abortError(file, 0)
    throw ioError(file, 0, e)
  }
  const gzip = !first.done && first.value.length >= 2 && first.value[0] === 0x1f && first.value[1] === 0x8b
  const parser = new CaptureParser(handlers, {file, gzip})
  if (first.done) {
    parser.end() // throws 'empty file'
    return result(parser)
  }
  let input: AsyncIterable<Uint8Array>
  let gunzip: ReturnType<typeof createGunzip> | null = null
  if (gzip) {
    const feeder = Readable.from((async function* () {
      yield first.value
      for (;;) {
        const r = await it.next()
        if (r.done) return
        yield r.value
      }
    })(), {objectMode: false})
    gunzip = createGunzip({chunkSize: Math.max(chunkSize >> 2, 64 * 1024)})
    pipeline(feeder, gunzip, () => {})
    input = gunzip
  } else {
    input = (async function* () {
      yield first.value
      for (;;) {
        const r = await it.next()
        if (r.done) return
        yield r.value
      }
    })()
  }
  const iter = input[Symbol.asyncIterator]()
  let done = false
  try {
    for (;;) {
      let r: IteratorResult<Uint8Array>
      try {
        r = await iter.next()
      } catch (e) {
        done = true
        if (signal?.aborted) throw abortError(file, parser.bytes)
        if (gzip && isZlibError(e)) {
          const msg = e instanceof Error ? e.message : String(e)
          throw new CaptureError('bad-gzip', parser.bytes, 'corrupt or truncated gzip data',
            `${msg} (after ${parser.bytes} decompressed bytes, ${parser.packets} packets)`, file)
        }
        throw ioError(file, parser.bytes, e)
      }
      if (r.done) {
        done = true
        break
      }
      parser.push(r.value) // CaptureError and handler exceptions propagate as they are
      if (signal?.aborted) throw abortError(file, parser.bytes)
    }
  } finally {
    if (!done) await iter.return?.().catch(() => {})
    if (gunzip) gunzip.destroy()
    if (src !== process.stdin) src.destroy()
  }
  parser.end()
  return result(parser)
}

/**
 * Synchronous reader (fs.readSync in READ_CHUNK chunks into one reused buffer):
 * the fast path for plain files. Gzip files are supported but decompressed
 * in one piece (gunzipSync), so they are NOT read in constant memory; use
 * readCapture() for big .gz files. Stdin ('-') is read from fd 0.
 */
export function readCaptureSync(path: string, handlers: CaptureHandlers, opts?: {chunkSize?: number}): ReadResult {
  const file = displayName(path)
  const chunkSize = opts?.chunkSize ?? DEFAULT_CHUNK
  let fd: number
  if (path === '-') fd = 0
  else {
    try {
      fd = openSync(path, 'r')
    } catch (e) {
      throw ioError(file, -1, e, 'cannot open')
    }
  }
  const buf = new Uint8Array(chunkSize)
  let parser: CaptureParser | null = null
  let gzParts: Uint8Array[] | null = null
  try {
    let pos = 0
    for (;;) {
      let n: number
      try {
        n = readSync(fd, buf, 0, chunkSize, path === '-' ? null : pos)
      } catch (e) {
        if ((e as {code?: string}).code === 'EAGAIN') continue
        if ((e as {code?: string}).code === 'EOF') n = 0
        else throw ioError(file, pos, e)
      }
      if (pos === 0 && n >= 2 && buf[0] === 0x1f && buf[1] === 0x8b) gzParts = []
      if (gzParts !== null) {
        if (n === 0) break
        gzParts.push(buf.slice(0, n))
        pos += n
        continue
      }
      if (parser === null) parser = new CaptureParser(handlers, {file, gzip: false})
      if (n === 0) break
      parser.push(n === chunkSize ? buf : buf.subarray(0, n))
      pos += n
    }
  } finally {
    if (path !== '-') closeSync(fd)
  }
  if (gzParts !== null) {
    let data: Uint8Array
    let gzErr: CaptureError | null = null
    const all = Buffer.concat(gzParts)
    gzParts = null
    try {
      data = gunzipSync(all)
    } catch (e) {
      // deliver what decompresses, then report the damage
      try {
        data = gunzipSync(all, {finishFlush: zc.Z_SYNC_FLUSH})
      } catch {
        data = new Uint8Array(0)
      }
      const msg = e instanceof Error ? e.message : String(e)
      gzErr = new CaptureError('bad-gzip', data.length, 'corrupt or truncated gzip data', msg, file)
    }
    parser = new CaptureParser(handlers, {file, gzip: true})
    const u8 = new Uint8Array(data.buffer, data.byteOffset, data.length)
    for (let i = 0; i < u8.length; i += chunkSize) parser.push(u8.subarray(i, Math.min(u8.length, i + chunkSize)))
    if (gzErr) throw gzErr
  }
  parser!.end()
  return result(parser!)
}
