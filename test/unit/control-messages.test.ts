// validateMessage (spec §3 message rules) and the address syntax it enforces.
import {test} from 'node:test'
import assert from 'node:assert/strict'
import {checkAddress, formatIPv6, MsgpackFloat, parseIPv6, validateMessage} from '../../analyzer/control/index.js'
import type {HandoffReq} from '../../analyzer/control/index.js'

const AT = 1800000000123456

const req: HandoffReq = {
  v: 1,
  t: 'handoff-req',
  node: 'fe1',
  at: AT,
  hid: 'fe1/42',
  cip: '192.0.2.7',
  cport: 51000,
  vip: '10.0.0.100',
  vport: 80,
  ciss: 0x12345678,
  fiss: 0xfedcba98,
  fts: 7,
  fopt: {mss: 1460, ws: 7, sack: true, ts: true},
  pkts: [Uint8Array.of(0x45, 0, 0x14)],
  url: '/img/a.png',
  host: 'example.com',
}

function codeOf(obj: unknown): string {
  const r = validateMessage(obj)
  return r.ok ? 'ok' : r.code
}

function detailOf(obj: unknown): string {
  const r = validateMessage(obj)
  return r.ok ? '' : r.detail
}

test('a valid message comes back normalised, in table order', () => {
  const r = validateMessage({zz: 1, ...req})
  assert.ok(r.ok)
  assert.deepEqual(r.msg, req)
  assert.deepEqual(Object.keys(r.msg), ['v', 't', 'node', 'at', 'hid', 'cip', 'cport', 'vip', 'vport', 'ciss', 'fiss', 'fts', 'fopt', 'pkts', 'url', 'host'])
})

test('owned: a map with just the keys of the message, in order, is the message itself; any other is copied', () => {
  const mine = structuredClone(req)
  const r = validateMessage(mine, true)
  assert.ok(r.ok)
  assert.equal(r.msg, mine)
  // fopt is made anew (only its spec keys), bigints become numbers: in place, the keys' order kept.
  const big = {...structuredClone(req), v: 1n, ciss: 0x12345678n, fopt: {mss: 1460, ws: 7, sack: true, ts: true, zz: 1}}
  const b = validateMessage(big, true)
  assert.ok(b.ok)
  assert.equal(b.msg, big)
  assert.deepEqual(b.msg, req)
  // An unknown key, a nil optional key, another order, a null prototype: a copy, as without owned.
  const {fts: _fts, ...noFts} = structuredClone(req)
  const tFirst = Object.fromEntries(Object.entries(structuredClone(req)).sort(([a], [b]) => Number(b === 't') - Number(a === 't')))
  for (const other of [{zz: 1, ...structuredClone(req)}, {...structuredClone(req), zz: 1}, {...structuredClone(req), fts: null},
    tFirst, Object.assign(Object.create(null), structuredClone(req)), {...noFts, fts: 7}]) {
    const o = validateMessage(other, true)
    assert.ok(o.ok)
    assert.notEqual(o.msg, other)
    assert.deepEqual(o.msg, validateMessage(other).ok ? (validateMessage(other) as {msg: unknown}).msg : null)
  }
  // Not owned: never the object given.
  const given = structuredClone(req)
  const n = validateMessage(given)
  assert.ok(n.ok)
  assert.notEqual(n.msg, given)
})

test('not-a-map: array, string, int, nil, bin, float, Map instance', () => {
  for (const v of [[1, 2, 3], 'abc', 42, null, undefined, Uint8Array.of(1), new MsgpackFloat(1), new Map([['v', 1]])]) {
    assert.equal(codeOf(v), 'not-a-map', String(v))
  }
  // A null-prototype object (what the reader returns) is a map.
  assert.equal(codeOf(Object.assign(Object.create(null), req)), 'ok')
})

test('v: missing, wrong type, other version', () => {
  const {v: _v, ...noV} = req
  assert.equal(codeOf(noV), 'missing-key')
  assert.equal(codeOf({...req, v: null}), 'missing-key')
  assert.equal(codeOf({...req, v: '1'}), 'wrong-type')
  assert.equal(codeOf({...req, v: new MsgpackFloat(1)}), 'wrong-type')
  assert.equal(codeOf({...req, v: 2}), 'bad-version')
  assert.equal(codeOf({...req, v: 0}), 'bad-version')
  assert.equal(codeOf({...req, v: 1n}), 'ok')
  // v is checked before t: a v2 message with a type we do not know is a version problem.
  assert.equal(codeOf({...req, v: 2, t: 'new-thing'}), 'bad-version')
})

