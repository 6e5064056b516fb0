// check's violations and JUnit file in bounded memory (issue 5): the
// violations sorted on disk in runs (analyzer/external-sort.ts,
// check-violations.ts) and the JUnit file written as it goes, suites joined
// to violations through sorted runs (cli/render/junit.ts). Tiny runs force
// every record through the disk; the output must be what the whole-array
// code gave (`reference` below is that code, the renderJunit of before).
import {test} from 'node:test'
import assert from 'node:assert/strict'
import {readdirSync} from 'node:fs'
import {join} from 'node:path'
import {runCheck, runCheckSpooled, type CheckReport} from '../../analyzer/check.js'
import {ViolationCollector} from '../../analyzer/check-violations.js'
import {ExternalSorter} from '../../analyzer/external-sort.js'
import {CHECK_IDS, ViolationSink, type CheckId, type Violation} from '../../analyzer/checks/types.js'
import {groupKey, val} from '../../cli/render/check.js'
import {writeJunit} from '../../cli/render/junit.js'
import {repoRoot} from '../support/env.js'
import {prng} from '../support/random.js'

const traces = join(repoRoot, 'samples', 'traces')
const labRuns = readdirSync(traces).filter((d) => d.startsWith('lab-')).sort()

test('external sort: stable, the same order as Array.prototype.sort, in memory or in runs on disk', () => {
  const rnd = prng(7)
  const xs = Array.from({length: 2000}, (_, i) => ({k: Math.floor(rnd() * 50), i, s: `x${i}`}))
  const want = [...xs].sort((a, b) => a.k - b.k)
  for (const runSize of [1, 7, 100, 5000, Infinity]) {
    const s = new ExternalSorter<typeof xs[number]>((a, b) => a.k - b.k, 'handoff-test-sort-', runSize)
    for (const x of xs) s.add(x)
    assert.equal(s.onDisk, runSize <= 2000, `run size ${runSize}`)
    assert.deepEqual([...s.sorted()], want, `run size ${runSize}`)
    assert.deepEqual([...s.sorted()], want, `run size ${runSize}, walked again`)
    s.remove()
  }
})

test('violation collector: the violations, order and dropped duplicates of an in-memory ViolationSink', () => {
  const rnd = prng(11)
  for (const runSize of [2, 50, Infinity]) {
    const sink = new ViolationSink()
    const col = new ViolationCollector(runSize)
    const counted = new Map<number, number>()
    // Scopes as check.ts sets them; duplicates inside a scope (seq-remap's) and across scopes (a control frame of two handoffs).
    for (let scope = -1; scope < 60; scope++) {
      col.scope = scope
      const before = col.count
      const sinkBefore = sink.list.length
      for (let j = 0; j < 8; j++) {
        const v = {id: CHECK_IDS[Math.floor(rnd() * 4)]! as CheckId, hid: `h${Math.floor(rnd() * 30)}`, connection: `c${Math.floor(rnd() * 3)}`,
          file: 'f', frame: Math.floor(rnd() * 40), message: `m${scope}.${j}`, ...(rnd() < 0.5 ? {field: 'seq'} : {})}
        sink.add(v)
        col.add(v)
      }
      if (scope >= 0) counted.set(scope, col.count - before)
      if (scope >= 0) assert.ok(col.count - before >= sink.list.length - sinkBefore)
    }
    const order = (a: Violation, b: Violation) => a.hid!.localeCompare(b.hid!) || a.frame - b.frame
    const {list, errors, warnings, byId} = col.finish(order, (sum) => counted.set(sum, counted.get(sum)! - 1))
    const want = [...sink.list].sort(order)
    assert.deepEqual([...list], want, `run size ${runSize}`)
    assert.equal(errors + warnings, want.length)
    assert.equal(Object.values(byId).reduce((a, b) => a + b, 0), want.length)
    // Each scope's count, duplicates taken off, is what the sink kept of it.
    for (const [scope, n] of counted) assert.equal(n, want.filter((v) => v.message.startsWith(`m${scope}.`)).length, `scope ${scope}`)
  }
})

function junit(r: CheckReport, failOn: 'error' | 'warning', runSize: number): string {
  const parts: string[] = []
  writeJunit(r, failOn, (s) => parts.push(s), runSize)
  return parts.join('')
}

