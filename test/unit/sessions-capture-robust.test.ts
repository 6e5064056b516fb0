// `sessions` on what other capture tools make of the same traffic
// (test/support/trace-transform.ts): other link types, several pcapng
// sections, IP fragments, Ethernet padding, IPv4 options and IPv6
// extension headers, frames cut by the snap length. One row per session and
// view, and its kind, state, history, packets and bytes, must be the same as
// for the original trace.
import {test} from 'node:test'
import assert from 'node:assert/strict'
import {mkdtempSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {collectSessions} from '../../analyzer/sessions/collect.js'
import {buildHandoffTrace} from '../support/handoff-trace.js'
import {
  decodeFrame, fragmentIpv4, fragmentIpv6, loadTrace, mapFrames, padFrame, relink, withIpv4Options, withIpv6ExtHeaders, writePcapng, type PcapngOptions, type Trace,
} from '../support/trace-transform.js'

const dir = mkdtempSync(join(tmpdir(), 'handoff-sessions-robust-'))
process.on('exit', () => rmSync(dir, {recursive: true, force: true}))
let n = 0

async function rows(t: Trace, o: PcapngOptions = {}): Promise<string[]> {
  const p = writePcapng(join(dir, `t${++n}.pcapng`), t, o)
  const r = await collectSessions([p], {}, {perView: true})
  assert.equal(r.mode, 'per-view')
  return r.rows.map((x) => [x.interfaceName, x.kind, x.hid, x.client, x.clientPort, x.server, x.serverPort, x.state, x.history,
    JSON.stringify(x.packets), JSON.stringify(x.payloadBytes), JSON.stringify(x.anomalies)].join(' ')).sort()
}

for (const family of [4, 6] as const) {
  const path = join(dir, `base${family}.pcapng`)
  buildHandoffTrace(path, {family})
  const t = loadTrace(path)
  const want = rows(t)
  const VIEWS = ['client', 'lan', 'fe1-inside', 'be1-inside', 'control']
  const CASES: Record<string, () => Promise<string[]>> = {
    'every interface SLL2': () => rows(relink(t, Object.fromEntries(VIEWS.map((v) => [v, 'sll2'])))),
    'a different link type per interface': () => rows(relink(t, {client: 'sll', lan: 'qinq', 'fe1-inside': 'loop', 'be1-inside': 'raw', control: 'null-le'})),
    'a new section every 40 frames': () => rows(t, {sectionBreaks: [39, 79, 119, 159, 199]}),
    'Ethernet padding': () => rows(mapFrames(t, null, (d) => (d.length < 60 ? [padFrame(d)] : null))),
    'IP options / extension headers': () => rows(mapFrames(t, null, (d) => [family === 4 ? withIpv4Options(d) : withIpv6ExtHeaders(d)])),
    'data frames cut past their headers (snap length)': () => rows(t, {snaplen: family === 4 ? 70 : 90, snaplenIfaces: VIEWS.slice(0, 4)}),
  }
  CASES[`data segments in IPv${family} fragments`] = () => rows(mapFrames(t, ['client', 'lan', 'be1-inside'], (d) => {
    const x = decodeFrame(d)
    return x.transport === 'tcp' && x.payloadWireLen > 0 ? (family === 4 ? fragmentIpv4 : fragmentIpv6)(d, 16) : null
  }))
  for (const [name, f] of Object.entries(CASES)) {
    test(`sessions, IPv${family}: ${name} → the same rows`, async () => {
      assert.deepEqual(await f(), await want)
    })
  }
}
