import {Flags} from '@oclif/core'
import {HandoffCommand} from '../../command.js'
import {LabCommandError} from '../../../samples/lab/sh.js'
import {labUp} from '../../../samples/lab/topology.js'
import type {LabState} from '../../../samples/lab/config.js'
import {renderLabUp} from '../../render/lab.js'

export default class LabUp extends HandoffCommand {
  static override summary = 'Start a handoff cluster in network namespaces: a client, a LAN, N nodes with kernel TCP, web server and handoff daemon'

  static override description = [
    'Creates namespaces named ho-<id>-…: a client (10.77.1.1, 10.77.1.2), a LAN with a bridge, and per node a stack namespace (kernel TCP and an HTTP/1.1 server on 10.77.0.(10+i):80) and a daemon namespace between the stack and the LAN (a bump in the wire: two relay veths without address or IPv6, offloads off), plus a control network joining the daemons (10.77.200.i, port 7070).',
    'The daemons implement the handoff protocol: a request whose path belongs to another node (/img/ → n1, /api/ → n2, others: hash of the path mod N) is handed off to it. State is kept in /run/handoff-lab/<id>/. Needs root.',
  ].join('\n\n')

  static override examples = ['<%= config.bin %> <%= command.id %>', '<%= config.bin %> <%= command.id %> --nodes 4 --id demo']

  static override enableJsonFlag = true

  static override flags = {
    nodes: Flags.integer({summary: 'Number of nodes.', default: 3, min: 1, max: 9}),
    id: Flags.string({summary: 'Lab id (1-6 of a-z0-9); default: random.'}),
  }

  async run(): Promise<LabState> {
    const {flags} = await this.parse(LabUp)
    let st: LabState
    try {
      st = await labUp({nodes: flags.nodes, id: flags.id})
    } catch (e) {
      if (e instanceof LabCommandError || e instanceof Error) this.error(e.message, {exit: 2})
      throw e
    }
    if (!this.jsonEnabled()) this.log(renderLabUp(st))
    return st
  }
}
