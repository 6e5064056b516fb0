// `lab run --fault ID`: the daemons break exactly one rule on every 4th
// handoff, the summary records the fault and how often it was applied, the
// trace shows it, breakage is counted (never hidden), and the next run
// without --fault is clean again.
import {test} from 'node:test'
import assert from 'node:assert/strict'
import {mkdtempSync, readFileSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {execFileSync, spawnSync} from 'node:child_process'
import {randomBytes} from 'node:crypto'
import {existsSync} from 'node:fs'
import {cliBin, hasCommand, isRoot, requireOrSkip} from '../support/env.js'
import type {TestContext} from 'node:test'
import {canRunLab, cli, downQuietly, labId, labNamespaces, leftovers} from '../support/lab.js'

function tsharkCount(pcap: string, filter: string): number {
  const out = execFileSync('tshark', ['-r', pcap, '-o', 'tcp.check_checksum:TRUE', '-o', 'ip.check_checksum:TRUE', '-Y', filter, '-T', 'fields', '-e', 'frame.number'],
    {encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'], maxBuffer: 64 << 20})
  return out.split('\n').filter((l) => l).length
}

test('lab run --fault: recorded, applied, visible in the trace, and gone afterwards', {timeout: 90000}, async (t) => {
  if (!canRunLab(t, ['tshark'])) return
  const id = labId()
  const dir = mkdtempSync(join(tmpdir(), 'handoff-lab-fault-'))
  try {
    const up = cli(['lab', 'up', '--nodes', '3', '--id', id])
    assert.equal(up.status, 0, `lab up failed: ${up.stderr}${up.stdout}`)
    const runFault = (fault: string) => {
      const out = join(dir, fault)
      const r = cli(['lab', 'run', '--id', id, '--requests', '24', '--concurrency', '8', '--timeout', '3000', '--fault', fault, '--record', out, '--json'])
      const s = JSON.parse(r.stdout)
      assert.equal(s.fault, fault)
      assert.ok(s.faultsApplied > 0, `${fault} was never applied`)
      assert.equal(JSON.parse(readFileSync(join(out, 'summary.json'), 'utf8')).fault, fault)
      return {status: r.status, s, pcap: join(out, 'lab.pcapng')}
    }

    // A wrong TCP checksum on the first return data segment: the client drops it, the BE retransmits.
    const ck = runFault('tcp-checksum')
    assert.equal(ck.status, 0, JSON.stringify(ck.s.failureSamples))
    assert.equal(ck.s.ok, 24)
    assert.ok(tsharkCount(ck.pcap, 'frame.interface_name == "client" && tcp.checksum.status == 0') > 0, 'no bad TCP checksum reached the client')

    // The FE's local reset leaks to the client. Whether the client accepts it
    // depends on a race (the BE's first return segment may arrive first and
    // move the client's window past the RST's seq); either way every request
    // is accounted for, and any failure makes the run exit 1.
    const rst = runFault('rst-leak')
    assert.equal(rst.s.failures + rst.s.stalls + rst.s.ok, 24)
    assert.equal(rst.status, rst.s.failures + rst.s.stalls > 0 ? 1 : 0)
    assert.ok(tsharkCount(rst.pcap, 'frame.interface_name == "client" && tcp.flags.reset == 1 && tcp.srcport == 80') > 0)

    // ciss + 1 in handoff-req: nothing breaks on the wire.
    const isn = runFault('isn-mismatch')
    assert.equal(isn.status, 0)
    assert.equal(isn.s.ok, 24)

    // Without --fault the daemons behave again.
    const clean = cli(['lab', 'run', '--id', id, '--requests', '30', '--concurrency', '8', '--json'])
    assert.equal(clean.status, 0, clean.stdout.slice(0, 2000))
    const c = JSON.parse(clean.stdout)
    assert.equal(c.ok, 30)
    assert.equal(c.faultsApplied, 0)
    assert.equal(c.fault, undefined)

    const bad = cli(['lab', 'run', '--id', id, '--requests', '1', '--fault', 'no-such-fault'])
    assert.equal(bad.status, 2)
    assert.match(bad.stderr, /Expected --fault=no-such-fault to be one of/)

    assert.equal(cli(['lab', 'down', '--id', id]).status, 0)
    assert.deepEqual(leftovers(id), [])
  } finally {
    downQuietly(id)
    rmSync(dir, {recursive: true, force: true})
  }
})
