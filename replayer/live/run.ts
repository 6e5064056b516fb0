// `handoff replay TRACE --live --interface IF`: stateful replay of recorded
// handed-off connections against a live back-end (issue 6). The replayer
// acts as the front-end's BTCP and as the client at once: for each selected
// connection it sends the recorded client side, learns the back-end's ISN,
// timestamp and options from its live SYN/ACK, rewrites every following
// segment through the §4 engine, acknowledges what the live server sends and
// compares the live response stream with the recorded one (connection.ts has
// the per-connection state machine, compare.ts the comparison).
//
// Design decisions:
// - Target: each connection goes to --target ADDR, by default the recorded
//   back-end (baddr of its handoff-ack). Its MAC is learnt by ARP / IPv6
//   neighbour solicitation on IF, or given (--target-mac).
// - Source: the recorded client's address, or --source ADDR for all. The
//   local stack must NOT own it (refused otherwise): a kernel that owns the
//   address would answer the live server's segments for connections it does
//   not know with RSTs. The replayer answers ARP / neighbour solicitations
//   for it itself, with its own MAC (--source-mac; by default a locally
//   administered one, 02:68:6f + the last three bytes of the first source
//   address — "ho"), which is not the interface's: frames to it are
//   "other host" for the local kernel, dropped before IP whatever its
//   forwarding settings.
// - One interface: the capture and every injected frame use IF and only IF.
//   The capture is inbound only (our own frames are not seen again).
// - Concurrency: up to --concurrency connections at once; one timer for all
//   (the earliest deadline of the active connections).
// - Selection, and the handoff state, come from the trace's control channel
//   exactly as for --write (never guessed).
import {networkInterfaces} from 'node:os'
import {performance} from 'node:perf_hooks'
import {openLive, type LivePacket} from '../../analyzer/capture/live.js'
import {resolveControlPort} from '../../analyzer/control/port-discovery.js'
import {formatMac, parseMac} from '../../analyzer/wire/addr.js'
import {PacketDecoder} from '../../analyzer/wire/decode.js'
import {LINKTYPE, linkTypeName} from '../../analyzer/wire/linktype.js'
import {scanControl} from '../select/control.js'
import {canonicalAddr, selectHandoffs, type Selection} from '../select/select.js'
import {compareResponses, type CompareResult} from './compare.js'
import {LiveConnection, type ConnStats, type LiveParams} from './connection.js'
import {addrBytes, answerFor, arpRequest, neighborSolicitation, parseNeighbor} from './neighbor.js'
import {buildScripts, clientGap, type ConnScript} from './script.js'

export class StatefulReplayError extends Error {
  constructor(message: string) {
    super(message)
    this.name = 'StatefulReplayError'
  }
}

/** What the runner needs of a live interface (tests substitute a simulated peer). */
export interface FrameIO {
  readonly linkType: number
  inject(frame: Uint8Array): void
  onFrame(cb: (frame: Uint8Array) => void): void
  /** A read error (interface removed or down). */
  onError?(cb: (e: Error) => void): void
  close(): void
}

export interface StatefulInput {
  traces: string[]
  selection?: Selection
  controlPort?: number
  iface: string
  target?: string
  targetMac?: string
  source?: string
  sourceMac?: string
  /** Connections at once. Default 8. */
  concurrency?: number
  /** HTTP response header fields whose values are not compared. Default ['date']. */
  ignoreHeaders?: string[]
  rtoMs?: number
  maxRetries?: number
  responseIdleMs?: number
  timeoutMs?: number
  shouldStop?: () => boolean
  /** Default: libpcap on `iface`. */
  openIO?: (iface: string) => FrameIO
  /** Addresses the local stack owns. Default: os.networkInterfaces(). */
  localAddresses?: () => {iface: string; addr: string}[]
}

export interface ConnReport {
  hid: string
  /** The recorded client → VIP. */
  recorded: string
  /** What was replayed: source:port → target:port. */
  replayed: string
  status: 'ok' | 'failed' | 'aborted'
  error?: string
  closedBy?: string
  live?: LiveParams
  stats: ConnStats
  requestBytes: number
  durationMs: number
  /** Which view of the trace the recorded response comes from. */
  responseView: ConnScript['responseView']
  response: CompareResult
}

