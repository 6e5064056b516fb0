import {Flags} from '@oclif/core'
import {HandoffCommand} from '../../command.js'
import {listLabIds} from '../../../samples/lab/config.js'
import {labStatus, type LabStatus} from '../../../samples/lab/topology.js'
import {renderLabStatus} from '../../render/lab.js'

export default class LabStatusCommand extends HandoffCommand {
  static override summary = 'Show the labs that are up: nodes, addresses, MACs, daemon and server pids, control peers and daemon counters'

  static override examples = ['<%= config.bin %> <%= command.id %>', '<%= config.bin %> <%= command.id %> --id demo --json']

  static override enableJsonFlag = true

  static override flags = {
    id: Flags.string({summary: 'Only this lab.'}),
  }

  async run(): Promise<LabStatus[]> {
    const {flags} = await this.parse(LabStatusCommand)
    const ids = flags.id ? [flags.id] : listLabIds()
    const ss: LabStatus[] = []
    for (const id of ids) {
      const s = labStatus(id)
      if (s) ss.push(s)
      else if (flags.id) this.error(`no lab with id "${id}" is up`, {exit: 2})
    }
    if (!this.jsonEnabled()) this.log(renderLabStatus(ss))
    return ss
  }
}
