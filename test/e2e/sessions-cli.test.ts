// `handoff sessions` run as a user runs it (end to end): the built CLI in a
// child process, on shared captures, checked against what tshark says about
// them (tcp.stream count, stream endpoints) and what the rows promise.
import {test} from 'node:test'
import assert from 'node:assert/strict'
import {spawnSync} from 'node:child_process'
import {existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {cliBin, repoRoot, requireOrSkip, sharedCaptures} from '../support/env.js'
import type {SessionRow} from '../../analyzer/sessions/sessions.js'

function run(args: string[]): {code: number; stdout: string; stderr: string} {
  const r = spawnSync(process.execPath, [cliBin, 'sessions', ...args], {cwd: repoRoot, encoding: 'utf8', env: {...process.env, NO_COLOR: '1'}, maxBuffer: 64 << 20})
  return {code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr}
}

interface Out {rows: SessionRow[]; summary: {sessions: number; shown: number; tcpPackets: number; vantagePoints: number}; exitCode: number; flagged?: unknown[]}

const cap = (f: string) => join(sharedCaptures, f)

test('sessions --json on http-206_example_b.pcap: two sessions, the anomalies tshark sees', (t) => {
  if (!requireOrSkip(t, existsSync(cap('http-206_example_b.pcap')), 'shared captures missing')) return
  const r = run([cap('http-206_example_b.pcap'), '--json'])
  assert.equal(r.code, 0, r.stderr)
  const out = JSON.parse(r.stdout) as Out
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
})

test('sessions on pptp.pcap: one closed session, Zeek history, retransmissions in its counts', (t) => {
  if (!requireOrSkip(t, existsSync(cap('pptp.pcap')), 'shared captures missing')) return
  const r = run([cap('pptp.pcap'), '--json', '--anomalies'])
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
})

test('sessions: filters, the text table, and several files', (t) => {
  if (!requireOrSkip(t, existsSync(cap('tcpreplay_test.pcap')), 'shared captures missing')) return
  const all = JSON.parse(run([cap('tcpreplay_test.pcap'), '--json']).stdout) as Out
  assert.equal(all.rows.length, 7) // MANIFEST tcp_streams
  const some = JSON.parse(run([cap('tcpreplay_test.pcap'), '--json', '--server', '96.17.211.172']).stdout) as Out
  assert.equal(some.rows.length, 4)
  assert.equal(some.summary.sessions, 7)
  assert.equal(some.summary.shown, 4)
  const none = JSON.parse(run([cap('tcpreplay_test.pcap'), '--json', '--client', '192.0.2.99']).stdout) as Out
  assert.equal(none.rows.length, 0)
  const text = run([cap('tcpreplay_test.pcap'), cap('pptp.pcap')])
  assert.equal(text.code, 0)
  assert.match(text.stdout, /stream +client +server +state/)
  assert.match(text.stdout, /10\.1\.1\.11:3025 +10\.1\.1\.10:1723 +SF/)
  assert.match(text.stdout, /8 TCP sessions .*2 vantage points/)
  assert.match(text.stdout, /note: each \(file, interface\) is its own vantage point/)
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

test('sessions on the lab trace: kind, hid, FE → BE, handoff latency; the filters', () => {
  const all = JSON.parse(run([lab, '--json']).stdout) as Out & {summary: {handoffs: {handedOff: number}; byKind: Record<string, number>}}
  assert.equal(all.summary.handoffs.handedOff, 12)
  const client = all.rows.filter((x) => x.interfaceName === 'client')
  assert.equal(client.filter((x) => x.kind === 'handoff').length, 12)
  assert.equal(client.filter((x) => x.kind === 'local').length, 4)
  const r = run([lab, '--json', '--kind', 'handoff', '--backend', 'n2'])
  assert.equal(r.code, 0, r.stderr)
  const be = JSON.parse(r.stdout) as Out
  assert.ok(be.rows.length > 0 && be.rows.every((x) => x.kind === 'handoff' && /^n2 \(10\.77\.0\.12\)$/.test(x.backend!)))
  assert.equal(new Set(be.rows.map((x) => x.hid)).size, 4)
  const hid = JSON.parse(run([lab, '--json', '--hid', 'n1/1']).stdout) as Out
  assert.ok(hid.rows.length === 5 && hid.rows.every((x) => x.hid === 'n1/1' && x.backend === 'n2 (10.77.0.12)'))
  const text = run([lab, '--kind', 'local'])
  assert.equal(text.code, 0, text.stderr)
  assert.match(text.stdout, /stream +kind +hid +FE → BE +handoff ms +client/)
  assert.match(text.stdout, /client +\d+ +local +- +n1 +- +10\.77\.1\.1:20000 +10\.77\.0\.11:80 +SF/)
  assert.match(text.stdout, /note: kind: handoff = a handoff-req names the connection/)
  assert.match(text.stdout, /handoffs in the control channel: 12 acked, 0 nacked, 0 unanswered; rows by kind: .*handoff 60.*; 12 shown/)
  const ho = run([lab, '--hid', 'n3/2'])
  assert.match(ho.stdout, /client +\d+ +handoff +n3\/2 +n3 → n2 +\d+\.\d{3} +10\.77\.1\.2:20005 +10\.77\.0\.13:80/)
  // Standard input is read once: no control channel, so the handoff filters are refused.
  const stdin = spawnSync(process.execPath, [cliBin, 'sessions', '-', '--kind', 'handoff'], {cwd: repoRoot, encoding: 'utf8', input: readFileSync(lab)})
  assert.equal(stdin.status, 2)
  assert.match(stdin.stderr, /need the control channel/)
})
