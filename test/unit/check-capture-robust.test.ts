// `check` on what real captures from other tools contain (spec §5: "A
// checksum left partial by offload on the sending host is not wrong when the
// capture shows it is one"; "Traffic that belongs to no handoff ... never
// raises these ids"). A synthetic handoff trace (test/support/handoff-trace.ts)
// is rewritten (test/support/trace-transform.ts) into the same traffic as
// other link types, containers, offloads, fragments, options, truncation and
// duplicates would show it; the check of the result must find what the check
// of the original found — nothing on a clean trace, the same violation on a
// faulty one — and still judge the handoff packet by packet.
import {test} from 'node:test'
import assert from 'node:assert/strict'
import {mkdtempSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {runCheck, type CheckReport} from '../../analyzer/check.js'
import {buildHandoffTrace, type Fault, type TraceSpec} from '../support/handoff-trace.js'
import {
  decodeFrame, fixChecksums, fragmentIpv4, fragmentIpv6, ifaceId, loadTrace, mapFrames, mergeRuns, padFrame, pcapngBytes, relink, withIpv4Options, withIpv6ExtHeaders, writePcap, writePcapng,
  type Link, type PcapngOptions, type Trace,
} from '../support/trace-transform.js'
import {writeFileSync} from 'node:fs'
import {collectSessions} from '../../analyzer/sessions/collect.js'
import {extractControlMessages} from '../../analyzer/control/channels.js'

const dir = mkdtempSync(join(tmpdir(), 'handoff-check-robust-'))
process.on('exit', () => rmSync(dir, {recursive: true, force: true}))
let n = 0
const tmp = (ext: string) => join(dir, `t${++n}.${ext}`)

function base(spec: TraceSpec = {}): {path: string; trace: Trace; hids: string[]} {
  const path = tmp('pcapng')
  const b = buildHandoffTrace(path, spec)
  return {path, trace: loadTrace(path), hids: b.hids}
}

/** What must not change: violations (id, frame, field, expected, seen) and how much was judged per handoff. */
function essence(r: CheckReport) {
  return {
    violations: r.violations.map((v) => `${v.id} frame ${v.frame} ${v.field ?? ''} ${String(v.expected)} ${String(v.seen)}`),
    handoffs: r.handoffs.map((h) => `${h.hid} ${h.outcome} ${JSON.stringify(h.packetByPacket)} ${h.violations}`),
    errors: r.captureErrors,
  }
}

function assertJudged(r: CheckReport): void {
  const h = r.handoffs.find((x) => x.outcome === 'handed-off')
  assert.ok(h, 'a handed-off connection')
  assert.ok(h.packetByPacket.retMatched > 0 && h.packetByPacket.forwardMatched > 0, JSON.stringify(h.packetByPacket))
}

// ---- link types --------------------------------------------------------------

const LINKS: Link[] = ['vlan', 'qinq', 'sll', 'sll2', 'raw', 'raw12', 'raw14', 'null-le', 'null-be', 'loop']
const VIEWS = ['client', 'lan', 'fe1-inside', 'be1-inside', 'control']
const FAULTS_SEEN: (Fault | undefined)[] = [undefined, 'seq-remap', 'tcp-checksum', 'ack-remap']

for (const family of [4, 6] as const) {
  for (const fault of FAULTS_SEEN) {
    const orig = base({family, ...(fault ? {fault} : {})})
    const want = runCheck([orig.path]).then(essence)
    for (const l of LINKS) {
      test(`IPv${family} ${fault ?? 'clean'}: every interface as ${l} → the same findings`, async () => {
        const p = writePcapng(tmp('pcapng'), relink(orig.trace, Object.fromEntries(VIEWS.map((v) => [v, l]))))
        const r = await runCheck([p])
        assert.deepEqual(essence(r), await want)
        assertJudged(r)
        if (fault === undefined) assert.deepEqual(r.violations, [])
      })
    }
    test(`IPv${family} ${fault ?? 'clean'}: one pcapng, a different link type per interface → the same findings`, async () => {
      const p = writePcapng(tmp('pcapng'), relink(orig.trace, {client: 'sll2', lan: 'vlan', 'fe1-inside': 'null-le', 'be1-inside': 'raw', control: 'sll'}))
      const r = await runCheck([p])
      assert.deepEqual(essence(r), await want)
      assertJudged(r)
    })
  }
}

// ---- containers ---------------------------------------------------------------

{
  const orig = base({fault: 'seq-remap'})
  const want = runCheck([orig.path]).then(essence)
  const VARIANTS: Record<string, PcapngOptions> = {
    'big-endian': {le: false},
    'nanosecond if_tsresol': {tsresol: 9},
    'if_tsresol 2^-20': {tsresol: 0x80 | 20},
    'if_tsoffset': {tsoffset: 1_000_000},
    'comments and epb_flags everywhere': {comments: true},
    'unknown, custom and name resolution blocks between packets': {extraBlocks: true},
    'a new section (SHB) every 50 frames (concatenated files)': {sectionBreaks: Array.from({length: 20}, (_, i) => 50 * i + 49)},
    'big-endian, several sections, blocks, comments, ns': {le: false, sectionBreaks: [10, 200], extraBlocks: true, comments: true, tsresol: 9},
  }
  for (const [name, o] of Object.entries(VARIANTS)) {
    test(`pcapng ${name} → the same findings`, async () => {
      const p = writePcapng(tmp('pcapng'), orig.trace, o)
      const r = await runCheck([p])
      assert.deepEqual(essence(r), await want)
      assertJudged(r)
    })
  }
  test('pcapng sections of different byte order, concatenated → the same findings', async () => {
    const p = tmp('pcapng')
    const half = Math.floor(orig.trace.frames.length / 2)
    const a = pcapngBytes({ifaces: orig.trace.ifaces, frames: orig.trace.frames.slice(0, half)}, {le: true})
    const b = pcapngBytes({ifaces: orig.trace.ifaces, frames: orig.trace.frames.slice(half)}, {le: false, tsresol: 9})
    const all = new Uint8Array(a.length + b.length)
    all.set(a)
    all.set(b, a.length)
    writeFileSync(p, all)
    const r = await runCheck([p])
    assert.deepEqual(essence(r), await want)
  })
  for (const [name, o] of Object.entries({'little-endian µs': {}, 'big-endian µs': {le: false}, 'nanosecond magic': {ns: true},
    'big-endian nanosecond': {le: false, ns: true}})) {
    test(`one classic pcap per vantage point, ${name} → the same violations`, async () => {
      const d = mkdtempSync(join(dir, 'split-'))
      const files = VIEWS.map((v) => writePcap(join(d, `${v}.pcap`), orig.trace, ifaceId(orig.trace, v), o))
      const r = await runCheck(files)
      assert.deepEqual(r.violations.map((v) => v.id), (await want).violations.map((v) => v.split(' ')[0]))
      assertJudged(r)
    })
  }
}

// ---- what hosts and NICs do to frames -----------------------------------------

/** The check of a transformed trace: its violations' ids (frames move when frames are added) and the handed-off summary. */
async function checkOf(t: Trace, o: PcapngOptions = {}) {
  const r = await runCheck([writePcapng(tmp('pcapng'), t, o)])
  return {r, ids: r.violations.map((v) => v.id), h: r.handoffs.find((x) => x.outcome === 'handed-off')!}
}

const DATA_VIEWS = ['client', 'lan', 'fe1-inside', 'be1-inside']
const ids = async (p: Promise<CheckReport>) => (await p).violations.map((v) => v.id)

for (const family of [4, 6] as const) {
  const clean = base({family})
  const faulty = Object.fromEntries((['tcp-checksum', 'seq-remap', 'request-replay', 'stream-gap'] as const).map((f) => [f, base({family, fault: f})]))
  const wantFault = Object.fromEntries(Object.entries(faulty).map(([f, b]) => [f, ids(runCheck([b.path]))]))

  test(`IPv${family}: --infer on the trace without its control channel, every interface as SLL2 → the same inferred handoffs`, async () => {
    const noCtl = (t: Trace): Trace => ({ifaces: t.ifaces, frames: t.frames.filter((f) => t.ifaces[f.iface]!.name !== 'control')})
    const a = await runCheck([writePcapng(tmp('pcapng'), noCtl(clean.trace))], {infer: true})
    const r = await runCheck([writePcapng(tmp('pcapng'), relink(noCtl(clean.trace), Object.fromEntries(VIEWS.map((v) => [v, 'sll2' as Link]))))], {infer: true})
    assert.ok(a.handoffs.length > 0)
    assert.deepEqual(essence(r), essence(a))
    const f = faulty['seq-remap']!
    const fa = await runCheck([writePcapng(tmp('pcapng'), noCtl(f.trace))], {infer: true})
    const fr = await runCheck([writePcapng(tmp('pcapng'), noCtl(f.trace), {sectionBreaks: [30, 60, 90]})], {infer: true})
    assert.deepEqual(essence(fr), essence(fa))
    assert.ok(fa.violations.some((v) => v.id === 'seq-remap'))
  })

  test(`IPv${family}: Ethernet padding (non-zero trailer) on every short frame → the same findings`, async () => {
    const pad = (t: Trace) => mapFrames(t, null, (d) => (d.length < 60 ? [padFrame(d)] : null))
    const c = await checkOf(pad(clean.trace))
    assert.deepEqual(c.ids, [])
    assertJudged(c.r)
    for (const [f, b] of Object.entries(faulty)) assert.deepEqual((await checkOf(pad(b.trace))).ids, await wantFault[f], f)
  })

  test(`IPv${family}: every data frame cut just past its headers (snaplen) → no checksum, replay or stream finding; headers still judged`, async () => {
    for (const snaplen of family === 4 ? [70, 96] : [90, 116]) {
      const c = await checkOf(clean.trace, {snaplen, snaplenIfaces: DATA_VIEWS})
      assert.deepEqual(c.ids, [], `snaplen ${snaplen}: ${JSON.stringify(c.r.violations.slice(0, 3))}`)
      assert.ok(c.h.packetByPacket.retMatched > 0, 'return segments still matched')
      assert.ok((c.h.checksumsNotJudged ?? 0) > 0, 'the checksums not judged are counted')
      // A header field is still seen wrong; a checksum or payload that was not captured is not judged.
      assert.deepEqual((await checkOf(faulty['seq-remap']!.trace, {snaplen, snaplenIfaces: DATA_VIEWS})).ids, await wantFault['seq-remap'])
      assert.deepEqual((await checkOf(faulty['tcp-checksum']!.trace, {snaplen, snaplenIfaces: DATA_VIEWS})).ids, [])
    }
  })

  // Optional IP headers: IPv4 options, or IPv6 extension headers before TCP.
  const extra = family === 4
    ? {what: 'IPv4 options on every IPv4 packet', add: withIpv4Options}
    : {what: 'IPv6 hop-by-hop and destination options before TCP on every packet', add: withIpv6ExtHeaders}
  test(`${extra.what} → the same findings`, async () => {
    const withExtra = (t: Trace) => mapFrames(t, null, (d) => [extra.add(d)])
    const c = await checkOf(withExtra(clean.trace))
    assert.deepEqual(c.ids, [], JSON.stringify(c.r.violations.slice(0, 3)))
    assertJudged(c.r)
    for (const [f, b] of Object.entries(faulty)) assert.deepEqual((await checkOf(withExtra(b.trace))).ids, await wantFault[f], f)
  })

  test(`IPv${family}: every frame of the client and LAN views captured twice (-i any) → the same findings`, async () => {
    const dup = (t: Trace) => mapFrames(t, ['client', 'lan'], (d) => [d, d.slice()])
    const c = await checkOf(dup(clean.trace))
    assert.deepEqual(c.ids, [], JSON.stringify(c.r.violations.slice(0, 3)))
    assertJudged(c.r)
    for (const [f, b] of Object.entries(faulty)) assert.deepEqual(new Set((await checkOf(dup(b.trace))).ids), new Set(await wantFault[f]), f)
  })

  test(`IPv${family}: timestamps out of order within the file → the same findings`, async () => {
    // Every pair of neighbouring frames keeps its file order but swaps its timestamps.
    const swap = (t: Trace): Trace => {
      const frames = t.frames.map((f) => ({...f}))
      for (let i = 0; i + 1 < frames.length; i += 2) [frames[i]!.ts, frames[i + 1]!.ts] = [frames[i + 1]!.ts, frames[i]!.ts]
      return {ifaces: t.ifaces, frames}
    }
    const c = await checkOf(swap(clean.trace))
    assert.deepEqual(c.ids, [], JSON.stringify(c.r.violations.slice(0, 3)))
    assertJudged(c.r)
    for (const [f, b] of Object.entries(faulty)) assert.deepEqual((await checkOf(swap(b.trace))).ids, await wantFault[f], f)
  })
}

// ---- the control channel --------------------------------------------------------

test('control channel cut by the snap length → no control-framing or handoff-orphan error; a note says what was not judged', async () => {
  const b = base({handoffs: 3})
  for (const snaplen of [70, 200]) {
    const {r} = await checkOf(b.trace, {snaplen, snaplenIfaces: ['control']})
    assert.deepEqual(r.violations, [], `snaplen ${snaplen}`)
    assert.equal(r.notes.length, 1)
    assert.match(r.notes[0]!, /not captured whole \(snap length\)/)
    if (snaplen === 200) assert.match(r.notes[0]!, /handoff-orphan not judged \(7\)/)
    const m = await extractControlMessages(writePcapng(tmp('pcapng'), b.trace, {snaplen, snaplenIfaces: ['control']}))
    assert.equal(m.summary.errors, 0)
    assert.ok(m.notes.some((n) => n.kind === 'snaplen'))
  }
  // A frame that is malformed on the wire is still one, snap length or not.
  const f = base({fault: 'control-framing'})
  assert.deepEqual((await checkOf(f.trace, {snaplen: 100, snaplenIfaces: ['lan']})).ids, ['control-framing'])
})

// ---- TSO / GSO / GRO --------------------------------------------------------------

/** A response of six full-size segments: merged, they exceed the client's MSS (1460), as offload makes them. */
const BIG = {responseSegments: 6, response: (n: number) => `HTTP/1.1 200 OK\r\nContent-Length: 8000\r\n\r\n` +
  Array.from({length: 8000}, (_, i) => String.fromCharCode(97 + ((i * 7 + n) % 26))).join('')}

for (const family of [4, 6] as const) {
  const a = family === 4 ? {be: '10.0.0.2', vip: '10.0.0.1', client: '10.0.0.10'} : {be: 'fd00::2', vip: 'fd00::1', client: 'fd00::10'}
  test(`IPv${family}: TSO on the BE (its TCP's segments captured as one super-segment, IP length 0, checksum partial) → clean, judged`, async () => {
    // No timestamps: the builder's BE gives each segment its own TSval, where the pieces of one TSO segment share one.
    const b = base({family, ...BIG, timestamps: false})
    const {trace, merged} = mergeRuns(b.trace, 'be1-inside', a.be, {at: 'first', zeroLength: true, partial: true})
    assert.ok(merged > 0)
    const c = await checkOf(trace)
    assert.deepEqual(c.r.violations, [])
    assert.ok(c.h.packetByPacket.retMatched >= 6, JSON.stringify(c.h.packetByPacket))
    // A piece with a wrong seq is still found wrong (continuity), one with a wrong window by its super-segment.
    for (const f of ['seq-remap', 'window-rescale'] as const) {
      const bf = base({family, ...BIG, timestamps: false, fault: f, wsF: 7, wsB: 3})
      const want = await ids(runCheck([bf.path]))
      assert.deepEqual((await checkOf(mergeRuns(bf.trace, 'be1-inside', a.be, {at: 'first', zeroLength: true, partial: true}).trace)).ids, want, f)
    }
  })
  test(`IPv${family}: GRO on the client (return segments delivered merged, checksum partial) while the LAN saw them apart → clean, judged`, async () => {
    const b = base({family, ...BIG})
    // At the first piece's place: the client's TCP acks the bytes only once GRO handed them up.
    const {trace, merged} = mergeRuns(b.trace, 'client', a.vip, {at: 'first', partial: true})
    assert.ok(merged > 0)
    const c = await checkOf(trace)
    assert.deepEqual(c.r.violations, [])
    assertJudged(c.r)
    const p = c.h.packetByPacket
    assert.equal(p.retMatched, p.ret, JSON.stringify(p))
  })
}

// ---- IP fragments (IPv4, and IPv6 Fragment headers) -------------------------------------

for (const family of [4, 6] as const) {
  const fragment = family === 4 ? fragmentIpv4 : fragmentIpv6
  test(`IPv${family}: every data segment fragmented at the client and LAN views (TCP header whole, and split) → the same findings, judged`, async () => {
    const frag = (t: Trace, size: number) => mapFrames(t, ['client', 'lan'], (d) => {
      const x = decodeFrame(d)
      return x.ipVersion === family && x.transport === 'tcp' && x.payloadWireLen > 0 ? fragment(d, size) : null
    })
    const clean = base({family})
    for (const size of [48, 16]) {
      const c = await checkOf(frag(clean.trace, size))
      assert.deepEqual(c.r.violations, [], `fragments of ${size}: ${JSON.stringify(c.r.violations.slice(0, 2))}`)
      assertJudged(c.r)
      const orig = (await runCheck([clean.path])).handoffs.find((x) => x.outcome === 'handed-off')!
      assert.deepEqual(c.h.packetByPacket, orig.packetByPacket)
    }
    for (const f of ['seq-remap', 'tcp-checksum', 'ip-checksum', 'request-replay'] as const) {
      if (f === 'ip-checksum' && family === 6) continue // IPv6 has no header checksum
      const b = base({family, fault: f})
      assert.deepEqual((await checkOf(frag(b.trace, 16))).ids, await ids(runCheck([b.path])), f)
    }
  })
}

test('control channel on another port (--control-port) and on the same interface as the data → the same findings', async () => {
  for (const fault of [undefined, 'seq-remap', 'handoff-orphan'] as const) {
    const b = base(fault ? {fault} : {})
    const want = essence(await runCheck([b.path]))
    const ctl = ifaceId(b.trace, 'control')
    const lan = ifaceId(b.trace, 'lan')
    // Port 7070 → 9099 on every control frame (checksums made right again), all of them captured on the LAN interface.
    const moved = mapFrames(b.trace, ['control'], (d) => {
      const x = decodeFrame(d)
      const c = d.slice()
      for (const at of [x.l4Offset, x.l4Offset + 2]) if (((c[at]! << 8) | c[at + 1]!) === 7070) { c[at] = 9099 >> 8; c[at + 1] = 9099 & 255 }
      return [fixChecksums(c)]
    })
    const t: Trace = {ifaces: moved.ifaces, frames: moved.frames.map((f) => (f.iface === ctl ? {...f, iface: lan} : f))}
    const p = writePcapng(tmp('pcapng'), t)
    const r = await runCheck([p], {controlPort: 9099})
    assert.deepEqual(essence(r).violations, want.violations, String(fault))
    assert.deepEqual(essence(r).handoffs, want.handoffs)
    // Without --control-port the port is found (control/port-discovery.ts): the same findings, and it says so.
    const found = await runCheck([p])
    assert.deepEqual(found.controlPortFound?.port, 9099)
    assert.deepEqual(essence(found).violations, want.violations, String(fault))
    // Told the default port: nothing there is a control message, so no handoff, and nothing raised.
    const d = await runCheck([p], {controlPort: 7070})
    assert.equal(d.summary.handoffs, 0)
    assert.deepEqual(d.violations, [])
    const s = await collectSessions([p], {}, {controlPort: 9099})
    assert.ok(s.rows.some((x) => x.kind === 'handoff'))
  }
})
