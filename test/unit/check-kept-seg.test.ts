// KeptSeg (correlate/kept-seg.ts): the segment pass's segments hold their
// uint32 fields as int32 and compute their time; readers must see exactly
// the values given (≥ 2^31 included) and the time the pass computed.
import {test} from 'node:test'
import assert from 'node:assert/strict'
import {KeptSeg} from '../../analyzer/correlate/kept-seg.js'
import type {View} from '../../analyzer/correlate/vantage.js'

const view = {file: 'f', fileIndex: 0, iface: 0, name: 'lan', kind: 'lan', from: 'name'} as unknown as View

function seg(seq: number, ack: number, hash: number, tsVal: number, tsEcr: number, tsSec: number, tsNsec: number): KeptSeg {
  return new KeptSeg(view, 7, tsSec, tsNsec, 1, new Uint8Array(64), 0, 54, 60, false, '10.77.0.1', '10.77.0.2', 1234, 80,
    seq, ack, 0x18, 512, 6, 0, hash, 54, 0, 42, true, tsVal, tsEcr, [], -1, -1, false, 'good', 'good', 'client')
}

test('uint32 fields read back as given, across the int32 boundary', () => {
  for (const v of [0, 1, 0x7fff_ffff, 0x8000_0000, 0x8000_0001, 0xdead_beef, 0xffff_fffe, 0xffff_ffff]) {
    const s = seg(v, (v + 1) >>> 0, v ^ 0x5555_5555, (v + 2) >>> 0, (v + 3) >>> 0, 1_800_000_000, 123_456_789)
    assert.equal(s.seq, v)
    assert.equal(s.ack, (v + 1) >>> 0)
    assert.equal(s.hash, (v ^ 0x5555_5555) >>> 0)
    assert.equal(s.tsVal, (v + 2) >>> 0)
    assert.equal(s.tsEcr, (v + 3) >>> 0)
  }
})

test('time is the seconds plus the nanoseconds, bit for bit as the pass computed it', () => {
  for (const [sec, nsec] of [[0, 0], [1_800_000_000, 999_999_999], [1_700_000_123, 1], [42, 500_000_000]]) {
    assert.equal(seg(1, 2, 3, 4, 5, sec!, nsec!).t, sec! + nsec! / 1e9)
  }
})

test('packed small fields read back as given, at the ends of their ranges', () => {
  const statuses = ['good', 'bad', 'partial', 'unverified', 'none'] as const
  const legs = ['client', 'forward', 'return', 'be-raw', 'fe-own', 'stray-forward', 'stray-return', 'other'] as const
  const cases = [
    {linkType: 0, hdrLen: 0, optOff: 0, sport: 0, dport: 0, flags: 0, window: 0, optLen: 0, mss: -1, ws: -1, v6: false, hasTs: false, sackPerm: false},
    {linkType: 0xffff, hdrLen: 0xffff, optOff: 0xffff, sport: 0xffff, dport: 0xffff, flags: 0xff, window: 0xffff, optLen: 40, mss: 0xffff, ws: 255,
      v6: true, hasTs: true, sackPerm: true},
    {linkType: 276, hdrLen: 94, optOff: 74, sport: 40000, dport: 80, flags: 0x12, window: 64240, optLen: 20, mss: 1460, ws: 7, v6: true, hasTs: false,
      sackPerm: true},
  ]
  for (const c of cases) {
    for (const [i, leg] of legs.entries()) {
      const ip = statuses[i % statuses.length]!
      const tcp = statuses[(i + 2) % statuses.length]!
      const s = new KeptSeg(view, 1, 2, 3, c.linkType, new Uint8Array(8), 0, c.hdrLen, 60, c.v6, 'a', 'b', c.sport, c.dport, 0xffff_ffff, 0, c.flags,
        c.window, 6, 0, 0, c.optOff, c.optLen, -1, c.hasTs, 0, 0, [], c.mss, c.ws, c.sackPerm, ip, tcp, leg)
      const got = {linkType: s.linkType, hdrLen: s.hdrLen, optOff: s.optOff, sport: s.sport, dport: s.dport, flags: s.flags, window: s.window,
        optLen: s.optLen, mss: s.mss, ws: s.ws, v6: s.v6, hasTs: s.hasTs, sackPerm: s.sackPerm}
      assert.deepEqual(got, c)
      assert.deepEqual([s.ipCsum, s.tcpCsum, s.leg, s.seq], [ip, tcp, leg, 0xffff_ffff])
    }
  }
})
