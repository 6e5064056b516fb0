// TranslationState construction and validation, the window helpers, the
// statuses of packets the engine must not touch, and the verifier.
import {test} from 'node:test'
import assert from 'node:assert/strict'
import type {HandoffAck, HandoffReq} from '../../analyzer/control/messages.js'
import {buildTcpPacket, buildUdpPacket} from '../../analyzer/wire/build.js'
import {
  Engine, EngineConfigError, EngineVerifyError, RewriteVerifier, TranslationState, rescaleClamps, rescaleWindow, unscaleExact, unscaleWindow,
} from '../../replayer/engine/index.js'
import {buildFrame, linkTypeOf} from '../bench/engine-fixtures.js'

const req = (over: Partial<HandoffReq> = {}): HandoffReq => ({
  v: 1, t: 'handoff-req', node: 'fe1', at: 1, hid: 'fe1/42', cip: '198.51.100.7', cport: 40000, vip: '203.0.113.10', vport: 80,
  ciss: 1, fiss: 0xfffffff0, fts: 1000, fopt: {mss: 1460, ws: 7, sack: true, ts: true}, pkts: [], url: '/img/a.png', ...over,
})
const ack = (over: Partial<HandoffAck> = {}): HandoffAck => ({
  v: 1, t: 'handoff-ack', node: 'be1', at: 2, hid: 'fe1/42', biss: 0x10, bts: 500, bopt: {mss: 1460, ws: 9, sack: true, ts: true},
  baddr: '10.0.0.2', bmac: '02:00:00:00:0b:0e', ...over,
})

test('fromControl: Δ and τ mod 2^32, shifts, addresses', () => {
  const s = TranslationState.fromControl(req(), ack(), {feMac: '02:00:00:00:0f:0e'})
  assert.equal(s.delta, 0x20) // 0x10 − 0xfffffff0 mod 2^32
  assert.equal(s.tsActive, true)
  assert.equal(s.tau, (500 - 1000) >>> 0)
  assert.equal(s.wsF, 7)
  assert.equal(s.wsB, 9)
  assert.equal(s.family, 4)
  assert.deepEqual(s.describe(), {
    cip: '198.51.100.7', cport: 40000, vip: '203.0.113.10', vport: 80, baddr: '10.0.0.2', bmac: '02:00:00:00:0b:0e', feMac: '02:00:00:00:0f:0e',
    delta: 0x20, tsActive: true, tau: (500 - 1000) >>> 0, wsF: 7, wsB: 9,
  })
})

test('fromControl: no window-scale option means shift 0 on that side (RFC 7323: scaling not in effect)', () => {
  const noWs = {mss: 1460, sack: true, ts: true}
  let s = TranslationState.fromControl(req({fopt: noWs}), ack())
  assert.equal(s.wsF, 0); assert.equal(s.wsB, 9)
  s = TranslationState.fromControl(req(), ack({bopt: noWs}))
  assert.equal(s.wsF, 7); assert.equal(s.wsB, 0)
  s = TranslationState.fromControl(req({fopt: noWs}), ack({bopt: noWs}))
  assert.equal(s.wsF, 0); assert.equal(s.wsB, 0)
  // Shifts above 14 are used as 14 (RFC 7323 §2.3).
  s = TranslationState.fromControl(req({fopt: {...noWs, ws: 15}}), ack({bopt: {...noWs, ws: 200}}))
  assert.equal(s.wsF, 14); assert.equal(s.wsB, 14)
})

test('fromControl: timestamps translated only when both SYN/ACKs had them', () => {
  assert.equal(TranslationState.fromControl(req({fopt: {mss: 1460, sack: true, ts: false}, fts: undefined}), ack()).tsActive, false)
  const s = TranslationState.fromControl(req(), ack({bopt: {mss: 1460, sack: true, ts: false}, bts: undefined}))
  assert.equal(s.tsActive, false)
  assert.equal(s.tau, 0)
  assert.throws(() => TranslationState.fromControl(req({fts: undefined}), ack()), /fe1\/42.*fts is missing/)
  assert.throws(() => TranslationState.fromControl(req(), ack({bts: undefined})), /bts is missing/)
})

