// handoff-orphan (error): a handoff-req with no handoff-ack / nack, or an
// ack, nack or terminate with no request (matched by hid over all traces).
// Not judged on a control connection whose bytes the capture cut off (snap
// length, correlate/control-pass.ts): the missing message may sit in them.
// Returns how many were left unjudged for that reason.
import {formatIso} from '../inspect/timestamp.js'
import type {FramedMessage} from '../correlate/control.js'
import {connectionLabel, type Handoff, type Orphan} from '../correlate/assemble.js'
import type {ViolationSink} from './types.js'

export const id = 'handoff-orphan' as const

function where(m: FramedMessage): {file: string; frame: number; time: string} {
  return {file: m.file, frame: m.frame, time: formatIso(m.tsSec, m.tsNsec)}
}

export function check(handoffs: readonly Handoff[], orphans: readonly Orphan[], sink: ViolationSink,
  uncaptured: readonly {connection: string}[] = []): number {
  // "a:p > b:p" of a message against the "a:p ↔ b:p" of a connection, either way round.
  const cut = new Set(uncaptured.map((u) => u.connection))
  const onCut = (m: FramedMessage) => {
    const [a, b] = m.direction.split(' > ')
    return cut.has(`${a} ↔ ${b}`) || cut.has(`${b} ↔ ${a}`)
  }
  let notJudged = 0
  for (const h of handoffs) {
    if (h.req && !h.ack && !h.nack) {
      if (onCut(h.req)) { notJudged++; continue }
      sink.add({id, hid: h.hid, connection: connectionLabel(h), ...where(h.req),
        message: `handoff-req ${h.hid} has no handoff-ack or handoff-nack`, field: 'reply', expected: 'handoff-ack or handoff-nack', seen: 'none'})
    }
  }
  for (const o of orphans) {
    if (onCut(o.m)) { notJudged++; continue }
    sink.add({id, hid: o.hid, connection: `hid ${o.hid} (${o.m.direction})`, ...where(o.m),
      message: `${o.m.msg.t} for ${o.hid}, which no handoff-req announced`, field: 'handoff-req', expected: o.hid, seen: 'none'})
  }
  return notJudged
}
