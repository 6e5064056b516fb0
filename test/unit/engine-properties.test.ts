// Property tests of the rewrite engine over thousands of random valid packets
// and translation states (seeded, so every failure reproduces):
//   1. the rewrite does what §4 says, field by field (decoded before/after);
//   2. incremental checksums equal a full recomputation (good input), stay the
//      pseudo-header sum (partial input), or stay wrong by the same amount
//      (bad input);
//   3. only the bytes §4 lists change (buffer diff against allowed ranges);
//   4. inverse(rewrite(p)) == p byte for byte, except — for the return
//      direction with wsB ≠ wsF on non-SYN segments — the window field and
//      the TCP checksum when rescaling lost information (down-scaling always;
//      up-scaling only when clamped at 0xFFFF). Then the restored window is
//      the lowest consistent one and res.windowExact is false;
//   5. a packet cut by the snap length rewrites to the prefix of the full
//      packet's rewrite;
//   6. the fast path (verify off) writes the same bytes as the verified path.
import {test} from 'node:test'
import assert from 'node:assert/strict'
import {fold16, ipv4HeaderChecksum, pseudoHeaderSumV4, pseudoHeaderSumV6, tcpOrUdpChecksum} from '../../analyzer/wire/checksum.js'
import {PacketDecoder} from '../../analyzer/wire/decode.js'
import {Engine, type EngineOperation} from '../../replayer/engine/index.js'
import {prng, randInt, randomConn, randomPacket, type Rand, type RandomConn, type RandomPacket} from '../bench/engine-fixtures.js'

const N = 4000

interface Snap {
  ipOffset: number; ipVersion: number; ipSrcOffset: number; ipDstOffset: number; ethDstOffset: number; l4Offset: number
  seq: number; ack: number; flags: number; window: number; hasTs: boolean; tsVal: number; tsEcr: number; tsOffset: number
  sack: number[]; sackOffsets: number[]; src: string; dst: string; srcPort: number; dstPort: number; ethDst: string
  ipStatus: string; tcpStatus: string; l4Len: number; tcpChecksum: number; ipChecksum: number; tcpExpected: number
}

const dec = new PacketDecoder({verifyChecksums: true})
function snap(p: RandomPacket | {frame: Uint8Array; linkType: number}, capLen = p.frame.length, origLen = capLen): Snap {
  const d = dec.decode(p.linkType, p.frame, capLen, origLen)
  return {
    ipOffset: d.ipOffset, ipVersion: d.ipVersion, ipSrcOffset: d.ipSrcOffset, ipDstOffset: d.ipDstOffset, ethDstOffset: d.ethDstOffset,
    l4Offset: d.l4Offset, seq: d.seq, ack: d.ack, flags: d.tcpFlags, window: d.window, hasTs: d.hasTimestamp, tsVal: d.tsVal, tsEcr: d.tsEcr,
    tsOffset: d.tsOffset, sack: Array.from(d.sackEdges.subarray(0, 2 * d.sackCount)), sackOffsets: Array.from(d.sackOffsets.subarray(0, d.sackCount)),
    src: d.srcAddr(), dst: d.dstAddr(), srcPort: d.srcPort, dstPort: d.dstPort, ethDst: d.ethDst(),
    ipStatus: d.ipChecksumStatus, tcpStatus: d.l4ChecksumStatus, l4Len: d.l4Len, tcpChecksum: d.l4Checksum, ipChecksum: d.ipChecksum,
    tcpExpected: d.l4ChecksumExpected,
  }
}

const add = (a: number, b: number) => (a + b) >>> 0
const sub = (a: number, b: number) => (a - b) >>> 0

/** Ranges [start, end) the operation may write, from the INPUT's decode. */
function allowedRanges(op: EngineOperation, s: Snap, c: RandomConn): Array<[number, number]> {
  const al = c.state.addrLen
  const r: Array<[number, number]> = [[s.l4Offset + 16, s.l4Offset + 18]]
  if (s.ipVersion === 4) r.push([s.ipOffset + 10, s.ipOffset + 12])
  if (op === 'rewriteForward' || op === 'invertForward') {
    r.push([s.ipDstOffset, s.ipDstOffset + al], [s.l4Offset + 8, s.l4Offset + 12])
    if (s.ethDstOffset >= 0) r.push([s.ethDstOffset, s.ethDstOffset + 6])
    for (const o of s.sackOffsets) r.push([o, o + 8])
    if (s.tsOffset >= 0) r.push([s.tsOffset + 4, s.tsOffset + 8])
  } else {
    r.push([s.ipSrcOffset, s.ipSrcOffset + al], [s.l4Offset + 4, s.l4Offset + 8], [s.l4Offset + 14, s.l4Offset + 16])
    if (s.tsOffset >= 0) r.push([s.tsOffset, s.tsOffset + 4])
  }
  return r
}

