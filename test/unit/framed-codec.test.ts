// The control spool's own encoding of a FramedMessage (correlate/framed-codec.ts):
// what it writes reads back as the same object — keys in the same order, same
// values and types — and what it does not write (another shape) it refuses,
// so that the spool writes it with record-codec.ts, as before.
import {test} from 'node:test'
import assert from 'node:assert/strict'
import {inspect} from 'node:util'
import {FramedReader, FramedWriter} from '../../analyzer/correlate/framed-codec.js'
import {ControlSpool} from '../../analyzer/correlate/control-spool.js'
import type {FramedMessage} from '../../analyzer/correlate/control.js'
import type {ControlMessage} from '../../analyzer/control/messages.js'
import {PKTS_NOT_KEPT} from '../../analyzer/correlate/control-pass.js'

const show = (m: unknown) => inspect(m, {depth: 9, maxArrayLength: Infinity, breakLength: Infinity})
const AT = 1795677173442314

function framed(msg: ControlMessage, extra: Partial<FramedMessage> = {}, file = 'a.pcapng', tsSec = 1795677173, tsNsec = 443048000): FramedMessage {
  return {msg, file, fileIndex: 0, iface: 0, frame: 90, tsSec, tsNsec, t: tsSec + tsNsec / 1e9,
    direction: '10.77.200.1:7070 > 10.77.200.2:32770', ...extra}
}

const req = (): ControlMessage => ({v: 1, t: 'handoff-req', node: 'n1', at: AT, hid: 'n1/1#0', cip: '10.77.100.1', cport: 20003,
  vip: '10.77.0.1', vport: 80, ciss: 4294967295, fiss: 0, fts: 7, fopt: {mss: 1460, ws: 10, sack: true, ts: false},
  pkts: PKTS_NOT_KEPT, url: '/é/✓' + 'x'.repeat(100), host: 'example.com'})

const GOOD: FramedMessage[] = [
  framed(req(), {pktsPrint: [2262618137, 0, -1, -1]}),
  framed({...req(), fts: undefined, host: undefined} as unknown as ControlMessage, {pktsPrint: []}),
  framed({v: 1, t: 'handoff-ack', node: 'n2', at: AT, hid: 'n1/1#0', biss: 1, bopt: {mss: 1400, sack: false, ts: true},
    baddr: '2001:db8::2', bmac: '02:00:00:00:00:02'}, {}, 'a.pcapng', 1795677174, 0),
  framed({v: 1, t: 'handoff-ack', node: 'n2', at: AT, hid: 'n1/1#0', biss: 1, bts: 0, bopt: {mss: 1400, ws: 0, sack: false, ts: true},
    baddr: '10.0.0.2', bmac: '02:00:00:00:00:02'}, {}, 'b.pcapng'),
  framed({v: 1, t: 'handoff-nack', node: 'n2', at: AT, hid: 'n1/2#0', err: 'überlastet'}),
  framed({v: 1, t: 'terminate', node: 'n2', at: AT, hid: 'n1/1#0', reason: 'fin', cbytes: 2 ** 40, sbytes: 0}, {fileIndex: 3, iface: 2, frame: 2 ** 33}),
  framed({v: 1, t: 'hello', node: 'n1', at: 0, addr: '10.77.200.1', mac: '02:00:00:00:00:01'}),
  framed({v: 1, t: 'ping', node: 'n1', at: AT, n: 5}),
  framed({v: 1, t: 'pong', node: 'n1', at: AT, n: 5}, {direction: 'x'.repeat(70)}),
]
// The optional keys left out rather than undefined.
delete (GOOD[1]!.msg as unknown as Record<string, unknown>)['fts']
delete (GOOD[1]!.msg as unknown as Record<string, unknown>)['host']

test('every record of the usual shape reads back as it was, keys in order', () => {
  const w = new FramedWriter()
  const r = new FramedReader()
  for (const m of GOOD) {
    const b = w.encode(m)
    assert.ok(b !== null, `refused: ${show(m)}`)
    const at = Buffer.concat([Buffer.from([9, 9]), b, Buffer.from([7])])
    const back = r.decode(at, 2, 2 + b.length)
    assert.equal(show(back), show(m))
    assert.deepEqual(Object.keys(back), Object.keys(m))
    assert.deepEqual(Object.keys(back.msg), Object.keys(m.msg))
  }
})

test('any other shape is refused (and nothing of it remembered)', () => {
  const w = new FramedWriter()
  const base = GOOD[6]!
  const other = (f: (m: Record<string, unknown>, msg: Record<string, unknown>) => void): FramedMessage => {
    const m = {...base, msg: {...base.msg}} as unknown as Record<string, unknown>
    f(m, m['msg'] as Record<string, unknown>)
    return m as unknown as FramedMessage
  }
  const refused: FramedMessage[] = [
    other((m) => { m['extra'] = 1 }),
    other((m) => { m['t'] = 5 }),
    other((m) => { m['frame'] = -1 }),
    other((m) => { m['frame'] = 1.5 }),
    other((m) => { m['pktsPrint'] = [-0] }),
    other((m) => { delete m['file']; m['file'] = 'x' }),
    other((_, msg) => { msg['x'] = 1 }),
    other((_, msg) => { msg['v'] = 2 }),
    other((_, msg) => { delete msg['addr'] }),
    other((_, msg) => { msg['addr'] = 5 }),
    other((_, msg) => { msg['at'] = 2n ** 60n }),
    other((_, msg) => { const mac = msg['mac']; delete msg['mac']; delete msg['addr']; msg['mac'] = mac; msg['addr'] = '10.0.0.1' }),
    framed({...req(), pkts: [Uint8Array.of(1)]} as ControlMessage),
    framed({...req(), fopt: {ws: 1, mss: 1460, sack: true, ts: true}} as ControlMessage, {pktsPrint: []}),
    framed({...req(), fopt: {mss: 1460, sack: true, ts: true, x: 1}} as unknown as ControlMessage, {pktsPrint: []}),
    Object.assign(Object.create(null) as object, base) as FramedMessage,
  ]
  for (const m of refused) assert.equal(w.encode(m), null, show(m))
})

test('the control spool: records of either kind, read back in order, as they were', () => {
  const spool = new ControlSpool()
  try {
    const all: FramedMessage[] = []
    for (let i = 0; i < 3; i++) {
      for (const m of GOOD) all.push(m)
      // Another shape, between two of the usual one: the record codec's, and the "same string" of each stays right.
      all.push({...GOOD[0]!, extra: [1, 2]} as unknown as FramedMessage)
      all.push({...GOOD[2]!, file: 'c.pcapng'})
    }
    for (const m of all) spool.write(m)
    for (let pass = 0; pass < 2; pass++) {
      const r = spool.reader()
      for (const m of all) {
        const back = r.next()
        assert.equal(show(back), show(m))
        assert.deepEqual(Object.keys(back!), Object.keys(m))
      }
      assert.equal(r.next(), null)
    }
  } finally {
    spool.remove()
  }
})
