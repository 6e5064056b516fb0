// A lossy bump in the wire for end-to-end tests of retransmission over real
// kernels (this machine has no netem nor netfilter tools): it relays every
// frame between two interfaces of its namespace (libpcap, inbound capture on
// each, inject on the other) and DROPS the first TCP segment carrying data
// of each direction of each connection. Each drop is printed as a line
// "drop SRC:PORT>DST:PORT LEN" on stdout; "ready" once both sides are open.
//
//   node lossy-bump.js IF_A IF_B
import {openLive} from '../../analyzer/capture/live.js'
import {PacketDecoder} from '../../analyzer/wire/decode.js'
import {LINKTYPE} from '../../analyzer/wire/linktype.js'

const [ifA, ifB] = process.argv.slice(2)
if (!ifA || !ifB) {
  console.error('usage: lossy-bump IF_A IF_B')
  process.exit(2)
}
const a = openLive({interface: ifA, filter: 'inbound', immediate: true})
const b = openLive({interface: ifB, filter: 'inbound', immediate: true})
const dec = new PacketDecoder({verifyChecksums: false})
const seen = new Set<string>()
const relay = (to: typeof a) => (p: {data: Uint8Array}) => {
  const d = dec.decode(LINKTYPE.ETHERNET, p.data, p.data.length, p.data.length)
  if (d.transport === 'tcp' && d.payloadLen > 0) {
    const key = `${d.srcAddr()}:${d.srcPort}>${d.dstAddr()}:${d.dstPort}`
    if (!seen.has(key)) {
      seen.add(key)
      console.log(`drop ${key} ${d.payloadLen}`)
      return
    }
  }
  to.inject(p.data)
}
a.on('packet', relay(b))
b.on('packet', relay(a))
console.log('ready')
const stop = () => {
  a.close()
  b.close()
  process.exit(0)
}
process.on('SIGTERM', stop)
process.on('SIGINT', stop)
