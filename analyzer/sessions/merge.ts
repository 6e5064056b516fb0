// One row per client connection: the per-view session rows (one per TCP
// session per vantage point, sessions.ts) of one connection merged.
//
// Which rows are one connection:
//   - a handed-off (or nacked, or unanswered) connection: every row the
//     control channel ties to its hid (handoff.ts: client endpoint, server
//     the VIP or the BE address, client ISN or time). Those rows are its
//     legs, named from the legs of assemble.ts (packetLeg) of their two
//     directions: 'client-vip' (client ↔ VIP at the client side or the LAN),
//     'forward' (the FE's forwarded client → BE segments on the LAN),
//     'fe-inside' (the FE's own TCP, before the handoff), 'be-inside' (the
//     BE's TCP: forwarded segments passed up, replies before the rewrite);
//   - any other connection (local, plain): rows with the same two endpoints
//     (either order: a view that missed the handshake may have the roles
//     the other way round), told apart, when a 4-tuple is reused, by the
//     client ISN, else by time; never two rows of one view (those are two
//     sessions there, so two connections).
// The numbers of the merged row (state, history, packets, bytes, duration,
// handshake) are those of one view, the one nearest the client: the client
// side, else the LAN's client ↔ VIP session, else the BE inside (the whole
// request and reply, before the return rewrite), else the FE inside, else
// the forwarded leg; `from` says which. Anomalies are listed per view.
//
// Retiring: the caller may call retire() as the trace goes on; a connection
// quiet for longer than the tracker's linger plus the time slack below, none
// of whose endpoints has a session the tracker still holds (live-endpoints.ts),
// can get no more rows (short of a later session reusing its 4-tuple with its
// very ISN), so its merged row is made and its group let go. Only on one
// clock: one file, or several read merged by (corrected) time (collect.ts);
// files read one after the other may add rows to any connection up to the
// last one.
import {normAddr, packetLeg} from '../correlate/assemble.js'
import {viewLabel, type VantageKind, type View} from '../correlate/vantage.js'
import type {AnomalyName} from '../flows/tcp-analysis.js'
import type {ConnState} from '../flows/history.js'
import type {RolesFrom} from '../flows/session.js'
import type {HandoffInfo, Latency, SynSighting} from './handoff.js'
import {endpointKey, type LiveEndpoints} from './live-endpoints.js'
import type {DirCounts, SessionKind, SessionRow} from './sessions.js'

/** What a per-view session is of its connection. 'direct': a connection without handoff (the same at every view). */
export type SessionLeg = 'client-vip' | 'forward' | 'fe-inside' | 'be-inside' | 'direct' | 'other'

/** One sighting of a connection: its session at one vantage point. */
export interface Sighting {
  /** "FILE#IFACE (name)" */
  view: string
  file: string
  iface: number
  vantage: VantageKind
  leg: SessionLeg
  stream: number
  /** The session's own endpoints at this view (a forwarded leg's server is the BE address). */
  client: string
  clientPort: number
  server: string
  serverPort: number
  state: ConnState
  history: string
  start: string
  durationSec: number
  packets: DirCounts
  bytes: DirCounts
}

export interface ConnectionRow {
  client: string
  clientPort: number
  /** The server the client connected to (for a handed-off connection: the VIP). */
  server: string
  serverPort: number
  ipVersion: 4 | 6
  kind: SessionKind
  hid: string | null
  frontend: string | null
  backend: string | null
  handoffLatencyMs: number | null
  handoffLatencyFrom: SessionRow['handoffLatencyFrom']
  /** The view the numbers below come from (see the header), its vantage point and leg. */
  from: {view: string; vantage: VantageKind; leg: SessionLeg; rolesFrom: RolesFrom}
  state: ConnState
  history: string
  start: string
  durationSec: number
  packets: DirCounts
  bytes: DirCounts
  payloadBytes: DirCounts
  handshake: SessionRow['handshake']
  windowScale: SessionRow['windowScale']
  badChecksums: DirCounts
  reusedPorts: boolean
  /** Analysis flags per sighting (view and leg) that had any. */
  anomalies: {view: string; leg: SessionLeg; flags: Partial<Record<AnomalyName, number>>}[]
  /** Every view and leg it was seen at, best view first, then in argument / interface order. */
  seenAt: Sighting[]
}

/** A per-view row with what the merge needs to know of it (it keeps less: see Member). */
export interface ViewRow {
  row: SessionRow
  view: View
  /** Client ISN (-1 without a SYN from the client). */
  isn: number
  /** First / last packet capture time (s). */
  first: number
  last: number
  /** The handoff the row belongs to (classification), if any. */
  handoff: HandoffInfo | null
  /** Its client SYN as a handoff latency candidate (collect.ts decides), if any. */
  syn?: SynSighting | null
}

