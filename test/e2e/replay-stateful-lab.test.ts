// `handoff replay TRACE --live`, the real CLI, against a real node's kernel
// stack in the lab (issue 6):
//
//   ho-<id>-rp  rp0 <── veth ──> rp1  ho-<id>-s1 (node n1's stack: eth0 10.77.0.11, HTTP :80)
//
// The replayer's namespace owns no address. It replays, from 10.77.9.1 (a
// source it answers ARP for itself; the stack routes 10.77.9.1/32 over rp1),
// the handoffs of samples/traces/lab-clean whose back-end was n1: every
// live response matches the recorded one, over real retransmission-capable
// TCP, and neither kernel sends a single RST. Then n1's content for one path
// is changed (the lab's content override) and --expect-same-response exits 1
// and reports that connection, at the byte where the body changed.
// Last, over a lossy path (a bump in the wire that drops the first data
// segment of each direction of every connection): the replayer retransmits
// its lost request, the live server retransmits its lost first response
// segment while the replayer SACKs what came out of order, and every
// response still matches.
// `lab down` in finally; nothing is left (the replayer's namespace is named
// ho-<id>-rp so the lab's teardown removes it too).
import {test} from 'node:test'
import assert from 'node:assert/strict'
import {execFileSync, spawn, spawnSync, type ChildProcess} from 'node:child_process'
import {join} from 'node:path'
import {expectedBody, loadState, setContentOverride} from '../../samples/lab/config.js'
import {scanControl} from '../../replayer/select/control.js'
import {buildScripts} from '../../replayer/live/script.js'
import {cliBin, repoRoot} from '../support/env.js'
import {canRunLab, cli, downQuietly, labId, leftovers} from '../support/lab.js'
import {waitForOutput} from '../support/netns.js'

const trace = join(repoRoot, 'samples', 'traces', 'lab-clean', 'lab.pcapng.gz')
const SOURCE = '10.77.9.1'

function ip(args: string[]): void {
  execFileSync('ip', args, {stdio: ['ignore', 'ignore', 'pipe']})
}

/** TCP OutRsts of a namespace's kernel (/proc/net/snmp). */
function outRsts(ns: string): number {
  const snmp = execFileSync('ip', ['netns', 'exec', ns, 'cat', '/proc/net/snmp'], {encoding: 'utf8'}).split('\n').filter((l) => l.startsWith('Tcp:'))
  const names = snmp[0].split(/\s+/)
  const values = snmp[1].split(/\s+/)
  return Number(values[names.indexOf('OutRsts')])
}

function replay(ns: string, args: string[], iface = 'rp0', source = SOURCE) {
  const r = spawnSync('ip', ['netns', 'exec', ns, process.execPath, cliBin, 'replay', trace, '--live', '--interface', iface, '--source', source, ...args],
    {encoding: 'utf8', env: {...process.env, NO_COLOR: '1'}, timeout: 60000})
  return {status: r.status ?? -1, stdout: r.stdout ?? '', stderr: r.stderr ?? ''}
}

