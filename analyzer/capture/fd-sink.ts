// A synchronous, buffered byte sink on a file descriptor (used by the
// writers). Everything is written with fs.writeSync, so a signal handler can
// flush() + close() and leave a complete file behind.

import {closeSync, openSync, writeSync} from 'node:fs'

const FLUSH_AT = 1 << 20
const enc = new TextEncoder()
const sleeper = new Int32Array(new SharedArrayBuffer(4))

export class FdSink {
  readonly path: string
  private fd: number
  private readonly ownFd: boolean
  private buf: Uint8Array
  private dv: DataView
  len = 0
  /** Bytes handed to the OS so far. */
  written = 0
  closed = false

  private constructor(path: string, fd: number, ownFd: boolean) {
    this.path = path
    this.fd = fd
    this.ownFd = ownFd
    this.buf = new Uint8Array(FLUSH_AT + 65536)
    this.dv = new DataView(this.buf.buffer)
  }

  /** Opens (creates / truncates) `path`; '-' is standard output. */
  static open(path: string): FdSink {
    if (path === '-') return new FdSink(path, 1, false)
    return new FdSink(path, openSync(path, 'w'), true)
  }

  /** Makes room for n more bytes (flushing first when the buffer is full). */
  reserve(n: number): void {
    if (this.closed) throw new Error(`${this.path}: write after close`)
    if (this.len + n <= this.buf.length) return
    this.flush()
    if (n > this.buf.length) {
      this.buf = new Uint8Array(n)
      this.dv = new DataView(this.buf.buffer)
    }
  }

  /** Call reserve() first for all of these. */
  u8(v: number): void {
    this.buf[this.len++] = v
  }
  u16(v: number): void {
    this.dv.setUint16(this.len, v, true)
    this.len += 2
  }
  u32(v: number): void {
    this.dv.setUint32(this.len, v >>> 0, true)
    this.len += 4
  }
  /** Little-endian u32 at an absolute buffer position (for back-patching). */
  u32At(pos: number, v: number): void {
    this.dv.setUint32(pos, v >>> 0, true)
  }
  bytes(b: Uint8Array): void {
    this.buf.set(b, this.len)
    this.len += b.length
  }
  zeros(n: number): void {
    this.buf.fill(0, this.len, this.len + n)
    this.len += n
  }

  flush(): void {
    let off = 0
    while (off < this.len) {
      try {
        off += writeSync(this.fd, this.buf, off, this.len - off)
      } catch (e) {
        if ((e as {code?: string}).code === 'EAGAIN') {
          Atomics.wait(sleeper, 0, 0, 2) // non-blocking stdout pipe is full: wait a little
          continue
        }
        throw e
      }
    }
    this.written += this.len
    this.len = 0
  }

  /** Flushes and closes (stdout is flushed, not closed). Idempotent. */
  close(): void {
    if (this.closed) return
    try {
      this.flush()
    } finally {
      this.closed = true
      if (this.ownFd) closeSync(this.fd)
    }
  }
}

export function utf8(s: string): Uint8Array {
  return enc.encode(s)
}

export function pad4(n: number): number {
  return (n + 3) & ~3
}