/**
 * One per-view row as the merge keeps it: its sighting (what `seenAt` prints,
 * built once and shared by the output), its anomalies, and what ranks and
 * orders it — not the whole row (only the group's best row is kept whole).
 */
interface Member {
  view: View
  leg: SessionLeg
  sighting: Sighting
  /** null when it had none. */
  anomalies: Partial<Record<AnomalyName, number>> | null
  firstFrame: number
  /** rank() of the row, lower is nearer the client. */
  r0: number
  r1: number
  r2: number
}

interface Group {
  members: Member[]
  handoff: HandoffInfo | null
  isn: number
  first: number
  last: number
  /** The member nearest the client so far (the first of the lowest rank) and its whole row. */
  best: Member
  bestRow: SessionRow
  /** The first row's latency that was set before add() (rows() without a latency lookup). */
  latency: Pick<SessionRow, 'handoffLatencyMs' | 'handoffLatencyFrom'> | null
  /** Argument order, then frame: fileIndex · 2^32 + first frame of its earliest row. */
  firstSeen: number
  /** A handoff's latency candidates: every client SYN of its hid (all its rows are in this group). */
  syns: SynSighting[]
  /** Its two endpoints (endpointKey) when merged by endpoints, else null. */
  ends: [string, string] | null
}

const VANTAGE_RANK: Record<VantageKind, number> = {client: 0, lan: 1, inside: 2, control: 3}
const HANDOFF_LEG_RANK: Record<SessionLeg, number> = {'client-vip': 0, 'be-inside': 2, 'fe-inside': 3, 'forward': 4, 'direct': 5, 'other': 6}

function legOfRow(v: ViewRow): SessionLeg {
  const h = v.handoff
  if (h === null) return 'direct'
  const r = v.row
  const c = normAddr(r.client)
  const s = normAddr(r.server)
  const legs = new Set<string>()
  if (r.packets.toServer > 0) legs.add(packetLeg(h, c, r.clientPort, s, r.serverPort, v.view))
  if (r.packets.toClient > 0) legs.add(packetLeg(h, s, r.serverPort, c, r.clientPort, v.view))
  const only = (...ok: string[]) => legs.size > 0 && [...legs].every((l) => ok.includes(l))
  if (v.view.kind === 'inside') {
    if (only('client', 'fe-own')) return 'fe-inside'
    if (only('forward', 'be-raw')) return 'be-inside'
    return 'other'
  }
  if (only('client', 'return')) return 'client-vip'
  if (only('forward')) return 'forward'
  return 'other'
}

/** Lower is nearer the client: the place of its view / leg, a SYN-less guess of the roles, then more packets. */
function rank(v: ViewRow, leg: SessionLeg): [number, number, number] {
  const r = v.row
  const place = v.handoff !== null ? HANDOFF_LEG_RANK[leg] + (leg === 'client-vip' && v.view.kind !== 'client' ? 1 : 0) : VANTAGE_RANK[v.view.kind]
  return [place, r.rolesFrom === 'first-packet' ? 1 : 0, -(r.packets.toServer + r.packets.toClient)]
}

function better(a: Member, b: Member): boolean {
  if (a.r0 !== b.r0) return a.r0 < b.r0
  if (a.r1 !== b.r1) return a.r1 < b.r1
  return a.r2 < b.r2
}

const sameView = (a: View, b: View) => a.fileIndex === b.fileIndex && a.iface === b.iface

/** Slack (s) when rows without a client SYN are matched to a connection by time. */
const TIME_SLACK_SEC = 5

/** The handoff latency of a hid (collect.ts computes it once every SYN has been seen). */
export type LatencyOf = (hid: string) => {ms: number; synView: string; ackView: string; sameClock: boolean} | undefined

export interface MergeOptions {
  /** Latency of a handed-off connection's hid; without it, the first row's latency as set before add(). */
  latency?: LatencyOf
  /** Latency of a handoff from its client SYNs (the rows' `syn`): what a retired group uses (no hid-wide table). */
  latencyFor?(h: HandoffInfo, syns: readonly SynSighting[]): Latency | undefined
  /** Which merged rows to return (default all); every connection goes to `each` first. */
  keep?(c: ConnectionRow): boolean
  each?(c: ConnectionRow): void
}

/**
 * Groups per-view rows into connections as they come; rows() merges them.
 * Memory: per connection its best row whole; per per-view row only its
 * sighting (which the output's `seenAt` shares), its anomalies and its rank.
 */
export class ConnectionMerger {
  private byHid = new Map<string, Group>()
  private byEndpoints = new Map<string, Group[]>()
  /** Groups not retired yet, in order of creation. */
  private open = new Set<Group>()
  private readonly labels = new Map<View, string>()
  private count = 0
  /** Most groups held at once (what a test checks to see retiring work). */
  peakOpen = 0

