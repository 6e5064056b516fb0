import {test} from 'node:test'
import assert from 'node:assert/strict'
import {seqAdd, seqDiff, seqGe, seqGt, seqInWindow, seqLe, seqLt, seqMax, seqMin, seqSub} from '../../analyzer/wire/serial.js'

test('seqAdd/seqSub wrap modulo 2^32 and return uint32', () => {
  assert.equal(seqAdd(0xffffffff, 1), 0)
  assert.equal(seqAdd(0xfffffff0, 0x20), 0x10)
  assert.equal(seqAdd(5, -10), 0xfffffffb)
  assert.equal(seqSub(0x10, 0x20), 0xfffffff0)
  assert.equal(seqSub(0, 1), 0xffffffff)
  assert.equal(seqSub(0x80000000, 0), 0x80000000)
  // Δ = biss − fiss mod 2^32 as in spec §4, and back again.
  const fiss = 0xfffff000, biss = 0x00001000
  const delta = seqSub(biss, fiss)
  assert.equal(delta, 0x2000)
  assert.equal(seqAdd(fiss, delta), biss)
  assert.equal(seqSub(biss, delta), fiss)
  for (const v of [seqAdd(0x7fffffff, 0x7fffffff), seqSub(1, 2), seqAdd(-1, 0)]) {
    assert.ok(Number.isInteger(v) && v >= 0 && v <= 0xffffffff)
  }
})

test('seqDiff is the signed 32-bit distance', () => {
  assert.equal(seqDiff(5, 0xfffffffe), 7)
  assert.equal(seqDiff(0xfffffffe, 5), -7)
  assert.equal(seqDiff(100, 100), 0)
  assert.equal(seqDiff(0x80000000, 0), -0x80000000)
})

test('serial comparison (RFC 1982) across the wrap', () => {
  assert.ok(seqLt(0xfffffff0, 0x10))
  assert.ok(seqGt(0x10, 0xfffffff0))
  assert.ok(seqLe(7, 7) && seqGe(7, 7) && !seqLt(7, 7) && !seqGt(7, 7))
  assert.ok(seqLt(1, 2) && !seqLt(2, 1))
  assert.ok(seqLt(0, 0x7fffffff))
  assert.ok(seqGt(0, 0x80000001))
  // Exactly 2^31 apart: undefined in RFC 1982; we call (a - b)|0 < 0 "before" (as Linux does).
  assert.ok(seqLt(0x80000000, 0))
  assert.ok(seqLt(0, 0x80000000))
  assert.equal(seqMax(0xfffffff0, 0x10), 0x10)
  assert.equal(seqMin(0xfffffff0, 0x10), 0xfffffff0)
  assert.ok(seqInWindow(0x5, 0xfffffff0, 0x10))
  assert.ok(!seqInWindow(0x10, 0xfffffff0, 0x10))
})
