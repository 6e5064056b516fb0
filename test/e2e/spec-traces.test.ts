// End to end against an independent generator: test/spec-traces/gen.py builds
// traces straight from the protocol text (its own MessagePack encoder, its own
// §4 rewrites, checksums from scratch; it never runs our engine), so an engine
// bug cannot hide behind traces the engine made. The real CLI is run on every
// trace it writes (its manifest.json says what each one must give):
// - clean traces (IPv4, IPv6, dual stack; timestamps on/off; wsF ≠ wsB, window
//   scaling absent; SACK; several handoffs per channel, both directions;
//   nack, local, plain TCP/UDP; msgpack variants; pcap µs/ns both byte orders,
//   pcapng, one LAN file or split views, node inside + control only; Δ = τ = 0
//   and 2^31, ISNs and timestamps wrapping, rewritten checksums of 0x0000;
//   local, nacked and plain connections with bad checksums, client ports
//   reused between a handoff and a local connection): `check --json` exits 0
//   with no violation, and `sessions --json` gives each connection its kind
//   and hid;
// - one fault trace per check id of spec §5 (several for some: ciss, fiss and
//   biss; mss, ts and sack; each orphan message; each kind of malformed
//   frame), each at every vantage point, on one LAN pcap, on client side +
//   control, and (some) on node inside + control: exactly that id (nothing
//   unrelated), on a frame that carries the fault when the fault is a packet;
//   where the fault cannot be seen (a forwarded-leg fault from the client
//   side) nothing at all; without the control channel, with --infer, the
//   packet faults still found, the ids only control messages feed not judged;
// - clean traces without their control channel: --infer finds every handoff
//   and nothing wrong;
// - `replay --write` on the clean pcapngs: every packet of every derived leg
//   is byte for byte one the generator wrote at that vantage point (the rewrite
//   engine against an independent implementation of spec §4).
import {test} from 'node:test'
import assert from 'node:assert/strict'
import {execFile, spawnSync} from 'node:child_process'
import {mkdtempSync, readFileSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {promisify} from 'node:util'
import {readCapture} from '../../analyzer/capture/read.js'
import {PacketDecoder} from '../../analyzer/wire/decode.js'
import {cliBin, hasCommand, repoRoot, requireOrSkip} from '../support/env.js'

const run = promisify(execFile)

interface Frame {file: string; frame: number; view: string}
interface ExpectedSession {cip: string; cport: number; kind: string | null; hid: string | null; backend?: string}
interface Trace {
  name: string
  files: string[]
  kind: 'clean' | 'fault'
  note: string
  check?: {id: string; hid: string | null; exit: number; optional?: boolean}
  frames: Frame[]
  /** Extra flags for check (--infer on the traces without their control channel). */
  flags: string[]
  sessions?: ExpectedSession[]
  /** The same traffic without the control channel, and how many handoffs --infer must find in it. */
  inferFiles?: string[]
  inferHandoffs?: number
  /** replay --write must derive only packets the generator wrote. */
  replay?: boolean
}
interface Violation {id: string; hid: string | null; file: string; frame: number; message: string}

async function cli(args: string[]): Promise<{code: number; json: any; stderr: string}> {
  try {
    const r = await run(process.execPath, [cliBin, ...args], {encoding: 'utf8', maxBuffer: 64 << 20, env: {...process.env, NO_COLOR: '1'}})
    return {code: 0, json: JSON.parse(r.stdout), stderr: r.stderr}
  } catch (e) {
    const err = e as {code?: number; stdout?: string; stderr?: string}
    if (typeof err.code !== 'number' || !err.stdout) throw e
    return {code: err.code, json: JSON.parse(err.stdout), stderr: err.stderr ?? ''}
  }
}

/** The IP datagrams of a capture (hex), per interface name. */
async function datagrams(path: string): Promise<Map<string, Set<string>>> {
  const names: string[] = []
  const out = new Map<string, Set<string>>()
  const dec = new PacketDecoder({verifyChecksums: false})
  await readCapture(path, {
    onInterface: (i) => { names[i.id] = i.name ?? '' },
    onPacket: (rec) => {
      const d = dec.decode(rec.linkType, rec.data, rec.capLen, rec.origLen)
      if (d.ipOffset < 0) return
      const n = names[rec.interfaceId] ?? ''
      let set = out.get(n)
      if (set === undefined) out.set(n, (set = new Set()))
      set.add(Buffer.from(rec.data.subarray(d.ipOffset, d.ipEnd)).toString('hex'))
    },
  })
  return out
}

const show = (vs: Violation[]) => vs.map((v) => `${v.id} ${v.hid ?? '-'} ${v.file}#${v.frame}: ${v.message}`).join('\n')

test('traces generated from the spec text alone: check and sessions agree with the spec', {concurrency: 2}, async (t) => {
  if (!requireOrSkip(t, hasCommand('python3'), 'python3 not found (the generator is Python)')) return
  const dir = mkdtempSync(join(tmpdir(), 'handoff-spec-traces-'))
  t.after(() => rmSync(dir, {recursive: true, force: true}))
  const g = spawnSync('python3', [join(repoRoot, 'test', 'spec-traces', 'gen.py'), dir], {encoding: 'utf8'})
  assert.equal(g.status, 0, g.stderr)
  const traces = (JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8')) as {traces: Trace[]}).traces
  assert.ok(traces.length > 50, `the generator wrote ${traces.length} traces`)
  const ids = new Set(traces.filter((x) => x.kind === 'fault').map((x) => x.check!.id))
  // Every check id of spec §5 has a fault trace.
  for (const id of ['ip-checksum', 'tcp-checksum', 'addr-rewrite', 'seq-remap', 'ack-remap', 'sack-remap', 'ts-remap',
    'window-rescale', 'rst-leak', 'synack-leak', 'isn-mismatch', 'request-replay', 'stream-gap', 'option-mismatch',
    'handoff-orphan', 'late-forward', 'control-framing']) assert.ok(ids.has(id), `a fault trace for ${id}`)

  // Subtests queued, run two at a time (the parent's concurrency).
  const pending: Promise<void>[] = []
  for (const tr of traces) {
    const files = tr.files.map((f) => join(dir, f))
    pending.push(t.test(`check: ${tr.name}`, async () => {
      const r = await cli(['check', '--json', ...tr.flags, ...files])
      const vs = r.json.violations as Violation[]
      if (tr.kind === 'clean') {
        assert.deepEqual(vs.map((v) => v.id), [], `no violation expected:\n${show(vs)}`)
        assert.equal(r.code, 0, r.stderr)
        return
      }
      const c = tr.check!
      if (c.optional && vs.length === 0) return
      assert.ok(vs.length > 0, `${c.id} expected, nothing reported`)
      assert.deepEqual([...new Set(vs.map((v) => v.id))], [c.id], `only ${c.id} expected:\n${show(vs)}`)
      assert.equal(r.code, c.exit, `exit code (${c.exit === 0 ? 'a warning' : 'an error'})`)
      if (c.hid !== null) assert.ok(vs.some((v) => v.hid === c.hid), `reported on ${c.hid}:\n${show(vs)}`)
      if (tr.frames.length > 0) {
        const at = new Set(tr.frames.map((f) => `${join(dir, f.file)}#${f.frame}`))
        assert.ok(vs.some((v) => at.has(`${v.file}#${v.frame}`)),
          `on a frame carrying the fault (${tr.frames.map((f) => `${f.file}#${f.frame}`).join(', ')}):\n${show(vs)}`)
      }
    }))
    if (tr.inferFiles) {
      pending.push(t.test(`check --infer without the control channel: ${tr.name}`, async () => {
        const r = await cli(['check', '--json', '--infer', ...tr.inferFiles!.map((f) => join(dir, f))])
        const vs = r.json.violations as Violation[]
        assert.deepEqual(vs.map((v) => v.id), [], `no violation expected:\n${show(vs)}`)
        const hs = r.json.handoffs as {hid: string}[]
        assert.equal(hs.length, tr.inferHandoffs, `handoffs inferred: ${hs.map((x) => x.hid).join(', ')}`)
        assert.ok(hs.every((x) => x.hid.startsWith('inferred/')))
      }))
    }
    if (tr.replay) {
      pending.push(t.test(`replay --write derives the generator's own bytes: ${tr.name}`, async () => {
        const out = join(dir, `${tr.files[0]!.replace(/\W/g, '_')}.replay.pcapng`)
        const r = await cli(['replay', '--json', files[0]!, '--write', out, '--legs-only'])
        assert.equal(r.code, 0, r.stderr)
        const gen = await datagrams(files[0]!)
        const got = await datagrams(out)
        const inside = [...gen.keys()].filter((n) => n.endsWith('-inside'))
        // BE inside: what its TCP must see, derived from the client's segments — one the generator lost between
        // the FE and the BE is derived all the same (it is on the LAN, forwarded).
        const where: Record<string, string[]> = {'forwarded-lan': ['lan'], 'return-client': ['lan', 'client'], 'be-inside': [...inside, 'lan']}
        for (const [leg, views] of Object.entries(where)) {
          const pk = [...(got.get(leg) ?? [])]
          assert.ok(pk.length > 0, `${leg}: packets derived`)
          const foreign = pk.filter((x) => !views.some((v) => gen.get(v)?.has(x)))
          assert.equal(foreign.length, 0, `${leg}: ${foreign.length} of ${pk.length} derived packet(s) the generator never wrote, e.g. ${foreign[0]?.slice(0, 120)}`)
        }
      }))
    }
    if (tr.kind !== 'clean' || !tr.sessions) continue
    pending.push(t.test(`sessions: ${tr.name}`, async () => {
      const r = await cli(['sessions', '--json', ...files])
      assert.equal(r.code, 0, r.stderr)
      const rows = r.json.rows as {client: string; clientPort: number; kind: string; hid: string | null; backend: string | null}[]
      for (const e of tr.sessions!) {
        const mine = rows.filter((x) => x.client === e.cip && x.clientPort === e.cport)
        const got = mine.map((x) => `${x.kind} ${x.hid ?? '-'} ${x.backend ?? '-'}`).join('; ')
        assert.ok(mine.some((x) => x.kind === e.kind && x.hid === e.hid &&
          (e.backend === undefined || (x.backend ?? '').split(' ')[0] === e.backend)),
        `${e.cip}:${e.cport}: expected ${e.kind} ${e.hid ?? '-'} ${e.backend ?? ''}, got ${got || 'no row'}`)
      }
    }))
  }
  await Promise.all(pending)
})
