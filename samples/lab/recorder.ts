// A capture helper for `lab run --record`: runs inside one lab namespace,
// captures on the interfaces it is given and streams every packet to stdout
// as [u32 vantage][u32 sec][u32 nsec][u32 caplen][u32 origlen][bytes]
// (big-endian), so the parent, which lives in another namespace, can merge
// all vantage points into one pcapng file.
//
// Usage: node recorder.js VANTAGE:IFACE:DIRECTION …   (DIRECTION: in | both)
// Prints "ready" on stderr once every capture is open; SIGTERM stops it.
import {openLive, type LiveSource} from '../../analyzer/capture/live.js'

const sources: LiveSource[] = []
const pending: Buffer[] = []
let flushing = false

function flush(): void {
  if (flushing || pending.length === 0) return
  const buf = Buffer.concat(pending.splice(0))
  flushing = true
  process.stdout.write(buf, () => {
    flushing = false
    flush()
  })
}

for (const spec of process.argv.slice(2)) {
  const [v, iface, dir] = spec.split(':')
  const src = openLive({interface: iface, filter: dir === 'in' ? 'inbound' : '', immediate: true, bufferSize: 32 * 1024 * 1024})
  const vantage = Number(v)
  src.on('packet', (p) => {
    const h = Buffer.alloc(20)
    h.writeUInt32BE(vantage, 0)
    h.writeUInt32BE(p.tsSec, 4)
    h.writeUInt32BE(p.tsNsec, 8)
    h.writeUInt32BE(p.data.length, 12)
    h.writeUInt32BE(p.origLen, 16)
    pending.push(h, Buffer.from(p.data.buffer, p.data.byteOffset, p.data.length))
    setImmediate(flush)
  })
  src.on('error', (e) => process.stderr.write(`recorder: ${e.message}\n`))
  sources.push(src)
}
process.stderr.write('ready\n')
const stop = () => {
  for (const s of sources) s.close()
  flush()
  const wait = () => (pending.length === 0 && !flushing ? process.exit(0) : setTimeout(wait, 10))
  wait()
}
process.on('SIGTERM', stop)
process.on('SIGINT', stop)
