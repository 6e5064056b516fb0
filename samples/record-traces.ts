// Records samples/traces/lab-*/: small real runs of the lab (samples/lab), a
// clean one and one per fault of samples/lab/faults.ts, each as
//
//   lab-<name>/lab.pcapng.gz   every vantage point of spec §7 (interfaces
//                              client, lan, n1-inside, n2-inside, n3-inside,
//                              control), gzip-compressed (the capture reader
//                              and tshark both read it as it is)
//   lab-<name>/summary.json    `lab run --json`'s summary (record paths made
//                              relative to the directory)
//
// plus samples/traces/README.md (generated from the summaries).
//
// Run as root after `npm run build`:
//   node dist/samples/record-traces.js [--out samples/traces] [--only clean,ack-remap,…]
//                                      [--requests 16] [--concurrency 4] [--timeout 3000] [--id trc]
//   node dist/samples/record-traces.js --readme-only     (README.md from the committed summaries)
//
// Every run gets a fresh lab (`lab up --id <id>` … `lab down --id <id>`, the
// down always in `finally`), so each run starts from hid n<i>/1 on every node:
// the faulty handoffs are the same ones in every recording (each front-end's
// 1st, 5th, … handoff, faults.ts). The requests are those of planRequests()
// (same URLs, same front-ends), and the client ports are fixed too: the
// script writes 0 to the lab's next-port file before the run, so request i
// uses client port 20000 + i. Timestamps, ISNs and the interleaving of the
// concurrent requests naturally differ from one recording to the next.
import {spawnSync} from 'node:child_process'
import {mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join, resolve} from 'node:path'
import {gzipSync, constants as zc} from 'node:zlib'
import {FAULTS, type FaultId} from './lab/faults.js'
import {stateDir} from './lab/config.js'
import type {RunSummary} from './lab/run.js'
import {cliBin, repoRoot} from '../test/support/env.js'

const TRACE_RUNS: readonly string[] = ['clean', ...Object.keys(FAULTS)]
const EXPECTED_INTERFACES = ['client', 'lan', 'n1-inside', 'n2-inside', 'n3-inside', 'control']

function arg(name: string, def: string): string {
  const i = process.argv.indexOf(`--${name}`)
  return i >= 0 && i + 1 < process.argv.length ? process.argv[i + 1] : def
}

function log(s: string): void {
  process.stderr.write(`[record-traces] ${s}\n`)
}

function cli(args: string[], timeoutMs = 120000): {status: number; stdout: string; stderr: string} {
  const r = spawnSync(process.execPath, [cliBin, ...args], {encoding: 'utf8', timeout: timeoutMs, env: {...process.env, NO_COLOR: '1'}, maxBuffer: 64 << 20})
  return {status: r.status ?? -1, stdout: r.stdout ?? '', stderr: r.stderr ?? ''}
}

function tsharkInterfaces(file: string): string[] | undefined {
  const r = spawnSync('tshark', ['-r', file, '-T', 'fields', '-e', 'frame.interface_name'], {encoding: 'utf8', maxBuffer: 256 << 20})
  if (r.error || r.status !== 0) return undefined
  return [...new Set(r.stdout.split('\n').filter((l) => l))].sort()
}

interface Recorded {
  name: string
  fault?: FaultId
  summary: RunSummary
  bytes: number
}

