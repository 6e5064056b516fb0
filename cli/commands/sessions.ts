import {controlPortFlag} from '../flags.js'
import {Args, Flags} from '@oclif/core'
import {HandoffCommand} from '../command.js'
import {collectSessionsSpooled, UsageError, type SpooledSessionsReport} from '../../analyzer/sessions/collect.js'
import {parseVantageFlag, type VantageAssignment} from '../../analyzer/correlate/vantage.js'
import {color} from '../render/color.js'
import {writeJson} from '../render/json-stream.js'
import {LineWriter} from '../render/output.js'
import {writeSessions} from '../render/sessions.js'

export type SessionsResult = SpooledSessionsReport & {exitCode: 0 | 2}

export default class Sessions extends HandoffCommand {
  static override summary = 'List the client connections in traces, merged over every vantage point: kind (handoff, fallback, local, plain), hid, FE → BE, handoff latency, client, VIP, state, bytes each way, duration, Zeek-style history, anomalies per view, where each was seen, and the clock offsets between views'

  static override description = [
    'Tracks every TCP session in one streaming pass per trace, at every vantage point (each capture interface of each file: its kind — client, lan, inside, control — from the interface name, the file name or --vantage; others by the handoff legs they show, as check places them, else LAN), then prints one row per client connection. The sessions of one connection at several views are merged: a handed-off connection\'s legs by its hid (client ↔ VIP at the client side and on the LAN, the forwarded client → BE leg on the LAN, the BE\'s TCP and the FE\'s TCP at the node insides); any other connection by its endpoints (a reused 4-tuple told apart by the client ISN, else by time). State, history, packets, bytes and duration come from the view nearest the client (client side, else LAN, else BE inside, FE inside, forwarded leg; marked * in "seen at", in --json `from`); anomalies are listed with the views that saw them. --per-view lists one row per session per view instead.',
    'Columns: client (the SYN sender; without a handshake the first sender, marked ?) and server (for a handoff, the VIP), Zeek conn_state (S0 S1 SF REJ S2 S3 RSTO RSTR RSTOS0 RSTRH SH SHR OTH), payload bytes each way (retransmissions left out), duration, a Zeek-style history string (S H A D F R upper case for the client, lower case for the server; C W T G logarithmic: bad checksum, zero window, retransmission, gap; ^ roles flipped), and counts of Wireshark tcp.analysis flags (retransmission, fast and spurious retransmission, out-of-order, lost segment, ACKed unseen segment, duplicate ACK, zero window and probes, window full, window update, keep-alive, reused ports). --json adds packets, handshake times, window scales and every sighting (view, leg, stream, endpoints, state, bytes).',
    'Handoff columns come from the control channel in the same traces (handoff-req / ack / nack by hid; hello for node addresses). kind: handoff = a handoff-req names the connection (client ip:port to VIP:port, or to the BE address on the same port at the LAN / BE inside; a reused client port is told apart by the client ISN, or by time without a SYN) and got a handoff-ack; fallback = it got a handoff-nack (the FE served it); local = no handoff-req names it, but the server is the service address of a node of the control channel (a hello addr, a req vip or an ack baddr) and neither port is the control port; plain = anything else. FE → BE: the req sender and the ack sender with its baddr. Handoff latency: capture time of the handoff-ack (the control view) minus capture time of the client SYN (a view in the same file first — one pcapng is one clock —, then client side, LAN, node inside); in --json, handoffLatencyFrom names both views and whether they share a clock.',
    'With --infer, a connection that no control message names (the control channel was not captured) is still a handoff when `check --infer` recognises it from the traffic (correlate/infer.ts, the same function: the same connections, the same inferred/<n> hids): its segments also go, same client port and numbers, to another node, or another node answers it at a node-inside view. Without node names, FE → BE shows the VIP and the BE address, and those addresses count as node service addresses for kind local. Its handoff latency is the capture time of the BE\'s SYN/ACK at the BE\'s inside view (the BE accepting the replayed SYN, just before it sends the handoff-ack) minus that of the client\'s SYN (chosen as above); none when the BE\'s SYN/ACK was not captured. --json adds summary.inference (candidates, inferred, rejected and why). Connections named by control messages are never inferred; without --infer nothing is.',
    'Clock offsets: segments captured unchanged at two views (matched by addresses, ports, seq, ack, flags, window, length, IP ID, timestamps; a bounded hash sample) give, per pair of views, the median time difference; each view is placed against a reference view (the footer, and `views` in --json). Between interfaces of one pcapng that is the propagation delay; between files, clock offset plus delay. The control view usually shares no segment with the others.',
    'Standard input (-) is copied to a temporary file and read like a file (the control channel needs its own pass), so every column works; the copy is removed at the end. With --anomalies, every flagged packet of the shown connections is listed too (frame, session, direction, flags). Exit status: 0, or 2 when a trace could not be read to the end (what was read before the damage is still listed) or on a usage error.',
  ].join('\n\n')

