// `handoff sessions` run as a user runs it (end to end): the built CLI in a
// child process, on shared captures, checked against what tshark says about
// them (tcp.stream count, stream endpoints) and what the rows promise; on the
// lab's trace, merged connections, --per-view rows, the filters, and
// standard input.
import {test} from 'node:test'
import assert from 'node:assert/strict'
import {spawnSync} from 'node:child_process'
import {existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {cliBin, repoRoot, requireOrSkip, sharedCaptures} from '../support/env.js'
import type {SessionRow} from '../../analyzer/sessions/sessions.js'
import type {ConnectionRow} from '../../analyzer/sessions/merge.js'

function run(args: string[]): {code: number; stdout: string; stderr: string} {
  const r = spawnSync(process.execPath, [cliBin, 'sessions', ...args], {cwd: repoRoot, encoding: 'utf8', env: {...process.env, NO_COLOR: '1'}, maxBuffer: 64 << 20})
  return {code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr}
}

interface Summary {sessions: number; connections: number | null; shown: number; tcpPackets: number; vantagePoints: number
  handoffs: {handedOff: number}; byKind: Record<string, number>}
interface Out {mode: 'per-view'; rows: SessionRow[]; summary: Summary; exitCode: number; flagged?: unknown[]}
interface Conns {mode: 'connections'; rows: ConnectionRow[]; summary: Summary; exitCode: number; flagged?: unknown[]
  views: {name: string; offsetMs: number | null}[]}

const cap = (f: string) => join(sharedCaptures, f)

test('sessions --json on http-206_example_b.pcap: two sessions, the anomalies tshark sees', (t) => {
  if (!requireOrSkip(t, existsSync(cap('http-206_example_b.pcap')), 'shared captures missing')) return
  const r = run([cap('http-206_example_b.pcap'), '--json', '--per-view'])
  assert.equal(r.code, 0, r.stderr)
  const out = JSON.parse(r.stdout) as Out
  assert.equal(out.mode, 'per-view')
  assert.equal(out.rows.length, 2)
  const [a, b] = out.rows
  assert.equal(`${a.client}:${a.clientPort} ${a.server}:${a.serverPort}`, '192.168.72.14:3254 65.54.95.206:80')
  assert.equal(`${b.client}:${b.clientPort} ${b.server}:${b.serverPort}`, '192.168.72.14:3257 65.54.95.14:80')
  assert.equal(a.rolesFrom, 'syn')
  assert.equal(a.stream, 0)
  assert.equal(b.stream, 1)
  // tshark 4.0.17 on this file: 56 retransmissions, 52 out-of-order, 64 dup acks, 57 zero windows, 1 ACKed unseen, 14 window updates
  assert.deepEqual(a.anomalies, {'retransmission': 56, 'ack-lost-segment': 1, 'duplicate-ack': 64, 'zero-window': 57, 'out-of-order': 52, 'window-update': 5})
  assert.deepEqual(b.anomalies, {'window-update': 9})
  assert.equal(a.packets.toServer + a.packets.toClient + b.packets.toServer + b.packets.toClient, 1556)
  assert.equal(out.summary.tcpPackets, 1556)
  // no control channel in this trace: every session is plain
  for (const row of out.rows) {
    assert.equal(row.kind, 'plain')
    assert.equal(row.hid, null)
    assert.equal(row.backend, null)
    assert.equal(row.handoffLatencyMs, null)
    assert.match(row.history, /^Sh/)
    assert.ok(row.handshake.totalMs !== null && row.handshake.totalMs > 0)
  }
  // Merged (the default): one view, so the same two rows, their anomalies under that view.
  const m = JSON.parse(run([cap('http-206_example_b.pcap'), '--json']).stdout) as Conns
  assert.equal(m.mode, 'connections')
  assert.equal(m.summary.connections, 2)
  assert.deepEqual(m.rows.map((x) => [x.client, x.clientPort, x.server, x.serverPort, x.state, x.history, x.bytes, x.packets]),
    out.rows.map((x) => [x.client, x.clientPort, x.server, x.serverPort, x.state, x.history, x.bytes, x.packets]))
  assert.deepEqual(m.rows[0]!.anomalies, [{view: `${cap('http-206_example_b.pcap')}#0`, leg: 'direct', flags: a.anomalies}])
  assert.deepEqual(m.rows[0]!.seenAt.map((x) => x.stream), [0])
})

test('sessions on pptp.pcap: one closed session, Zeek history, retransmissions in its counts', (t) => {
  if (!requireOrSkip(t, existsSync(cap('pptp.pcap')), 'shared captures missing')) return
  const r = run([cap('pptp.pcap'), '--json', '--anomalies', '--per-view'])
  assert.equal(r.code, 0, r.stderr)
  const out = JSON.parse(r.stdout) as Out
  assert.equal(out.rows.length, 1)
  const row = out.rows[0]
  assert.equal(row.state, 'SF')
  assert.equal(row.history, 'ShADadtfF')
  assert.equal(row.serverPort, 1723)
  assert.deepEqual(row.anomalies, {'retransmission': 4, 'duplicate-ack': 4})
  assert.ok(row.payloadBytes.toClient > row.bytes.toClient, 'retransmitted bytes are left out of bytes')
  assert.equal(out.flagged?.length, 8)
  // Merged: the flagged packets of the shown connections, the same 8; none when the filter hides it.
  assert.equal((JSON.parse(run([cap('pptp.pcap'), '--json', '--anomalies']).stdout) as Conns).flagged?.length, 8)
  assert.equal((JSON.parse(run([cap('pptp.pcap'), '--json', '--anomalies', '--client', '192.0.2.99']).stdout) as Conns).flagged?.length, 0)
})

test('sessions: filters, the text table, and several files', (t) => {
  if (!requireOrSkip(t, existsSync(cap('tcpreplay_test.pcap')), 'shared captures missing')) return
  const all = JSON.parse(run([cap('tcpreplay_test.pcap'), '--json']).stdout) as Out
  assert.equal(all.rows.length, 7) // MANIFEST tcp_streams
  const some = JSON.parse(run([cap('tcpreplay_test.pcap'), '--json', '--server', '96.17.211.172']).stdout) as Out
  assert.equal(some.rows.length, 4)
  assert.equal(some.summary.sessions, 7)
  assert.equal(some.summary.connections, 7)
  assert.equal(some.summary.shown, 4)
  const none = JSON.parse(run([cap('tcpreplay_test.pcap'), '--json', '--client', '192.0.2.99']).stdout) as Out
  assert.equal(none.rows.length, 0)
  const text = run([cap('tcpreplay_test.pcap'), cap('pptp.pcap')])
  assert.equal(text.code, 0)
  assert.match(text.stdout, /^client +server +state +bytes →\/← +duration s +history +anomalies +seen at$/m)
  assert.match(text.stdout, /10\.1\.1\.11:3025 +10\.1\.1\.10:1723 +SF .* pptp\.pcap\*$/m)
  assert.match(text.stdout, /8 connections \(.*\) from 8 TCP sessions; .*2 vantage points/)
  // Two unrelated captures: no segment in common, so no clock offset.
  assert.match(text.stdout, /clock offsets .*no segment shared with another view: tcpreplay_test\.pcap, pptp\.pcap/)
  const perView = run([cap('tcpreplay_test.pcap'), cap('pptp.pcap'), '--per-view'])
  assert.match(perView.stdout, /stream +client +server +state/)
  assert.match(perView.stdout, /note: each \(file, interface\) is its own vantage point/)
})

test('sessions on a damaged capture: what came before, then exit 2', (t) => {
  if (!requireOrSkip(t, existsSync(cap('http-get.pcap')), 'shared captures missing')) return
  const dir = mkdtempSync(join(tmpdir(), 'sessions-'))
  try {
    const data = readFileSync(cap('http-get.pcap'))
    const cut = join(dir, 'cut.pcap')
    writeFileSync(cut, data.subarray(0, data.length - 20))
    const r = run([cut, '--json'])
    assert.equal(r.code, 2)
    const out = JSON.parse(r.stdout) as Out & {files: {error?: {code: string}}[]}
    assert.equal(out.rows.length, 1)
    assert.equal(out.files[0].error?.code, 'truncated-record')
    const txt = run([cut])
    assert.equal(txt.code, 2)
    assert.match(txt.stderr, /handoff sessions: .*cut\.pcap/)
  } finally {
    rmSync(dir, {recursive: true, force: true})
  }
})

const lab = join(repoRoot, 'samples', 'traces', 'lab-clean', 'lab.pcapng.gz')

test('sessions on the lab trace: one row per connection; kind, hid, FE → BE, latency, legs; the filters; --per-view', () => {
  const all = JSON.parse(run([lab, '--json']).stdout) as Conns
  assert.equal(all.summary.handoffs.handedOff, 12)
  assert.equal(all.rows.length, 22)
  assert.equal(all.rows.filter((x) => x.kind === 'handoff').length, 12)
  assert.equal(all.rows.filter((x) => x.kind === 'local').length, 4)
  assert.deepEqual(all.summary.byKind, {plain: 6, handoff: 12, local: 4})
  const r = run([lab, '--json', '--kind', 'handoff', '--backend', 'n2'])
  assert.equal(r.code, 0, r.stderr)
  const be = JSON.parse(r.stdout) as Conns
  assert.equal(be.rows.length, 4)
  assert.ok(be.rows.every((x) => x.kind === 'handoff' && /^n2 \(10\.77\.0\.12\)$/.test(x.backend!)))
  assert.equal(new Set(be.rows.map((x) => x.hid)).size, 4)
  // --server names the VIP or a leg's server: the BE address finds the connections forwarded to it.
  const byBeAddr = JSON.parse(run([lab, '--json', '--server', '10.77.0.12', '--kind', 'handoff']).stdout) as Conns
  assert.ok(byBeAddr.rows.some((x) => x.server !== '10.77.0.12'))
  assert.deepEqual(byBeAddr.rows.filter((x) => x.server !== '10.77.0.12').map((x) => x.hid).sort(), be.rows.filter((x) => x.server !== '10.77.0.12').map((x) => x.hid).sort())
  const hid = JSON.parse(run([lab, '--json', '--hid', 'n1/1']).stdout) as Conns
  assert.equal(hid.rows.length, 1)
  assert.equal(hid.rows[0]!.backend, 'n2 (10.77.0.12)')
  assert.deepEqual(hid.rows[0]!.seenAt.map((x) => `${x.view.replace(/^.*\((.*)\)$/, '$1')} ${x.leg}`),
    ['client client-vip', 'lan client-vip', 'lan forward', 'n1-inside fe-inside', 'n2-inside be-inside'])
  const pv = JSON.parse(run([lab, '--json', '--per-view', '--hid', 'n1/1']).stdout) as Out
  assert.ok(pv.rows.length === 5 && pv.rows.every((x) => x.hid === 'n1/1' && x.backend === 'n2 (10.77.0.12)'))
  const client = JSON.parse(run([lab, '--json', '--client', '10.77.1.1', '--state', 'SF']).stdout) as Conns
  assert.ok(client.rows.length > 0 && client.rows.every((x) => x.client === '10.77.1.1' && x.state === 'SF'))
  const text = run([lab, '--kind', 'local'])
  assert.equal(text.code, 0, text.stderr)
  assert.match(text.stdout, /^kind +hid +FE → BE +handoff ms +client +server +state +bytes →\/← +duration s +history +anomalies +seen at$/m)
  assert.match(text.stdout, /^local +- +n1 +- +10\.77\.1\.1:20000 +10\.77\.0\.11:80 +SF +90 B\/16\.2 kB .* client\* lan n1-inside$/m)
  assert.match(text.stdout, /note: kind: handoff = a handoff-req names the connection/)
  assert.match(text.stdout, /clock offsets .* vs client: lan \+0\.\d{3} \(\d+\)/)
  assert.match(text.stdout, /22 connections .* from 78 TCP sessions; .*handoffs in the control channel: 12 acked, 0 nacked, 0 unanswered; connections by kind: plain 6, handoff 12, local 4; 4 shown/)
  const ho = run([lab, '--hid', 'n3/2'])
  assert.match(ho.stdout, /^handoff +n3\/2 +n3 → n2 +\d+\.\d{3} +10\.77\.1\.2:20005 +10\.77\.0\.13:80 +SF .* client\* lan lan→BE n2-inside n3-inside$/m)
  const pvText = run([lab, '--per-view', '--kind', 'local'])
  assert.match(pvText.stdout, /client +\d+ +local +- +n1 +- +10\.77\.1\.1:20000 +10\.77\.0\.11:80 +SF/)
  assert.match(pvText.stdout, /rows by kind: .*local 12.*; 12 shown/)
})

test('sessions from standard input: the handoff columns and the filters, as from the file', () => {
  const input = readFileSync(lab)
  const stdin = (args: string[]) => spawnSync(process.execPath, [cliBin, 'sessions', '-', ...args],
    {cwd: repoRoot, encoding: 'utf8', input, env: {...process.env, NO_COLOR: '1'}, maxBuffer: 64 << 20})
  const s = stdin(['--json'])
  assert.equal(s.status, 0, s.stderr)
  const fromStdin = JSON.parse(s.stdout) as Conns
  const fromFile = JSON.parse(run([lab, '--json']).stdout) as Conns
  const strip = (o: Conns) => JSON.stringify(o.rows).split(lab).join('<stdin>')
  assert.equal(strip(fromStdin), strip(fromFile))
  assert.equal(fromStdin.rows.filter((x) => x.kind === 'handoff' && x.handoffLatencyMs !== null).length, 12)
  const f = stdin(['--json', '--kind', 'handoff', '--backend', 'n2'])
  assert.equal(f.status, 0, f.stderr)
  assert.equal((JSON.parse(f.stdout) as Conns).rows.length, 4)
  const t = stdin(['--hid', 'n3/2'])
  assert.match(t.stdout, /^handoff +n3\/2 +n3 → n2 +\d+\.\d{3} +10\.77\.1\.2:20005/m)
  // Bad input: a clear message, exit 2, no stack trace.
  const bad = spawnSync(process.execPath, [cliBin, 'sessions', '-'], {cwd: repoRoot, encoding: 'utf8', input: 'not a capture\n'})
  assert.equal(bad.status, 2)
  assert.match(bad.stderr, /handoff sessions: <stdin>: unknown magic/)
  assert.doesNotMatch(bad.stderr + bad.stdout, /\n\s+at /)
  const twice = spawnSync(process.execPath, [cliBin, 'sessions', '-', '-'], {cwd: repoRoot, encoding: 'utf8', input: ''})
  assert.equal(twice.status, 2)
  assert.match(twice.stderr, /standard input \(-\) can be read once only/)
  assert.doesNotMatch(twice.stderr, /\n\s+at /)
  // The same under --json: exit 2, the message as the JSON's error.
  const twiceJson = spawnSync(process.execPath, [cliBin, 'sessions', '--json', '-', '-'], {cwd: repoRoot, encoding: 'utf8', input: ''})
  assert.equal(twiceJson.status, 2)
  assert.match((JSON.parse(twiceJson.stdout) as {error: {message: string}}).error.message, /can be read once only/)
  const badFlag = spawnSync(process.execPath, [cliBin, 'sessions', '--json', '--kind', 'bogus', '-'], {cwd: repoRoot, encoding: 'utf8', input: ''})
  assert.equal(badFlag.status, 2)
  assert.deepEqual(JSON.parse(badFlag.stdout).error.exit, 2)
})
