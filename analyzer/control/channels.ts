// Control-channel extraction from traces (what `handoff messages` shows):
// every TCP connection with the control port (spec §1, default 7070) on one
// side is reassembled both ways (flows/reassembly.ts), each direction is cut
// into frames by a FrameDecoder (decoder.ts), and every frame becomes a row:
// a message with its key fields, or a `control-framing` error (spec §5).
//
// - Time and frame of a row are those of the packet that completed the frame.
// - Each capture interface of each file is reassembled on its own (two vantage
//   points are two views of the channel). The same frame seen by several
//   views — several files, or several interfaces of one pcapng — is listed
//   once: rows are deduplicated on (directed 4-tuple, sequence number of the
//   frame's first byte, frame length, kind), and `duplicates` counts the
//   copies merged. The sequence number rather than the stream offset makes
//   the key independent of whether a view saw the SYN.
// - Stream holes: the decoder reports one `stream-gap` (framing is lost),
//   then we look for the framing again: at the first later segment boundary
//   where a whole, valid frame starts (a note says how many bytes were
//   skipped). The same search runs when the SYN was not captured (the trace
//   starts mid-stream): segment boundaries are where senders usually start
//   frames, and only a complete frame that validates as a §3 message counts.
// - A trace that ends (or a file that is damaged) inside a frame is a capture
//   matter, not a framing error: it is a note. So is a hole of bytes the
//   capture saw but cut off (snap length): a `snaplen` note, then the framing
//   is looked for again as after any hole. A stream closed by FIN/RST
//   inside a frame is a `truncated-frame` error.
// - A CaptureError (damaged file) ends that file: everything read before the
//   damage is kept, the error is listed in `captureErrors`, and the next file
//   is read.
// - Files may also be read all at once, merged by time (capture/merge.ts:
//   `check` with several files): beginFile for each, select() before each of
//   a file's packets, its error and its end. Each keeps its own reassembly;
//   a frame's row is the copy of the file first in argument order, notes and
//   errors are listed in file order: the report is the one the files read
//   one after the other give.

import {readCapture} from '../capture/read.js'
import {joinSections} from '../capture/join-sections.js'
import {CaptureError, type PacketRecord} from '../capture/types.js'
import {TcpConnectionTable, type StreamEndReason, type StreamHandlers, type TcpConnection} from '../flows/reassembly.js'
import {formatIso} from '../inspect/timestamp.js'
import {PacketDecoder} from '../wire/decode.js'
import {decodeBody, LENGTH_PREFIX, MAX_FRAME_LENGTH, type FramingReason} from './codec.js'
import {FrameDecoder, type DecodeEvent} from './decoder.js'
import {CONTROL_PORT, MESSAGE_TYPES, type ControlMessage, type MessageType, type SynAckOptions} from './messages.js'
import {MsgpackReader} from './msgpack.js'

export interface ControlEndpoint {
  addr: string
  port: number
  /** Node name, when a `hello` sent by this endpoint on the connection told it. */
  node?: string
}

export type Direction = 'client-to-server' | 'server-to-client'

interface RowBase {
  /** ISO 8601 UTC with nanoseconds. */
  time: string
  tsSec: number
  tsNsec: number
  /** 1-based frame number in `file` of the packet that completed the frame. */
  frame: number
  file: string
  /** Capture interface id in `file`. */
  interface: number
  /** "client ip:port ↔ server ip:port". */
  connection: string
  direction: Direction
  sender: ControlEndpoint
  receiver: ControlEndpoint
  /** Stream offset of the frame's length prefix (0 = first byte after the SYN, or the first byte seen when the SYN was not captured). */
  streamOffset: number
  /** Bytes of the frame, prefix included (when known). */
  length?: number
  /** Other copies of this frame (other files / interfaces) merged into this row. */
  duplicates: number
}

/** Key fields of a message, per type (see keyFields()). */
export type MessageFields = Record<string, string | number | boolean | null | SynAckOptions | number[]>

export interface ControlMessageRow extends RowBase {
  kind: 'message'
  type: MessageType
  hid?: string
  /** The `node` key of the message (who says it sent it). */
  node: string
  /** The `at` key: sender's clock, µs since the epoch. */
  at: number
  fields: MessageFields
  /** The whole decoded message (pkts included): only with `keepMessages`. */
  msg?: ControlMessage
}

export interface ControlFramingRow extends RowBase {
  kind: 'error'
  type: 'control-framing'
  reason: FramingReason
  detail: string
  /** Decoding of this direction stopped here (until the framing is found again). */
  fatal: boolean
}

