// Benchmarks for the capture layer and `inspect` (run on demand with
// `npm run bench`; never part of the tests). Prints, in one run:
//  - our streaming reader against a minimal JS pcap record walk (aim ≥ 60 %),
//  - `handoff inspect` against `tcpdump -r F -w /dev/null` (aim ≥ 0.7×).
// Each measurement is the best of N runs on a file already in the page cache.
import {execFileSync, spawnSync} from 'node:child_process'
import {closeSync, openSync, readSync} from 'node:fs'

import {readCaptureSync} from '../../analyzer/capture/read.js'
import {PacketDecoder} from '../../analyzer/wire/decode.js'
import {cliBin} from '../support/env.js'
import {benchTrace} from './trace.js'

const RUNS = Number(process.env.BENCH_RUNS ?? 3)
const PACKETS = Number(process.env.BENCH_PACKETS ?? 2_000_000)

function best(fn: () => number): {sec: number; result: number} {
  let sec = Infinity
  let result = 0
  for (let i = 0; i < RUNS; i++) {
    const t0 = process.hrtime.bigint()
    result = fn()
    const s = Number(process.hrtime.bigint() - t0) / 1e9
    if (s < sec) sec = s
  }
  return {sec, result}
}

/** The least a JS reader can do: read 1 MiB chunks, hop from record header to record header. */
function minimalWalk(path: string): number {
  const fd = openSync(path, 'r')
  const buf = Buffer.alloc(1 << 20)
  let carry = 0
  let packets = 0
  let pos = 24
  let fileOff = 0
  for (;;) {
    const n = readSync(fd, buf, carry, buf.length - carry, fileOff)
    if (n === 0) break
    fileOff += n
    const end = carry + n
    while (pos + 16 <= end) {
      const cap = buf.readUInt32LE(pos + 8)
      if (pos + 16 + cap > end) break
      packets++
      pos += 16 + cap
    }
    buf.copy(buf, 0, pos, end)
    carry = end - pos
    pos = 0
  }
  closeSync(fd)
  return packets
}

function ourReader(path: string): number {
  let packets = 0
  readCaptureSync(path, {onPacket: () => { packets++ }})
  return packets
}

function ourReaderAndDecoder(path: string): number {
  const d = new PacketDecoder()
  let tcp = 0
  readCaptureSync(path, {onPacket: (r) => { if (d.decode(r.linkType, r.data, r.capLen, r.origLen).transport === 'tcp') tcp++ }})
  return tcp
}

function command(cmd: string, args: string[]): number {
  const r = spawnSync(cmd, args, {stdio: ['ignore', 'ignore', 'pipe']})
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed: ${r.stderr}`)
  return 0
}

function fmt(sec: number, packets: number): string {
  return `${sec.toFixed(3).padStart(8)} s  ${(packets / sec / 1e6).toFixed(2).padStart(6)} M packets/s`
}

const trace = benchTrace(PACKETS)
console.log(`trace: ${trace.path}: ${trace.packets.toLocaleString('en')} packets, ${(trace.bytes / 1e6).toFixed(0)} MB (best of ${RUNS} runs each)`)
minimalWalk(trace.path) // warm the page cache

const walk = best(() => minimalWalk(trace.path))
const reader = best(() => ourReader(trace.path))
const decode = best(() => ourReaderAndDecoder(trace.path))
if (walk.result !== trace.packets || reader.result !== trace.packets) throw new Error(`packet counts differ: walk ${walk.result}, reader ${reader.result}, expected ${trace.packets}`)
console.log(`minimal JS record walk         ${fmt(walk.sec, trace.packets)}`)
console.log(`handoff reader                 ${fmt(reader.sec, trace.packets)}   = ${(100 * walk.sec / reader.sec).toFixed(0)} % of the minimal walk (aim ≥ 60 %)`)
console.log(`handoff reader + decoder       ${fmt(decode.sec, trace.packets)}   = ${(100 * walk.sec / decode.sec).toFixed(0)} % of the minimal walk`)

let tcpdumpVersion = ''
try { tcpdumpVersion = execFileSync('tcpdump', ['--version'], {encoding: 'utf8'}).split('\n')[0] } catch { /* absent */ }
if (tcpdumpVersion === '') {
  console.log('tcpdump not installed: inspect ratio not measured')
} else {
  const td = best(() => command('tcpdump', ['-r', trace.path, '-w', '/dev/null']))
  const insp = best(() => command(process.execPath, [cliBin, 'inspect', trace.path, '--json']))
  const inspNoVerify = best(() => command(process.execPath, [cliBin, 'inspect', trace.path, '--json', '--no-verify']))
  console.log(`tcpdump -r F -w /dev/null      ${fmt(td.sec, trace.packets)}   (${tcpdumpVersion})`)
  console.log(`handoff inspect F --json       ${fmt(insp.sec, trace.packets)}   = ${(td.sec / insp.sec).toFixed(2)}× tcpdump's pass-through (aim ≥ 0.7×)`)
  console.log(`handoff inspect --no-verify    ${fmt(inspNoVerify.sec, trace.packets)}   = ${(td.sec / inspNoVerify.sec).toFixed(2)}× tcpdump's pass-through`)
}