function assertOnlyAllowed(before: Uint8Array, after: Uint8Array, ranges: Array<[number, number]>, what: string): void {
  assert.equal(after.length, before.length)
  for (let i = 0; i < before.length; i++) {
    if (before[i] !== after[i] && !ranges.some(([a, b]) => i >= a && i < b)) assert.fail(`${what}: byte ${i} changed outside the §4 fields`)
  }
}

/** ones-complement difference stored − correct, normalised (0 for equal). */
function onesDiff(stored: number, correct: number): number {
  const d = fold16(stored + (~correct & 0xffff))
  return d === 0xffff ? 0 : d
}

/** The packet with both checksums recomputed from scratch (reference for 'good' inputs). */
function recomputed(frame: Uint8Array, s: Snap): Uint8Array {
  const b = frame.slice()
  if (s.ipVersion === 4) {
    const hl = (b[s.ipOffset] & 15) * 4
    b[s.ipOffset + 10] = 0; b[s.ipOffset + 11] = 0
    const c = ipv4HeaderChecksum(b, s.ipOffset, hl)
    b[s.ipOffset + 10] = c >> 8; b[s.ipOffset + 11] = c & 0xff
  }
  const c = tcpOrUdpChecksum(b, s.ipOffset, s.l4Offset, s.l4Len, 6)
  b[s.l4Offset + 16] = c >> 8; b[s.l4Offset + 17] = c & 0xff
  return b
}

function pseudoHeaderSum(frame: Uint8Array, s: Snap): number {
  return s.ipVersion === 4
    ? pseudoHeaderSumV4(frame, s.ipSrcOffset, s.ipDstOffset, 6, s.l4Len)
    : pseudoHeaderSumV6(frame, s.ipSrcOffset, s.ipDstOffset, 6, s.l4Len)
}

function pseudoFold(frame: Uint8Array, s: Snap): number {
  return fold16(pseudoHeaderSum(frame, s))
}

function expectFieldsForward(c: RandomConn, i: Snap, o: Snap, invert: boolean): void {
  const st = c.state
  const d = invert ? sub(0, st.delta) : st.delta
  const t = invert ? sub(0, st.tau) : st.tau
  assert.equal(o.src, i.src)
  assert.equal(o.dst, invert ? c.values.vip : c.values.baddr)
  assert.equal(o.srcPort, i.srcPort); assert.equal(o.dstPort, i.dstPort)
  assert.equal(o.seq, i.seq)
  assert.equal(o.ack, (i.flags & 0x10) !== 0 ? add(i.ack, d) : i.ack)
  assert.deepEqual(o.sack, i.sack.map((e) => add(e, d)))
  assert.equal(o.tsVal, i.tsVal)
  assert.equal(o.tsEcr, st.tsActive && i.hasTs && i.tsEcr !== 0 ? add(i.tsEcr, t) : i.tsEcr)
  assert.equal(o.window, i.window)
  if (i.ethDstOffset >= 0) assert.equal(o.ethDst, invert ? c.values.feMac : c.values.bmac)
}

function expectFieldsReturn(c: RandomConn, i: Snap, o: Snap): void {
  const st = c.state
  assert.equal(o.src, c.values.vip)
  assert.equal(o.dst, i.dst)
  assert.equal(o.srcPort, i.srcPort); assert.equal(o.dstPort, i.dstPort)
  assert.equal(o.seq, sub(i.seq, st.delta))
  assert.equal(o.ack, i.ack)
  assert.deepEqual(o.sack, i.sack)
  assert.equal(o.tsVal, st.tsActive && i.hasTs ? sub(i.tsVal, st.tau) : i.tsVal)
  assert.equal(o.tsEcr, i.tsEcr)
  const syn = (i.flags & 0x02) !== 0
  const want = st.wsB === st.wsF || syn ? i.window : Math.min(0xffff, (i.window * 2 ** st.wsB) / 2 ** st.wsF | 0)
  assert.equal(o.window, want)
  assert.equal(o.ethDst, i.ethDst)
}