test('replay --live against n1\'s stack: every recorded response matches; a changed back-end is a mismatch', {timeout: 120000}, async (t) => {
  if (!canRunLab(t)) return
  const id = labId()
  let bump: ChildProcess | undefined
  try {
    const up = cli(['lab', 'up', '--nodes', '3', '--id', id], 90000)
    assert.equal(up.status, 0, `lab up failed: ${up.stderr}${up.stdout}`)
    const st = loadState(id)!
    const n1 = st.nodes[0]
    const rp = `ho-${id}-rp`
    ip(['netns', 'add', rp])
    ip(['link', 'add', 'rp0', 'netns', rp, 'type', 'veth', 'peer', 'name', 'rp1', 'netns', n1.stackNs])
    for (const [ns, dev] of [[rp, 'rp0'], [n1.stackNs, 'rp1']]) {
      ip(['-n', ns, 'link', 'set', dev, 'up'])
      // Offloads off (design notes): no GSO super-packets, no partial checksums.
      execFileSync('ip', ['netns', 'exec', ns, 'ethtool', '-K', dev, 'tso', 'off', 'gso', 'off', 'gro', 'off', 'tx', 'off', 'rx', 'off'], {stdio: 'ignore'})
    }
    execFileSync('ip', ['netns', 'exec', rp, 'sysctl', '-qw', 'net.ipv6.conf.rp0.disable_ipv6=1'])
    ip(['-n', n1.stackNs, 'route', 'add', `${SOURCE}/32`, 'dev', 'rp1'])

    // The handoffs n1 served in the recording.
    const scan = await scanControl([trace])
    const mine = scan.handoffs.filter((h) => h.ack?.msg.baddr === n1.addr)
    assert.ok(mine.length >= 3, `lab-clean has ${mine.length} handoffs to n1`)
    const hids = mine.flatMap((h) => ['--hid', h.hid])
    const rstsBefore = [outRsts(n1.stackNs), outRsts(rp)]

    // 1. Same content: everything matches, exit 0 with --expect-same-response.
    const ok = replay(rp, [...hids, '--expect-same-response', '--json'])
    assert.equal(ok.status, 0, `${ok.stderr}\n${ok.stdout.slice(0, 3000)}`)
    const res = JSON.parse(ok.stdout)
    assert.equal(res.summary.connections, mine.length)
    assert.equal(res.summary.matched, mine.length)
    for (const c of res.connections) {
      assert.equal(c.status, 'ok', `${c.hid}: ${c.error}`)
      assert.equal(c.closedBy, 'fin')
      assert.equal(c.response.match, true, c.hid)
      assert.ok(c.response.liveBytes > 200 && c.response.liveBytes === c.response.recordedBytes)
      assert.equal(c.response.masked[0], 1, 'the Date value is masked, in the recorded head')
      assert.ok(c.live.delta >= 0 && c.live.tau !== null)
      assert.match(c.replayed, /^10\.77\.9\.1:\d+ → 10\.77\.0\.11:80$/)
    }
    // The stack answered the replayer's ARP request on rp1.
    const rp1Mac = execFileSync('ip', ['netns', 'exec', n1.stackNs, 'cat', '/sys/class/net/rp1/address'], {encoding: 'utf8'}).trim()
    assert.deepEqual(res.targets, [{addr: n1.addr, mac: rp1Mac, resolved: true}])
    assert.deepEqual([outRsts(n1.stackNs), outRsts(rp)], rstsBefore, 'a kernel sent RSTs during the replay')

    // 2. n1 serves different bytes for one path.
    const changed = mine[0]
    const path = changed.req.msg.url
    const body = Buffer.from(expectedBody(path, 'n1'))
    const at = Math.min(150, body.length - 2)
    body[at] = body[at] === 0x5a ? 0x59 : 0x5a // 'Z' never occurs in the lab's bodies
    setContentOverride(st, 'n1', {[path]: body.toString('latin1')})
    const [script] = await buildScripts([trace], [changed])
    const headLen = Buffer.from(script.response).indexOf('\r\n\r\n') + 4

    const bad = replay(rp, [...hids, '--expect-same-response', '--json'])
    assert.equal(bad.status, 1, bad.stderr)
    const r2 = JSON.parse(bad.stdout)
    assert.equal(r2.summary.mismatched, 1)
    assert.equal(r2.summary.matched, mine.length - 1)
    const c2 = r2.connections.find((c: {hid: string}) => c.hid === changed.hid)
    assert.equal(c2.status, 'ok')
    assert.equal(c2.response.match, false)
    assert.equal(c2.response.firstDiff, headLen + at)

    // The human report says which connection, where, and shows the bytes.
    const human = replay(rp, ['--hid', changed.hid, '--expect-same-response'])
    assert.equal(human.status, 1)
    assert.equal(human.stderr.includes('    at '), false, 'a stack trace')
    assert.match(human.stdout, new RegExp(`${changed.hid.replace('/', '\\/')}: response differs from the recorded one at byte ${headLen + at} `))
    assert.match(human.stdout, /live: {5}.*⟨Z/)
    assert.match(human.stdout, /not the same response \(--expect-same-response\)/)
    // Without --expect-same-response a difference is reported, not an error.
    const quiet = replay(rp, ['--hid', changed.hid])
    assert.equal(quiet.status, 0, quiet.stderr)
    assert.match(quiet.stdout, /1 differ/)

    // 3. A lossy path to the same stack, from another source address:
    //    rq0 (replayer ns) ── bq0 [bump ns] bq1 ── rq1 (n1's stack), 10.77.9.2/32 via rq1.
    setContentOverride(st, 'n1', {})
    const bp = `ho-${id}-bp`
    ip(['netns', 'add', bp])
    ip(['link', 'add', 'rq0', 'netns', rp, 'type', 'veth', 'peer', 'name', 'bq0', 'netns', bp])
    ip(['link', 'add', 'bq1', 'netns', bp, 'type', 'veth', 'peer', 'name', 'rq1', 'netns', n1.stackNs])
    for (const [ns, dev] of [[rp, 'rq0'], [bp, 'bq0'], [bp, 'bq1'], [n1.stackNs, 'rq1']]) {
      ip(['-n', ns, 'link', 'set', dev, 'up'])
      execFileSync('ip', ['netns', 'exec', ns, 'ethtool', '-K', dev, 'tso', 'off', 'gso', 'off', 'gro', 'off', 'tx', 'off', 'rx', 'off'], {stdio: 'ignore'})
    }
    for (const [ns, dev] of [[rp, 'rq0'], [bp, 'bq0'], [bp, 'bq1']]) execFileSync('ip', ['netns', 'exec', ns, 'sysctl', '-qw', `net.ipv6.conf.${dev}.disable_ipv6=1`])
    ip(['-n', n1.stackNs, 'route', 'add', '10.77.9.2/32', 'dev', 'rq1'])
    bump = spawn('ip', ['netns', 'exec', bp, process.execPath, join(import.meta.dirname, '..', 'support', 'lossy-bump.js'), 'bq0', 'bq1'],
      {stdio: ['ignore', 'pipe', 'pipe']})
    let dropped = ''
    bump.stdout!.on('data', (d: Buffer) => (dropped += d.toString()))
    await waitForOutput(bump, /ready/, 10000)
    const lossy = replay(rp, [...hids, '--expect-same-response', '--json'], 'rq0', '10.77.9.2')
    assert.equal(lossy.status, 0, `${lossy.stderr}\n${lossy.stdout.slice(0, 3000)}`)
    const r3 = JSON.parse(lossy.stdout)
    assert.equal(r3.summary.matched, mine.length)
    // spawnSync blocked this event loop: let the bump's lines in.
    await new Promise((r) => setTimeout(r, 300))
    const drops = dropped.split('\n').filter((l) => l.startsWith('drop '))
    assert.equal(drops.filter((l) => l.startsWith('drop 10.77.9.2:')).length, mine.length, dropped)
    assert.equal(drops.filter((l) => l.startsWith('drop 10.77.0.11:80>')).length, mine.length, dropped)
    for (const c of r3.connections) {
      assert.equal(c.status, 'ok', `${c.hid}: ${c.error}`)
      assert.ok(c.stats.retransmissions >= 1, `${c.hid}: its lost request was not retransmitted`)
    }
    // Responses of more than one segment arrive with a hole first: out of order, SACKed.
    const multi = r3.connections.filter((c: {response: {recordedBytes: number}}) => c.response.recordedBytes > 3000)
    assert.ok(multi.length > 0)
    for (const c of multi) assert.ok(c.stats.outOfOrder >= 1, `${c.hid}: no out-of-order data seen`)
    t.diagnostic(`lossy path: ${r3.summary.matched}/${r3.summary.connections} match in ${r3.summary.elapsedMs} ms; ` +
      r3.connections.map((c: {hid: string; stats: {retransmissions: number; outOfOrder: number}; durationMs: number}) =>
        `${c.hid} rexmit ${c.stats.retransmissions} ooo ${c.stats.outOfOrder} ${c.durationMs} ms`).join(', '))
  } finally {
    bump?.kill('SIGKILL')
    downQuietly(id)
    assert.deepEqual(leftovers(id), [])
  }
})

