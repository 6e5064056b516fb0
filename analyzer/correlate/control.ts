// The control messages of a set of traces, whole (with `pkts`), each with the
// frame and time of the packet that completed it. `handoff messages`
// (analyzer/control/channels.ts) lists key fields only, and reports the
// control-framing errors; the checker needs the full messages to rebuild the
// translation state and compare the replayed segments, so it reassembles the
// control connections here with the same pieces (TcpConnectionTable,
// FrameDecoder). Framing errors are taken from channels.ts, not from here.
//
// The same frame seen by several views is kept once (directed 4-tuple,
// sequence number of the frame's first byte, frame length), the copy seen
// first in argument order. Files read merged by time (capture/merge.ts) are
// read all at once: each has its own reassembly (beginFile for each, then
// select() before each of its packets), and a new message is held back for
// holdSec of capture time, so that a copy from a file earlier in argument
// order (another view, a few ms apart) takes its place, as if the files had
// been read one after the other.
import {readCapture} from '../capture/read.js'
import {joinSections} from '../capture/join-sections.js'
import {CaptureError, type PacketRecord} from '../capture/types.js'
import {decodeBody, LENGTH_PREFIX, MAX_FRAME_LENGTH} from '../control/codec.js'
import {FrameDecoder} from '../control/decoder.js'
import type {ControlMessage} from '../control/messages.js'
import {MsgpackReader} from '../control/msgpack.js'
import {TcpConnectionTable, type StreamHandlers, type TcpConnection} from '../flows/reassembly.js'
import {PacketDecoder} from '../wire/decode.js'

export interface FramedMessage {
  msg: ControlMessage
  file: string
  fileIndex: number
  iface: number
  frame: number
  tsSec: number
  tsNsec: number
  /** Seconds since the epoch (float): tsSec + tsNsec / 1e9. */
  t: number
  /** "sender ip:port > receiver ip:port" */
  direction: string
  /** A handoff-req from check's control pass, which keeps no `pkts`: their fingerprints (checks/replay-print.ts). */
  pktsPrint?: number[]
}

export interface ControlCollection {
  messages: FramedMessage[]
  /** Messages decoded (deduplicated), kept or not (see ControlCollector's handoffOnly). */
  count: number
  captureErrors: {file: string; message: string}[]
}

export async function collectControl(paths: readonly string[], port: number): Promise<ControlCollection> {
  const c = new ControlCollector(port)
  for (let fi = 0; fi < paths.length; fi++) {
    const path = paths[fi]!
    const dec = new PacketDecoder({verifyChecksums: false})
    c.beginFile(fi, path)
    try {
      await readCapture(path, joinSections({onPacket: (rec) => c.packet(rec, dec.decode(rec.linkType, rec.data, rec.capLen, rec.origLen))}))
    } catch (e) {
      if (!(e instanceof CaptureError)) throw e
      c.fileError(e)
    }
    c.endFile()
  }
  return c.finish()
}

/**
 * The collection fed packet by packet, for a reader that goes through the
 * files itself: beginFile, packet() for every packet in order, fileError()
 * if the file is damaged, endFile(); then finish().
 */
export class ControlCollector {
  private readonly messages: FramedMessage[] = []
  private count = 0
  private readonly captureErrors: (ControlCollection['captureErrors'][number] & {fileIndex: number})[] = []
  /**
   * Frames seen already, per directed 4-tuple: sequence number × 2^21 +
   * frame length (a number, not a key string per message: this lives as long
   * as the trace is read).
   */
  private readonly seen = new Map<string, Set<number>>()
  /** The generation before, per direction, when the sets are bounded (opts.dedupeWindow). */
  private readonly seenOld = new Map<string, Set<number>>()
  /**
   * Bounded (opts.dedupeWindow): the keys of `seen` in its order (oldest first), from directionsHead on. The
   * oldest is taken from here: the Map's first key, found by its iterator, came after a walk over every entry
   * deleted before it (one per direction let go of).
   */
  private readonly directions: string[] = []
  private directionsHead = 0
  private readonly reader = new MsgpackReader()
  /** The file being read (several at once when merged: select()). */
  private f: FileState = {fi: 0, file: '', table: null, cur: {iface: 0, tsSec: 0, tsNsec: 0}, last: 0}
  private readonly files = new Map<number, FileState>()
  /** Merged reading (opts.holdSec): new messages held back, in the order they came, and by key. */
  private readonly held: Held[] = []
  private heldHead = 0
  private readonly heldByKey = new Map<string, Held>()
  /** Latest capture time of a packet given to packet() (merged reading: where the pass is). */
  private now = -Infinity
  /** Merged reading: the largest time between two copies of one frame in two files (seconds); Infinity when a copy
   *  came after its message was passed on (holdSec). */
  copySkewSec = 0

