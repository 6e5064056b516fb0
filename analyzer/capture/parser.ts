// CaptureParser: a push parser that picks pcap or pcapng by the magic number.

import {CaptureError, type CaptureHandlers, type CaptureInterface, type FileInfo, type ParserOptions} from './types.js'
import {PcapParser, pcapMagicKind} from './pcap-parser.js'
import {BT_SHB, PcapngParser} from './pcapng-parser.js'

/** What the first bytes of a stream look like. */
export function sniffFormat(b: Uint8Array): 'pcap' | 'pcapng' | 'gzip' | 'unknown' | 'short' {
  if (b.length >= 2 && b[0] === 0x1f && b[1] === 0x8b) return 'gzip'
  if (b.length < 4) return 'short'
  if (b[0] === 0x0a && b[1] === 0x0d && b[2] === 0x0d && b[3] === 0x0a) return 'pcapng'
  if (pcapMagicKind(b, 0) !== null) return 'pcap'
  return 'unknown'
}

export class CaptureParser {
  private readonly handlers: CaptureHandlers
  private readonly opts: ParserOptions | undefined
  private inner: PcapParser | PcapngParser | null = null
  private head = new Uint8Array(4)
  private headLen = 0
  private failed: CaptureError | null = null

  constructor(handlers: CaptureHandlers, opts?: ParserOptions) {
    this.handlers = handlers
    this.opts = opts
  }

  get file(): string {
    return this.opts?.file ?? ''
  }
  /** FileInfo once the header has been read, else null. */
  get info(): FileInfo | null {
    return this.inner?.info ?? null
  }
  get interfaces(): CaptureInterface[] {
    return this.inner?.interfaces ?? []
  }
  get packets(): number {
    return this.inner?.packets ?? 0
  }
  get bytes(): number {
    return this.inner ? this.inner.bytes : this.headLen
  }

  push(chunk: Uint8Array): void {
    if (this.inner !== null) {
      this.inner.push(chunk)
      return
    }
    if (this.failed) throw this.failed
    const take = Math.min(4 - this.headLen, chunk.length)
    this.head.set(chunk.subarray(0, take), this.headLen)
    this.headLen += take
    if (this.headLen >= 2 && this.head[0] === 0x1f && this.head[1] === 0x8b) {
      throw (this.failed = new CaptureError('bad-magic', 0, 'gzip-compressed data',
        'decompress it first (readCapture() does this transparently)', this.file))
    }
    if (this.headLen < 4) return
    const kind = sniffFormat(this.head)
    if (kind === 'pcapng') this.inner = new PcapngParser(this.handlers, this.opts)
    else if (kind === 'pcap') this.inner = new PcapParser(this.handlers, this.opts)
    else {
      const hex = Array.from(this.head, (x) => x.toString(16).padStart(2, '0')).join(' ')
      throw (this.failed = new CaptureError('bad-magic', 0, 'unknown magic',
        `${hex} is neither pcap (a1b2c3d4, a1b23c4d, a1b2cd34, either byte order) nor pcapng (0a 0d 0d 0a)`, this.file))
    }
    this.inner.push(this.head)
    if (take < chunk.length) this.inner.push(chunk.subarray(take))
  }

  end(): void {
    if (this.inner !== null) {
      this.inner.end()
      return
    }
    if (this.failed) throw this.failed
    throw (this.failed = this.headLen === 0
      ? new CaptureError('truncated-header', 0, 'empty file', 'no capture file header (0 bytes)', this.file)
      : new CaptureError('truncated-header', 0, 'truncated file header', `only ${this.headLen} bytes`, this.file))
  }
}

export {BT_SHB}