export type ControlRow = ControlMessageRow | ControlFramingRow

export interface ControlNote {
  file: string
  interface: number
  connection: string
  direction: Direction
  frame: number
  kind: 'no-syn' | 'resync' | 'capture-ended-in-frame' | 'snaplen' | 'overlap-mismatch' | 'before-start' | 'buffer-overflow'
  streamOffset: number
  detail: string
}

export interface ControlConnection {
  connection: string
  client: ControlEndpoint
  server: ControlEndpoint
  /** Views that saw it: "file#interface". */
  seenIn: string[]
  firstTime: string
  messages: number
  errors: number
  /** A SYN was captured (stream offsets count from the ISN). */
  syn: boolean
  /** How the connection ended in the first view: fin, rst, end-of-trace… per direction. */
  end: {clientToServer: StreamEndReason | null; serverToClient: StreamEndReason | null}
}

export interface ControlFileResult {
  file: string
  packets: number
  /** Control-port TCP packets. */
  controlPackets: number
  error?: {code: string; offset: number; message: string}
}

export interface ControlReport {
  port: number
  files: ControlFileResult[]
  connections: ControlConnection[]
  /** Sorted by time (then file, frame, stream offset). */
  rows: ControlRow[]
  notes: ControlNote[]
  summary: {
    messages: number
    byType: Partial<Record<MessageType, number>>
    errors: number
    connections: number
    /** Copies of frames merged because several views saw them. */
    duplicatesMerged: number
  }
  /** Files that could not be read to the end. */
  captureErrors: {file: string; code: string; offset: number; message: string}[]
}

export interface ExtractOptions {
  /** Control port (default 7070). */
  port?: number
  /** Verify checksums while decoding (default false: not needed here). */
  verifyChecksums?: boolean
  /** Attach each whole decoded message to its row (`msg`), e.g. for the `pkts` bytes. */
  keepMessages?: boolean
  /**
   * List the messages (default true). false: only the control-framing errors
   * are kept, for a caller that has the messages from elsewhere and must not
   * hold one row per message of a long trace; `rows`, the summary's message
   * counts, node names and the connections' message counts then leave the
   * messages out.
   */
  messageRows?: boolean
  /**
   * Delivered bytes kept per direction to compare retransmissions with (the
   * overlap-mismatch notes); default 64 KiB. 0: no such notes, and nothing
   * held per connection between its packets but the out-of-order ones.
   */
  historyBytes?: number
  /**
   * Every message decoded, before rows are deduplicated (check's control pass: its ControlCollector takes the
   * messages from here rather than reassembling and decoding the channel a second time). seq: sequence number
   * of the frame's first byte; direction: "sender ip:port > receiver ip:port"; frame and time: of the packet
   * that completed the frame.
   */
  onMessage?: (msg: ControlMessage, seq: number, length: number, direction: string, iface: number, frame: number,
    tsSec: number, tsNsec: number) => void
  /**
   * With onMessage and no message rows: a message's `pkts` may be views of the reassembled bytes rather than
   * copies, good only during the onMessage call (check's control pass, which keeps their fingerprints only).
   */
  borrowBins?: boolean
}

/** The key fields of each message type, as plain JSON values. */
export function keyFields(m: ControlMessage): MessageFields {
  switch (m.t) {
    case 'hello':
      return {addr: m.addr, mac: m.mac}
    case 'handoff-req': {
      const f: MessageFields = {
        client: `${fmtHostPort(m.cip, m.cport)}`, vip: `${fmtHostPort(m.vip, m.vport)}`,
        ciss: m.ciss, fiss: m.fiss,
      }
      if (m.fts !== undefined) f.fts = m.fts
      f.fopt = m.fopt
      f.url = m.url
      if (m.host !== undefined) f.host = m.host
      f.pkts = m.pkts.length
      f.pktLens = m.pkts.map((p) => p.length)
      return f
    }
    case 'handoff-ack': {
      const f: MessageFields = {biss: m.biss}
      if (m.bts !== undefined) f.bts = m.bts
      f.baddr = m.baddr
      f.bmac = m.bmac
      f.bopt = m.bopt
      return f
    }
    case 'handoff-nack':
      return {err: m.err}
    case 'terminate':
      return {reason: m.reason, cbytes: m.cbytes, sbytes: m.sbytes}
    case 'ping':
    case 'pong':
      return {n: m.n}
  }
}