test('replay --live refuses clearly: a source this host owns, a family mismatch, no interface, a bad MAC', () => {
  const run = (args: string[]) => {
    const r = spawnSync(process.execPath, [cliBin, 'replay', trace, ...args], {encoding: 'utf8', env: {...process.env, NO_COLOR: '1'}})
    // oclif wraps long messages and prefixes lines with "›"
    return {status: r.status, stderr: r.stderr.replace(/\s*›\s*/g, ' ').replace(/\s+/g, ' ')}
  }
  const own = run(['--live', '--interface', 'lo', '--source', '127.0.0.1', '--hid', 'n2/1'])
  assert.equal(own.status, 2)
  assert.match(own.stderr, /the source address 127\.0\.0\.1 belongs to this host \(interface lo\): the local TCP stack would answer/)
  const fam = run(['--live', '--interface', 'lo', '--source', 'fd77::9:1', '--hid', 'n2/1'])
  assert.equal(fam.status, 2)
  assert.match(fam.stderr, /handoff n2\/1 is IPv4 \(10\.77\.1\.2:20001\) but the source fd77::9:1 is IPv6/)
  const noIf = run(['--live'])
  assert.equal(noIf.status, 2)
  assert.match(noIf.stderr, /interface/)
  const mac = run(['--live', '--interface', 'lo', '--source', '10.77.9.1', '--target-mac', 'zz'])
  assert.equal(mac.status, 2)
  assert.match(mac.stderr, /--target-mac is not a MAC address/)
  const many = run(['--live', '--interface', 'lo', '--source', '10.77.9.1', '--target-mac', '02:00:00:00:00:01'])
  assert.equal(many.status, 2)
  assert.match(many.stderr, /--target-mac names one MAC but the selected handoffs go to 3 back-ends/)
  const write = run(['--live', '--interface', 'lo', '--write', '/dev/null'])
  assert.equal(write.status, 2)
  for (const r of [own, fam, noIf, mac, many, write]) assert.equal(/ at .*\.js:\d+/.test(r.stderr), false, r.stderr)
})
