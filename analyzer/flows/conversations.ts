// Conversations (tshark's `-z conv,tcp` / `conv,udp`): one entry per
// bidirectional 5-tuple, with packets and bytes each way (the key is
// symmetric: see session-table.ts). Entries keep only numbers and two strings,
// so memory grows with the number of conversations, not with the trace.
import type {PacketDecoder} from '../wire/decode.js'
import {TCP_FLAG} from '../wire/tcp.js'
import {SessionTable} from './session-table.js'

export interface Conversation {
  proto: 'tcp' | 'udp'
  /** The endpoint that sent the first packet seen (the initiator when the SYN was captured). */
  a: string
  aPort: number
  b: string
  bPort: number
  packetsAB: number
  packetsBA: number
  /** Bytes on the wire (IP datagram lengths as captured, origLen of the frame). */
  bytesAB: number
  bytesBA: number
  /** Transport payload bytes each way (retransmissions counted again). */
  payloadAB: number
  payloadBA: number
  firstSec: number
  firstNsec: number
  lastSec: number
  lastNsec: number
  /** TCP flags seen: SYN, SYN/ACK, FIN, RST. */
  syn: boolean
  synAck: boolean
  fin: number
  rst: number
  /** First frame number (1-based) of the conversation, per file. */
  firstFrame: number
}

export class ConversationTable {
  /** Symmetric 5-tuple → index into list_. */
  private readonly flows = new SessionTable<number>()
  private readonly list_: Conversation[] = []
  /** Per conversation: its "a" is the endpoint the table sorts lower. */
  private readonly aIsLow: boolean[] = []

  /** Adds one decoded TCP or UDP packet. Other packets are ignored. */
  add(d: PacketDecoder, frame: number, tsSec: number, tsNsec: number): void {
    if (d.transport !== 'tcp' && d.transport !== 'udp') return
    if (d.ipSrcOffset < 0 || d.ipDstOffset < 0 || d.srcPort < 0) return
    let id = this.flows.find(d, 0)
    let c: Conversation
    if (id === undefined) {
      // "a" is the sender of the first packet seen, not the table's sort order.
      id = this.list_.length
      c = {
        proto: d.transport, a: d.srcAddr(), aPort: d.srcPort, b: d.dstAddr(), bPort: d.dstPort,
        packetsAB: 0, packetsBA: 0, bytesAB: 0, bytesBA: 0, payloadAB: 0, payloadBA: 0,
        firstSec: tsSec, firstNsec: tsNsec, lastSec: tsSec, lastNsec: tsNsec,
        syn: false, synAck: false, fin: 0, rst: 0, firstFrame: frame,
      }
      this.list_.push(c)
      this.aIsLow.push(this.flows.fromA)
      this.flows.set(id)
    } else c = this.list_[id]
    const ab = this.flows.fromA === this.aIsLow[id]
    const bytes = d.origLen
    const payload = d.payloadWireLen > 0 ? d.payloadWireLen : 0
    if (ab) { c.packetsAB++; c.bytesAB += bytes; c.payloadAB += payload }
    else { c.packetsBA++; c.bytesBA += bytes; c.payloadBA += payload }
    if (tsSec > c.lastSec || (tsSec === c.lastSec && tsNsec > c.lastNsec)) { c.lastSec = tsSec; c.lastNsec = tsNsec }
    if (d.transport === 'tcp') {
      const f = d.tcpFlags
      if (f & TCP_FLAG.SYN) { if (f & TCP_FLAG.ACK) c.synAck = true; else c.syn = true }
      if (f & TCP_FLAG.FIN) c.fin++
      if (f & TCP_FLAG.RST) c.rst++
    }
  }

  get size(): number {
    return this.list_.length
  }

  list(): Conversation[] {
    return this.list_.slice()
  }
}