function fmtHostPort(addr: string, port: number): string {
  return addr.includes(':') ? `[${addr}]:${port}` : `${addr}:${port}`
}

function dirIndex(d: Direction): 0 | 1 {
  return d === 'client-to-server' ? 0 : 1
}

/** Per direction of one connection view. */
interface DirState {
  decoder: FrameDecoder
  /** init: nothing seen yet; decoding: framing known; syncing: looking for a frame boundary (no SYN, or after a hole). */
  mode: 'init' | 'decoding' | 'syncing'
  /** Bytes not decoded while syncing, from skipFrom. */
  skipped: number
  skipFrom: number
  /** Syncing because framing was lost (a hole or a fatal framing error), not because the SYN was missed. */
  afterLoss: boolean
}

/**
 * Extracts the control messages of one or more capture files. Never throws a
 * CaptureError: damaged files are reported in `captureErrors` (after what was
 * read before the damage). Other errors (bugs, I/O on our side) propagate.
 */
export async function extractControlMessages(paths: string | string[], opts: ExtractOptions = {}): Promise<ControlReport> {
  const files = typeof paths === 'string' ? [paths] : paths
  const x = new ControlExtractor(opts)
  for (const path of files) {
    const dec = new PacketDecoder({verifyChecksums: opts.verifyChecksums ?? false})
    x.beginFile(path)
    try {
      await readCapture(path, joinSections({onPacket: (rec) => x.packet(rec, dec.decode(rec.linkType, rec.data, rec.capLen, rec.origLen))}))
    } catch (e) {
      if (!(e instanceof CaptureError)) throw e
      x.fileError(e)
    }
    x.endFile()
  }
  return x.finish()
}

/**
 * The extraction fed packet by packet, for a reader that goes through the
 * files itself (`handoff check` reads each file once for this and for its
 * own uses): beginFile, packet() for every packet of the file in order,
 * fileError() if it is damaged, endFile(); then finish().
 */
export class ControlExtractor {
  readonly port: number
  private readonly opts: ExtractOptions
  private readonly rows: ControlRow[] = []
  private readonly notes: ControlNote[] = []
  private readonly dedupe = new Map<string, ControlRow>()
  private readonly conns = new Map<string, ControlConnection>()
  /** Node names per connection key and endpoint ("addr|port"). */
  private readonly names = new Map<string, Map<string, string>>()
  private readonly fileResults: ControlFileResult[] = []
  private readonly captureErrors: ControlReport['captureErrors'] = []
  private duplicatesMerged = 0
  private readonly reader = new MsgpackReader()
  /** Display names of the files, in order. */
  private readonly files: string[] = []
  // The file being read (several at once when merged: select()).
  private cf: ExtractFile = newFile(-1, '')
  private readonly open = new Map<number, ExtractFile>()

  constructor(opts: ExtractOptions = {}) {
    this.opts = opts
    this.port = opts.port ?? CONTROL_PORT
    if (opts.borrowBins === true && (opts.messageRows !== false || opts.keepMessages === true)) {
      throw new Error('ControlExtractor: borrowBins is for a caller that keeps no message rows (internal error)')
    }
    this.decoderOpts = {borrowBins: opts.borrowBins === true}
  }

  /** What every frame decoder is made with. */
  private readonly decoderOpts: {borrowBins: boolean}

  beginFile(path: string): void {
    const f = this.cf = newFile(this.files.length, path === '-' ? '<stdin>' : path)
    this.open.set(f.index, f)
    this.files.push(f.file)
    this.fileResults.push(f.fr)
    f.table = new TcpConnectionTable({serverPort: this.port, open: (c) => this.openConnection(c),
      ...(this.opts.historyBytes !== undefined ? {historyBytes: this.opts.historyBytes} : {}),
      // The frame decoder copies what it keeps of a chunk (a partial frame, bin values): no copy of every
      // in-order chunk first (only without a history, which would keep them).
      borrowInOrder: true,
      // No message rows (check's framing pass over a long trace): closed connections are let go of.
      ...(this.opts.messageRows === false ? {forgetIdleAfterSec: 120} : {})})
  }

