// handoff-orphan (error): a handoff-req with no handoff-ack / nack, or an
// ack, nack or terminate with no request (matched by hid over all traces).
import {formatIso} from '../inspect/timestamp.js'
import type {FramedMessage} from '../correlate/control.js'
import {connectionLabel, type Handoff, type Orphan} from '../correlate/assemble.js'
import type {ViolationSink} from './types.js'

export const id = 'handoff-orphan' as const

function where(m: FramedMessage): {file: string; frame: number; time: string} {
  return {file: m.file, frame: m.frame, time: formatIso(m.tsSec, m.tsNsec)}
}

export function check(handoffs: readonly Handoff[], orphans: readonly Orphan[], sink: ViolationSink): void {
  for (const h of handoffs) {
    if (h.req && !h.ack && !h.nack) {
      sink.add({id, hid: h.hid, connection: connectionLabel(h), ...where(h.req),
        message: `handoff-req ${h.hid} has no handoff-ack or handoff-nack`, field: 'reply', expected: 'handoff-ack or handoff-nack', seen: 'none'})
    }
  }
  for (const o of orphans) {
    sink.add({id, hid: o.hid, connection: `hid ${o.hid} (${o.m.direction})`, ...where(o.m),
      message: `${o.m.msg.t} for ${o.hid}, which no handoff-req announced`, field: 'handoff-req', expected: o.hid, seen: 'none'})
  }
}