export interface StatefulOutcome {
  mode: 'live-stateful'
  traces: string[]
  iface: string
  sourceMac: string
  targets: {addr: string; mac: string; resolved: boolean}[]
  handoffsInTrace: string[]
  notReplayed: {hid: string; reason: string}[]
  ignoreHeaders: string[]
  concurrency: number
  connections: ConnReport[]
  summary: {connections: number; ok: number; failed: number; aborted: number; matched: number; mismatched: number; elapsedMs: number}
}

const DEFAULT_IGNORE = ['date']

function ep(a: string, p: number): string {
  return a.includes(':') ? `[${a}]:${p}` : `${a}:${p}`
}

function libpcapIO(iface: string): FrameIO {
  // inbound: our own injected frames are not delivered back to us.
  const src = openLive({interface: iface, filter: 'inbound and (arp or icmp6 or tcp)', immediate: true})
  return {
    linkType: src.linkType,
    inject: (f) => src.inject(f),
    onFrame: (cb) => {
      src.on('packet', (p: LivePacket) => cb(p.data))
    },
    onError: (cb) => {
      src.on('error', cb)
    },
    close: () => src.close(),
  }
}

function defaultLocal(): {iface: string; addr: string}[] {
  const out: {iface: string; addr: string}[] = []
  for (const [iface, list] of Object.entries(networkInterfaces())) {
    for (const a of list ?? []) out.push({iface, addr: canonicalAddr(a.address.replace(/%.*$/, ''))})
  }
  return out
}

function family(a: string): 4 | 6 {
  return a.includes(':') ? 6 : 4
}

function addrArg(flag: string, s: string | undefined): string | undefined {
  if (s === undefined) return undefined
  try {
    return canonicalAddr(s, flag)
  } catch (e) {
    throw new StatefulReplayError((e as Error).message)
  }
}

function macArg(flag: string, s: string | undefined): Uint8Array | undefined {
  if (s === undefined) return undefined
  try {
    return parseMac(s)
  } catch {
    throw new StatefulReplayError(`${flag} is not a MAC address (aa:bb:cc:dd:ee:ff): ${JSON.stringify(s)}`)
  }
}