  /**
   * One packet of the current file. dec: the decoder that has just decoded
   * it, or null when the caller knows it is no control-port TCP packet (it is
   * only counted then).
   */
  packet(rec: PacketRecord, dec: PacketDecoder | null): void {
    const f = this.cf
    f.fr.packets++
    f.lastFrame = rec.index
    const port = this.port
    if (dec === null || dec.transport !== 'tcp' || (dec.srcPort !== port && dec.dstPort !== port)) return
    f.fr.controlPackets++
    f.tsSec = rec.tsSec
    f.tsNsec = rec.tsNsec
    f.curIface = rec.interfaceId
    if (dec.payloadTruncated && dec.payloadOffset >= 0) {
      const k = `${rec.interfaceId}#${dec.srcAddr()}|${dec.srcPort}`
      f.cut.set(k, (f.cut.get(k) ?? 0) + dec.payloadWireLen - dec.payloadLen)
    }
    f.table!.add(dec, rec.index, rec.tsSec, rec.tsNsec, String(rec.interfaceId))
  }

  /** Files read at once (merged by time): what follows is the fi-th file begun's (0-based). */
  select(fi: number): void {
    this.cf = this.open.get(fi)!
  }

  /** The current file is damaged: what was read before stays. */
  fileError(e: CaptureError): void {
    const f = this.cf
    f.fr.error = {code: e.code, offset: e.offset, message: e.message}
    this.captureErrors.push({file: f.file, ...f.fr.error})
  }

  endFile(): void {
    const f = this.cf
    f.table?.finish(f.lastFrame)
    f.table = null
    f.cut.clear()
    this.open.delete(f.index)
  }

