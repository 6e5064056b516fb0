// The handoff state of each handed-off connection, from the trace's control
// channel: every handoff-req paired with its handoff-ack by hid (spec §3),
// plus the FE's MAC from its hello.
//
// analyzer/control/channels.ts (what `handoff messages` lists) keeps only the
// key fields of each message — not the bytes of `pkts`, which the replayer
// needs — so this scan runs the same building blocks (TcpConnectionTable
// reassembly, FrameDecoder) and keeps the whole messages. Framing errors
// are only counted here: `handoff messages` is the tool that explains them.
//
// - A message seen in several views (files, pcapng interfaces) counts once:
//   the first copy (in file order) is kept.
// - The time of a message is that of the packet that completed its frame.
// - A stream whose SYN was not captured is decoded from the first segment
//   that starts with a whole valid frame (as channels.ts does).
import {readCapture} from '../../analyzer/capture/read.js'
import {CaptureError} from '../../analyzer/capture/types.js'
import {decodeBody, LENGTH_PREFIX, MAX_FRAME_LENGTH} from '../../analyzer/control/codec.js'
import {FrameDecoder, type DecodeEvent} from '../../analyzer/control/decoder.js'
import {CONTROL_PORT, type HandoffAck, type HandoffReq} from '../../analyzer/control/messages.js'
import {MsgpackReader} from '../../analyzer/control/msgpack.js'
import {TcpConnectionTable, type StreamHandlers, type TcpConnection} from '../../analyzer/flows/reassembly.js'
import {PacketDecoder} from '../../analyzer/wire/decode.js'

export interface TimedMessage<M> {
  msg: M
  tsSec: number
  tsNsec: number
  file: string
  /** 1-based frame number (in `file`) of the packet that completed the message. */
  frame: number
}

export interface ControlHandoff {
  hid: string
  req: TimedMessage<HandoffReq>
  /** null: no handoff-ack in the trace (nacked, or not captured). */
  ack: TimedMessage<HandoffAck> | null
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

function frameStartsAt(chunk: Uint8Array, reader: MsgpackReader): boolean {
  if (chunk.length < LENGTH_PREFIX + 1) return false
  const len = chunk[0]! * 0x100_0000 + ((chunk[1]! << 16) | (chunk[2]! << 8) | chunk[3]!)
  if (len < 1 || len > MAX_FRAME_LENGTH || LENGTH_PREFIX + len > chunk.length) return false
  return decodeBody(chunk, LENGTH_PREFIX, LENGTH_PREFIX + len, reader).ok
}

/** Reads the control channel of `paths` (port default 7070). CaptureErrors are collected, not thrown. */
export async function scanControl(paths: string[], opts: {port?: number} = {}): Promise<ControlScan> {
  const port = opts.port ?? CONTROL_PORT
  const reqs = new Map<string, TimedMessage<HandoffReq> & {sender: string}>()
  const acks = new Map<string, TimedMessage<HandoffAck>>()
  const nacks = new Set<string>()
  /** "addr|port" of a hello's sender → its MAC. */
  const helloMac = new Map<string, string>()
  const reader = new MsgpackReader()
  const scan: ControlScan = {handoffs: [], orphanAcks: [], controlPackets: 0, framingErrors: 0, captureErrors: []}

  for (const path of paths) {
    const dec = new PacketDecoder({verifyChecksums: false})
    let tsSec = 0
    let tsNsec = 0
    const file = path === '-' ? '<stdin>' : path
    const open = (c: TcpConnection): [StreamHandlers, StreamHandlers] => {
      const make = (fromClient: boolean): StreamHandlers => {
        const sender = fromClient ? c.client : c.server
        const senderKey = `${sender.addr}|${sender.port}`
        let fd: FrameDecoder | null = null
        let syncing = false
        const onEvents = (evs: readonly DecodeEvent[], frame: number) => {
          for (const ev of evs) {
            if (ev.kind === 'error') {
              scan.framingErrors++
              continue
            }
            const m = ev.msg
            const at = {tsSec, tsNsec, file, frame}
            if (m.t === 'hello') {
              if (!helloMac.has(senderKey)) helloMac.set(senderKey, m.mac)
            } else if (m.t === 'handoff-req') {
              if (!reqs.has(m.hid)) reqs.set(m.hid, {msg: m, ...at, sender: senderKey})
            } else if (m.t === 'handoff-ack') {
              if (!acks.has(m.hid)) acks.set(m.hid, {msg: m, ...at})
            } else if (m.t === 'handoff-nack') nacks.add(m.hid)
          }
        }
        return {
          onData: (chunk, off, frame) => {
            const stream = c.streams![fromClient ? 0 : 1]
            if (fd === null) {
              syncing = stream.origin !== 'syn'
              fd = new FrameDecoder()
            }
            if (syncing) {
              if (!frameStartsAt(chunk, reader)) return
              syncing = false
              fd = new FrameDecoder()
            }
            onEvents(fd.push(chunk, off), frame)
            if (fd.isStopped) {
              syncing = true
            }
          },
          onGap: (_off, length, frame) => {
            if (fd === null || syncing) return
            onEvents(fd.gap(length), frame)
            syncing = true
          },
          onEnd: (_reason, frame) => {
            if (fd !== null && !syncing) {
              // A frame cut by the end of the capture is a capture matter, not counted.
              onEvents(fd.end().filter((e) => !(e.kind === 'error' && e.reason === 'truncated-frame')), frame)
            }
          },
        }
      }
      return [make(true), make(false)]
    }
    const table = new TcpConnectionTable({serverPort: port, open})
    let last = 0
    try {
      await readCapture(path, {
        onPacket: (rec) => {
          last = rec.index
          dec.decode(rec.linkType, rec.data, rec.capLen, rec.origLen)
          if (dec.transport !== 'tcp' || (dec.srcPort !== port && dec.dstPort !== port)) return
          scan.controlPackets++
          tsSec = rec.tsSec
          tsNsec = rec.tsNsec
          table.add(dec, rec.index, rec.tsSec, rec.tsNsec, String(rec.interfaceId))
        },
      })
    } catch (e) {
      if (!(e instanceof CaptureError)) throw e
      scan.captureErrors.push(e.message)
    }
    table.finish(last)
  }

  for (const [hid, r] of reqs) {
    const {sender, ...req} = r
    const h: ControlHandoff = {hid, req, ack: acks.get(hid) ?? null, nacked: nacks.has(hid)}
    const mac = helloMac.get(sender)
    if (mac !== undefined) h.feMac = mac
    scan.handoffs.push(h)
  }
  scan.handoffs.sort((a, b) => a.req.tsSec - b.req.tsSec || a.req.tsNsec - b.req.tsNsec)
  for (const hid of acks.keys()) if (!reqs.has(hid)) scan.orphanAcks.push(hid)
  return scan
}
