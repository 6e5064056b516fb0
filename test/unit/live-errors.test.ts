// Error paths of the live source (analyzer/capture/live.ts). Most need no
// root: libpcap's device list and an offline filter compile are enough. The
// few that open a real handle use loopback only and send nothing (except the
// inject test, whose frames are refused before they reach the wire).
import {test} from 'node:test'
import assert from 'node:assert/strict'
import {spawnSync} from 'node:child_process'
import {createSocket} from 'node:dgram'
import {setTimeout as delay} from 'node:timers/promises'
import {join} from 'node:path'
import {
  checkFilter,
  libpcapVersion,
  linkTypeFromBinding,
  listInterfaces,
  loadPcapBinding,
  LiveCaptureError,
  openLive,
  type LivePacket,
  type LiveSource,
} from '../../analyzer/capture/live.js'
import {hasCommand, isRoot, repoRoot, requireOrSkip} from '../support/env.js'

function expectLiveError(fn: () => unknown, code: string): LiveCaptureError {
  try {
    fn()
  } catch (e) {
    assert.ok(e instanceof LiveCaptureError, `expected LiveCaptureError, got ${String(e)}`)
    assert.equal(e.code, code, e.message)
    return e
  }
  assert.fail(`expected a LiveCaptureError with code ${code}`)
}

test('the binding loads and names its libpcap', () => {
  assert.match(libpcapVersion(), /libpcap/i)
})

test('a missing binding gives an install hint, not a crash', () => {
  const e = expectLiveError(() => loadPcapBinding('pcap-binding-that-is-not-installed'), 'binding')
  assert.match(e.message, /^libpcap binding could not be loaded: /)
  assert.match(e.message, /install libpcap-dev and run npm rebuild pcap/)
})

test('listInterfaces lists loopback', () => {
  const ifs = listInterfaces()
  assert.ok(ifs.some((i) => i.name === 'lo'), JSON.stringify(ifs.map((i) => i.name)))
  for (const i of ifs) assert.ok(Array.isArray(i.addresses))
})

test('nonexistent interface: says so and lists the available ones', () => {
  const e = expectLiveError(() => openLive({interface: 'nope-if0'}), 'no-such-device')
  assert.match(e.message, /interface "nope-if0" does not exist \(available: .*\blo\b.*\)/)
  assert.equal(e.iface, 'nope-if0')
})

test('bad BPF filter: names the filter and gives libpcap\'s message', () => {
  const e = expectLiveError(() => openLive({interface: 'lo', filter: 'tcp port'}), 'bad-filter')
  assert.match(e.message, /^bad BPF filter "tcp port": .*syntax error/)
})

test('bad BPF filter with an unknown keyword', () => {
  const e = expectLiveError(() => openLive({interface: 'lo', filter: 'tcp and frobnicate 7'}), 'bad-filter')
  assert.match(e.message, /bad BPF filter "tcp and frobnicate 7": /)
})

test('checkFilter compiles without opening anything', () => {
  assert.equal(checkFilter('tcp port 80 and host 10.77.1.2'), undefined)
  assert.equal(checkFilter('inbound and tcp'), undefined) // compiles only live: not called bad
  assert.match(checkFilter('inbound and tcp port') ?? '', /syntax error/)
  assert.match(checkFilter('tcp port') ?? '', /syntax error/)
})

test('bad options are refused before libpcap is asked', () => {
  expectLiveError(() => openLive({interface: ''}), 'bad-option')
  const e = expectLiveError(() => openLive({interface: 'lo', snapLen: 0}), 'bad-option')
  assert.match(e.message, /snap length/)
  expectLiveError(() => openLive({interface: 'lo', snapLen: 300000}), 'bad-option')
  expectLiveError(() => openLive({interface: 'lo', bufferSize: 10}), 'bad-option')
})

