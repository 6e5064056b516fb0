// The vantage point of a view that neither --vantage nor its name tells
// (vantage.ts's 'default'), read off its traffic. Reading such a view as the
// LAN is right for a LAN capture but not for a node-inside one: there the
// BE TCP's own segments (BE address → client) are taken for unrewritten
// return segments, the forwarded segments are judged twice (once per view)
// and the BE's SYN/ACK is not recognised. A user's trace from elsewhere has
// no reason to use the lab's interface names, so the traffic decides:
//
// For each client endpoint of a handoff (from the control messages), a view
// may show
//   A  client → VIP           (what the client sends to the FE),
//   F  client → BE address    (forwarded, after the forward rewrite),
//   B  BE address → client    (the BE TCP's segments, before the return rewrite),
//   R  VIP → client with data (what the client receives).
// Spec §7: the cluster LAN sees A, F and R; a node inside the BE sees F and B
// but never A (the client talks to the VIP, whose host is the FE); the client
// side sees A and R but no F (nor B, but for a return segment left
// unrewritten: a fault that reaches the LAN and the client side alike); the
// control view sees only the control port. So, per view, at the first F of
// an endpoint whose A that view saw before (the client's SYN comes before
// any forwarding): LAN; at the first F or B of an endpoint without A: node
// inside. Decided views are not looked at again,
// and a file is read no further once every view it has shown so far is
// named or decided (an interface that first shows up after that keeps the
// LAN default). A view left
// undecided at the end of its file is client side if it saw A and R of an
// endpoint, control if it saw only control-port traffic, else it stays as it
// was (LAN, with the '?' of a guess).
//
// Costs a pass over the files, only when some view is of unknown place and
// the control channel names handoffs (or, with --infer, the traffic does).
import {readCapture} from '../capture/read.js'
import {joinSections} from '../capture/join-sections.js'
import {CaptureError} from '../capture/types.js'
import {PacketDecoder} from '../wire/decode.js'
import {LATE_FORWARD_SEC, LOOKAHEAD_SEC, normAddr, type Handoff} from './assemble.js'
import type {HandoffFeed} from './handoff-feed.js'
import {TimeHeap} from './time-heap.js'
import {inferHandoffs, type InferenceResult} from './infer.js'
import {FileViews, type VantageAssignment, type VantageKind, type View} from './vantage.js'

export interface HandoffEndpoints {
  cip: string
  cport: number
  vip: string
  baddr: string
  /** The client's ISN: from the handoff-req, or given (an inferred handoff). */
  req?: {msg: {ciss: number}}
  ciss?: number
}

interface Leg {
  vip: string
  be: string
  /** The client's ISN, or -1 when unknown (then any numbers match). */
  ciss: number
}

/** Client sequence space of a connection: its numbers (seq from the client, ack to it) lie within 16 MiB after the ISN. A port the
 *  client reuses for another connection (to a node that was a BE before) starts at another random ISN. */
const WINDOW = 1 << 24

function inWindow(n: number, ciss: number): boolean {
  return ciss < 0 || ((n - ciss) >>> 0) < WINDOW
}

const A = 1
const F = 2
const B = 4
const R = 8

interface Tally {
  view: View
  decided: VantageKind | null
  /** Evidence bits per client endpoint ("addr|port") of the handoffs in progress. */
  seen: Map<string, number>
  /** An endpoint let go of (streamed) showed this view both A and R. */
  clientSeen: boolean
  /** Packets on the control port, and TCP packets of the handoffs' endpoints. */
  control: number
  handoff: number
}

/**
 * check's handoffs, from its control spool (handoff-feed.ts) as the pass reaches them: each file is read with a
 * feed of its own from the spool's start, kept LOOKAHEAD_SEC ahead of the packets, and a handoff's legs are let go
 * LATE_FORWARD_SEC after its terminate, as the segment pass does. So placing views costs memory with the
 * handoffs in progress, not with the trace.
 */
export interface StreamedHandoffs {
  feed(): HandoffFeed
  /** Whether there is a handoff at all (none: nothing can be placed). */
  any(): boolean
  /** How far ahead of the packets (capture seconds) the feed is read: LOOKAHEAD_SEC unless given. */
  lookaheadSec?: number
  /** Seconds to subtract from each file's capture times to put them on the control messages' clock (check.ts). */
  clockOffsetsSec?: readonly number[]
}

