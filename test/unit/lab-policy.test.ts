// The lab's shared vocabulary: the §6 policy (prefix map, stable hash),
// deterministic bodies, the names and addresses of a planned lab, and the
// request plan of `lab run` (every front-end × every owner).
import {test} from 'node:test'
import assert from 'node:assert/strict'
import {bodyLength, chooseNode, defaultPartition, expectedBody, planLab, stableHash, targetPath, validId} from '../../samples/lab/config.js'
import {planRequests, vantagePoints} from '../../samples/lab/run.js'
import {FAULTS, faultyHid, isFault} from '../../samples/lab/faults.js'

test('stableHash is FNV-1a 32 (known vectors)', () => {
  assert.equal(stableHash(''), 0x811c9dc5)
  assert.equal(stableHash('a'), 0xe40c292c)
  assert.equal(stableHash('foobar'), 0xbf9cf968)
})

test('chooseNode: longest matching prefix, else hash of the path (query ignored) mod N', () => {
  const names = ['n1', 'n2', 'n3']
  const part = {'/img/': 'n1', '/api/': 'n2', '/api/v2/': 'n3'}
  assert.equal(chooseNode('/img/a.png', part, names), 'n1')
  assert.equal(chooseNode('/api/x', part, names), 'n2')
  assert.equal(chooseNode('/api/v2/x', part, names), 'n3')
  assert.equal(chooseNode('/doc/x?q=1', part, names), names[stableHash('/doc/x') % 3])
  assert.equal(chooseNode('/doc/x?q=1', part, names), chooseNode('/doc/x', part, names))
  // a prefix naming a node that does not exist is ignored
  assert.equal(chooseNode('/img/a', {'/img/': 'n9'}, names), names[stableHash('/img/a') % 3])
  assert.equal(targetPath('/a/b#f'), '/a/b')
})

test('expectedBody is deterministic, names the node and has the planned length', () => {
  const a = expectedBody('/api/x', 'n2')
  assert.ok(a.equals(expectedBody('/api/x', 'n2')))
  assert.equal(a.length, bodyLength('/api/x'))
  assert.ok(a.subarray(0, 30).toString().startsWith('served-by n2 path /api/x\n'))
  assert.equal(a[a.length - 1], 0x0a)
  const b = expectedBody('/api/x', 'n1')
  assert.ok(!a.equals(b), 'bodies of different nodes must differ')
  assert.ok(b.subarray(b.indexOf(0x0a)).equals(a.subarray(a.indexOf(0x0a))), 'only the first line names the node')
  for (const p of ['/', '/x', '/img/1.png']) {
    const n = bodyLength(p)
    assert.ok(n >= 200 && n < 24200)
  }
})

test('planLab: names, addresses, MACs and interface names', () => {
  const st = planLab('ab12', 3)
  assert.deepEqual(st.namespaces.sort(), ['ho-ab12-cl', 'ho-ab12-d1', 'ho-ab12-d2', 'ho-ab12-d3', 'ho-ab12-lan', 'ho-ab12-s1', 'ho-ab12-s2', 'ho-ab12-s3'])
  assert.deepEqual(st.nodes.map((n) => n.addr), ['10.77.0.11', '10.77.0.12', '10.77.0.13'])
  assert.deepEqual(st.nodes.map((n) => n.ctlAddr), ['10.77.200.1', '10.77.200.2', '10.77.200.3'])
  assert.deepEqual(st.nodes.map((n) => n.mac), ['02:77:00:00:00:0b', '02:77:00:00:00:0c', '02:77:00:00:00:0d'])
  for (const a of [...st.client.addrs, ...st.nodes.flatMap((n) => [n.addr, n.ctlAddr])]) assert.match(a, /^10\.77\.\d+\.\d+$/)
  for (const n of st.nodes) for (const i of [n.ifInside, n.ifLan, n.ifCtl, n.ifStack, n.lanPort, n.ctlPort]) assert.ok(i.length <= 15)
  assert.deepEqual(st.partition, defaultPartition(3))
  assert.throws(() => planLab('Bad!', 3), /lab id/)
  assert.throws(() => planLab('ok', 0), /--nodes/)
  assert.throws(() => planLab('ok', 10), /--nodes/)
  assert.ok(validId('a1b2c3') && !validId('a1b2c3d') && !validId(''))
})

test('planRequests covers every front-end × every owner, with unique client ports', () => {
  const st = planLab('ab12', 3)
  const items = planRequests(st, 100)
  assert.equal(items.length, 100)
  const pairs = new Set(items.map((i) => `${i.fe}>${i.expect}`))
  for (const fe of ['n1', 'n2', 'n3']) for (const be of ['n1', 'n2', 'n3']) assert.ok(pairs.has(`${fe}>${be}`), `missing ${fe}>${be}`)
  assert.equal(new Set(items.map((i) => i.localPort)).size, 100)
  for (const it of items) assert.equal(it.expect, chooseNode(it.path, st.partition, ['n1', 'n2', 'n3']))
})

test('vantagePoints: client, lan, each node inside, control (spec §7)', () => {
  const st = planLab('ab12', 2)
  const v = vantagePoints(st)
  assert.deepEqual(v.map((x) => x.name), ['client', 'lan', 'n1-inside', 'n2-inside', 'control'])
  assert.deepEqual(v[1].ifaces.map((i) => i.iface), ['cl', 'n1', 'n2'])
  assert.ok(v[1].ifaces.every((i) => i.dir === 'in'), 'LAN ports are captured inbound only, so each frame appears once')
})

test('faults: every id of the brief, applied on every 4th handoff', () => {
  const ids = ['ack-remap', 'sack-remap', 'ts-remap', 'seq-remap', 'tcp-checksum', 'ip-checksum', 'addr-rewrite', 'rst-leak', 'synack-leak',
    'isn-mismatch', 'request-replay', 'window-rescale', 'late-forward', 'handoff-orphan']
  assert.deepEqual(Object.keys(FAULTS).sort(), [...ids].sort())
  for (const id of ids) assert.ok(isFault(id))
  assert.ok(!isFault('toString') && !isFault('stream-gap'))
  assert.deepEqual(['n1/1', 'n1/2', 'n1/4', 'n2/5', 'n3/9', 'x'].map(faultyHid), [true, false, false, true, true, false])
})
