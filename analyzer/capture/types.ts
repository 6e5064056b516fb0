// Shared types of the capture-file layer (pcap / pcapng readers and writers).
//
// The names here are a fixed contract: other parts of `handoff` code against
// them. Additive, optional fields only.

/** One capture interface. pcap files have exactly one (id 0). */
export interface CaptureInterface {
  /** Global, 0-based, across sections, in order of appearance. */
  id: number
  /** 0-based section number (pcapng SHB index; always 0 for pcap). */
  section: number
  linkType: number
  /** 0 = no limit. */
  snapLen: number
  name?: string
  description?: string
  /** Timestamp units per second, e.g. 1e6, 1e9, 256. */
  tsUnitsPerSec: number
  /** if_tsoffset (seconds), already added to every packet timestamp. */
  tsOffsetSec: number
  comments: string[]
}

export interface FileInfo {
  format: 'pcap' | 'pcapng'
  /** 'modified' = Kuznetzov pcap (magic a1b2cd34, 24-byte record headers). */
  variant?: 'modified'
  /** 'mixed' when pcapng sections differ in byte order. */
  byteOrder: 'little' | 'big' | 'mixed'
  gzip: boolean
  /** Number of sections seen so far (pcap: 1). */
  sections: number
  /** SHB comments (all sections, in order). */
  comments: string[]
  /** "2.4" for pcap, the first SHB's "major.minor" for pcapng. */
  version: string
  /** shb_userappl of the first section that had one (pcapng only). */
  application?: string
  /** shb_os of the first section that had one (pcapng only). */
  os?: string
  /** shb_hardware of the first section that had one (pcapng only). */
  hardware?: string
}

/**
 * One packet. NOTE: the parser REUSES one PacketRecord object for every packet
 * (allocation-light); it and its `data` view are valid only during the
 * onPacket callback. Copy what you keep (`data.slice()`, the numbers).
 */
export interface PacketRecord {
  /** 1-based frame number across the file. */
  index: number
  interfaceId: number
  linkType: number
  tsSec: number
  /** Exact, 0..999999999. */
  tsNsec: number
  capLen: number
  origLen: number
  /** VIEW into the reader's buffer, valid only during the callback.
   *  (The parsers' record makes a new view on each access: read it once.) */
  data: Uint8Array
  /** The buffer the packet lives in, and where it starts: allocation-free
   *  access for hot loops (bytes [dataOffset, dataOffset + capLen)). */
  buffer: Uint8Array
  dataOffset: number
  /** Byte offset of the record/block in the (decompressed) stream. */
  fileOffset: number
  comments: string[] | null
  /** false for pcapng Simple Packet Blocks (tsSec = tsNsec = 0 then). */
  hasTimestamp: boolean
  /** epb_flags / pack_flags, when present. */
  flags?: number
  /** epb_dropcount, or the obsolete Packet Block's drops_count, when present. */
  dropCount?: number
}

/**
 * A named problem with the input. `offset` is the byte offset (in the
 * decompressed stream) of the record/block/header that is damaged, or -1 when
 * there is no meaningful offset (e.g. 'io' on open).
 *
 * Codes: 'bad-magic', 'truncated-header', 'truncated-record',
 * 'bad-block-length', 'block-length-mismatch', 'block-too-large',
 * 'caplen-too-large', 'unknown-interface', 'bad-option',
 * 'unsupported-version', 'bad-gzip', 'io', 'aborted'.
 *
 * message = "<file>: <what> at byte <offset>: <detail>", e.g.
 * "trunc.pcap: truncated record at byte 1234: header says 60 bytes of packet
 * data, only 12 remain".
 */
export class CaptureError extends Error {
  file: string
  offset: number
  code: string
  /** Short description, e.g. "truncated record". */
  what: string
  /** Explanation, e.g. "header says 60 bytes of packet data, only 12 remain". */
  detail: string

  constructor(code: string, offset: number, what: string, detail = '', file = '') {
    super('')
    this.name = 'CaptureError'
    this.code = code
    this.offset = offset
    this.what = what
    this.detail = detail
    this.file = file
    this.message = this.format()
  }

  /** Sets the file name (and rebuilds the message). Returns this. */
  setFile(file: string): this {
    this.file = file
    this.message = this.format()
    return this
  }

  private format(): string {
    let m = this.file ? `${this.file}: ${this.what}` : this.what
    if (this.offset >= 0) m += ` at byte ${this.offset}`
    if (this.detail) m += `: ${this.detail}`
    return m
  }
}

export interface CaptureWarning {
  offset: number
  code: string
  message: string
}

export interface CaptureHandlers {
  /** Called once, when the file header / first SHB has been read. The object
   *  is live: `sections`, `byteOrder` and `comments` keep being updated. */
  onInfo?(info: FileInfo): void
  onInterface?(iface: CaptureInterface): void
  onPacket(rec: PacketRecord): void
  /** Non-fatal oddities, e.g. 'unsupported-version', 'caplen-exceeds-snaplen'. */
  onWarning?(w: CaptureWarning): void
}

/** Hard limit on a packet's captured length (and on a pcapng block). */
export const MAX_CAPLEN = 256 * 1024 * 1024
export const MAX_BLOCK_LEN = MAX_CAPLEN + 1024 * 1024

export interface ParserOptions {
  /** Used in error messages. */
  file?: string
  /** Copied into FileInfo.gzip. */
  gzip?: boolean
}