  add(v: ViewRow): void {
    const m = this.member(v)
    if (v.handoff !== null) {
      let g = this.byHid.get(v.handoff.hid)
      if (g === undefined) {
        g = this.group(v, m, v.handoff, v.handoff.ciss, null)
        this.byHid.set(v.handoff.hid, g)
      }
      if (v.syn) g.syns.push(v.syn)
      this.join(g, m, v)
      return
    }
    const a = endpointKey(v.row.client, v.row.clientPort)
    const b = endpointKey(v.row.server, v.row.serverPort)
    const key = a < b ? `${a}|${b}` : `${b}|${a}`
    let list = this.byEndpoints.get(key)
    if (list === undefined) this.byEndpoints.set(key, (list = []))
    let g = this.pick(list, v)
    if (g === null) {
      g = this.group(v, m, null, -1, [a, b])
      list.push(g)
    }
    this.join(g, m, v)
  }

  /**
   * Makes the rows of the connections that can get no more rows at trace time `now` (see the header) and
   * lets their groups go: quiet for longer than `afterSec`, no endpoint held by the tracker (`live`).
   */
  retire(now: number, afterSec: number, live: LiveEndpoints, opts: MergeOptions, out: (firstSeen: number, c: ConnectionRow) => void): void {
    for (const g of this.open) {
      const quiet = g.handoff !== null ? Math.max(g.last, g.handoff.endT) : g.last
      if (now <= quiet + afterSec) continue
      // A held session of the same endpoints (or, for a handoff, the same client endpoint) may still join.
      if (g.handoff !== null ? live.has(endpointKey(g.handoff.cip, g.handoff.cport)) : live.has(g.ends![0]) && live.has(g.ends![1])) continue
      this.drop(g)
      out(g.firstSeen, merged(g, opts))
    }
  }

  /** Every group left, in order of first sighting (end of the input); see retire(). */
  retireAll(opts: MergeOptions, out: (firstSeen: number, c: ConnectionRow) => void): void {
    const groups = [...this.open]
    this.open = new Set()
    this.byHid = new Map()
    this.byEndpoints = new Map()
    groups.sort((x, y) => x.firstSeen - y.firstSeen)
    for (let i = 0; i < groups.length; i++) {
      const g = groups[i]!
      ;(groups as (Group | undefined)[])[i] = undefined
      out(g.firstSeen, merged(g, opts))
    }
  }

  private drop(g: Group): void {
    this.open.delete(g)
    if (g.handoff !== null) {
      this.byHid.delete(g.handoff.hid)
      return
    }
    const [a, b] = g.ends!
    const key = a < b ? `${a}|${b}` : `${b}|${a}`
    const list = this.byEndpoints.get(key)
    if (list === undefined) return
    const i = list.indexOf(g)
    if (i >= 0) list.splice(i, 1)
    if (list.length === 0) this.byEndpoints.delete(key)
  }

  private label(view: View): string {
    let l = this.labels.get(view)
    if (l === undefined) this.labels.set(view, (l = viewLabel(view)))
    return l
  }

  private member(v: ViewRow): Member {
    const r = v.row
    const leg = legOfRow(v)
    const [r0, r1, r2] = rank(v, leg)
    const sighting: Sighting = {
      view: this.label(v.view), file: v.view.file, iface: v.view.iface, vantage: v.view.kind, leg, stream: r.stream,
      client: r.client, clientPort: r.clientPort, server: r.server, serverPort: r.serverPort,
      state: r.state, history: r.history, start: r.start, durationSec: r.durationSec,
      packets: r.packets, bytes: r.bytes,
    }
    let anomalies: Member['anomalies'] = null
    for (const _ in r.anomalies) { anomalies = r.anomalies; break }
    return {view: v.view, leg, sighting, anomalies, firstFrame: r.firstFrame, r0, r1, r2}
  }

  private group(v: ViewRow, m: Member, handoff: HandoffInfo | null, isn: number, ends: [string, string] | null): Group {
    const g: Group = {members: [], handoff, isn, first: v.first, last: v.last, best: m, bestRow: v.row, latency: null, firstSeen: Infinity,
      syns: [], ends}
    this.open.add(g)
    if (this.open.size > this.peakOpen) this.peakOpen = this.open.size
    this.count++
    return g
  }

