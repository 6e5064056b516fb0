import {Flags} from '@oclif/core'
import {HandoffCommand} from '../../command.js'
import {listLabIds} from '../../../samples/lab/config.js'
import {runWorkload, type RunSummary} from '../../../samples/lab/run.js'
import {renderRunSummary} from '../../render/lab.js'
import {FAULTS} from '../../../samples/lab/faults.js'

export default class LabRun extends HandoffCommand {
  static override summary = 'Run HTTP clients against a lab: every body checked byte for byte, handoffs, latency and throughput reported'

  static override description = [
    'Runs real HTTP/1.1 clients (keep-alive off: one TCP connection per request) in the client namespace, spread over every node as front-end and every partition of the content, and checks each body against the one the node chosen by the policy serves. Failures and stalls (no complete response within --timeout) are counted and listed, never hidden; the exit code is 1 when there is any.',
    'Reports handoffs per node, local services, nacks, handoff latency (client SYN → handoff-ack, measured by the front-end daemon) p50/p99 and requests/s. With --record DIR, writes DIR/lab.pcapng (one interface per vantage point: client, lan, each node inside, control) and DIR/summary.json.',
  ].join('\n\n')

  static override examples = [
    '<%= config.bin %> <%= command.id %> --requests 100 --concurrency 8',
    '<%= config.bin %> <%= command.id %> --id demo --requests 1000 --concurrency 16 --record out/',
    '<%= config.bin %> <%= command.id %> --requests 40 --fault ack-remap --record out/ack-remap/',
  ]

  static override enableJsonFlag = true

  static override flags = {
    id: Flags.string({summary: 'Lab id (default: the only lab that is up).'}),
    requests: Flags.integer({summary: 'Number of requests.', default: 100, min: 1, max: 40000}),
    concurrency: Flags.integer({summary: 'Requests in flight at once.', default: 8, min: 1, max: 256}),
    record: Flags.string({summary: 'Directory for lab.pcapng (every vantage point) and summary.json.'}),
    timeout: Flags.integer({summary: 'Milliseconds before a request counts as stalled.', default: 5000, min: 100}),
    fault: Flags.string({summary: 'Make the daemons break one rule of the spec during the run, on every 4th handoff (recorded in the summary).',
      options: Object.keys(FAULTS)}),
  }

  async run(): Promise<RunSummary> {
    const {flags} = await this.parse(LabRun)
    let id = flags.id
    if (id === undefined) {
      const ids = listLabIds()
      if (ids.length !== 1) this.error(ids.length === 0 ? 'no lab is up (handoff lab up starts one)' : `several labs are up (${ids.join(', ')}): give --id`, {exit: 2})
      id = ids[0]
    }
    let r: RunSummary
    try {
      r = await runWorkload({id, requests: flags.requests, concurrency: flags.concurrency, record: flags.record, timeoutMs: flags.timeout, fault: flags.fault})
    } catch (e) {
      this.error((e as Error).message, {exit: 2})
    }
    if (!this.jsonEnabled()) this.log(renderRunSummary(r))
    if (r.failures > 0 || r.stalls > 0) process.exitCode = 1
    return r
  }
}
