import {controlPortFlag} from '../flags.js'
import {Args, Errors, Flags} from '@oclif/core'
import {HandoffCommand} from '../command.js'
import {LiveCaptureError} from '../../analyzer/capture/live.js'
import {EngineConfigError} from '../../replayer/engine/index.js'
import {ReplayError, replayLive, replayToFile, type LiveOutcome, type WriteOutcome} from '../../replayer/replay.js'
import {ScheduleError, type ScheduleOptions} from '../../replayer/schedule/index.js'
import {DeriveError, LEGS, parseFlow, SelectError, type FlowSpec, type LegName} from '../../replayer/select/index.js'
import {SinkError} from '../../replayer/sinks/index.js'
import {CaptureError} from '../../analyzer/capture/types.js'
import {progressLine, renderLive, renderWrite} from '../render/replay.js'
// --live (stateful replay against a live back-end): replayer/live/.
import {replayStateful, StatefulReplayError, type StatefulOutcome} from '../../replayer/live/index.js'
import {renderStateful} from '../render/replay-stateful.js'

export type ReplayResult = WriteOutcome | LiveOutcome | StatefulOutcome

const positive = (name: string) =>
  Flags.custom<number>({
    summary: '',
    parse: async (s: string) => {
      const n = Number(s)
      if (s.trim() === '' || !Number.isFinite(n) || n <= 0) throw new Errors.CLIError(`--${name} must be a positive number (got "${s}")`)
      return n
    },
  })

export default class Replay extends HandoffCommand {
  static override summary = 'Replay handed-off connections: write the legs the FE and BE must carry to a file, inject them onto one live interface, or replay them statefully against a live back-end (--live)'

  static override description = [
    'Reads the handoff state of each handed-off connection from the trace\'s control channel (handoff-req + handoff-ack, paired by hid; spec §3) and derives, with the rewrite engine (spec §4, every rewrite verified):',
    '  forwarded (FE → BE): the client\'s segments captured after the handoff, as the FE must forward them;\n  BE inside: the replayed SYN, ACK and request (handoff-req pkts) and the forwarded segments, as the BE\'s TCP must see them (raw IP);\n  return (BE → client): segments seen inside the BE (source = BE address), as the client must see them. The BE\'s SYN/ACK is dropped.',
    'Selection: --hid, --flow (a 4-tuple, either direction, client ↔ VIP or client ↔ BE), --client; by default every handed-off connection. The trace must hold the control channel: the state is never guessed.',
    '--write FILE: pcapng or pcap (one link type: choose legs with --leg); deterministic, timestamps from the input. pcapng names each leg\'s interface after it and its vantage point (forwarded-lan, be-inside, return-client) and also carries, as captured, the control connections of the selected handoffs (control) and the packets the legs came from (captured-client, captured-be-inside): `handoff check FILE` judges it on its own, packet by packet. --legs-only leaves those out; pcap holds the legs only.',
    '--live --interface IF: stateful replay against a live back-end: the replayer plays the client and the FE\'s BTCP: sends each selected connection\'s recorded SYN, learns Δ and τ from the live SYN/ACK, sends the recorded request and client segments through the forward rewrite, acknowledges the live response (return rewrite), retransmits what the live side loses, and compares the response with the recorded one (values of --ignore-header fields excepted; Date by default). Target: the recorded BE, or --target; source: the recorded client, or --source, an address this host must not own (the replayer answers ARP/ND for it on IF). --expect-same-response: exit 1 on any difference.',
    '--interface IF: injects the forwarded and return legs (or --leg) onto IF and only IF, timed as captured (× --multiplier), at --pps, or at --topspeed; --loop, --limit. Frames go out exactly as derived, with the trace\'s addresses: where they end up is your responsibility — use an interface of a test network. Prints a tcpreplay-like report; a progress line on standard error (terminal only) on runs over a second.',
  ].join('\n\n')

  static override examples = [
    '<%= config.bin %> <%= command.id %> trace.pcapng --write legs.pcapng',
    '<%= config.bin %> <%= command.id %> trace.pcapng --hid fe1/42 --leg forwarded --write fwd.pcap',
    '<%= config.bin %> <%= command.id %> trace.pcapng --interface veth-test0 --multiplier 2',
    '<%= config.bin %> <%= command.id %> trace.pcapng --interface veth-test0 --topspeed --loop 100 --json',
    '<%= config.bin %> <%= command.id %> trace.pcapng --live --interface veth-test0 --target 10.77.0.11 --source 10.77.9.1 --expect-same-response',
  ]

  static override strict = false
  static override enableJsonFlag = true

