// JUnit XML of a check report (`check --junit FILE`): one testsuite per
// connection (handoff, or a connection of no handoff that has violations),
// one testcase per check id run on it; a violation of severity error is a
// <failure>, a warning is a <failure type="warning"> only when failOn is
// 'warning', else a <system-out> note. On a handoff inferred from the traffic
// (--infer), the ids not judged on it are <skipped/>.
//
// Written as it goes, in bounded memory: the report's summaries and
// violations may be on disk (analyzer/check-summaries.ts,
// check-violations.ts) and the file is one suite per handoff of the trace.
// The suites follow the summaries (judging order) but the violations come in
// report order (by hid), and the file's first line holds the totals; so, as
// a database would join two tables too big for memory:
//   1. the summaries' keys and the violations are each sorted by
//      connection key (external-sort.ts);
//   2. one walk of both together gives each violation its suite (the first
//      handoff of its key; none: a suite of its own after the handoffs, in
//      report order), counts every testcase's failures and the totals, and
//      sorts the violations' lines into suite, testcase order;
//   3. the file is written walking the summaries and those lines together.
// Memory: a few sorted runs and one connection's counts.
import {closeSync, openSync, writeSync} from 'node:fs'
import {ExternalSorter, RUN_RECORDS} from '../../analyzer/external-sort.js'
import {CHECK_IDS} from '../../analyzer/checks/types.js'
import {groupKey, val, type CheckReportView} from './check.js'

/** The ids of a handoff's suite. */
const PER_CONN: readonly string[] = CHECK_IDS.filter((id) => id !== 'control-framing')
const SKIPPED = '\n      <skipped message="not judged: handoff inferred from the traffic (--infer)"/>\n    '

/** A violation in report order (position p), by connection key k: what its testcase shows of it. */
interface KeyedViolation {
  k: string
  p: number
  id: string
  severity: string
  text: string
}

/** One record of the file's body, in suite, testcase, position order. */
type BodyRec =
  /** A suite's header (tc -1): its failing testcases; for a suite of no handoff, its name and ids. */
  | {suite: number; tc: -1; p: -1; failures: number; name?: string; ids?: string[]}
  /** A testcase's header (p -1): its violations, those failing, the first one's severity. */
  | {suite: number; tc: number; p: -1; total: number; failing: number; type: string}
  /** One violation's line in its testcase. */
  | {suite: number; tc: number; p: number; text: string}

const cmp = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0)

