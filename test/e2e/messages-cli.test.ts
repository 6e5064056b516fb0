// End to end: the real CLI (`node cli/bin/handoff.js messages …`) on the
// recorded sample samples/traces/control-channel.pcapng (see
// samples/record-control.ts: a control channel captured at both ends of a
// veth, so every frame is in the file twice), on a truncated copy of it, and
// on a fresh recording when the machine allows namespaces.
import {test} from 'node:test'
import assert from 'node:assert/strict'
import {spawnSync} from 'node:child_process'
import {existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {cliBin, hasCommand, isRoot, repoRoot, requireOrSkip} from '../support/env.js'

const sample = join(repoRoot, 'samples', 'traces', 'control-channel.pcapng')
const dir = mkdtempSync(join(tmpdir(), 'handoff-messages-e2e-'))
process.on('exit', () => rmSync(dir, {recursive: true, force: true}))

interface Row {
  kind: 'message' | 'error'
  type: string
  hid?: string
  frame: number
  interface: number
  direction: string
  sender: {addr: string; port: number; node?: string}
  receiver: {addr: string; port: number; node?: string}
  streamOffset: number
  duplicates: number
  reason?: string
  fields?: Record<string, unknown>
}
interface Result {
  rows: Row[]
  summary: {messages: number; errors: number; connections: number; duplicatesMerged: number; byType: Record<string, number>}
  captureErrors: {file: string; code: string; offset: number; message: string}[]
  connections: {connection: string; syn: boolean; seenIn: string[]}[]
  exitCode: number
  totalRows: number
}

function cli(args: string[]): {status: number | null; stdout: string; stderr: string} {
  const r = spawnSync(process.execPath, [cliBin, 'messages', ...args], {cwd: repoRoot, encoding: 'utf8', env: {...process.env, NO_COLOR: '1'}, timeout: 60000})
  return {status: r.status, stdout: r.stdout, stderr: r.stderr}
}

function json(args: string[]): {status: number | null; result: Result; stderr: string} {
  const r = cli([...args, '--json'])
  let result: Result
  try {
    result = JSON.parse(r.stdout) as Result
  } catch {
    assert.fail(`not JSON (status ${r.status}): ${r.stdout.slice(0, 500)} / ${r.stderr.slice(0, 500)}`)
  }
  return {status: r.status, result, stderr: r.stderr}
}

/** What the sample holds, in time order (see samples/record-control.ts). */
const EXPECTED = [
  ['hello', undefined, 'fe1'],
  ['hello', undefined, 'be1'],
  ['handoff-req', 'fe1/1', 'fe1'],
  ['handoff-ack', 'fe1/1', 'be1'],
  ['terminate', 'fe1/1', 'be1'],
  ['handoff-req', 'fe1/2', 'fe1'],
  ['ping', undefined, 'fe1'],
  ['handoff-nack', 'fe1/2', 'be1'],
  ['pong', undefined, 'be1'],
  ['ping', undefined, 'fe1'],
  ['ping', undefined, 'fe1'],
  ['pong', undefined, 'be1'],
  ['pong', undefined, 'be1'],
  ['control-framing', undefined, 'fe1'],
] as const

function checkSample(r: Result, copiesPerFrame: number): void {
  assert.deepEqual(r.rows.map((x) => [x.type, x.hid, x.sender.node]), EXPECTED.map((e) => [...e]))
  assert.equal(r.summary.messages, 13)
  assert.equal(r.summary.errors, 1)
  assert.equal(r.summary.connections, 1)
  assert.deepEqual(r.summary.byType, {hello: 2, 'handoff-req': 2, 'handoff-ack': 1, 'handoff-nack': 1, terminate: 1, ping: 3, pong: 3})
  // Each frame is in the file once per interface (fe0, be0): listed once.
  assert.equal(r.summary.duplicatesMerged, 14 * (copiesPerFrame - 1))
  assert.ok(r.rows.every((x) => x.duplicates === copiesPerFrame - 1))
  const err = r.rows.at(-1)!
  assert.equal(err.kind, 'error')
  assert.equal(err.reason, 'not-a-map')
  assert.equal(err.direction, 'client-to-server')
  assert.equal(err.receiver.port, 7070)
  assert.equal(r.connections[0]!.syn, true)
  const req = r.rows.find((x) => x.hid === 'fe1/1' && x.type === 'handoff-req')!
  assert.equal(req.fields!.url, '/img/logo.png')
  assert.equal(req.fields!.pkts, 3)
  const ack = r.rows.find((x) => x.type === 'handoff-ack')!
  assert.equal(ack.fields!.baddr, '10.77.70.2')
  // Rows are in time order, frames increase.
  for (let i = 1; i < r.rows.length; i++) assert.ok(r.rows[i - 1]!.frame <= r.rows[i]!.frame)
}

test('messages --json on the recorded sample: every message once, the malformed frame as control-framing, exit 1', (t) => {
  if (!requireOrSkip(t, existsSync(sample), `${sample} missing (record it: node dist/samples/record-control.js)`)) return
  const {status, result} = json([sample])
  assert.equal(status, 1)
  assert.equal(result.exitCode, 1)
  checkSample(result, 2)
  assert.equal(result.captureErrors.length, 0)
})

test('messages table: one line per frame, the summary line, exit 1', (t) => {
  if (!requireOrSkip(t, existsSync(sample), `${sample} missing`)) return
  const r = cli([sample])
  assert.equal(r.status, 1, r.stderr)
  const lines = r.stdout.split('\n')
  assert.match(lines[0]!, /^time\s+frame\s+sender → receiver\s+type\s+hid\s+details$/)
  assert.ok(lines.some((l) => /fe1 10\.77\.70\.1:\d+ → be1 10\.77\.70\.2:7070\s+handoff-req\s+fe1\/1\s+10\.77\.100\.10:51234 → 10\.77\.70\.1:80/.test(l)))
  assert.ok(lines.some((l) => /control-framing\s+-\s+not-a-map at offset \d+/.test(l)))
  assert.ok(lines.some((l) => l.startsWith('13 messages (hello 2, handoff-req 2, handoff-ack 1, handoff-nack 1, terminate 1, ping 3, pong 3), 1 connection, 1 control-framing error, 14 duplicates merged')), r.stdout)
  assert.equal(r.stderr, '')
})

test('--type and --hid filter the rows; the summary still counts everything', (t) => {
  if (!requireOrSkip(t, existsSync(sample), `${sample} missing`)) return
  const {result} = json([sample, '--hid', 'fe1/1', '--type', 'handoff-req', '--type', 'terminate'])
  assert.deepEqual(result.rows.map((x) => x.type), ['handoff-req', 'terminate'])
  assert.equal(result.totalRows, 14)
  assert.equal(result.summary.messages, 13)
  const e = json([sample, '--type', 'control-framing']).result
  assert.deepEqual(e.rows.map((x) => x.reason), ['not-a-map'])
})

test('the same trace given twice: still listed once', (t) => {
  if (!requireOrSkip(t, existsSync(sample), `${sample} missing`)) return
  const {status, result} = json([sample, sample])
  assert.equal(status, 1)
  checkSample(result, 4)
})

test('a truncated copy: exit 2, the messages before the damage still listed, then the error', (t) => {
  if (!requireOrSkip(t, existsSync(sample), `${sample} missing`)) return
  const whole = readFileSync(sample)
  const cut = join(dir, 'truncated.pcapng')
  writeFileSync(cut, whole.subarray(0, Math.floor(whole.length * 0.6)))
  const full = json([sample]).result
  const {status, result} = json([cut])
  assert.equal(status, 2)
  assert.equal(result.exitCode, 2)
  assert.equal(result.captureErrors.length, 1)
  assert.equal(result.captureErrors[0]!.file, cut)
  assert.ok(result.rows.length >= 3, `rows before the damage: ${result.rows.length}`)
  assert.ok(result.rows.length < full.rows.length)
  // What is listed is exactly the start of the full list.
  assert.deepEqual(result.rows.map((x) => [x.type, x.hid, x.frame]), full.rows.slice(0, result.rows.length).map((x) => [x.type, x.hid, x.frame]))
  // Text mode: the table first, then the error on standard error.
  const r = cli([cut])
  assert.equal(r.status, 2)
  assert.match(r.stdout, /hello/)
  assert.match(r.stderr, /handoff messages: .*truncated\.pcapng: truncated/)
})

test('an unreadable file: exit 2 with the reason', () => {
  const r = cli([join(dir, 'does-not-exist.pcapng')])
  assert.equal(r.status, 2)
  assert.match(r.stderr, /cannot open/)
  const e = cli([join(dir, 'does-not-exist.pcapng'), '--json'])
  assert.equal(e.status, 2)
  assert.equal((JSON.parse(e.stdout) as Result).captureErrors[0]!.code, 'io')
})

test('a fresh recording (namespaces, live capture at both ends) gives the same message list', (t) => {
  if (!requireOrSkip(t, isRoot(), 'needs root for network namespaces')) return
  for (const c of ['ip', 'ethtool']) if (!requireOrSkip(t, hasCommand(c), `needs ${c}`)) return
  const out = join(dir, 'fresh.pcapng')
  const rec = spawnSync(process.execPath, [join(repoRoot, 'dist', 'samples', 'record-control.js'), out], {cwd: repoRoot, encoding: 'utf8', timeout: 60000})
  assert.equal(rec.status, 0, rec.stderr)
  const {status, result} = json([out])
  assert.equal(status, 1)
  checkSample(result, 2)
})
