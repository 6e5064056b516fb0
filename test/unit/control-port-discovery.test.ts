// The control-port sniffer (control/port-discovery.ts) on hand-made segments:
// a whole §3 frame at the start of a segment votes for its connection's
// ports; the listening port wins on distinct connections, then on a captured
// SYN, then on the lower number; a frame on 7070 settles it; look-alikes do
// not count.
import {test} from 'node:test'
import assert from 'node:assert/strict'
import {ControlPortSniffer} from '../../analyzer/control/port-discovery.js'
import {encodeFrame} from '../../analyzer/control/codec.js'
import {buildTcpPacket} from '../../analyzer/wire/build.js'
import {LINKTYPE} from '../../analyzer/wire/linktype.js'

const hello = encodeFrame({v: 1, t: 'hello', node: 'n1', at: 1, addr: '10.77.0.11', mac: '02:00:00:00:00:01'})

function feed(s: ControlPortSniffer, src: string, sp: number, dst: string, dp: number, payload: Uint8Array | string, flags = 'P.'): void {
  const p = buildTcpPacket({src, dst, srcPort: sp, dstPort: dp, seq: 1, ack: 1, flags, payload, ethernet: {src: '02:00:00:00:00:01', dst: '02:00:00:00:00:02'}})
  s.packet(LINKTYPE.ETHERNET, p, p.length, p.length, 0)
}

test('the port common to the most connections is the listening port', () => {
  const s = new ControlPortSniffer()
  feed(s, '10.77.0.11', 40001, '10.77.0.12', 9000, hello)
  feed(s, '10.77.0.13', 40002, '10.77.0.12', 9000, hello)
  feed(s, '10.77.0.12', 9000, '10.77.0.11', 40001, hello)
  assert.deepEqual(s.choice(), {port: 9000, how: 'found', frames: 3, connections: 2})
})

test('one connection: the SYN tells the listener, else the lower port', () => {
  const a = new ControlPortSniffer()
  feed(a, '10.77.0.12', 60001, '10.77.0.11', 9100, new Uint8Array(0), 'S')
  feed(a, '10.77.0.12', 60001, '10.77.0.11', 9100, hello)
  assert.equal(a.choice().port, 9100)
  const b = new ControlPortSniffer()
  feed(b, '10.77.0.11', 61000, '10.77.0.12', 60001, hello)
  assert.equal(b.choice().port, 60001)
})

test('a frame on 7070 settles it; look-alikes and other traffic do not vote', () => {
  const s = new ControlPortSniffer()
  feed(s, '10.77.0.11', 40001, '10.77.0.12', 80, 'GET / HTTP/1.1\r\n\r\n')
  // Length prefix and a map, but not a message (no v / t): not a vote.
  feed(s, '10.77.0.11', 40001, '10.77.0.12', 9000, new Uint8Array([0, 0, 0, 3, 0x81, 0xa1, 0x78]))
  // A frame cut short (length says more than the segment holds).
  feed(s, '10.77.0.11', 40001, '10.77.0.12', 9000, hello.subarray(0, hello.length - 1))
  assert.deepEqual(s.choice(), {port: 7070, how: 'default'})
  assert.equal(s.onDefault, false)
  feed(s, '10.77.0.11', 40001, '10.77.0.12', 7070, hello)
  assert.equal(s.onDefault, true)
  assert.deepEqual(s.choice(), {port: 7070, how: 'default'})
})
