// `handoff check`'s first pass: the control channel of every file, read once
// and decoded once. The framing extractor of `handoff messages`
// (control/channels.ts, message rows left out) reassembles and decodes it,
// keeps the control-framing errors, and hands every message it decodes to
// the collector (control.ts), which deduplicates them and keeps the
// handoffs' messages. Only frames that may be TCP
// on the control port are decoded: the rest is ruled out on its raw bytes
// (wire/port-filter.ts), so this pass costs little more than reading the file.
//
// Why a pass of its own rather than decoding the control channel while the
// segments stream by: a segment is tied to its handoff by the handoff-req
// (client endpoint and ISN), and the client's segments come before it — the
// FE sends the request once it has read the client's request head, which may
// be any time after the handshake. Holding every segment of every connection
// until its request shows up (or never does) would cost memory with the
// traffic, handed off or not; knowing the handoffs up front lets the segment
// pass drop what belongs to none of them at once.
//
// Several files are read at once, merged by capture time (capture/merge.ts),
// as the segment pass reads them: the copies of a frame at several views
// then come close together, so the deduplication needs only a bounded
// window, and the spool comes out in time order, as the segment pass reads
// it. That pass also measures how far apart the files' clocks look (the
// copies of one control frame in two files; the client SYNs the files share,
// syn-clocks.ts): see clockSpreadSec.
//
// What this pass keeps is written to a spool file (control-spool.ts) that
// the segment pass reads as it goes (handoff-feed.ts), and it is kept lean
// all the same (it may all be read at once: --infer, clocks too far
// apart): a handoff-req without its `pkts`
// (the stored client segments, the bulk of it), only their fingerprints
// (checks/replay-print.ts). request-replay compares those with the client's
// segments; for the few requests whose fingerprints differ, readRequestPkts
// decodes the `pkts` again after the segment pass, to report what differs.
import {readCapture} from '../capture/read.js'
import {readMerged} from '../capture/merge.js'
import type {CaptureHandlers} from '../capture/types.js'
import {joinSections} from '../capture/join-sections.js'
import {reassembleIp} from '../flows/ip-defrag.js'
import {CaptureError} from '../capture/types.js'
import {ControlExtractor, type ControlRow} from '../control/channels.js'
import type {ControlMessage} from '../control/messages.js'
import {mayBeTcpPort} from '../wire/port-filter.js'
import {TCP_FLAG} from '../wire/tcp.js'
import {SynClocks} from './syn-clocks.js'
import {PacketDecoder} from '../wire/decode.js'
import {pktsPrint} from '../checks/replay-print.js'
import type {ControlSpool} from './control-spool.js'
import {byTime, ControlCollector, type ControlCollection, type FramedMessage} from './control.js'

/** The `pkts` of every handoff-req this pass keeps: none (read only; see the header). */
export const PKTS_NOT_KEPT: Uint8Array[] = Object.freeze([]) as unknown as Uint8Array[]

export interface ControlPass {
  /** The handoffs' control messages (req, ack, nack, terminate) in time order, the count of all, and the files that could not be read to the end. */
  control: ControlCollection
  /** control-framing errors (rows of kind 'error', in `handoff messages` order). */
  framing: {rows: ControlRow[]; captureErrors: {file: string; message: string}[]}
  /** Control connections ("a ↔ b", as in `handoff messages`) with bytes the capture cut off (snap length): messages
   *  may be missing from them, so a reply or request not seen on them is not judged missing. */
  uncaptured: {connection: string}[]
  /**
   * Several files read merged: how far apart their clocks look, in seconds — the largest of the time between
   * the copies of one control frame in two files and the clock offsets the files' shared client SYNs show
   * (syn-clocks.ts: the first packets' spread between files that share none) (0 for one file; null when read
   * one after the other).
   */
  clockSpreadSec: number | null
  /**
   * Several files read merged: each file's clock offset from the first file's (seconds to subtract from its
   * capture times), from the client SYNs and requests they share (syn-clocks.ts), and how far those disagree
   * with the offsets; null when some file shares nothing with the others (or one file, or read one after the
   * other). check reads files whose clocks are too far apart (clockSpreadSec) merged by the corrected times
   * when the residual is small. With clockOffsetsSec given, measured on the corrected times.
   */
  clockOffsets: {offsets: number[]; residualSec: number} | null
  /** The files the kept messages come from, in order (a message seen in several files is kept from the first). */
  messageFiles: number[]
}

/**
 * spool: write the handoffs' messages there (check: handoff-feed.ts reads them back as the segment pass goes)
 * rather than returning them in `control.messages`. Frames seen are then remembered for deduplication over a
 * window (ControlCollector's dedupeWindow), when there is one file or the files are read merged.
 * merged (default true): several files read at once, merged by time; false: one after the other, as before
 * the merge (check's fallback when the files' clocks are too far apart).
 */