test('fromControl / fromValues: clear errors', () => {
  assert.throws(() => TranslationState.fromControl(req(), ack({hid: 'fe1/43'})), (e: unknown) =>
    e instanceof EngineConfigError && /fe1\/42 and handoff-ack fe1\/43/.test(e.message))
  assert.throws(() => TranslationState.fromControl(req(), ack({baddr: 'fd00::2'})), /handoff fe1\/42: address families differ/)
  const base = {cip: '198.51.100.7', cport: 1, vip: '203.0.113.10', vport: 80, baddr: '10.0.0.2'}
  assert.throws(() => TranslationState.fromValues(base), /delta, or both fiss and biss/)
  assert.throws(() => TranslationState.fromValues({...base, delta: 1, fiss: 2, biss: 3}), /not both/)
  assert.throws(() => TranslationState.fromValues({...base, delta: 2 ** 32}), /delta must be an unsigned 32-bit/)
  assert.throws(() => TranslationState.fromValues({...base, delta: 1, fts: 5}), /fts and bts must be given together/)
  assert.throws(() => TranslationState.fromValues({...base, delta: 1, cport: 70000}), /cport must be a port/)
  assert.throws(() => TranslationState.fromValues({...base, delta: 1, cip: '1.2.3'}), /cip is not an IPv4 or IPv6 address/)
  assert.throws(() => TranslationState.fromValues({...base, delta: 1, cip: '2001:db8::1'}), /address families differ/)
  assert.throws(() => TranslationState.fromValues({...base, delta: 1, bmac: 'zz'}), /bmac is not a MAC/)
  assert.throws(() => TranslationState.fromValues({...base, delta: 1, wsB: -1}), /wsB must be a window-scale shift/)
  const v6 = TranslationState.fromValues({cip: '2001:db8::1', cport: 1, vip: '2001:db8::2', vport: 2, baddr: 'fd00::2', delta: 3})
  assert.equal(v6.family, 6); assert.equal(v6.addrLen, 16); assert.equal(v6.tsActive, false)
})

test('window helpers: rescale, clamp, inverse and exactness', () => {
  assert.equal(rescaleWindow(0x0123, 7, 5), 0x048c)
  assert.equal(rescaleWindow(0x1234, 2, 7), 0x91)
  assert.equal(rescaleWindow(4, 14, 0), 0xffff)
  assert.equal(rescaleClamps(4, 14, 0), true)
  assert.equal(rescaleClamps(3, 14, 0), false) // 3 << 14 = 0xc000
  assert.equal(unscaleWindow(0x048c, 7, 5), 0x0123); assert.equal(unscaleExact(0x048c, 7, 5), true)
  assert.equal(unscaleWindow(0xffff, 14, 0), 4); assert.equal(unscaleExact(0xffff, 14, 0), false) // lowest that clamps
  assert.equal(unscaleWindow(0x91, 2, 7), 0x91 << 5); assert.equal(unscaleExact(0x91, 2, 7), false)
  // Every window: the inverse's answer maps back to the observation, and is exact iff unique.
  for (const [b, f] of [[7, 5], [2, 7], [14, 0], [0, 14], [9, 2]]) {
    for (let w = 0; w <= 0xffff; w++) {
      const seen = rescaleWindow(w, b, f)
      const back = unscaleWindow(seen, b, f)
      assert.equal(rescaleWindow(back, b, f), seen)
      assert.ok(back <= w)
      if (unscaleExact(seen, b, f)) assert.equal(back, w)
    }
  }
})

const ST = TranslationState.fromValues({cip: '198.51.100.7', cport: 40000, vip: '203.0.113.10', vport: 80, baddr: '10.0.0.2', delta: 1, tau: 1})
const FWD = {src: '198.51.100.7', dst: '203.0.113.10', srcPort: 40000, dstPort: 80, seq: 1, ack: 2, options: {timestamp: {tsVal: 1, tsEcr: 2}}, payload: 'x'}

