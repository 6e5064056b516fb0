// Clean synthetic traces — every rule of spec §4 kept — raise no check id:
// IPv4, IPv6, no timestamps, window scaling differing (both ways) or absent,
// offloaded checksums on sending-host captures, several handoffs, fewer
// vantage points, one file per vantage point. The distractors in every trace
// (plain TCP with a bad checksum and a reset, a locally served connection
// that ends with a reset from the VIP, a nacked handoff) must not raise any.
import {test} from 'node:test'
import assert from 'node:assert/strict'
import {mkdirSync, mkdtempSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {runCheck} from '../../analyzer/check.js'
import {buildHandoffTrace, type TraceSpec} from '../support/handoff-trace.js'

const dir = mkdtempSync(join(tmpdir(), 'handoff-check-clean-'))
process.on('exit', () => rmSync(dir, {recursive: true, force: true}))

const CLEAN: Record<string, TraceSpec> = {
  'IPv4': {},
  'IPv6': {family: 6},
  'no timestamps': {timestamps: false},
  'IPv6 without timestamps': {family: 6, timestamps: false},
  'wsB < wsF': {wsF: 7, wsB: 3},
  'wsB > wsF': {wsF: 2, wsB: 9},
  'no window scaling': {wsF: null, wsB: null},
  'offloaded checksums on sending hosts': {offload: true},
  'IPv6, offload, wsB ≠ wsF, no timestamps': {family: 6, offload: true, timestamps: false, wsF: 1, wsB: 8},
  'five handoffs': {handoffs: 5},
  'long response': {responseSegments: 12},
  'client side only': {omit: ['lan', 'fe1-inside', 'be1-inside']},
  'LAN only': {omit: ['client', 'fe1-inside', 'be1-inside']},
  'no client side': {omit: ['client']},
  'no node inside': {omit: ['fe1-inside', 'be1-inside']},
  'no control channel': {omit: ['control']},
  'no distractors': {distractors: false},
  'raw IP link type': {link: 'raw'},
  'return segments reordered': {reorder: true},
  'return segments reordered, client side only': {reorder: true, omit: ['lan', 'fe1-inside', 'be1-inside']},
  'client retransmits its request before the handoff': {requestRetransmit: true},
  'BE retransmits a segment': {beRetransmit: true},
  'BE retransmits, client side only': {beRetransmit: true, omit: ['lan', 'fe1-inside', 'be1-inside']},
  'the client resent its SYN (the first lost before the FE): pkts holds the copy the FE got': {synRetransmit: true},
  'the client resent its SYN, client side only': {synRetransmit: true, omit: ['lan', 'fe1-inside', 'be1-inside']},
  'the FE resent its SYN/ACK (the client\'s first ACK lost before the LAN)': {synAckRetransmit: true},
  'a client segment forwarded as the terminate crosses the LAN (20 µs after it): in flight, not late': {forwardInFlight: true},
  'BE keep-alive without data': {beKeepAlive: 'linux'},
  'BE keep-alive with a garbage octet (BSD), not a byte repeated with other content': {beKeepAlive: 'bsd'},
  'BE keep-alive with a garbage octet, client side only': {beKeepAlive: 'bsd', omit: ['lan', 'fe1-inside', 'be1-inside']},
  'raw IP link type, IPv6': {link: 'raw', family: 6},
  'client port reused by a locally served connection': {reusePort: true},
  'client port reused, IPv6, client side only': {reusePort: true, family: 6, omit: ['lan', 'fe1-inside', 'be1-inside']},
}

for (const [name, spec] of Object.entries(CLEAN)) {
  test(`clean: ${name} → no violations`, async () => {
    const path = join(dir, `${name.replace(/[^a-z0-9]+/gi, '_')}.pcapng`)
    const built = buildHandoffTrace(path, spec)
    const r = await runCheck([path])
    assert.deepEqual(r.violations, [])
    assert.equal(r.captureErrors.length, 0)
    const expectHandoffs = spec.omit?.includes('control') ? 0 : built.hids.length
    assert.equal(r.summary.handoffs, expectHandoffs)
    if (!spec.omit?.includes('control')) {
      const handedOff = r.handoffs.filter((h) => h.outcome === 'handed-off')
      assert.equal(handedOff.length, spec.handoffs ?? 1)
      if (spec.distractors !== false) assert.equal(r.handoffs.filter((h) => h.outcome === 'nacked').length, 1)
    }
  })
}

test('clean, one file per vantage point (no interface names; kinds from the file names)', async () => {
  const d = join(dir, 'split')
  mkdirSync(d)
  const built = buildHandoffTrace(d, {split: true, names: {client: '', lan: '', 'fe1-inside': '', 'be1-inside': '', control: ''}})
  assert.equal(built.files.length, 5)
  const r = await runCheck(built.files)
  assert.deepEqual(r.violations, [])
  assert.deepEqual(r.views.map((v) => v.vantage).sort(), ['client', 'control', 'inside', 'inside', 'lan'])
  const h = r.handoffs.find((x) => x.hid === built.hids[0])!
  assert.ok(h.packetByPacket.retMatched > 0 && h.packetByPacket.forwardMatched > 0)
})

test('a fault is found across files as well', async () => {
  const d = join(dir, 'split-fault')
  mkdirSync(d)
  const built = buildHandoffTrace(d, {split: true, fault: 'window-rescale'})
  const r = await runCheck(built.files)
  assert.deepEqual([...new Set(r.violations.map((v) => v.id))], ['window-rescale'])
  assert.ok(r.violations[0]!.file.endsWith('client.pcapng'))
})
