// The text `handoff sessions` prints for a report (writeSessions walks it, as
// the CLI does, also when its lists are on disk): what the sessions streaming
// tests compare with renderSessions of the report held in memory.
import {writeSessions} from '../../cli/render/sessions.js'

export function written(r: Parameters<typeof writeSessions>[0]): string {
  const lines: string[] = []
  writeSessions(r, (l) => lines.push(l))
  return lines.join('\n')
}
