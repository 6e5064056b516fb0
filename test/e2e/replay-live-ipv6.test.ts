// `handoff replay TRACE --live` over IPv6, the real CLI against a real Linux
// TCP stack (issue 6: IPv4 AND IPv6; the IPv4 side is replay-stateful-lab):
//
//   hot-…-rp  rp0 fd77:77::1/64 <── veth (offloads off) ──> sv0 fd77:77::2/64  hot-…-sv
//             the replayer, replaying as fd77:77::a               node:http on [fd77:77::2]:80
//
// The recorded trace is the spec-driven synthetic one (test/support/
// handoff-trace.ts, family 6) whose back-end is the server's address and
// whose responses are what this very server sent to a real client for the
// same requests (fetched first, over the server namespace's own stack): so
// a match means the replayer re-created, through the §4 rewrites, a
// conversation the live kernel accepted and answered byte for byte.
// The recorded client fd77:77::a is owned by no namespace: the replayer
// finds the server's MAC by its own solicitation (whose source link-layer
// option tells the server's kernel where the source is), and the server's
// kernel, set to probe unconfirmed neighbours at once, sends a unicast
// solicitation that only the replayer's advertisement answers (its entry
// must end REACHABLE, not PROBE/FAILED). A first run, one connection at a
// time, with --source fd77:77::b and --target-mac, must not stall (no
// retransmission on this lossless link). Several connections run at once
// (the server reports its peak of open connections, holding each response
// until all have been open at once, at most 1 s); one response is 60 kB.
// Neither kernel sends a RST. Then one path's body changes on the server:
// exit 1 with --expect-same-response, that connection reported at the byte
// a real fetch of both versions says differs.
// The namespaces (and the server in them) are removed in `finally`.
import {test} from 'node:test'
import assert from 'node:assert/strict'
import {spawnSync, type ChildProcess} from 'node:child_process'
import {mkdtempSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {buildHandoffTrace} from '../support/handoff-trace.js'
import {cliBin, hasCommand, isRoot, requireOrSkip} from '../support/env.js'
import {Lab, listNamespaces, waitForOutput} from '../support/netns.js'

const SERVER = 'fd77:77::2'
const OWN = 'fd77:77::1' // the replayer host's own address (its kernel must stay out of the replay)
const CLIENT = 'fd77:77::a' // the recorded client: nobody owns it, the replayer answers ND for it
const SOURCE2 = 'fd77:77::b' // --source for one run: an address the server's kernel has never seen
const VIP = 'fd77:77::100' // only in the trace: the replayer sends to the recorded back-end
const N = 4
const serverJs = join(import.meta.dirname, '..', 'support', 'http6-server.js')

// The last connection's response is 60 kB: many windows' worth, so the live
// server waits for the replayer's ACKs (and window updates) as it sends.
const bodyBytes = (n: number) => (n === N ? 60000 : 2800)
const request = (n: number) =>
  `GET /v6/${n}.txt?bytes=${bodyBytes(n)} HTTP/1.1\r\nHost: cluster.example\r\nUser-Agent: synthetic\r\nConnection: close\r\n\r\n`

/** TCP OutRsts of a namespace's kernel (/proc/net/snmp: the Tcp MIB counts IPv4 and IPv6 alike). */
function outRsts(lab: Lab, ns: string): number {
  const tcp = lab.exec(ns, ['cat', '/proc/net/snmp']).split('\n').filter((l) => l.startsWith('Tcp:'))
  const names = tcp[0].split(/\s+/)
  return Number(tcp[1].split(/\s+/)[names.indexOf('OutRsts')])
}

function firstDiff(a: Buffer, b: Buffer): number {
  const n = Math.min(a.length, b.length)
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return i
  return a.length === b.length ? -1 : n
}

test('replay --live over IPv6 against a real kernel: ND both ways, concurrent connections match, no RST; a changed body is exit 1', {timeout: 120000}, async (t) => {
  if (!requireOrSkip(t, isRoot(), 'needs root for network namespaces')) return
  for (const c of ['ip', 'ethtool', 'sysctl']) if (!requireOrSkip(t, hasCommand(c), `needs ${c}`)) return
  const lab = new Lab()
  const dir = mkdtempSync(join(tmpdir(), 'handoff-live6-'))
  let server: ChildProcess | undefined
  try {
    const rp = lab.ns('rp')
    const sv = lab.ns('sv')
    // Offloads off (design notes): no GSO super-packets, no partial checksums
    // in what the replayer captures and has to return-rewrite.
    lab.veth(rp, 'rp0', sv, 'sv0')
    lab.enableIpv6(rp, ['rp0'])
    lab.enableIpv6(sv, ['sv0'])
    lab.addAddress(rp, 'rp0', `${OWN}/64`)
    lab.addAddress(sv, 'sv0', `${SERVER}/64`)
    const svMac = lab.exec(sv, ['cat', '/sys/class/net/sv0/address']).trim()
    // The server's kernel probes an unconfirmed neighbour at once (not after
    // 5 s), and again every 100 ms (not 1 s, so that a probe lost by the
    // replayer's fresh capture is repeated while the replayer still runs):
    // the first frame it sends to the replayed source makes it send a unicast
    // solicitation, which only the replayer's advertisement answers
    // (REACHABLE below; without it the entry goes PROBE → FAILED).
    lab.exec(sv, ['sysctl', '-qw', 'net.ipv6.neigh.sv0.delay_first_probe_time=0'])
    lab.exec(sv, ['sysctl', '-qw', 'net.ipv6.neigh.sv0.retrans_time_ms=100'])

    // together: the responses wait until that many connections have been open at once (at most 1 s; see http6-server.ts).
    const start = async (changed?: string, together?: number): Promise<{child: ChildProcess; peak: () => number; holdTimeouts: () => number}> => {
      const child = lab.spawn(sv, [process.execPath, serverJs, 'serve', SERVER, '80', ...(changed ? [changed] : []),
        ...(together ? ['--together', String(together)] : [])])
      let out = ''
      child.stdout!.on('data', (d: Buffer) => (out += d.toString()))
      await waitForOutput(child, /ready/, 10000)
      return {child, peak: () => Math.max(0, ...[...out.matchAll(/peak (\d+)/g)].map((m) => Number(m[1]))),
        holdTimeouts: () => (out.match(/hold timeout/g) ?? []).length}
    }
    const stop = async (c: ChildProcess): Promise<void> => {
      if (c.exitCode !== null || c.signalCode !== null) return
      const gone = new Promise((r) => c.once('exit', r))
      c.kill('SIGTERM')
      await gone
    }
    // What the server really sends for request(n), from a client on its own stack.
    const fetch = (n: number): Buffer =>
      Buffer.from(lab.exec(sv, [process.execPath, serverJs, 'fetch', SERVER, '80'], {input: request(n)}), 'base64')

    let srv = await start()
    server = srv.child
    const served = new Map<number, Buffer>()
    for (let n = 1; n <= N; n++) served.set(n, fetch(n))
    for (const [n, b] of served) assert.match(b.toString('latin1'), new RegExp(`^HTTP/1\\.1 200 OK\r\n[^]*\r\n\r\n[a-y\n]{${bodyBytes(n)}}$`))

    const trace = join(dir, 'v6.pcapng')
    const built = buildHandoffTrace(trace, {
      family: 6, handoffs: N, distractors: false, responseSegments: 50, // 60 kB in 50 recorded segments of at most 1400 bytes
      addrs: {client: CLIENT, vip: VIP, be: SERVER}, request, response: (n) => served.get(n)!.toString('latin1'),
    })
    const replay = (args: string[]) => {
      const r = spawnSync('ip', ['netns', 'exec', rp, process.execPath, cliBin, 'replay', trace, '--live', '-i', 'rp0', ...args],
        {encoding: 'utf8', env: {...process.env, NO_COLOR: '1'}, timeout: 60000})
      return {status: r.status ?? -1, stdout: r.stdout ?? '', stderr: r.stderr ?? ''}
    }
    const rstsBefore = [outRsts(lab, sv), outRsts(lab, rp)]

    // 0. One at a time first, the control for the server's peak count; from
    //    another source, fd77:77::b, with the target's MAC given (no
    //    resolution needed, but the replayer still solicits, or the server's
    //    kernel has to ask and its first question is lost: a 1 s stall).
    //    (--timeout 5: connections take milliseconds; without the answer each
    //    would retry its SYN for 20 s.)
    const serial = replay(['--concurrency', '1', '--source', SOURCE2, '--target', SERVER, '--target-mac', svMac, '--timeout', '5',
      '--expect-same-response', '--json'])
    assert.equal(serial.status, 0, `${serial.stderr}\n${serial.stdout.slice(0, 3000)}`)
    const r0 = JSON.parse(serial.stdout)
    assert.equal(r0.summary.matched, N)
    // Nothing is lost on this veth: a retransmission means a stall, e.g. the
    // server's first solicitation lost by the fresh capture (the replayer
    // now solicits the target even with --target-mac, so it need not ask).
    for (const c of r0.connections) assert.equal(c.stats.retransmissions, 0, `${c.hid}: ${c.stats.retransmissions} retransmission(s), ${c.durationMs} ms`)
    assert.deepEqual(r0.targets, [{addr: SERVER, mac: svMac, resolved: false}])
    for (const c of r0.connections) assert.match(c.replayed, /^\[fd77:77::b\]:2000\d → \[fd77:77::2\]:80$/)
    const neigh0 = lab.exec(sv, ['ip', '-6', 'neigh', 'show', SOURCE2, 'dev', 'sv0'])
    assert.match(neigh0, new RegExp(`lladdr ${r0.sourceMac} .*REACHABLE`), neigh0)
    await new Promise((r) => setTimeout(r, 300)) // spawnSync blocked this event loop: let the server's lines in
    assert.equal(srv.peak(), 1, 'one connection at a time, yet the server saw more open at once')

    // 1. The server as recorded: every connection matches, several at once.
    //    The server now holds each response until all N connections have been open at once
    //    (at most 1 s): a concurrent replayer opens them all while the first
    //    is held, so the peak no longer depends on whether the scheduler let
    //    the server finish a sub-millisecond connection before the replayer's
    //    next handshake (peak 1 was seen on a loaded machine); a replayer that
    //    waited for each connection to end would still show peak 1.
    await stop(srv.child)
    srv = await start(undefined, N)
    server = srv.child
    const ok = replay(['--concurrency', String(N), '--expect-same-response', '--json'])
    assert.equal(ok.status, 0, `${ok.stderr}\n${ok.stdout.slice(0, 3000)}`)
    const res = JSON.parse(ok.stdout)
    assert.deepEqual(res.summary, {...res.summary, connections: N, ok: N, matched: N, mismatched: 0, failed: 0})
    assert.deepEqual(res.connections.map((c: {hid: string}) => c.hid).sort(), built.hids.slice().sort())
    for (const c of res.connections) {
      assert.equal(c.status, 'ok', `${c.hid}: ${c.error}`)
      assert.equal(c.closedBy, 'fin')
      assert.match(c.replayed, /^\[fd77:77::a\]:2000\d → \[fd77:77::2\]:80$/)
      assert.equal(c.response.match, true, c.hid)
      assert.equal(c.response.liveBytes, served.get(Number(c.hid.split('/')[1]))!.length)
      assert.equal(c.response.recordedBytes, c.response.liveBytes)
      // At most one MSS per live segment: the response came in many (the live segmentation, not the recorded one).
      const least = Math.ceil(c.response.liveBytes / c.live.mss)
      assert.ok(least >= 3 && c.stats.segmentsReceived >= least, `${c.hid}: a ${c.response.liveBytes}-byte response in ${c.stats.segmentsReceived} segment(s)`)
      assert.ok(c.live.tau !== null && c.live.ts && c.live.sack)
    }
    // Resolved by the replayer's neighbour solicitation: the server's kernel answered with sv0's MAC.
    assert.deepEqual(res.targets, [{addr: SERVER, mac: svMac, resolved: true}])
    // The server's kernel has fd77:77::a at the replayer's MAC (from the SLLA option of the replayer's solicitation).
    const neigh = lab.exec(sv, ['ip', '-6', 'neigh', 'show', CLIENT, 'dev', 'sv0'])
    assert.match(neigh, new RegExp(`lladdr ${res.sourceMac}`), neigh)
    await new Promise((r) => setTimeout(r, 300))
    const peak = srv.peak()
    const holdTimeouts = srv.holdTimeouts()
    assert.ok(peak >= 2, `the server never had two replayed connections open at once (peak ${peak}, ${holdTimeouts} response(s) released by the hold's timeout)`)
    assert.deepEqual([outRsts(lab, sv), outRsts(lab, rp)], rstsBefore, 'a kernel sent RSTs during the replay (server, replayer)')

    // 2. One path's body changes on the server; the trace stays as it was.
    const victim = N // the 60 kB body, changed in its middle
    await stop(srv.child)
    srv = await start(request(victim).split(' ')[1])
    server = srv.child
    const at = firstDiff(served.get(victim)!, fetch(victim))
    assert.ok(at > 0, 'the changed server serves the same bytes')
    const bad = replay(['--concurrency', String(N), '--expect-same-response', '--json'])
    assert.equal(bad.status, 1, `${bad.stderr}\n${bad.stdout.slice(0, 3000)}`)
    const r2 = JSON.parse(bad.stdout)
    assert.equal(r2.summary.ok, N)
    assert.equal(r2.summary.mismatched, 1)
    assert.equal(r2.summary.matched, N - 1)
    const c2 = r2.connections.find((c: {response: {match: boolean}}) => !c.response.match)
    assert.equal(c2.hid, `fe1/${victim}`)
    assert.equal(c2.response.firstDiff, at)
    // The human report names the connection and the byte; no stack trace.
    const human = replay(['--hid', `fe1/${victim}`, '--expect-same-response'])
    assert.equal(human.status, 1, human.stderr)
    assert.equal(/ at .*\.js:\d+/.test(human.stderr), false, human.stderr)
    assert.match(human.stdout, new RegExp(`fe1/${victim}: response differs from the recorded one at byte ${at} `))
    assert.match(human.stdout, /live: {5}.*⟨Z/)
    assert.match(human.stdout, /not the same response \(--expect-same-response\)/)
    assert.deepEqual([outRsts(lab, sv), outRsts(lab, rp)], rstsBefore, 'a kernel sent RSTs during the replays (server, replayer)')
    t.diagnostic(`${N} IPv6 connections matched in ${res.summary.elapsedMs} ms (server peak ${peak} at once, ${holdTimeouts} hold timeout(s)); ` +
      `changed body found at byte ${at}`)
  } finally {
    server?.kill('SIGKILL')
    const mine = [...lab.namespaces]
    await lab.cleanup()
    rmSync(dir, {recursive: true, force: true})
    assert.deepEqual(listNamespaces().filter((n) => mine.includes(n)), [], 'namespaces left behind')
  }
})
