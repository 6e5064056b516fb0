// `lab run`: a workload against a lab that is up, with the daemons' own
// figures before and after, and optionally a trace of every vantage point of
// spec §7 in one pcapng file plus summary.json.
import {spawn, type ChildProcess} from 'node:child_process'
import {mkdirSync, readFileSync, writeFileSync, rmSync} from 'node:fs'
import {join, resolve} from 'node:path'
import {fileURLToPath} from 'node:url'
import {PcapngWriter} from '../../analyzer/capture/pcapng-writer.js'
import {chooseNode, loadState, type LabState} from './config.js'
import {readDaemonStatus} from './topology.js'
import type {DaemonStatus} from './daemon-status.js'
import type {WorkloadItem, WorkloadOutcome, WorkloadPlan, WorkloadResult} from './workload.js'
import {LabCommandError} from './sh.js'
import {FAULTS, isFault} from './faults.js'

export interface RunOptions {
  id: string
  requests: number
  concurrency: number
  record?: string
  timeoutMs?: number
  /** Make the daemons break one rule during the run (faults.ts). */
  fault?: string
}

export interface RunSummary {
  lab: string
  requests: number
  concurrency: number
  fault?: string
  /** Segments or messages the daemons made wrong on purpose (--fault). */
  faultsApplied: number
  ok: number
  failures: number
  stalls: number
  failureSamples: string[]
  handoffs: number
  localServices: number
  nacks: number
  handoffTimeouts: number
  /** Handoffs per back-end, and per front-end → back-end pair. */
  handoffsTo: Record<string, number>
  handoffPairs: Record<string, number>
  perNode: {name: string; served: number; handoffsOut: number; handoffsIn: number; local: number}[]
  latency: {count: number; p50Us: number | null; p99Us: number | null; maxUs: number | null}
  elapsedSec: number
  requestsPerSec: number
  handoffsPerSec: number
  record?: {pcapng: string; summary: string; interfaces: string[]; packets: number}
}

const CATEGORIES = ['/img/', '/api/', '/doc/', '/p/']

/** Requests spread over every partition and every front-end: request i goes to node i mod N with a path of category ⌊i/N⌋ mod 4. */
export function planRequests(st: LabState, n: number, startPort?: number): WorkloadItem[] {
  const names = st.nodes.map((x) => x.name)
  // Every request gets its own client port (bound explicitly): a port reused
  // toward another node could meet a handed-off connection with the same
  // 4-tuple at a back-end, and one reused soon toward the same back-end meets
  // its TIME_WAIT there (whose PAWS check refuses the replayed SYN: a nack).
  // So ports 20000-59999 are handed out in turn, continuing across runs.
  const offset = startPort ?? Math.floor(Math.random() * 40000)
  const items: WorkloadItem[] = []
  for (let i = 0; i < n; i++) {
    const fe = st.nodes[i % st.nodes.length]
    const cat = CATEGORIES[Math.floor(i / st.nodes.length) % CATEGORIES.length]
    const path = `${cat}r${i}${cat === '/img/' ? '.png' : ''}`
    items.push({vip: fe.addr, fe: fe.name, path, expect: chooseNode(path, st.partition, names), clientAddr: st.client.addrs[i % st.client.addrs.length], localPort: 20000 + ((offset + i) % 40000)})
  }
  return items
}

function percentile(sorted: number[], p: number): number | null {
  if (sorted.length === 0) return null
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]
}

function script(name: string): string {
  return fileURLToPath(new URL(`./${name}.js`, import.meta.url))
}

function spawnIn(ns: string, name: string, args: string[]): ChildProcess {
  return spawn('ip', ['netns', 'exec', ns, process.execPath, script(name), ...args], {stdio: ['ignore', 'pipe', 'pipe']})
}

interface Vantage {
  name: string
  description: string
  ns: string
  ifaces: {iface: string; dir: 'in' | 'both'}[]
}

