// The `inspect` pipeline for one file: read → decode → (summary | packet lines).
// Streaming: the reader hands each record to the decoder and on; nothing per
// packet is kept.
import {closeSync, openSync, readSync} from 'node:fs'
import {readCapture, readCaptureSync} from '../capture/read.js'
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

function isGzipFile(path: string): boolean {
  let fd = -1
  try {
    fd = openSync(path, 'r')
    const head = new Uint8Array(2)
    return readSync(fd, head, 0, 2, 0) === 2 && head[0] === 0x1f && head[1] === 0x8b
  } catch {
    return false // let the reader report why the file cannot be opened
  } finally {
    if (fd >= 0) closeSync(fd)
  }
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
  // A plain file is read synchronously: several times faster than async
  // reads for a one-pass CLI. Standard input and gzip stream asynchronously
  // (readCaptureSync would inflate a .gz in one piece).
  const read = path !== '-' && !isGzipFile(path) ? readCaptureSync : readCapture
  try {
    await read(path, {
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
