// Which TCP port the control channel is on, when the user did not say.
//
// Spec §1 gives 7070 as the *default* port: a cluster may run its channel on
// another one. Reading a trace with the wrong port is silent — no control
// message, so no handoff, so "no violations" — which is the worst answer a
// checker can give. So, when no --control-port is given:
//   1. the traces are scanned for TCP segments whose payload starts with a
//      whole spec §3 frame (4-byte length, then a MessagePack map that
//      validates as a message: `v` 1, a known `t`, its required keys);
//   2. the first such frame on the default port settles it (the scan stops
//      there, so on a trace with a control channel on 7070 this costs a few
//      packets' decoding);
//   3. otherwise the port that carries such frames on the most distinct
//      connections is the channel's listening port (each node pair has its own
//      connection, all to the same listening port; the other end's port is an
//      ephemeral one, different per connection). A tie (one connection only)
//      goes to the port a captured SYN was sent to, then to the lower number.
// A frame must start a segment and fit in it: senders write a frame with one
// write(), and a small frame (hello, ack, terminate) is one segment, so this
// finds every channel that carried a message in the capture without a stream
// reassembly. Nothing else is tested against the signature but TCP payload,
// and validation of the whole message rules out chance matches.
import {readCapture} from '../capture/read.js'
import {CaptureError} from '../capture/types.js'
import {PacketDecoder} from '../wire/decode.js'
import {decodeBody, LENGTH_PREFIX, MAX_FRAME_LENGTH} from './codec.js'
import {CONTROL_PORT} from './messages.js'
import {MsgpackReader} from './msgpack.js'

export interface ControlPortChoice {
  port: number
  /** 'flag': given by the user; 'default': 7070 (frames seen there, or none anywhere); 'found': another port carries the frames. */
  how: 'flag' | 'default' | 'found'
  /** With 'found': valid frames seen and distinct connections they were on. */
  frames?: number
  connections?: number
}

const TCP_SYN = 0x02
const TCP_ACK = 0x10

/** Votes of the frames seen, per candidate port. */
export class ControlPortSniffer {
  private readonly dec = new PacketDecoder({verifyChecksums: false})
  private readonly reader = new MsgpackReader()
  /** Per port: the connections (as "a:pa b:pb", ordered) a frame was seen on, and the frames. */
  private readonly votes = new Map<number, {conns: Set<string>; frames: number}>()
  private readonly synTo = new Set<number>()
  /** A frame was seen on the default port: the answer is known. */
  onDefault = false

  constructor(private readonly defaultPort = CONTROL_PORT) {}

  packet(linkType: number, bytes: Uint8Array, capLen: number, origLen: number, start: number): void {
    const d = this.dec.decode(linkType, bytes, capLen, origLen, start)
    if (d.transport !== 'tcp') return
    if ((d.tcpFlags & (TCP_SYN | TCP_ACK)) === TCP_SYN) this.synTo.add(d.dstPort)
    const n = d.payloadLen
    if (n <= LENGTH_PREFIX) return
    const b = d.bytes
    const p = d.payloadOffset
    // Cheap rejection first: a length of at most 1 MiB (so the first byte is 0) that the segment holds whole,
    // and a MessagePack map (fixmap, map 16, map 32) as the body's first byte.
    if (b[p] !== 0) return
    const len = ((b[p + 1]! << 16) | (b[p + 2]! << 8) | b[p + 3]!) >>> 0
    if (len === 0 || len > MAX_FRAME_LENGTH || LENGTH_PREFIX + len > n) return
    const m = b[p + 4]!
    if ((m & 0xf0) !== 0x80 && m !== 0xde && m !== 0xdf) return
    if (!decodeBody(b, p + LENGTH_PREFIX, p + LENGTH_PREFIX + len, this.reader).ok) return
    if (d.srcPort === this.defaultPort || d.dstPort === this.defaultPort) {
      this.onDefault = true
      return
    }
    const a = `${d.srcAddr()}:${d.srcPort}`
    const z = `${d.dstAddr()}:${d.dstPort}`
    const conn = a < z ? `${a} ${z}` : `${z} ${a}`
    for (const port of [d.srcPort, d.dstPort]) {
      let v = this.votes.get(port)
      if (!v) this.votes.set(port, v = {conns: new Set(), frames: 0})
      v.conns.add(conn)
      v.frames++
    }
  }

  choice(): ControlPortChoice {
    if (this.onDefault || this.votes.size === 0) return {port: this.defaultPort, how: 'default'}
    let best = -1
    let bestV: {conns: Set<string>; frames: number} | null = null
    for (const [port, v] of this.votes) {
      if (bestV === null) { best = port; bestV = v; continue }
      const d = v.conns.size - bestV.conns.size
      const better = d > 0 || (d === 0 && (this.synTo.has(port) !== this.synTo.has(best) ? this.synTo.has(port) : port < best))
      if (better) { best = port; bestV = v }
    }
    return {port: best, how: 'found', frames: bestV!.frames, connections: bestV!.conns.size}
  }
}

/**
 * The control port for `paths`: `given` when set, else as the header says.
 * Unreadable or damaged files are scanned as far as they go: the command that
 * reads them next reports the damage.
 */
export async function resolveControlPort(paths: readonly string[], given?: number): Promise<ControlPortChoice> {
  if (given !== undefined) return {port: given, how: 'flag'}
  const sniffer = new ControlPortSniffer()
  for (const path of paths) {
    if (path === '-') continue // standard input cannot be read twice; callers spool it first
    const ac = new AbortController()
    try {
      await readCapture(path, {
        onPacket: (rec) => {
          sniffer.packet(rec.linkType, rec.buffer, rec.capLen, rec.origLen, rec.dataOffset)
          if (sniffer.onDefault) ac.abort()
        },
      }, {signal: ac.signal})
    } catch (e) {
      if (!(e instanceof CaptureError)) throw e
    }
    if (sniffer.onDefault) break
  }
  return sniffer.choice()
}

/** One line for the user about a port that was found rather than given. */
export function controlPortNote(c: ControlPortChoice): string | null {
  if (c.how !== 'found') return null
  return `control channel found on TCP port ${c.port}, not the default ${CONTROL_PORT} (${c.frames} frame(s) on ${c.connections} connection(s)); ` +
    `give --control-port to choose another`
}
