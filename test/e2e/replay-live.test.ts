// `handoff replay TRACE --interface IF`, the real CLI, onto a veth inside a
// namespace this test creates (10.77.0.0/16 fixtures only; the namespaces and
// their interfaces are deleted afterwards):
//
//   ns "r" (replay runs here)  r0 <── veth ──> r1  ns "p" (tcpdump on r1)
//
// All packets arrive at the peer, byte for byte the frames `--write` derives,
// and the tcpreplay-like report is printed; with --topspeed and with
// --multiplier 1.
import {test} from 'node:test'
import assert from 'node:assert/strict'
import {mkdtempSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {setTimeout as delay} from 'node:timers/promises'
import {spawnSync} from 'node:child_process'
import {readCaptureSync} from '../../analyzer/capture/read.js'
import {cliBin, hasCommand, isRoot, repoRoot, requireOrSkip} from '../support/env.js'
import {sweepLeftovers, waitForOutput, withLab} from '../support/netns.js'

const fixtures = join(repoRoot, 'test', 'fixtures', 'replay')

function frames(path: string): string[] {
  const out: string[] = []
  readCaptureSync(path, {onPacket: (r) => out.push(Buffer.from(r.data).toString('hex'))})
  return out
}

test.after(() => {
  if (isRoot()) sweepLeftovers()
})

for (const [name, timing] of [['--topspeed', ['--topspeed']], ['--multiplier 1', ['--multiplier', '1']]] as const) {
  test(`inject with ${name} onto a veth in a test namespace: every packet arrives, bytes identical, report printed`, async (t) => {
    if (!requireOrSkip(t, isRoot(), 'needs root for network namespaces')) return
    for (const c of ['ip', 'ethtool', 'tcpdump']) if (!requireOrSkip(t, hasCommand(c), `needs ${c}`)) return
    const dir = mkdtempSync(join(tmpdir(), 'handoff-replay-live-'))
    try {
      // What should arrive: the forwarded legs of both fixtures (Ethernet; the
      // return leg of these fixtures comes from the raw-IP BE-inside view: it cannot
      // go on an Ethernet veth and is left out by default, and said so).
      const expected: string[] = []
      for (const f of ['handoff-v4.pcapng', 'handoff-v6.pcapng']) {
        const w = spawnSync(process.execPath, [cliBin, 'replay', join(fixtures, f), '--leg', 'forwarded', '--write', join(dir, `${f}.pcap`)], {encoding: 'utf8'})
        assert.equal(w.status, 0, w.stderr)
        expected.push(...frames(join(dir, `${f}.pcap`)))
      }
      assert.equal(expected.length, 10)
      await withLab(async (lab) => {
        const r = lab.ns('r')
        const p = lab.ns('p')
        lab.veth(r, 'r0', p, 'r1')
        const cap = join(dir, 'peer.pcap')
        const dump = lab.spawn(p, ['tcpdump', '-i', 'r1', '--immediate-mode', '-U', '-n', '-w', cap, 'tcp port 80'])
        await waitForOutput(dump, /listening on r1/, 10000)
        const exited = new Promise((res) => dump.once('exit', res))
        let out = ''
        for (const f of ['handoff-v4.pcapng', 'handoff-v6.pcapng']) {
          const rep = spawnSync('ip', ['netns', 'exec', r, process.execPath, cliBin, 'replay', join(fixtures, f), '--interface', 'r0', ...timing],
            {encoding: 'utf8', env: {...process.env, NO_COLOR: '1'}, timeout: 30000})
          assert.equal(rep.status, 0, rep.stderr)
          out += rep.stdout
        }
        await delay(300)
        dump.kill('SIGINT')
        await exited
        // The report, twice (one per fixture), like tcpreplay's.
        assert.equal((out.match(/^Actual: 5 packets \(\d+ bytes\) sent in [\d.]+ seconds$/gm) ?? []).length, 2, out)
        assert.match(out, /^Rated: [\d.]+ Bps, [\d.]+ Mbps, [\d.]+ pps$/m)
        assert.match(out, /^Statistics for network device: r0$/m)
        assert.match(out, /^\tSuccessful packets: +5$/m)
        assert.match(out, /^\tFailed packets: +0$/m)
        assert.match(out, /not sent: leg return, 6 packet\(s\) of link type RAW, which r0 does not take/)
        if (name === '--multiplier 1') assert.match(out, /Timing: as captured × 1; inter-packet gap error p50 [\d.]+ µs, p99 [\d.]+ µs/)
        else assert.match(out, /Timing: top speed/)
        assert.deepEqual(frames(cap), expected)
      })
    } finally {
      rmSync(dir, {recursive: true, force: true})
    }
  })
}

test('--interface refuses an interface that does not exist, naming it (no other is tried)', async (t) => {
  if (!requireOrSkip(t, isRoot(), 'needs root for network namespaces')) return
  await withLab(async (lab) => {
    const r = lab.ns('r')
    const rep = spawnSync('ip', ['netns', 'exec', r, process.execPath, cliBin, 'replay', join(fixtures, 'handoff-v4.pcapng'), '--interface', 'nosuch0', '--topspeed'],
      {encoding: 'utf8', env: {...process.env, NO_COLOR: '1'}, timeout: 30000})
    assert.equal(rep.status, 2)
    assert.match(rep.stderr, /nosuch0/)
    assert.doesNotMatch(rep.stderr, /\n\s+at /)
  })
})
