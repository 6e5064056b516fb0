// The handoffs of `handoff sessions` from the control pass's spool, as the
// sessions pass comes near them — check's way (correlate/control-pass.ts,
// control-spool.ts, handoff-feed.ts) — rather than all of them assembled
// before the pass (handoff.ts's correlateHandoffs).
//
// The control pass writes the handoffs' messages to a spool; the hellos'
// node addresses, small, are kept as they come. Before the sessions pass, the
// spool is read once for the node addresses its requests and acks name (a
// handoff's VIP, its ack's BE address): `local` is decided the moment a row
// is made, and a node named only later in the trace must count already. The
// sessions pass then keeps a HandoffFeed LOOKAHEAD_SEC of capture time ahead
// of its packets (advanceTo): a handoff is made when the pass comes within
// that of its request, is in the HandoffIndex (handoff.ts) that classifies
// the rows, and its HandoffInfo follows the feed (its ack, nack and
// terminates as they are applied: liveInfo). It is let go (retire) once the
// pass is HANDOFF_RETIRE_SEC past its last message (its messages are read
// LOOKAHEAD_SEC ahead: that last one is as final as with every message
// read) and the tracker holds no session of its client endpoint
// (live-endpoints.ts): every row that can still be tied to it is then made
// — a session that begins later is past its time slack, and one with its
// very ISN on that client port would be a new connection with the old one's
// ISN. The merger (merge.ts) keeps the HandoffInfo of the groups it holds;
// its outcome is counted when let go.
//
// With --infer, the handoffs no control message names come from their own
// spool (correlate/infer-spooled.ts), in hid order, which is the order of
// their client SYNs' times on the pass's clock: each is taken on when the
// pass comes within LOOKAHEAD_SEC of its SYN, the control messages applied
// up to that time first (the two merged by time), and let go as above, from
// its last SYN/ACK. Their VIPs and BE addresses are node addresses: read
// from the spool before the pass, as the control spool's are. They are not
// in the counts (the report's inference has them); the index puts a client
// endpoint's control handoffs before its inferred ones, as the list of every
// handoff had them.
//
// The rows are those of the whole index: a row is classified when its
// session is finished, which is after the linger (120 s) of a closed session
// or a replacing SYN, by which time the feed has applied every message up to
// LOOKAHEAD_SEC past it. What could differ (not seen in any trace): a
// request more than LOOKAHEAD_SEC after the last packet of a session at a
// view whose session ended early (the file's end, a new SYN on its port); a
// message of a handoff more than LOOKAHEAD_SEC after its others (ignored,
// as check's feed does; the node-address pre-read lets an unacked handoff
// go UNACKED_SEC after its request).
import {LOOKAHEAD_SEC, normAddr, type Handoff} from '../correlate/assemble.js'
import type {ControlSpool} from '../correlate/control-spool.js'
import {byTime, type FramedMessage} from '../correlate/control.js'
import {HandoffFeed} from '../correlate/handoff-feed.js'
import type {InferredReader, InferredSpool} from '../correlate/inferred-spool.js'
import {TimeHeap} from '../correlate/time-heap.js'
import type {VantageAssignment} from '../correlate/vantage.js'
import {HandoffIndex, inferredInfo, type HandoffInfo} from './handoff.js'
import {endpointKey, type LiveEndpoints} from './live-endpoints.js'

/**
 * Capture seconds past a handoff's last message after which it is let go (with no session of its client endpoint
 * held): a row without a SYN is tied to it up to 5 s after (handoff.ts's TIME_SLACK_SEC), on a clock that may be
 * 2 s off (check.ts's MAX_CLOCK_SPREAD_SEC), and a little more.
 */
const HANDOFF_RETIRE_SEC = 10
/** Capture seconds before a handoff whose client endpoint still had a session held is looked at again. */
const HELD_RECHECK_SEC = 10
/** Node-address pre-read: an unacked handoff is let go this long after its request (its ack would come well before). */
const UNACKED_SEC = 900

