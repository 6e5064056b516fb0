import {Errors, Flags} from '@oclif/core'
import {HandoffCommand} from '../command.js'
import {captureToFile, type CaptureProgress, type CaptureSummary} from '../../analyzer/capture/live-capture.js'
import {DEFAULT_SNAPLEN, LiveCaptureError} from '../../analyzer/capture/live.js'
import {linkTypeName} from '../../analyzer/wire/linktype.js'
import {color} from '../render/color.js'
import {table} from '../render/table.js'
import {humanBytes} from '../render/units.js'

function statusLine(p: CaptureProgress): string {
  const parts = p.interfaces.map((i) => `${i.name}: ${i.packets} pkts ${humanBytes(i.bytes)} ${i.drops} drops`)
  return `${p.elapsedSec.toFixed(1)}s  ${parts.join(' | ')}  total ${p.total.packets} pkts`
}

export default class Capture extends HandoffCommand {
  static override summary = 'Capture live traffic from one or more interfaces into one pcapng file'

  static override description = [
    'Captures with libpcap on every interface given with -i (interfaces of this network namespace) and writes one pcapng file: one interface block per interface, named after it, packets in arrival order, and per-interface statistics at the end.',
    'Stops after -c packets in total, after --duration seconds, or on Ctrl-C (SIGINT/SIGTERM); the file is complete in every case. A status line on standard error shows packets, bytes and drops per interface when it is a terminal.',
    'Needs root (or CAP_NET_RAW, and CAP_NET_ADMIN for promiscuous mode).',
  ].join('\n\n')

  static override examples = [
    '<%= config.bin %> <%= command.id %> -i eth0 -w out.pcapng',
    "<%= config.bin %> <%= command.id %> -i veth-lb -i veth-be1 -f 'tcp port 80' -w handoff.pcapng --duration 30",
    '<%= config.bin %> <%= command.id %> -i lo -c 100 -w lo.pcapng --json',
  ]

  static override enableJsonFlag = true

  static override flags = {
    interface: Flags.string({char: 'i', summary: 'Interface to capture on (repeat for several).', multiple: true, required: true}),
    filter: Flags.string({char: 'f', summary: 'BPF capture filter (tcpdump syntax), applied on every interface.'}),
    write: Flags.string({char: 'w', summary: 'Output pcapng file (- for standard output).', required: true}),
    count: Flags.integer({char: 'c', summary: 'Stop after this many packets in total.', min: 1}),
    duration: Flags.custom<number>({
      summary: 'Stop after this many seconds (fractions allowed).',
      parse: async (s: string) => {
        const n = Number(s)
        if (s.trim() === '' || !Number.isFinite(n) || n <= 0) throw new Errors.CLIError(`--duration must be a positive number of seconds (got "${s}")`)
        return n
      },
    })(),
    snaplen: Flags.integer({summary: 'Bytes kept of each packet.', default: DEFAULT_SNAPLEN, min: 1, max: DEFAULT_SNAPLEN}),
    promisc: Flags.boolean({summary: 'Promiscuous mode (--no-promisc to turn it off).', default: true, allowNo: true}),
  }

  async run(): Promise<CaptureSummary> {
    const {flags} = await this.parse(Capture)
    const json = this.jsonEnabled()
    const toStdout = flags.write === '-'
    if (toStdout && json) this.error('--json cannot be used with -w - (both would write to standard output)', {exit: 2})

    const controller = new AbortController()
    let signals = 0
    const onSignal = (sig: NodeJS.Signals) => {
      signals++
      if (signals === 1) controller.abort(sig)
      else process.exit(130) // second Ctrl-C: give up at once
    }
    process.on('SIGINT', onSignal)
    process.on('SIGTERM', onSignal)

    const tty = process.stderr.isTTY === true
    let lineShown = false
    const clearLine = () => {
      if (lineShown) process.stderr.write('\r\x1b[2K')
      lineShown = false
    }

    let summary: CaptureSummary
    try {
      summary = await captureToFile({
        interfaces: flags.interface,
        file: flags.write,
        filter: flags.filter,
        count: flags.count,
        durationSec: flags.duration,
        snapLen: flags.snaplen,
        promiscuous: flags.promisc,
        signal: controller.signal,
        application: `handoff ${this.config.version}`,
        onStart: (ifaces) => {
          const list = ifaces.map((i) => `${i.name} (${linkTypeName(i.linkType)})`).join(', ')
          process.stderr.write(`capturing on ${list} to ${flags.write}${flags.filter ? ` with filter "${flags.filter}"` : ''}\n`)
        },
        onProgress: tty
          ? (p) => {
              const cols = process.stderr.columns || 120
              process.stderr.write('\r\x1b[2K' + statusLine(p).slice(0, cols - 1))
              lineShown = true
            }
          : undefined,
      })
    } catch (e) {
      clearLine()
      if (e instanceof LiveCaptureError) this.error(e.message, {exit: 2})
      if (process.env.DEBUG) throw e
      this.error(`capture failed: ${e instanceof Error ? e.message : String(e)}`, {exit: 1})
    } finally {
      process.off('SIGINT', onSignal)
      process.off('SIGTERM', onSignal)
    }
    clearLine()

    if (!json) this.render(summary, toStdout)
    return summary
  }

  private render(s: CaptureSummary, toStderr: boolean): void {
    const out = (line: string) => (toStderr ? process.stderr.write(line + '\n') : this.log(line))
    const rows: (string | number)[][] = s.interfaces.map((i) => [i.name, i.packets, humanBytes(i.bytes), i.drops > 0 ? color.red(String(i.drops)) : '0'])
    rows.push([color.bold('total'), s.total.packets, humanBytes(s.total.bytes), s.total.drops])
    out(table(['interface', 'packets', 'bytes', 'drops'], rows, {align: ['left', 'right', 'right', 'right']}))
    const why = {count: 'packet count reached', duration: 'duration elapsed', signal: 'interrupted'}[s.stoppedBy]
    out(`wrote ${s.file === '-' ? 'standard output' : s.file} (${s.total.packets} packets, ${humanBytes(s.total.capturedBytes)} captured, ${s.elapsedSec.toFixed(1)}s; ${why})`)
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
    // on its interface; on an idle interface its poll handle would keep the
    // process alive forever. Everything is flushed by now, and this timer is
    // unref'd: it only fires if something else still holds the event loop.
    setTimeout(() => process.exit(), 200).unref()
  }
}