function recordOne(name: string, o: {id: string; out: string; requests: number; concurrency: number; timeoutMs: number}): Recorded {
  const fault = name === 'clean' ? undefined : (name as FaultId)
  const tmp = mkdtempSync(join(tmpdir(), 'handoff-traces-'))
  const dest = join(o.out, `lab-${name}`)
  // A lab left by a crashed earlier run of this script (same id).
  cli(['lab', 'down', '--id', o.id])
  try {
    const up = cli(['lab', 'up', '--nodes', '3', '--id', o.id])
    if (up.status !== 0) throw new Error(`lab up failed: ${up.stderr}${up.stdout}`)
    // Request i of the run uses client port 20000 + i (planRequests, run.ts).
    writeFileSync(join(stateDir(o.id), 'next-port'), '0')
    const args = ['lab', 'run', '--id', o.id, '--requests', String(o.requests), '--concurrency', String(o.concurrency),
      '--timeout', String(o.timeoutMs), '--record', tmp, '--json']
    if (fault) args.push('--fault', fault)
    const r = cli(args)
    // Exit 1 = some requests failed or stalled (a fault doing its damage): recorded all the same.
    if (r.status !== 0 && r.status !== 1) throw new Error(`lab run failed (exit ${r.status}): ${r.stderr}${r.stdout.slice(0, 2000)}`)
    const summary = JSON.parse(readFileSync(join(tmp, 'summary.json'), 'utf8')) as RunSummary
    const pcap = readFileSync(join(tmp, 'lab.pcapng'))
    rmSync(dest, {recursive: true, force: true})
    mkdirSync(dest, {recursive: true})
    const gz = gzipSync(pcap, {level: zc.Z_BEST_COMPRESSION})
    writeFileSync(join(dest, 'lab.pcapng.gz'), gz)
    summary.record = {...summary.record!, pcapng: 'lab.pcapng.gz', summary: 'summary.json'}
    writeFileSync(join(dest, 'summary.json'), JSON.stringify(summary, null, 2) + '\n')
    const ifs = tsharkInterfaces(join(dest, 'lab.pcapng.gz'))
    if (ifs !== undefined && ifs.join(',') !== [...EXPECTED_INTERFACES].sort().join(',')) log(`WARNING lab-${name}: tshark sees interfaces ${ifs.join(', ')}`)
    if (fault && summary.faultsApplied < 2) log(`WARNING lab-${name}: the fault was applied ${summary.faultsApplied} time(s) only`)
    log(`lab-${name}: ${summary.ok}/${summary.requests} ok, ${summary.failures} failed, ${summary.stalls} stalled, ${summary.handoffs} handoffs, ` +
      `fault applied ${summary.faultsApplied}×, ${summary.record.packets} packets, ${gz.length} bytes gzipped`)
    return {name, fault, summary, bytes: gz.length}
  } finally {
    const down = cli(['lab', 'down', '--id', o.id])
    if (down.status !== 0) log(`lab down --id ${o.id} failed: ${down.stderr}`)
    rmSync(tmp, {recursive: true, force: true})
  }
}

/** What a fault did to the real clients, in words, from a summary. */
function clientEffect(s: RunSummary): string {
  const parts: string[] = []
  if (s.failures === 0 && s.stalls === 0) parts.push(`all ${s.ok} requests ok`)
  else {
    parts.push(`${s.ok}/${s.requests} ok`)
    if (s.failures > 0) parts.push(`${s.failures} failed`)
    if (s.stalls > 0) parts.push(`${s.stalls} stalled`)
  }
  if (s.nacks > 0) parts.push(`${s.nacks} nack(s)`)
  if (s.handoffTimeouts > 0) parts.push(`${s.handoffTimeouts} handoff timeout(s)`)
  return parts.join(', ')
}

function firstError(s: RunSummary): string {
  const e = s.failureSamples[0]
  if (!e) return ''
  const m = /: (.*)$/.exec(e)
  return m ? m[1] : e
}

