// tcp-checksum (error): a TCP checksum is wrong on a segment of a handed-off
// connection (any leg) or of the control channel. A partial checksum (offload
// on the sending host) is not wrong.
import type {ControlPacket} from '../correlate/assemble.js'
import type {HandoffContext} from './context.js'
import {countsForChecksum} from './checksums.js'
import {viewFields, type ViolationTarget} from './types.js'

export const id = 'tcp-checksum' as const

export function check(ctx: HandoffContext): void {
  if (ctx.h.state === null) return
  for (const s of ctx.h.segs) {
    if (!countsForChecksum(s) || s.tcpCsum !== 'bad') continue
    ctx.report(id, s, `TCP checksum is wrong (${s.leg} leg)`, {field: 'tcp.checksum', expected: 'valid', seen: 'bad'})
  }
}

export function checkControl(pkts: readonly ControlPacket[], sink: ViolationTarget): void {
  for (const p of pkts) {
    if (p.tcpCsum !== 'bad') continue
    sink.add({id, connection: p.connection, file: p.view.file, frame: p.frame, ...viewFields(p.view),
      message: 'TCP checksum is wrong on a control-channel packet', field: 'tcp.checksum', expected: 'valid', seen: 'bad'})
  }
}
