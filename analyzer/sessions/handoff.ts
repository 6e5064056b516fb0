// The handoff columns of `handoff sessions`: kind, hid, front-end, back-end
// and handoff latency, from the control channel of the same traces.
//
// The control messages are read by check's control pass and assembled by
// hid, as the sessions pass comes near them (handoff-stream.ts; with
// --infer the inferred ones too, from their spool), or all before it for
// files read one after the other (HandoffFeed.all; correlateHandoffs with
// --infer). Every session row is classified:
//
//   handoff   a handoff-req names this connection (cip:cport → vip:vport, or
//             the forwarded leg cip:cport → baddr:vport at the LAN / BE
//             inside) and a handoff-ack for its hid was seen;
//   fallback  the same, with a handoff-nack and no ack (the FE served it);
//   local     no handoff-req names the connection, but its server address is
//             the service address of a node of the control channel (a hello's
//             addr, a req's vip or an ack's baddr) and neither port is the
//             control port: the FE served it without asking;
//   plain     everything else (including a req with no reply yet, and every
//             connection of a trace without control traffic).
//
// A port reused by a new connection is told apart by the client ISN (the
// row's SYN against the req's ciss) or, with no SYN seen, by time (the
// session must overlap the handoff's req … last message, with slack). A
// SYN whose ISN is not the req's ciss (an isn-mismatch) still belongs to the
// handoff when its session was live at the req and began before the ack. A
// session whose roles were guessed from its first packet is also tried the
// other way round (a stray return segment from the BE address).
//
// Handoff latency (per hid, the same on every row of it): capture time of the
// handoff-ack (the view that captured the control channel) minus capture time
// of the client's SYN (ISN = ciss, to the VIP). The SYN is taken, in this
// order, from a view in the same file as the ack (one pcapng = one clock),
// then from a client-side view, then LAN, then node inside. Views of
// different files are different clocks: `sameClock` says so.
//
// With `infer` (sessions --infer), the connections no control message names
// are also tried by correlate/infer.ts, the very function `check --infer`
// runs (same input, same `known` handoffs: the same set, the same
// inferred/<n> hids). Each one it recognises becomes a handoff here: FE =
// the VIP and BE = the BE address (no hello, no node names), its VIP and BE
// address count as node service addresses (for `local`), and its latency is
// the capture time of the BE's SYN/ACK at the BE's inside view (step 7 of
// spec §2: the BE's TCP accepting the replayed SYN, just before the BE sends
// its handoff-ack) minus that of the client's SYN, chosen as above; none when
// the BE's SYN/ACK was not captured. A row without a SYN is tied to an
// inferred handoff by time, from the FE's SYN/ACK to the BE's (with slack).
import {assembleHandoffs, normAddr, type Handoff} from '../correlate/assemble.js'
import {collectControl} from '../correlate/control.js'
import type {InferenceReport} from '../correlate/infer.js'
import {inferPlacing, inferViewKinds} from '../correlate/vantage-infer.js'
import {resolveView, type VantageAssignment, type VantageKind, type View} from '../correlate/vantage.js'

/** A handoff as the sessions need it. */
export interface HandoffInfo {
  hid: string
  outcome: 'handed-off' | 'nacked' | 'no-reply'
  /** FE node name (the req's sender). */
  frontend: string
  /** "node (baddr)" from the ack; null without an ack. */
  backend: string | null
  backendNode: string | null
  baddr: string | null
  cip: string
  cport: number
  vip: string
  vport: number
  ciss: number
  /** Capture times (s since the epoch). */
  reqT: number
  ackT: number | null
  endT: number
  ackView: {file: string; fileIndex: number; iface: number} | null
  nackReason: string | null
  /** Recognised from the traffic (--infer), not named by control messages; ackT / ackView are then the BE's SYN/ACK's. */
  inferred: boolean
}

export interface HandoffCorrelation {
  handoffs: HandoffInfo[]
  /** Service address → node name (hello addr, req vip, ack baddr). */
  nodeAddrs: Map<string, string>
  controlPort: number
  controlMessages: number
  vantage: readonly VantageAssignment[]
  /** With `infer` only: what correlate/infer.ts found (candidates, inferred, rejected and why). */
  inference?: InferenceReport
}

/** What the sessions pass knows of a row when it classifies it. */
export interface RowKey {
  client: string
  clientPort: number
  server: string
  serverPort: number
  /** Client ISN, -1 without a SYN. */
  clientIsn: number
  /** Session first / last packet capture times (s). */
  first: number
  last: number
  /** The client is only the first sender (no SYN, no SYN+ACK seen). */
  rolesGuessed?: boolean
}

export interface Classification {
  kind: 'plain' | 'handoff' | 'fallback' | 'local'
  hid: string | null
  frontend: string | null
  backend: string | null
  /** The handoff this row belongs to (handoff / fallback / no-reply req), or null. */
  handoff: HandoffInfo | null
}

/** Slack (s) around a handoff's control messages when a row without a SYN is matched by time. */
const TIME_SLACK_SEC = 5