test('link type strings of the binding become LINKTYPE numbers', () => {
  assert.equal(linkTypeFromBinding('LINKTYPE_ETHERNET'), 1)
  assert.equal(linkTypeFromBinding('LINKTYPE_NULL'), 0)
  assert.equal(linkTypeFromBinding('LINKTYPE_RAW'), 101)
  assert.equal(linkTypeFromBinding('LINKTYPE_LINUX_SLL'), 113)
  assert.equal(linkTypeFromBinding('LINKTYPE_IEEE802_11_RADIO'), 127)
  assert.equal(linkTypeFromBinding('Unknown linktype 239'), 239) // nflog
  assert.equal(linkTypeFromBinding('Unknown linktype 276'), 276) // SLL2
  assert.equal(linkTypeFromBinding('Unknown linktype 12'), 101) // DLT_RAW on Linux
  assert.throws(() => linkTypeFromBinding('what'), LiveCaptureError)
})

// A child process of this test file's own build, run with CAP_NET_RAW dropped:
// the same errors a non-root user sees.
function runWithoutCapNetRaw(snippet: string): {status: number | null; stdout: string; stderr: string} {
  const live = join(repoRoot, 'dist', 'analyzer', 'capture', 'live.js')
  const code = `import(${JSON.stringify(live)}).then((m) => { ${snippet} })`
  const r = spawnSync('capsh', ['--drop=cap_net_raw', '--', '-c', `exec "${process.execPath}" -e '${code.replace(/'/g, "'\\''")}'`], {
    encoding: 'utf8',
    timeout: 20000,
  })
  return {status: r.status, stdout: r.stdout, stderr: r.stderr}
}

test('without CAP_NET_RAW: a permission error that says what to do', (t) => {
  if (!requireOrSkip(t, isRoot(), 'needs root to drop CAP_NET_RAW in a child')) return
  if (!requireOrSkip(t, hasCommand('capsh'), 'needs capsh')) return
  const r = runWithoutCapNetRaw(
    `try { m.openLive({interface: "lo"}); console.log("OPENED") } catch (e) { console.log(e.code + "|" + e.message) } process.exit(0)`,
  )
  assert.equal(r.status, 0, r.stderr)
  assert.match(r.stdout, /^permission\|no permission to capture on "lo" \(libpcap: .*not permitted.*\): run as root, or give node CAP_NET_RAW/)
})

test('without CAP_NET_RAW: a missing interface or a bad filter is still named first', (t) => {
  if (!requireOrSkip(t, isRoot(), 'needs root to drop CAP_NET_RAW in a child')) return
  if (!requireOrSkip(t, hasCommand('capsh'), 'needs capsh')) return
  const r = runWithoutCapNetRaw(
    `for (const o of [{interface: "nope-if0"}, {interface: "lo", filter: "tcp port"}]) {` +
      ` try { m.openLive(o); console.log("OPENED") } catch (e) { console.log(e.code) } } process.exit(0)`,
  )
  assert.equal(r.status, 0, r.stderr)
  assert.deepEqual(r.stdout.trim().split('\n'), ['no-such-device', 'bad-filter'])
})

// Loopback only. node_pcap releases a closed handle when the next packet
// arrives, so each test ends by sending one more datagram to its own port —
// otherwise the handle's poll would keep this test process alive.
function udpPort(): number {
  return 20000 + Math.floor(Math.random() * 20000)
}

async function sendUdp(port: number, payloads: string[]): Promise<void> {
  const sock = createSocket('udp4')
  try {
    for (const p of payloads) {
      await new Promise<void>((res, rej) => sock.send(Buffer.from(p), port, '127.0.0.1', (err) => (err ? rej(err) : res())))
    }
  } finally {
    sock.close()
  }
}

async function releaseAfterClose(src: LiveSource, port: number): Promise<void> {
  src.close()
  for (let i = 0; i < 50 && !src.released; i++) {
    await sendUdp(port, ['bye'])
    await delay(20)
  }
  assert.ok(src.released, 'the libpcap handle was not released after close()')
}

