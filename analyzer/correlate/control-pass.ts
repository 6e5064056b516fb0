// `handoff check`'s first pass: the control channel of every file, read once.
// Two consumers share it: the control messages, whole (control.ts), and the
// control-framing errors as `handoff messages` reports them
// (control/channels.ts, message rows left out). Only frames that may be TCP
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
// What this pass keeps lives through the whole segment pass, for every
// handoff of the trace, so it is kept lean: a handoff-req without its `pkts`
// (the stored client segments, the bulk of it). The segment pass decodes the
// control channel again as it streams by and takes the `pkts` of each
// handoff's request then, to be let go when the handoff is judged
// (assemble.ts, RequestPkts): so they are held for the connections active at
// a time, not for the whole trace.
import {readCapture} from '../capture/read.js'
import {CaptureError} from '../capture/types.js'
import {ControlExtractor, type ControlRow} from '../control/channels.js'
import {mayBeTcpPort} from '../wire/port-filter.js'
import {PacketDecoder} from '../wire/decode.js'
import {byTime, ControlCollector, type ControlCollection, type FramedMessage} from './control.js'

/** The `pkts` of every handoff-req this pass keeps: none (read only; see the header). */
export const PKTS_NOT_KEPT: Uint8Array[] = Object.freeze([]) as unknown as Uint8Array[]

export interface ControlPass {
  /** The handoffs' control messages (req, ack, nack, terminate) in time order, the count of all, and the files that could not be read to the end. */
  control: ControlCollection
  /** control-framing errors (rows of kind 'error', in `handoff messages` order). */
  framing: {rows: ControlRow[]; captureErrors: {file: string; message: string}[]}
}

export async function readControlPass(paths: readonly string[], port: number): Promise<ControlPass> {
  // Only the handoffs' messages are held (through the whole segment pass), requests without their `pkts`:
  // the others are counted.
  const messages: FramedMessage[] = []
  const lean = new LeanMessages()
  const collector = new ControlCollector(port, {handoffOnly: true, onMessage: (m) => messages.push(lean.of(m))})
  // Framing errors only: no message rows, no retransmission notes (so no history of the streams).
  const extractor = new ControlExtractor({port, messageRows: false, historyBytes: 0})
  const dec = new PacketDecoder({verifyChecksums: false})
  for (let fi = 0; fi < paths.length; fi++) {
    const path = paths[fi]!
    collector.beginFile(fi, path)
    extractor.beginFile(path)
    try {
      await readCapture(path, {
        onPacket: (rec) => {
          // The record's buffer and offset, not rec.data: no view made per packet.
          const d = mayBeTcpPort(rec.linkType, rec.buffer, rec.dataOffset, rec.capLen, port)
            ? dec.decode(rec.linkType, rec.buffer, rec.capLen, rec.origLen, rec.dataOffset) : null
          extractor.packet(rec, d)
          collector.packet(rec, d)
        },
      })
    } catch (e) {
      if (!(e instanceof CaptureError)) throw e
      extractor.fileError(e)
      collector.fileError(e)
    }
    extractor.endFile()
    collector.endFile()
  }
  const report = extractor.finish()
  const {count, captureErrors} = collector.finish()
  return {control: {messages: messages.sort(byTime), count, captureErrors},
    framing: {rows: report.rows, captureErrors: report.captureErrors.map((e) => ({file: e.file, message: e.message}))}}
}

/**
 * A message as the check keeps it: a fresh object (the decoder's map is
 * built key by key), a request without its `pkts`, and the short strings
 * that repeat from message to message (node names, URLs, hids of the replies,
 * reasons, addresses) shared rather than one copy per message.
 */
class LeanMessages {
  private readonly strings = new Map<string, string>()

  of(m: FramedMessage): FramedMessage {
    const msg = {...m.msg} as Record<string, unknown>
    for (const k in msg) {
      const v = msg[k]
      if (typeof v === 'string' && v.length <= 64) msg[k] = this.intern(v)
    }
    if (msg['t'] === 'handoff-req') msg['pkts'] = PKTS_NOT_KEPT
    return {msg: msg as unknown as FramedMessage['msg'], file: m.file, fileIndex: m.fileIndex, iface: m.iface, frame: m.frame,
      tsSec: m.tsSec, tsNsec: m.tsNsec, t: m.t, direction: m.direction}
  }

  private intern(v: string): string {
    const s = this.strings.get(v)
    if (s !== undefined) return s
    this.strings.set(v, v)
    return v
  }
}