  static override examples = [
    '<%= config.bin %> <%= command.id %> samples/traces/http-ns.pcapng',
    '<%= config.bin %> <%= command.id %> trace.pcap.gz --client 10.0.0.2 --json',
    '<%= config.bin %> <%= command.id %> trace.pcap --state REJ --state S0',
    '<%= config.bin %> <%= command.id %> trace.pcap --anomalies',
    '<%= config.bin %> <%= command.id %> samples/traces/lab-clean/lab.pcapng.gz --kind handoff --backend n2',
    '<%= config.bin %> <%= command.id %> lab.pcapng.gz --hid n1/3',
    '<%= config.bin %> <%= command.id %> lab.pcapng.gz --per-view --hid n1/3',
    'zcat lab.pcapng.gz | <%= config.bin %> <%= command.id %> - --kind fallback',
    '<%= config.bin %> <%= command.id %> no-control-channel.pcapng --infer --kind handoff',
  ]

  static override strict = false
  static override enableJsonFlag = true

  static override args = {
    trace: Args.string({description: 'capture file(s): pcap or pcapng, optionally gzip-compressed; - for standard input', required: true}),
  }

  static override flags = {
    'per-view': Flags.boolean({summary: 'One row per TCP session per vantage point (file, interface), not merged into connections.'}),
    client: Flags.string({summary: 'Only connections of this client address (repeat for several).', multiple: true, multipleNonGreedy: true}),
    server: Flags.string({summary: 'Only connections to this server address: the VIP, or the server of any leg (a BE address) (repeat for several).', multiple: true, multipleNonGreedy: true}),
    state: Flags.string({summary: 'Only connections (sessions with --per-view) in this Zeek conn_state (repeat for several).', multiple: true, multipleNonGreedy: true,
      options: ['S0', 'S1', 'SF', 'REJ', 'S2', 'S3', 'RSTO', 'RSTR', 'RSTOS0', 'RSTRH', 'SH', 'SHR', 'OTH']}),
    kind: Flags.string({summary: 'Only connections of this kind (repeat for several).', multiple: true, multipleNonGreedy: true,
      options: ['handoff', 'fallback', 'local', 'plain']}),
    hid: Flags.string({summary: 'Only the connection of this handoff id (repeat for several).', multiple: true, multipleNonGreedy: true}),
    backend: Flags.string({summary: 'Only handed-off connections served by this back-end: node name or address (repeat for several).', multiple: true, multipleNonGreedy: true}),
    'control-port': controlPortFlag,
    vantage: Flags.string({summary: 'Vantage point of an interface: IFACE=client|lan|fe-inside|be-inside|control (repeat); decides the legs, the view the numbers come from and which SYN times the handoff latency.', multiple: true, multipleNonGreedy: true}),
    infer: Flags.boolean({summary: 'Also recognise handed-off connections that no control message names from the traffic, as check --infer does (hids inferred/<n>).'}),
    anomalies: Flags.boolean({summary: 'Also list every packet with an analysis flag.'}),
    'no-verify': Flags.boolean({summary: 'Do not verify TCP checksums (no C in the history; faster).'}),
  }

  /** The report streamed (cli/render/json-stream.ts: the same bytes, a fraction of oclif's memory); oclif's own with a colour theme. */
  protected override logJson(json: unknown): void {
    if (this.config.theme?.json !== undefined) super.logJson(json)
    else writeJson(json)
  }

  async run(): Promise<SessionsResult> {
    const {argv, flags} = await this.parse(Sessions)
    this.exitOnSignals()
    const paths = argv as string[]
    let vantage: VantageAssignment[]
    try {
      vantage = (flags.vantage ?? []).map(parseVantageFlag)
    } catch (e) {
      this.error((e as Error).message, {exit: 2})
    }
    let report: SpooledSessionsReport
    try {
      // The merged rows on disk, sorted: printed (text or --json) by walking them, never all held.
      report = await collectSessionsSpooled(paths,
        {client: flags.client, server: flags.server, state: flags.state, kind: flags.kind, hid: flags.hid, backend: flags.backend},
        {perView: flags['per-view'], flagged: flags.anomalies, verifyChecksums: !flags['no-verify'], controlPort: flags['control-port'], vantage,
          infer: flags.infer})
    } catch (e) {
      if (e instanceof UsageError) this.error(e.message, {exit: 2})
      throw e
    }
    const failed = report.files.filter((f) => f.error !== undefined)
    const exitCode = failed.length > 0 ? 2 : 0
    if (!this.jsonEnabled()) {
      const out = new LineWriter()
      writeSessions(report, (l) => out.line(l))
      out.flush()
      for (const f of failed) process.stderr.write(color.red(`handoff sessions: ${f.error!.message}`) + '\n')
    }
    process.exitCode = exitCode
    return {...report, exitCode}
  }
}