/** Client endpoint ("addr|port") → the legs of its handoffs (a client port may be reused, for connections to other nodes). */
type LegIndex = Map<string, Leg[]>

function endpointKey(h: HandoffEndpoints): string {
  return `${normAddr(h.cip)}|${h.cport}`
}

function legOf(h: HandoffEndpoints): Leg {
  return {vip: normAddr(h.vip), be: normAddr(h.baddr), ciss: h.ciss ?? h.req?.msg.ciss ?? -1}
}

function addLeg(byClient: LegIndex, k: string, leg: Leg): void {
  const e = byClient.get(k)
  if (e) e.push(leg)
  else byClient.set(k, [leg])
}

/** Assignments (spec `FILE#ID`, from 'traffic') for the views of unknown place that the traffic places. */
export async function inferViewKinds(paths: readonly string[],
  handoffs: readonly HandoffEndpoints[] | StreamedHandoffs, controlPort: number,
  assignments: readonly VantageAssignment[]): Promise<VantageAssignment[]> {
  const streamed = Array.isArray(handoffs) ? null : handoffs as StreamedHandoffs
  // All at once: built when a view of unknown place first shows up (never for a trace of named views).
  let byClient: LegIndex | null = null
  let none = false
  /** Builds byClient; false when there is no handoff (nothing can be placed). */
  const clients = (): boolean => {
    if (byClient !== null) return true
    if (streamed !== null) {
      if (!streamed.any()) { none = true; return false }
      byClient = new Map()
      return true
    }
    const list = handoffs as readonly HandoffEndpoints[]
    if (list.length === 0) { none = true; return false }
    byClient = new Map()
    for (const h of list) if (h.baddr !== '') addLeg(byClient, endpointKey(h), legOf(h))
    return true
  }
  if (streamed === null && (handoffs as readonly HandoffEndpoints[]).length === 0) return []
  const out: VantageAssignment[] = []
  const dec = new PacketDecoder({verifyChecksums: false})
  for (let fi = 0; fi < paths.length; fi++) {
    const path = paths[fi]!
    const file = path === '-' ? '<stdin>' : path
    const tallies = new Map<View, Tally>()
    let open = 0
    const fileViews = new FileViews(fi, file, assignments, (v) => {
      if (v.from !== 'default' || none || !clients()) return
      if (streamed !== null && feed === null) startFeed()
      tallies.set(v, {view: v, decided: null, seen: new Map(), clientSeen: false, control: 0, handoff: 0})
      open++
    })
    const ac = new AbortController()
    const decide = (t: Tally, kind: VantageKind) => {
      t.decided = kind
      if (--open === 0) ac.abort()
    }
    // Streamed: this file's own feed and index, from the first view of unknown place on.
    if (streamed !== null) byClient = null
    // This file's clock offset from the messages' (the feed is read ahead by their times).
    const off = streamed?.clockOffsetsSec?.[fi] ?? 0
    let feed: HandoffFeed | null = null
    let nextSecond = -Infinity
    const ends = new TimeHeap<Handoff>()
    let endSeq = 0
    const legs = new Map<Handoff, Leg>()
    const startFeed = () => {
      feed = streamed!.feed()
      feed.attach({
        handoff: () => {},
        ack: (h) => {
          const leg = legOf(h)
          legs.set(h, leg)
          addLeg(byClient!, endpointKey(h), leg)
        },
        terminate: (h) => { ends.push(h.terminates[0]!.t + LATE_FORWARD_SEC, endSeq++, h) },
      })
    }
    // A handoff done with: its legs go, and what its endpoint showed each view is folded into the view's tally.
    const letGo = (h: Handoff, now: number) => {
      feed!.retire(h, now)
      const leg = legs.get(h)
      if (leg === undefined) return
      legs.delete(h)
      const k = endpointKey(h)
      const l = byClient!.get(k)!
      l.splice(l.indexOf(leg), 1)
      if (l.length > 0) return
      byClient!.delete(k)
      for (const t of tallies.values()) {
        const bits = t.seen.get(k)
        if (bits === undefined) continue
        if ((bits & (A | R)) === (A | R)) t.clientSeen = true
        t.seen.delete(k)
      }
    }
    const tick = (sec: number) => {
      nextSecond = sec + 1
      feed!.advanceTo(sec + 1 + (streamed!.lookaheadSec ?? LOOKAHEAD_SEC))
      while (ends.size > 0 && ends.firstT() < sec) letGo(ends.pop(), sec)
    }
    try {
      // Sections joined as the segment pass joins them, so that a view here is the view there.
      await readCapture(path, joinSections({
        onInterface: (i) => { fileViews.get(i.id, i.name) },
        onPacket: (rec) => {
          const view = fileViews.get(rec.interfaceId)
          // Every view known so far is named or decided (the usual case: the lab's names): nothing to read for.
          if (open === 0) { ac.abort(); return }
          if (feed !== null) {
            const sec = off === 0 ? rec.tsSec : Math.floor(rec.tsSec + rec.tsNsec / 1e9 - off)
            if (sec >= nextSecond) tick(sec)
          }
          const t = tallies.get(view)
          if (t === undefined || t.decided !== null) return
          const d = dec.decode(rec.linkType, rec.buffer, rec.capLen, rec.origLen, rec.dataOffset)
          if (d.transport !== 'tcp' || d.l4HeaderLen === 0) return
          if (d.srcPort === controlPort || d.dstPort === controlPort) { t.control++; return }
          const src = d.srcAddr()
          const dst = d.dstAddr()
          const sk = `${src}|${d.srcPort}`
          const fromClient = byClient!.get(sk)
          const dk = fromClient ? '' : `${dst}|${d.dstPort}`
          const toClient = fromClient ? undefined : byClient!.get(dk)
          let bit = 0
          let key = ''
          if (fromClient) {
            key = sk
            // A RST from the client to a BE address is its stack's answer to a return segment left unrewritten (it knows no
            // connection with the BE): seen on the client side as well as on the LAN, so no evidence of forwarding.
            if ((d.tcpFlags & 0x04) !== 0) return
            for (const l of fromClient) {
              if (!inWindow(d.seq, l.ciss)) continue
              bit |= dst === l.vip ? A : dst === l.be ? F : 0
            }
          } else if (toClient) {
            key = dk
            for (const l of toClient) {
              if ((d.tcpFlags & 0x10) === 0 || !inWindow(d.ack, l.ciss)) continue
              bit |= src === l.be ? B : src === l.vip && d.payloadWireLen > 0 ? R : 0
            }
          }
          // Two handoffs of one endpoint that make the segment both kinds: no evidence.
          if (bit !== A && bit !== F && bit !== B && bit !== R) return
          t.handoff++
          const before = t.seen.get(key) ?? 0
          t.seen.set(key, before | bit)
          // B after A says nothing: a return segment left unrewritten (addr-rewrite) reaches the client side and the LAN alike.
          if ((bit === F || bit === B) && (before & A) === 0) decide(t, 'inside')
          else if (bit === F) decide(t, 'lan')
        },
      }), {signal: ac.signal})
    } catch (e) {
      // Damage (or our own abort): what was read decides; the passes after this one report the damage.
      if (!(e instanceof CaptureError)) throw e
    }
    if (none) return []
    for (const t of tallies.values()) {
      let kind = t.decided
      if (kind === null) {
        if (t.clientSeen || [...t.seen.values()].some((b) => (b & (A | R)) === (A | R))) kind = 'client'
        else if (t.control > 0 && t.handoff === 0) kind = 'control'
      }
      if (kind !== null) out.push({spec: `${file}#${t.view.iface}`, kind, from: 'traffic'})
    }
  }
  return out
}

/**
 * `sessions --infer` (files read one after the other) with views of unknown
 * place: the handoffs inferred with the views as they are place the views
 * still unknown, then the handoffs are inferred again, now knowing where the
 * BE's own segments (its SYN/ACK: wsB, the BE's options) were captured.
 * (check, and sessions otherwise, do the same with the inferred handoffs on
 * disk: infer-spooled.ts.)
 */
export async function inferPlacing(paths: readonly string[], opts: {controlPort: number; vantage: readonly VantageAssignment[]; known: readonly Handoff[]}):
  Promise<{inferred: InferenceResult; vantage: VantageAssignment[]}> {
  let vantage = [...opts.vantage]
  let inferred = await inferHandoffs(paths, {...opts, vantage})
  const placed = await inferViewKinds(paths, inferred.handoffs.map((h) => ({...h, ciss: h.inferred!.ciss})), opts.controlPort, vantage)
  if (placed.length > 0) {
    vantage = [...vantage, ...placed]
    inferred = await inferHandoffs(paths, {...opts, vantage})
  }
  return {inferred, vantage}
}