function checkChecksums(p: RandomPacket, i: Snap, out: Uint8Array, o: Snap, what: string): void {
  assert.equal(o.ipStatus, i.ipStatus, `${what}: IPv4 verdict`)
  if (i.ipVersion === 4) assert.equal(o.ipStatus, 'good', what)
  if (p.checksum === 'good') {
    assert.equal(o.tcpStatus, 'good', what)
    assert.deepEqual(out, recomputed(out, o), `${what}: incremental != full recomputation`)
  } else if (p.checksum === 'partial') {
    assert.equal(o.tcpStatus, 'partial', what)
    assert.equal(o.tcpChecksum, pseudoFold(out, o), `${what}: partial field is not the new pseudo-header sum`)
  } else {
    assert.equal(o.tcpStatus, 'bad', what)
    assert.equal(onesDiff(o.tcpChecksum, o.tcpExpected), onesDiff(i.tcpChecksum, i.tcpExpected), `${what}: error not carried over`)
  }
}

function run(seed: number, dir: 'forward' | 'return'): {n: number; inexactWindows: number; exactRescaled: number} {
  const r: Rand = prng(seed)
  let inexactWindows = 0
  let exactRescaled = 0
  let coincidences = 0
  for (let k = 0; k < N; k++) {
    const c = randomConn(r, r() < 0.5 ? 4 : 6)
    const eng = new Engine(c.state, {verify: true})
    const fast = new Engine(c.state)
    const p = randomPacket(r, c, {dir})
    const what = `seed ${seed} #${k} ${p.link} IPv${c.state.family} ${dir} ${p.checksum}`
    const input = p.frame.slice()
    const i = snap(p)
    const op: EngineOperation = dir === 'forward' ? 'rewriteForward' : 'rewriteReturn'
    const res = eng[op](p.frame, p.linkType)
    assert.equal(res.status, 'ok', `${what}: ${res.detail}`)
    assert.equal(res.tcpChecksum === 'full', p.checksum !== 'partial', what)
    const out = p.frame.slice()
    // 6. same bytes without verify
    const other = input.slice()
    assert.equal(fast[op](other, p.linkType).status, 'ok')
    assert.deepEqual(other, out, `${what}: fast path differs`)
    // 1. fields
    const o = snap(p)
    if (dir === 'forward') expectFieldsForward(c, i, o, false)
    else expectFieldsReturn(c, i, o)
    // 2. checksums
    checkChecksums(p, i, out, o, what)
    // 3. only allowed bytes
    assertOnlyAllowed(input, out, allowedRanges(op, i, c), what)
    // 4. inverse
    const inv = dir === 'forward' ? eng.invertForward(p.frame, p.linkType) : eng.invertReturn(p.frame, p.linkType)
    assert.equal(inv.status, 'ok', what)
    const back = p.frame
    const rescaled = dir === 'return' && c.state.wsB !== c.state.wsF && (i.flags & 0x02) === 0
    const tsecrCollapsed = dir === 'forward' && c.state.tsActive && i.hasTs && i.tsEcr !== 0 && o.tsEcr === 0
    if (tsecrCollapsed) {
      // TSecr = 2^32 − τ forwarded to 0, which reads back as "no echo" (documented in forward.ts).
      const b = snap({frame: back, linkType: p.linkType})
      assert.equal(b.tsEcr, 0)
    } else if (!rescaled) {
      assert.deepEqual(back, input, `${what}: inverse(rewrite(p)) != p`)
      assert.equal(inv.windowExact, true)
    } else {
      const b = snap({frame: back, linkType: p.linkType})
      const k2 = c.state.wsB - c.state.wsF
      if (inv.windowExact) {
        exactRescaled++
        assert.ok(k2 > 0, `${what}: only up-scaling can be exact`)
        assert.deepEqual(back, input, `${what}: exact window but bytes differ`)
      } else {
        inexactWindows++
        // Everything but the window and the TCP checksum is restored...
        assertOnlyAllowed(input, back, [[i.l4Offset + 14, i.l4Offset + 16], [i.l4Offset + 16, i.l4Offset + 18]], `${what} inverse`)
        // ...the window is the lowest consistent one, and the checksum is right for it.
        if (k2 > 0) {
          assert.equal(o.window, 0xffff, `${what}: up-scaling is inexact only when clamped`)
          assert.ok(i.window << k2 > 0xffff, `${what}: the original window did clamp`)
          assert.equal(b.window, (0xffff >> k2) + 1, `${what}: lowest window that clamps`)
          assert.ok(b.window <= i.window, what)
        } else {
          const e = -k2
          assert.ok(b.window <= i.window && i.window <= b.window + (1 << e) - 1, `${what}: window ${i.window} not in [${b.window}, +2^${e})`)
        }
        if (p.checksum === 'good') assert.equal(b.tcpStatus, 'good', what)
        if (p.checksum === 'partial') assert.equal(b.tcpStatus, 'partial', what)
      }
    }
    // 5. truncation: a cut inside the payload rewrites to the prefix of the full rewrite.
    const payloadStart = i.l4Offset + (input[i.l4Offset + 12] >> 4) * 4
    if (input.length - payloadStart > 1 && p.checksum !== 'partial') {
      const cutAt = randInt(r, payloadStart, input.length - 1)
      const cut = input.slice(0, cutAt)
      const rc = eng[op](cut, p.linkType, cut.length, input.length)
      assert.equal(rc.status, 'ok', what)
      assert.equal(rc.unverifiable, true, what)
      if (rc.tcpChecksum === 'full') {
        assert.deepEqual(cut, out.subarray(0, cutAt), `${what}: truncated rewrite differs from the full one`)
      } else {
        // The documented 4-in-65536 case (checksum-update.ts): this packet's
        // valid checksum happens to equal the offload pattern, and without the
        // payload nothing can tell, so the cut copy is treated as partial.
        // Everything but the TCP checksum still matches the full rewrite.
        coincidences++
        const f = (input[i.l4Offset + 16] << 8) | input[i.l4Offset + 17]
        const ph = pseudoFold(input, i)
        const len = i.l4Len
        const p0 = fold16(pseudoHeaderSum(input, i) - (len & 0xffff) - (len >>> 16))
        assert.ok([ph, p0, ~ph & 0xffff, ~p0 & 0xffff].includes(f), `${what}: classified partial without the pattern`)
        assertOnlyAllowed(out.subarray(0, cutAt), cut, [[i.l4Offset + 16, i.l4Offset + 18]], `${what} cut`)
      }
    }
  }
  assert.ok(coincidences <= 3, `${coincidences} pattern coincidences: far more than 4/65536 of ${N}`)
  return {n: N, inexactWindows, exactRescaled}
}