  /**
   * handoffOnly: keep only the messages of handoffs (req, ack, nack,
   * terminate) — hello and ping/pong are only counted — for a caller that
   * holds the messages through a long trace. onMessage: hand each message
   * (deduplicated, filtered) to the caller instead of keeping it, for a
   * caller that keeps less of it (finish() then returns no messages).
   */
  constructor(readonly port: number, private readonly opts: {handoffOnly?: boolean; onMessage?: (m: FramedMessage) => void
    /** With handoffOnly: each message left out (hello, ping / pong, deduplicated), as it is decoded (sessions: the hellos' node addresses). */
    onOther?: (m: FramedMessage) => void
    /**
     * Remember only about the last 2 × dedupeWindow frames per direction (two generations of a set): for a single
     * file, where the copies of a frame at several views lie close together, so that a long trace does not
     * grow this. Unbounded without it (several files: the copy may be a whole file away).
     */
    dedupeWindow?: number
    /**
     * Files read merged by time (several at once): a new message is passed on only once the capture time is
     * holdSec past it, replaced meanwhile by a copy from a file earlier in argument order.
     */
    holdSec?: number
    /**
     * Merged reading by corrected times (check, files on clocks too far apart): seconds to subtract from each
     * file's capture times to put them on one clock. Holding, and the time between copies, go by those.
     */
    clockOffsetsSec?: readonly number[]} = {}) {}

  /** A capture time of file fi on the one clock of the merged reading (itself unless clockOffsetsSec). */
  private onClock(t: number, fi: number): number {
    const o = this.opts.clockOffsetsSec
    return o === undefined ? t : t - (o[fi] ?? 0)
  }

  beginFile(fi: number, path: string): void {
    this.f = {fi, file: path === '-' ? '<stdin>' : path, cur: {iface: 0, tsSec: 0, tsNsec: 0}, last: 0, table: null}
    this.files.set(fi, this.f)
  }

  /** A file's reassembly, made by its first packet() (none when messages come from elsewhere: message()). */
  private newTable(): TcpConnectionTable {
    // No history of delivered bytes: it only serves to compare retransmissions, which no message depends on.
    // In-order chunks as views: the frame decoder copies what it keeps of them.
    return new TcpConnectionTable({serverPort: this.port, open: (c) => this.open(c), historyBytes: 0, borrowInOrder: true,
      // Bounded: a long trace may open control connection after connection; closed ones are let go.
      ...(this.opts.dedupeWindow !== undefined ? {forgetIdleAfterSec: 120} : {})})
  }

  /** Files read at once (merged): the packets, error and end that follow are file fi's (begun with beginFile). */
  select(fi: number): void {
    this.f = this.files.get(fi)!
  }

  /**
   * One packet of the current file. dec: the decoder that has just decoded
   * it, or null when the caller knows it is no control-port TCP packet.
   */
  packet(rec: PacketRecord, dec: PacketDecoder | null): void {
    this.observe(rec)
    const port = this.port
    if (dec === null || dec.transport !== 'tcp' || (dec.srcPort !== port && dec.dstPort !== port)) return
    const f = this.f
    f.cur = {iface: rec.interfaceId, tsSec: rec.tsSec, tsNsec: rec.tsNsec}
    ;(f.table ??= this.newTable()).add(dec, rec.index, rec.tsSec, rec.tsNsec, String(rec.interfaceId))
  }

  /** A packet of the current file went by (what packet() does besides reassembly, for a caller that uses message()). */
  observe(rec: PacketRecord): void {
    this.f.last = rec.index
    if (this.opts.holdSec !== undefined && rec.hasTimestamp) this.advance(this.onClock(rec.tsSec + rec.tsNsec / 1e9, this.f.fi))
  }

  fileError(e: CaptureError): void {
    this.captureErrors.push({file: this.f.file, fileIndex: this.f.fi, message: e.message})
  }