test('every lab run, several files, --infer: the streamed JUnit is the whole-report one, byte for byte, with runs on disk', async () => {
  const cases: {paths: string[]; infer?: boolean}[] = [
    ...labRuns.map((d) => ({paths: [join(traces, d, 'lab.pcapng.gz')]})),
    {paths: [join(traces, 'lab-seq-remap', 'lab.pcapng.gz'), join(traces, 'lab-rst-leak', 'lab.pcapng.gz')]},
    {paths: [join(traces, 'lab-ack-remap', 'lab.pcapng.gz')], infer: true},
    {paths: [join(traces, 'control-channel.pcapng')]},
  ]
  let failing = 0
  for (const c of cases) {
    const r = await runCheck(c.paths, {infer: c.infer})
    for (const failOn of ['error', 'warning'] as const) {
      const want = reference(r, failOn)
      for (const runSize of [1, 3, Infinity]) assert.equal(junit(r, failOn, runSize), want, `${c.paths.join(' ')} ${failOn} run ${runSize}`)
      if (want.includes('<failure')) failing++
    }
    // The violations sorted through runs on disk: the same report.
    const spooled = await runCheckSpooled(c.paths, {infer: c.infer, violationRunSize: 2})
    assert.deepEqual(JSON.parse(JSON.stringify(spooled)), JSON.parse(JSON.stringify(r)), c.paths.join(' '))
  }
  assert.ok(failing >= 15, 'the lab runs gave failures')
})

/** The JUnit rendering as it was before it streamed (whole report in memory), kept as the reference. */
function reference(r: CheckReport, failOn: 'error' | 'warning'): string {
  const xml = (s: string) => s.replace(/[<>&"']/g, (c) => ({'<': '&lt;', '>': '&gt;', '&': '&amp;', '"': '&quot;', "'": '&apos;'})[c]!)
    // eslint-disable-next-line no-control-regex
    .replace(/[\u0000-\u0008\u000b\u000c\u000e-\u001f]/g, '')
  const out: string[] = ['<?xml version="1.0" encoding="UTF-8"?>']
  const suites: {name: string; ids: readonly string[]; vs: Violation[]; notJudged?: readonly string[]}[] = []
  const byKey = new Map<string, Violation[]>()
  for (const v of r.violations) {
    const k = groupKey(v)
    const l = byKey.get(k)
    if (l) l.push(v)
    else byKey.set(k, [v])
  }
  const perConn = CHECK_IDS.filter((id) => id !== 'control-framing')
  for (const h of r.handoffs) {
    const k = `${h.hid}  ${h.connection}`
    suites.push({name: k, ids: perConn, vs: byKey.get(k) ?? [], ...(h.inferred ? {notJudged: h.inferred.notJudged} : {})})
    byKey.delete(k)
  }
  for (const [k, vs] of byKey) suites.push({name: k, ids: [...new Set(vs.map((v) => v.id))], vs})
  if (suites.length === 0) suites.push({name: 'traces', ids: ['control-framing', 'handoff-orphan'], vs: []})
  let failures = 0
  let tests = 0
  const body: string[] = []
  for (const s of suites) {
    let sf = 0
    const cases: string[] = []
    for (const id of s.ids) {
      const vs = s.vs.filter((v) => v.id === id)
      const failing = vs.filter((v) => v.severity === 'error' || failOn === 'warning')
      const text = vs.map((v) => `${v.file} frame ${v.frame}: ${v.message}; expected ${val(v.expected)}, seen ${val(v.seen)}`).join('\n')
      let c = `    <testcase classname="${xml(s.name)}" name="${id}">`
      if (failing.length > 0) {
        sf++
        c += `\n      <failure type="${vs[0]!.severity}" message="${xml(`${failing.length} violation(s) of ${id}`)}">${xml(text)}</failure>\n    `
      } else if (vs.length > 0) c += `\n      <system-out>${xml(text)}</system-out>\n    `
      else if (s.notJudged?.includes(id)) c += '\n      <skipped message="not judged: handoff inferred from the traffic (--infer)"/>\n    '
      c += '</testcase>'
      cases.push(c)
    }
    tests += s.ids.length
    failures += sf
    body.push(`  <testsuite name="${xml(s.name)}" tests="${s.ids.length}" failures="${sf}" errors="0">`, ...cases, '  </testsuite>')
  }
  out.push(`<testsuites name="handoff check" tests="${tests}" failures="${failures}" errors="${r.captureErrors.length}">`)
  for (const b of body) out.push(b)
  out.push('</testsuites>')
  return out.join('\n') + '\n'
}
