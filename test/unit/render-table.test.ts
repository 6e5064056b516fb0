// The fast table layout used for long tables must print exactly what
// cli-table3 prints for the same cells (see cli/render/table.ts).
import {test} from 'node:test'
import assert from 'node:assert/strict'
import {cliTable, FAST_ROWS, plainTable, PlainTableLayout, table, type Align} from '../../cli/render/table.js'
import {color} from '../../cli/render/color.js'
import {pick, prng, randInt} from '../support/random.js'

const CELLS = ['', 'a', 'bb', '10.77.0.1:80', '[2001:db8::1]:443', 'n1 → n2', 'n1/12', 'SYN SYN/ACK FIN', '1.2 kB', '—', '·',
  'x'.repeat(41), '\x1b[31mred\x1b[39m', '\x1b[1mbold\x1b[22m and plain']

test('plainTable == cli-table3 over 500 random tables (ragged rows, colours, both alignments)', () => {
  const r = prng(20261126)
  for (let k = 0; k < 500; k++) {
    const cols = randInt(r, 1, 9)
    const head = Array.from({length: cols}, (_, i) => pick(r, ['id', 'client', 'bytes →', 'a longer header', `h${i}`]))
    const rows = Array.from({length: randInt(r, 0, 20)}, () =>
      Array.from({length: randInt(r, 0, 3) === 0 ? randInt(r, 1, cols) : cols}, () => pick(r, CELLS)))
    const align = Array.from({length: cols}, (): Align => pick(r, ['left', 'right']))
    assert.equal(plainTable(head, rows, align), cliTable(head, rows, align), `table ${k}`)
    assert.equal(plainTable(head, rows), cliTable(head, rows), `table ${k} without alignment`)
  }
})

test('table() takes the fast layout past FAST_ROWS rows and prints the same', () => {
  const rows = Array.from({length: FAST_ROWS + 50}, (_, i) => [i, `10.77.1.${i % 250}:${40000 + i}`, i % 3 === 0 ? 'handoff' : 'local'])
  const out = table(['#', 'client', 'kind'], rows, {align: ['right', 'left', 'left']})
  assert.equal(out, cliTable(['#', 'client', 'kind'], rows.map((r) => r.map(String)), ['right', 'left', 'left']))
  assert.equal(out.split('\n').length, FAST_ROWS + 51)
})

test('multi-line cells keep cli-table3', () => {
  const rows = Array.from({length: FAST_ROWS + 1}, (_, i) => [i === 7 ? 'two\nlines' : 'one'])
  assert.equal(table(['c'], rows), cliTable(['c'], rows.map((r) => r.map(String))))
})

test('PlainTableLayout (two walks: measure, then lines; columns measured in parts) gives plainTable\'s lines', () => {
  const head = ['a', 'bb', 'right', 'last']
  const rows = [['x', '', '12', 'trailing'], ['long cell', '\u001b[2mdim\u001b[22m', '3', ''], ['', 'y', '1234567', 'z']]
  const align: Align[] = ['left', 'left', 'right', 'left']
  const left = new PlainTableLayout()
  const right = new PlainTableLayout()
  for (const r of [head.map((h) => color.bold(h)), ...rows]) {
    left.measure(r.slice(0, 2))
    right.measure(r.slice(2))
  }
  const all = new PlainTableLayout()
  all.copyWidths([left, right])
  const lines = [head.map((h) => color.bold(h)), ...rows].map((r) => all.line(r, align))
  assert.equal(lines.join('\n'), plainTable(head, rows, align))
  assert.equal(left.multiLine || right.multiLine, false)
  const m = new PlainTableLayout()
  m.measure(['a\nb'])
  assert.equal(m.multiLine, true)
})
