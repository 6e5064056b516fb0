// End to end: the real CLI (`node cli/bin/handoff.js check …`) on synthetic
// traces: text output grouped per connection, --json, --junit (parsed),
// --fail-on, --vantage, and the exit codes (0 clean, 1 violations, 2 usage
// or unreadable input — what was read is still reported).
import {test} from 'node:test'
import assert from 'node:assert/strict'
import {spawnSync} from 'node:child_process'
import {mkdtempSync, readFileSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {cliBin} from '../support/env.js'
import {buildHandoffTrace} from '../support/handoff-trace.js'

const dir = mkdtempSync(join(tmpdir(), 'handoff-check-e2e-'))
process.on('exit', () => rmSync(dir, {recursive: true, force: true}))

function run(...args: string[]) {
  const r = spawnSync(process.execPath, [cliBin, 'check', ...args], {encoding: 'utf8', env: {...process.env, NO_COLOR: '1'}})
  return {code: r.status, out: r.stdout, err: r.stderr}
}

const clean = join(dir, 'clean.pcapng')
buildHandoffTrace(clean, {})
const faulty = join(dir, 'ack-remap.pcapng')
buildHandoffTrace(faulty, {fault: 'ack-remap'})
const warnOnly = join(dir, 'option-mismatch.pcapng')
buildHandoffTrace(warnOnly, {fault: 'option-mismatch'})

/** A minimal XML reader for the JUnit file: elements with attributes, nesting checked. */
function parseXml(s: string): {name: string; attrs: Record<string, string>; children: unknown[]} {
  const stack: {name: string; attrs: Record<string, string>; children: unknown[]}[] = [{name: '#doc', attrs: {}, children: []}]
  const re = /<(\/?)([a-zA-Z_][\w.-]*)((?:\s+[\w:.-]+="[^"]*")*)\s*(\/?)>|<\?[^?]*\?>|([^<]+)/g
  let m: RegExpExecArray | null
  while ((m = re.exec(s)) !== null) {
    if (m[0].startsWith('<?') || m[5] !== undefined) continue
    const [, close, name, attrText, selfClose] = m
    if (close) {
      const top = stack.pop()!
      assert.equal(top.name, name, 'XML nesting')
      continue
    }
    const attrs: Record<string, string> = {}
    for (const a of attrText!.matchAll(/([\w:.-]+)="([^"]*)"/g)) attrs[a[1]!] = a[2]!
    const el = {name: name!, attrs, children: []}
    stack[stack.length - 1]!.children.push(el)
    if (!selfClose) stack.push(el)
  }
  assert.equal(stack.length, 1, 'XML elements all closed')
  return stack[0]!.children[0] as {name: string; attrs: Record<string, string>; children: unknown[]}
}

test('clean trace: exit 0, "no violations"', () => {
  const r = run(clean)
  assert.equal(r.code, 0, r.err)
  assert.match(r.out, /no violations/)
  assert.match(r.out, /fe1\/1 .*handed-off → be1/)
})

test('faulty trace: exit 1, grouped per connection with frame and expected vs seen', () => {
  const r = run(faulty)
  assert.equal(r.code, 1)
  const lines = r.out.split('\n')
  const head = lines.findIndex((l) => l.startsWith('fe1/1 '))
  assert.ok(head >= 0, r.out)
  assert.match(lines[head + 1]!, /error\s+ack-remap\s+.*frame \d+ \[lan\]: forwarded ack is not ack \+ Δ/)
  assert.match(lines[head + 2]!, /ack: expected \d+, seen \d+/)
})

test('--json: the report, with exitCode', () => {
  const r = run(faulty, '--json')
  assert.equal(r.code, 1)
  const j = JSON.parse(r.out)
  assert.equal(j.exitCode, 1)
  assert.equal(j.violations.length, 1)
  assert.equal(j.violations[0].id, 'ack-remap')
  assert.equal(j.violations[0].hid, 'fe1/1')
  assert.equal(j.summary.errors, 1)
})

test('--junit: one testsuite per connection, a failure for the violated id', () => {
  const x = join(dir, 'junit.xml')
  const r = run(faulty, '--junit', x)
  assert.equal(r.code, 1)
  const doc = parseXml(readFileSync(x, 'utf8'))
  assert.equal(doc.name, 'testsuites')
  assert.equal(doc.attrs.failures, '1')
  const suites = doc.children as {name: string; attrs: Record<string, string>; children: {name: string; attrs: Record<string, string>; children: {name: string; attrs: Record<string, string>}[]}[]}[]
  const s = suites.find((x) => x.attrs.name!.startsWith('fe1/1 '))!
  assert.ok(s)
  const failed = s.children.filter((c) => c.children.some((k) => k.name === 'failure'))
  assert.deepEqual(failed.map((c) => c.attrs.name), ['ack-remap'])
  assert.ok(s.children.length >= 15)
  // Clean: every testcase passes.
  const x2 = join(dir, 'junit-clean.xml')
  assert.equal(run(clean, '--junit', x2).code, 0)
  assert.equal(parseXml(readFileSync(x2, 'utf8')).attrs.failures, '0')
})

test('--junit to a file that cannot be written: a message naming it, exit 2, no stack trace', () => {
  for (const target of [join(dir, 'no-such-dir', 'junit.xml'), dir]) {
    const r = run(faulty, '--junit', target)
    assert.equal(r.code, 2, target)
    assert.match(r.err, /cannot write the JUnit report to .*junit\.xml|cannot write the JUnit report to /)
    assert.ok(r.err.includes(target), r.err)
    assert.doesNotMatch(r.err, /\n\s+at /, 'a stack trace')
  }
})

test('warnings alone: exit 0, or 1 with --fail-on warning', () => {
  const r = run(warnOnly)
  assert.equal(r.code, 0)
  assert.match(r.out, /warning option-mismatch/)
  assert.equal(run(warnOnly, '--fail-on', 'warning').code, 1)
  const x = join(dir, 'junit-warn.xml')
  run(warnOnly, '--junit', x)
  assert.equal(parseXml(readFileSync(x, 'utf8')).attrs.failures, '0')
  run(warnOnly, '--junit', x, '--fail-on', 'warning')
  assert.equal(parseXml(readFileSync(x, 'utf8')).attrs.failures, '1')
})

test('unreadable input: exit 2, the rest still checked and reported', () => {
  const r = run(faulty, join(dir, 'missing.pcapng'))
  assert.equal(r.code, 2)
  assert.match(r.err, /missing\.pcapng: cannot open/)
  assert.match(r.out, /ack-remap/)
  // A truncated copy: what was read before the damage is checked.
  const bytes = readFileSync(faulty)
  const cut = join(dir, 'cut.pcapng')
  writeFileSync(cut, bytes.subarray(0, bytes.length - 37))
  const c = run(cut, '--json')
  assert.equal(c.code, 2)
  const j = JSON.parse(c.out)
  assert.equal(j.captureErrors.length, 1)
  assert.ok(j.violations.some((v: {id: string}) => v.id === 'ack-remap'))
})

test('usage errors: exit 2', () => {
  assert.equal(run(clean, '--vantage', 'eth0').code, 2)
  assert.equal(run(clean, '--fail-on', 'never').code, 2)
  assert.equal(run().code, 2)
})

test('usage errors under --json: exit 2 (not 1, which means violations), the message as JSON and on stderr', () => {
  for (const args of [[clean, '--json', '--bogus'], [clean, '--json', '--fail-on', 'never'], ['--json'], ['-', '-', '--json']]) {
    const r = run(...args)
    assert.equal(r.code, 2, args.join(' '))
    const j = JSON.parse(r.out) as {error: {message: string; exit: number}}
    assert.deepEqual(Object.keys(j), ['error'])
    assert.equal(j.error.exit, 2)
    assert.ok(j.error.message.length > 0 && r.err.includes(j.error.message.split('\n')[0]!), r.err)
    assert.doesNotMatch(r.out + r.err, /\bat .*\.js:\d+/) // no stack trace
  }
  assert.match(JSON.parse(run(clean, '--json', '--bogus').out).error.message, /Nonexistent flag: --bogus/)
})

test('--vantage assigns interfaces; --control-port moves the control channel', () => {
  const p = join(dir, 'unnamed.pcapng')
  buildHandoffTrace(p, {fault: 'window-rescale', names: {client: 'eth0', lan: 'eth1', 'fe1-inside': 'eth2', 'be1-inside': 'eth3', control: 'eth4'}})
  const args = ['--vantage', 'eth0=client', '--vantage', 'eth1=lan', '--vantage', 'eth2=fe-inside', '--vantage', 'eth3=be-inside', '--vantage', 'eth4=control']
  const r = run(p, ...args, '--json')
  const j = JSON.parse(r.out)
  assert.deepEqual(j.views.map((v: {vantage: string}) => v.vantage), ['client', 'lan', 'inside', 'inside', 'control'])
  assert.deepEqual([...new Set(j.violations.map((v: {id: string}) => v.id))], ['window-rescale'])
  // On another control port nothing is a handoff: nothing to check.
  const o = JSON.parse(run(p, '--control-port', '7171', '--json').out)
  assert.equal(o.summary.handoffs, 0)
  assert.equal(o.violations.length, 0)
})

test('standard input: the same report as the file, named <stdin>; given twice is a usage error', () => {
  const input = readFileSync(faulty)
  const viaStdin = spawnSync(process.execPath, [cliBin, 'check', '-', '--json'], {input, encoding: 'utf8', env: {...process.env, NO_COLOR: '1'}})
  assert.equal(viaStdin.status, 1, viaStdin.stderr)
  const fromFile = JSON.parse(run(faulty, '--json').out)
  const fromStdin = JSON.parse(viaStdin.stdout)
  assert.ok(fromFile.violations.length > 0)
  assert.deepEqual(fromStdin, JSON.parse(JSON.stringify(fromFile).split(JSON.stringify(faulty).slice(1, -1)).join('<stdin>')))
  assert.ok(fromStdin.violations.every((v: {file: string}) => v.file === '<stdin>'))
  const twice = spawnSync(process.execPath, [cliBin, 'check', '-', '-'], {input: '', encoding: 'utf8', env: {...process.env, NO_COLOR: '1'}})
  assert.equal(twice.status, 2)
  assert.match(twice.stderr, /read once only/)
  assert.doesNotMatch(twice.stderr, /\n\s+at /)
})
