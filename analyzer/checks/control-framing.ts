// control-framing (error): a control-channel frame is malformed (bad length,
// not MessagePack, not a map, a required key missing or of the wrong type).
// The frames are cut and validated by analyzer/control (channels.ts, the
// same code as `handoff messages`); a capture that ends inside a frame is
// not a framing error.
import type {ControlReport} from '../control/channels.js'
import type {ViolationTarget} from './types.js'

export const id = 'control-framing' as const

export function check(report: Pick<ControlReport, 'rows'>, sink: ViolationTarget): void {
  for (const r of report.rows) {
    if (r.kind !== 'error') continue
    sink.add({id, connection: r.connection, file: r.file, frame: r.frame, view: `${r.file}#${r.interface}`, vantage: 'control', time: r.time,
      message: `malformed control frame at stream offset ${r.streamOffset} (${r.direction}): ${r.reason}: ${r.detail}`,
      field: 'frame', expected: 'valid §3 frame', seen: r.reason})
  }
}