  private openConnection(c: TcpConnection): [StreamHandlers, StreamHandlers] {
    const {notes, dedupe, conns, names, rows, reader, opts} = this
    // The current file's: its reassembly calls back only while one of its packets is read (or at its end).
    const f = this.cf
    const {file} = f
    const iface = f.curIface
    const connName = `${fmtHostPort(c.client.addr, c.client.port)} ↔ ${fmtHostPort(c.server.addr, c.server.port)}`
    let cc = conns.get(connName)
    const view = `${file}#${iface}`
    if (cc === undefined) {
      cc = {
        connection: connName, client: {...c.client}, server: {...c.server}, seenIn: [view],
        firstTime: formatIso(f.tsSec, f.tsNsec), messages: 0, errors: 0, syn: false,
        end: {clientToServer: null, serverToClient: null},
      }
      conns.set(connName, cc)
    } else if (!cc.seenIn.includes(view)) cc.seenIn.push(view)
    const isFirstView = cc.seenIn[0] === view
    const connInfo = cc
    const make = (direction: Direction): StreamHandlers => {
      const fromClient = direction === 'client-to-server'
      const sender = fromClient ? c.client : c.server
      const receiver = fromClient ? c.server : c.client
      const stream = () => c.streams![dirIndex(direction)]
      const st: DirState = {decoder: new FrameDecoder(this.decoderOpts), mode: 'init', skipped: 0, skipFrom: -1, afterLoss: false}
      const dkey = `${fmtHostPort(sender.addr, sender.port)}>${fmtHostPort(receiver.addr, receiver.port)}`

      const note = (kind: ControlNote['kind'], frame: number, streamOffset: number, detail: string) => {
        notes.push({file, interface: iface, connection: connName, direction, frame, kind, streamOffset, detail})
      }

      const plainDirection = `${sender.addr}:${sender.port} > ${receiver.addr}:${receiver.port}`
      const addRow = (ev: DecodeEvent, frame: number) => {
        if (ev.kind === 'message' && opts.onMessage !== undefined) {
          opts.onMessage(ev.msg, stream().seqOf(ev.offset), ev.length, plainDirection, iface, frame, f.tsSec, f.tsNsec)
        }
        if (ev.kind === 'message' && opts.messageRows === false) return
        const seq = stream().seqOf(ev.offset)
        const key = `${dkey}|${seq}|${ev.length ?? -1}|${ev.kind === 'message' ? ev.msg.t : ev.reason}`
        const prior = dedupe.get(key)
        if (prior !== undefined && !(prior.kind === 'error' && f.index < this.files.indexOf(prior.file))) {
          prior.duplicates++
          this.duplicatesMerged++
          return
        }
        const base: RowBase = {
          time: formatIso(f.tsSec, f.tsNsec), tsSec: f.tsSec, tsNsec: f.tsNsec, frame, file, interface: iface,
          connection: connName, direction,
          sender: {addr: sender.addr, port: sender.port}, receiver: {addr: receiver.addr, port: receiver.port},
          streamOffset: ev.offset, duplicates: 0,
        }
        if (ev.length !== undefined) base.length = ev.length
        let row: ControlRow
        if (ev.kind === 'message') {
          const m = ev.msg
          row = {...base, kind: 'message', type: m.t, node: m.node, at: m.at, fields: keyFields(m)}
          if (opts.keepMessages) row.msg = m
          if ('hid' in m) row.hid = m.hid
          if (m.t === 'hello') {
            let nm = names.get(connName)
            if (nm === undefined) names.set(connName, (nm = new Map()))
            nm.set(`${sender.addr}|${sender.port}`, m.node)
          }
          connInfo.messages++
        } else {
          row = {...base, kind: 'error', type: 'control-framing', reason: ev.reason, detail: ev.detail, fatal: ev.fatal}
          if (prior !== undefined) {
            // Files read merged by time: a copy from a file earlier in argument order stands for the frame, as
            // it does when the files are read one after the other (only framing errors are checked: messages of
            // `handoff messages` are never read merged).
            Object.assign(prior, row, {duplicates: prior.duplicates + 1})
            this.duplicatesMerged++
            return
          }
          connInfo.errors++
        }
        dedupe.set(key, row)
        rows.push(row)
      }

      const handle = (events: readonly DecodeEvent[], frame: number) => {
        for (const ev of events) addRow(ev, frame)
      }

      const push = (chunk: Uint8Array, off: number, frame: number) => {
        handle(st.decoder.push(chunk, off), frame)
        if (st.decoder.isStopped) {
          // A fatal framing error: look for the framing again from the next segment on.
          st.mode = 'syncing'
          st.afterLoss = true
          st.skipFrom = -1
          st.skipped = 0
        }
      }

      return {
        onData: (chunk, off, frame) => {
          if (st.mode === 'init') st.mode = stream().origin === 'syn' ? 'decoding' : 'syncing'
          if (st.mode === 'syncing') {
            // Find the framing: a whole valid frame at the start of this chunk.
            if (!frameStartsAt(chunk, reader)) {
              if (st.skipFrom < 0) st.skipFrom = off
              st.skipped += chunk.length
              return
            }
            if (st.skipped > 0 || st.afterLoss) {
              note('resync', frame, off, `framing found again at stream offset ${off}` +
                (st.skipped > 0 ? ` after ${st.skipped} byte(s) not decoded from offset ${st.skipFrom}` : ''))
            }
            st.mode = 'decoding'
            st.skipped = 0
            st.skipFrom = -1
            st.afterLoss = false
            st.decoder = new FrameDecoder(this.decoderOpts)
          }
          push(chunk, off, frame)
        },
        onGap: (off, length, frame) => {
          if (st.mode === 'init') st.mode = stream().origin === 'syn' ? 'decoding' : 'syncing'
          if (st.mode === 'syncing') {
            if (st.skipFrom < 0) st.skipFrom = off
            st.skipped += length
            return
          }
          const ck = `${iface}#${sender.addr}|${sender.port}`
          const cut = f.cut.get(ck) ?? 0
          if (cut >= length) {
            // Bytes the capture saw on the wire but did not keep (snap length): not a framing error.
            f.cut.set(ck, cut - length)
            note('snaplen', frame, off, `${length} byte(s) at stream offset ${off} not captured (snap length): frames in them not decoded`)
          } else handle(st.decoder.gap(length), frame)
          st.mode = 'syncing'
          st.afterLoss = true
          st.skipFrom = -1
          st.skipped = 0
        },
        onEnd: (reason, frame) => {
          if (isFirstView) connInfo.end[fromClient ? 'clientToServer' : 'serverToClient'] = reason
          if (stream().origin === 'syn') connInfo.syn = true
          if (st.mode === 'decoding') {
            for (const ev of st.decoder.end()) {
              if (ev.kind === 'error' && ev.reason === 'truncated-frame' && (reason === 'end-of-trace' || reason === 'superseded')) {
                note('capture-ended-in-frame', frame, ev.offset, `the ${reason === 'end-of-trace' ? 'capture ended' : 'connection was superseded'} inside the frame at stream offset ${ev.offset}: ${ev.detail}`)
              } else addRow(ev, frame)
            }
          } else if (st.mode === 'syncing' && st.skipped > 0) {
            note('resync', frame, st.skipFrom, `no frame boundary found from stream offset ${st.skipFrom} on: ${st.skipped} byte(s) not decoded`)
          }
        },
        onEvent: (ev) => {
          switch (ev.kind) {
            case 'no-syn':
              note('no-syn', ev.frame, 0, `SYN not captured: stream offsets count from sequence number ${ev.seq}; frames are looked for at segment boundaries`)
              break
            case 'overlap-mismatch':
              note('overlap-mismatch', ev.frame, ev.streamOffset, `${ev.length} byte(s) at stream offset ${ev.streamOffset} retransmitted with different content (frame ${ev.frame}; the first copy, frame ${ev.firstFrame}, was kept)`)
              break
            case 'before-start':
              note('before-start', ev.frame, 0, `${ev.length} byte(s) before the start of the stream ignored`)
              break
            case 'buffer-overflow':
              note('buffer-overflow', ev.frame, ev.streamOffset, `out-of-order buffer full (${ev.buffered} bytes): ${ev.length} missing byte(s) at offset ${ev.streamOffset} declared lost`)
              break
            default:
              break
          }
        },
      }
    }
    return [make('client-to-server'), make('server-to-client')]
  }