export async function correlateHandoffs(paths: readonly string[], controlPort: number,
  vantage: readonly VantageAssignment[] = [], opts: {infer?: boolean} = {}): Promise<HandoffCorrelation> {
  const control = await collectControl(paths, controlPort)
  const nodeAddrs = new Map<string, string>()
  for (const m of control.messages) {
    const msg = m.msg
    if (msg.t === 'hello') nodeAddrs.set(normAddr(msg.addr), msg.node)
  }
  const {handoffs} = assembleHandoffs(control.messages)
  // Views whose place neither --vantage nor the name tells: placed by the legs they show, as check does.
  let placed = [...vantage, ...await inferViewKinds(paths, handoffs, controlPort, vantage)]
  const out: HandoffInfo[] = []
  for (const h of handoffs) {
    if (!h.req) continue
    if (!nodeAddrs.has(h.vip)) nodeAddrs.set(h.vip, h.req.msg.node)
    if (h.ack && h.baddr !== '' && !nodeAddrs.has(h.baddr)) nodeAddrs.set(h.baddr, h.ack.msg.node)
    out.push(info(h))
  }
  const controlMessages = control.messages.length
  if (!opts.infer) return {handoffs: out, nodeAddrs, controlPort, controlMessages, vantage: placed}
  // Capture errors are left out: the sessions pass reads the same files and reports them.
  const placing = await inferPlacing(paths, {controlPort, vantage: placed, known: handoffs})
  const inf = placing.inferred
  placed = placing.vantage
  for (const h of inf.handoffs) {
    // No node names without the control channel: a node is known by its address.
    if (!nodeAddrs.has(h.vip)) nodeAddrs.set(h.vip, h.vip)
    if (!nodeAddrs.has(h.baddr)) nodeAddrs.set(h.baddr, h.baddr)
    out.push(inferredInfo(h))
  }
  return {handoffs: out, nodeAddrs, controlPort, controlMessages, vantage: placed, inference: inf.report}
}

/** An inferred handoff (correlate/infer.ts) as the sessions need it. */
export function inferredInfo(h: Handoff): HandoffInfo {
  const i = h.inferred!
  const be = i.beSynAck
  const reqT = i.feSynAck.t
  return {
    hid: h.hid, outcome: 'handed-off', frontend: h.vip, backend: h.baddr, backendNode: null, baddr: h.baddr,
    cip: h.cip, cport: h.cport, vip: h.vip, vport: h.vport, ciss: i.ciss,
    reqT, ackT: be !== null ? be.t : null, endT: be !== null ? Math.max(reqT, be.t) : reqT,
    ackView: be !== null ? {file: be.file, fileIndex: be.fileIndex, iface: be.iface} : null,
    nackReason: null, inferred: true,
  }
}

function info(h: Handoff): HandoffInfo {
  const req = h.req!
  const times = [req.t, ...(h.ack ? [h.ack.t] : []), ...(h.nack ? [h.nack.t] : []), ...h.terminates.map((x) => x.t)]
  return {
    hid: h.hid,
    outcome: h.ack ? 'handed-off' : h.nack ? 'nacked' : 'no-reply',
    frontend: req.msg.node,
    backend: h.ack ? `${h.ack.msg.node} (${h.baddr})` : null,
    backendNode: h.ack ? h.ack.msg.node : null,
    baddr: h.ack ? h.baddr : null,
    cip: h.cip, cport: h.cport, vip: h.vip, vport: h.vport, ciss: req.msg.ciss,
    reqT: req.t, ackT: h.ack ? h.ack.t : null, endT: Math.max(...times),
    ackView: h.ack ? {file: h.ack.file, fileIndex: h.ack.fileIndex, iface: h.ack.iface} : null,
    nackReason: h.nack ? h.nack.msg.err : null,
    inferred: false,
  }
}

/**
 * Index of the handoffs by client endpoint, and the classification of one row. Built with every handoff
 * (corr.handoffs), or empty and kept by a caller that adds and removes them as the pass goes (handoff-stream.ts).
 */
export class HandoffIndex {
  private readonly byClient = new Map<string, HandoffInfo[]>()
  /** Handoffs in the index. */
  size = 0

  constructor(readonly corr: Pick<HandoffCorrelation, 'handoffs' | 'nodeAddrs' | 'controlPort' | 'vantage'>) {
    for (const h of corr.handoffs) this.add(h)
  }

  add(h: HandoffInfo): void {
    const k = `${h.cip}|${h.cport}`
    const l = this.byClient.get(k)
    if (l === undefined) this.byClient.set(k, [h])
    else if (h.inferred || !l[l.length - 1]!.inferred) l.push(h)
    else {
      // The control channel's before the inferred ones, as in the list of them all (match takes the first that
      // fits): streamed, the two come merged by time.
      l.splice(l.findIndex((x) => x.inferred), 0, h)
    }
    this.size++
  }

  remove(h: HandoffInfo): void {
    const k = `${h.cip}|${h.cport}`
    const l = this.byClient.get(k)
    const i = l === undefined ? -1 : l.indexOf(h)
    if (i < 0) return
    this.size--
    if (l!.length === 1) this.byClient.delete(k)
    else l!.splice(i, 1)
  }

