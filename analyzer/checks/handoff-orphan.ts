// handoff-orphan (error): a handoff-req with no handoff-ack / nack, or an
// ack, nack or terminate with no request (matched by hid over all traces).
// Not judged on a control connection whose bytes the capture cut off (snap
// length, correlate/control-pass.ts): the missing message may sit in them.
// Returns how many were left unjudged for that reason.
import {formatIso} from '../inspect/timestamp.js'
import type {FramedMessage} from '../correlate/control.js'
import {connectionLabel, type Handoff, type Orphan} from '../correlate/assemble.js'
import type {ViolationTarget} from './types.js'

export const id = 'handoff-orphan' as const

function where(m: FramedMessage): {file: string; frame: number; time: string} {
  return {file: m.file, frame: m.frame, time: formatIso(m.tsSec, m.tsNsec)}
}

export function check(handoffs: readonly Handoff[], orphans: readonly Orphan[], sink: ViolationTarget,
  uncaptured: readonly {connection: string}[] = []): number {
  const cut = cutConnections(uncaptured)
  let notJudged = 0
  for (const h of handoffs) notJudged += checkUnanswered(h, sink, cut)
  return notJudged + checkOrphanMessages(orphans, sink, cut)
}

/** The control connections the capture cut short ("a:p ↔ b:p"), for checkUnanswered / checkOrphanMessages. */
export function cutConnections(uncaptured: readonly {connection: string}[]): ReadonlySet<string> {
  return new Set(uncaptured.map((u) => u.connection))
}

/** "a:p > b:p" of a message against the "a:p ↔ b:p" of a connection, either way round. */
function onCut(cut: ReadonlySet<string>, m: FramedMessage): boolean {
  if (cut.size === 0) return false
  const [a, b] = m.direction.split(' > ')
  return cut.has(`${a} ↔ ${b}`) || cut.has(`${b} ↔ ${a}`)
}

/** One handoff (once its replies can no longer come): a request with no reply. Returns 1 when not judged (cut). */
export function checkUnanswered(h: Handoff, sink: ViolationTarget, cut: ReadonlySet<string>): number {
  if (!h.req || h.ack || h.nack) return 0
  if (onCut(cut, h.req)) return 1
  sink.add({id, hid: h.hid, connection: connectionLabel(h), ...where(h.req),
    message: `handoff-req ${h.hid} has no handoff-ack or handoff-nack`, field: 'reply', expected: 'handoff-ack or handoff-nack', seen: 'none'})
  return 0
}

/** Replies and terminates no request announced. Returns how many were not judged (cut). */
export function checkOrphanMessages(orphans: readonly Orphan[], sink: ViolationTarget, cut: ReadonlySet<string>): number {
  let notJudged = 0
  for (const o of orphans) {
    if (onCut(cut, o.m)) { notJudged++; continue }
    sink.add({id, hid: o.hid, connection: `hid ${o.hid} (${o.m.direction})`, ...where(o.m),
      message: `${o.m.msg.t} for ${o.hid}, which no handoff-req announced`, field: 'handoff-req', expected: o.hid, seen: 'none'})
  }
  return notJudged
}