function xml(s: string): string {
  return s.replace(/[<>&"']/g, (c) => ({'<': '&lt;', '>': '&gt;', '&': '&amp;', '"': '&quot;', "'": '&apos;'})[c]!)
    // eslint-disable-next-line no-control-regex
    .replace(/[\u0000-\u0008\u000b\u000c\u000e-\u001f]/g, '')
}

/** The JUnit XML as one string (tests, small reports). */
export function renderJunit(r: CheckReportView, failOn: 'error' | 'warning'): string {
  const parts: string[] = []
  writeJunit(r, failOn, (s) => parts.push(s), Infinity)
  return parts.join('')
}

/** A JUnit file could not be written (opened, written or closed). */
export class JunitWriteError extends Error {}

/** Writes the JUnit XML to `path` in 64 KiB writes, in bounded memory. */
export function writeJunitFile(path: string, r: CheckReportView, failOn: 'error' | 'warning', runSize = RUN_RECORDS): void {
  const fail = (e: unknown): never => {
    throw new JunitWriteError(`cannot write the JUnit report to ${path}: ${(e as Error).message}`)
  }
  let fd = -1
  try {
    fd = openSync(path, 'w')
  } catch (e) {
    fail(e)
  }
  let parts: string[] = []
  let size = 0
  // One buffer for every write (a new Buffer per 64 KiB made the process's memory grow by tens of MiB before GC).
  let buf = Buffer.allocUnsafe(4 * 65536)
  const flush = () => {
    const text = parts.join('')
    parts = []
    size = 0
    if (Buffer.byteLength(text) > buf.length) buf = Buffer.allocUnsafe(Buffer.byteLength(text))
    const n = buf.write(text, 0, 'utf8')
    try {
      for (let off = 0; off < n;) off += writeSync(fd, buf, off, n - off)
    } catch (e) {
      fail(e)
    }
  }
  try {
    writeJunit(r, failOn, (s) => {
      parts.push(s)
      size += s.length
      if (size >= 65536) flush()
    }, runSize)
    flush()
  } finally {
    try {
      closeSync(fd)
    } catch (e) {
      fail(e)
    }
  }
}

/** The XML in pieces, in order, to `write`; `runSize`: records per sorted run (Infinity: all in memory). */
export function writeJunit(r: CheckReportView, failOn: 'error' | 'warning', write: (s: string) => void, runSize: number): void {
  // 1. Both sides by connection key (summaries: first of a key first; violations: in report order).
  const keys = new ExternalSorter<{k: string; i: number}>((a, b) => cmp(a.k, b.k) || a.i - b.i, 'handoff-junit-keys-', runSize)
  const viols = new ExternalSorter<KeyedViolation>((a, b) => cmp(a.k, b.k) || a.p - b.p, 'handoff-junit-viol-', runSize)
  const body = new ExternalSorter<BodyRec>((a, b) => a.suite - b.suite || a.tc - b.tc || a.p - b.p, 'handoff-junit-body-', runSize)
  try {
    let n = 0
    for (const h of r.handoffs) keys.add({k: `${h.hid}  ${h.connection}`, i: n++})
    let p = 0
    for (const v of r.violations) {
      viols.add({k: groupKey(v), p: p++, id: v.id, severity: v.severity,
        text: `${v.file} frame ${v.frame}: ${v.message}; expected ${val(v.expected)}, seen ${val(v.seen)}`})
    }
    const totals = join(keys, viols, body, n, failOn)
    keys.remove()
    viols.remove()
    // 3. The file.
    write('<?xml version="1.0" encoding="UTF-8"?>\n')
    write(`<testsuites name="handoff check" tests="${totals.tests}" failures="${totals.failures}" errors="${r.captureErrors.length}">\n`)
    const recs = new Peekable(body.sorted())
    let i = 0
    for (const h of r.handoffs) {
      const head = recs.peek()
      const failures = head !== null && head.suite === i && head.tc === -1 ? (recs.take() as {failures: number}).failures : 0
      writeSuite(`${h.hid}  ${h.connection}`, i, PER_CONN, failures, h.inferred?.notJudged ?? [], recs, write)
      i++
    }
    let suites = i
    for (let head = recs.take(); head !== null; head = recs.take()) {
      const s = head as {suite: number; failures: number; name: string; ids: string[]}
      writeSuite(s.name, s.suite, s.ids, s.failures, [], recs, write)
      suites++
    }
    if (suites === 0) writeSuite('traces', -1, ['control-framing', 'handoff-orphan'], 0, [], recs, write)
    write('</testsuites>\n')
  } finally {
    keys.remove()
    viols.remove()
    body.remove()
  }
}

/** 2. Each violation to its suite and testcase (into `body`); the file's totals. */
function join(keys: ExternalSorter<{k: string; i: number}>, viols: ExternalSorter<KeyedViolation>, body: ExternalSorter<BodyRec>,
  handoffs: number, failOn: 'error' | 'warning'): {tests: number; failures: number} {
  let tests = handoffs * PER_CONN.length
  let failures = 0
  const sk = new Peekable(keys.sorted())
  // The connection being walked: its suite, whether a handoff's, its ids in order of first violation, their counts.
  let g: {k: string; suite: number; handoff: boolean; ids: string[]; counts: Map<string, {total: number; failing: number; type: string}>} | null = null
  const end = () => {
    if (g === null) return
    let sf = 0
    for (const [id, c] of g.counts) {
      if (c.failing > 0) sf++
      body.add({suite: g.suite, tc: g.handoff ? PER_CONN.indexOf(id) : g.ids.indexOf(id), p: -1, ...c})
    }
    if (g.handoff) body.add({suite: g.suite, tc: -1, p: -1, failures: sf})
    else {
      body.add({suite: g.suite, tc: -1, p: -1, failures: sf, name: g.k, ids: g.ids})
      tests += g.ids.length
    }
    failures += sf
  }
  for (const v of viols.sorted()) {
    if (g === null || v.k !== g.k) {
      end()
      while (sk.peek() !== null && cmp(sk.peek()!.k, v.k) < 0) sk.take()
      const first = sk.peek()?.k === v.k ? sk.peek()!.i : -1
      // A connection of no handoff: a suite after the handoffs', placed by its first violation in report order.
      g = {k: v.k, suite: first >= 0 ? first : handoffs + v.p, handoff: first >= 0, ids: [], counts: new Map()}
    }
    // A handoff's suite has the per-connection ids only (a control-framing violation of a handoff is not shown).
    if (g.handoff && !PER_CONN.includes(v.id)) continue
    let c = g.counts.get(v.id)
    if (c === undefined) {
      c = {total: 0, failing: 0, type: v.severity}
      g.counts.set(v.id, c)
      g.ids.push(v.id)
    }
    c.total++
    if (v.severity === 'error' || failOn === 'warning') c.failing++
    body.add({suite: g.suite, tc: g.handoff ? PER_CONN.indexOf(v.id) : g.ids.indexOf(v.id), p: v.p, text: v.text})
  }
  end()
  return {tests, failures}
}

/** One suite: its testcases, each with the violation lines `recs` has for it. */
function writeSuite(name: string, suite: number, ids: readonly string[], failures: number, notJudged: readonly string[],
  recs: Peekable<BodyRec>, write: (s: string) => void): void {
  const cls = xml(name)
  write(`  <testsuite name="${cls}" tests="${ids.length}" failures="${failures}" errors="0">\n`)
  ids.forEach((id, tc) => {
    write(`    <testcase classname="${cls}" name="${id}">`)
    const head = recs.peek()
    if (head !== null && head.suite === suite && head.tc === tc) {
      const c = recs.take() as {total: number; failing: number; type: string}
      write(c.failing > 0 ? `\n      <failure type="${c.type}" message="${xml(`${c.failing} violation(s) of ${id}`)}">` : '\n      <system-out>')
      let first = true
      for (let x = recs.peek(); x !== null && x.suite === suite && x.tc === tc; x = recs.peek()) {
        write((first ? '' : '\n') + xml((recs.take() as {text: string}).text))
        first = false
      }
      write(c.failing > 0 ? '</failure>\n    ' : '</system-out>\n    ')
    } else if (notJudged.includes(id)) write(SKIPPED)
    write('</testcase>\n')
  })
  write('  </testsuite>\n')
}

/** An iterator that can look one ahead. */
class Peekable<T> {
  private readonly it: Iterator<T>
  private next: IteratorResult<T> | null = null

  constructor(it: Iterable<T>) {
    this.it = it[Symbol.iterator]()
  }

  peek(): T | null {
    this.next ??= this.it.next()
    return this.next.done ? null : this.next.value
  }

  take(): T | null {
    const x = this.peek()
    this.next = null
    return x
  }
}
