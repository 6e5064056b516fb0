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
import {normAddr, packetLeg} from '../correlate/assemble.js'
import {viewLabel, type VantageKind, type View} from '../correlate/vantage.js'
import type {AnomalyName} from '../flows/tcp-analysis.js'
import type {ConnState} from '../flows/history.js'
import type {RolesFrom} from '../flows/session.js'
import type {HandoffInfo} from './handoff.js'
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

/** A per-view row with what the merge needs to know of it. */
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
}

interface Member extends ViewRow {
  leg: SessionLeg
}

interface Group {
  members: Member[]
  handoff: HandoffInfo | null
  isn: number
  first: number
  last: number
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

/** Lower is nearer the client. */
function rank(m: Member): [number, number, number] {
  const r = m.row
  const place = m.handoff !== null ? HANDOFF_LEG_RANK[m.leg] + (m.leg === 'client-vip' && m.view.kind !== 'client' ? 1 : 0) : VANTAGE_RANK[m.view.kind]
  return [place, r.rolesFrom === 'first-packet' ? 1 : 0, -(r.packets.toServer + r.packets.toClient)]
}

function better(a: Member, b: Member): boolean {
  const ra = rank(a)
  const rb = rank(b)
  for (let i = 0; i < 3; i++) if (ra[i] !== rb[i]) return ra[i]! < rb[i]!
  return false
}

const sameView = (a: View, b: View) => a.fileIndex === b.fileIndex && a.iface === b.iface

/** Slack (s) when rows without a client SYN are matched to a connection by time. */
const TIME_SLACK_SEC = 5

/** Groups per-view rows into connections as they come; rows() merges them. Memory: the rows (one per session per view). */
export class ConnectionMerger {
  private readonly byHid = new Map<string, Group>()
  private readonly byEndpoints = new Map<string, Group[]>()
  private readonly order: Group[] = []

  add(v: ViewRow): void {
    const m: Member = {...v, leg: legOfRow(v)}
    if (v.handoff !== null) {
      let g = this.byHid.get(v.handoff.hid)
      if (g === undefined) {
        g = {members: [], handoff: v.handoff, isn: v.handoff.ciss, first: v.first, last: v.last}
        this.byHid.set(v.handoff.hid, g)
        this.order.push(g)
      }
      this.join(g, m)
      return
    }
    const a = `${normAddr(v.row.client)}|${v.row.clientPort}`
    const b = `${normAddr(v.row.server)}|${v.row.serverPort}`
    const key = a < b ? `${a}|${b}` : `${b}|${a}`
    let list = this.byEndpoints.get(key)
    if (list === undefined) this.byEndpoints.set(key, (list = []))
    let g = this.pick(list, v)
    if (g === null) {
      g = {members: [], handoff: null, isn: -1, first: v.first, last: v.last}
      list.push(g)
      this.order.push(g)
    }
    this.join(g, m)
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

  private join(g: Group, m: Member): void {
    g.members.push(m)
    if (g.isn < 0 && m.isn >= 0) g.isn = m.isn
    g.first = Math.min(g.first, m.first)
    g.last = Math.max(g.last, m.last)
  }

  get connections(): number {
    return this.order.length
  }

  /** One row per connection, in order of first sighting (argument order, then frame). */
  rows(): ConnectionRow[] {
    const firstSeen = (g: Group) => g.members.reduce((a, m) => Math.min(a, m.view.fileIndex * 2 ** 32 + m.row.firstFrame), Infinity)
    const groups = [...this.order].sort((x, y) => firstSeen(x) - firstSeen(y))
    return groups.map(merged)
  }
}

function merged(g: Group): ConnectionRow {
  let best = g.members[0]!
  for (const m of g.members) if (better(m, best)) best = m
  const r = best.row
  const h = g.handoff
  const byView = (a: Member, b: Member) => a.view.fileIndex - b.view.fileIndex || a.view.iface - b.view.iface || a.row.firstFrame - b.row.firstFrame
  const seen = [best, ...g.members.filter((m) => m !== best).sort(byView)]
  // Client and server as the client saw them: for a handoff, the req's endpoints; else the best view's.
  const client = h !== null ? h.cip : r.client
  const clientPort = h !== null ? h.cport : r.clientPort
  const server = h !== null ? h.vip : r.server
  const serverPort = h !== null ? h.vport : r.serverPort
  const withHandoff = g.members.find((m) => m.row.handoffLatencyMs !== null)?.row ?? r
  return {
    client, clientPort, server, serverPort, ipVersion: r.ipVersion,
    kind: r.kind, hid: r.hid, frontend: r.frontend, backend: r.backend,
    handoffLatencyMs: withHandoff.handoffLatencyMs, handoffLatencyFrom: withHandoff.handoffLatencyFrom,
    from: {view: viewLabel(best.view), vantage: best.view.kind, leg: best.leg, rolesFrom: r.rolesFrom},
    state: r.state, history: r.history, start: r.start, durationSec: r.durationSec,
    packets: r.packets, bytes: r.bytes, payloadBytes: r.payloadBytes, handshake: r.handshake, windowScale: r.windowScale,
    badChecksums: r.badChecksums, reusedPorts: r.reusedPorts,
    anomalies: seen.filter((m) => Object.keys(m.row.anomalies).length > 0).map((m) => ({view: viewLabel(m.view), leg: m.leg, flags: m.row.anomalies})),
    seenAt: seen.map((m) => ({
      view: viewLabel(m.view), file: m.view.file, iface: m.view.iface, vantage: m.view.kind, leg: m.leg, stream: m.row.stream,
      client: m.row.client, clientPort: m.row.clientPort, server: m.row.server, serverPort: m.row.serverPort,
      state: m.row.state, history: m.row.history, start: m.row.start, durationSec: m.row.durationSec,
      packets: m.row.packets, bytes: m.row.bytes,
    })),
  }
}
