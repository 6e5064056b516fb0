import {controlPortFlag} from '../flags.js'
import {controlPortNote, resolveControlPort} from '../../analyzer/control/port-discovery.js'
import {Args, Flags} from '@oclif/core'
import {HandoffCommand} from '../command.js'
import {extractControlMessages, type ControlReport} from '../../analyzer/control/channels.js'
import {MESSAGE_TYPES} from '../../analyzer/control/messages.js'
import {color} from '../render/color.js'
import {renderMessages} from '../render/messages.js'
import {LineWriter} from '../render/output.js'

/** The report with `rows` filtered by --type / --hid (`summary` still counts every row). */
export type MessagesResult = ControlReport & {
  /** Rows before filtering. */
  totalRows: number
  exitCode: 0 | 1 | 2
}

export default class Messages extends HandoffCommand {
  static override summary = 'List the control-channel messages in traces (spec §3): hello, handoff-req/ack/nack, terminate, ping/pong, and malformed frames'

  static override description = [
    'Reassembles every TCP connection on the control port (default 7070) in both directions — retransmissions, reordering, lost segments and sequence wrap-around handled — cuts each direction into frames (4-byte big-endian length + MessagePack map) and lists one row per frame: time and frame number of the packet that completed it, sender → receiver (node names from the hello messages), type, handoff id and the key fields of the type.',
    'Malformed frames are listed as control-framing errors with their stream offset and reason. The same frame seen in several files, or on several interfaces of one pcapng, is listed once (the summary says how many copies were merged).',
    'Exit status: 0 when all frames are valid, 1 when control-framing errors were found, 2 when a trace could not be read to the end (what was read before the damage is still listed).',
  ].join('\n\n')

  static override examples = [
    '<%= config.bin %> <%= command.id %> samples/traces/control-channel.pcapng',
    '<%= config.bin %> <%= command.id %> fe.pcapng be.pcapng --type handoff-req --type handoff-ack',
    '<%= config.bin %> <%= command.id %> trace.pcapng --hid fe1/42 --json',
    '<%= config.bin %> <%= command.id %> trace.pcap --control-port 7171',
  ]

  static override strict = false
  static override enableJsonFlag = true

  static override args = {
    trace: Args.string({description: 'capture file(s): pcap or pcapng, optionally gzip-compressed; - for standard input', required: true}),
  }

  static override flags = {
    'control-port': controlPortFlag,
    type: Flags.string({summary: 'Only rows of this type (repeat for several; control-framing for the errors).', multiple: true, multipleNonGreedy: true,
      options: [...MESSAGE_TYPES, 'control-framing']}),
    hid: Flags.string({summary: 'Only rows of this handoff id (repeat for several).', multiple: true, multipleNonGreedy: true}),
  }

  async run(): Promise<MessagesResult> {
    const {argv, flags} = await this.parse(Messages)
    const choice = await resolveControlPort(argv as string[], flags['control-port'])
    const note = controlPortNote(choice)
    if (note !== null && !this.jsonEnabled()) process.stderr.write(`handoff messages: ${note}\n`)
    const report = await extractControlMessages(argv as string[], {port: choice.port})
    const types = flags.type ? new Set<string>(flags.type) : null
    const hids = flags.hid ? new Set<string>(flags.hid) : null
    const shown = report.rows.filter((r) => (types === null || types.has(r.type)) && (hids === null || (r.kind === 'message' && r.hid !== undefined && hids.has(r.hid))))
    const exitCode = report.captureErrors.length > 0 ? 2 : report.summary.errors > 0 ? 1 : 0
    if (!this.jsonEnabled()) {
      const out = new LineWriter()
      out.line(renderMessages(report, shown))
      out.flush()
      for (const e of report.captureErrors) process.stderr.write(color.red(`handoff messages: ${e.message}`) + '\n')
    }
    // Set the status without exiting: with --json oclif prints the result after run() returns.
    process.exitCode = exitCode
    return {...report, rows: shown, totalRows: report.rows.length, exitCode}
  }
}
