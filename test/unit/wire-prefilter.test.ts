// The two shortcuts of `handoff check`'s hot paths against the full decoder,
// over every frame of the shared corpus and the lab samples, and over
// damaged copies of them (random bytes of the headers changed):
//  - mayBeTcpPort (wire/port-filter.ts) answers false only for frames the
//    decoder would not report as TCP to or from that port;
//  - decode without checksums then verifyNow() gives the checksum verdicts
//    decode with checksums gives.
import {test} from 'node:test'
import assert from 'node:assert/strict'
import {readdirSync} from 'node:fs'
import {join} from 'node:path'
import {readCaptureSync} from '../../analyzer/capture/read.js'
import {CaptureError} from '../../analyzer/capture/types.js'
import {PacketDecoder} from '../../analyzer/wire/decode.js'
import {mayBeTcpPort} from '../../analyzer/wire/port-filter.js'
import {repoRoot, sharedCaptures} from '../support/env.js'
import {prng, randInt} from '../support/random.js'

interface Frame {file: string; index: number; linkType: number; data: Uint8Array; capLen: number; origLen: number}

function frames(): Frame[] {
  const files = [
    ...readdirSync(sharedCaptures).filter((f) => /\.(pcap|pcapng|cap|gz)$/.test(f)).map((f) => join(sharedCaptures, f)),
    ...['lab-clean', 'lab-ip-checksum', 'lab-tcp-checksum'].map((d) => join(repoRoot, 'samples', 'traces', d, 'lab.pcapng.gz')),
  ]
  const out: Frame[] = []
  for (const file of files) {
    try {
      readCaptureSync(file, {onPacket: (r) => {
        out.push({file, index: r.index, linkType: r.linkType, data: r.data.slice(0, r.capLen), capLen: r.capLen, origLen: r.origLen})
      }})
    } catch (e) {
      if (!(e instanceof CaptureError)) throw e
    }
  }
  return out
}

const all = frames()
const rand = prng(0x5eed)
/** Each frame once as captured and twice with a few header bytes changed. */
const cases: Frame[] = all.flatMap((f) => [f, ...[0, 1].map(() => {
  const data = f.data.slice()
  for (let k = randInt(rand, 1, 3); k > 0 && data.length > 0; k--) data[randInt(rand, 0, Math.min(data.length, 80) - 1)] = randInt(rand, 0, 255)
  return {...f, data}
})])

test('mayBeTcpPort: false only for frames that are not TCP to or from the port', () => {
  const dec = new PacketDecoder({verifyChecksums: false})
  let ruledOut = 0
  for (const f of cases) {
    dec.decode(f.linkType, f.data, f.capLen, f.origLen)
    const ports = [7070, 80, 443, dec.srcPort, dec.dstPort].filter((p) => p >= 0)
    for (const port of ports) {
      // The same frame inside a larger buffer (as readers hand them over): the same answer.
      const inside = new Uint8Array(f.data.length + 9).fill(0xaa)
      inside.set(f.data, 5)
      const may = mayBeTcpPort(f.linkType, f.data, 0, f.capLen, port)
      assert.equal(mayBeTcpPort(f.linkType, inside, 5, Math.min(f.capLen, f.data.length), port), may, `${f.file} frame ${f.index}: at offset 5`)
      if (may) continue
      ruledOut++
      assert.ok(dec.transport !== 'tcp' || (dec.srcPort !== port && dec.dstPort !== port),
        `${f.file} frame ${f.index}: ruled out for port ${port}, but the decoder reads TCP ${dec.srcPort} > ${dec.dstPort}`)
    }
  }
  // The filter must rule out most of them (Ethernet / IPv4 dominate the corpus), or it is no filter.
  assert.ok(ruledOut > cases.length, `only ${ruledOut} (frame, port) pairs ruled out of ${cases.length} frames`)
})

test('verifyNow after decode without checksums = decode with checksums', () => {
  const lazy = new PacketDecoder({verifyChecksums: false})
  const eager = new PacketDecoder({verifyChecksums: true})
  const verdicts = new Set<string>()
  for (const f of cases) {
    eager.decode(f.linkType, f.data, f.capLen, f.origLen)
    lazy.decode(f.linkType, f.data, f.capLen, f.origLen)
    lazy.verifyNow()
    const at = `${f.file} frame ${f.index}`
    assert.equal(lazy.ipChecksumStatus, eager.ipChecksumStatus, `${at}: IP checksum`)
    assert.equal(lazy.ipChecksumExpected, eager.ipChecksumExpected, `${at}: IP checksum expected`)
    assert.equal(lazy.l4ChecksumStatus, eager.l4ChecksumStatus, `${at}: transport checksum`)
    assert.equal(lazy.l4ChecksumExpected, eager.l4ChecksumExpected, `${at}: transport checksum expected`)
    verdicts.add(`${eager.ipChecksumStatus}/${eager.l4ChecksumStatus}`)
    // A second call changes nothing.
    lazy.verifyNow()
    assert.equal(lazy.l4ChecksumStatus, eager.l4ChecksumStatus, `${at}: transport checksum, verifyNow twice`)
  }
  for (const v of ['good/good', 'bad/good', 'good/bad']) assert.ok(verdicts.has(v), `the corpus lacks ${v}: ${[...verdicts].join(' ')}`)
})
