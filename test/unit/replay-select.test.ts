// Selection (--hid, --flow, --client) and the live sink's accounting, without
// a network: a stand-in injector.
import {test} from 'node:test'
import assert from 'node:assert/strict'
import type {HandoffAck, HandoffReq} from '../../analyzer/control/messages.js'
import {buildSchedule} from '../../replayer/schedule/index.js'
import {parseFlow, selectHandoffs, SelectError, type ControlHandoff} from '../../replayer/select/index.js'
import {LiveSink, SinkError, formatForPath} from '../../replayer/sinks/index.js'

function handoff(hid: string, cip: string, cport: number, vip: string, baddr: string): ControlHandoff {
  const opt = {mss: 1460, sack: true, ts: false}
  const req: HandoffReq = {v: 1, t: 'handoff-req', node: 'fe1', at: 0, hid, cip, cport, vip, vport: 80, ciss: 1, fiss: 2, fopt: opt, pkts: [], url: '/'}
  const ack: HandoffAck = {v: 1, t: 'handoff-ack', node: 'be1', at: 0, hid, biss: 3, bopt: opt, baddr, bmac: '02:00:00:00:00:02'}
  const at = {tsSec: 0, tsNsec: 0, file: 'x', frame: 1, channel: '10.77.0.1|45000-10.77.0.2|7070'}
  return {hid, req: {msg: req, ...at}, ack: {msg: ack, ...at}, terminate: null, nacked: false}
}

const ALL = [
  handoff('fe1/1', '10.77.0.5', 40000, '10.77.0.1', '10.77.0.2'),
  handoff('fe1/2', '10.77.0.6', 40001, '10.77.0.1', '10.77.0.3'),
  handoff('fe1/3', 'fd77::a', 40002, 'fd77::1', 'fd77::2'),
]
const hids = (xs: ControlHandoff[]) => xs.map((h) => h.hid)

test('parseFlow: IPv4, bracketed IPv6 (canonicalised), and clear errors', () => {
  assert.deepEqual(parseFlow('10.77.0.5:40000-10.77.0.1:80'), {a: {addr: '10.77.0.5', port: 40000}, b: {addr: '10.77.0.1', port: 80}})
  assert.deepEqual(parseFlow('[fd77:0::A]:40002-[fd77::1]:80'), {a: {addr: 'fd77::a', port: 40002}, b: {addr: 'fd77::1', port: 80}})
  assert.throws(() => parseFlow('10.77.0.5-10.77.0.1:80'), SelectError)
  assert.throws(() => parseFlow('10.77.0.5:40000-10.77.0.1:99999'), /over 65535/)
  assert.throws(() => parseFlow('fd77::a:1-fd77::1:80'), /ADDR:PORT/)
  assert.throws(() => parseFlow('10.77.0.300:1-10.77.0.1:80'), /not an IPv4 or IPv6 address/)
})

test('default: every handoff; --hid / --flow (either direction, VIP or BE side) / --client', () => {
  assert.deepEqual(hids(selectHandoffs(ALL, {}).selected), ['fe1/1', 'fe1/2', 'fe1/3'])
  assert.deepEqual(hids(selectHandoffs(ALL, {hids: ['fe1/2', 'fe1/3']}).selected), ['fe1/2', 'fe1/3'])
  assert.deepEqual(hids(selectHandoffs(ALL, {flows: [parseFlow('10.77.0.1:80-10.77.0.5:40000')]}).selected), ['fe1/1'])
  assert.deepEqual(hids(selectHandoffs(ALL, {flows: [parseFlow('10.77.0.6:40001-10.77.0.3:80')]}).selected), ['fe1/2'])
  assert.deepEqual(hids(selectHandoffs(ALL, {clients: ['fd77:0:0::a']}).selected), ['fe1/3'])
  // Different kinds must all hold.
  assert.deepEqual(hids(selectHandoffs(ALL, {clients: ['10.77.0.5'], hids: ['fe1/2']}).selected), [])
})

test('selectors that match nothing are reported', () => {
  const r = selectHandoffs(ALL, {hids: ['fe1/1', 'fe9/9'], clients: ['10.77.0.99'], flows: [parseFlow('10.77.0.5:1-10.77.0.1:80')]})
  assert.deepEqual(r.unmatched, ['--hid fe9/9', '--flow 10.77.0.5:1-10.77.0.1:80', '--client 10.77.0.99'])
})

test('file format by extension', () => {
  assert.equal(formatForPath('a.pcap'), 'pcap')
  assert.equal(formatForPath('a.PCAPNG'), 'pcapng')
  assert.equal(formatForPath('a.out'), 'pcapng')
})

test('live sink: counts failures, keeps the first error, stops after 100 in a row, checks link types', async () => {
  const sent: number[] = []
  let calls = 0
  const inj = {
    linkType: 1,
    inject: (f: Uint8Array) => {
      calls++
      if (calls % 3 === 0) throw new Error(`inject on "t0" failed for a ${f.length}-byte frame`)
      sent.push(f.length)
    },
    close: () => undefined,
  }
  const frames = [{data: new Uint8Array(60), linkType: 1}, {data: new Uint8Array(100), linkType: 1}]
  const sink = LiveSink.over('t0', inj)
  const r = await sink.run(frames, buildSchedule([0, 0], [0, 0], {mode: 'topspeed', loop: 3}), {measureGaps: false})
  assert.equal(r.attempted, 6)
  assert.equal(r.packets, 4)
  assert.equal(r.failures, 2)
  assert.equal(r.bytes, 60 + 100 + 100 + 60)
  assert.match(r.firstError!, /60-byte frame/)
  assert.throws(() => sink.checkLinkType([{data: new Uint8Array(40), linkType: 101}], () => 'packet 1'), (e: Error) => e instanceof SinkError && /RAW frame.*ETHERNET/.test(e.message))

  const dead = LiveSink.over('t1', {linkType: 1, inject: () => { throw new Error('down') }, close: () => undefined})
  const d = await dead.run(frames, buildSchedule([0, 0], [0, 0], {mode: 'topspeed', loop: 1000}), {measureGaps: false})
  assert.equal(d.failures, 100)
  assert.equal(d.stoppedOnFailures, true)
  assert.equal(d.interrupted, false)
  assert.throws(() => LiveSink.open('any'), /cannot inject on "any"/)
})
