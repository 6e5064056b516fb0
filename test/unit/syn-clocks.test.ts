// The clock offsets between capture files that decide whether check reads
// them merged (correlate/syn-clocks.ts): shared client SYNs, SYN → request
// gaps for a control-only capture, first packets for what nothing links.
import {test} from 'node:test'
import assert from 'node:assert/strict'
import {SynClocks} from '../../analyzer/correlate/syn-clocks.js'

const T0 = 1_795_677_000

/** Client SYNs of ports 40000… at 1 s steps (plus an offset) into file fi; returns their ISNs. */
function syns(c: SynClocks, fi: number, n: number, offset: number, start = T0): number[] {
  const isns: number[] = []
  for (let i = 0; i < n; i++) {
    const t = start + i + offset
    assert.ok(c.wants(fi, t))
    const isn = (0x9e3779b1 * (i + 1)) >>> 0
    c.syn(fi, 40000 + i, isn, t)
    isns.push(isn)
  }
  return isns
}

test('files sharing client SYNs: the median offset, whatever their first packets', () => {
  const c = new SynClocks(3)
  // File 0 started 30 s earlier (one packet then), same clock as file 1; file 2's clock 0.4 s ahead.
  assert.ok(c.wants(0, T0 - 30))
  syns(c, 0, 20, 0)
  syns(c, 1, 20, 0.0002)
  syns(c, 2, 20, 0.4)
  // An outlier (a SYN retransmitted only one file saw the first copy of) does not move the median.
  c.syn(2, 40000 + 25, 12345, T0 + 99)
  c.syn(1, 40000 + 25, 12345, T0 + 2)
  assert.ok(Math.abs(c.spreadSec() - 0.4) < 1e-6)
})

test('a clock 30 s off is seen; two files that share nothing are compared by their first packets', () => {
  const c = new SynClocks(2)
  syns(c, 0, 10, 0)
  syns(c, 1, 10, 30)
  assert.ok(Math.abs(c.spreadSec() - 30) < 1e-6)
  const d = new SynClocks(2)
  syns(d, 0, 10, 0)
  assert.ok(d.wants(1, T0 + 7))
  assert.ok(Math.abs(d.spreadSec() - 7) < 1e-6)
})

test('a control-only capture: linked by the smallest SYN → handoff-req gap', () => {
  const make = (controlOffset: number) => {
    const c = new SynClocks(2)
    const isns = syns(c, 0, 10, 0)
    // The control capture starts 20 s before the data capture (its first packet), a hello.
    assert.ok(c.wants(1, T0 - 20 + controlOffset))
    // Requests 3 ms to 2.5 s after their SYNs (slow clients too), on the control capture's clock.
    isns.forEach((isn, i) => c.request(1, 40000 + i, isn, T0 + i + (i % 2 === 0 ? 0.003 : 2.5) + controlOffset))
    return c.spreadSec()
  }
  assert.ok(make(0) < 0.01, 'same clock')
  assert.ok(Math.abs(make(-10) - 10) < 0.01, 'control clock 10 s behind')
  assert.ok(Math.abs(make(6) - 6) < 0.01, 'control clock 6 s ahead')
})

test('only the start of each file is looked at', () => {
  const c = new SynClocks(1)
  let n = 0
  while (c.wants(0, T0)) n++
  assert.equal(n, 200_000)
  const d = new SynClocks(1)
  syns(d, 0, 2048, 0)
  assert.equal(d.wants(0, T0), false)
})

test('offsets per file from one file\'s clock: through shared SYNs and requests, with what the links leave unexplained', () => {
  const c = new SynClocks(4)
  const isns = syns(c, 0, 12, 0)
  syns(c, 1, 12, 30) // 30 s ahead of file 0
  syns(c, 2, 12, -4.5) // 4.5 s behind
  // File 3: the control channel alone, 7 s ahead of file 0, its requests 3 ms (and more) after their SYNs.
  isns.forEach((isn, i) => c.request(3, 40000 + i, isn, T0 + i + 7 + 0.003 + (i % 3)))
  assert.ok(Math.abs(c.spreadSec() - 34.5) < 1e-6) // between files 1 and 2
  const from0 = c.offsetsSec(0)!
  const want = [0, 30, -4.5, 7.003]
  from0.offsets.forEach((o, i) => assert.ok(Math.abs(o - want[i]!) < 1e-6, `file ${i}: ${o}`))
  // Three SYN links and three request links, every one of them consistent with the offsets.
  assert.ok(from0.residualSec < 1e-6)
  // From another file's clock: the same offsets, shifted.
  const from3 = c.offsetsSec(3)!
  from3.offsets.forEach((o, i) => assert.ok(Math.abs(o - (want[i]! - 7.003)) < 1e-6, `file ${i}: ${o}`))
})

test('offsets: none when a file is linked to nothing; the residual shows links that do not add up', () => {
  const c = new SynClocks(3)
  syns(c, 0, 10, 0)
  syns(c, 1, 10, 3)
  assert.ok(c.wants(2, T0)) // a packet, no SYN shared
  assert.equal(c.offsetsSec(0), null)
  // Three files whose pairwise medians disagree: 0 → 1 +3 s, 1 → 2 +3 s, but 0 → 2 +10 s (each pair its own SYNs).
  const d = new SynClocks(3)
  const pair = (a: number, b: number, port: number, delta: number) => {
    for (let i = 0; i < 5; i++) {
      d.syn(a, port + i, 777 + i, T0 + i)
      d.syn(b, port + i, 777 + i, T0 + i + delta)
    }
  }
  pair(0, 1, 40000, 3)
  pair(1, 2, 50000, 3)
  pair(0, 2, 60000, 10)
  const r = d.offsetsSec(0)!
  assert.ok(Math.abs(r.offsets[1]! - 3) < 1e-6)
  // Placed from file 0 by its own links (file 2 at +10 s): the link 1 → 2 disagrees by 4 s.
  assert.ok(Math.abs(r.offsets[2]! - 10) < 1e-6)
  assert.ok(Math.abs(r.residualSec - 4) < 1e-6, `residual ${r.residualSec}`)
})
