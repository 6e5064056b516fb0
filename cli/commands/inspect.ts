import {Args, Flags} from '@oclif/core'
import {HandoffCommand} from '../command.js'
import {inspectFile, type InspectResult} from '../../analyzer/inspect/inspect-file.js'
import {renderInspectReport} from '../render/inspect-report.js'
import {LineWriter} from '../render/output.js'

export default class Inspect extends HandoffCommand {
  static override summary = 'Describe capture files: format, interfaces, counts, time span, protocols, TCP conversations, checksum failures'

  static override description = [
    'Reads pcap and pcapng files (gzip-compressed too; - is standard input) in one streaming pass and tells what capinfos and `tcpdump -r` would: format, sections and interfaces with their link types, packet and byte counts, time span, protocol mix, TCP conversations, checksum failures (checksums left to offload by the sending host are counted apart) and decoding anomalies.',
    'With --packets, prints one line per packet instead: frame, time (UTC), interface, addresses, ports, TCP flags, seq, ack, window, options, payload length, bad checksums and anomalies. With --json, the report is one JSON document per file (an array when several files are given); with --packets --json, one JSON object per line (NDJSON).',
    'A damaged or truncated file still yields everything before the damage; then the error names the file, the byte offset and what was wrong, and the exit code is 2.',
  ].join('\n\n')

  static override examples = [
    '<%= config.bin %> <%= command.id %> samples/traces/http-ns.pcapng',
    '<%= config.bin %> <%= command.id %> trace.pcap.gz --packets | head',
    '<%= config.bin %> <%= command.id %> a.pcapng b.pcap --json',
    'tcpdump -i eth0 -w - | <%= config.bin %> <%= command.id %> - --packets',
  ]

  static override strict = false

  static override args = {
    file: Args.string({description: 'capture file(s): pcap or pcapng, optionally gzip-compressed; - for standard input', required: true}),
  }

  static override flags = {
    packets: Flags.boolean({char: 'p', summary: 'One line per packet instead of the summary.'}),
    json: Flags.boolean({summary: 'JSON output (NDJSON with --packets).'}),
    conversations: Flags.integer({summary: 'How many TCP conversations the text report lists (the largest first).', default: 10, min: 0}),
    'no-verify': Flags.boolean({summary: 'Do not verify IP/TCP/UDP checksums (faster on large files).'}),
  }

  async run(): Promise<void> {
    const {argv, flags} = await this.parse(Inspect)
    const files = argv as string[]
    const out = new LineWriter()
    const results: InspectResult[] = []
    let failed = false
    for (const [i, file] of files.entries()) {
      const mode = flags.packets ? (flags.json ? 'ndjson' : 'lines') : 'summary'
      const r = await inspectFile(file, {mode, verifyChecksums: !flags['no-verify'], out, multipleFiles: files.length > 1})
      results.push(r)
      if (r.report.error) failed = true
      if (mode === 'summary' && !flags.json) {
        if (i > 0) out.line('')
        out.line(renderInspectReport(r.report, flags.conversations))
      }
      out.flush()
      if (mode !== 'summary' && r.report.error) process.stderr.write(`handoff inspect: ${r.report.error.message}\n`)
    }
    if (!flags.packets && flags.json) {
      const reports = results.map((r) => r.report)
      out.line(JSON.stringify(reports.length === 1 ? reports[0] : reports, null, 2))
      out.flush()
    }
    if (failed) {
      // The reports above already say what was wrong and where; just exit 2.
      this.exit(2)
    }
  }
}
