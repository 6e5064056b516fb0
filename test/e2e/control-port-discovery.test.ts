// End to end: a control channel on a port other than the default 7070 is
// found without --control-port (control/port-discovery.ts) by check,
// sessions and messages, and said; an explicit --control-port is obeyed; a
// trace with no control traffic at all says so and points at --infer.
import {test} from 'node:test'
import assert from 'node:assert/strict'
import {spawnSync} from 'node:child_process'
import {mkdtempSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {cliBin} from '../support/env.js'
import {buildHandoffTrace} from '../support/handoff-trace.js'

const dir = mkdtempSync(join(tmpdir(), 'handoff-ctlport-e2e-'))
process.on('exit', () => rmSync(dir, {recursive: true, force: true}))

function run(...args: string[]) {
  const r = spawnSync(process.execPath, [cliBin, ...args], {encoding: 'utf8', env: {...process.env, NO_COLOR: '1'}})
  return {code: r.status, out: r.stdout, err: r.stderr}
}

const moved = join(dir, 'port7171.pcapng')
buildHandoffTrace(moved, {controlPort: 7171, fault: 'ack-remap', handoffs: 2})
const usual = join(dir, 'port7070.pcapng')
buildHandoffTrace(usual, {fault: 'ack-remap', handoffs: 2})
const noControl = join(dir, 'no-control.pcapng')
buildHandoffTrace(noControl, {omit: ['control']})

test('check finds the control channel on 7171 and judges the handoffs as on 7070', () => {
  const a = run('check', moved, '--json')
  const b = run('check', usual, '--json')
  assert.equal(a.code, 1, a.err)
  assert.equal(b.code, 1, b.err)
  const ra = JSON.parse(a.out)
  const rb = JSON.parse(b.out)
  assert.deepEqual(ra.controlPortFound, {port: 7171, frames: ra.controlPortFound.frames, connections: 1})
  assert.ok(ra.controlPortFound.frames >= 4, 'hello both ways, req, ack at least')
  assert.equal(rb.controlPortFound, undefined, 'nothing said when the default port carries the channel')
  assert.equal(ra.summary.handoffs, rb.summary.handoffs)
  assert.equal(ra.summary.controlMessages, rb.summary.controlMessages)
  assert.ok(ra.summary.handoffs >= 2)
  assert.deepEqual(ra.summary.byId, rb.summary.byId)
  assert.deepEqual(ra.summary.byId, {'ack-remap': 1})
  const text = run('check', moved)
  assert.match(text.out, /control channel found on TCP port 7171, not the default 7070/)
})

test('an explicit --control-port is obeyed, and a trace without control traffic says so', () => {
  const r = run('check', moved, '--control-port', '7070')
  assert.equal(r.code, 0, r.err)
  assert.match(r.out, /0 handoff\(s\), 0 control message\(s\)/)
  assert.match(r.out, /no control-channel message in the trace: no handoff to judge\. If the control channel was not captured, --infer/)
  const n = run('check', noControl)
  assert.equal(n.code, 0, n.err)
  assert.match(n.out, /no control-channel message in the trace/)
  const i = run('check', noControl, '--infer')
  assert.doesNotMatch(i.out, /no control-channel message in the trace/)
})

test('sessions and messages find it too', () => {
  const s = JSON.parse(run('sessions', moved, '--json').out)
  assert.ok(s.notes.some((n: string) => /control channel found on TCP port 7171/.test(n)), JSON.stringify(s.notes))
  const u = JSON.parse(run('sessions', usual, '--json').out)
  const kinds = (r: {rows: {kind: string; hid?: string}[]}) => r.rows.map((x) => `${x.kind} ${x.hid ?? ''}`).sort()
  assert.deepEqual(kinds(s), kinds(u))
  assert.ok(kinds(s).filter((k) => k.startsWith('handoff ')).length >= 2)
  const m = run('messages', moved, '--json')
  assert.equal(m.code, 0, m.err)
  const rows = JSON.parse(m.out).rows as {type: string}[]
  const types = (rs: {type: string}[]) => rs.map((r) => r.type).join(' ')
  assert.equal(types(rows), types(JSON.parse(run('messages', usual, '--json').out).rows))
  assert.match(types(rows), /handoff-req.*handoff-req/)
  const mt = run('messages', moved)
  assert.match(mt.err, /control channel found on TCP port 7171/)
})
