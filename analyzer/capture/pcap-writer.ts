// Classic pcap writer (little-endian; microsecond or nanosecond magic).

import {FdSink} from './fd-sink.js'
import {MAX_CAPLEN} from './types.js'

export interface PcapWriterOptions {
  linkType: number
  /** Default 262144. Written into the header; packets are NOT cut to it. */
  snapLen?: number
  /** Default 'us'. */
  tsResolution?: 'us' | 'ns'
}

export class PcapWriter {
  private readonly sink: FdSink
  private readonly ns: boolean
  /** Packets written so far. */
  packets = 0

  private constructor(sink: FdSink, opts: PcapWriterOptions) {
    this.sink = sink
    this.ns = opts.tsResolution === 'ns'
    const s = sink
    s.reserve(24)
    s.u32(this.ns ? 0xa1b23c4d : 0xa1b2c3d4)
    s.u16(2)
    s.u16(4)
    s.u32(0) // thiszone
    s.u32(0) // sigfigs
    s.u32(opts.snapLen ?? 262144)
    s.u32(opts.linkType)
  }

  /** Creates / truncates `path` ('-' = stdout) and writes the file header. */
  static open(path: string, opts: PcapWriterOptions): PcapWriter {
    return new PcapWriter(FdSink.open(path), opts)
  }

  writePacket(tsSec: number, tsNsec: number, data: Uint8Array, origLen?: number): void {
    const cap = data.length
    if (cap > MAX_CAPLEN) throw new RangeError(`pcap writer: packet of ${cap} bytes exceeds ${MAX_CAPLEN}`)
    const s = this.sink
    s.reserve(16 + cap)
    s.u32(tsSec)
    s.u32(this.ns ? tsNsec : Math.floor(tsNsec / 1000))
    s.u32(cap)
    s.u32(origLen ?? cap)
    s.bytes(data)
    this.packets++
  }

  flush(): void {
    this.sink.flush()
  }

  /** Flushes and closes; idempotent. */
  close(): void {
    this.sink.close()
  }
}