  /** The connection of a row among those of its endpoints: same client ISN, else nearest in time; none with a row of this view. */
  private pick(list: Group[], v: ViewRow): Group | null {
    const free = list.filter((g) => !g.members.some((x) => sameView(x.view, v.view)))
    if (v.isn >= 0) {
      const same = free.find((g) => g.isn === v.isn)
      if (same) return same
    }
    let best: Group | null = null
    let bestD = Infinity
    for (const g of free) {
      if (v.isn >= 0 && g.isn >= 0) continue // both saw a SYN, different ISNs: two connections
      if (v.last < g.first - TIME_SLACK_SEC || v.first > g.last + TIME_SLACK_SEC) {
        // Other files may be on other clocks: only rows of one file are judged by time.
        if (g.members.some((x) => x.view.fileIndex === v.view.fileIndex)) continue
      }
      const d = Math.abs(v.first - g.first)
      if (d < bestD) { best = g; bestD = d }
    }
    return best
  }

  private join(g: Group, m: Member, v: ViewRow): void {
    g.members.push(m)
    if (g.isn < 0 && v.isn >= 0) g.isn = v.isn
    g.first = Math.min(g.first, v.first)
    g.last = Math.max(g.last, v.last)
    g.firstSeen = Math.min(g.firstSeen, v.view.fileIndex * 2 ** 32 + m.firstFrame)
    // The first of the lowest rank: a later row replaces the best only when strictly nearer the client, or as near
    // and of an earlier file (files read merged: the row the files read one after the other would have kept).
    if (m !== g.best && (better(m, g.best) || (m.view.fileIndex < g.best.view.fileIndex && !better(g.best, m)))) { g.best = m; g.bestRow = v.row }
    if (g.latency === null && v.row.handoffLatencyMs !== null) g.latency = {handoffLatencyMs: v.row.handoffLatencyMs, handoffLatencyFrom: v.row.handoffLatencyFrom}
  }

  get connections(): number {
    return this.count
  }

  /**
   * One row per connection, in order of first sighting (argument order, then
   * frame). Once: the groups are let go as their rows are made, so that the
   * per-view data is not held twice.
   */
  rows(opts: MergeOptions = {}): ConnectionRow[] {
    const out: ConnectionRow[] = []
    this.retireAll(opts, (_, c) => {
      opts.each?.(c)
      if (opts.keep === undefined || opts.keep(c)) out.push(c)
    })
    return out
  }
}

function merged(g: Group, opts: MergeOptions): ConnectionRow {
  const latencyOf = opts.latency
  const best = g.best
  const r = g.bestRow
  const h = g.handoff
  const byView = (a: Member, b: Member) => a.view.fileIndex - b.view.fileIndex || a.view.iface - b.view.iface || a.firstFrame - b.firstFrame
  const seen = [best, ...g.members.filter((m) => m !== best).sort(byView)]
  // Client and server as the client saw them: for a handoff, the req's endpoints; else the best view's.
  const client = h !== null ? h.cip : r.client
  const clientPort = h !== null ? h.cport : r.clientPort
  const server = h !== null ? h.vip : r.server
  const serverPort = h !== null ? h.vport : r.serverPort
  // Every row of a hid has its kind and latency: the connection's.
  let handoffLatencyMs: number | null = null
  let handoffLatencyFrom: ConnectionRow['handoffLatencyFrom'] = null
  if (opts.latencyFor !== undefined) {
    // Every row of a hid is in its group (byHid), so its SYNs are all here: the hid-wide table's answer.
    const l = r.kind === 'handoff' && h !== null && r.hid === h.hid ? opts.latencyFor(h, g.syns) : undefined
    if (l !== undefined) {
      handoffLatencyMs = l.ms
      handoffLatencyFrom = {synView: l.synView, ackView: l.ackView, sameClock: l.sameClock}
    }
  } else if (latencyOf !== undefined) {
    const l = r.kind === 'handoff' && r.hid !== null ? latencyOf(r.hid) : undefined
    if (l !== undefined) {
      handoffLatencyMs = l.ms
      handoffLatencyFrom = {synView: l.synView, ackView: l.ackView, sameClock: l.sameClock}
    }
  } else if (g.latency !== null) ({handoffLatencyMs, handoffLatencyFrom} = g.latency)
  return {
    client, clientPort, server, serverPort, ipVersion: r.ipVersion,
    kind: r.kind, hid: r.hid, frontend: r.frontend, backend: r.backend,
    handoffLatencyMs, handoffLatencyFrom,
    from: {view: best.sighting.view, vantage: best.view.kind, leg: best.leg, rolesFrom: r.rolesFrom},
    state: r.state, history: r.history, start: r.start, durationSec: r.durationSec,
    packets: r.packets, bytes: r.bytes, payloadBytes: r.payloadBytes, handshake: r.handshake, windowScale: r.windowScale,
    badChecksums: r.badChecksums, reusedPorts: r.reusedPorts,
    anomalies: seen.filter((m) => m.anomalies !== null).map((m) => ({view: m.sighting.view, leg: m.leg, flags: m.anomalies!})),
    seenAt: seen.map((m) => m.sighting),
  }
}