function statusOf(frame: Uint8Array, linkType = 1, capLen = frame.length, origLen = capLen): string {
  const before = frame.slice()
  const r = new Engine(ST).rewriteForward(frame, linkType, capLen, origLen)
  if (r.status !== 'ok') assert.deepEqual(frame, before, `status ${r.status} must leave the frame untouched`)
  return r.status
}

test('statuses: what the engine refuses, and leaves untouched', () => {
  assert.equal(statusOf(buildTcpPacket({...FWD, ethernet: {}})), 'ok')
  assert.equal(statusOf(buildUdpPacket({src: FWD.src, dst: FWD.dst, srcPort: 40000, dstPort: 80, ethernet: {}})), 'not-tcp')
  const arp = new Uint8Array(42); arp[12] = 0x08; arp[13] = 0x06
  assert.equal(statusOf(arp), 'not-tcp')
  assert.equal(statusOf(buildTcpPacket({...FWD, ethernet: {}}), 274), 'unsupported')
  assert.equal(statusOf(buildTcpPacket({...FWD, srcPort: 40001, ethernet: {}})), 'not-this-connection')
  assert.equal(statusOf(buildTcpPacket({...FWD, dst: '203.0.113.11', ethernet: {}})), 'not-this-connection')
  assert.equal(statusOf(buildTcpPacket({...FWD, src: '2001:db8::1', dst: '2001:db8::2', ethernet: {}})), 'not-this-connection')
  assert.equal(statusOf(buildTcpPacket({...FWD, flagsFrag: 0x2000, ethernet: {}})), 'fragment') // MF
  const f = buildTcpPacket({...FWD, ethernet: {}})
  assert.equal(statusOf(f.slice(0, 14 + 10), 1, 24, f.length), 'truncated') // inside the IP header
  assert.equal(statusOf(f.slice(0, 14 + 20 + 25), 1, 59, f.length), 'truncated') // inside the TCP options
  const badOpt = buildTcpPacket({...FWD, rawOptions: Uint8Array.of(8, 20, 0, 0), ethernet: {}})
  assert.equal(statusOf(badOpt), 'malformed')
  const v6rh = buildTcpPacket({...FWD, src: '2001:db8::1', dst: '2001:db8::2', ipv6ExtHeaders: [{type: 43}], ethernet: {}})
  const st6 = TranslationState.fromValues({cip: '2001:db8::1', cport: 40000, vip: '2001:db8::2', vport: 80, baddr: 'fd00::2', delta: 1})
  assert.equal(new Engine(st6).rewriteForward(v6rh, 1).status, 'unsupported')
  // Other link types decode and rewrite.
  for (const link of ['sll', 'sll2', 'null', 'loop', 'raw', 'ipv4'] as const) {
    assert.equal(statusOf(buildFrame(link, FWD), linkTypeOf(link)), 'ok', link)
  }
})

test('the result object is reused (no per-packet allocation) and reset on every call', () => {
  const e = new Engine(ST)
  const a = e.rewriteForward(buildTcpPacket({...FWD, ethernet: {}}), 1)
  assert.equal(a.status, 'ok')
  const b = e.rewriteForward(buildTcpPacket({...FWD, srcPort: 1, ethernet: {}}), 1)
  assert.equal(a, b)
  assert.equal(b.status, 'not-this-connection')
  assert.equal(e.packets, 2)
})

