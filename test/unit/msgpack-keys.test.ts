// MsgpackReader's map keys (control/msgpack.ts): short ASCII keys read once
// are taken from a cache by a hash of their bytes. Whatever the cache holds,
// the decoded maps must be exactly the bytes' (a colliding key is another
// key), and errors must be reported at the same byte. First in its own file,
// so that the cache starts empty.
import {test} from 'node:test'
import assert from 'node:assert/strict'
import {unpack} from 'msgpackr'
import {MsgpackReader} from '../../analyzer/control/msgpack.js'

const ascii = new TextEncoder()

/** A fixmap of fixstr keys and positive fixint values. */
function map(entries: [string, number][]): Uint8Array {
  const out: number[] = [0x80 | entries.length]
  for (const [k, v] of entries) {
    const b = ascii.encode(k)
    out.push(0xa0 | b.length, ...b, v)
  }
  return Uint8Array.from(out)
}

/** The key cache's hash (FNV-1a-like over the bytes, seeded with the length). */
function keyHash(k: string): number {
  let h = k.length
  for (const c of ascii.encode(k)) h = Math.imul(h ^ c, 0x01000193)
  return h
}

test('two keys of one hash decode as themselves, in either order, again and again', () => {
  // A second 8-letter key of the hash of a first: each step of the hash can be undone (xor, then a multiply by an
  // odd number), so meet in the middle: 4 letters forward from the start, 4 letters back from the hash.
  const a = 'keyalpha'
  const target = keyHash(a)
  const P = 0x01000193
  let inv = P
  for (let i = 0; i < 5; i++) inv = Math.imul(inv, 2 - Math.imul(P, inv))
  const letters = (i: number) => [0, 1, 2, 3].map((j) => 97 + (Math.floor(i / 26 ** j) % 26))
  const forward = new Map<number, number>()
  for (let i = 0; i < 26 ** 4; i++) {
    let h = 8
    for (const c of letters(i)) h = Math.imul(h ^ c, P)
    forward.set(h, i)
  }
  let pair: [string, string] | null = null
  for (let i = 0; i < 26 ** 4 && pair === null; i++) {
    const tail = letters(i)
    let h = target
    for (let j = 3; j >= 0; j--) h = Math.imul(h, inv) ^ tail[j]!
    const head = forward.get(h)
    if (head === undefined) continue
    const b = String.fromCharCode(...letters(head), ...tail)
    if (b !== a) pair = [a, b]
  }
  assert.ok(pair !== null, 'no second key found')
  assert.equal(keyHash(pair[1]), target)
  const b = pair[1]
  assert.notEqual(a, b)
  const r = new MsgpackReader()
  for (const order of [[a, b], [b, a], [a, b]]) {
    for (const k of order) {
      const bytes = map([[k, 1], ['t', 2]])
      assert.deepEqual(r.readAll(bytes, 0, bytes.length), {[k]: 1, t: 2}, `key ${k}`)
    }
  }
})

test('maps decode as msgpackr decodes them, whether their keys are cached or not', () => {
  const r = new MsgpackReader()
  const keys = ['v', 't', 'node', 'at', 'hid', 'cip', 'cport', 'fifteen-chars-x', 'sixteen-chars-xx', 'ключ', '__proto__x']
  for (let round = 0; round < 3; round++) {
    for (let i = 0; i < keys.length; i++) {
      const entries: [string, number][] = keys.slice(i).concat(keys.slice(0, i)).slice(0, 5).map((k, j) => [k, j + round])
      const bytes = map(entries)
      assert.deepEqual(r.readAll(bytes, 0, bytes.length), unpack(bytes), `round ${round}, map ${i}`)
    }
  }
})

test('a repeated key is refused at its byte, cached or not', () => {
  const r = new MsgpackReader()
  for (let round = 0; round < 2; round++) {
    const bytes = map([['hid', 1], ['cip', 2], ['hid', 3]])
    assert.equal(r.readAll(bytes, 0, bytes.length), undefined)
    assert.equal(r.error?.reason, 'duplicate-key')
    assert.equal(r.error?.pos, 11, `round ${round}`)
  }
})

test('a key cut short by the end of the frame is refused, cached or not', () => {
  const r = new MsgpackReader()
  const whole = map([['cport', 1]])
  assert.deepEqual(r.readAll(whole, 0, whole.length), {cport: 1})
  assert.equal(r.readAll(whole, 0, 4), undefined)
  assert.equal(r.error?.reason, 'bad-length')
})