/** The vantage points of spec §7 in this lab. */
export function vantagePoints(st: LabState): Vantage[] {
  const v: Vantage[] = [
    {name: 'client', description: 'client side: client ↔ VIP', ns: st.client.ns, ifaces: [{iface: st.client.iface, dir: 'both'}]},
    {name: 'lan', description: 'cluster LAN: every frame entering the LAN bridge', ns: st.lanNs,
      ifaces: [{iface: st.client.lanPort, dir: 'in'}, ...st.nodes.map((n) => ({iface: n.lanPort, dir: 'in' as const}))]},
  ]
  for (const n of st.nodes) {
    v.push({name: `${n.name}-inside`, description: `node inside: between ${n.name}'s TCP and its daemon`, ns: n.daemonNs, ifaces: [{iface: n.ifInside, dir: 'both'}]})
  }
  v.push({name: 'control', description: 'control channels: every frame entering the control bridge', ns: st.lanNs,
    ifaces: st.nodes.map((n) => ({iface: n.ctlPort, dir: 'in' as const}))})
  return v
}

interface Captured {
  vantage: number
  sec: number
  nsec: number
  data: Buffer
  orig: number
}

/**
 * Packets reach the parent per capture handle and per recorder process, in
 * batches: the two directions of one connection (two LAN ports) can arrive
 * swapped. They are held for REORDER_MS and written in timestamp order, so
 * the file reads as the wire ran (tshark and the analyzer read in file order).
 */
const REORDER_MS = 250

class Recorder {
  private readonly children: ChildProcess[] = []
  private readonly writer: PcapngWriter
  private pending: Captured[] = []
  private timer: NodeJS.Timeout | null = null
  packets = 0
  readonly names: string[]

  constructor(readonly file: string, st: LabState) {
    const vps = vantagePoints(st)
    this.names = vps.map((v) => v.name)
    this.writer = PcapngWriter.open(file, {application: 'handoff lab run', comment: `handoff lab ${st.id}: one interface per vantage point (spec §7)`})
    for (const v of vps) this.writer.addInterface({linkType: 1, name: v.name, description: v.description, tsResolution: 'us'})
    const byNs = new Map<string, string[]>()
    vps.forEach((v, idx) => {
      for (const i of v.ifaces) byNs.set(v.ns, [...(byNs.get(v.ns) ?? []), `${idx}:${i.iface}:${i.dir}`])
    })
    for (const [ns, specs] of byNs) this.children.push(spawnIn(ns, 'recorder', specs))
  }

  /** Writes the held packets older than `beforeMs` (all when undefined), in timestamp order. */
  private drain(beforeMs?: number): void {
    const key = (p: Captured) => p.sec * 1e9 + p.nsec
    this.pending.sort((a, b) => key(a) - key(b))
    const limit = beforeMs === undefined ? Infinity : beforeMs * 1e6
    let n = 0
    while (n < this.pending.length && key(this.pending[n]) < limit) {
      const p = this.pending[n++]
      this.writer.writePacket(p.vantage, p.sec, p.nsec, p.data, p.orig)
    }
    this.packets += n
    this.pending = this.pending.slice(n)
  }

  async start(): Promise<void> {
    this.timer = setInterval(() => this.drain(Date.now() - REORDER_MS), 50)
    await Promise.all(this.children.map((c) => new Promise<void>((res, rej) => {
      let err = ''
      const t = setTimeout(() => rej(new LabCommandError(`recorder did not start: ${err}`)), 10000)
      c.stderr!.on('data', (d: Buffer) => {
        err += d.toString()
        if (err.includes('ready')) {
          clearTimeout(t)
          res()
        }
      })
      c.once('exit', (code) => rej(new LabCommandError(`recorder exited (${code}): ${err.trim()}`)))
      let buf: Buffer = Buffer.alloc(0)
      c.stdout!.on('data', (d: Buffer) => {
        buf = buf.length === 0 ? d : Buffer.concat([buf, d])
        let off = 0
        while (buf.length - off >= 20) {
          const cap = buf.readUInt32BE(off + 12)
          if (buf.length - off < 20 + cap) break
          const vantage = buf.readUInt32BE(off)
          const sec = buf.readUInt32BE(off + 4)
          const nsec = buf.readUInt32BE(off + 8)
          const orig = buf.readUInt32BE(off + 16)
          this.pending.push({vantage, sec, nsec, data: buf.subarray(off + 20, off + 20 + cap), orig})
          off += 20 + cap
        }
        buf = buf.subarray(off)
      })
    })))
  }