function readme(out: string): string {
  const rows: string[] = []
  for (const name of TRACE_RUNS) {
    let s: RunSummary
    let size: number
    try {
      s = JSON.parse(readFileSync(join(out, `lab-${name}`, 'summary.json'), 'utf8')) as RunSummary
      size = statSync(join(out, `lab-${name}`, 'lab.pcapng.gz')).size
    } catch {
      continue
    }
    const what = name === 'clean' ? 'none (every rule of §4 kept)' : FAULTS[name as FaultId]
    const err = firstError(s)
    rows.push(`| \`lab-${name}\` | ${what.replace(/\|/g, '\\|')} | ${s.faultsApplied} | ${s.handoffs} | ${clientEffect(s)}${err ? ` (e.g. “${err.replace(/\|/g, '\\|')}”)` : ''} | ${s.record?.packets ?? '?'} | ${(size / 1024).toFixed(0)} KiB |`)
  }
  const clean = (() => {
    try {
      return JSON.parse(readFileSync(join(out, 'lab-clean', 'summary.json'), 'utf8')) as RunSummary
    } catch {
      return undefined
    }
  })()
  const ms = (us: number | null) => (us === null ? '?' : `${(us / 1000).toFixed(1)} ms`)
  return `# Sample traces

- \`control-channel.pcapng\` — a real control channel (spec §3) between two
  namespaces; recorded by \`samples/record-control.ts\`.
- \`lab-*/\` — small real runs of the lab (\`samples/lab\`, \`handoff lab run
  --record\`): 3 nodes, ${clean?.requests ?? 16} requests, concurrency ${clean?.concurrency ?? 4}, one run without fault and one per
  fault of \`samples/lab/faults.ts\` (applied by the daemons on every 4th
  handoff: hid number ≡ 1 mod 4). Each directory holds \`lab.pcapng.gz\` (one
  interface per vantage point of spec §7: \`client\`, \`lan\`, \`n1-inside\`,
  \`n2-inside\`, \`n3-inside\`, \`control\`; gzip-compressed, read as they are by
  \`handoff inspect\`, the capture reader and tshark) and \`summary.json\` (the
  run's \`--json\` summary; \`record.pcapng\` points at the committed file).

Re-record them all (root, after \`npm run build\`; about 13 s per run):

    node dist/samples/record-traces.js [--out samples/traces] [--only clean,ack-remap]

Every run gets a fresh lab (so every node's hids start at 1 and the faulty
handoffs are the same ones in each recording), the same requests (same URLs
and front-ends: \`planRequests\` in \`samples/lab/run.ts\`) and the same client
ports (request i uses port 20000 + i). Timestamps, ISNs and the interleaving
of the concurrent requests differ from one recording to the next. This file
is generated by the script from the summaries.

\`test/golden/lab-traces.test.ts\` shows, from the packets and the control
messages of these files (not with the analyzer's checks), that each fault's
rule is broken in its trace and kept in \`lab-clean\`.

| run | fault (what the daemons do on the faulty handoffs) | applied | handoffs | what the real clients saw | packets | size |
|---|---|---|---|---|---|---|
${rows.join('\n')}

Worth knowing when reading them:

- The faulty handoffs are each front-end's 1st (and 5th…) handoff: \`n1/1\`,
  \`n2/1\`, \`n3/1\` here. For window-rescale only those with n2 on one side
  (wsB ≠ wsF) show it.
- synack-leak: the leaked SYN/ACK is return-rewritten, so it carries seq
  biss − Δ = fiss and TSval bts − τ = fts — byte for byte the FE's own SYN/ACK
  when both nodes have the same stack settings. What gives it away is that it
  comes from the BE (its Ethernet source is the BE's MAC) after the handoff.
- RSTs from the VIP with seq fiss + 1 are not all leaks: in lab-addr-rewrite
  the BE's stack, whose connection the client reset, answers the client's
  late segments with RSTs, return-rewritten to exactly that seq. The FE's
  leaked reset (lab-rst-leak) is the one whose Ethernet source is the FE's MAC.
- addr-rewrite and rst-leak: once the client resets the connection, client
  segments sent just before the BE's \`terminate\` can still be forwarded by a
  front-end that has not read it yet (late forwards, spec §5 warning, seen up
  to ~30 ms late) — each the first copy of a segment the client sent, unlike
  lab-late-forward, which re-sends one.

${clean ? `Clean run: ${clean.handoffs} handoffs, ${clean.localServices} local services; handoff latency (client SYN → handoff-ack, at the front-end) p50 ${ms(clean.latency.p50Us)}, p99 ${ms(clean.latency.p99Us)}; ${clean.requestsPerSec.toFixed(1)} requests/s (a run this small measures mostly start-up: see \`lab run\` with more requests for throughput).
` : ''}`
}

function main(): void {
  const out = resolve(arg('out', join(repoRoot, 'samples', 'traces')))
  if (process.argv.includes('--readme-only')) {
    writeFileSync(join(out, 'README.md'), readme(out))
    return
  }
  if (typeof process.getuid === 'function' && process.getuid() !== 0) {
    log('needs root (network namespaces)')
    process.exit(2)
  }
  const only = arg('only', '')
  const names = only ? only.split(',') : [...TRACE_RUNS]
  for (const n of names) if (!TRACE_RUNS.includes(n)) {
    log(`unknown run "${n}" (one of: ${TRACE_RUNS.join(', ')})`)
    process.exit(2)
  }
  const o = {id: arg('id', 'trc'), out, requests: Number(arg('requests', '16')), concurrency: Number(arg('concurrency', '4')), timeoutMs: Number(arg('timeout', '3000'))}
  mkdirSync(out, {recursive: true})
  let total = 0
  for (const name of names) total += recordOne(name, o).bytes
  writeFileSync(join(out, 'README.md'), readme(out))
  log(`done: ${names.length} run(s), ${total} bytes of traces; ${join(out, 'README.md')} written`)
}

main()
