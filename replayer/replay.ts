// `handoff replay`, the logic: handoff state from the trace's control
// channel → selection → leg derivation (engine, verify on) → a sink (a
// capture file, or one live interface with timing).
//
// The handoff state (Δ, τ, window shifts, BE address and MAC) is never
// guessed: without a handoff-req/handoff-ack pair in the trace there is
// nothing to replay, and the error says so.
import {resolveControlPort} from '../analyzer/control/port-discovery.js'
import {linkTypeName} from '../analyzer/wire/linktype.js'
import {buildSchedule, type ScheduleOptions} from './schedule/index.js'
import {scanControl, type ControlScan} from './select/control.js'
import {deriveLegs, LEGS, type DeriveResult, type HandoffLegs, type LegName, type SkippedPacket} from './select/legs.js'
import {selectHandoffs, type Selection} from './select/select.js'
import {formatForPath, writeLegs, type FileFormat, type FileSinkResult} from './sinks/file.js'
import {LiveSink, type LiveReport} from './sinks/live.js'

export class ReplayError extends Error {
  constructor(message: string) {
    super(message)
    this.name = 'ReplayError'
  }
}

export interface ReplayInput {
  traces: string[]
  selection?: Selection
  /** Legs to produce. Default: all for files; forwarded + return (the wire legs) for live. */
  legs?: LegName[]
  controlPort?: number
}

export interface ReplayPlan {
  traces: string[]
  /** Handoffs the trace's control channel holds (hid). */
  handoffsInTrace: string[]
  handoffs: HandoffLegs[]
  notDerived: {hid: string; reason: string}[]
  skipped: SkippedPacket[]
  legs: LegName[]
  controlFramingErrors: number
  captureErrors: string[]
}

export interface WriteOutcome extends ReplayPlan {
  mode: 'write'
  output: FileSinkResult
}

export interface LiveOutcome extends ReplayPlan {
  mode: 'live'
  timing: ScheduleOptions
  /** Captured timestamps that went backwards (sent at once). */
  backwards: number
  /** Default legs only: packets left out because their link type is not the interface's (e.g. a raw-IP leg on Ethernet). */
  leftOut: {leg: LegName; packets: number; linkType: number}[]
  output: LiveReport
}

function quoteList(xs: string[]): string {
  return xs.length <= 8 ? xs.join(', ') : `${xs.slice(0, 8).join(', ')}, … (${xs.length} in all)`
}

/** Reads the traces and derives the packets to replay. Throws ReplayError when there is nothing to replay. */
export async function planReplay(input: ReplayInput, defaultLegs: readonly LegName[]): Promise<{plan: ReplayPlan; derived: DeriveResult}> {
  const port = (await resolveControlPort(input.traces, input.controlPort)).port
  const legs = input.legs && input.legs.length > 0 ? LEGS.filter((l) => input.legs!.includes(l)) : [...defaultLegs]
  const scan: ControlScan = await scanControl(input.traces, {port})
  const names = input.traces.join(', ')
  if (scan.handoffs.length === 0) {
    const why = scan.controlPackets === 0
      ? `there is no control-channel traffic (TCP port ${port}) in ${names}`
      : `the control channel in ${names} (${scan.controlPackets} packets on TCP port ${port}) holds no handoff-req` +
        (scan.framingErrors > 0 ? ` that could be decoded (${scan.framingErrors} malformed frame(s): see handoff messages)` : '')
    throw new ReplayError(`nothing to replay: ${why}. The handoff state (Δ, τ, the BE's address) comes from the handoff-req and ` +
      `handoff-ack messages; capture the control channel with the connection (another port: --control-port)` +
      (scan.captureErrors.length > 0 ? `. Also: ${scan.captureErrors.join('; ')}` : ''))
  }
  const {selected, unmatched} = selectHandoffs(scan.handoffs, input.selection ?? {})
  const all = scan.handoffs.map((h) => h.hid)
  if (unmatched.length > 0) {
    throw new ReplayError(`${unmatched.join(', ')} matched no handoff in ${names} (handoffs there: ${quoteList(all)})`)
  }
  if (selected.length === 0) throw new ReplayError(`the selection matches no handoff in ${names} (handoffs there: ${quoteList(all)})`)
  const derived = await deriveLegs(input.traces, selected, new Set(legs), {controlPort: port})
  if (derived.handoffs.length === 0) {
    throw new ReplayError(`no selected handoff can be replayed: ${derived.notDerived.map((n) => `${n.hid}: ${n.reason}`).join('; ')}`)
  }
  const plan: ReplayPlan = {
    traces: input.traces, handoffsInTrace: all, handoffs: derived.handoffs, notDerived: derived.notDerived,
    skipped: derived.skipped, legs, controlFramingErrors: scan.framingErrors, captureErrors: scan.captureErrors,
  }
  return {plan, derived}
}

