// `handoff replay --write` over the lab's sample traces (the real CLI), and
// `handoff check` on what it wrote (test/fixtures/replay/make-lab-goldens.ts
// says which runs and why; it regenerates the goldens):
//  - the output equals the committed golden byte for byte (gunzipped), and a
//    second run gives the same bytes (UPDATE_GOLDEN=1 rewrites the goldens);
//  - `handoff check` on the output alone: only what the case expects (nothing
//    for lab-clean and for the data-path faults, the control-borne fault for
//    request-replay), every forwarded and return segment judged packet by
//    packet and matched, the interfaces recognised by name;
//  - the same check on the input trace does report the fault: the replay
//    rewrote correctly what the faulty daemons did not;
//  - each client segment is forwarded once (the lab's traces hold two or
//    three copies of it, one per vantage point), nothing after the terminate,
//    and the packets written as captured are the trace's frames byte for byte;
//  - a forwarded segment with a wrong ack, checksums fixed, is caught: the
//    clean verdict is not the checker looking away;
//  - every lab trace (in process, the faulty handoffs): the checker on the
//    replay reports exactly the control-borne faults, nothing else.
import {test} from 'node:test'
import assert from 'node:assert/strict'
import {spawnSync} from 'node:child_process'
import {mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {gunzipSync, gzipSync} from 'node:zlib'
import {readCaptureSync} from '../../analyzer/capture/read.js'
import {extractControlMessages} from '../../analyzer/control/channels.js'
import {tcpOrUdpChecksum} from '../../analyzer/wire/checksum.js'
import {PacketDecoder} from '../../analyzer/wire/decode.js'
import {runCheck} from '../../analyzer/check.js'
import {replayToFile} from '../../replayer/replay.js'
import {cliBin, repoRoot} from '../support/env.js'
import {goldenPath, LAB_GOLDENS, labTrace, replayArgs} from '../fixtures/replay/make-lab-goldens.js'

const LEG_IFACES = ['forwarded-lan', 'be-inside', 'return-client']

interface Pkt {
  iface: string
  frame: number
  t: number
  data: Uint8Array
  comment: string
  /** Byte offset of the packet block in the (uncompressed) file. */
  fileOffset: number
}

function readAll(path: string): Pkt[] {
  const out: Pkt[] = []
  const names: string[] = []
  readCaptureSync(path, {
    onInterface: (i) => names.push(i.name ?? ''),
    onPacket: (r) => out.push({iface: names[r.interfaceId], frame: r.index, t: r.tsSec * 1e9 + r.tsNsec, data: r.data.slice(),
      comment: r.comments?.[0] ?? '', fileOffset: r.fileOffset}),
  })
  return out
}

function cli(args: string[]): {code: number; out: string; err: string} {
  const r = spawnSync(process.execPath, [cliBin, ...args], {encoding: 'utf8', env: {...process.env, NO_COLOR: '1'}, maxBuffer: 64 << 20})
  return {code: r.status ?? -1, out: r.stdout, err: r.stderr}
}

interface CheckJson {
  summary: {errors: number; warnings: number; byId: Record<string, number>}
  views: {name: string; vantage: string; from: string}[]
  handoffs: {hid: string; packetByPacket: {forward: number; forwardMatched: number; ret: number; retMatched: number}}[]
  violations: {id: string; frame: number; hid?: string}[]
}

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex')

for (const g of LAB_GOLDENS) {
  const name = `lab-${g.run}${g.hids.length > 0 ? ` (${g.hids.join(', ')})` : ''}`

  test(`${name}: --write output equals the golden, is deterministic, and handoff check on it alone is ${Object.keys(g.expect).length === 0 ? 'clean' : JSON.stringify(g.expect)}, packet by packet`, () => {
    const dir = mkdtempSync(join(tmpdir(), 'handoff-replay-lab-'))
    try {
      const out = join(dir, 'out.pcapng')
      const r = cli([...replayArgs(g, out), '--json'])
      assert.equal(r.code, 0, r.err)
      const res = JSON.parse(r.out)
      if (process.env.UPDATE_GOLDEN === '1') writeFileSync(goldenPath(g.run), gzipSync(readFileSync(out), {level: 9}))
      assert.ok(readFileSync(out).equals(gunzipSync(readFileSync(goldenPath(g.run)))), `${out} differs from ${goldenPath(g.run)}`)
      const again = join(dir, 'again.pcapng')
      assert.equal(cli(replayArgs(g, again)).code, 0)
      assert.ok(readFileSync(again).equals(readFileSync(out)), 'two runs wrote different bytes')

      const selected: string[] = res.handoffs.map((h: {hid: string}) => h.hid)
      if (g.hids.length > 0) assert.deepEqual([...selected].sort(), [...g.hids].sort())
      else assert.equal(selected.length, 12)
      const c = cli(['check', out, '--json'])
      const rep = JSON.parse(c.out) as CheckJson
      assert.deepEqual(rep.summary.byId, g.expect, JSON.stringify(rep.violations.slice(0, 5)))
      assert.equal(c.code, Object.keys(g.expect).length === 0 ? 0 : 1, c.err)
      assert.deepEqual(rep.views.map((v) => `${v.name}=${v.vantage}/${v.from}`), ['forwarded-lan=lan/name', 'be-inside=inside/name',
        'return-client=client/name', 'control=control/name', 'captured-client=client/name', 'captured-be-inside=inside/name'])
      // Packet by packet: every written forwarded and return segment judged against its origin, and matched.
      let fwd = 0
      let ret = 0
      for (const h of rep.handoffs) {
        const p = h.packetByPacket
        assert.equal(p.forwardMatched, p.forward, h.hid)
        assert.equal(p.retMatched, p.ret, h.hid)
        // The control connections come whole: handoffs not selected are known to the checker, without segments.
        if (!selected.includes(h.hid)) assert.equal(p.forward + p.ret, 0, h.hid)
        else assert.ok(p.forward > 0 && p.ret > 0, h.hid)
        fwd += p.forward
        ret += p.ret
      }
      assert.equal(fwd, res.output.legs.forwarded)
      assert.equal(ret, res.output.legs.return)
      assert.ok(fwd > 20 && ret > 30, `${fwd} forwarded, ${ret} return`)
    } finally {
      rmSync(dir, {recursive: true, force: true})
    }
  })

  if (g.inputHas.length > 0) {
    test(`${name}: handoff check on the input trace does report ${g.inputHas.join(', ')} on the handoffs replayed`, () => {
      const c = cli(['check', labTrace(g.run), '--json'])
      assert.equal(c.code, 1, c.err)
      const rep = JSON.parse(c.out) as CheckJson
      for (const id of g.inputHas) {
        const on = new Set(rep.violations.filter((v) => v.id === id).map((v) => v.hid))
        assert.ok(g.hids.every((h) => on.has(h)), `${id} on ${[...on].join(', ')}`)
      }
    })
  }

  test(`${name}: each client segment forwarded once, none after the terminate; the packets written as captured are the trace's frames`, async () => {
    const dir = mkdtempSync(join(tmpdir(), 'handoff-replay-lab-'))
    try {
      const file = join(dir, 'golden.pcapng')
      writeFileSync(file, gunzipSync(readFileSync(goldenPath(g.run))))
      const pkts = readAll(file)
      const input = readAll(labTrace(g.run))
      const fwd = pkts.filter((p) => p.iface === 'forwarded-lan')
      assert.equal(new Set(fwd.map((p) => hex(p.data))).size, fwd.length, 'a forwarded segment was written twice')
      assert.equal(new Set(fwd.map((p) => p.comment)).size, fwd.length)
      // The FE leaves forwarding mode at the terminate (as the control channel written next to the legs shows it).
      const terms = new Map<string, number>()
      for (const r of (await extractControlMessages(file)).rows) {
        if (r.kind === 'message' && r.type === 'terminate' && r.hid !== undefined && !terms.has(r.hid)) terms.set(r.hid, r.tsSec * 1e9 + r.tsNsec)
      }
      for (const p of fwd) {
        const hid = p.comment.split(' ')[0]
        assert.ok(terms.has(hid) && p.t < terms.get(hid)!, `${p.comment}: forwarded after the terminate of ${hid}`)
      }
      // The client's segments come from one view: the lab's client side (interface 0), the BE's from its inside view.
      for (const p of pkts.filter((x) => x.iface === 'captured-client')) assert.equal(input[Number(/#(\d+) /.exec(p.comment)![1]) - 1].iface, 'client')
      for (const p of pkts.filter((x) => x.iface === 'captured-be-inside')) assert.match(input[Number(/#(\d+) /.exec(p.comment)![1]) - 1].iface, /^n\d-inside$/)
      let captured = 0
      for (const p of pkts) {
        if (LEG_IFACES.includes(p.iface)) continue
        const m = /← lab\.pcapng\.gz#(\d+) \(as captured\)$/.exec(p.comment)
        assert.ok(m, p.comment)
        const src = input[Number(m[1]) - 1]
        assert.equal(hex(p.data), hex(src.data), p.comment)
        assert.equal(p.t, src.t)
        captured++
      }
      assert.ok(captured > 100)
    } finally {
      rmSync(dir, {recursive: true, force: true})
    }
  })
}

test('lab-ack-remap: the client segments after the terminate are not forwarded (they would be late forwards, spec §2 step 11)', () => {
  const g = LAB_GOLDENS.find((x) => x.run === 'ack-remap')!
  const dir = mkdtempSync(join(tmpdir(), 'handoff-replay-lab-'))
  try {
    const r = cli([...replayArgs(g, join(dir, 'o.pcapng')), '--json'])
    assert.equal(r.code, 0, r.err)
    const res = JSON.parse(r.out) as {handoffs: {hid: string; afterTerminate: number; views: {client: string; be: string}}[]}
    assert.ok(res.handoffs.some((h) => h.afterTerminate > 0), JSON.stringify(res.handoffs))
    for (const h of res.handoffs) assert.equal(h.views.client, 'lab.pcapng.gz#0')
  } finally {
    rmSync(dir, {recursive: true, force: true})
  }
})

test('lab-clean: one forwarded segment given a wrong ack (checksum fixed) in the written file → handoff check reports ack-remap there', () => {
  const dir = mkdtempSync(join(tmpdir(), 'handoff-replay-lab-'))
  try {
    const file = join(dir, 'bad.pcapng')
    const bytes = gunzipSync(readFileSync(goldenPath('clean')))
    const pkts = readAll((writeFileSync(file, bytes), file))
    const victim = pkts.find((p) => p.iface === 'forwarded-lan' && p.comment.startsWith('n2/2 '))!
    const dec = new PacketDecoder()
    dec.decode(1, victim.data, victim.data.length, victim.data.length)
    // Enhanced Packet Block: the frame starts 28 bytes into the block.
    const at = victim.fileOffset + 28
    assert.equal(hex(bytes.subarray(at, at + victim.data.length)), hex(victim.data))
    const ackOff = at + dec.l4Offset + 8
    bytes.writeUInt32BE((bytes.readUInt32BE(ackOff) + 1) >>> 0, ackOff)
    const l4Len = dec.ipEnd - dec.l4Offset
    bytes.writeUInt16BE(tcpOrUdpChecksum(bytes, at + dec.ipOffset, at + dec.l4Offset, l4Len, 6), at + dec.l4Offset + 16)
    writeFileSync(file, bytes)
    const c = cli(['check', file, '--json'])
    assert.equal(c.code, 1, c.err)
    const rep = JSON.parse(c.out) as CheckJson
    assert.deepEqual(rep.summary.byId, {'ack-remap': 1})
    assert.equal(rep.violations[0].frame, victim.frame)
  } finally {
    rmSync(dir, {recursive: true, force: true})
  }
})

test('every lab trace: handoff check on the replay of its faulty handoffs reports exactly the faults the control channel carries', async () => {
  // Faults of the data path (the FE's forward rewrite, the BE's return rewrite, leaks, late forwards) are
  // not in the replay: it rewrites from the control state and the BE's own segments. Faults in the control
  // messages come along with the control channel, as captured.
  const controlBorne: Record<string, string> = {'isn-mismatch': 'isn-mismatch', 'request-replay': 'request-replay', 'handoff-orphan': 'handoff-orphan'}
  const runs = readdirSync(join(repoRoot, 'samples', 'traces')).filter((d) => d.startsWith('lab-')).map((d) => d.slice(4)).sort()
  assert.equal(runs.length, 15)
  const dir = mkdtempSync(join(tmpdir(), 'handoff-replay-lab-'))
  try {
    for (const run of runs) {
      const out = join(dir, `${run}.pcapng`)
      const res = await replayToFile({traces: [labTrace(run)], selection: {hids: ['n1/1', 'n2/1', 'n3/1']}}, out)
      const rep = await runCheck([out])
      const id = controlBorne[run]
      assert.deepEqual(rep.summary.byId, id !== undefined ? {[id]: 3} : {}, `${run}: ${JSON.stringify(rep.violations.slice(0, 3))}`)
      const judged = rep.handoffs.reduce((a, h) => [a[0] + h.packetByPacket.forwardMatched, a[1] + h.packetByPacket.retMatched], [0, 0])
      assert.deepEqual(judged, [res.output.legs.forwarded, res.output.legs.return], run)
    }
  } finally {
    rmSync(dir, {recursive: true, force: true})
  }
})

test('lab-clean --leg be-inside: the checker judges the BE-inside leg packet by packet too (it judges one forward view, the LAN when there is one)', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'handoff-replay-lab-'))
  try {
    const out = join(dir, 'be-inside.pcapng')
    const res = await replayToFile({traces: [labTrace('clean')], legs: ['be-inside']}, out)
    const rep = await runCheck([out])
    assert.deepEqual(rep.summary.byId, {})
    const n = res.output.legs['be-inside']!
    assert.ok(n > 100)
    // The replayed SYN, ACK and request included: judged against the client's own, written as captured.
    assert.equal(rep.handoffs.reduce((a, h) => a + h.packetByPacket.forward, 0), n)
    assert.equal(rep.handoffs.reduce((a, h) => a + h.packetByPacket.forwardMatched, 0), n)
  } finally {
    rmSync(dir, {recursive: true, force: true})
  }
})
