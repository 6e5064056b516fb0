// Cross-check against tcprewrite (tcpreplay's tcpedit), an independent
// implementation. With Δ = 0 and τ = 0 our forward rewrite is a pure
// destination-address change, which is what
//   tcprewrite --dstipmap=VIP:BADDR --fixcsum
// does: map the destination address and recompute the IPv4 header and TCP
// checksums from scratch. So for packets whose checksums were valid, the
// IP/TCP bytes must be identical — ours incremental, theirs full.
//
// Where the semantics differ, and why those packets/bytes are left out:
// - --fixcsum recomputes every checksum, so it "repairs" bad ones and turns
//   partial (offloaded) ones into full ones; we carry both over on purpose.
//   Only packets with valid checksums are compared.
// - For IPv6 on Ethernet, tcprewrite 4.4.3 also rewrites the destination MAC
//   to 33:33:<low 32 bits of the new address> (its multicast mapping); we do
//   not touch the MAC unless bmac is given. So the link header is excluded
//   and the comparison covers the IP datagram (header and segment).
// - Truncated packets: tcprewrite cannot recompute their checksum; excluded.
// - tcprewrite maps every packet whose destination matches, in any
//   direction; the trace holds only client → VIP packets, so that is moot.
import {test} from 'node:test'
import assert from 'node:assert/strict'
import {spawnSync} from 'node:child_process'
import {mkdtempSync, readFileSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {PacketDecoder} from '../../analyzer/wire/decode.js'
import {Engine, TranslationState} from '../../replayer/engine/index.js'
import {forEachPcapRecord, prng, randomConn, randomPacket, writePcapFile} from '../bench/engine-fixtures.js'

const haveTcprewrite = spawnSync('tcprewrite', ['--version'], {stdio: 'ignore'}).status === 0

for (const family of [4, 6] as const) {
  test(`tcprewrite --dstipmap --fixcsum gives the same IPv${family} bytes as the engine with Δ = τ = 0`, {skip: !haveTcprewrite && 'tcprewrite not installed'}, () => {
    const dir = mkdtempSync(join(tmpdir(), 'engine-tcprewrite-'))
    try {
      const r = prng(family === 4 ? 1404 : 1406)
      const conn = randomConn(r, family)
      const values = {...conn.values, delta: 0, tau: 0, bmac: undefined, wsF: undefined, wsB: undefined}
      conn.values = values
      const st = TranslationState.fromValues(values)
      // Ethernet with 0, 1 (802.1Q) or 2 (QinQ) tags; all checksums valid.
      const frames = Array.from({length: 600}, () => randomPacket(r, conn, {dir: 'forward', link: 'ethernet', partial: 0, bad: 0, maxPayload: 1448}).frame)
      const input = join(dir, 'in.pcap')
      const output = join(dir, 'out.pcap')
      writePcapFile(input, 1, frames)
      const map = family === 4 ? `${values.vip}/32:${values.baddr}/32` : `[${values.vip}]/128:[${values.baddr}]/128`
      const p = spawnSync('tcprewrite', [`--dstipmap=${map}`, '--fixcsum', '-i', input, '-o', output], {encoding: 'utf8'})
      assert.equal(p.status, 0, p.stderr)

      const eng = new Engine(st, {verify: true})
      const dec = new PacketDecoder({verifyChecksums: false})
      const theirs: Uint8Array[] = []
      forEachPcapRecord(readFileSync(output), (d) => theirs.push(d))
      assert.equal(theirs.length, frames.length)
      let vlanFrames = 0
      frames.forEach((ours, i) => {
        const res = eng.rewriteForward(ours, 1)
        assert.equal(res.status, 'ok', res.detail)
        dec.decode(1, ours, ours.length, ours.length)
        if (dec.vlanCount > 0) vlanFrames++
        const a = Buffer.from(ours.subarray(dec.ipOffset)).toString('hex')
        const b = Buffer.from(theirs[i].subarray(dec.ipOffset)).toString('hex')
        assert.equal(a, b, `frame ${i + 1}: IP datagram differs from tcprewrite's`)
        // Outside the IP datagram, IPv4 frames are untouched by both.
        if (family === 4) assert.equal(Buffer.from(ours.subarray(0, dec.ipOffset)).toString('hex'), Buffer.from(theirs[i].subarray(0, dec.ipOffset)).toString('hex'))
      })
      assert.ok(vlanFrames > 100, 'VLAN-tagged frames were compared too')
    } finally {
      rmSync(dir, {recursive: true, force: true})
    }
  })
}