test('t: missing, wrong type, unknown', () => {
  assert.equal(codeOf({...req, t: undefined}), 'missing-key')
  assert.equal(codeOf({...req, t: 7}), 'wrong-type')
  assert.equal(codeOf({...req, t: 'handoff-maybe'}), 'unknown-type')
  assert.equal(codeOf({...req, t: 'HELLO'}), 'unknown-type')
})

test('missing required keys, per type; nil counts as missing', () => {
  for (const k of ['node', 'at', 'hid', 'cip', 'cport', 'vip', 'vport', 'ciss', 'fiss', 'fopt', 'pkts', 'url']) {
    const m: Record<string, unknown> = {...req}
    delete m[k]
    assert.equal(codeOf(m), 'missing-key', k)
    assert.match(detailOf(m), new RegExp(`^${k}:`))
    assert.equal(codeOf({...req, [k]: null}), 'missing-key', `${k}: nil`)
  }
  assert.equal(codeOf({v: 1, t: 'ping', node: 'a', at: 1}), 'missing-key')
  assert.equal(codeOf({v: 1, t: 'terminate', node: 'a', at: 1, hid: 'x', reason: 'fin', cbytes: 0}), 'missing-key')
  assert.equal(codeOf({...req, fopt: {ws: 7, sack: true, ts: true}}), 'missing-key')
  assert.match(detailOf({...req, fopt: {mss: 1, ws: 7, ts: true}}), /^fopt\.sack:/)
})

test('optional keys absent or nil are omitted from the result', () => {
  const r = validateMessage({...req, fts: null, host: null, fopt: {...req.fopt, ws: null}})
  assert.ok(r.ok)
  assert.equal('fts' in r.msg, false)
  assert.equal('host' in r.msg, false)
  assert.equal('ws' in (r.msg as HandoffReq).fopt, false)
})

test('uint32 fields: string, float, negative, > 2^32-1 are wrong-type; bigint accepted', () => {
  assert.equal(codeOf({...req, ciss: '305419896'}), 'wrong-type')
  assert.equal(codeOf({...req, ciss: 1.5}), 'wrong-type')
  assert.equal(codeOf({...req, ciss: new MsgpackFloat(2)}), 'wrong-type')
  assert.equal(codeOf({...req, ciss: -1}), 'wrong-type')
  assert.equal(codeOf({...req, ciss: 2 ** 32}), 'wrong-type')
  assert.equal(codeOf({...req, fts: 2n ** 32n}), 'wrong-type')
  assert.equal(codeOf({...req, fiss: true}), 'wrong-type')
  const r = validateMessage({...req, ciss: 0xffffffffn})
  assert.ok(r.ok)
  assert.equal((r.msg as HandoffReq).ciss, 0xffffffff)
  assert.equal(typeof (r.msg as HandoffReq).ciss, 'number')
})

test('at: above 2^32 as number or bigint, normalised to number; beyond 2^53 refused', () => {
  for (const at of [AT, BigInt(AT), 0, 2 ** 53 - 1]) {
    const r = validateMessage({...req, at})
    assert.ok(r.ok, String(at))
    assert.equal(r.msg.at, Number(at))
    assert.equal(typeof r.msg.at, 'number')
  }
  assert.equal(codeOf({...req, at: 2n ** 53n}), 'bad-value')
  assert.equal(codeOf({...req, at: 2n ** 64n - 1n}), 'bad-value')
  assert.equal(codeOf({...req, at: -1}), 'wrong-type')
  assert.equal(codeOf({...req, at: new MsgpackFloat(AT)}), 'wrong-type')
})

test('ports, mss and ws ranges', () => {
  assert.equal(codeOf({...req, cport: 65535}), 'ok')
  assert.equal(codeOf({...req, cport: 65536}), 'bad-value')
  assert.equal(codeOf({...req, vport: '80'}), 'wrong-type')
  assert.equal(codeOf({...req, fopt: {...req.fopt, mss: 65536}}), 'bad-value')
  assert.equal(codeOf({...req, fopt: {...req.fopt, ws: 256}}), 'bad-value')
  assert.equal(codeOf({...req, fopt: {...req.fopt, sack: 1}}), 'wrong-type')
  assert.equal(codeOf({...req, fopt: [1460]}), 'wrong-type')
})