test(`forward over ${N} random packets: §4 fields, full-recompute checksums, only allowed bytes, exact inverse`, () => {
  run(0xf0f0, 'forward')
})

test(`return over ${N} random packets: §4 fields, full-recompute checksums, only allowed bytes, inverse (window caveat)`, () => {
  const s = run(0x5eed, 'return')
  // The generator must actually exercise both inverse cases.
  assert.ok(s.inexactWindows > 50, `only ${s.inexactWindows} inexact windows`)
  assert.ok(s.exactRescaled > 50, `only ${s.exactRescaled} exact rescaled windows`)
})

test('packets of the other direction or another connection are left untouched', () => {
  const r = prng(77)
  for (let k = 0; k < 500; k++) {
    const c = randomConn(r, r() < 0.5 ? 4 : 6)
    const eng = new Engine(c.state)
    const pairs: Array<[EngineOperation, 'forward' | 'return' | 'forwarded' | 'returned']> = [
      ['rewriteForward', 'return'], ['rewriteForward', 'forwarded'], ['rewriteReturn', 'forward'], ['rewriteReturn', 'returned'],
      ['invertForward', 'forward'], ['invertReturn', 'return'],
    ]
    for (const [op, dir] of pairs) {
      const p = randomPacket(r, c, {dir})
      const before = p.frame.slice()
      const res = eng[op](p.frame, p.linkType)
      assert.equal(res.status, 'not-this-connection', `${op} on ${dir}`)
      assert.deepEqual(p.frame, before)
    }
  }
})