  /** The handoff a session belongs to: same client endpoint, server the VIP or the BE address on vport, same ISN or overlapping time. */
  match(r: RowKey): HandoffInfo | null {
    const cands = this.byClient.get(`${normAddr(r.client)}|${r.clientPort}`)
    if (cands === undefined) return null
    const server = normAddr(r.server)
    const fits = cands.filter((h) => r.serverPort === h.vport && (server === h.vip || (h.baddr !== null && server === h.baddr)))
    if (fits.length === 0) return null
    if (r.clientIsn >= 0) {
      const same = fits.find((h) => h.ciss === r.clientIsn)
      if (same !== undefined) return same
      // A req whose ciss is not the wire's (the isn-mismatch fault): still this connection when the session was
      // live when the req was sent and began before the ack (the BE's replayed SYN comes between the two). A later
      // connection reusing the port starts after the first one's ack, so it is not taken.
      return fits.find((h) => r.first <= (h.ackT ?? h.reqT) && r.last >= h.reqT) ?? null
    }
    let best: HandoffInfo | null = null
    let bestD = Infinity
    for (const h of fits) {
      if (r.last < h.reqT - TIME_SLACK_SEC || r.first > h.endT + TIME_SLACK_SEC) continue
      const d = Math.abs(r.first - h.reqT)
      if (d < bestD) { best = h; bestD = d }
    }
    return best
  }

  classify(r: RowKey): Classification {
    // Roles guessed from the first packet may be the wrong way round (a stray return segment from the BE address
    // seen without its connection's handshake): then the other way too.
    const h = this.match(r) ?? (r.rolesGuessed
      ? this.match({...r, client: r.server, clientPort: r.serverPort, server: r.client, serverPort: r.clientPort, clientIsn: -1})
      : null)
    if (h !== null) {
      const kind = h.outcome === 'handed-off' ? 'handoff' : h.outcome === 'nacked' ? 'fallback' : 'plain'
      return {kind, hid: h.hid, frontend: h.frontend, backend: h.backend, handoff: h}
    }
    const port = this.corr.controlPort
    const node = this.corr.nodeAddrs.get(normAddr(r.server))
    if (node !== undefined && r.serverPort !== port && r.clientPort !== port) {
      return {kind: 'local', hid: null, frontend: node, backend: null, handoff: null}
    }
    return {kind: 'plain', hid: null, frontend: null, backend: null, handoff: null}
  }

  view(fileIndex: number, file: string, iface: number, name: string | null): View {
    return resolveView(fileIndex, file, iface, name ?? undefined, this.corr.vantage)
  }
}

/** A client SYN seen for a handoff, a candidate for its latency. */
export interface SynSighting {
  hid: string
  t: number
  fileIndex: number
  view: View
}

const KIND_RANK: Record<VantageKind, number> = {client: 0, lan: 1, inside: 2, control: 3}

export interface Latency {
  ms: number
  /** "FILE#IFACE (name)" of the SYN and of the ack. */
  synView: string
  ackView: string
  /** Both in one file: one clock. */
  sameClock: boolean
}

/** Per hid, the latency from the best SYN sighting (see the header) to the ack. */
export function latencies(handoffs: Iterable<HandoffInfo>, syns: readonly SynSighting[], ifaceName: (file: string, iface: number) => string | null): Map<string, Latency> {
  const byHid = new Map<string, SynSighting[]>()
  for (const s of syns) {
    const l = byHid.get(s.hid)
    if (l) l.push(s)
    else byHid.set(s.hid, [s])
  }
  const out = new Map<string, Latency>()
  for (const h of handoffs) {
    const l = latencyFor(h, byHid.get(h.hid) ?? [], ifaceName)
    if (l !== undefined) out.set(h.hid, l)
  }
  return out
}

/** The latency of one handoff from its client SYNs (in the order seen); undefined without an ack or a SYN. */
export function latencyFor(h: HandoffInfo, l: readonly SynSighting[], ifaceName: (file: string, iface: number) => string | null): Latency | undefined {
  if (h.ackT === null || h.ackView === null || l.length === 0) return undefined
  const label = (file: string, iface: number) => {
    const n = ifaceName(file, iface)
    return `${file}#${iface}${n ? ` (${n})` : ''}`
  }
  const av = h.ackView
  const rank = (s: SynSighting) => [s.fileIndex === av.fileIndex ? 0 : 1, KIND_RANK[s.view.kind], s.t] as const
  const best = [...l].sort((a, b) => {
    const ra = rank(a)
    const rb = rank(b)
    // Then by file: files read merged give the SYNs of several files in time order, not file after file.
    return ra[0] - rb[0] || ra[1] - rb[1] || ra[2] - rb[2] || a.fileIndex - b.fileIndex
  })[0]!
  return {
    ms: Math.round((h.ackT - best.t) * 1e6) / 1e3,
    synView: label(best.view.file, best.view.iface),
    ackView: label(av.file, av.iface),
    sameClock: best.fileIndex === av.fileIndex,
  }
}
