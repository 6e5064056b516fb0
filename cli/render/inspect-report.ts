// Text rendering of an InspectReport (what `handoff inspect FILE` prints).
import type {ChecksumCounts, InspectReport} from '../../analyzer/inspect/summary.js'
import {color} from './color.js'
import {table} from './table.js'
import {humanBytes, humanDuration, percent} from './units.js'

function kv(label: string, value: string): string {
  return `${color.dim(label.padEnd(16))}${value}`
}

function checksumLine(name: string, c: ChecksumCounts): string | null {
  const checked = c.good + c.bad + c.partial + c.unverified
  if (checked === 0) return null
  const parts = [`${c.good} good`]
  parts.push(c.bad > 0 ? color.red(`${c.bad} bad`) : '0 bad')
  if (c.partial > 0) parts.push(`${c.partial} left to offload (not errors)`)
  if (c.unverified > 0) parts.push(`${c.unverified} unverified`)
  let line = `${name.padEnd(5)} ${parts.join(', ')}`
  if (c.badFrames.length > 0) line += color.dim(`  (bad: frame ${c.badFrames.join(', ')}${c.bad > c.badFrames.length ? ', …' : ''})`)
  return line
}

export function renderInspectReport(r: InspectReport, maxConversations: number): string {
  const out: string[] = []
  out.push(kv('file', color.bold(r.file)))
  const order = r.byteOrder === 'mixed' ? 'mixed byte order' : `${r.byteOrder}-endian`
  const sections = r.format.startsWith('pcapng') ? `, ${r.sections} section${r.sections === 1 ? '' : 's'}` : ''
  out.push(kv('format', `${r.format} ${r.version}, ${order}${sections}${r.gzip ? ', gzip-compressed' : ''}`))
  if (r.application) out.push(kv('written by', r.application))
  for (const c of r.comments) out.push(kv('comment', c))
  out.push(kv('packets', `${r.packets}` + (r.snaplenTruncated > 0 ? ` (${r.snaplenTruncated} cut by the snap length)` : '')))
  out.push(kv('bytes', `${humanBytes(r.capturedBytes)} captured, ${humanBytes(r.wireBytes)} on the wire`))
  if (r.first !== null && r.last !== null) {
    out.push(kv('first packet', r.first))
    out.push(kv('last packet', r.last))
    out.push(kv('duration', humanDuration(r.durationSec)))
    if (r.durationSec > 0) {
      out.push(kv('average rate', `${(r.packets / r.durationSec).toFixed(1)} packets/s, ${humanBytes(Math.round(r.wireBytes / r.durationSec))}/s`))
    }
  }
  if (r.untimed > 0) out.push(kv('no timestamp', `${r.untimed} packets (pcapng simple packet blocks)`))
  out.push('')
  out.push(color.bold(`interfaces (${r.interfaces.length})`))
  out.push(table(['id', 'name', 'link type', 'snaplen', 'ts', 'packets', 'bytes'],
    r.interfaces.map((i) => [i.id, i.name ?? '-', `${i.linkTypeName} (${i.linkType})`, i.snapLen || '-', i.tsResolution, i.packets, humanBytes(i.bytes)]),
    {align: ['right', 'left', 'left', 'right', 'left', 'right', 'right']}))
  if (r.protocols.length > 0) {
    out.push('')
    out.push(color.bold('protocols'))
    out.push(table(['protocol', 'packets', 'share', 'bytes'],
      r.protocols.map((p) => [p.protocol, p.packets, percent(p.packets, r.packets), humanBytes(p.bytes)]),
      {align: ['left', 'right', 'right', 'right']}))
  }
  const tcpConvs = r.conversations.filter((c) => c.proto === 'tcp')
  if (tcpConvs.length > 0) {
    out.push('')
    out.push(color.bold(`TCP conversations (${tcpConvs.length})`) + (tcpConvs.length > maxConversations ? color.dim(`  the ${maxConversations} largest; --conversations N for more`) : ''))
    const top = [...tcpConvs].sort((a, b) => (b.bytesAB + b.bytesBA) - (a.bytesAB + a.bytesBA) || a.firstFrame - b.firstFrame).slice(0, maxConversations)
    out.push(table(['A', 'B', 'packets A→B', 'packets B→A', 'payload A→B', 'payload B→A', 'flags', 'first frame'],
      top.map((c) => [
        `${c.a}:${c.aPort}`, `${c.b}:${c.bPort}`, c.packetsAB, c.packetsBA, humanBytes(c.payloadAB), humanBytes(c.payloadBA),
        [c.syn ? 'SYN' : '', c.synAck ? 'SYN/ACK' : '', c.fin > 0 ? 'FIN' : '', c.rst > 0 ? 'RST' : ''].filter(Boolean).join(' ') || '-',
        c.firstFrame,
      ]),
      {align: ['left', 'left', 'right', 'right', 'right', 'right', 'left', 'right']}))
  }
  if (r.udpConversations > 0) out.push(kv('UDP', `${r.udpConversations} conversation${r.udpConversations === 1 ? '' : 's'}`))
  const sums = [checksumLine('ipv4', r.checksums.ip), checksumLine('tcp', r.checksums.tcp), checksumLine('udp', r.checksums.udp)].filter((l): l is string => l !== null)
  if (sums.length > 0) {
    out.push('')
    out.push(color.bold('checksums'))
    out.push(...sums)
  }
  if (r.anomalies.length > 0) {
    out.push('')
    out.push(color.bold('anomalies'))
    out.push(table(['anomaly', 'packets', 'first frame'], r.anomalies.map((a) => [a.anomaly, a.packets, a.firstFrame]), {align: ['left', 'right', 'right']}))
  }
  for (const w of r.warnings) out.push(color.yellow(`warning: ${w.message}`))
  if (r.error) out.push('', color.red(`error: ${r.error.message}`) + color.dim(` — the figures above cover everything before byte ${r.error.offset}`))
  return out.join('\n')
}
