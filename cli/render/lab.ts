// Human output of the `lab` commands.
import type {LabState} from '../../samples/lab/config.js'
import type {DownResult, LabStatus} from '../../samples/lab/topology.js'
import type {RunSummary} from '../../samples/lab/run.js'
import {color} from './color.js'
import {table} from './table.js'

export function renderLabUp(st: LabState): string {
  const lines = [`lab ${color.bold(st.id)} is up: ${st.nodes.length} node(s), client ${st.client.addrs.join(', ')} in ${st.client.ns}`]
  lines.push(table(['node', 'address', 'mac', 'control', 'daemon pid', 'server pid'],
    st.nodes.map((n) => [n.name, n.addr, n.mac, n.ctlAddr, n.daemonPid ?? '-', n.serverPid ?? '-']), {align: left(6)}))
  lines.push(`partition: ${Object.entries(st.partition).map(([p, n]) => `${p} → ${n}`).join(', ')}; other paths: hash mod ${st.nodes.length}`)
  if (st.fault) lines.push(color.yellow(`fault: ${st.fault} (the daemons break this rule on purpose)`))
  lines.push(`try: ip netns exec ${st.client.ns} curl -s http://${st.nodes[0].addr}/api/x | head -1`)
  return lines.join('\n')
}

export function renderLabDown(rs: DownResult[]): string {
  if (rs.length === 0) return 'no lab to remove'
  return rs.map((r) => `lab ${r.id} removed: ${r.namespaces.length} namespace(s) deleted, ${r.killed.length} process(es) killed`).join('\n')
}

const SHOWN = ['relayedFromLan', 'relayedFromStack', 'connections', 'local', 'handoffsOut', 'acksReceived', 'nacksReceived', 'handoffTimeouts',
  'handoffsIn', 'acksSent', 'nacksSent', 'synackSwallowed', 'forwarded', 'returned', 'rstInjected', 'absorbed', 'absorbedAfterTerminate', 'terminatesSent',
  'terminatesReceived', 'staleTimeouts', 'faultsApplied', 'rewriteErrors', 'injectErrors'] as const

export function renderLabStatus(ss: LabStatus[]): string {
  if (ss.length === 0) return 'no lab is up (handoff lab up starts one)'
  const out: string[] = []
  for (const s of ss) {
    const missing = s.namespaces.filter((n) => !n.present)
    out.push(`lab ${color.bold(s.id)} (since ${s.createdAt}), client ${s.client.addrs.join(', ')} ${s.client.mac} in ${s.client.ns}` +
      (missing.length > 0 ? color.red(` — missing namespaces: ${missing.map((n) => n.name).join(', ')}`) : ''))
    out.push(table(['node', 'address', 'mac', 'control', 'daemon', 'server', 'peers'], s.nodes.map((n) => [
      n.name, n.addr, n.mac, n.ctlAddr,
      `${n.daemonPid ?? '-'} ${n.daemonAlive ? color.green('up') : color.red('down')}`,
      `${n.serverPid ?? '-'} ${n.serverAlive ? color.green('up') : color.red('down')}`,
      n.status ? n.status.peers.join(',') || '-' : '-',
    ]), {align: left(7)}))
    const rows: (string | number)[][] = SHOWN.map((c) => [c, ...s.nodes.map((n) => n.status?.counters[c] ?? '-')])
    rows.push(['active FE / BE', ...s.nodes.map((n) => (n.status ? `${n.status.activeFe} / ${n.status.activeBe}` : '-'))])
    rows.push(['handoff p50 / p99', ...s.nodes.map((n) => (n.latency && n.latency.samples > 0 ? `${ms(n.latency.p50Us)} / ${ms(n.latency.p99Us)}` : '-'))])
    out.push(table(['counter', ...s.nodes.map((n) => n.name)], rows, {align: ['left', ...s.nodes.map(() => 'right' as const)]}))
    if (s.fault) out.push(color.yellow(`fault: ${s.fault}`))
  }
  return out.join('\n')
}

/** cli-table3 needs an alignment for every column. */
function left(n: number): ('left' | 'right')[] {
  return Array.from({length: n}, () => 'left' as const)
}

function ms(us: number | null): string {
  return us === null ? '-' : `${(us / 1000).toFixed(3)} ms`
}

export function renderRunSummary(r: RunSummary): string {
  const ok = r.failures === 0 && r.stalls === 0
  const lines = [
    `${r.requests} requests at concurrency ${r.concurrency} in ${r.elapsedSec.toFixed(2)} s: ${r.requestsPerSec.toFixed(0)} requests/s` +
      (r.fault ? color.yellow(` (fault: ${r.fault}, applied ${r.faultsApplied} time(s))`) : ''),
    `${ok ? color.green('all bodies correct') : color.red(`${r.failures} failure(s), ${r.stalls} stall(s)`)}; ` +
      `${r.handoffs} handed off, ${r.localServices} served locally, ${r.nacks} nack(s), ${r.handoffTimeouts} handoff timeout(s)`,
    `handoff latency (client SYN → handoff-ack): p50 ${ms(r.latency.p50Us)}, p99 ${ms(r.latency.p99Us)}, max ${ms(r.latency.maxUs)} over ${r.latency.count}`,
    `handed-off requests/s: ${r.handoffsPerSec.toFixed(0)}`,
  ]
  lines.push(table(['node', 'served', 'handoffs as FE', 'handoffs in (BE)', 'local'], r.perNode.map((n) => [n.name, n.served, n.handoffsOut, n.handoffsIn, n.local]),
    {align: ['left', 'right', 'right', 'right', 'right']}))
  for (const f of r.failureSamples) lines.push(color.red(`  ${f}`))
  if (r.record) lines.push(`trace: ${r.record.pcapng} (${r.record.packets} packets on ${r.record.interfaces.join(', ')}); summary: ${r.record.summary}`)
  return lines.join('\n')
}