  finish(): ControlReport {
    // Node names learnt from hellos, on every row of the connection.
    for (const r of this.rows) {
      const nm = this.names.get(r.connection)
      if (nm === undefined) continue
      const s = nm.get(`${r.sender.addr}|${r.sender.port}`)
      const d = nm.get(`${r.receiver.addr}|${r.receiver.port}`)
      if (s !== undefined) r.sender.node = s
      if (d !== undefined) r.receiver.node = d
    }
    for (const c of this.conns.values()) {
      const nm = this.names.get(c.connection)
      if (nm === undefined) continue
      const s = nm.get(`${c.client.addr}|${c.client.port}`)
      const d = nm.get(`${c.server.addr}|${c.server.port}`)
      if (s !== undefined) c.client.node = s
      if (d !== undefined) c.server.node = d
    }

    const fileIndex = new Map(this.files.map((f, i) => [f, i]))
    // File by file (stable: each file's own order), as when the files are read one after the other.
    this.notes.sort((a, b) => fileIndex.get(a.file)! - fileIndex.get(b.file)!)
    this.captureErrors.sort((a, b) => fileIndex.get(a.file)! - fileIndex.get(b.file)!)
    this.rows.sort((a, b) => a.tsSec - b.tsSec || a.tsNsec - b.tsNsec || fileIndex.get(a.file)! - fileIndex.get(b.file)!
      || a.frame - b.frame || a.streamOffset - b.streamOffset)

    const counts = new Map<MessageType, number>()
    let messages = 0
    let errors = 0
    for (const r of this.rows) {
      if (r.kind === 'message') {
        messages++
        counts.set(r.type, (counts.get(r.type) ?? 0) + 1)
      } else errors++
    }
    // In the spec's order of types.
    const byType: Partial<Record<MessageType, number>> = {}
    for (const t of MESSAGE_TYPES) if (counts.has(t)) byType[t] = counts.get(t)!
    return {
      port: this.port,
      files: this.fileResults,
      connections: [...this.conns.values()],
      rows: this.rows,
      notes: this.notes,
      summary: {messages, byType, errors, connections: this.conns.size, duplicatesMerged: this.duplicatesMerged},
      captureErrors: this.captureErrors,
    }
  }
}

/** What the extractor keeps of the file being read. */
interface ExtractFile {
  /** Its place among the files begun (0-based). */
  index: number
  file: string
  fr: ControlFileResult
  table: TcpConnectionTable | null
  tsSec: number
  tsNsec: number
  curIface: number
  lastFrame: number
  // Payload bytes the capture cut off (snap length) per sender ("iface#addr|port"), not yet
  // accounted for by a hole: a hole they explain is a capture matter, not a malformed frame.
  cut: Map<string, number>
}

function newFile(index: number, file: string): ExtractFile {
  return {index, file, fr: {file, packets: 0, controlPackets: 0}, table: null, tsSec: 0, tsNsec: 0, curIface: 0, lastFrame: 0, cut: new Map()}
}

/** True when `chunk` starts with a whole frame whose body is a valid §3 message. */
function frameStartsAt(chunk: Uint8Array, reader: MsgpackReader): boolean {
  if (chunk.length < LENGTH_PREFIX + 1) return false
  const len = chunk[0]! * 0x100_0000 + ((chunk[1]! << 16) | (chunk[2]! << 8) | chunk[3]!)
  if (len < 1 || len > MAX_FRAME_LENGTH || LENGTH_PREFIX + len > chunk.length) return false
  return decodeBody(chunk, LENGTH_PREFIX, LENGTH_PREFIX + len, reader).ok
}
