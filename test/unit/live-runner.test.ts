// The whole stateful replay (replayer/live/run.ts: replayStateful) over a
// simulated Ethernet segment instead of libpcap: the target's MAC resolved
// by ARP (IPv4) and neighbour solicitation (IPv6), the back-end's own
// question about the replayer's source answered, many connections at once,
// responses compared; and the refusals that protect the local stack.
import {test} from 'node:test'
import assert from 'node:assert/strict'
import {join} from 'node:path'
import {scanControl} from '../../replayer/select/control.js'
import {buildScripts} from '../../replayer/live/script.js'
import {replayStateful, StatefulReplayError} from '../../replayer/live/run.js'
import {parseNeighbor} from '../../replayer/live/neighbor.js'
import {repoRoot} from '../support/env.js'
import {SimSegment} from '../support/sim-peer.js'

const labTrace = join(repoRoot, 'samples', 'traces', 'lab-clean', 'lab.pcapng.gz')
const v6Trace = join(repoRoot, 'test', 'fixtures', 'replay', 'handoff-v6.pcapng')

async function recordedResponses(trace: string): Promise<Map<number, Uint8Array>> {
  const scan = await scanControl([trace])
  const scripts = await buildScripts([trace], scan.handoffs)
  return new Map(scripts.map((s) => [s.cport, s.response]))
}

test('IPv4: 12 recorded connections at concurrency 4 against one simulated back-end; ARP both ways; all responses match', async () => {
  const resp = await recordedResponses(labTrace)
  const seg = new SimSegment('10.77.0.11', (cport) => resp.get(cport)!)
  const res = await replayStateful({
    traces: [labTrace], iface: 'sim0', target: '10.77.0.11', source: '10.77.9.1', concurrency: 4,
    openIO: () => seg, localAddresses: () => [],
  })
  assert.equal(res.summary.connections, 12)
  assert.equal(res.summary.matched, 12, JSON.stringify(res.connections.filter((c) => !c.response.match || c.status !== 'ok').map((c) => [c.hid, c.error, c.response])))
  assert.deepEqual(res.targets, [{addr: '10.77.0.11', mac: '02:77:00:00:00:0b', resolved: true}])
  // The back-end learnt the replayer's MAC for 10.77.9.1 from its ARP reply: the default, 02:68:6f + the address's last 3 bytes.
  assert.equal(seg.sourceMacSeen, '02:68:6f:4d:09:01')
  assert.equal(res.sourceMac, '02:68:6f:4d:09:01')
  assert.equal(seg.peers.size, 12)
  for (const c of res.connections) assert.equal(c.closedBy, 'fin')
})

test('IPv6: the recorded client and back-end addresses by default; neighbour discovery both ways; the response matches', async () => {
  const resp = await recordedResponses(v6Trace)
  const seg = new SimSegment('fd77::2', (cport) => resp.get(cport)!)
  const res = await replayStateful({traces: [v6Trace], iface: 'sim0', openIO: () => seg, localAddresses: () => []})
  assert.equal(res.summary.connections, 1)
  const c = res.connections[0]
  assert.equal(c.status, 'ok', c.error)
  assert.equal(c.response.match, true)
  assert.equal(c.response.recordedBytes, 3000)
  assert.equal(c.replayed, '[fd77::a]:40001 → [fd77::2]:80')
  const kinds = seg.injected.map((f) => parseNeighbor(f)?.kind).filter((k) => k !== undefined)
  assert.deepEqual(kinds, ['request', 'reply']) // our solicitation for the target; our advertisement of the source
  assert.equal(res.targets[0].mac, '02:77:00:00:00:0b')
})

test('--target-mac: the solicitation still goes out first, so the back-end learns the source from it and never has to ask', async () => {
  // The back-end's own question would be the first frame to reach the fresh
  // capture, which is lost (a real kernel asks again only after 1 s; this
  // simulated one never does): before the fix every connection stalled.
  const resp = await recordedResponses(v6Trace)
  const seg = new SimSegment('fd77::2', (cport) => resp.get(cport)!)
  seg.learnFromRequests = true
  seg.loseFirst = true
  const res = await replayStateful({traces: [v6Trace], iface: 'sim0', targetMac: '02:77:00:00:00:0b', openIO: () => seg, localAddresses: () => [],
    rtoMs: 50, maxRetries: 3, timeoutMs: 3000})
  const c = res.connections[0]
  assert.equal(c.status, 'ok', c.error)
  assert.equal(c.response.match, true)
  assert.equal(c.stats.retransmissions, 0)
  assert.equal(seg.asked, 0, 'the back-end had to solicit the source')
  assert.equal(parseNeighbor(seg.injected[0])?.kind, 'request', 'the first frame out is our solicitation')
  // The given MAC is kept (and reported as given, not resolved).
  assert.deepEqual(res.targets, [{addr: 'fd77::2', mac: '02:77:00:00:00:0b', resolved: false}])
})

test('a back-end that serves different bytes for one connection: that one differs, at its byte; the others match', async () => {
  const resp = await recordedResponses(labTrace)
  const scan = await scanControl([labTrace])
  const victim = scan.handoffs[3].req.msg.cport
  const seg = new SimSegment('10.77.0.11', (cport) => {
    const r = resp.get(cport)!.slice()
    if (cport === victim) r[r.length - 10] ^= 0x20
    return r
  })
  const res = await replayStateful({traces: [labTrace], iface: 'sim0', target: '10.77.0.11', source: '10.77.9.1', openIO: () => seg, localAddresses: () => []})
  assert.equal(res.summary.ok, 12)
  assert.equal(res.summary.mismatched, 1)
  const bad = res.connections.find((c) => !c.response.match)!
  assert.equal(bad.hid, scan.handoffs[3].hid)
  assert.equal(bad.response.firstDiff, resp.get(victim)!.length - 10)
})

test('refusals: a source or target the local stack owns, mixed families, one --target-mac for several back-ends, an unknown hid', async () => {
  const base = {traces: [labTrace], iface: 'sim0', openIO: () => {
    throw new Error('must not open the interface')
  }}
  await assert.rejects(replayStateful({...base, source: '10.77.9.1', localAddresses: () => [{iface: 'eth0', addr: '10.77.9.1'}]}),
    (e: Error) => e instanceof StatefulReplayError && /the source address 10\.77\.9\.1 belongs to this host \(interface eth0\)/.test(e.message))
  await assert.rejects(replayStateful({...base, source: '10.77.9.1', target: '10.77.0.11', localAddresses: () => [{iface: 'eth0', addr: '10.77.0.11'}]}),
    /the target 10\.77\.0\.11 is an address of this host/)
  await assert.rejects(replayStateful({...base, target: 'fd77::2', localAddresses: () => []}), /is IPv4 .* but the target fd77::2 is IPv6/)
  await assert.rejects(replayStateful({...base, targetMac: '02:00:00:00:00:01', localAddresses: () => []}), /--target-mac names one MAC but the selected handoffs go to 3 back-ends/)
  await assert.rejects(replayStateful({...base, selection: {hids: ['n9/9']}, localAddresses: () => []}), /--hid n9\/9 matched no handoff/)
  // The recorded clients are 10.77.1.1 and 10.77.1.2: replaying as them from a host that is one of them is refused too.
  await assert.rejects(replayStateful({...base, localAddresses: () => [{iface: 'eth0', addr: '10.77.1.2'}]}), /the source address 10\.77\.1\.2 belongs to this host/)
})
