// Conversations (tshark's `-z conv,tcp` / `conv,udp`): one entry per
// bidirectional 5-tuple, with packets and bytes each way (the key is
// symmetric: see flow-table.ts). Entries keep only numbers and two strings,
// so memory grows with the number of conversations, not with the trace.
import type {PacketDecoder} from '../wire/decode.js'
import {TCP_FLAG} from '../wire/tcp.js'
import {FlowTable} from './flow-table.js'

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
  private readonly flows = new FlowTable()
  private readonly list_: Conversation[] = []
  /** Per conversation: its "a" is the endpoint the flow table sorts lower. */
  private readonly aIsLow: boolean[] = []

  /** Adds one decoded TCP or UDP packet. Other packets are ignored. */
  add(d: PacketDecoder, frame: number, tsSec: number, tsNsec: number): void {
    if (d.transport !== 'tcp' && d.transport !== 'udp') return
    const id = this.flows.lookup(d)
    if (id < 0) return
    let c = this.list_[id]
    if (this.flows.created) {
      // "a" is the sender of the first packet seen, not the table's sort order.
      c = {
        proto: d.transport, a: d.srcAddr(), aPort: d.srcPort, b: d.dstAddr(), bPort: d.dstPort,
        packetsAB: 0, packetsBA: 0, bytesAB: 0, bytesBA: 0, payloadAB: 0, payloadBA: 0,
        firstSec: tsSec, firstNsec: tsNsec, lastSec: tsSec, lastNsec: tsNsec,
        syn: false, synAck: false, fin: 0, rst: 0, firstFrame: frame,
      }
      this.list_[id] = c
      this.aIsLow[id] = this.flows.fromA
    }
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