  /** lastFrame: the file's last frame, for a caller that gave packet() only the control channel's packets. */
  endFile(lastFrame = this.f.last): void {
    this.f.table?.finish(lastFrame)
    this.f.table = null
    this.files.delete(this.f.fi)
  }

  /** The messages in time order (then file, frame). */
  finish(): ControlCollection {
    this.advance(Infinity)
    const messages = this.messages
    messages.sort(byTime)
    // In file order, as when the files are read one after the other (stable: a file's own order kept).
    const captureErrors = this.captureErrors.sort((a, b) => a.fileIndex - b.fileIndex).map(({file, message}) => ({file, message}))
    return {messages, count: this.count, captureErrors}
  }

  /** Merged reading: the capture time is t; held messages older than holdSec are passed on. */
  private advance(t: number): void {
    if (t > this.now) this.now = t
    const held = this.held
    if (this.heldHead === held.length) return
    const until = this.now - this.opts.holdSec!
    while (this.heldHead < held.length && held[this.heldHead]!.first <= until) {
      const e = held[this.heldHead++]!
      this.heldByKey.delete(e.key)
      this.emit(e.m)
    }
    if (this.heldHead === held.length) {
      held.length = 0
      this.heldHead = 0
    }
  }

  private emit(m: FramedMessage): void {
    if (this.opts.onMessage) this.opts.onMessage(m)
    else this.messages.push(m)
  }

  /** A copy of a frame already seen: with merged files, it replaces the held one when its file comes first. */
  private copy(hkey: string, msg: ControlMessage, iface: number, frame: number, tsSec: number, tsNsec: number, direction: string,
    pktsPrint: number[] | undefined): void {
    const e = this.heldByKey.get(hkey)
    if (e === undefined) {
      // Passed on already: a copy more than holdSec after the first (clocks that far apart, or a retransmission
      // that late). Which copy reading the files one after the other keeps cannot be told: said by copySkewSec.
      this.copySkewSec = Infinity
      return
    }
    const c = this.framed(msg, iface, frame, tsSec, tsNsec, direction, pktsPrint)
    if (c.fileIndex !== e.m.fileIndex) {
      this.copySkewSec = Math.max(this.copySkewSec, Math.abs(this.onClock(c.t, c.fileIndex) - this.onClock(e.m.t, e.m.fileIndex)))
    }
    if (c.fileIndex < e.m.fileIndex) e.m = c
  }

  /** The set of a direction not seen yet (or let go of); bounded, the directions of long-gone connections go. */
  private newDirection(dkey: string): Set<number> {
    const seen = new Set<number>()
    this.seen.set(dkey, seen)
    if (this.opts.dedupeWindow === undefined) return seen
    const order = this.directions
    order.push(dkey)
    if (this.seen.size > MAX_DIRECTIONS) {
      const oldest = order[this.directionsHead++]!
      this.seen.delete(oldest)
      this.seenOld.delete(oldest)
      if (this.directionsHead >= MAX_DIRECTIONS) {
        order.splice(0, this.directionsHead)
        this.directionsHead = 0
      }
    }
    return seen
  }

  /**
   * A message decoded from a control stream of the current file: by this collector's own reassembly (packet()),
   * or by a ControlExtractor's for a caller that reads the channel once for both (check's control pass, which then
   * calls observe() rather than packet()). seq: sequence number of the frame's first byte; length: the frame's;
   * direction: "sender ip:port > receiver ip:port"; frame, time: of the packet that completed the frame.
   * pktsPrint: a handoff-req's, when the caller has taken its `pkts` out (FramedMessage's pktsPrint).
   */
  message(msg: ControlMessage, seq: number, length: number, direction: string, iface: number, frame: number, tsSec: number, tsNsec: number,
    pktsPrint?: number[]): void {
    const key = seq * 0x200000 + length
    const fi = this.f.fi
    const hold = this.opts.holdSec !== undefined && (!this.opts.handoffOnly || HANDOFF_TYPES.has(msg.t))
    // Looked up each time: the views of one direction share its sets, and they rotate (dedupeWindow).
    let seen = this.seen.get(direction) ?? this.newDirection(direction)
    if (seen.has(key) || this.seenOld.get(direction)?.has(key)) {
      if (hold) this.copy(`${direction}|${key}`, msg, iface, frame, tsSec, tsNsec, direction, pktsPrint)
      return
    }
    seen.add(key)
    const w = this.opts.dedupeWindow
    if (w !== undefined && seen.size >= w) {
      this.seenOld.set(direction, seen)
      this.seen.set(direction, (seen = new Set()))
    }
    this.count++
    if (this.opts.handoffOnly && !HANDOFF_TYPES.has(msg.t)) {
      this.opts.onOther?.(this.framed(msg, iface, frame, tsSec, tsNsec, direction))
      return
    }
    const m = this.framed(msg, iface, frame, tsSec, tsNsec, direction, pktsPrint)
    if (hold) {
      const e: Held = {m, key: `${direction}|${key}`, first: this.onClock(m.t, fi)}
      this.held.push(e)
      this.heldByKey.set(e.key, e)
    } else this.emit(m)
  }