export async function readControlPass(paths: readonly string[], port: number, opts: {spool?: ControlSpool; merged?: boolean
  /** Each message that is not a handoff's (hello, ping / pong), deduplicated, as it is decoded (not in time order). */
  onOther?: (m: FramedMessage) => void
  /**
   * Merged by corrected times: seconds to subtract from each file's capture times (a previous pass's
   * clockOffsets) — for merging, holding, and measuring the clocks (clockSpreadSec is then what is left).
   */
  clockOffsetsSec?: readonly number[]} = {}): Promise<ControlPass> {
  const merged = paths.length > 1 && opts.merged !== false
  const offsets = merged ? opts.clockOffsetsSec : undefined
  const onClock = (t: number, fi: number) => (offsets === undefined ? t : t - (offsets[fi] ?? 0))
  // Only the handoffs' messages are kept, requests without their `pkts`: the others are counted.
  const messages: FramedMessage[] = []
  const spool = opts.spool
  // Merged: the clocks' offsets, from the client SYNs and handoff-reqs the files share (syn-clocks.ts).
  const clocks = merged ? new SynClocks(paths.length) : null
  // The files the kept messages come from.
  const messageFiles = new Set<number>()
  const collector = new ControlCollector(port, {handoffOnly: true, ...(opts.onOther ? {onOther: opts.onOther} : {}),
    onMessage: (m) => {
      messageFiles.add(m.fileIndex)
      if (clocks !== null && m.msg.t === 'handoff-req') clocks.request(m.fileIndex, m.msg.cport, m.msg.ciss, onClock(m.t, m.fileIndex))
      if (spool) spool.write(m)
      else messages.push(m)
    },
    ...(spool && (paths.length === 1 || merged) ? {dedupeWindow: DEDUPE_WINDOW} : {}),
    ...(merged ? {holdSec: HOLD_SEC} : {}),
    ...(offsets !== undefined ? {clockOffsetsSec: offsets} : {})})
  // Framing errors only: no message rows, no retransmission notes (so no history of the streams). The messages
  // it decodes on the way go to the collector, which then reassembles nothing itself: one decode of the channel.
  // A request is made lean here, as it is decoded (see leanRequest): its `pkts` are views of the bytes read
  // (borrowBins), good only until this call returns.
  const extractor = new ControlExtractor({port, messageRows: false, historyBytes: 0, borrowBins: true,
    onMessage: (msg, seq, length, direction, iface, frame, tsSec, tsNsec) =>
      collector.message(msg, seq, length, direction, iface, frame, tsSec, tsNsec, leanRequest(msg))})
  const dec = new PacketDecoder({verifyChecksums: false})
  // Each file's handlers; merged, the collector and extractor are told whose packet comes (select).
  const handlers = (fi: number): CaptureHandlers => joinSections(reassembleIp({
    onPacket: (rec) => {
      if (merged) {
        collector.select(fi)
        extractor.select(fi)
      }
      // The record's buffer and offset, not rec.data: no view made per packet.
      let d = mayBeTcpPort(rec.linkType, rec.buffer, rec.dataOffset, rec.capLen, port)
        ? dec.decode(rec.linkType, rec.buffer, rec.capLen, rec.origLen, rec.dataOffset) : null
      // Merged: the start of each file is looked at for client SYNs, which tell how far apart the clocks are.
      if (clocks !== null && rec.hasTimestamp) {
        const t = onClock(rec.tsSec + rec.tsNsec / 1e9, fi)
        if (clocks.wants(fi, t)) {
          d ??= dec.decode(rec.linkType, rec.buffer, rec.capLen, rec.origLen, rec.dataOffset)
          if (d.transport === 'tcp' && d.l4HeaderLen > 0 && (d.tcpFlags & (TCP_FLAG.SYN | TCP_FLAG.ACK)) === TCP_FLAG.SYN) {
            clocks.syn(fi, d.srcPort, d.seq, t)
          }
        }
      }
      collector.observe(rec)
      extractor.packet(rec, d)
    },
  }))
  let clockSpreadSec: number | null = null
  if (merged) {
    for (let fi = 0; fi < paths.length; fi++) {
      collector.beginFile(fi, paths[fi]!)
      extractor.beginFile(paths[fi]!)
    }
    await readMerged(paths.map((path, fi) => ({path, handlers: handlers(fi), clockOffsetSec: offsets?.[fi] ?? 0})), {onFileEnd: (fi, e) => {
      collector.select(fi)
      extractor.select(fi)
      if (e !== null) {
        extractor.fileError(e)
        collector.fileError(e)
      }
      extractor.endFile()
      collector.endFile()
    }})
  } else {
    for (let fi = 0; fi < paths.length; fi++) {
      const path = paths[fi]!
      collector.beginFile(fi, path)
      extractor.beginFile(path)
      try {
        await readCapture(path, handlers(fi))
      } catch (e) {
        if (!(e instanceof CaptureError)) throw e
        extractor.fileError(e)
        collector.fileError(e)
      }
      extractor.endFile()
      collector.endFile()
    }
    if (paths.length === 1) clockSpreadSec = 0
  }
  const report = extractor.finish()
  const uncaptured = new Set<string>()
  for (const n of report.notes) if (n.kind === 'snaplen') uncaptured.add(n.connection)
  const {count, captureErrors} = collector.finish()
  // After finish(): the messages held back (ControlCollector's holdSec) have all been passed on by then.
  let clockOffsets: ControlPass['clockOffsets'] = null
  if (clocks !== null) {
    clockSpreadSec = Math.max(collector.copySkewSec, clocks.spreadSec())
    clockOffsets = clocks.offsetsSec(0)
  }
  return {control: {messages: messages.sort(byTime), count, captureErrors},
    framing: {rows: report.rows, captureErrors: report.captureErrors.map((e) => ({file: e.file, message: e.message}))},
    uncaptured: [...uncaptured].map((connection) => ({connection})), clockSpreadSec, clockOffsets,
    messageFiles: [...messageFiles].sort((a, b) => a - b)}
}

