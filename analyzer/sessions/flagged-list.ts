// The flagged packets of `sessions --anomalies`: those of the shown rows, in
// file order (argument order), each file's in the order read. A packet is
// flagged while its session is live, but whether its session is shown is
// known only when its row is made (per view) or its connection is
// (connections mode: after the merger retires it). So every flagged packet
// is written as it comes, one spool per file (on disk past `memRecords` of
// a file: the CLI's; never for collectSessions' arrays), and the sessions
// shown are marked, one bit per session number of the file (StreamSet);
// walking the list reads each file's packets in order and keeps those whose
// session is marked. Memory: the marks and a spool's buffer per file, not
// the packets.
//
// Packets go to disk as JSON and come back through JSON.parse: the same keys
// in the same order (row-list.ts says why that gives the same bytes).
import {RecordSpool} from '../correlate/control-spool.js'
import type {FlaggedPacket} from './sessions.js'

/** Session numbers of one file (0, 1, 2…, tshark's tcp.stream), as bits: the sessions shown. */
export class StreamSet {
  private bits = new Uint8Array(64)

  add(n: number): void {
    const i = n >>> 3
    if (i >= this.bits.length) {
      const b = new Uint8Array(Math.max(i + 1, this.bits.length * 2))
      b.set(this.bits)
      this.bits = b
    }
    this.bits[i]! |= 1 << (n & 7)
  }

  has(n: number): boolean {
    const i = n >>> 3
    return i < this.bits.length && (this.bits[i]! & (1 << (n & 7))) !== 0
  }
}

/** One file's flagged packets, in the order read: in memory up to a number of them, then on disk. */
class FileFlagged {
  private mem: FlaggedPacket[] = []
  private spool: RecordSpool<FlaggedPacket> | null = null

  constructor(private readonly memRecords: number) {}

  add(p: FlaggedPacket): void {
    if (this.spool === null) {
      if (this.mem.length < this.memRecords) { this.mem.push(p); return }
      this.spool = new RecordSpool<FlaggedPacket>('handoff-flagged-', 'json')
      for (const x of this.mem) this.spool.write(x)
      this.mem = []
    }
    this.spool.write(p)
  }

  get onDisk(): boolean {
    return this.spool !== null
  }

  * [Symbol.iterator](): Iterator<FlaggedPacket> {
    if (this.spool === null) { yield* this.mem; return }
    const r = this.spool.reader()
    for (let p = r.next(); p !== null; p = r.next()) yield p
  }

  remove(): void {
    this.spool?.remove()
    this.spool = null
    this.mem = []
  }
}

export class FlaggedList implements Iterable<FlaggedPacket> {
  private readonly files: FileFlagged[]
  private shown: (fileIndex: number, p: FlaggedPacket) => boolean = () => false
  private count = -1

  constructor(files: number, memRecords: number) {
    this.files = Array.from({length: files}, () => new FileFlagged(memRecords))
  }

  /** A flagged packet of file `fileIndex`, as read. */
  add(fileIndex: number, p: FlaggedPacket): void {
    this.files[fileIndex]!.add(p)
  }

  /** After the last add: which packets the list holds (those of the sessions shown). */
  finish(shown: (fileIndex: number, p: FlaggedPacket) => boolean): void {
    this.shown = shown
    this.count = -1
  }

  /** Whether packets went to disk (tests). */
  get onDisk(): boolean {
    return this.files.some((f) => f.onDisk)
  }

  /** The packets shown (counted by a walk, the first time). */
  get length(): number {
    if (this.count < 0) {
      let n = 0
      for (const _ of this) n++
      this.count = n
    }
    return this.count
  }

  * [Symbol.iterator](): Iterator<FlaggedPacket> {
    for (let fi = 0; fi < this.files.length; fi++) for (const p of this.files[fi]!) if (this.shown(fi, p)) yield p
  }

  toArray(): FlaggedPacket[] {
    return [...this]
  }

  /** Written as an array (by JSON.stringify; cli/render/json-stream.ts walks it as one). */
  toJSON(): FlaggedPacket[] {
    return [...this]
  }

  remove(): void {
    for (const f of this.files) f.remove()
  }
}
