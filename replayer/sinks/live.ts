// LiveSink: injects prepared frames onto ONE live interface, the one the user
// named, paced by a Schedule, and reports like tcpreplay does.
//
// Network safety: this module opens exactly `iface` and nothing else (no
// interface is ever guessed, listed or defaulted); the 'any' pseudo-device
// is refused (libpcap cannot send on it). Where the frames go from there is
// the user's responsibility — the replay sends them as they are, with the
// addresses the trace and the handoff state give them.
//
// The capture handle libpcap needs for injecting is opened with a filter
// that matches nothing, so no packet is copied up to us while we send.
// Inject failures are counted (the first error is kept), not thrown, as
// tcpreplay's "Failed packets"; a run where every attempt fails stops after
// 100 failures in a row.
import {openLive, type LiveSource} from '../../analyzer/capture/live.js'
import {linkTypeName} from '../../analyzer/wire/linktype.js'
import {gapErrors, pace, type GapErrorStats, type PacerClock, type Schedule} from '../schedule/index.js'
import {SinkError} from './file.js'

export interface LiveFrame {
  data: Uint8Array
  linkType: number
}

export interface LiveReport {
  interface: string
  /** Sends attempted. */
  attempted: number
  /** Frames injected successfully. */
  packets: number
  bytes: number
  failures: number
  firstError: string | null
  /** From the first send to the return of the last one. */
  durationSec: number
  pps: number
  mbps: number
  /** Planned duration of the schedule (s). */
  plannedSec: number
  /** Gap error (timed modes; NaN fields at top speed where nothing is planned). */
  gapError: GapErrorStats
  /** Sends more than 1 ms late. */
  late: number
  interrupted: boolean
  stoppedOnFailures: boolean
}

export interface LiveRunOptions {
  clock?: PacerClock
  onProgress?: (sent: number, elapsedNs: number) => void
  shouldStop?: () => boolean
  /** Measure gap errors (off at top speed: there is no plan to compare with). Default true. */
  measureGaps?: boolean
}

const MAX_FAILURES_IN_A_ROW = 100

/** Anything with LiveSource's inject/close/linkType, so tests can stand in for libpcap. */
export interface Injector {
  readonly linkType: number
  inject(frame: Uint8Array): void
  close(): void
}

export class LiveSink {
  readonly iface: string
  private readonly src: Injector

  private constructor(iface: string, src: Injector) {
    this.iface = iface
    this.src = src
  }

  /** Opens the named interface for injecting. Throws LiveCaptureError (no such device, permission…) or SinkError. */
  static open(iface: string): LiveSink {
    if (iface === '' || iface === 'any') {
      throw new SinkError(`cannot inject on ${iface === '' ? 'an unnamed interface' : '"any"'}: name one real interface with --interface`)
    }
    const src: LiveSource = openLive({interface: iface, filter: 'less 1', snapLen: 64, promiscuous: false, immediate: true, bufferSize: 1 << 20})
    return new LiveSink(iface, src)
  }

  /** For tests: a sink over any injector. */
  static over(iface: string, inj: Injector): LiveSink {
    return new LiveSink(iface, inj)
  }

  get linkType(): number {
    return this.src.linkType
  }

  /** Every frame must have the interface's link type; otherwise SinkError naming both. */
  checkLinkType(frames: readonly LiveFrame[], what: (i: number) => string): void {
    for (let i = 0; i < frames.length; i++) {
      if (frames[i].linkType !== this.src.linkType) {
        throw new SinkError(`${what(i)} is a ${linkTypeName(frames[i].linkType)} frame, but "${this.iface}" takes ${linkTypeName(this.src.linkType)} frames`)
      }
    }
  }

  async run(frames: readonly LiveFrame[], sched: Schedule, opts: LiveRunOptions = {}): Promise<LiveReport> {
    let packets = 0
    let bytes = 0
    let failures = 0
    let inARow = 0
    let firstError: string | null = null
    let stoppedOnFailures = false
    const inj = this.src
    // Buffers up front: the binding wants a Buffer, and a view made per send would allocate.
    const bufs = frames.map((f) => (Buffer.isBuffer(f.data) ? f.data : Buffer.from(f.data.buffer, f.data.byteOffset, f.data.byteLength)))
    const per = sched.perLoop
    const send = (n: number) => {
      const b = bufs[n % per]
      try {
        inj.inject(b)
        packets++
        bytes += b.length
        inARow = 0
      } catch (e) {
        failures++
        inARow++
        if (firstError === null) firstError = e instanceof Error ? e.message : String(e)
        if (inARow >= MAX_FAILURES_IN_A_ROW) stoppedOnFailures = true
      }
    }
    const r = await pace(sched.offsetsNs, send, {
      clock: opts.clock,
      onProgress: opts.onProgress,
      shouldStop: () => stoppedOnFailures || (opts.shouldStop?.() ?? false),
      topspeed: opts.measureGaps === false && sched.durationNs === 0,
    })
    const sec = r.elapsedNs / 1e9
    const gaps = (opts.measureGaps ?? true) ? gapErrors(sched.offsetsNs, r.actualNs, r.sent) : gapErrors([], [], 0)
    return {
      interface: this.iface, attempted: r.sent, packets, bytes, failures, firstError,
      durationSec: sec, pps: sec > 0 ? packets / sec : 0, mbps: sec > 0 ? (bytes * 8) / sec / 1e6 : 0,
      plannedSec: sched.durationNs / 1e9, gapError: gaps, late: r.late,
      interrupted: r.interrupted && !stoppedOnFailures, stoppedOnFailures,
    }
  }

  close(): void {
    this.src.close()
  }
}
