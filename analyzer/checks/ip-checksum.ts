// ip-checksum (error): an IPv4 header checksum is wrong on a segment of a
// handed-off connection (any leg) or of the control channel.
import type {ControlPacket} from '../correlate/assemble.js'
import type {HandoffContext} from './context.js'
import {countsForChecksum} from './checksums.js'
import {viewFields, type ViolationTarget} from './types.js'

export const id = 'ip-checksum' as const

export function check(ctx: HandoffContext): void {
  if (ctx.h.state === null) return
  for (const s of ctx.h.segs) {
    if (!countsForChecksum(s) || s.ipCsum !== 'bad') continue
    ctx.report(id, s, `IPv4 header checksum is wrong (${s.leg} leg)`, {field: 'ip.checksum', expected: 'valid', seen: 'bad'})
  }
}

export function checkControl(pkts: readonly ControlPacket[], sink: ViolationTarget): void {
  for (const p of pkts) {
    if (p.ipCsum !== 'bad') continue
    sink.add({id, connection: p.connection, file: p.view.file, frame: p.frame, ...viewFields(p.view),
      message: 'IPv4 header checksum is wrong on a control-channel packet', field: 'ip.checksum', expected: 'valid', seen: 'bad'})
  }
}
