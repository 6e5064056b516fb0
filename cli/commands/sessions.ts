import {Args, Command, Flags} from '@oclif/core'
import {collectSessions, type SessionsReport} from '../../analyzer/sessions/sessions.js'
import {color} from '../render/color.js'
import {LineWriter} from '../render/output.js'
import {renderSessions} from '../render/sessions.js'

export type SessionsResult = SessionsReport & {exitCode: 0 | 2}

export default class Sessions extends Command {
  static override summary = 'List the TCP sessions in traces: client, server, state, packets and bytes each way, duration, handshake time, Zeek-style history and Wireshark-style anomalies'

  static override description = [
    'Tracks every TCP connection in one streaming pass and prints one row per session: client (the SYN sender; without a handshake the first sender, marked ?) and server, Zeek conn_state (S0 S1 SF REJ S2 S3 RSTO RSTR RSTOS0 RSTRH SH SHR OTH), packets and payload bytes each way (retransmissions left out), duration, handshake time (SYN → SYN+ACK → ACK), a Zeek-style history string (S H A D F R upper case for the client, lower case for the server; C W T G logarithmic: bad checksum, zero window, retransmission, gap; ^ roles flipped), and counts of Wireshark tcp.analysis flags (retransmission, fast and spurious retransmission, out-of-order, lost segment, ACKed unseen segment, duplicate ACK, zero window and probes, window full, window update, keep-alive, reused ports).',
    'A session is what tshark calls a tcp.stream: a new SYN with another ISN on the same 4-tuple starts a new one. Each (file, capture interface) is its own vantage point: a connection seen at several points is listed once per point. Handoff columns (kind, hid, back-end, handoff latency) are not filled yet: every session is reported as kind "plain".',
    'With --anomalies, every flagged packet is listed too (frame, session, direction, flags). Exit status: 0, or 2 when a trace could not be read to the end (what was read before the damage is still listed).',
  ].join('\n\n')

  static override examples = [
    '<%= config.bin %> <%= command.id %> samples/traces/http-ns.pcapng',
    '<%= config.bin %> <%= command.id %> trace.pcap.gz --client 10.0.0.2 --json',
    '<%= config.bin %> <%= command.id %> trace.pcap --state REJ --state S0',
    '<%= config.bin %> <%= command.id %> trace.pcap --anomalies',
  ]

  static override strict = false
  static override enableJsonFlag = true

  static override args = {
    trace: Args.string({description: 'capture file(s): pcap or pcapng, optionally gzip-compressed; - for standard input', required: true}),
  }

  static override flags = {
    client: Flags.string({summary: 'Only sessions of this client address (repeat for several).', multiple: true, multipleNonGreedy: true}),
    server: Flags.string({summary: 'Only sessions to this server address (repeat for several).', multiple: true, multipleNonGreedy: true}),
    state: Flags.string({summary: 'Only sessions in this Zeek conn_state (repeat for several).', multiple: true, multipleNonGreedy: true,
      options: ['S0', 'S1', 'SF', 'REJ', 'S2', 'S3', 'RSTO', 'RSTR', 'RSTOS0', 'RSTRH', 'SH', 'SHR', 'OTH']}),
    anomalies: Flags.boolean({summary: 'Also list every packet with an analysis flag.'}),
    'no-verify': Flags.boolean({summary: 'Do not verify TCP checksums (no C in the history; faster).'}),
  }

  async run(): Promise<SessionsResult> {
    const {argv, flags} = await this.parse(Sessions)
    const report = await collectSessions(argv as string[], {client: flags.client, server: flags.server, state: flags.state},
      {flagged: flags.anomalies, verifyChecksums: !flags['no-verify']})
    const failed = report.files.filter((f) => f.error !== undefined)
    const exitCode = failed.length > 0 ? 2 : 0
    if (!this.jsonEnabled()) {
      const out = new LineWriter()
      out.line(renderSessions(report))
      out.flush()
      for (const f of failed) process.stderr.write(color.red(`handoff sessions: ${f.error!.message}`) + '\n')
    }
    process.exitCode = exitCode
    return {...report, exitCode}
  }
}