/** Plans, resolves, runs and compares. Throws StatefulReplayError when nothing can be replayed or the setup is unsafe. */
export async function replayStateful(input: StatefulInput): Promise<StatefulOutcome> {
  const port = (await resolveControlPort(input.traces, input.controlPort)).port
  const names = input.traces.join(', ')
  const scan = await scanControl(input.traces, {port})
  if (scan.handoffs.length === 0) {
    throw new StatefulReplayError(`nothing to replay: no handoff-req on the control channel (TCP port ${port}) in ${names}; ` +
      'the recorded handoff state (fiss, fts, options) comes from the handoff-req and handoff-ack messages (another port: --control-port)')
  }
  const all = scan.handoffs.map((h) => h.hid)
  const {selected, unmatched} = selectHandoffs(scan.handoffs, input.selection ?? {})
  if (unmatched.length > 0) throw new StatefulReplayError(`${unmatched.join(', ')} matched no handoff in ${names}`)
  if (selected.length === 0) throw new StatefulReplayError(`the selection matches no handoff in ${names}`)
  const notReplayed: StatefulOutcome['notReplayed'] = []
  for (const h of selected) {
    if (h.ack === null) notReplayed.push({hid: h.hid, reason: h.nacked ? 'the BE refused it (handoff-nack)' : 'no handoff-ack in the trace'})
    else if (h.req.msg.pkts.length === 0) notReplayed.push({hid: h.hid, reason: 'its handoff-req carries no segments'})
  }
  const scripts = (await buildScripts(input.traces, selected)).filter((s) => {
    const gap = clientGap(s)
    if (gap !== null) notReplayed.push({hid: s.hid, reason: `the trace lacks client bytes +${gap[0]}..+${gap[1]} (not captured): the live server would wait for them`})
    return gap === null
  })
  if (scripts.length === 0) throw new StatefulReplayError(`no selected handoff can be replayed: ${notReplayed.map((n) => `${n.hid}: ${n.reason}`).join('; ')}`)

  const source = addrArg('--source', input.source)
  const target = addrArg('--target', input.target)
  const sourceMacIn = macArg('--source-mac', input.sourceMac)
  const targetMacIn = macArg('--target-mac', input.targetMac)
  const plan = scripts.map((s) => ({s, source: source ?? s.cip, target: target ?? s.baddr}))
  for (const p of plan) {
    if (family(p.source) !== p.s.family || family(p.target) !== p.s.family) {
      throw new StatefulReplayError(`handoff ${p.s.hid} is IPv${p.s.family} (${ep(p.s.cip, p.s.cport)}) but the ` +
        `${family(p.source) !== p.s.family ? `source ${p.source}` : `target ${p.target}`} is IPv${p.s.family === 4 ? 6 : 4}`)
    }
    if (p.source === p.target) throw new StatefulReplayError(`the source and the target are the same address (${p.source})`)
  }
  const targets = [...new Set(plan.map((p) => p.target))]
  if (targetMacIn !== undefined && targets.length > 1) {
    throw new StatefulReplayError(`--target-mac names one MAC but the selected handoffs go to ${targets.length} back-ends (${targets.join(', ')}): add --target`)
  }
  const local = (input.localAddresses ?? defaultLocal)()
  for (const a of new Set(plan.map((p) => p.source))) {
    const own = local.find((l) => l.addr === a)
    if (own !== undefined) {
      throw new StatefulReplayError(`the source address ${a} belongs to this host (interface ${own.iface}): the local TCP stack would answer the ` +
        `live server's segments with RSTs. Replay from an address of ${input.iface}'s network that no host uses (--source ADDR): ` +
        'the replayer answers ARP / neighbour solicitations for it itself')
    }
  }
  for (const t of targets) {
    const own = local.find((l) => l.addr === t)
    if (own !== undefined) throw new StatefulReplayError(`the target ${t} is an address of this host (interface ${own.iface}): replay against another host's stack`)
  }
  const seen = new Map<string, string>()
  for (const p of plan) {
    const k = `${p.source}|${p.s.cport}|${p.target}|${p.s.vport}`
    const other = seen.get(k)
    if (other !== undefined) {
      throw new StatefulReplayError(`handoffs ${other} and ${p.s.hid} would both be ${ep(p.source, p.s.cport)} → ${ep(p.target, p.s.vport)}: ` +
        'select one of them (--hid) or replay without --source')
    }
    seen.set(k, p.s.hid)
  }
  const srcBytes = addrBytes(plan[0].source)
  const sourceMac = sourceMacIn ?? new Uint8Array([0x02, 0x68, 0x6f, ...srcBytes.subarray(srcBytes.length - 3)])
  const owned = [...new Set(plan.map((p) => p.source))].map(addrBytes)

  const io = (input.openIO ?? libpcapIO)(input.iface)
  try {
    if (io.linkType !== LINKTYPE.ETHERNET) {
      throw new StatefulReplayError(`"${input.iface}" is a ${linkTypeName(io.linkType)} interface; --live needs Ethernet (it resolves and answers ARP / ND)`)
    }
    return await runAll(input, io, plan, targets, targetMacIn, sourceMac, owned, {all, notReplayed})
  } finally {
    io.close()
  }
}

type Plan = {s: ConnScript; source: string; target: string}[]

