// Handoffs assembled from the control pass's spooled messages
// (control-spool.ts) as the segment pass needs them: advanceTo(t) applies
// every message of capture time up to t, so the pass, reading packets at
// time `now`, keeps the feed at now + lookahead (assemble.ts,
// collectSegments). A handoff exists from its handoff-req until the segment
// pass retires it, so memory follows the handoffs in progress, not the
// trace's length.
//
// The rules are assembleHandoffs's (assemble.ts), applied message by message
// in time order: the first request of a hid makes the handoff (a second one
// is ignored), the first ack / nack counts, every terminate is kept, and a
// reply whose request never comes is an orphan. A reply read before its
// request (clocks of two views) waits for it. Messages are applied in
// (time, file, frame) order: the spool is in the order the pass decoded them,
// which in a file can be a little out of time order, so records are read
// REORDER_SEC past the horizon and sorted before they are applied.
// all() reads the whole spool: the handoffs of the trace at once, as
// assembleHandoffs gives them (check with several files whose clocks are
// too far apart to be read merged).
import type {HandoffAck, HandoffNack, HandoffReq, Terminate} from '../control/messages.js'
import {normAddr, type Handoff, type Orphan} from './assemble.js'
import type {SpoolReader} from './control-spool.js'
import {PKTS_NOT_KEPT} from './control-pass.js'
import {byTime, type FramedMessage} from './control.js'

const REORDER_SEC = 2

/** Messages of a retired handoff are ignored while it is this recent (capture seconds); its hid is forgotten after. */
const RETIRED_MEMORY_SEC = 900

export interface FeedHooks {
  /** A handoff-req made a handoff. */
  handoff(h: Handoff): void
  /** Its handoff-ack set its BE address. */
  ack(h: Handoff): void
  /** Its first terminate. */
  terminate(h: Handoff): void
}

export class HandoffFeed {
  /** Handoffs not retired, by hid, in the order their requests came. */
  private readonly live = new Map<string, Handoff>()
  /** Replies (and terminates) whose request has not come, by hid: orphans unless it comes. */
  private readonly pending = new Map<string, FramedMessage[]>()
  private readonly retired = new Map<string, number>()
  /** Read from the spool, not yet applied (sorted before applying). */
  private ahead: FramedMessage[] = []
  private horizon = -Infinity
  private hooks: FeedHooks | null = null
  /** Handoffs made so far. */
  made = 0

  constructor(private readonly reader: SpoolReader) {}

  /** Every message up to capture time t applied (t only grows). */
  advanceTo(t: number): void {
    if (t <= this.horizon) return
    this.horizon = t
    const until = t + REORDER_SEC
    let added = false
    for (let m = this.reader.peek(); m !== null && m.t <= until; m = this.reader.peek()) {
      this.ahead.push(this.reader.next()!)
      added = true
    }
    if (this.ahead.length === 0) return
    if (added) this.ahead.sort(byTime)
    let i = 0
    while (i < this.ahead.length && this.ahead[i]!.t <= t) this.apply(this.ahead[i++]!)
    if (i > 0) this.ahead = i === this.ahead.length ? [] : this.ahead.slice(i)
  }

  /** The whole spool applied: every handoff not retired, in request order. */
  all(): Handoff[] {
    // Records past a gap of REORDER_SEC are only read by a later advance: read to the end first.
    for (let m = this.reader.next(); m !== null; m = this.reader.next()) this.ahead.push(m)
    this.horizon = -Infinity
    this.advanceTo(Infinity)
    return [...this.live.values()]
  }

  /** Hooks for what follows (the segment pass's index); the handoffs already made are its to take with liveHandoffs(). */
  attach(hooks: FeedHooks): void {
    this.hooks = hooks
  }

  liveHandoffs(): Handoff[] {
    return [...this.live.values()]
  }

  /** The segment pass is done with h: later messages of its hid are ignored (for a while: see RETIRED_MEMORY_SEC). */
  retire(h: Handoff, now: number): void {
    if (this.live.get(h.hid) !== h) return
    this.live.delete(h.hid)
    this.retired.set(h.hid, now)
    if (this.retired.size > 4096) {
      for (const [hid, at] of this.retired) if (at + RETIRED_MEMORY_SEC < now) this.retired.delete(hid)
    }
  }

  /** Replies and terminates no request claimed, in time order (call at the end). */
  orphans(): Orphan[] {
    const out: Orphan[] = []
    for (const [hid, ms] of this.pending) for (const m of ms) out.push({m, hid})
    return out.sort((a, b) => byTime(a.m, b.m))
  }

  private apply(m: FramedMessage): void {
    const msg = m.msg
    if (msg.t === 'handoff-req') {
      if (this.live.has(msg.hid) || this.retired.has(msg.hid)) return // a second request with the same hid: the first is kept
      // The spool gives back an empty array: request-replay knows the `pkts` were not kept by this one.
      if (m.pktsPrint !== undefined) msg.pkts = PKTS_NOT_KEPT
      const h: Handoff = {
        hid: msg.hid, req: m as FramedMessage & {msg: HandoffReq}, terminates: [], state: null,
        cip: normAddr(msg.cip), cport: msg.cport, vip: normAddr(msg.vip), vport: msg.vport, baddr: '',
        segs: [], judged: false, streamEvents: null, statePending: true,
      }
      this.live.set(msg.hid, h)
      this.made++
      this.hooks?.handoff(h)
      const waiting = this.pending.get(msg.hid)
      if (waiting !== undefined) {
        this.pending.delete(msg.hid)
        for (const w of waiting) this.reply(h, w)
      }
      return
    }
    if (msg.t !== 'handoff-ack' && msg.t !== 'handoff-nack' && msg.t !== 'terminate') return
    const h = this.live.get(msg.hid)
    if (h !== undefined) { this.reply(h, m); return }
    if (this.retired.has(msg.hid)) return
    const l = this.pending.get(msg.hid)
    if (l) l.push(m)
    else this.pending.set(msg.hid, [m])
  }

  private reply(h: Handoff, m: FramedMessage): void {
    const msg = m.msg
    if (msg.t === 'handoff-ack') {
      if (h.ack !== undefined) return
      h.ack = m as FramedMessage & {msg: HandoffAck}
      h.baddr = normAddr(msg.baddr)
      this.hooks?.ack(h)
    } else if (msg.t === 'handoff-nack') {
      if (h.nack === undefined) h.nack = m as FramedMessage & {msg: HandoffNack}
    } else if (msg.t === 'terminate') {
      h.terminates.push(m as FramedMessage & {msg: Terminate})
      if (h.terminates.length === 1) this.hooks?.terminate(h)
    }
  }
}
