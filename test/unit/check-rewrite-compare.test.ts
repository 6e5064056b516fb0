// checks/rewrite-compare.ts answers, without rewriting, what the engine's
// rewrite of a candidate segment would be: whether the engine accepts it
// (plainHeader's reading of the usual header shape, else Engine.accepts) and
// whether its rewrite equals a seen segment (rewriteIs). Checked here against
// the engine itself over thousands of random packets and states (seeded; the
// generators of engine-properties.test.ts): every link type, IPv4 and IPv6,
// SACK and timestamps, window rescaling, checksums good, partial or bad, and
// packets the engine refuses (another connection's ports, a malformed option,
// a fragment).
import {test} from 'node:test'
import assert from 'node:assert/strict'
import {addrText, knownAddrs, plainHeader, rewriteIs, type HeaderAt} from '../../analyzer/checks/rewrite-compare.js'
import type {Seg} from '../../analyzer/correlate/assemble.js'
import {PacketDecoder} from '../../analyzer/wire/decode.js'
import {Engine} from '../../replayer/engine/index.js'
import {prng, randomConn, randomPacket} from '../bench/engine-fixtures.js'

const N = 6000

/** The fields of a decoded segment that rewriteIs compares (a Seg's, as the segment pass keeps them). */
function seenOf(d: PacketDecoder): Seg {
  return {
    sport: d.srcPort, dport: d.dstPort, flags: d.tcpFlags, hasTs: d.hasTimestamp, seq: d.seq, ack: d.ack, window: d.window,
    tsVal: d.hasTimestamp ? d.tsVal : 0, tsEcr: d.hasTimestamp ? d.tsEcr : 0, sack: Array.from(d.sackEdges.subarray(0, 2 * d.sackCount)),
    src: d.srcAddr(), dst: d.dstAddr(),
  } as unknown as Seg
}

/** Damage that makes the engine refuse a packet, or leaves it alone (most of the time). */
function damage(r: () => number, frame: Uint8Array, d: PacketDecoder): string {
  const x = r()
  if (x < 0.06) { // another connection: the client port changed
    const o = d.l4Offset + (frame[d.l4Offset]! === 0 ? 1 : 0)
    frame[o] = frame[o]! ^ 0x40
    return 'port'
  }
  if (x < 0.1 && d.l4HeaderLen > 20) { // an option whose length byte runs past the header
    const o = d.l4Offset + 20
    frame[o] = 8
    frame[o + 1] = 40
    return 'option'
  }
  if (x < 0.13 && d.ipVersion === 4) { // a fragment (more fragments set)
    frame[d.ipOffset + 6] = frame[d.ipOffset + 6]! | 0x20
    return 'fragment'
  }
  return ''
}

test('plainHeader and Engine.accepts agree with the engine; rewriteIs is true exactly for its rewrite', () => {
  const r = prng(0x5eed_c0de)
  const dec = new PacketDecoder({verifyChecksums: false})
  const out = new PacketDecoder({verifyChecksums: false})
  let plain = 0
  let viaEngine = 0
  let refused = 0
  for (let i = 0; i < N; i++) {
    const family = r() < 0.7 ? 4 : 6
    const conn = randomConn(r, family)
    const fwd = r() < 0.5
    const p = randomPacket(r, conn, {dir: fwd ? 'forward' : 'return', partial: 0.1, bad: 0.1})
    const frame = p.frame.slice()
    dec.decode(p.linkType, frame, frame.length, frame.length)
    const how = damage(r, frame, dec)
    dec.decode(p.linkType, frame, frame.length, frame.length)
    // As the segment pass keeps a candidate: the frame up to the end of its TCP header, and its length on the wire.
    const hdrLen = dec.payloadOffset >= 0 ? dec.payloadOffset : frame.length
    const o = {hdrBuf: frame, hdrOff: 0, hdrLen, origLen: frame.length, linkType: p.linkType} as unknown as Seg
    const st = conn.state
    const engDec = new PacketDecoder({verifyChecksums: false})
    const eng = new Engine(st, {decoder: engDec})
    const accepted = eng.accepts(fwd, frame, p.linkType, hdrLen, frame.length, 0)
    const copy = frame.slice(0, hdrLen)
    const res = fwd ? eng.rewriteForward(copy, p.linkType, hdrLen, frame.length) : eng.rewriteReturn(copy, p.linkType, hdrLen, frame.length)
    const label = `packet ${i} (${p.link}, IPv${family}, ${fwd ? 'forward' : 'return'}${how ? `, damaged: ${how}` : ''})`
    assert.equal(accepted, res.status === 'ok', `${label}: accepts ${accepted}, the rewrite says ${res.status}`)
    const at = plainHeader(o, st, fwd)
    if (at !== null) assert.ok(accepted, `${label}: plainHeader read a header the engine refuses`)
    if (!accepted) { refused++; continue }
    if (at !== null) plain++
    else viaEngine++
    // Where the fields are: plainHeader's reading, or the engine's decoder after accepts (as context.ts does).
    if (at === null) eng.accepts(fwd, frame, p.linkType, hdrLen, frame.length, 0)
    const hdr: HeaderAt = at ?? engDec
    const known = knownAddrs({cip: conn.values.cip, vip: conn.values.vip, baddr: conn.values.baddr} as never)
    const vipText = addrText(st.vip, st.family, known)
    const baddrText = addrText(st.baddr, st.family, known)
    out.decode(p.linkType, copy, hdrLen, frame.length)
    const seen = seenOf(out)
    assert.ok(rewriteIs(hdr, st, known, vipText, baddrText, seen, fwd), `${label}: the engine's own rewrite is not recognised`)
    // One field off (as a segment rewritten wrongly would be): not the rewrite.
    const k = i % 8
    const off = {...seen} as Record<string, unknown>
    if (k === 0) off.seq = (seen.seq + 1) >>> 0
    else if (k === 1) off.ack = (seen.ack + 0x10000) >>> 0
    else if (k === 2) off.window = seen.window ^ 1
    else if (k === 3) off.src = seen.dst
    else if (k === 4) off.sport = seen.sport ^ 1
    else if (k === 5 && seen.hasTs) off.tsVal = (seen.tsVal - 1) >>> 0
    else if (k === 6 && seen.hasTs) off.tsEcr = (seen.tsEcr + 1) >>> 0
    else if (k === 7 && seen.sack.length > 0) off.sack = seen.sack.map((e, j) => (j === 0 ? (e + 1) >>> 0 : e))
    else off.flags = seen.flags ^ 0x08
    assert.ok(!rewriteIs(hdr, st, known, vipText, baddrText, off as unknown as Seg, fwd), `${label}: a segment with one field off (${k}) taken for the rewrite`)
  }
  // Every way was taken, many times.
  assert.ok(plain > 1000 && viaEngine > 1000 && refused > 300, `plain ${plain}, via the engine ${viaEngine}, refused ${refused}`)
})