test('strings: names must be non-empty strs; err and host may be empty', () => {
  assert.equal(codeOf({...req, node: ''}), 'bad-value')
  assert.equal(codeOf({...req, hid: 42}), 'wrong-type')
  assert.equal(codeOf({...req, url: Uint8Array.of(0x2f)}), 'wrong-type')
  assert.equal(codeOf({...req, host: ''}), 'ok')
  assert.equal(codeOf({v: 1, t: 'handoff-nack', node: 'b', at: 1, hid: 'x', err: ''}), 'ok')
})

test('pkts must be an array of bin', () => {
  assert.equal(codeOf({...req, pkts: []}), 'ok')
  assert.equal(codeOf({...req, pkts: Uint8Array.of(1)}), 'wrong-type')
  assert.equal(codeOf({...req, pkts: [Uint8Array.of(1), 'x']}), 'wrong-type')
  assert.match(detailOf({...req, pkts: [Uint8Array.of(1), 'x']}), /^pkts\[1\]/)
})

test('terminate reason enum', () => {
  const base = {v: 1, t: 'terminate', node: 'b', at: 1, hid: 'x', cbytes: 0, sbytes: 0}
  for (const reason of ['fin', 'rst', 'timeout']) assert.equal(codeOf({...base, reason}), 'ok')
  assert.equal(codeOf({...base, reason: 'FIN'}), 'bad-value')
  assert.equal(codeOf({...base, reason: 1}), 'wrong-type')
})

test('hello: mac format and address', () => {
  const base = {v: 1, t: 'hello', node: 'fe1', at: 1, addr: '10.0.0.1'}
  assert.equal(codeOf({...base, mac: 'aa:bb:cc:dd:ee:ff'}), 'ok')
  for (const mac of ['AA:BB:CC:DD:EE:FF', 'aa-bb-cc-dd-ee-ff', 'aa:bb:cc:dd:ee', 'aabb.ccdd.eeff', 'aa:bb:cc:dd:ee:ff:00', 'a:bb:cc:dd:ee:ff']) {
    assert.equal(codeOf({...base, mac}), 'bad-value', mac)
  }
  assert.equal(codeOf({...base, mac: 'aa:bb:cc:dd:ee:ff', addr: '10.0.0.256'}), 'bad-value')
})

test('IPv4 syntax', () => {
  for (const a of ['0.0.0.0', '10.0.0.1', '255.255.255.255', '192.0.2.7']) assert.equal(checkAddress(a), null, a)
  for (const a of ['256.0.0.1', '10.0.0', '10.0.0.1.2', '010.0.0.1', '10.0.0.01', ' 10.0.0.1', '10.0.0.1/24', '', 'fe1', '1e1.0.0.1']) {
    assert.notEqual(checkAddress(a), null, a)
  }
})

test('IPv6: RFC 5952 canonical form required', () => {
  for (const a of ['::', '::1', '2001:db8::2', 'fe80::1', '2001:db8:0:1:1:1:1:1', '2001:db8::1:0:0:1', '::ffff:192.0.2.1', '2001:db8:1:2:3:4:5:6', '1::']) {
    assert.equal(checkAddress(a), null, a)
  }
  const bad: [string, RegExp][] = [
    ['2001:DB8::2', /expected 2001:db8::2/], // upper case
    ['2001:0db8::2', /expected 2001:db8::2/], // leading zero
    ['2001:db8:0:0:0:0:0:2', /expected 2001:db8::2/], // not compressed
    ['2001::1:0:0:0:1', /expected 2001:0:0:1::1/], // the shorter run compressed instead of the longest
    ['2001:db8:0:1:1:1:1:1'.replace(':0:', '::'), /expected 2001:db8:0:1:1:1:1:1/], // :: for a single group
    ['::ffff:c000:201', /expected ::ffff:192\.0\.2\.1/], // mapped, hex form
    ['fe80::1%eth0', /not an IPv6/],
    ['2001:db8:::2', /not an IPv6/],
    ['1:2:3:4:5:6:7:8:9', /not an IPv6/],
    ['1::2::3', /not an IPv6/],
    ['12345::', /not an IPv6/],
    [':1', /not an IPv6/],
  ]
  for (const [a, why] of bad) assert.match(checkAddress(a) ?? 'ok', why, a)
  // A tie between runs goes to the first one.
  assert.equal(formatIPv6(parseIPv6('1:0:0:2:3:0:0:4')!), '1::2:3:0:0:4')
})
