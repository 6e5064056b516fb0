// What reading a trace costs Node before any analysis: the floor under
// every command of handoff's, printed by the check benchmark (check.ts) next
// to tcpdump's pass-through. `node dist/test/bench/read-floor.js MODE F`:
//  - raw: the file's bytes read in the capture reader's chunks (READ_CHUNK),
//    nothing done with them;
//  - parse: read through handoff's own capture reader (capture/read.ts: the
//    pcap / pcapng record parser) with a handler that does nothing;
//  - decode: the same, and every packet decoded with its IP and TCP
//    checksums verified (wire/decode.ts), as check must before judging any
//    segment: the least any analysis of the trace costs here.
// Prints the byte count (raw), the packet count (parse) or the count of TCP
// segments with a good checksum (decode), which the benchmark checks, so
// that a reader that skips work is not timed.
import {closeSync, openSync, readSync} from 'node:fs'
import {READ_CHUNK, readCapture} from '../../analyzer/capture/read.js'
import {PacketDecoder} from '../../analyzer/wire/decode.js'

const [mode, path] = process.argv.slice(2)
if ((mode !== 'raw' && mode !== 'parse' && mode !== 'decode') || path === undefined) {
  console.error('usage: read-floor.js raw|parse|decode FILE')
  process.exit(2)
}
if (mode === 'raw') {
  const fd = openSync(path, 'r')
  const buf = new Uint8Array(READ_CHUNK)
  let pos = 0
  for (let n; (n = readSync(fd, buf, 0, buf.length, pos)) > 0;) pos += n
  closeSync(fd)
  console.log(pos)
} else if (mode === 'parse') {
  let packets = 0
  await readCapture(path, {onPacket: () => { packets++ }})
  console.log(packets)
} else {
  // Counts the TCP segments whose checksums were judged good, so that the decoding cannot be skipped.
  const dec = new PacketDecoder()
  let good = 0
  await readCapture(path, {onPacket: (rec) => {
    const d = dec.decode(rec.linkType, rec.buffer, rec.capLen, rec.origLen, rec.dataOffset)
    if (d.transport === 'tcp' && d.l4ChecksumStatus === 'good') good++
  }})
  console.log(good)
}