  static override args = {
    trace: Args.string({description: 'capture file(s) with the connection and its control channel: pcap or pcapng, optionally gzip-compressed', required: true}),
  }

  static override flags = {
    write: Flags.string({char: 'w', summary: 'Write the derived legs to this file (.pcap → pcap, else pcapng).', exclusive: ['interface']}),
    format: Flags.string({summary: 'File format of --write (default: by extension).', options: ['pcap', 'pcapng'], dependsOn: ['write']}),
    'legs-only': Flags.boolean({summary: 'pcapng --write: the legs only, without the control channel and the captured packets they came from (not checkable then).',
      dependsOn: ['write']}),
    interface: Flags.string({char: 'i', summary: 'Inject onto this live interface (and no other).', exclusive: ['write']}),
    hid: Flags.string({summary: 'Only this handoff id (repeat for several).', multiple: true, multipleNonGreedy: true}),
    flow: Flags.string({summary: "Only this connection: 'A:P-B:Q' ([A]:P-[B]:Q for IPv6), either direction (repeatable).", multiple: true, multipleNonGreedy: true}),
    client: Flags.string({summary: 'Only connections of this client address (repeatable).', multiple: true, multipleNonGreedy: true}),
    leg: Flags.string({summary: 'Only these legs (repeatable). Default: all for --write, forwarded and return for --interface.', multiple: true,
      multipleNonGreedy: true, options: [...LEGS]}),
    'control-port': controlPortFlag,
    multiplier: positive('multiplier')({summary: 'Timing as captured, this many times faster (--interface).', exclusive: ['pps', 'topspeed']}),
    pps: positive('pps')({summary: 'Send at this fixed rate, packets per second (--interface).', exclusive: ['multiplier', 'topspeed']}),
    topspeed: Flags.boolean({summary: 'Send as fast as possible (--interface).', exclusive: ['multiplier', 'pps']}),
    loop: Flags.integer({summary: 'Send the whole replay this many times (--interface).', min: 1}),
    limit: Flags.integer({summary: 'Stop after this many packets in total (--interface).', min: 1}),
    // --live (stateful replay) -------------------------------------------------
    live: Flags.boolean({summary: 'Stateful replay against a live back-end on --interface (see the description).', dependsOn: ['interface'],
      exclusive: ['write', 'leg', 'multiplier', 'pps', 'topspeed', 'loop', 'limit']}),
    target: Flags.string({summary: 'Back-end address to replay against (--live). Default: each connection\'s recorded BE.', dependsOn: ['live']}),
    'target-mac': Flags.string({summary: 'The target\'s MAC (--live). Default: resolved by ARP / neighbour solicitation on the interface.', dependsOn: ['live']}),
    source: Flags.string({summary: 'Replay from this address (--live), which this host must not own. Default: the recorded client\'s.', dependsOn: ['live']}),
    'source-mac': Flags.string({summary: 'MAC the replayer uses and announces for the source address (--live). Default: 02:68:6f + the address\'s last three bytes.', dependsOn: ['live']}),
    // No default here: oclif's dependsOn fires on a defaulted flag too (replayer/live: 8).
    concurrency: Flags.integer({summary: 'Connections at once (--live). Default 8.', min: 1, max: 1024, dependsOn: ['live']}),
    'expect-same-response': Flags.boolean({summary: 'Exit 1 when a live response differs from the recorded one or a connection fails (--live).', dependsOn: ['live']}),
    'ignore-header': Flags.string({summary: 'HTTP response header whose value is not compared (--live; repeatable; default Date; "none" compares every byte).',
      multiple: true, multipleNonGreedy: true, dependsOn: ['live']}),
    timeout: positive('timeout')({summary: 'Seconds each connection may take (--live). Default 20.', dependsOn: ['live']}),
    // -----------------------------------------------------------------------------
  }