/**
 * --write: the derived legs to a capture file (deterministic). pcapng also
 * carries, as captured, the control connections and the packets the legs came
 * from (checkable on its own: sinks/file.ts), unless `legsOnly`.
 */
export async function replayToFile(input: ReplayInput, file: string, format?: FileFormat, opts: {legsOnly?: boolean} = {}): Promise<WriteOutcome> {
  const {plan, derived} = await planReplay(input, LEGS)
  if (derived.packets.length === 0) {
    throw new ReplayError(`no packet of the legs ${plan.legs.join(', ')} in ${input.traces.join(', ')} for ${plan.handoffs.map((h) => h.hid).join(', ')}` +
      ' (forwarded legs come from a client-side view, return legs from a BE-inside view)')
  }
  const output = writeLegs(file, derived.packets, format ?? formatForPath(file), opts.legsOnly ? [] : derived.captured)
  return {...plan, mode: 'write', output}
}

export interface LiveInput {
  iface: string
  timing: ScheduleOptions
  onProgress?: (sent: number, total: number, elapsedNs: number) => void
  shouldStop?: () => boolean
  /** Opens the sink (tests substitute an injector); default LiveSink.open. */
  openSink?: (iface: string) => LiveSink
}

/** --interface: the derived legs injected onto the one named interface, paced. */
export async function replayLive(input: ReplayInput, live: LiveInput): Promise<LiveOutcome> {
  const {plan, derived} = await planReplay(input, ['forwarded', 'return'])
  const explicit = input.legs !== undefined && input.legs.length > 0
  const sink = (live.openSink ?? LiveSink.open)(live.iface)
  try {
    // Default legs: those whose frames the interface can carry; named legs: all of them, or an error.
    let frames = derived.packets
    const leftOut: LiveOutcome['leftOut'] = []
    if (!explicit) {
      for (const l of plan.legs) {
        const off = frames.filter((f) => f.leg === l && f.linkType !== sink.linkType)
        if (off.length > 0) leftOut.push({leg: l, packets: off.length, linkType: off[0].linkType})
      }
      frames = frames.filter((f) => f.linkType === sink.linkType)
    }
    if (frames.length === 0) {
      const why = leftOut.length > 0 ? ` (left out: ${leftOut.map((x) => `${x.leg}, ${x.packets} ${linkTypeName(x.linkType)} packet(s)`).join('; ')}; ` +
        `"${live.iface}" takes ${linkTypeName(sink.linkType)})` : ''
      throw new ReplayError(`nothing to send: no packet of the legs ${plan.legs.join(', ')} for ${plan.handoffs.map((h) => h.hid).join(', ')}${why}`)
    }
    sink.checkLinkType(frames, (i) => `packet ${i + 1} (leg ${frames[i].leg}, ${frames[i].source})`)
    const sched = buildSchedule(frames.map((f) => f.tsSec), frames.map((f) => f.tsNsec), live.timing)
    const output = await sink.run(frames, sched, {
      onProgress: live.onProgress ? (sent, ns) => live.onProgress!(sent, sched.length, ns) : undefined,
      shouldStop: live.shouldStop,
      measureGaps: live.timing.mode !== 'topspeed',
    })
    return {...plan, mode: 'live', timing: live.timing, backwards: sched.backwards, leftOut, output}
  } finally {
    sink.close()
  }
}
