// captureToFile's stop / error / cleanup logic, with fake live sources (no
// root, no network), checked by reading the file back with our reader.
import {test} from 'node:test'
import assert from 'node:assert/strict'
import {EventEmitter} from 'node:events'
import {existsSync, mkdtempSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {captureToFile} from '../../analyzer/capture/live-capture.js'
import {LiveCaptureError, type LiveOptions, type LivePacket, type LiveSource, type LiveStats} from '../../analyzer/capture/live.js'
import {readCapture} from '../../analyzer/capture/read.js'

const dir = mkdtempSync(join(tmpdir(), 'handoff-livecap-'))
test.after(() => rmSync(dir, {recursive: true, force: true}))

class FakeSource extends EventEmitter {
  readonly linkType = 1
  readonly openWarnings: string[] = []
  closed = false
  counters: LiveStats = {received: 0, dropped: 0, ifDropped: 0}
  constructor(readonly iface: string) {
    super()
  }
  stats(): LiveStats {
    return {...this.counters}
  }
  close(): void {
    this.closed = true
  }
  /** Emits one packet the way LiveSource does (a view the receiver must not keep). */
  send(n: number, len = 60): void {
    const shared = new Uint8Array(len).fill(n & 0xff)
    this.counters.received++
    const p: LivePacket = {iface: this.iface, tsSec: 1700000000 + n, tsNsec: n * 1000, data: shared, origLen: len + 4, copy: () => shared.slice()}
    this.emit('packet', p)
    shared.fill(0xee) // the binding overwrites its buffer for the next packet
  }
}

function fakes(...names: string[]): {sources: Map<string, FakeSource>; open: (o: LiveOptions) => LiveSource} {
  const sources = new Map<string, FakeSource>()
  return {
    sources,
    open: (o) => {
      if (o.interface.startsWith('bad')) throw new LiveCaptureError('no-such-device', `interface "${o.interface}" does not exist`)
      assert.ok(names.includes(o.interface))
      const s = new FakeSource(o.interface)
      sources.set(o.interface, s)
      return s as unknown as LiveSource
    },
  }
}

async function readBack(file: string): Promise<{names: (string | undefined)[]; packets: Array<{iface: number; ts: number; byte: number; cap: number; orig: number}>}> {
  const packets: Array<{iface: number; ts: number; byte: number; cap: number; orig: number}> = []
  const r = await readCapture(file, {
    onPacket: (p) => packets.push({iface: p.interfaceId, ts: p.tsSec, byte: p.data[0], cap: p.capLen, orig: p.origLen}),
  })
  assert.equal(r.info.format, 'pcapng')
  return {names: r.interfaces.map((i) => i.name), packets}
}

test('-c: exactly N packets over all interfaces, then everything is closed', async () => {
  const file = join(dir, 'count.pcapng')
  const f = fakes('x0', 'x1')
  const p = captureToFile({interfaces: ['x0', 'x1'], file, count: 5, open: f.open})
  const [x0, x1] = [f.sources.get('x0')!, f.sources.get('x1')!]
  for (let i = 1; i <= 10; i++) (i % 2 ? x0 : x1).send(i)
  const s = await p
  assert.equal(s.stoppedBy, 'count')
  assert.equal(s.total.packets, 5)
  assert.deepEqual(
    s.interfaces.map((i) => [i.name, i.id, i.packets, i.bytes, i.capturedBytes]),
    [
      ['x0', 0, 3, 192, 180],
      ['x1', 1, 2, 128, 120],
    ],
  )
  assert.ok(x0.closed && x1.closed)
  const back = await readBack(file)
  assert.deepEqual(back.names, ['x0', 'x1'])
  // Bytes are those of each packet at the time it arrived, not the reused buffer's.
  assert.deepEqual(
    back.packets.map((q) => [q.iface, q.byte, q.ts, q.cap, q.orig]),
    [
      [0, 1, 1700000001, 60, 64],
      [1, 2, 1700000002, 60, 64],
      [0, 3, 1700000003, 60, 64],
      [1, 4, 1700000004, 60, 64],
      [0, 5, 1700000005, 60, 64],
    ],
  )
})

test('abort signal: stops, stats end up in the summary', async () => {
  const file = join(dir, 'abort.pcapng')
  const f = fakes('x0')
  const ac = new AbortController()
  const p = captureToFile({interfaces: ['x0'], file, signal: ac.signal, open: f.open})
  const x0 = f.sources.get('x0')!
  x0.send(1)
  x0.counters = {received: 9, dropped: 2, ifDropped: 1}
  ac.abort()
  const s = await p
  assert.equal(s.stoppedBy, 'signal')
  assert.equal(s.interfaces[0].received, 9)
  assert.equal(s.interfaces[0].drops, 3)
  assert.equal(s.total.drops, 3)
  x0.send(2) // after the end: ignored
  assert.equal((await readBack(file)).packets.length, 1)
})

test('duration: stops by itself; progress is reported meanwhile', async () => {
  const file = join(dir, 'dur.pcapng')
  const f = fakes('x0')
  const seen: number[] = []
  const started: string[] = []
  const s = await captureToFile({
    interfaces: ['x0'],
    file,
    durationSec: 0.25,
    progressIntervalMs: 50,
    onStart: (ifs) => started.push(...ifs.map((i) => i.name)),
    onProgress: (pr) => seen.push(pr.total.packets),
    open: f.open,
  })
  assert.equal(s.stoppedBy, 'duration')
  assert.deepEqual(started, ['x0'])
  assert.ok(seen.length >= 2, `progress calls: ${seen.length}`)
  assert.ok(s.elapsedSec >= 0.24)
})

test('a read error ends the capture, rejects, and still leaves a readable file', async () => {
  const file = join(dir, 'err.pcapng')
  const f = fakes('x0')
  const p = captureToFile({interfaces: ['x0'], file, open: f.open})
  const x0 = f.sources.get('x0')!
  x0.send(1)
  x0.emit('error', new LiveCaptureError('read', 'capture on "x0" failed: gone'))
  await assert.rejects(p, /capture on "x0" failed: gone/)
  assert.ok(x0.closed)
  assert.equal((await readBack(file)).packets.length, 1)
})

test('an interface that cannot be opened: the others are closed, no file is created', async () => {
  const file = join(dir, 'none.pcapng')
  const f = fakes('x0')
  await assert.rejects(captureToFile({interfaces: ['x0', 'bad0'], file, open: f.open}), (e: LiveCaptureError) => e.code === 'no-such-device')
  assert.ok(f.sources.get('x0')!.closed)
  assert.equal(existsSync(file), false)
})

test('options are checked before anything is opened', async () => {
  const f = fakes('x0')
  const file = join(dir, 'opt.pcapng')
  await assert.rejects(captureToFile({interfaces: [], file, open: f.open}), /at least one interface/)
  await assert.rejects(captureToFile({interfaces: ['x0', 'x0'], file, open: f.open}), /given more than once/)
  await assert.rejects(captureToFile({interfaces: ['x0'], file, count: 0, open: f.open}), /positive integer/)
  await assert.rejects(captureToFile({interfaces: ['x0'], file, durationSec: -1, open: f.open}), /positive number/)
  assert.equal(f.sources.size, 0)
})

test('output that cannot be created: a clear error and the sources are closed', async () => {
  const f = fakes('x0')
  await assert.rejects(
    captureToFile({interfaces: ['x0'], file: join(dir, 'no', 'such', 'x.pcapng'), open: f.open}),
    (e: LiveCaptureError) => e.code === 'output' && /cannot write .*x\.pcapng: ENOENT/.test(e.message),
  )
  assert.ok(f.sources.get('x0')!.closed)
})
