// Segments larger than the connection allows on the wire: TSO / GSO super-
// segments captured on the sending host before the NIC cut them, or GRO
// super-segments captured on the receiving host after the stack glued them.
// No single wire segment of the other view matches one of them by content,
// so their payload is kept (they are rare, and at most 64 KiB each) for the
// checks to match the pieces inside them (checks/context.ts).
//
// The bound is the MSS the receiver announced: the client's SYN for the
// return direction (its copy in the handoff-req's `pkts`, else 1460, the
// Ethernet default). A segment no bigger is a wire segment.
import {PacketDecoder} from '../wire/decode.js'
import {LINKTYPE} from '../wire/linktype.js'
import type {Handoff} from './assemble.js'

const DEFAULT_MSS = 1460
const dec = new PacketDecoder({verifyChecksums: false})
const cache = new WeakMap<Handoff, number>()

/** The largest payload a wire segment to the client can carry on this handoff's connection. */
export function clientMss(h: Handoff): number {
  let m = cache.get(h)
  if (m === undefined) {
    m = DEFAULT_MSS
    const syn = h.req?.msg.pkts[0]
    if (syn !== undefined) {
      const d = dec.decode(LINKTYPE.RAW, syn, syn.length, syn.length)
      if (d.transport === 'tcp' && d.mss > 0) m = d.mss
    }
    cache.set(h, m)
  }
  return m
}
