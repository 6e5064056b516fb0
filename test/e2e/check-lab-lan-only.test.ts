// Every lab run as a user's own LAN capture would hold it: one interface, no
// name (a pcap file called capture.pcap), the control channel on the same
// wire as the data. The view is placed by its traffic (LAN), each fault's id
// is still found, and nothing is reported that the full recording (client
// side, LAN, every node inside, control) does not report too — except what a
// LAN cannot show: window-rescale needs the BE's window before its rewrite,
// which only a view inside the BE has.
import {test} from 'node:test'
import assert from 'node:assert/strict'
import {execFileSync} from 'node:child_process'
import {mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {gunzipSync} from 'node:zlib'
import {runCheck} from '../../analyzer/check.js'
import {hasCommand, repoRoot, requireOrSkip} from '../support/env.js'

const dir = mkdtempSync(join(tmpdir(), 'handoff-lan-only-'))
process.on('exit', () => rmSync(dir, {recursive: true, force: true}))

const labDir = join(repoRoot, 'samples', 'traces')
for (const run of readdirSync(labDir).filter((d) => d.startsWith('lab-'))) {
  test(`${run}: the LAN and control interfaces alone, as one unnamed pcap`, async (t) => {
    if (!requireOrSkip(t, hasCommand('tshark'), 'tshark not installed (writes the one-interface pcap)')) return
    const full = join(dir, `${run}.pcapng`)
    writeFileSync(full, gunzipSync(readFileSync(join(labDir, run, 'lab.pcapng.gz'))))
    const lan = join(dir, run, 'capture.pcap')
    execFileSync('mkdir', ['-p', join(dir, run)])
    execFileSync('tshark', ['-r', full, '-Y', 'frame.interface_name == "lan" || frame.interface_name == "control"', '-F', 'pcap', '-w', lan],
      {stdio: 'ignore'})
    const a = await runCheck([full])
    const b = await runCheck([lan])
    assert.deepEqual(b.views.map((v) => `${v.vantage}/${v.from}`), ['lan/traffic'])
    assert.equal(b.summary.handoffs, a.summary.handoffs)
    const fault = run.slice('lab-'.length)
    const idsA = Object.keys(a.summary.byId)
    const idsB = Object.keys(b.summary.byId)
    if (fault === 'clean') assert.deepEqual(idsB, [])
    else if (fault === 'window-rescale') assert.ok(!idsB.includes(fault))
    else assert.ok(idsB.includes(fault), `${fault} not found: ${JSON.stringify(b.summary.byId)}`)
    assert.deepEqual(idsB.filter((id) => !idsA.includes(id)), [], `reported from the LAN only: ${JSON.stringify(b.summary.byId)} vs ${JSON.stringify(a.summary.byId)}`)
  })
}