test('verifier: a checksum verdict changed by a rewrite throws EngineVerifyError with the packet index', () => {
  const v = new RewriteVerifier()
  const f = buildTcpPacket({...FWD, ethernet: {}})
  v.check('rewriteForward', 7, f, 1, f.length, f.length, 0, 'good', 'good') // fine
  const badTcp = f.slice(); badTcp[14 + 20 + 16] ^= 0xff
  assert.throws(() => v.check('rewriteForward', 7, badTcp, 1, badTcp.length, badTcp.length, 0, 'good', 'good'), (e: unknown) =>
    e instanceof EngineVerifyError && e.packetIndex === 7 && e.checksum === 'tcp' && e.expected === 'good' && e.actual === 'bad' &&
    /packet 7: rewriteForward left the TCP checksum bad/.test(e.message))
  const badIp = f.slice(); badIp[14 + 10] ^= 0x01
  assert.throws(() => v.check('rewriteReturn', 9, badIp, 1, badIp.length, badIp.length, 0, 'good', 'good'), (e: unknown) =>
    e instanceof EngineVerifyError && e.packetIndex === 9 && e.checksum === 'ipv4-header')
  // A bad input that stays bad is not a verify failure (the engine carries errors over, it does not hide them).
  v.check('rewriteForward', 1, badTcp, 1, badTcp.length, badTcp.length, 0, 'good', 'bad')
  // Through the engine: a bad input checksum is rewritten and stays bad, with verify on.
  const e = new Engine(ST, {verify: true})
  const r = e.rewriteForward(badTcp, 1)
  assert.equal(r.status, 'ok')
})

test('a frame inside a larger buffer (start offset) is rewritten exactly like a standalone copy', () => {
  const f = buildTcpPacket({...FWD, payload: 'abcdefg', ethernet: {vlans: [{vid: 5}]}})
  const big = new Uint8Array(100 + f.length + 50).fill(0xee)
  big.set(f, 100)
  const e = new Engine(ST, {verify: true})
  assert.equal(e.rewriteForward(big, 1, f.length, f.length, 100).status, 'ok')
  assert.equal(e.rewriteForward(f, 1).status, 'ok')
  assert.deepEqual(big.subarray(100, 100 + f.length), f)
  assert.ok(big.subarray(0, 100).every((x) => x === 0xee) && big.subarray(100 + f.length).every((x) => x === 0xee))
})

test('hot path allocates nothing: no GC over 1M rewrites of all four kinds (uint32 values near 2^32 included)', async () => {
  const {PerformanceObserver} = await import('node:perf_hooks')
  const st = TranslationState.fromValues({cip: FWD.src, cport: 40000, vip: FWD.dst, vport: 80, baddr: '10.0.0.2', bmac: '02:00:00:00:0b:0e',
    feMac: '02:00:00:00:0f:0e', delta: 0x80000005, tau: 0x90000009, wsF: 2, wsB: 7})
  const p = buildTcpPacket({...FWD, seq: 0xf1234567, ack: 0xe7654321, options: {timestamp: {tsVal: 0xd0000001, tsEcr: 0xc0000002}, sack: [[0x90000000, 0xa0000000]]},
    ethernet: {dst: '02:00:00:00:0f:0e'}})
  const q = buildTcpPacket({src: '10.0.0.2', dst: FWD.src, srcPort: 80, dstPort: 40000, seq: 0xf0000000, ack: 0xe0000000, window: 100,
    options: {timestamp: {tsVal: 0xd0000000, tsEcr: 2}}, payload: 'x', ethernet: {}})
  const e = new Engine(st)
  const round = (n: number) => {
    for (let i = 0; i < n; i++) {
      e.rewriteForward(p, 1); e.invertForward(p, 1); e.rewriteReturn(q, 1); e.invertReturn(q, 1)
    }
  }
  round(50_000) // warm up: let the JIT optimise
  let gcs = 0
  const obs = new PerformanceObserver((l) => { gcs += l.getEntries().length })
  obs.observe({entryTypes: ['gc']})
  round(250_000)
  await new Promise((r) => setTimeout(r, 50))
  obs.disconnect()
  assert.equal(e.result.status, 'ok')
  // A stray collection from the test runner itself is tolerated; per-packet garbage would cause dozens.
  assert.ok(gcs <= 2, `${gcs} garbage collections during 1M rewrites`)
})