/** A HandoffInfo whose reply fields follow the feed's handoff h (getters: what has been applied so far). */
export function liveInfo(h: Handoff, fileName: (fileIndex: number) => string): HandoffInfo {
  const req = h.req!
  return {
    hid: h.hid, frontend: req.msg.node, cip: h.cip, cport: h.cport, vip: h.vip, vport: h.vport, ciss: req.msg.ciss,
    reqT: req.t, inferred: false,
    get outcome() { return h.ack ? 'handed-off' : h.nack ? 'nacked' : 'no-reply' },
    get backend() { return h.ack ? `${h.ack.msg.node} (${h.baddr})` : null },
    get backendNode() { return h.ack ? h.ack.msg.node : null },
    get baddr() { return h.ack ? h.baddr : null },
    get ackT() { return h.ack ? h.ack.t : null },
    get endT() {
      let t = req.t
      if (h.ack && h.ack.t > t) t = h.ack.t
      if (h.nack && h.nack.t > t) t = h.nack.t
      for (const x of h.terminates) if (x.t > t) t = x.t
      return t
    },
    get ackView() { return h.ack ? {file: fileName(h.ack.fileIndex), fileIndex: h.ack.fileIndex, iface: h.ack.iface} : null },
    get nackReason() { return h.nack ? h.nack.msg.err : null },
  }
}

/**
 * Node service address → node name, as correlateHandoffs makes it: the hellos' (the last one per address), then,
 * in request order, each handoff's VIP (its FE) and its ack's BE address (its BE), the first one naming it.
 */
export function nodeAddresses(hellos: ReadonlyMap<string, FramedMessage>, spool: ControlSpool): Map<string, string> {
  const named = new Map<string, {order: number; node: string}>()
  const name = (addr: string, order: number, node: string) => {
    const x = named.get(addr)
    if (x === undefined || order < x.order) named.set(addr, {order, node})
  }
  const feed = new HandoffFeed(spool.reader())
  const order = new Map<Handoff, number>()
  let n = 0
  let horizon = -Infinity
  feed.attach({
    handoff: (h) => {
      order.set(h, n)
      name(h.vip, 2 * n++, h.req!.msg.node)
    },
    ack: (h) => {
      if (h.baddr !== '') name(h.baddr, 2 * order.get(h)! + 1, h.ack!.msg.node)
      order.delete(h)
      feed.retire(h, horizon)
    },
    terminate: () => {},
  })
  const times = spool.reader()
  for (let m = times.next(); m !== null; m = times.next()) {
    if (m.t <= horizon) continue
    horizon = m.t
    feed.advanceTo(horizon)
    // Unacked ones (nacked, no reply) go after a while: order keeps request order.
    for (const [h] of order) {
      if (h.req!.t + UNACKED_SEC >= horizon) break
      order.delete(h)
      feed.retire(h, horizon)
    }
  }
  feed.advanceTo(Infinity)
  const out = new Map<string, string>()
  for (const [addr, m] of hellos) if (m.msg.t === 'hello') out.set(addr, m.msg.node)
  for (const [addr, x] of named) if (!out.has(addr)) out.set(addr, x.node)
  return out
}

/**
 * --infer: the inferred handoffs' VIPs and BE addresses added to the node addresses, each named by itself (no
 * node names without the control channel), after the control channel's, as correlateHandoffs does; and whether
 * one of them has a latency (its BE's SYN/ACK was captured). Read from their spool before the sessions pass.
 */
export function addInferredAddresses(spool: InferredSpool, nodeAddrs: Map<string, string>): {anyLatency: boolean} {
  let anyLatency = false
  const r = spool.reader()
  for (let x = r.next(); x !== null; x = r.next()) {
    const h = x.h
    if (!nodeAddrs.has(h.vip)) nodeAddrs.set(h.vip, h.vip)
    if (!nodeAddrs.has(h.baddr)) nodeAddrs.set(h.baddr, h.baddr)
    if (h.inferred!.beSynAck !== null) anyLatency = true
  }
  return {anyLatency}
}

/** The hellos' node addresses as the control pass decodes them (ControlCollector's onOther): the last one per address in time order. */
export class HelloAddresses {
  readonly byAddr = new Map<string, FramedMessage>()

  add(m: FramedMessage): void {
    if (m.msg.t !== 'hello') return
    const addr = normAddr(m.msg.addr)
    const x = this.byAddr.get(addr)
    if (x === undefined || byTime(m, x) >= 0) this.byAddr.set(addr, m)
  }
}

