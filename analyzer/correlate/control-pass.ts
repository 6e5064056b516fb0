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
import {readCapture} from '../capture/read.js'
import {joinSections} from '../capture/join-sections.js'
import {reassembleIpv4} from '../flows/ipv4-defrag.js'
import {CaptureError} from '../capture/types.js'
import {ControlExtractor, type ControlRow} from '../control/channels.js'
import {mayBeTcpPort} from '../wire/port-filter.js'
import {PacketDecoder} from '../wire/decode.js'
import {ControlCollector, type ControlCollection} from './control.js'

export interface ControlPass {
  /** The handoffs' control messages (req, ack, nack, terminate) in time order, the count of all, and the files that could not be read to the end. */
  control: ControlCollection
  /** control-framing errors (rows of kind 'error', in `handoff messages` order). */
  framing: {rows: ControlRow[]; captureErrors: {file: string; message: string}[]}
  /** Control connections ("a ↔ b", as in `handoff messages`) with bytes the capture cut off (snap length): messages
   *  may be missing from them, so a reply or request not seen on them is not judged missing. */
  uncaptured: {connection: string}[]
}

export async function readControlPass(paths: readonly string[], port: number): Promise<ControlPass> {
  // Only the handoffs' messages are held (through the whole segment pass): the others are counted.
  const collector = new ControlCollector(port, {handoffOnly: true})
  // Framing errors only: no message rows, no retransmission notes (so no history of the streams).
  const extractor = new ControlExtractor({port, messageRows: false, historyBytes: 0})
  const dec = new PacketDecoder({verifyChecksums: false})
  for (let fi = 0; fi < paths.length; fi++) {
    const path = paths[fi]!
    collector.beginFile(fi, path)
    extractor.beginFile(path)
    try {
      await readCapture(path, joinSections(reassembleIpv4({
        onPacket: (rec) => {
          // The record's buffer and offset, not rec.data: no view made per packet.
          const d = mayBeTcpPort(rec.linkType, rec.buffer, rec.dataOffset, rec.capLen, port)
            ? dec.decode(rec.linkType, rec.buffer, rec.capLen, rec.origLen, rec.dataOffset) : null
          extractor.packet(rec, d)
          collector.packet(rec, d)
        },
      })))
    } catch (e) {
      if (!(e instanceof CaptureError)) throw e
      extractor.fileError(e)
      collector.fileError(e)
    }
    extractor.endFile()
    collector.endFile()
  }
  const report = extractor.finish()
  const uncaptured = new Set<string>()
  for (const n of report.notes) if (n.kind === 'snaplen') uncaptured.add(n.connection)
  return {control: collector.finish(),
    framing: {rows: report.rows, captureErrors: report.captureErrors.map((e) => ({file: e.file, message: e.message}))},
    uncaptured: [...uncaptured].map((connection) => ({connection}))}
}
