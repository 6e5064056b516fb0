// The streamed --json writer (cli/render/json-stream.ts) must print exactly
// what oclif's logJson prints without a colour theme: JSON.stringify(value,
// null, 2) and a newline — on values that exercise each rule it copies
// (members left out or made null, empty containers, re-indented elements,
// toJSON, strings with newlines and non-ASCII), and on a real sessions report.
import {test} from 'node:test'
import assert from 'node:assert/strict'
import {join} from 'node:path'
import {serializeJson} from '../../cli/render/json-stream.js'
import {collectSessions} from '../../analyzer/sessions/collect.js'
import {repoRoot} from '../support/env.js'

const streamed = (v: unknown) => {
  const parts: string[] = []
  serializeJson(v, (s) => parts.push(s))
  return {text: parts.join(''), parts: parts.length}
}
const expected = (v: unknown) => `${JSON.stringify(v, null, 2) ?? 'null'}\n`

test('json-stream: the bytes of JSON.stringify(v, null, 2) + newline', () => {
  const cases: unknown[] = [
    null, 0, -1.5e-7, 'a "quoted"\nline ≠ →', true, [], {}, [[]], {a: {}}, {a: []},
    {a: undefined, b: () => 1, c: Symbol('x'), d: null, e: 1},
    [undefined, () => 1, Symbol('y'), 2],
    {rows: [{x: 1, y: [1, 2, {z: 'm\nn'}], w: {}}, {x: 2}], summary: {n: {deep: {deeper: [1]}}}, notes: ['a', 'b']},
    {when: new Date(0), nested: {when: new Date(1)}, list: [new Date(2)]},
    {'key with "quotes"': [{'ünï': [[[]]]}]},
  ]
  for (const v of cases) assert.equal(streamed(v).text, expected(v), JSON.stringify(v))
})

test('json-stream: a sessions report, merged and per view, in many pieces', async () => {
  const trace = join(repoRoot, 'samples', 'traces', 'lab-clean', 'lab.pcapng.gz')
  for (const perView of [false, true]) {
    const r = {...(await collectSessions([trace], {}, {perView, flagged: true})), exitCode: 0}
    const s = streamed(r)
    assert.equal(s.text, expected(r))
    assert.ok(s.parts > r.rows.length, 'each row written on its own')
  }
})