  async stop(): Promise<void> {
    await Promise.all(this.children.map((c) => new Promise<void>((res) => {
      if (c.exitCode !== null) return res()
      const t = setTimeout(() => {
        c.kill('SIGKILL')
        res()
      }, 5000)
      c.once('close', () => {
        clearTimeout(t)
        res()
      })
      c.kill('SIGTERM')
    })))
    if (this.timer) clearInterval(this.timer)
    this.drain()
    this.writer.close()
  }
}

/**
 * Asks every daemon (SIGUSR2, by the pid the lab recorded) to reopen its
 * control channels, and waits until every pair has exchanged hellos again:
 * the recording then holds each control connection from its SYN.
 */
async function reopenControlChannels(st: LabState): Promise<void> {
  if (st.nodes.length < 2) return
  const before = new Map(st.nodes.map((n) => [n.name, readDaemonStatus(st, n.name)?.hellos ?? 0]))
  for (const n of st.nodes) {
    if (n.daemonPid === undefined) continue
    try {
      process.kill(n.daemonPid, 'SIGUSR2')
    } catch (e) {
      throw new LabCommandError(`cannot signal daemon ${n.name} (pid ${n.daemonPid}): ${(e as Error).message}`)
    }
  }
  const want = st.nodes.length - 1
  const deadline = Date.now() + 5000
  for (;;) {
    const ok = st.nodes.every((n) => {
      const s = readDaemonStatus(st, n.name)
      return s !== undefined && s.peers.length === want && (s.hellos ?? 0) - before.get(n.name)! >= want
    })
    if (ok) return
    if (Date.now() > deadline) throw new LabCommandError('the control channels did not come back within 5 s after reopening them for the recording')
    await new Promise((r) => setTimeout(r, 20))
  }
}

/** Writes (or removes) <stateDir>/fault and waits until every daemon reports it. */
async function setFault(st: LabState, fault: string | undefined): Promise<void> {
  const f = join(st.stateDir, 'fault')
  if (fault === undefined) rmSync(f, {force: true})
  else writeFileSync(f, fault + '\n')
  const want = fault ?? st.fault
  const deadline = Date.now() + 5000
  for (;;) {
    if (st.nodes.every((n) => readDaemonStatus(st, n.name)?.fault === want)) return
    if (Date.now() > deadline) throw new LabCommandError(`the daemons did not take up fault ${fault ?? 'none'} within 5 s`)
    await new Promise((r) => setTimeout(r, 50))
  }
}

/**
 * Every daemon's status as it stands after `sinceMs` (epoch ms): counting
 * everything that reached the daemon before then. A daemon writes its status
 * from a 200 ms timer; on a loaded machine a write can come much later, so a
 * status read at a fixed delay may be one from before the last requests (or,
 * read before a run, from before the traffic that preceded it), and the run's
 * figures (handoffs + local services = requests, latency samples = handoffs)
 * would be off by what it missed. The first status written after sinceMs is
 * not enough either: a daemon that was not scheduled for a while runs its
 * timers before it reads what waits on its sockets. The second one is: the
 * event loop has polled every socket and capture in between.
 */
