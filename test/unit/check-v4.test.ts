// assemble.ts's v4: a dotted quad as its uint32 when it is the form the
// decoder prints, else -1. Read in place; checked here against its
// definition (parse, print again, compare) on chosen and random strings.
import {test} from 'node:test'
import assert from 'node:assert/strict'
import {v4} from '../../analyzer/correlate/assemble.js'
import {formatIpv4, parseIpv4} from '../../analyzer/wire/addr.js'
import {prng} from '../support/random.js'

function byDefinition(s: string): number {
  if (s.includes(':')) return -1
  try {
    const n = parseIpv4(s)
    return formatIpv4(new Uint8Array([n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255]), 0) === s ? n : -1
  } catch {
    return -1
  }
}

test('v4 is the parse-and-print-again definition', () => {
  const chosen = ['10.77.0.1', '0.0.0.0', '255.255.255.255', '1.2.3.4', '192.168.001.1', '01.2.3.4', '256.1.1.1', '1.2.3', '1.2.3.4.5',
    '1..3.4', '.1.2.3', '1.2.3.', '', '::1', 'fe80::1', '::ffff:1.2.3.4', '1.2.3.4 ', ' 1.2.3.4', '1.2.3.-4', '1.2.3.4x', '1000.2.3.4',
    '0.0.0.00', '9.99.199.255', '10.77.255.254', '1.2.3.04', 'a.b.c.d', '1.2.3.٣']
  for (const s of chosen) assert.equal(v4(s), byDefinition(s), JSON.stringify(s))
  assert.equal(v4('10.77.0.1'), ((10 << 24) | (77 << 16) | 1) >>> 0)
  assert.equal(v4('255.255.255.255'), 0xffff_ffff)
  const r = prng(5)
  const alphabet = '0123456789..:x'
  for (let i = 0; i < 50_000; i++) {
    let s = ''
    if (i % 2 === 0) {
      // Dotted quads near the valid form: parts of 0–3 digits, 0–999.
      const parts = 3 + Math.floor(r() * 3)
      for (let k = 0; k < parts; k++) s += (k ? '.' : '') + (r() < 0.1 ? '0' : '') + String(Math.floor(r() * (r() < 0.5 ? 256 : 1000)))
    } else {
      const len = Math.floor(r() * 17)
      for (let k = 0; k < len; k++) s += alphabet[Math.floor(r() * alphabet.length)]
    }
    assert.equal(v4(s), byDefinition(s), JSON.stringify(s))
  }
})