  /** A message of the current file, framed (a method, not a closure made per message). */
  private framed(msg: ControlMessage, iface: number, frame: number, tsSec: number, tsNsec: number, direction: string,
    pktsPrint?: number[]): FramedMessage {
    const {file, fi} = this.f
    const t = tsSec + tsNsec / 1e9
    // pktsPrint only when there is one: a key of its own, last.
    return pktsPrint === undefined ? {msg, file, fileIndex: fi, iface, frame, tsSec, tsNsec, t, direction}
      : {msg, file, fileIndex: fi, iface, frame, tsSec, tsNsec, t, direction, pktsPrint}
  }

  private open(c: TcpConnection): [StreamHandlers, StreamHandlers] {
    const {reader} = this
    const f = this.f
    const iface = f.cur.iface
    const make = (fromClient: boolean): StreamHandlers => {
      const s = fromClient ? c.client : c.server
      const r = fromClient ? c.server : c.client
      const dkey = `${s.addr}:${s.port} > ${r.addr}:${r.port}`
      const idx = fromClient ? 0 : 1
      let decoder: FrameDecoder | null = null
      let syncing = false
      return {
        onData: (chunk, off, frame) => {
          if (decoder === null) {
            syncing = c.streams![idx].origin !== 'syn'
            decoder = new FrameDecoder({startOffset: off})
          }
          if (syncing) {
            if (!frameStartsAt(chunk, reader)) return
            syncing = false
            decoder = new FrameDecoder({startOffset: off})
          }
          for (const ev of decoder.push(chunk, off)) {
            if (ev.kind !== 'message') continue
            this.message(ev.msg, c.streams![idx].seqOf(ev.offset), ev.length, dkey, iface, frame, f.cur.tsSec, f.cur.tsNsec)
          }
          if (decoder.isStopped) syncing = true
        },
        onGap: () => { syncing = true },
      }
    }
    return [make(true), make(false)]
  }
}

/** One file's reading state (its own reassembly: each file is a view of its own). */
interface FileState {
  fi: number
  file: string
  table: TcpConnectionTable | null
  cur: {iface: number; tsSec: number; tsNsec: number}
  last: number
}

/** A message held back (merged reading): its key ("direction|seq × 2^21 + length") and when it was first seen. */
interface Held {
  m: FramedMessage
  key: string
  first: number
}

/** Time order of messages (then file, frame; a stable sort keeps the decoding order of one frame's messages). */
export function byTime(a: FramedMessage, b: FramedMessage): number {
  return a.t - b.t || a.fileIndex - b.fileIndex || a.frame - b.frame
}

/** Bounded collector (dedupeWindow): directions of control connections remembered for deduplication. */
const MAX_DIRECTIONS = 256

/** The messages of a handoff (assemble.ts): the rest is hello and ping / pong. */
const HANDOFF_TYPES: ReadonlySet<string> = new Set(['handoff-req', 'handoff-ack', 'handoff-nack', 'terminate'])

function frameStartsAt(chunk: Uint8Array, reader: MsgpackReader): boolean {
  if (chunk.length < LENGTH_PREFIX + 1) return false
  const len = chunk[0]! * 0x100_0000 + ((chunk[1]! << 16) | (chunk[2]! << 8) | chunk[3]!)
  if (len < 1 || len > MAX_FRAME_LENGTH || LENGTH_PREFIX + len > chunk.length) return false
  return decodeBody(chunk, LENGTH_PREFIX, LENGTH_PREFIX + len, reader).ok
}