async function runAll(input: StatefulInput, io: FrameIO, plan: Plan, targets: string[], targetMacIn: Uint8Array | undefined,
  sourceMac: Uint8Array, owned: Uint8Array[], meta: {all: string[]; notReplayed: StatefulOutcome['notReplayed']}): Promise<StatefulOutcome> {
  const t0 = performance.now()
  const now = () => performance.now()
  const macs = new Map<string, Uint8Array>()
  const resolved = new Set<string>()
  /** Targets that answered our ARP request / solicitation. */
  const answered = new Set<string>()
  if (targetMacIn !== undefined) macs.set(targets[0], targetMacIn)
  const dec = new PacketDecoder({verifyChecksums: false})
  const conns = new Map<string, LiveConnection>()
  let wake: () => void = () => {}
  let failure: Error | null = null

  io.onFrame((frame) => {
    try {
      const nb = parseNeighbor(frame)
      if (nb !== null) {
        const answer = answerFor(nb, owned, sourceMac)
        if (answer !== null) io.inject(answer)
        if (nb.kind === 'reply') {
          const a = canonicalAddr(nb.ip.length === 4 ? [...nb.ip].join('.') : formatV6(nb.ip))
          if (targets.includes(a) && !answered.has(a)) {
            answered.add(a)
            if (!macs.has(a)) {
              macs.set(a, nb.mac)
              resolved.add(a)
            }
            wake()
          }
        }
        return
      }
      const d = dec.decode(LINKTYPE.ETHERNET, frame, frame.length, frame.length)
      if (d.transport !== 'tcp') return
      const c = conns.get(`${d.srcAddr()}|${d.srcPort}|${d.dstAddr()}|${d.dstPort}`)
      if (c === undefined) return
      try {
        c.onFrame(frame)
      } catch (e) {
        c.abort(`internal error: ${(e as Error).message}`)
      }
      wake()
    } catch (e) {
      failure = e as Error
      wake()
    }
  })

  io.onError?.((e) => {
    failure = e
    wake()
  })

  // 1. The targets' MACs: up to 5 requests, 100 ms then doubling (1.5 s in
  // all). Short first: the first frame that reaches a freshly opened
  // node_pcap session was seen lost here (an ARP reply 1 ms after our
  // request, whatever the delay after opening), so the answer to the
  // second request is the one that usually counts.
  // With --target-mac the requests still go out (up to 3, 0.7 s, an answer
  // not required): they tell the target's kernel where our source is (an
  // ARP request's sender, an NS's source link-layer option: RFC 826, RFC
  // 4861 §7.2.3), so it need not ask before its SYN/ACK. Its own question
  // would be the first frame to reach the fresh capture, lost as above, and
  // a kernel asks again only after 1 s (seen against Linux over IPv6).
  for (let attempt = 0; attempt < (targetMacIn !== undefined ? 3 : 5) && targets.some((t) => !answered.has(t)); attempt++) {
    for (const t of targets) {
      if (answered.has(t)) continue
      const tb = addrBytes(t)
      const from = addrBytes(plan.find((p) => p.target === t)!.source)
      io.inject(tb.length === 4 ? arpRequest(sourceMac, from, tb) : neighborSolicitation(sourceMac, from, tb))
    }
    await waitFor(100 * 2 ** attempt, (w) => (wake = w), () => targets.every((t) => answered.has(t)) || failure !== null)
    if (failure !== null) throw failure
  }
  const missing = targets.filter((t) => !macs.has(t))
  if (missing.length > 0) {
    throw new StatefulReplayError(`no ${missing[0].includes(':') ? 'neighbour advertisement' : 'ARP reply'} from ${missing.join(', ')} on ` +
      `"${input.iface}" (5 requests in 3.1 s): is the back-end on this interface's network? (--target-mac skips the resolution)`)
  }

  // 2. The connections, up to `concurrency` at once.
  const concurrency = Math.max(1, input.concurrency ?? 8)
  const make = (p: Plan[number], opts: ConstructorParameters<typeof LiveConnection>[1]): LiveConnection => {
    try {
      return new LiveConnection(p.s, opts)
    } catch (e) {
      throw new StatefulReplayError(`handoff ${p.s.hid} cannot be replayed: ${(e as Error).message}`)
    }
  }
  const all: {p: Plan[number]; c: LiveConnection}[] = plan.map((p) => ({
    p,
    c: make(p, {
      source: p.source, sourceMac, target: p.target, targetMac: macs.get(p.target)!, send: (f) => io.inject(f), now,
      ...(input.rtoMs !== undefined ? {rtoMs: input.rtoMs} : {}),
      ...(input.maxRetries !== undefined ? {maxRetries: input.maxRetries} : {}),
      ...(input.responseIdleMs !== undefined ? {responseIdleMs: input.responseIdleMs} : {}),
      ...(input.timeoutMs !== undefined ? {timeoutMs: input.timeoutMs} : {}),
    }),
  }))
  let started = 0
  let lastEnd = 0
  const active = () => all.filter((x) => x.c.phase === 'syn-sent' || x.c.phase === 'established')
  for (;;) {
    if (failure !== null) throw failure
    if (input.shouldStop?.()) {
      for (const x of active()) x.c.abort('interrupted')
      break
    }
    for (const x of all) if (!x.c.finished && x.c.phase !== 'idle') x.c.poll()
    let running = active().length
    while (running < concurrency && started < all.length) {
      const x = all[started++]
      conns.set(`${x.p.target}|${x.p.s.vport}|${x.p.source}|${x.p.s.cport}`, x.c)
      try {
        x.c.start()
      } catch (e) {
        x.c.abort(`internal error: ${(e as Error).message}`)
      }
      running++
    }
    if (started >= all.length && running === 0) break
    const next = Math.min(...active().map((x) => x.c.nextDeadline()))
    await waitFor(Math.max(1, Math.min(200, next - now())), (w) => (wake = w))
    lastEnd = now()
  }
  // A short linger: if our last ACK of a server FIN was lost, the server's
  // retransmitted FIN is answered (the connections stay in the table).
  const quiet = 300 - (now() - lastEnd)
  if (quiet > 0 && !input.shouldStop?.()) await new Promise((r) => setTimeout(r, quiet))

  const ignore = (input.ignoreHeaders ?? DEFAULT_IGNORE).map((h) => h.toLowerCase())
  const reports: ConnReport[] = all.map(({p, c}) => {
    const s = p.s
    const status: ConnReport['status'] = c.phase === 'done' ? 'ok' : c.error === 'interrupted' || c.phase === 'idle' ? 'aborted' : 'failed'
    return {
      hid: s.hid,
      recorded: `${ep(s.cip, s.cport)} → ${ep(s.vip, s.vport)} (BE ${s.baddr})`,
      replayed: `${ep(p.source, s.cport)} → ${ep(p.target, s.vport)}`,
      status,
      ...(c.error !== undefined ? {error: c.phase === 'idle' ? 'not started (interrupted)' : c.error} : {}),
      ...(c.closedBy !== undefined ? {closedBy: c.closedBy} : {}),
      ...(c.live !== undefined ? {live: c.live} : {}),
      stats: c.stats,
      requestBytes: s.segments.reduce((n, x) => n + x.dataLen, 0),
      durationMs: c.startedAt < 0 ? 0 : Math.round((c.endedAt >= 0 ? c.endedAt : now()) - c.startedAt),
      responseView: s.responseView,
      response: compareResponses(s.response, c.response(), s.responseHoles, ignore),
    }
  })
  const ok = reports.filter((r) => r.status === 'ok')
  return {
    mode: 'live-stateful',
    traces: input.traces,
    iface: input.iface,
    sourceMac: formatMac(sourceMac, 0),
    targets: targets.map((t) => ({addr: t, mac: formatMac(macs.get(t)!, 0), resolved: resolved.has(t)})),
    handoffsInTrace: meta.all,
    notReplayed: meta.notReplayed,
    ignoreHeaders: ignore,
    concurrency,
    connections: reports,
    summary: {
      connections: reports.length,
      ok: ok.length,
      failed: reports.filter((r) => r.status === 'failed').length,
      aborted: reports.filter((r) => r.status === 'aborted').length,
      matched: ok.filter((r) => r.response.match).length,
      mismatched: ok.filter((r) => !r.response.match).length,
      elapsedMs: Math.round(now() - t0),
    },
  }
}

function formatV6(b: Uint8Array): string {
  const parts: string[] = []
  for (let i = 0; i < 16; i += 2) parts.push(((b[i] << 8) | b[i + 1]).toString(16))
  return parts.join(':')
}

/** Resolves after `ms`, or at the first wake-up (when `done` is given: the first after which done() is true). */
function waitFor(ms: number, setWake: (w: () => void) => void, done?: () => boolean): Promise<void> {
  return new Promise((resolve) => {
    const t = setTimeout(finish, ms)
    function finish(): void {
      clearTimeout(t)
      setWake(() => {})
      resolve()
    }
    setWake(() => {
      if (done === undefined || done()) finish()
    })
  })
}
