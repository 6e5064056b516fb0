// Vantage points (spec §7): from the lab's interface names, from file names,
// from --vantage, and the LAN default.
import {test} from 'node:test'
import assert from 'node:assert/strict'
import {mkdtempSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {runCheck} from '../../analyzer/check.js'
import {kindFromName, parseVantageFlag, resolveView} from '../../analyzer/correlate/vantage.js'
import {buildHandoffTrace} from '../support/handoff-trace.js'

const dir = mkdtempSync(join(tmpdir(), 'handoff-check-vantage-'))
process.on('exit', () => rmSync(dir, {recursive: true, force: true}))

test('lab interface names', () => {
  assert.deepEqual(kindFromName('client'), {kind: 'client'})
  assert.deepEqual(kindFromName('lan'), {kind: 'lan'})
  assert.deepEqual(kindFromName('n2-inside'), {kind: 'inside', node: 'n2'})
  assert.deepEqual(kindFromName('be-inside'), {kind: 'inside'})
  assert.deepEqual(kindFromName('fe-inside'), {kind: 'inside'})
  assert.deepEqual(kindFromName('control'), {kind: 'control'})
  assert.equal(kindFromName('eth0'), null)
})

test('--vantage values', () => {
  assert.deepEqual(parseVantageFlag('eth0=be-inside'), {spec: 'eth0', kind: 'inside'})
  assert.deepEqual(parseVantageFlag('a.pcap#1=client'), {spec: 'a.pcap#1', kind: 'client'})
  assert.throws(() => parseVantageFlag('eth0'), /expected IFACE=/)
  assert.throws(() => parseVantageFlag('eth0=middle'), /unknown vantage point/)
})

test('resolution order: flag, interface name, file name, LAN default', () => {
  const a = [{spec: 'eth0', kind: 'client' as const}]
  assert.equal(resolveView(0, 'x.pcapng', 0, 'eth0', a).kind, 'client')
  assert.equal(resolveView(0, 'x.pcapng', 0, 'lan', []).from, 'name')
  assert.equal(resolveView(0, '/tmp/be1-inside.pcap.gz', 0, undefined, []).kind, 'inside')
  const d = resolveView(0, 'x.pcapng', 0, 'eth7', [])
  assert.equal(d.kind, 'lan')
  assert.equal(d.from, 'default')
  assert.equal(resolveView(0, 'dir/x.pcapng', 3, undefined, [{spec: 'x.pcapng#3', kind: 'control'}]).kind, 'control')
})

test('unnamed interfaces: --vantage tells each one; without it their traffic does (the FE inside stays LAN)', async () => {
  const path = join(dir, 'unnamed.pcapng')
  const b = buildHandoffTrace(path, {names: {client: 'eth0', lan: 'eth1', 'fe1-inside': 'eth2', 'be1-inside': 'eth3', control: 'eth4'}})
  const flags = [['eth0', 'client'], ['eth1', 'lan'], ['eth2', 'fe-inside'], ['eth3', 'be-inside'], ['eth4', 'control']].map(([i, k]) => parseVantageFlag(`${i}=${k}`))
  const r = await runCheck([path], {vantage: flags})
  assert.deepEqual(r.violations, [])
  assert.deepEqual(r.views.map((v) => v.from), ['flag', 'flag', 'flag', 'flag', 'flag'])
  const h = r.handoffs.find((x) => x.hid === b.hids[0])!
  assert.ok(h.packetByPacket.retMatched > 0)
  // Without the flags the legs each view shows place it (correlate/vantage-infer.ts), the same judging as with them.
  // The FE inside shows only the client's side of the handshake and request: it stays LAN, which changes nothing here.
  const d = await runCheck([path])
  assert.deepEqual(d.views.map((v) => `${v.name}=${v.vantage}/${v.from}`),
    ['eth0=client/traffic', 'eth1=lan/traffic', 'eth2=lan/default', 'eth3=inside/traffic', 'eth4=control/traffic'])
  assert.deepEqual(d.violations, [])
  assert.deepEqual(d.handoffs.find((x) => x.hid === b.hids[0])!.packetByPacket, h.packetByPacket)
  // With the views' evidence hidden (the control channel names no handoff), nothing is placed: all LAN by default.
  const noCtl = join(dir, 'unnamed-noctl.pcapng')
  buildHandoffTrace(noCtl, {omit: ['control'], names: {client: 'eth0', lan: 'eth1', 'fe1-inside': 'eth2', 'be1-inside': 'eth3'}})
  const n = await runCheck([noCtl])
  assert.ok(n.views.every((v) => v.vantage === 'lan' && v.from === 'default'))
})
