// The handoff state of each handed-off connection, from the trace's control
// channel: every handoff-req paired with its handoff-ack by hid (spec §3),
// plus the FE's MAC from its hello.
//
// The messages come from analyzer/control/channels.ts (the same extraction
// `handoff messages` lists: reassembly, resynchronisation, and one copy of a
// message seen in several views), asked to keep the whole messages since the
// replayer needs the bytes of `pkts`. Framing errors are only counted here:
// `handoff messages` is the tool that explains them.
//
// - The time of a message is that of the packet that completed its frame.
// - For a hid seen more than once, the first handoff-req / handoff-ack /
//   terminate wins.
// - Each message also names its control connection (`channel`), so that
//   `--write` can carry the connections of the selected handoffs.
import {extractControlMessages} from '../../analyzer/control/channels.js'
import type {HandoffAck, HandoffReq, Terminate} from '../../analyzer/control/messages.js'
import {canonicalAddr} from './select.js'

export interface TimedMessage<M> {
  msg: M
  tsSec: number
  tsNsec: number
  file: string
  /** 1-based frame number (in `file`) of the packet that completed the message. */
  frame: number
  /** The control connection that carried it, as channelKey() spells it. */
  channel: string
}

/** One key per control connection, the same both ways: "a|pa-b|pb" with the endpoints sorted, addresses canonical. */
export function channelKey(a: string, pa: number, b: string, pb: number): string {
  const x = `${canonicalAddr(a)}|${pa}`
  const y = `${canonicalAddr(b)}|${pb}`
  return x < y ? `${x}-${y}` : `${y}-${x}`
}

export interface ControlHandoff {
  hid: string
  req: TimedMessage<HandoffReq>
  /** null: no handoff-ack in the trace (nacked, or not captured). */
  ack: TimedMessage<HandoffAck> | null
  /** The first terminate for this hid (spec §2 step 11: the FE stops forwarding there), when captured. */
  terminate: TimedMessage<Terminate> | null
  /** A handoff-nack was seen for this hid. */
  nacked: boolean
  /** The MAC in the hello of the endpoint that sent the handoff-req (the FE), when seen. */
  feMac?: string
}

export interface ControlScan {
  /** In order of their handoff-req. */
  handoffs: ControlHandoff[]
  /** handoff-ack messages whose hid has no handoff-req in the trace. */
  orphanAcks: string[]
  /** TCP packets on the control port. */
  controlPackets: number
  /** Control frames that did not decode (see `handoff messages`). */
  framingErrors: number
  /** Files that could not be read to the end (what came before the damage is used). */
  captureErrors: string[]
}

/** Reads the control channel of `paths` (port default 7070). CaptureErrors are collected, not thrown. */
export async function scanControl(paths: string[], opts: {port?: number} = {}): Promise<ControlScan> {
  const report = await extractControlMessages(paths, {port: opts.port, keepMessages: true})
  const reqs = new Map<string, TimedMessage<HandoffReq> & {sender: string}>()
  const acks = new Map<string, TimedMessage<HandoffAck>>()
  const terms = new Map<string, TimedMessage<Terminate>>()
  const nacks = new Set<string>()
  /** "addr|port" of a hello's sender → its MAC. */
  const helloMac = new Map<string, string>()
  for (const row of report.rows) {
    if (row.kind !== 'message' || row.msg === undefined) continue
    const m = row.msg
    const at = {tsSec: row.tsSec, tsNsec: row.tsNsec, file: row.file, frame: row.frame,
      channel: channelKey(row.sender.addr, row.sender.port, row.receiver.addr, row.receiver.port)}
    const senderKey = `${row.sender.addr}|${row.sender.port}`
    if (m.t === 'hello') {
      if (!helloMac.has(senderKey)) helloMac.set(senderKey, m.mac)
    } else if (m.t === 'handoff-req') {
      if (!reqs.has(m.hid)) reqs.set(m.hid, {msg: m, ...at, sender: senderKey})
    } else if (m.t === 'handoff-ack') {
      if (!acks.has(m.hid)) acks.set(m.hid, {msg: m, ...at})
    } else if (m.t === 'terminate') {
      if (!terms.has(m.hid)) terms.set(m.hid, {msg: m, ...at})
    } else if (m.t === 'handoff-nack') nacks.add(m.hid)
  }
  const scan: ControlScan = {
    handoffs: [], orphanAcks: [],
    controlPackets: report.files.reduce((n, f) => n + f.controlPackets, 0),
    framingErrors: report.summary.errors,
    captureErrors: report.captureErrors.map((e) => e.message),
  }
  for (const [hid, r] of reqs) {
    const {sender, ...req} = r
    const h: ControlHandoff = {hid, req, ack: acks.get(hid) ?? null, terminate: terms.get(hid) ?? null, nacked: nacks.has(hid)}
    const mac = helloMac.get(sender)
    if (mac !== undefined) h.feMac = mac
    scan.handoffs.push(h)
  }
  scan.handoffs.sort((a, b) => a.req.tsSec - b.req.tsSec || a.req.tsNsec - b.req.tsNsec)
  for (const hid of acks.keys()) if (!reqs.has(hid)) scan.orphanAcks.push(hid)
  return scan
}
