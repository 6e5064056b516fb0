import {Args, Command, Flags} from '@oclif/core'
import {collectSessions, type SessionsReport} from '../../analyzer/sessions/sessions.js'
import {CONTROL_PORT} from '../../analyzer/control/messages.js'
import {parseVantageFlag, type VantageAssignment} from '../../analyzer/correlate/vantage.js'
import {color} from '../render/color.js'
import {LineWriter} from '../render/output.js'
import {renderSessions} from '../render/sessions.js'

export type SessionsResult = SessionsReport & {exitCode: 0 | 2}

export default class Sessions extends Command {
  static override summary = 'List the TCP sessions in traces: kind (handoff, fallback, local, plain), hid, back-end, handoff latency, client, server, state, packets and bytes each way, duration, handshake time, Zeek-style history and Wireshark-style anomalies'

  static override description = [
    'Tracks every TCP connection in one streaming pass and prints one row per session: client (the SYN sender; without a handshake the first sender, marked ?) and server, Zeek conn_state (S0 S1 SF REJ S2 S3 RSTO RSTR RSTOS0 RSTRH SH SHR OTH), packets and payload bytes each way (retransmissions left out), duration, handshake time (SYN → SYN+ACK → ACK), a Zeek-style history string (S H A D F R upper case for the client, lower case for the server; C W T G logarithmic: bad checksum, zero window, retransmission, gap; ^ roles flipped), and counts of Wireshark tcp.analysis flags (retransmission, fast and spurious retransmission, out-of-order, lost segment, ACKed unseen segment, duplicate ACK, zero window and probes, window full, window update, keep-alive, reused ports).',
    'A session is what tshark calls a tcp.stream: a new SYN with another ISN on the same 4-tuple starts a new one. Each (file, capture interface) is its own vantage point (its kind — client, lan, inside, control — from the interface name, the file name or --vantage; others count as LAN): a connection seen at several points is listed once per point, and every row of one handed-off connection carries its hid.',
    'Handoff columns come from the control channel in the same traces (handoff-req / ack / nack by hid; hello for node addresses). kind: handoff = a handoff-req names the connection (client ip:port to VIP:port, or to the BE address on the same port at the LAN / BE inside; a reused client port is told apart by the client ISN, or by time without a SYN) and got a handoff-ack; fallback = it got a handoff-nack (the FE served it); local = no handoff-req names it, but the server is the service address of a node of the control channel (a hello addr, a req vip or an ack baddr) and neither port is the control port; plain = anything else. FE → BE: the req sender and the ack sender with its baddr. Handoff latency: capture time of the handoff-ack (the control view) minus capture time of the client SYN (a view in the same file first — one pcapng is one clock —, then client side, LAN, node inside); in --json, handoffLatencyFrom names both views and whether they share a clock. With standard input (read once) the control channel is not read and every session is plain.',
    'With --anomalies, every flagged packet is listed too (frame, session, direction, flags). Exit status: 0, or 2 when a trace could not be read to the end (what was read before the damage is still listed).',
  ].join('\n\n')

  static override examples = [
    '<%= config.bin %> <%= command.id %> samples/traces/http-ns.pcapng',
    '<%= config.bin %> <%= command.id %> trace.pcap.gz --client 10.0.0.2 --json',
    '<%= config.bin %> <%= command.id %> trace.pcap --state REJ --state S0',
    '<%= config.bin %> <%= command.id %> trace.pcap --anomalies',
    '<%= config.bin %> <%= command.id %> samples/traces/lab-clean/lab.pcapng.gz --kind handoff --backend n2',
    '<%= config.bin %> <%= command.id %> lab.pcapng.gz --hid n1/3',
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
    kind: Flags.string({summary: 'Only sessions of this kind (repeat for several).', multiple: true, multipleNonGreedy: true,
      options: ['handoff', 'fallback', 'local', 'plain']}),
    hid: Flags.string({summary: 'Only the sessions of this handoff id (repeat for several).', multiple: true, multipleNonGreedy: true}),
    backend: Flags.string({summary: 'Only handed-off sessions served by this back-end: node name or address (repeat for several).', multiple: true, multipleNonGreedy: true}),
    'control-port': Flags.integer({summary: 'TCP port of the control channel.', default: CONTROL_PORT, min: 1, max: 65535}),
    vantage: Flags.string({summary: 'Vantage point of an interface: IFACE=client|lan|fe-inside|be-inside|control (repeat); decides the vantage column and which SYN times the handoff latency.', multiple: true, multipleNonGreedy: true}),
    anomalies: Flags.boolean({summary: 'Also list every packet with an analysis flag.'}),
    'no-verify': Flags.boolean({summary: 'Do not verify TCP checksums (no C in the history; faster).'}),
  }

  async run(): Promise<SessionsResult> {
    const {argv, flags} = await this.parse(Sessions)
    const paths = argv as string[]
    let vantage: VantageAssignment[]
    try {
      vantage = (flags.vantage ?? []).map(parseVantageFlag)
    } catch (e) {
      this.error((e as Error).message, {exit: 2})
    }
    const handoffFilter = (flags.kind ?? []).some((k) => k !== 'plain') || (flags.hid ?? []).length > 0 || (flags.backend ?? []).length > 0
    if (paths.includes('-') && handoffFilter) {
      this.error('--kind, --hid and --backend need the control channel, which is not read from standard input (read once): give a file', {exit: 2})
    }
    const report = await collectSessions(paths,
      {client: flags.client, server: flags.server, state: flags.state, kind: flags.kind, hid: flags.hid, backend: flags.backend},
      {flagged: flags.anomalies, verifyChecksums: !flags['no-verify'], controlPort: flags['control-port'], vantage})
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
