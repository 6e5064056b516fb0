// Benchmark of `handoff replay --interface` (a script, not a test: it prints
// figures and asserts no timings). Needs root, ip, ethtool, tcpreplay.
//
//   npm run build && node dist/test/bench/replay.js [packets]
//
// 1. Builds a client-side trace: the v4 fixture's handed-off connection
//    (test/fixtures/replay) followed by `packets` (default 200,000) more
//    client → VIP segments after the handoff (pure ACKs and 200-byte data,
//    10 µs apart), and a timing trace of 3,000 such segments with gaps drawn
//    from 50 µs … 2 ms.
// 2. `handoff replay --leg forwarded --write fwd.pcap`: the very frames both
//    tools will send.
// 3. In namespaces made for the run (veth b0 ↔ b1, nothing else), best of
//    BENCH_RUNS (default 3), interleaved:
//      tcpreplay --topspeed -i b0 fwd.pcap          (its "Rated: … pps")
//      handoff replay big.pcapng --leg forwarded -i b0 --topspeed --json
//    (our figure counts only the sending: reading and rewriting come first).
// 4. `handoff replay timing.pcapng --leg forwarded -i b0 --multiplier 1`:
//    inter-packet gap error p50 / p99 / max (µs).
import {spawnSync} from 'node:child_process'
import {mkdtempSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {PcapngWriter} from '../../analyzer/capture/pcapng-writer.js'
import {buildTcpPacket} from '../../analyzer/wire/build.js'
import {buildFixture, INTERFACES, T0, u32} from '../fixtures/replay/make-fixtures.js'
import {cliBin} from '../support/env.js'
import {prng} from '../support/random.js'
import {withLab} from '../support/netns.js'

const N = Number(process.argv[2] ?? 200_000)
const RUNS = Number(process.env.BENCH_RUNS ?? 3)

function writeTrace(path: string, extra: number, gapUs: () => number): void {
  const {bytes, v} = buildFixture(4)
  const w = PcapngWriter.open(path)
  for (const i of INTERFACES) w.addInterface({linkType: i.linkType, name: i.name, tsResolution: 'ns'})
  const put = (iface: number, tUs: number, d: Uint8Array) => {
    const ns = Math.round(tUs * 1000)
    w.writePacket(iface, T0 + Math.floor(ns / 1e9), ns % 1e9, d)
  }
  // Without the fixture's terminate (its last control packet, the end of that
  // stream: no hole): the FE forwards until the terminate (spec §2 step 11), and
  // the segments added below come after it.
  const terminate = bytes.map((p) => p.iface).lastIndexOf(1)
  bytes.forEach((p, i) => {
    if (i !== terminate) put(p.iface, p.tUs, p.data)
  })
  const data = new Uint8Array(200).fill(0x61)
  let t = 20_000
  const seq = u32(v.ciss + 1 + v.request.length)
  const pool: Uint8Array[] = []
  for (let i = 0; i < 512; i++) {
    const withData = i % 2 === 1
    pool.push(buildTcpPacket({
      src: v.cip, dst: v.vip, srcPort: v.cport, dstPort: v.vport, seq: u32(seq + i * 200), ack: u32(v.fiss + 1 + i * 1000), flags: withData ? 'P.' : '.',
      window: 502, ipId: 0x1000 + i, options: {timestamp: {tsVal: v.c0 + 10 + i, tsEcr: u32(v.fts + 5 + i)}}, payload: withData ? data : undefined,
      ethernet: {src: v.cmac, dst: v.femac},
    }))
  }
  for (let i = 0; i < extra; i++) {
    t += gapUs()
    put(0, t, pool[i % pool.length])
  }
  w.close()
}

function run(argv: string[]): {status: number; out: string; err: string} {
  const r = spawnSync(argv[0], argv.slice(1), {encoding: 'utf8', maxBuffer: 64 << 20, env: {...process.env, NO_COLOR: '1'}})
  return {status: r.status ?? -1, out: r.stdout, err: r.stderr}
}

const dir = mkdtempSync(join(tmpdir(), 'handoff-replay-bench-'))
try {
  const big = join(dir, 'big.pcapng')
  const timing = join(dir, 'timing.pcapng')
  const fwd = join(dir, 'fwd.pcap')
  writeTrace(big, N, () => 10)
  const r = prng(7)
  writeTrace(timing, 3000, () => 50 + Math.floor(r() * 1950))
  const w = run([process.execPath, cliBin, 'replay', big, '--leg', 'forwarded', '--write', fwd, '--json'])
  if (w.status !== 0) throw new Error(`replay --write failed: ${w.err}`)
  const sent = JSON.parse(w.out).output.packets as number
  console.log(`trace: ${sent} forwarded frames (the fixture's 5 + ${N}), ${dir}`)

  await withLab(async (lab) => {
    const a = lab.ns('a')
    const b = lab.ns('b')
    lab.veth(a, 'b0', b, 'b1')
    const tr: number[] = []
    const ours: number[] = []
    for (let i = 0; i < RUNS; i++) {
      const t = run(['ip', 'netns', 'exec', a, 'tcpreplay', '--topspeed', '-i', 'b0', fwd])
      if (t.status !== 0) throw new Error(`tcpreplay failed: ${t.err}`)
      const m = /Actual: (\d+) packets.*\n.*?Rated: [\d.]+ Bps, [\d.]+ Mbps, ([\d.]+) pps/.exec(t.out)
      if (!m) throw new Error(`cannot read tcpreplay's report:\n${t.out}`)
      if (Number(m[1]) !== sent) throw new Error(`tcpreplay sent ${m[1]} packets, expected ${sent}`)
      tr.push(Number(m[2]))
      const o = run(['ip', 'netns', 'exec', a, process.execPath, cliBin, 'replay', big, '--leg', 'forwarded', '--interface', 'b0', '--topspeed', '--json'])
      if (o.status !== 0) throw new Error(`handoff replay failed: ${o.err}`)
      const rep = JSON.parse(o.out).output
      if (rep.packets !== sent || rep.failures !== 0) throw new Error(`handoff replay sent ${rep.packets}, ${rep.failures} failures`)
      ours.push(rep.pps)
      console.log(`  round ${i + 1}: tcpreplay ${tr[i].toFixed(0)} pps, handoff replay ${ours[i].toFixed(0)} pps`)
    }
    const bt = Math.max(...tr)
    const bo = Math.max(...ours)
    console.log(`--topspeed, ${sent} frames onto veth b0 (best of ${RUNS}): tcpreplay ${bt.toFixed(0)} pps, handoff replay ${bo.toFixed(0)} pps → ${(bo / bt).toFixed(2)}× (aim ≥ 1.0×)`)

    const m = run(['ip', 'netns', 'exec', a, process.execPath, cliBin, 'replay', timing, '--leg', 'forwarded', '--interface', 'b0', '--multiplier', '1', '--json'])
    if (m.status !== 0) throw new Error(`handoff replay --multiplier 1 failed: ${m.err}`)
    const g = JSON.parse(m.out).output
    console.log(`--multiplier 1, ${g.packets} frames, gaps 50 µs … 2 ms, ${g.durationSec.toFixed(2)} s: gap error p50 ${g.gapError.p50Us.toFixed(1)} µs, ` +
      `p99 ${g.gapError.p99Us.toFixed(1)} µs, max ${g.gapError.maxUs.toFixed(1)} µs, mean signed ${g.gapError.meanSignedUs.toFixed(2)} µs; ${g.late} sent > 1 ms late (aim p99 < 100 µs)`)
  })
} finally {
  rmSync(dir, {recursive: true, force: true})
}
