// Phases 2 and 3 of the lab, end to end through the real CLI: a request whose
// path belongs to another node is served by that node through the front-end's
// address, as one normal TCP connection for the client; then `lab run` with
// 100 requests at concurrency 8 over every partition and every front-end,
// every body checked byte for byte, with a trace of every vantage point that
// tshark reads without a single bad TCP or IP checksum (a kernel's TCP
// checksum 0xFFFF for 0x0000 is not bad: see labChecksums); `lab down`
// leaves nothing behind.
import {test} from 'node:test'
import assert from 'node:assert/strict'
import {mkdtempSync, readFileSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {CLIENT_MAC, expectedBody, nodeMac} from '../../samples/lab/config.js'
import {execFileSync, spawnSync} from 'node:child_process'
import {randomBytes} from 'node:crypto'
import {existsSync} from 'node:fs'
import {cliBin, hasCommand, isRoot, requireOrSkip} from '../support/env.js'
import type {TestContext} from 'node:test'
import {canRunLab, cli, downQuietly, labChecksums, labId, labNamespaces, leftovers, waitForCounters} from '../support/lab.js'

test('lab: handoff to the node that owns the path, then 100 requests at concurrency 8 with a trace', {timeout: 90000}, async (t) => {
  if (!canRunLab(t, ['tshark'])) return
  const id = labId()
  const dir = mkdtempSync(join(tmpdir(), 'handoff-lab-'))
  try {
    const up = cli(['lab', 'up', '--nodes', '3', '--id', id])
    assert.equal(up.status, 0, `lab up failed: ${up.stderr}${up.stdout}`)

    // /api/… belongs to n2; ask n1 (10.77.0.11) for it.
    const cport = 40000 + (randomBytes(2).readUInt16BE(0) % 20000)
    const v = spawnSync('ip', ['netns', 'exec', `ho-${id}-cl`, 'curl', '-sS', '-v', '-m', '5', '--local-port', String(cport), '-o', join(dir, 'body'),
      'http://10.77.0.11/api/hello'], {encoding: 'utf8'})
    assert.equal(v.status, 0, `curl failed: ${v.stderr}`)
    assert.match(v.stderr, /< HTTP\/1\.1 200 OK/)
    assert.match(v.stderr, /< x-served-by: n2/)
    assert.ok(readFileSync(join(dir, 'body')).equals(expectedBody('/api/hello', 'n2')), 'body differs from n2\'s')
    // Until n1 has the terminate (after the handoff-ack and its RST): the
    // probe below is only a late segment once it has, and the daemons'
    // statuses (written every 200 ms, later under load) then count it all.
    const terminated = await waitForCounters(id, {n1: {terminatesReceived: 1}, n2: {terminatesSent: 1}})
    const st = JSON.parse(cli(['lab', 'status', '--id', id, '--json']).stdout)[0]
    const c = (n: string) => st.nodes.find((x: {name: string}) => x.name === n).status.counters
    assert.equal(c('n1').acksReceived, 1, 'n1 did not hand the connection off')
    assert.equal(c('n2').acksSent, 1, 'n2 did not take it over')
    assert.equal(c('n1').rstInjected, 1)
    assert.ok(terminated, `n2 did not end the handed-off connection with a terminate to n1 within 10 s: ${JSON.stringify({n1: c('n1'), n2: c('n2')})}`)

    // A client segment of that connection arriving after the terminate (a
    // retransmitted FIN) must not reach n1's stack, which reset its copy and
    // would answer with a RST from the VIP (seen under load in CI).
    const probe = spawnSync('ip', ['netns', 'exec', `ho-${id}-cl`, process.execPath, join(import.meta.dirname, '..', 'support', 'late-segment-probe.js'),
      'eth0', CLIENT_MAC, '10.77.1.1', String(cport), nodeMac(1), '10.77.0.11'], {encoding: 'utf8', timeout: 10000})
    assert.equal(probe.status, 0, probe.stderr)
    assert.deepEqual(JSON.parse(probe.stdout), {rsts: 0}, 'the front-end\'s stack answered a late client segment with a RST')
    await waitForCounters(id, {n1: {absorbedAfterTerminate: 1}}, 5000)
    const st2 = JSON.parse(cli(['lab', 'status', '--id', id, '--json']).stdout)[0]
    assert.equal(st2.nodes.find((x: {name: string}) => x.name === 'n1').status.counters.absorbedAfterTerminate, 1)

    const run = cli(['lab', 'run', '--id', id, '--requests', '100', '--concurrency', '8', '--record', dir, '--json'], 60000)
    assert.equal(run.status, 0, `lab run failed: ${run.stderr}${run.stdout.slice(0, 3000)}`)
    const r = JSON.parse(run.stdout)
    assert.equal(r.ok, 100, `failures: ${r.failureSamples.join('\n')}`)
    assert.equal(r.failures, 0)
    assert.equal(r.stalls, 0)
    for (const n of ['n1', 'n2', 'n3']) {
      assert.ok((r.handoffsTo[n] ?? 0) > 0, `no handoff to ${n}: ${JSON.stringify(r.handoffsTo)}`)
      const pn = r.perNode.find((x: {name: string}) => x.name === n)
      assert.ok(pn.handoffsOut > 0, `${n} handed nothing off`)
      assert.ok(pn.served > 0, `${n} served nothing`)
    }
    assert.ok(r.localServices > 0, 'no local service')
    assert.equal(r.handoffs + r.localServices, 100, `handoffs ${r.handoffs} + local ${r.localServices} != 100`)
    assert.equal(r.nacks, 0)
    assert.equal(r.latency.count, r.handoffs)
    assert.ok(r.latency.p50Us > 0 && r.latency.p99Us >= r.latency.p50Us)
    assert.deepEqual(r.record.interfaces, ['client', 'lan', 'n1-inside', 'n2-inside', 'n3-inside', 'control'])
    const summary = JSON.parse(readFileSync(join(dir, 'summary.json'), 'utf8'))
    assert.equal(summary.ok, 100)

    // tshark reads the trace; every vantage point has packets; no bad checksum anywhere.
    const pcap = join(dir, 'lab.pcapng')
    const ifs = execFileSync('tshark', ['-r', pcap, '-T', 'fields', '-e', 'frame.interface_name'], {encoding: 'utf8', maxBuffer: 64 << 20, stdio: ['ignore', 'pipe', 'ignore']})
    const count: Record<string, number> = {}
    for (const l of ifs.split('\n')) if (l) count[l] = (count[l] ?? 0) + 1
    for (const i of r.record.interfaces) assert.ok((count[i] ?? 0) > 0, `no packets on vantage point ${i}: ${JSON.stringify(count)}`)
    // (A kernel's own TCP checksum of 0xFFFF for 0x0000, which tshark calls
    // bad but is the same ones'-complement zero, is not: see labChecksums.)
    const sums = labChecksums(pcap, id, 3)
    assert.deepEqual(sums.bad, [], `frames with bad checksums (frame iface eth.src ip.src tcp field/computed): ${sums.bad.slice(0, 10).join(', ')}`)
    if (sums.kernelMinusZero.length > 0) t.diagnostic(`TCP checksum 0xffff for 0x0000 as a kernel sent it: ${sums.kernelMinusZero.join(', ')}`)
    // The client never sees the BE's address nor a RST from the VIP.
    const leak = execFileSync('tshark', ['-r', pcap, '-Y', 'frame.interface_name == "client" && (ip.src == 10.77.0.11 || ip.src == 10.77.0.12 || ip.src == 10.77.0.13) && tcp.flags.reset == 1',
      '-T', 'fields', '-e', 'frame.number'], {encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore']})
    assert.equal(leak.trim(), '', `RSTs reached the client: frames ${leak.trim()}`)

    const down = cli(['lab', 'down', '--id', id])
    assert.equal(down.status, 0, down.stderr)
    assert.deepEqual(leftovers(id), [])
  } finally {
    downQuietly(id)
    rmSync(dir, {recursive: true, force: true})
  }
})