/** The handoffs of the sessions pass, made from the spool as it goes and let go when done (see the header). */
export class StreamedHandoffs {
  readonly index: HandoffIndex
  private readonly feed: HandoffFeed
  /** Handoffs made and not let go, in request order. */
  private readonly live = new Map<Handoff, HandoffInfo>()
  readonly counts = {total: 0, handedOff: 0, nacked: 0, noReply: 0}
  private readonly retireAfterSec: number
  /** The handoffs held by the time they may be let go at the earliest (looked at again then). */
  private readonly due = new TimeHeap<Handoff>()
  private dueSeq = 0
  /** Most handoffs held at once (tests). */
  peakHeld = 0
  /** Each handoff as it is let go (per-view rows waiting for its latency: view-latency.ts). */
  onLetGo: ((info: HandoffInfo) => void) | null = null

  constructor(spool: ControlSpool, nodeAddrs: Map<string, string>, controlPort: number, vantage: readonly VantageAssignment[],
    fileName: (fileIndex: number) => string,
    /** Seconds some file's clock is behind the control messages' (its sessions' times that much smaller): kept that much longer. */
    clockLagSec = 0, private readonly lookaheadSec = LOOKAHEAD_SEC,
    /** --infer: the inferred handoffs (inferred-spool.ts), in hid order, their client SYNs' times on the same clock. */
    private readonly inferred: InferredReader | null = null) {
    this.retireAfterSec = HANDOFF_RETIRE_SEC + Math.max(0, clockLagSec)
    this.index = new HandoffIndex({handoffs: [], nodeAddrs, controlPort, vantage})
    this.feed = new HandoffFeed(spool.reader())
    this.feed.attach({
      handoff: (h) => this.hold(h, liveInfo(h, fileName)),
      ack: () => {},
      terminate: () => {},
    })
    this.inferredInfo = (h) => {
      const info = inferredInfo(h)
      // The inference names files by path: the report by the names given ('<stdin>').
      if (info.ackView !== null) info.ackView.file = fileName(info.ackView.fileIndex)
      return info
    }
  }

  private readonly inferredInfo: (h: Handoff) => HandoffInfo

  /** The pass is at capture time t (on the control messages' clock). */
  advanceTo(t: number): void {
    const until = t + this.lookaheadSec
    // The two kinds merged by time: the control messages applied up to each inferred handoff's SYN, then it taken on.
    const inf = this.inferred
    if (inf !== null) {
      for (let at = inf.peekT(); at !== null && at <= until; at = inf.peekT()) {
        this.feed.advanceTo(at)
        const h = inf.next()!.h
        this.hold(h, this.inferredInfo(h))
      }
    }
    this.feed.advanceTo(until)
  }

  /** Lets go the handoffs done with at time `now` (see the header). */
  retire(now: number, sessions: LiveEndpoints): void {
    const due = this.due
    while (due.size > 0 && due.firstT() < now) {
      const h = due.pop()
      const info = this.live.get(h)!
      // Its last message may have come since it was queued; a session of its client endpoint may still be held.
      const at = info.endT + this.retireAfterSec
      if (now <= at) due.push(at, this.dueSeq++, h)
      else if (sessions.has(endpointKey(h.cip, h.cport))) due.push(now + HELD_RECHECK_SEC, this.dueSeq++, h)
      else this.letGo(h, info, now)
    }
  }

  /** The end of the input: every message applied, every inferred handoff taken on (call before the last rows are made). */
  finishFeed(): void {
    this.advanceTo(Infinity)
  }

  /** After the last row: the handoffs left counted. */
  finish(): void {
    for (const [h, info] of this.live) this.letGo(h, info, Infinity)
  }

  /** Whether some handoff got an ack (the latency note). */
  get anyHandedOff(): boolean {
    return this.counts.handedOff > 0
  }

  private hold(h: Handoff, info: HandoffInfo): void {
    this.live.set(h, info)
    this.due.push(info.reqT + this.retireAfterSec, this.dueSeq++, h)
    this.index.add(info)
    if (this.live.size > this.peakHeld) this.peakHeld = this.live.size
  }

  private letGo(h: Handoff, info: HandoffInfo, now: number): void {
    this.live.delete(h)
    this.index.remove(info)
    // The counts are the control channel's (the report's `handoffs`; the inferred ones are in its `inference`).
    if (!info.inferred) {
      this.feed.retire(h, now)
      this.counts.total++
      const o = info.outcome
      if (o === 'handed-off') this.counts.handedOff++
      else if (o === 'nacked') this.counts.nacked++
      else this.counts.noReply++
    }
    this.onLetGo?.(info)
  }
}
