// The `inspect` pipeline for one file: read → decode → (summary | packet lines).
// Streaming: the reader hands each record to the decoder and on; nothing per
// packet is kept.
import {readCapture} from '../capture/read.js'
import {CaptureError, type CaptureInterface} from '../capture/types.js'
import {PacketDecoder} from '../wire/decode.js'
import {CaptureSummary, type InspectReport} from './summary.js'
import {packetJson, packetLine} from './packet-line.js'

export interface LineSink {
  line(s: string): void
}

export interface InspectOptions {
  /** summary: gather the report only; lines / ndjson: also one line per packet to `out`. */
  mode: 'summary' | 'lines' | 'ndjson'
  verifyChecksums: boolean
  out?: LineSink
  /** Prefix packet lines with the file name (several files inspected). */
  multipleFiles?: boolean
}

export interface InspectResult {
  report: InspectReport
}

export async function inspectFile(path: string, opts: InspectOptions): Promise<InspectResult> {
  const name = path === '-' ? '<stdin>' : path
  const summary = new CaptureSummary(name)
  const dec = new PacketDecoder({verifyChecksums: opts.verifyChecksums})
  const ifaceNames: string[] = []
  const digits: (6 | 9)[] = []
  const out = opts.out
  const prefix = opts.multipleFiles ? `${name}:` : ''
  const onInterface = (i: CaptureInterface) => {
    summary.onInterface(i)
    ifaceNames[i.id] = i.name ?? `if${i.id}`
    digits[i.id] = i.tsUnitsPerSec > 1e6 ? 9 : 6
  }
  let error: InspectReport['error']
  try {
    await readCapture(path, {
      onInfo: (info) => summary.onInfo(info),
      onInterface,
      onWarning: (w) => summary.onWarning(w),
      onPacket: (rec) => {
        dec.decode(rec.linkType, rec.buffer, rec.capLen, rec.origLen, rec.dataOffset)
        summary.onPacket(rec, dec)
        if (out === undefined || opts.mode === 'summary') return
        if (opts.mode === 'lines') out.line(prefix + packetLine(rec, dec, ifaceNames[rec.interfaceId] ?? `if${rec.interfaceId}`, digits[rec.interfaceId] ?? 6))
        else {
          const j = packetJson(rec, dec)
          out.line(JSON.stringify(opts.multipleFiles ? {file: name, ...j} : j))
        }
      },
    })
  } catch (e) {
    if (!(e instanceof CaptureError)) throw e
    error = {code: e.code, offset: e.offset, message: e.message}
  }
  return {report: summary.report(error)}
}
