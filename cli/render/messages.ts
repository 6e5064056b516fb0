// Text rendering of a ControlReport (what `handoff messages TRACE…` prints):
// one table row per control frame, then the notes, the summary line and any
// capture error.
import type {ControlEndpoint, ControlReport, ControlRow, MessageFields} from '../../analyzer/control/channels.js'
import type {SynAckOptions} from '../../analyzer/control/messages.js'
import {formatTimeOfDay} from '../../analyzer/inspect/timestamp.js'
import {color} from './color.js'
import {table} from './table.js'

function endpoint(e: ControlEndpoint): string {
  const hp = e.addr.includes(':') ? `[${e.addr}]:${e.port}` : `${e.addr}:${e.port}`
  return e.node !== undefined ? `${e.node} ${hp}` : hp
}

function opts(o: SynAckOptions): string {
  const p = [`mss ${o.mss}`]
  if (o.ws !== undefined) p.push(`ws ${o.ws}`)
  if (o.sack) p.push('sack')
  if (o.ts) p.push('ts')
  return p.join(',')
}

function str(v: unknown): string {
  return JSON.stringify(v)
}

/** The "details" column: the key fields of the message type. */
export function details(r: ControlRow): string {
  if (r.kind === 'error') return `${r.reason} at offset ${r.streamOffset}: ${r.detail}`
  const f = r.fields as MessageFields & Record<string, unknown>
  switch (r.type) {
    case 'hello':
      return `addr ${f.addr} mac ${f.mac}`
    case 'handoff-req': {
      const p = [`${f.client} → ${f.vip}`, `ciss ${f.ciss}`, `fiss ${f.fiss}`]
      if (f.fts !== undefined) p.push(`fts ${f.fts}`)
      p.push(`fopt ${opts(f.fopt as SynAckOptions)}`)
      p.push(`url ${str(f.url)}`)
      if (f.host !== undefined) p.push(`host ${str(f.host)}`)
      p.push(`pkts ${f.pkts}`)
      return p.join('  ')
    }
    case 'handoff-ack': {
      const p = [`biss ${f.biss}`]
      if (f.bts !== undefined) p.push(`bts ${f.bts}`)
      p.push(`baddr ${f.baddr}`, `bmac ${f.bmac}`, `bopt ${opts(f.bopt as SynAckOptions)}`)
      return p.join('  ')
    }
    case 'handoff-nack':
      return `err ${str(f.err)}`
    case 'terminate':
      return `reason ${f.reason}  cbytes ${f.cbytes}  sbytes ${f.sbytes}`
    case 'ping':
    case 'pong':
      return `n ${f.n}`
  }
}

function plural(n: number, one: string, many = `${one}s`): string {
  return `${n} ${n === 1 ? one : many}`
}

export function summaryLine(r: ControlReport, shown: number): string {
  const s = r.summary
  const types = Object.entries(s.byType).map(([t, n]) => `${t} ${n}`).join(', ')
  const parts = [`${plural(s.messages, 'message')}${types ? ` (${types})` : ''}`, plural(s.connections, 'connection')]
  parts.push(s.errors > 0 ? color.red(plural(s.errors, 'control-framing error')) : '0 control-framing errors')
  if (s.duplicatesMerged > 0) parts.push(`${plural(s.duplicatesMerged, 'duplicate')} merged (frames seen by several views)`)
  const total = s.messages + s.errors
  if (shown !== total) parts.push(`${shown} of ${total} rows shown`)
  return parts.join(', ')
}

export function renderMessages(r: ControlReport, rows: ControlRow[]): string {
  const out: string[] = []
  const multi = r.files.length > 1
  if (rows.length > 0) {
    const head = ['time', ...(multi ? ['file'] : []), 'frame', 'sender → receiver', 'type', 'hid', 'details']
    out.push(table(head, rows.map((x) => {
      const type = x.kind === 'error' ? color.red(x.type) : x.type
      const frame = x.duplicates > 0 ? `${x.frame} (+${x.duplicates})` : String(x.frame)
      return [
        formatTimeOfDay(x.tsSec, x.tsNsec, 6), ...(multi ? [x.file] : []), frame,
        `${endpoint(x.sender)} → ${endpoint(x.receiver)}`, type, (x.kind === 'message' ? x.hid : undefined) ?? '-', details(x),
      ]
    }), {align: ['left', ...(multi ? ['left' as const] : []), 'right', 'left', 'left', 'left', 'left']}))
  } else {
    out.push(color.dim(r.rows.length === 0 ? `no control-channel frames (TCP port ${r.port}) found` : 'no frames match the filters'))
  }
  if (r.notes.length > 0) {
    out.push('')
    for (const n of r.notes) out.push(color.dim(`note: ${n.connection} ${n.direction}, frame ${n.frame}: ${n.detail}`))
  }
  out.push('')
  out.push(summaryLine(r, rows.length))
  return out.join('\n')
}
