// `handoff replay TRACE --write FILE`, the real CLI, over the synthetic traces
// of test/fixtures/replay (see make-fixtures.ts):
//  - the output equals the committed golden byte for byte (set
//    UPDATE_GOLDEN=1 to rewrite the goldens after a deliberate change);
//  - every packet of it decodes and its checksums recompute (our decoder, and
//    tshark's verdict when tshark is installed);
//  - values checked by hand against Δ and τ for several packets, and whole
//    legs against the copies the fixture script computed from the spec's
//    formulas (not with the engine);
//  - the fixture script itself is deterministic (it rebuilds the committed
//    fixtures byte for byte);
//  - the file is checkable on its own: `handoff check` on it judges every
//    forwarded and return segment packet by packet (against the captured
//    packets the file carries next to the legs) and finds nothing; the
//    captured packets are the input's frames byte for byte; --legs-only
//    leaves them out and keeps the legs identical;
//  - errors: no control channel, an unknown --hid, pcap with mixed link types.
import {test} from 'node:test'
import assert from 'node:assert/strict'
import {execFileSync, spawnSync} from 'node:child_process'
import {copyFileSync, mkdtempSync, readFileSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {readCaptureSync} from '../../analyzer/capture/read.js'
import {PacketDecoder} from '../../analyzer/wire/decode.js'
import {cliBin, hasCommand, repoRoot, requireOrSkip, sharedCaptures} from '../support/env.js'
import {buildFixture, T0, u32, values, writeFixture} from '../fixtures/replay/make-fixtures.js'
import {loadTrace, writePcapng} from '../support/trace-transform.js'

const dir = join(repoRoot, 'test', 'fixtures', 'replay')

interface Pkt {
  iface: string
  linkType: number
  tsSec: number
  tsNsec: number
  data: Uint8Array
  comments: string[]
}

function readAll(path: string): Pkt[] {
  const out: Pkt[] = []
  const names: string[] = []
  readCaptureSync(path, {
    onInterface: (i) => names.push(i.name ?? ''),
    onPacket: (r) => out.push({iface: names[r.interfaceId], linkType: r.linkType, tsSec: r.tsSec, tsNsec: r.tsNsec, data: r.data.slice(), comments: r.comments ?? []}),
  })
  return out
}

function cli(args: string[], cwd = dir): {code: number; out: string; err: string} {
  const r = spawnSync(process.execPath, [cliBin, ...args], {cwd, encoding: 'utf8', env: {...process.env, NO_COLOR: '1'}})
  return {code: r.status ?? -1, out: r.stdout, err: r.stderr}
}

function tmp(): {dir: string; done: () => void} {
  const d = mkdtempSync(join(tmpdir(), 'handoff-replay-'))
  return {dir: d, done: () => rmSync(d, {recursive: true, force: true})}
}

const LEG_IFACES = ['forwarded-lan', 'be-inside', 'return-client']

const ipOf = (p: Pkt): Uint8Array => (p.linkType === 1 ? p.data.subarray(14) : p.data)
const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex')

for (const family of [4, 6] as const) {
  const trace = `handoff-v${family}.pcapng`
  const golden = join(dir, `handoff-v${family}.legs.pcapng`)

  test(`IPv${family}: --write output equals the golden byte for byte`, () => {
    const t = tmp()
    try {
      const out = join(t.dir, 'legs.pcapng')
      const r = cli(['replay', trace, '--write', out])
      assert.equal(r.code, 0, r.err)
      assert.match(r.out, /wrote .*legs\.pcapng \(pcapng\): 42 packets/)
      assert.match(r.out, /forwarded \(FE → BE\) 5, BE inside 8, return \(BE → client\) 6; every one of the 19 derived packets re-verified/)
      assert.match(r.out, /as captured, for handoff check: control channel 8, client 8, BE inside 7$/m)
      if (process.env.UPDATE_GOLDEN === '1') copyFileSync(out, golden)
      assert.ok(Buffer.from(readFileSync(out)).equals(readFileSync(golden)), `${out} differs from ${golden}`)
      // Deterministic: a second run gives the same bytes.
      const out2 = join(t.dir, 'again.pcapng')
      assert.equal(cli(['replay', trace, '--write', out2]).code, 0)
      assert.ok(readFileSync(out2).equals(readFileSync(out)))
    } finally {
      t.done()
    }
  })

  test(`IPv${family}: every written packet decodes with recomputed checksums good; interfaces named after the legs and vantage points`, (t) => {
    const pkts = readAll(golden)
    const dec = new PacketDecoder({verifyChecksums: true})
    for (const [i, p] of pkts.entries()) {
      dec.decode(p.linkType, p.data, p.data.length, p.data.length)
      assert.equal(dec.transport, 'tcp', `packet ${i + 1}`)
      if (family === 4) assert.equal(dec.ipChecksumStatus, 'good', `packet ${i + 1} IP checksum`)
      assert.equal(dec.l4ChecksumStatus, 'good', `packet ${i + 1} TCP checksum`)
      assert.equal(dec.anomalyCount, 0, `packet ${i + 1} anomalies`)
      const hid = `fe1/${family === 4 ? 1 : 2}`
      if (LEG_IFACES.includes(p.iface)) assert.match(p.comments[0] ?? '', new RegExp(`^${hid} ← (handoff-v${family}\\.pcapng#\\d+|handoff-req pkts\\[\\d\\])$`))
      else assert.match(p.comments[0] ?? '', new RegExp(`^(${hid}|control channel) ← handoff-v${family}\\.pcapng#\\d+ \\(as captured\\)$`))
    }
    assert.deepEqual([...new Set(pkts.map((p) => p.iface))].sort(), ['be-inside', 'captured-be-inside', 'captured-client', 'control', 'forwarded-lan', 'return-client'])
    if (!requireOrSkip(t, hasCommand('tshark'), 'tshark for the second opinion on checksums')) return
    const fields = execFileSync('tshark', ['-r', golden, '-o', 'ip.check_checksum:TRUE', '-o', 'tcp.check_checksum:TRUE',
      '-T', 'fields', '-e', 'tcp.checksum.status', '-e', 'ip.checksum.status', '-e', '_ws.expert.message'], {encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore']})
    const lines = fields.trim().split('\n')
    assert.equal(lines.length, 42)
    for (const l of lines) {
      const [tcpSt, ipSt] = l.split('\t')
      if (family === 4) assert.equal(ipSt, '1', l)
      assert.equal(tcpSt, '1', l)
      assert.doesNotMatch(l, /[Bb]ad checksum|[Mm]alformed/)
    }
  })

  test(`IPv${family}: values by hand against Δ and τ`, () => {
    const v = values(family)
    const delta = u32(v.biss - v.fiss)
    const tau = u32(v.bts - v.fts)
    const pkts = readAll(golden)
    const dec = new PacketDecoder()
    const fwd = pkts.filter((p) => p.iface === 'forwarded-lan')
    const ret = pkts.filter((p) => p.iface === 'return-client')
    const be = pkts.filter((p) => p.iface === 'be-inside')
    // First forwarded segment: the client's ACK of the first 1000 bytes, ack fiss+1+1000 (client view) → + Δ.
    dec.decode(fwd[0].linkType, fwd[0].data, fwd[0].data.length, fwd[0].data.length)
    assert.equal(dec.dstAddr(), v.baddr)
    assert.equal(dec.srcAddr(), v.cip)
    assert.equal(dec.ethDst(), v.bemac)
    assert.equal(dec.ack, u32(v.fiss + 1 + 1000 + delta))
    assert.equal(dec.ack, u32(v.biss + 1 + 1000))
    assert.equal(dec.tsEcr, u32(v.bts + 2)) // the client echoed fts-based bts+2−τ; + τ
    assert.equal(dec.tsVal, v.c0 + 2) // unchanged
    // Second: the SACK, edges across the 2^32 wrap in the client's numbering.
    dec.decode(fwd[1].linkType, fwd[1].data, fwd[1].data.length, fwd[1].data.length)
    assert.equal(dec.sackCount, 1)
    assert.ok(u32(v.fiss + 1 + 3000) < v.fiss, 'the fixture SACK edge wraps')
    assert.equal(dec.sackLeft(0), u32(v.fiss + 1 + 2000 + delta))
    assert.equal(dec.sackRight(0), u32(v.biss + 1 + 3000))
    // Return: the BE's ACK of the request (seq biss+1, TSval bts+1, window 1024 at wsB 5) as the client sees it.
    dec.decode(ret[0].linkType, ret[0].data, ret[0].data.length, ret[0].data.length)
    assert.equal(dec.srcAddr(), v.vip)
    assert.equal(dec.seq, u32(v.biss + 1 - delta))
    assert.equal(dec.seq, u32(v.fiss + 1))
    assert.equal(dec.tsVal, u32(v.bts + 1 - tau))
    assert.equal(dec.tsVal, u32(v.fts + 1)) // wraps: fts is 2^32 − 16
    assert.equal(dec.window, (1024 << 5) >> 7)
    assert.equal(dec.ack, u32(v.ciss + 1 + v.request.length)) // unchanged
    // BE inside: the replayed SYN keeps seq and TSecr 0, goes to the BE; the ACK gets + Δ and + τ.
    dec.decode(be[0].linkType, be[0].data, be[0].data.length, be[0].data.length)
    assert.equal(dec.flagsString(), 'S')
    assert.equal(dec.dstAddr(), v.baddr)
    assert.equal(dec.seq, v.ciss)
    assert.equal(dec.tsEcr, 0)
    dec.decode(be[1].linkType, be[1].data, be[1].data.length, be[1].data.length)
    assert.equal(dec.ack, u32(v.biss + 1))
    assert.equal(dec.tsEcr, v.bts)
    // BE inside at the time of the handoff-req (T + 11 ms).
    assert.equal(be[0].tsSec, T0)
    assert.equal(be[0].tsNsec, 11_000_000)
  })

  test(`IPv${family}: whole legs equal the fixture's own copies computed from the spec's formulas`, () => {
    const {bytes: fx, v} = buildFixture(family)
    const pkts = readAll(golden)
    const dec = new PacketDecoder({verifyChecksums: false})
    const isFrom = (d: Uint8Array, linkType: number, src: string, dst: string, dport: number) => {
      dec.decode(linkType, d, d.length, d.length)
      return dec.transport === 'tcp' && dec.srcAddr() === src && dec.dstAddr() === dst && dec.dstPort === dport
    }
    // Return leg = the VIP → client segments the client saw after the handoff (IP part).
    const clientSaw = fx.filter((p) => p.iface === 0 && isFrom(p.data, 1, v.vip, v.cip, v.cport) && p.tUs > 10_000 + 1500).map((p) => hex(p.data.subarray(14)))
    const lost = 1 // the fixture's second data segment never reached the client, the replay derives it
    const ret = pkts.filter((p) => p.iface === 'return-client').map((p) => hex(ipOf(p)))
    assert.equal(ret.length, clientSaw.length + lost)
    for (const c of clientSaw) assert.ok(ret.includes(c), 'a VIP → client segment the client saw is not derived')
    // BE inside = the client → BE datagrams of the fixture's BE-inside view, in order.
    const beSaw = fx.filter((p) => p.iface === 2 && isFrom(p.data, 101, v.cip, v.baddr, v.vport)).map((p) => hex(p.data))
    assert.deepEqual(pkts.filter((p) => p.iface === 'be-inside').map((p) => hex(p.data)), beSaw)
    // Forwarded = the same datagrams past the replayed three, in Ethernet to the BE's MAC.
    assert.deepEqual(pkts.filter((p) => p.iface === 'forwarded-lan').map((p) => hex(ipOf(p))), beSaw.slice(3))
  })

  test(`IPv${family}: handoff check on the written file alone: clean, every forwarded and return segment judged packet by packet`, () => {
    const r = cli(['check', golden, '--json'])
    assert.equal(r.code, 0, r.err + r.out)
    const rep = JSON.parse(r.out)
    assert.deepEqual(rep.summary.byId, {})
    assert.equal(rep.summary.errors + rep.summary.warnings, 0)
    assert.deepEqual(rep.views.map((v: {name: string; vantage: string; from: string}) => `${v.name}=${v.vantage}/${v.from}`),
      ['forwarded-lan=lan/name', 'be-inside=inside/name', 'return-client=client/name', 'control=control/name', 'captured-client=client/name',
        'captured-be-inside=inside/name'])
    assert.equal(rep.handoffs.length, 1)
    assert.deepEqual(rep.handoffs[0].packetByPacket, {forward: 5, forwardMatched: 5, ret: 6, retMatched: 6})
  })

  test(`IPv${family}: the packets written as captured are the trace's frames byte for byte; --legs-only writes the same legs without them`, () => {
    const input = readAll(join(dir, trace))
    const pkts = readAll(golden)
    let captured = 0
    for (const p of pkts) {
      if (LEG_IFACES.includes(p.iface)) continue
      const m = /← handoff-v\d\.pcapng#(\d+) \(as captured\)$/.exec(p.comments[0] ?? '')
      assert.ok(m, p.comments[0])
      const src = input[Number(m[1]) - 1]
      assert.equal(hex(p.data), hex(src.data))
      assert.equal(p.tsSec * 1e9 + p.tsNsec, src.tsSec * 1e9 + src.tsNsec)
      assert.equal(p.iface === 'control', src.iface === 'control')
      captured++
    }
    assert.equal(captured, 23)
    const t = tmp()
    try {
      const out = join(t.dir, 'bare.pcapng')
      const r = cli(['replay', trace, '--legs-only', '--write', out])
      assert.equal(r.code, 0, r.err)
      assert.doesNotMatch(r.out, /as captured/)
      const bare = readAll(out)
      assert.deepEqual([...new Set(bare.map((p) => p.iface))].sort(), [...LEG_IFACES].sort())
      const legs = pkts.filter((p) => LEG_IFACES.includes(p.iface))
      assert.deepEqual(bare.map((p) => [p.iface, p.tsSec, p.tsNsec, hex(p.data)]), legs.map((p) => [p.iface, p.tsSec, p.tsNsec, hex(p.data)]))
    } finally {
      t.done()
    }
  })

  test(`IPv${family}: the fixture script rebuilds the committed trace byte for byte`, () => {
    const t = tmp()
    try {
      const p = join(t.dir, 'f.pcapng')
      writeFixture(p, family)
      assert.ok(readFileSync(p).equals(readFileSync(join(dir, trace))))
    } finally {
      t.done()
    }
  })
}

test('selection on the CLI: --flow (IPv6, either direction), --client, --leg with pcap', () => {
  const t = tmp()
  try {
    const o = join(t.dir, 'ret.pcap')
    const r = cli(['replay', 'handoff-v6.pcapng', '--flow', '[fd77::1]:80-[fd77::a]:40001', '--leg', 'return', '--write', o, '--json'])
    assert.equal(r.code, 0, r.err)
    const res = JSON.parse(r.out)
    assert.equal(res.mode, 'write')
    assert.deepEqual(res.output.legs, {return: 6})
    assert.equal(res.handoffs[0].synAckDropped, 1)
    assert.equal(readAll(o).length, 6)
    const c = cli(['replay', 'handoff-v4.pcapng', 'handoff-v6.pcapng', '--client', '10.77.9.10', '--leg', 'forwarded', '--write', join(t.dir, 'f.pcap'), '--json'])
    assert.equal(c.code, 0, c.err)
    assert.deepEqual(JSON.parse(c.out).handoffs.map((h: {hid: string}) => h.hid), ['fe1/1'])
    // pcap: the legs only, and the output says so.
    const human = cli(['replay', 'handoff-v4.pcapng', '--leg', 'forwarded', '--write', join(t.dir, 'h.pcap')])
    assert.equal(human.code, 0, human.err)
    assert.match(human.out, /\(pcap\): 5 packets.*a pcap holds the legs only \(no control channel\): write pcapng to check the file/)
    assert.equal(readAll(join(t.dir, 'h.pcap')).length, 5)
  } finally {
    t.done()
  }
})

test('errors: no control channel, unknown --hid, pcap with mixed link types, timing flags with --write', () => {
  const t = tmp()
  try {
    const none = cli(['replay', join(sharedCaptures, 'http-get.pcap'), '--write', join(t.dir, 'x.pcapng')])
    assert.equal(none.code, 2)
    assert.match(none.err.replace(/\s*›\s*/g, ' '), /nothing to replay: there is no control-channel traffic \(TCP port 7070\).*handoff-req and handoff-ack/)
    const hid = cli(['replay', 'handoff-v4.pcapng', '--hid', 'fe9/9', '--write', join(t.dir, 'x.pcapng')])
    assert.equal(hid.code, 2)
    assert.match(hid.err.replace(/\s*›\s*/g, ' '), /--hid fe9\/9 matched no handoff .*handoffs there: fe1\/1/)
    const pcap = cli(['replay', 'handoff-v4.pcapng', '--write', join(t.dir, 'x.pcap')])
    assert.equal(pcap.code, 2)
    assert.match(pcap.err.replace(/\s*›\s*/g, ' '), /pcap file holds one link type/)
    const timing = cli(['replay', 'handoff-v4.pcapng', '--write', join(t.dir, 'x.pcapng'), '--topspeed'])
    assert.equal(timing.code, 2)
    assert.doesNotMatch(none.err + hid.err + pcap.err + timing.err, /\n\s+at /) // no stack traces
    const neither = cli(['replay', 'handoff-v4.pcapng'])
    assert.equal(neither.code, 2)
    assert.match(neither.err, /--write FILE or --interface IF/)
  } finally {
    t.done()
  }
})

test('a trace of several pcapng sections (captures concatenated) replays as the same trace in one section', () => {
  // Each section numbers its interfaces again: read apart, a connection crossing a section break became two
  // views of which only one was replayed (787 packets became 419 on lab-clean).
  const t = tmp()
  try {
    const lab = join(repoRoot, 'samples', 'traces', 'lab-clean', 'lab.pcapng.gz')
    const trace = loadTrace(lab)
    const split = writePcapng(join(t.dir, 'sections.pcapng'), trace,
      {sectionBreaks: Array.from({length: Math.floor(trace.frames.length / 40)}, (_, i) => 40 * i + 39)})
    const one = cli(['replay', lab, '--write', join(t.dir, 'one.pcapng')], repoRoot)
    const many = cli(['replay', split, '--write', join(t.dir, 'many.pcapng')], repoRoot)
    assert.equal(one.code, 0, one.err)
    assert.equal(many.code, 0, many.err)
    const a = readAll(join(t.dir, 'one.pcapng'))
    const b = readAll(join(t.dir, 'many.pcapng'))
    assert.ok(a.length > 700, `only ${a.length} packets replayed from lab-clean`)
    assert.equal(b.length, a.length)
    b.forEach((p, i) => {
      assert.equal(p.iface, a[i]!.iface, `packet ${i + 1}: interface`)
      assert.equal(hex(p.data), hex(a[i]!.data), `packet ${i + 1}: bytes`)
      assert.equal(p.tsSec * 1e9 + p.tsNsec, a[i]!.tsSec * 1e9 + a[i]!.tsNsec, `packet ${i + 1}: time`)
    })
  } finally {
    t.done()
  }
})
