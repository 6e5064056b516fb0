import {Flags} from '@oclif/core'
import {HandoffCommand} from '../../command.js'
import {listLabIds, validId} from '../../../samples/lab/config.js'
import {checkPrerequisites, labDown, labDownAll, type DownResult} from '../../../samples/lab/topology.js'
import {renderLabDown} from '../../render/lab.js'

export default class LabDown extends HandoffCommand {
  static override summary = 'Stop a lab and remove everything it created (namespaces, veths, bridges, processes, state)'

  static override description =
    'With --id, removes that lab; with --all, every lab and every leftover namespace named ho-… (e.g. after a crash). Without either, removes the only lab that is up.'

  static override examples = ['<%= config.bin %> <%= command.id %> --id demo', '<%= config.bin %> <%= command.id %> --all']

  static override enableJsonFlag = true

  static override flags = {
    id: Flags.string({summary: 'Lab id.', exclusive: ['all']}),
    all: Flags.boolean({summary: 'Every lab, and leftovers of crashed ones.'}),
  }

  async run(): Promise<DownResult[]> {
    const {flags} = await this.parse(LabDown)
    let rs: DownResult[]
    try {
      checkPrerequisites()
      if (flags.all) rs = labDownAll()
      else {
        let id = flags.id
        if (id === undefined) {
          const ids = listLabIds()
          if (ids.length === 0) this.error('no lab is up (use --all to sweep leftover namespaces)', {exit: 2})
          if (ids.length > 1) this.error(`several labs are up (${ids.join(', ')}): give --id or --all`, {exit: 2})
          id = ids[0]
        }
        if (!validId(id)) this.error(`lab id must be 1-6 of [a-z0-9] (got ${JSON.stringify(id)})`, {exit: 2})
        rs = [labDown(id)]
      }
    } catch (e) {
      if (e instanceof Error && !('oclif' in e)) this.error(e.message, {exit: 2})
      throw e
    }
    if (!this.jsonEnabled()) this.log(renderLabDown(rs))
    return rs
  }
}
