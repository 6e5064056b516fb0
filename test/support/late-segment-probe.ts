// Run inside a lab's client namespace by the lab end-to-end test: sends one
// segment of a connection that has already ended (a FIN/ACK, as a client
// retransmits it when the back-end's ACK is slow) and counts the RSTs that
// come back from the VIP within a second. A front-end that forgot the
// connection too early lets its own stack answer with a RST.
//
//   node late-segment-probe.js IFACE CLIENT_MAC CLIENT_ADDR CLIENT_PORT VIP_MAC VIP_ADDR
// prints {"rsts": N}
import {openLive} from '../../analyzer/capture/live.js'
import {buildTcpPacket} from '../../analyzer/wire/build.js'

const [iface, cmac, caddr, cport, vmac, vaddr] = process.argv.slice(2)
if (vaddr === undefined) {
  process.stderr.write('usage: late-segment-probe IFACE CLIENT_MAC CLIENT_ADDR CLIENT_PORT VIP_MAC VIP_ADDR\n')
  process.exit(2)
}
const src = openLive({interface: iface, filter: `tcp and src host ${vaddr} and src port 80 and dst port ${Number(cport)}`, immediate: true})
let rsts = 0
src.on('packet', (p) => {
  if ((p.data[14 + 20 + 13] & 0x04) !== 0) rsts++
})
src.inject(buildTcpPacket({
  ethernet: {src: cmac, dst: vmac},
  src: caddr, dst: vaddr, srcPort: Number(cport), dstPort: 80, seq: 0x12345678, ack: 0x9abcdef0, flags: 'F.', window: 502,
}))
setTimeout(() => {
  process.stdout.write(JSON.stringify({rsts}) + '\n')
  // node_pcap's close() leaves the handle until one more packet arrives (see live.ts).
  src.close()
  process.exit(0)
}, 1000)