/**
 * Merged files: how long a new message waits for a copy from a file earlier in argument order (capture
 * seconds). Copies at several views are microseconds to milliseconds apart; clocks further apart than
 * check's bound (MAX_CLOCK_SPREAD_SEC) make check read the files one after the other instead.
 */
const HOLD_SEC = 10

/** Frames per direction of a control connection remembered for deduplication (two generations of this many). */
const DEDUPE_WINDOW = 8192

/**
 * A handoff-req's `pkts` taken out (their fingerprints returned instead; undefined for any other message). In place,
 * as the message is decoded: the `pkts` are views of the bytes read then (the extractor's borrowBins), never
 * copied; the extractor keeps no rows of messages here (messageRows false), and the collector frames the message
 * with the fingerprints (FramedMessage's pktsPrint) or drops it (a copy seen before). Keys stay in their order.
 */
function leanRequest(msg: ControlMessage): number[] | undefined {
  if (msg.t !== 'handoff-req') return undefined
  const print = pktsPrint(msg.pkts)
  msg.pkts = PKTS_NOT_KEPT
  return print
}

/**
 * The `pkts` of some of the requests the control pass kept (each known by
 * its file index, the frame that completed it and its hid), decoded again:
 * the same files through the same collector give the same messages. Called
 * with the few requests whose fingerprints did not match (request-replay).
 */
export async function readRequestPkts(paths: readonly string[], port: number,
  wanted: readonly {fileIndex: number; frame: number; hid: string}[]): Promise<Map<string, Uint8Array[]>> {
  const key = (fileIndex: number, frame: number, hid: string) => `${fileIndex}|${frame}|${hid}`
  const want = new Set(wanted.map((w) => key(w.fileIndex, w.frame, w.hid)))
  const found = new Map<string, Uint8Array[]>()
  const collector = new ControlCollector(port, {handoffOnly: true, onMessage: (m) => {
    if (m.msg.t !== 'handoff-req') return
    const k = key(m.fileIndex, m.frame, m.msg.hid)
    if (want.has(k) && !found.has(k)) found.set(k, m.msg.pkts)
  }})
  const dec = new PacketDecoder({verifyChecksums: false})
  for (let fi = 0; fi < paths.length && found.size < want.size; fi++) {
    collector.beginFile(fi, paths[fi]!)
    try {
      await readCapture(paths[fi]!, {
        onPacket: (rec) => {
          const d = mayBeTcpPort(rec.linkType, rec.buffer, rec.dataOffset, rec.capLen, port)
            ? dec.decode(rec.linkType, rec.buffer, rec.capLen, rec.origLen, rec.dataOffset) : null
          collector.packet(rec, d)
        },
      })
    } catch (e) {
      if (!(e instanceof CaptureError)) throw e
    }
    collector.endFile()
  }
  return new Map(wanted.map((w) => {
    const pkts = found.get(key(w.fileIndex, w.frame, w.hid))
    if (pkts === undefined) throw new Error(`internal error: the handoff-req of ${w.hid} was not decoded again`)
    return [w.hid, pkts]
  }))
}