async function statuses(st: LabState, sinceMs: number, timeoutMs = 10000): Promise<Map<string, DaemonStatus>> {
  const deadline = Date.now() + timeoutMs
  const firstFresh = new Map<string, number>()
  for (;;) {
    const m = new Map<string, DaemonStatus>()
    const waiting: string[] = []
    for (const n of st.nodes) {
      const s = readDaemonStatus(st, n.name)
      if (!s) throw new LabCommandError(`daemon ${n.name} has no status (is the lab up? handoff lab status)`)
      const at = Date.parse(s.updatedAt)
      const first = firstFresh.get(n.name)
      if (first === undefined) {
        if (at > sinceMs) firstFresh.set(n.name, at)
        waiting.push(n.name)
      } else if (!(at > first)) waiting.push(n.name)
      m.set(n.name, s)
    }
    if (waiting.length === 0) return m
    if (Date.now() > deadline) {
      throw new LabCommandError(`daemon(s) ${waiting.join(', ')} wrote no status for ${timeoutMs / 1000} s (they write one every 200 ms): handoff lab status`)
    }
    await new Promise((r) => setTimeout(r, 20))
  }
}

export async function runWorkload(o: RunOptions): Promise<RunSummary> {
  const st = loadState(o.id)
  if (!st) throw new LabCommandError(`no lab with id "${o.id}" is up (handoff lab up starts one)`)
  const portFile = join(st.stateDir, 'next-port')
  let startPort: number | undefined
  try {
    startPort = Number(readFileSync(portFile, 'utf8')) % 40000
    if (!Number.isInteger(startPort)) startPort = undefined
  } catch {
    startPort = undefined
  }
  const items = planRequests(st, o.requests, startPort)
  writeFileSync(portFile, String((items[items.length - 1].localPort - 20000 + 1) % 40000))
  // Two client processes (measured best on a 2-CPU machine), so one client's event loop does not
  // become the bottleneck being measured; request i goes to process i mod W.
  const W = Math.min(o.concurrency, 2, items.length)
  const plans: {plan: WorkloadPlan; index: number[]; file: string}[] = []
  for (let k = 0; k < W; k++) {
    const index = items.map((_, i) => i).filter((i) => i % W === k)
    const conc = Math.floor(o.concurrency / W) + (k < o.concurrency % W ? 1 : 0)
    plans.push({plan: {items: index.map((i) => items[i]), concurrency: conc, timeoutMs: o.timeoutMs ?? 5000}, index,
      file: join(st.stateDir, `plan-${process.pid}-${k}.json`)})
  }
  for (const p of plans) writeFileSync(p.file, JSON.stringify(p.plan))
  let recorder: Recorder | undefined
  let recordDir: string | undefined
  let result: WorkloadResult
  if (o.fault !== undefined) {
    if (!isFault(o.fault)) throw new LabCommandError(`unknown fault "${o.fault}" (one of: ${Object.keys(FAULTS).join(', ')})`)
    await setFault(st, o.fault)
  }
  const before = await statuses(st, Date.now())
  try {
    if (o.record) {
      recordDir = resolve(o.record)
      mkdirSync(recordDir, {recursive: true})
      recorder = new Recorder(join(recordDir, 'lab.pcapng'), st)
      await recorder.start()
      await reopenControlChannels(st)
    }
    const parts = await Promise.all(plans.map((p) => new Promise<WorkloadResult>((res, rej) => {
      const c = spawnIn(st.client.ns, 'workload', [p.file])
      let out = ''
      let err = ''
      c.stdout!.on('data', (d: Buffer) => (out += d.toString()))
      c.stderr!.on('data', (d: Buffer) => (err += d.toString()))
      c.once('close', (code) => {
        if (code !== 0) return rej(new LabCommandError(`workload failed (exit ${code}): ${err.trim().slice(-2000)}`))
        try {
          res(JSON.parse(out) as WorkloadResult)
        } catch {
          rej(new LabCommandError(`workload printed no result: ${err.trim().slice(-2000)}`))
        }
      })
    })))
    const outcomes: WorkloadOutcome[] = new Array(items.length)
    let start = Infinity
    let end = 0
    parts.forEach((r, k) => {
      for (const x of r.outcomes) outcomes[plans[k].index[x.i]] = {...x, i: plans[k].index[x.i]}
      start = Math.min(start, r.startedAt)
      end = Math.max(end, r.startedAt + r.elapsedSec * 1000)
    })
    result = {startedAt: start, elapsedSec: (end - start) / 1000, outcomes}
  } catch (e) {
    if (recorder) await recorder.stop()
    throw e
  } finally {
    for (const p of plans) rmSync(p.file, {force: true})
    if (o.fault !== undefined) {
      // Let the last connections end under the fault, then back to correct behaviour.
      await new Promise((r) => setTimeout(r, 600))
      await setFault(st, undefined)
    }
  }
  // Let the last terminates land in the recording; the figures come from
  // statuses written after the last request ended.
  const ended = Date.now()
  await new Promise((r) => setTimeout(r, 600))
  if (recorder) await recorder.stop()
  const after = await statuses(st, ended)

  const lat: number[] = []
  const d = (n: string, c: keyof DaemonStatus['counters']) => after.get(n)!.counters[c] - before.get(n)!.counters[c]
  const handoffsTo: Record<string, number> = {}
  for (const n of st.nodes) {
    const a = after.get(n.name)!
    const b = before.get(n.name)!
    const k = a.latencyCount - b.latencyCount
    if (k > 0) lat.push(...a.latenciesUs.slice(-k))
    for (const [to, v] of Object.entries(a.handoffsTo)) {
      const dv = v - (b.handoffsTo[to] ?? 0)
      if (dv > 0) handoffsTo[to] = (handoffsTo[to] ?? 0) + dv
    }
  }
  const handoffPairs: Record<string, number> = {}
  for (const n of st.nodes) {
    const a = after.get(n.name)!
    const b = before.get(n.name)!
    for (const [to, v] of Object.entries(a.handoffsTo)) {
      const dv = v - (b.handoffsTo[to] ?? 0)
      if (dv > 0) handoffPairs[`${n.name}→${to}`] = dv
    }
  }
  lat.sort((x, y) => x - y)
  const outs = result.outcomes
  const failures = outs.filter((x) => !x.ok && !x.stalled).length
  const stalls = outs.filter((x) => x.stalled).length
  const served: Record<string, number> = {}
  for (const x of outs) if (x.ok && x.servedBy) served[x.servedBy] = (served[x.servedBy] ?? 0) + 1
  const sum = (c: keyof DaemonStatus['counters']) => st.nodes.reduce((s, n) => s + d(n.name, c), 0)
  const handoffs = sum('acksReceived')
  const summary: RunSummary = {
    lab: st.id,
    requests: o.requests,
    concurrency: o.concurrency,
    fault: o.fault ?? st.fault,
    faultsApplied: sum('faultsApplied'),
    ok: outs.filter((x) => x.ok).length,
    failures,
    stalls,
    failureSamples: outs.filter((x) => !x.ok).slice(0, 10).map((x) => {
      const it = items[x.i]
      return `#${x.i} http://${it.vip}${it.path} (fe ${it.fe}, expect ${it.expect}): ${x.error}`
    }),
    handoffs,
    localServices: sum('local'),
    nacks: sum('nacksReceived'),
    handoffTimeouts: sum('handoffTimeouts'),
    handoffsTo,
    handoffPairs,
    perNode: st.nodes.map((n) => ({name: n.name, served: served[n.name] ?? 0, handoffsOut: d(n.name, 'acksReceived'), handoffsIn: d(n.name, 'acksSent'), local: d(n.name, 'local')})),
    latency: {count: lat.length, p50Us: percentile(lat, 50), p99Us: percentile(lat, 99), maxUs: lat.length ? lat[lat.length - 1] : null},
    elapsedSec: result.elapsedSec,
    requestsPerSec: o.requests / result.elapsedSec,
    handoffsPerSec: handoffs / result.elapsedSec,
  }
  if (recorder && recordDir) {
    summary.record = {pcapng: recorder.file, summary: join(recordDir, 'summary.json'), interfaces: recorder.names, packets: recorder.packets}
    writeFileSync(summary.record.summary, JSON.stringify(summary, null, 2) + '\n')
  }
  return summary
}
