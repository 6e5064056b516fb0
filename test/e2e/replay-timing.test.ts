// `handoff replay --interface` timing options end to end: --loop, --limit,
// --pps, --multiplier, onto one end of a veth pair in namespaces this test
// creates (withLab: unique names, deleted in `finally`), the other end
// recorded with the repo's own live capture (`handoff capture`, libpcap):
//
//   ns "r": handoff replay … --interface r0   r0 <── veth ──> r1   ns "p": handoff capture -i r1
//
// The frames are those of one handoff of the clean lab trace (Ethernet
// forwarded and return legs, addresses in 10.77.0.0/16); they go nowhere but
// into namespace p, which has no address and drops them. For each run:
// what arrives equals, byte for byte and in order, the legs `--write` derives
// for the same selection (repeated per loop, cut by --limit), and the
// tcpreplay-like report says how many packets and bytes went out. Rates are
// judged from the capture's timestamps with loose bounds (a shared, busy
// machine may send late, never early: the lower bounds are the meaningful ones).
import {test} from 'node:test'
import assert from 'node:assert/strict'
import {spawnSync, type ChildProcess} from 'node:child_process'
import {mkdtempSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {setTimeout as delay} from 'node:timers/promises'
import {readCaptureSync} from '../../analyzer/capture/read.js'
import {cliBin, isRoot, repoRoot, requireOrSkip, hasCommand} from '../support/env.js'
import {sweepLeftovers, waitForOutput, withLab, type Lab} from '../support/netns.js'

const TRACE = join(repoRoot, 'samples', 'traces', 'lab-clean', 'lab.pcapng.gz')
const SELECT = ['--hid', 'n3/1']

interface Frame {
  hex: string
  /** Capture time, ns. */
  t: number
}

function frames(path: string, onlyIfaces?: string[]): Frame[] {
  const names: string[] = []
  const out: Frame[] = []
  readCaptureSync(path, {
    onInterface: (i) => names.push(i.name ?? ''),
    onPacket: (r) => {
      if (onlyIfaces === undefined || onlyIfaces.includes(names[r.interfaceId])) out.push({hex: Buffer.from(r.data).toString('hex'), t: r.tsSec * 1e9 + r.tsNsec})
    },
  })
  return out
}

test.after(() => {
  if (isRoot()) sweepLeftovers()
})

/** Runs one replay in ns r while `handoff capture` records r1 in ns p; returns the report and what arrived. */
async function replayCaptured(lab: Lab, r: string, p: string, dir: string, tag: string, timing: string[]): Promise<{out: string; got: Frame[]}> {
  const cap = join(dir, `${tag}.pcapng`)
  const capture: ChildProcess = lab.spawn(p, [process.execPath, cliBin, 'capture', '-i', 'r1', '-f', 'tcp port 80', '-w', cap],
    {env: {...process.env, NO_COLOR: '1'}})
  const exited = new Promise((res) => capture.once('exit', res))
  await waitForOutput(capture, /capturing on r1/, 15000)
  await delay(200)
  const rep = spawnSync('ip', ['netns', 'exec', r, process.execPath, cliBin, 'replay', TRACE, ...SELECT, '--interface', 'r0', ...timing],
    {encoding: 'utf8', env: {...process.env, NO_COLOR: '1'}, timeout: 60000})
  assert.equal(rep.status, 0, rep.stderr)
  await delay(300)
  capture.kill('SIGINT')
  await exited
  return {out: rep.stdout, got: frames(cap)}
}

function reportCounts(out: string): {packets: number; bytes: number; seconds: number} {
  const m = /^Actual: (\d+) packets \((\d+) bytes\) sent in ([\d.]+) seconds$/m.exec(out)
  assert.ok(m, out)
  assert.match(out, /^Statistics for network device: r0$/m)
  assert.match(out, new RegExp(`^\\tSuccessful packets: +${m[1]}$`, 'm'))
  assert.match(out, /^\tFailed packets: +0$/m)
  return {packets: Number(m[1]), bytes: Number(m[2]), seconds: Number(m[3])}
}

const bytesOf = (fs: Frame[]): number => fs.reduce((n, f) => n + f.hex.length / 2, 0)
const spanSec = (fs: Frame[]): number => (fs[fs.length - 1].t - fs[0].t) / 1e9

test('--loop, --limit, --pps, --multiplier onto a veth: what arrives is the --write legs (× loops, cut by the limit), at the rate asked', async (t) => {
  if (!requireOrSkip(t, isRoot(), 'needs root for network namespaces')) return
  for (const c of ['ip', 'ethtool']) if (!requireOrSkip(t, hasCommand(c), `needs ${c}`)) return
  const dir = mkdtempSync(join(tmpdir(), 'handoff-replay-timing-'))
  try {
    // What the live replay sends by default: the forwarded and return legs, in the order --write writes them.
    const legs = join(dir, 'legs.pcapng')
    const w = spawnSync(process.execPath, [cliBin, 'replay', TRACE, ...SELECT, '--write', legs], {encoding: 'utf8'})
    assert.equal(w.status, 0, w.stderr)
    const expected = frames(legs, ['forwarded-lan', 'return-client'])
    const n = expected.length
    assert.ok(n >= 20, `${n} frames`)
    const hexes = (fs: Frame[]) => fs.map((f) => f.hex)

    await withLab(async (lab) => {
      const r = lab.ns('r')
      const p = lab.ns('p')
      lab.veth(r, 'r0', p, 'r1')

      // --loop 2 at top speed: everything twice, in order.
      const loop = await replayCaptured(lab, r, p, dir, 'loop', ['--topspeed', '--loop', '2'])
      assert.deepEqual(hexes(loop.got), [...hexes(expected), ...hexes(expected)])
      assert.deepEqual(reportCounts(loop.out).packets, 2 * n)
      assert.equal(reportCounts(loop.out).bytes, 2 * bytesOf(expected))
      assert.match(loop.out, /^Timing: top speed, 2 loops$/m)

      // --limit across loops: the first loop whole, then the first packets of the second.
      const lim = n + 3
      const limit = await replayCaptured(lab, r, p, dir, 'limit', ['--topspeed', '--loop', '3', '--limit', String(lim)])
      assert.deepEqual(hexes(limit.got), [...hexes(expected), ...hexes(expected.slice(0, 3))])
      assert.equal(reportCounts(limit.out).packets, lim)
      assert.match(limit.out, new RegExp(`^Timing: top speed, 3 loops, limit ${lim}$`, 'm'))

      // --pps: n packets at 50 pps take (n − 1) / 50 s from first to last.
      const pps = 50
      const paced = await replayCaptured(lab, r, p, dir, 'pps', ['--pps', String(pps)])
      assert.deepEqual(hexes(paced.got), hexes(expected))
      const want = (n - 1) / pps
      const got = spanSec(paced.got)
      assert.ok(got >= 0.8 * want && got <= 2 * want + 0.5, `--pps ${pps}: ${n} packets arrived over ${got.toFixed(3)} s, expected ≈ ${want.toFixed(3)} s`)
      const rep = reportCounts(paced.out)
      assert.ok(rep.seconds >= 0.8 * want, `report: ${rep.seconds} s`)
      assert.match(paced.out, new RegExp(`^Timing: ${pps} pps; inter-packet gap error p50 `, 'm'))
      t.diagnostic(`--pps ${pps}: ${n} packets over ${got.toFixed(3)} s at the peer (planned ${want.toFixed(3)} s); report: ${rep.seconds} s`)

      // --multiplier: the captured gaps, divided by it. Chosen so that the replay lasts about 0.5 s.
      const captured = spanSec(expected)
      const m = captured / 0.5
      const timed = await replayCaptured(lab, r, p, dir, 'mult', ['--multiplier', m.toFixed(6)])
      assert.deepEqual(hexes(timed.got), hexes(expected))
      const span = spanSec(timed.got)
      const wantSpan = captured / Number(m.toFixed(6))
      assert.ok(span >= 0.8 * wantSpan && span <= 2 * wantSpan + 0.5, `--multiplier ${m}: arrived over ${span.toFixed(3)} s, expected ≈ ${wantSpan.toFixed(3)} s`)
      // Gap by gap, loosely: no packet went out much before its captured gap / m.
      for (let i = 1; i < n; i++) {
        const plannedFromStart = (expected[i].t - expected[0].t) / m / 1e9
        const arrivedFromStart = (timed.got[i].t - timed.got[0].t) / 1e9
        assert.ok(arrivedFromStart >= plannedFromStart - 0.02, `packet ${i + 1}: at ${arrivedFromStart.toFixed(4)} s, planned ${plannedFromStart.toFixed(4)} s`)
      }
      assert.match(timed.out, new RegExp(`^Timing: as captured × ${Number(m.toFixed(6))}; inter-packet gap error p50 `, 'm'))
      t.diagnostic(`--multiplier ${m.toFixed(4)}: captured span ${captured.toFixed(3)} s → ${span.toFixed(3)} s at the peer (planned ${wantSpan.toFixed(3)} s)`)
    })
  } finally {
    rmSync(dir, {recursive: true, force: true})
  }
})