test('live packets on loopback: own copies, timestamps, lengths', async (t) => {
  if (!requireOrSkip(t, isRoot(), 'needs root to capture on lo')) return
  const port = udpPort()
  const src = openLive({interface: 'lo', filter: `udp and dst port ${port}`})
  try {
    assert.equal(src.linkType, 1)
    const got: LivePacket[] = []
    src.on('packet', (p) => got.push(p))
    await delay(50)
    const before = Date.now() / 1000
    await sendUdp(port, ['first-payload', 'second-payload', 'third-payload'])
    for (let i = 0; i < 100 && got.length < 3; i++) await delay(10)
    assert.ok(got.length >= 3, `saw ${got.length} packets`)
    const texts = got.map((p) => Buffer.from(p.data).toString('latin1'))
    // Each kept packet still holds its own bytes (the binding reuses one buffer).
    assert.ok(texts[0].endsWith('first-payload'), texts[0])
    assert.ok(texts.some((x) => x.endsWith('second-payload')))
    assert.ok(texts.some((x) => x.endsWith('third-payload')))
    for (const p of got) {
      assert.equal(p.iface, 'lo')
      assert.equal(p.origLen, p.data.length)
      assert.ok(p.tsSec >= Math.floor(before) - 1 && p.tsSec <= Date.now() / 1000 + 1, String(p.tsSec))
      assert.ok(p.tsNsec >= 0 && p.tsNsec < 1e9 && p.tsNsec % 1000 === 0)
      assert.notEqual(p.copy(), p.data)
      assert.deepEqual(p.copy(), p.data)
    }
    assert.ok(src.stats().received >= 3)
  } finally {
    await releaseAfterClose(src, port)
  }
  assert.ok(src.stats().received >= 3, 'stats stay readable after close')
})

test('snapLen truncates, origLen keeps the wire length', async (t) => {
  if (!requireOrSkip(t, isRoot(), 'needs root to capture on lo')) return
  const port = udpPort()
  const src = openLive({interface: 'lo', filter: `udp and dst port ${port}`, snapLen: 60})
  try {
    const got: LivePacket[] = []
    src.on('packet', (p) => got.push(p))
    await delay(50)
    await sendUdp(port, ['x'.repeat(500)])
    for (let i = 0; i < 100 && got.length < 1; i++) await delay(10)
    assert.ok(got.length >= 1)
    // Linux's packet ring may keep a little less than the snap length
    // (58 of 60 bytes was measured); never more.
    assert.ok(got[0].data.length <= 60 && got[0].data.length >= 42, String(got[0].data.length))
    assert.equal(got[0].origLen, 14 + 20 + 8 + 500)
  } finally {
    await releaseAfterClose(src, port)
  }
})

test('inject failure names the interface and the frame size', async (t) => {
  if (!requireOrSkip(t, isRoot(), 'needs root to open a capture on lo')) return
  const port = udpPort()
  const src = openLive({interface: 'lo', filter: `udp and dst port ${port}`})
  try {
    assert.equal(src.linkType, 1)
    const empty = (() => {
      try {
        src.inject(new Uint8Array(0))
      } catch (e) {
        return e as LiveCaptureError
      }
      return null
    })()
    assert.ok(empty instanceof LiveCaptureError)
    assert.equal(empty.code, 'inject')
    assert.match(empty.message, /inject on "lo" failed for a 0-byte frame: the frame is empty/)
    assert.equal(empty.libpcapMessage, 'Pcap inject failed.')

    const huge = new Uint8Array(70000) // more than lo's MTU (65536) allows
    const e2 = (() => {
      try {
        src.inject(huge)
      } catch (e) {
        return e as LiveCaptureError
      }
      return null
    })()
    assert.ok(e2 instanceof LiveCaptureError)
    assert.match(e2.message, /inject on "lo" failed for a 70000-byte frame: larger than the interface MTU \(\d+\) allows/)
  } finally {
    await releaseAfterClose(src, port)
  }
  // close() is idempotent and keeps the last statistics
  src.close()
  assert.deepEqual(Object.keys(src.stats()).sort(), ['dropped', 'ifDropped', 'received'])
  assert.throws(() => src.inject(new Uint8Array(60)), /cannot inject a 60-byte frame on "lo": the live source is closed/)
})