  async run(): Promise<ReplayResult> {
    const {argv, flags} = await this.parse(Replay)
    const traces = argv as string[]
    // --live: stateful replay (replayer/live/) --------------------------------------
    if (flags.live) {
      let flowsLive: FlowSpec[] | undefined
      try {
        flowsLive = flags.flow?.map(parseFlow)
      } catch (e) {
        this.error((e as Error).message, {exit: 2})
      }
      const ignore = flags['ignore-header']
      let stopLive = false
      const onSig = () => {
        if (stopLive) process.exit(130)
        stopLive = true
      }
      process.on('SIGINT', onSig)
      process.on('SIGTERM', onSig)
      try {
        const res = await replayStateful({
          traces, selection: {hids: flags.hid, flows: flowsLive, clients: flags.client}, controlPort: flags['control-port'],
          iface: flags.interface!, target: flags.target, targetMac: flags['target-mac'], source: flags.source, sourceMac: flags['source-mac'],
          concurrency: flags.concurrency, ignoreHeaders: ignore === undefined ? undefined : ignore.includes('none') ? [] : ignore,
          timeoutMs: flags.timeout === undefined ? undefined : flags.timeout * 1000, shouldStop: () => stopLive,
        })
        if (!this.jsonEnabled()) this.log(renderStateful(res, flags['expect-same-response']))
        const s = res.summary
        if (s.failed > 0 || s.aborted > 0 || (flags['expect-same-response'] && s.mismatched > 0)) process.exitCode = 1
        return res
      } catch (e) {
        if (e instanceof StatefulReplayError || e instanceof SelectError || e instanceof LiveCaptureError || e instanceof CaptureError ||
          e instanceof EngineConfigError) {
          this.error(e.message, {exit: 2})
        }
        throw e
      } finally {
        process.off('SIGINT', onSig)
        process.off('SIGTERM', onSig)
      }
    }
    // ---------------------------------------------------------------------------------
    if (flags.write === undefined && flags.interface === undefined) this.error('give --write FILE or --interface IF', {exit: 2})
    if (flags.write !== undefined) {
      for (const f of ['multiplier', 'pps', 'topspeed', 'loop', 'limit'] as const) {
        if (flags[f] !== undefined && flags[f] !== false) this.error(`--${f} is a timing option of --interface; --write keeps the captured timestamps`, {exit: 2})
      }
    }
    let flows: FlowSpec[] | undefined
    try {
      flows = flags.flow?.map(parseFlow)
    } catch (e) {
      this.error((e as Error).message, {exit: 2})
    }
    const input = {
      traces,
      selection: {hids: flags.hid, flows, clients: flags.client},
      legs: flags.leg as LegName[] | undefined,
      controlPort: flags['control-port'],
    }
    const json = this.jsonEnabled()
    try {
      if (flags.write !== undefined) {
        const res = await replayToFile(input, flags.write, flags.format as 'pcap' | 'pcapng' | undefined, {legsOnly: flags['legs-only']})
        if (!json) this.log(renderWrite(res))
        return res
      }
      const timing: ScheduleOptions = flags.topspeed
        ? {mode: 'topspeed'}
        : flags.pps !== undefined
          ? {mode: 'pps', pps: flags.pps}
          : {mode: 'captured', multiplier: flags.multiplier ?? 1}
      if (flags.loop !== undefined) timing.loop = flags.loop
      if (flags.limit !== undefined) timing.limit = flags.limit
      let stop = false
      let signals = 0
      const onSignal = () => {
        signals++
        stop = true
        if (signals > 1) process.exit(130)
      }
      process.on('SIGINT', onSignal)
      process.on('SIGTERM', onSignal)
      const tty = process.stderr.isTTY === true
      let shown = false
      try {
        const res = await replayLive(input, {
          iface: flags.interface!,
          timing,
          shouldStop: () => stop,
          onProgress: tty
            ? (sent, total, ns) => {
                process.stderr.write('\r\x1b[2K' + progressLine(sent, total, ns).slice(0, (process.stderr.columns || 120) - 1))
                shown = true
              }
            : undefined,
        })
        if (shown) process.stderr.write('\r\x1b[2K')
        if (!json) this.log(renderLive(res))
        if (res.output.failures > 0) process.exitCode = 1
        return res
      } finally {
        process.off('SIGINT', onSignal)
        process.off('SIGTERM', onSignal)
      }
    } catch (e) {
      if (e instanceof ReplayError || e instanceof SelectError || e instanceof SinkError || e instanceof ScheduleError ||
        e instanceof LiveCaptureError || e instanceof CaptureError || e instanceof EngineConfigError) {
        this.error(e.message, {exit: 2})
      }
      if (e instanceof DeriveError) this.error(e.message, {exit: 1})
      throw e
    }
  }

  // With --json, oclif's catch() prints the error as JSON and exits with
  // err.exitCode ?? 1, ignoring this.error()'s {exit: 2}: keep the exit code.
  protected override async catch(err: Error & {exitCode?: number; oclif?: {exit?: number}}): Promise<unknown> {
    if (err.exitCode === undefined && typeof err.oclif?.exit === 'number') err.exitCode = err.oclif.exit
    return super.catch(err)
  }

  protected override async finally(err: Error | undefined): Promise<void> {
    await super.finally(err)
    // node_pcap releases a closed session only when one more packet arrives
    // on its interface (design notes): end the process once everything is
    // flushed. The timer is unref'd: it only fires if libpcap still holds the loop.
    setTimeout(() => process.exit(), 200).unref()
  }
}
