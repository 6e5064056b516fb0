// SessionTable: one entry per bidirectional 5-tuple, whatever the direction,
// for IPv4 and IPv6, across table growth; and ConversationTable's counts.
import {test} from 'node:test'
import assert from 'node:assert/strict'
import {SessionTable} from '../../analyzer/flows/session-table.js'
import {ConversationTable} from '../../analyzer/flows/conversations.js'
import {buildTcpPacket, buildUdpPacket} from '../../analyzer/wire/build.js'
import {PacketDecoder} from '../../analyzer/wire/decode.js'
import {LINKTYPE} from '../../analyzer/wire/linktype.js'
import {prng, randInt} from '../support/random.js'

const dec = new PacketDecoder()
const decode = (p: Uint8Array) => dec.decode(LINKTYPE.ETHERNET, p, p.length, p.length)

interface Tuple {src: string; dst: string; sp: number; dp: number; udp?: boolean}
const pkt = (t: Tuple) => t.udp
  ? buildUdpPacket({src: t.src, dst: t.dst, srcPort: t.sp, dstPort: t.dp, payload: 'x', ethernet: {}})
  : buildTcpPacket({src: t.src, dst: t.dst, srcPort: t.sp, dstPort: t.dp, ethernet: {}})
/** The entry's id, numbering new flows 0, 1, 2, … in order of first appearance. */
function lookup(table: SessionTable<number>, p: Uint8Array): {id: number; created: boolean} {
  const found = table.find(decode(p), 0)
  if (found !== undefined) return {id: found, created: false}
  const id = table.size
  table.set(id)
  return {id, created: true}
}
const reverse = (t: Tuple): Tuple => ({src: t.dst, dst: t.src, sp: t.dp, dp: t.sp, udp: t.udp})

test('both directions of a flow get the same id; different flows different ids (20 000 flows, table grows)', () => {
  const r = prng(7)
  const table = new SessionTable<number>()
  const tuples: Tuple[] = []
  const seen = new Set<string>()
  while (tuples.length < 20000) {
    const v6 = r() < 0.3
    const a = v6 ? `2001:db8::${randInt(r, 1, 0xffff).toString(16)}` : `10.77.${randInt(r, 0, 3)}.${randInt(r, 1, 254)}`
    const b = v6 ? `2001:db8::${randInt(r, 1, 0xffff).toString(16)}` : `10.77.${randInt(r, 0, 3)}.${randInt(r, 1, 254)}`
    const t = {src: a, dst: b, sp: randInt(r, 1, 65535), dp: randInt(r, 1, 65535), udp: r() < 0.1}
    const key = [t.udp, ...[`${a} ${t.sp}`, `${b} ${t.dp}`].sort()].join('|')
    if (seen.has(key)) continue
    seen.add(key)
    tuples.push(t)
  }
  const ids = tuples.map((t) => {
    const {id, created} = lookup(table, pkt(t))
    assert.equal(created, true)
    return id
  })
  assert.deepEqual(ids, tuples.map((_, i) => i), 'ids are 0, 1, 2, … in order of first appearance')
  for (let i = 0; i < tuples.length; i += 7) {
    const {id: fwd, created} = lookup(table, pkt(tuples[i]))
    assert.equal(created, false)
    const fromA = table.fromA
    const {id: rev} = lookup(table, pkt(reverse(tuples[i])))
    assert.equal(fwd, i)
    assert.equal(rev, i)
    assert.equal(table.fromA, !fromA, 'the reverse direction is the other endpoint')
  }
  assert.equal(table.size, 20000)
})

test('TCP and UDP with the same addresses and ports, and a flow between one host\'s two ports, are told apart', () => {
  const table = new SessionTable<number>()
  const t = {src: '10.77.0.1', dst: '10.77.0.2', sp: 1000, dp: 80}
  const tcp = lookup(table, pkt(t)).id
  const udp = lookup(table, pkt({...t, udp: true})).id
  const self1 = lookup(table, pkt({src: '10.77.0.9', dst: '10.77.0.9', sp: 5, dp: 6})).id
  const self2 = lookup(table, pkt({src: '10.77.0.9', dst: '10.77.0.9', sp: 6, dp: 5})).id
  assert.deepEqual([tcp, udp, self1, self2], [0, 1, 2, 2])
})

test('ConversationTable: "a" is the first sender; packets and payload are counted per direction', () => {
  const conv = new ConversationTable()
  const c2s = {src: '10.77.1.5', dst: '10.77.0.10', sp: 40000, dp: 80}
  const add = (t: Tuple, payload: string, flags: string) => {
    const p = buildTcpPacket({src: t.src, dst: t.dst, srcPort: t.sp, dstPort: t.dp, flags, payload, ethernet: {}})
    conv.add(decode(p), 1, 0, 0)
  }
  add(c2s, '', 'S')
  add(reverse(c2s), '', 'S.')
  add(c2s, 'GET / HTTP/1.1\r\n\r\n', 'P.')
  add(reverse(c2s), 'HTTP/1.1 200 OK\r\n\r\nhello', 'P.')
  add(reverse(c2s), '', 'F.')
  const [c] = conv.list()
  assert.equal(conv.size, 1)
  assert.deepEqual([c.a, c.aPort, c.b, c.bPort], ['10.77.1.5', 40000, '10.77.0.10', 80])
  assert.deepEqual([c.packetsAB, c.packetsBA, c.payloadAB, c.payloadBA], [2, 3, 18, 24])
  assert.deepEqual([c.syn, c.synAck, c.fin, c.rst], [true, true, 1, 0])
})
