import {controlPortFlag} from '../flags.js'
import {writeJson} from '../render/json-stream.js'
import {Args, Flags} from '@oclif/core'
import {HandoffCommand} from '../command.js'
import {CheckUsageError, runCheckSpooled, type SpooledCheckReport} from '../../analyzer/check.js'
import {SpoolError} from '../../analyzer/capture/spool.js'
import {parseVantageFlag, type VantageAssignment} from '../../analyzer/correlate/vantage.js'
import {color} from '../render/color.js'
import {renderCheckTo} from '../render/check.js'
import {JunitWriteError, writeJunitFile} from '../render/junit.js'
import {LineWriter} from '../render/output.js'

export type CheckResult = SpooledCheckReport & {exitCode: 0 | 1 | 2}

export default class Check extends HandoffCommand {
  static override summary = 'Check handed-off connections in traces against the handoff protocol (spec §5): one violation per departure, with its frame and expected vs seen'

  static override description = [
    'Assembles every handoff from the control channel (handoff-req / ack / nack / terminate by hid) and the segments of its connection at every vantage point, then judges them against spec §4/§5: checksums, address / seq / ack / SACK / timestamp rewrites, window rescaling, leaked resets and SYN/ACKs, ISNs and replayed segments against the wire, the client-facing byte stream, options, orphan messages, forwarding after terminate, control framing.',
    'Vantage points (spec §7) come from the interface names (the lab\'s: client, lan, <node>-inside, control) or from --vantage IFACE=client|lan|fe-inside|be-inside|control, where IFACE is an interface name, FILE#ID or a file; an interface named otherwise is placed by the handoff legs it shows (client → VIP, forwarded client → BE, BE → client, data from the VIP), else counts as LAN. Rewrites are judged packet by packet against the engine\'s expected bytes where the other side of the node is visible (LAN / node inside), and by the continuity of what the client sees where it is not. Traffic of no handoff never raises a check id. A checksum left partial by offload on the sending host is not wrong.',
    'With --infer, connections that no control message names (the control channel was not captured) are recognised as handed off from the traffic itself — a client connection whose segments also go, same client port and numbers, to another node, or that another node answers at a node-inside view — and Δ and τ are recovered from the two SYN/ACKs, else from the majority of matched segment pairs; such handoffs are listed as inferred/<n> with Δ, τ and how many pairs agreed. Checks that judge the control messages (isn-mismatch, request-replay, late-forward, handoff-orphan, control-framing) are not run on them; window-rescale and option-mismatch need the BE\'s SYN/ACK. Connections with control messages are never inferred.',
    'Exit status: 0 no violations, 1 violations (errors; warnings too with --fail-on warning), 2 bad usage or a trace that could not be read to the end (what was read is still checked and reported).',
  ].join('\n\n')

  static override examples = [
    '<%= config.bin %> <%= command.id %> samples/traces/lab-clean.pcapng',
    '<%= config.bin %> <%= command.id %> client.pcap lan.pcap --vantage client.pcap=client --vantage lan.pcap=lan',
    '<%= config.bin %> <%= command.id %> trace.pcapng --json --junit check.xml --fail-on warning',
    '<%= config.bin %> <%= command.id %> no-control-channel.pcapng --infer',
  ]

  static override strict = false
  static override enableJsonFlag = true

  static override args = {
    trace: Args.string({description: 'capture file(s): pcap or pcapng, optionally gzip-compressed; - for standard input', required: true}),
  }

  static override flags = {
    junit: Flags.string({summary: 'Also write a JUnit XML report to this file.'}),
    'fail-on': Flags.string({summary: 'Lowest severity that makes the exit status 1.', options: ['error', 'warning'], default: 'error'}),
    'control-port': controlPortFlag,
    infer: Flags.boolean({summary: 'Also recognise handed-off connections that no control message names, and recover their Δ and τ from the traffic.', default: false}),
    vantage: Flags.string({summary: 'Vantage point of an interface: IFACE=client|lan|fe-inside|be-inside|control (repeat).', multiple: true, multipleNonGreedy: true}),
  }

  /**
   * The --json output: the text oclif prints (JSON indented by 2, a newline)
   * when no JSON colour theme is configured, streamed (cli/render/json-stream.ts)
   * without oclif's colouriser, which tokenises the whole text into one object
   * per token — on a report of many thousands of handoffs that took more
   * memory than the check itself.
   */
  override logJson(json: unknown): void {
    if (this.config.theme?.json !== undefined) super.logJson(json)
    else writeJson(json)
  }

  async run(): Promise<CheckResult> {
    const {argv, flags} = await this.parse(Check)
    this.exitOnSignals()
    let vantage: VantageAssignment[]
    try {
      vantage = (flags.vantage ?? []).map(parseVantageFlag)
    } catch (e) {
      this.error((e as Error).message, {exit: 2})
    }
    let report: SpooledCheckReport
    try {
      report = await runCheckSpooled(argv as string[], {controlPort: flags['control-port'], vantage, infer: flags.infer})
    } catch (e) {
      if (e instanceof CheckUsageError || e instanceof SpoolError) this.error(e.message, {exit: 2})
      throw e
    }
    const failOn = flags['fail-on'] === 'warning' ? 'warning' : 'error'
    const failing = report.summary.errors + (failOn === 'warning' ? report.summary.warnings : 0)
    const exitCode = report.captureErrors.length > 0 ? 2 : failing > 0 ? 1 : 0
    // Written as it goes (render/junit.ts); a file that cannot be written is a usage error, named, not a stack trace.
    if (flags.junit) {
      try {
        writeJunitFile(flags.junit, report, failOn)
      } catch (e) {
        if (e instanceof JunitWriteError) this.error(e.message, {exit: 2})
        throw e
      }
    }
    if (!this.jsonEnabled()) {
      const out = new LineWriter()
      renderCheckTo(report, (s) => out.line(s))
      out.flush()
    }
    for (const e of report.captureErrors) process.stderr.write(color.red(`handoff check: ${e.message}`) + '\n')
    process.exitCode = exitCode
    return {...report, exitCode}
  }
}
