// End to end: the real CLI (`node cli/bin/handoff.js capture …`) capturing
// live HTTP traffic between two network namespaces made for the test.
//
//   ns "c" (client, capture runs here)         ns "s" (server)
//     a0 10.77.1.1/24  <── veth ──>  b0 10.77.1.2/24
//     a1 10.77.2.1/24  <── veth ──>  b1 10.77.2.2/24      node http server :8080
//
// One `handoff capture -i a0 -i a1` in ns "c" sees one request over each
// veth; and one capture at each end of a0/b0 (one per namespace) sees the
// same exchange. Traffic only ever goes to addresses inside these namespaces.
import {test} from 'node:test'
import assert from 'node:assert/strict'
import {mkdtempSync, rmSync, statSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {setTimeout as delay} from 'node:timers/promises'
import type {ChildProcess} from 'node:child_process'
import {cliBin, hasCommand, isRoot, requireOrSkip} from '../support/env.js'
import {assertLabAddress, run, sweepLeftovers, waitForOutput, withLab, type Lab} from '../support/netns.js'

const SERVER = `require('http').createServer((q, r) => r.end('hello ' + q.url)).listen(8080, '0.0.0.0', () => console.log('ready'))`

interface Topology {
  client: string
  server: string
}

function canRun(t: Parameters<typeof requireOrSkip>[0]): boolean {
  if (!requireOrSkip(t, isRoot(), 'needs root for network namespaces')) return false
  for (const c of ['ip', 'ethtool', 'tshark', 'capinfos']) if (!requireOrSkip(t, hasCommand(c), `needs ${c}`)) return false
  return true
}

async function topology(lab: Lab, withServer = true): Promise<Topology> {
  const client = lab.ns('c')
  const server = lab.ns('s')
  lab.veth(client, 'a0', server, 'b0')
  lab.veth(client, 'a1', server, 'b1')
  lab.addAddress(client, 'a0', '10.77.1.1/24')
  lab.addAddress(server, 'b0', '10.77.1.2/24')
  lab.addAddress(client, 'a1', '10.77.2.1/24')
  lab.addAddress(server, 'b1', '10.77.2.2/24')
  if (withServer) {
    const srv = lab.spawn(server, [process.execPath, '-e', SERVER])
    await waitForOutput(srv, /ready/)
  }
  return {client, server}
}

/** GET from inside `ns`, with curl when there is one, else node's fetch. */
function httpGet(lab: Lab, ns: string, ip: string, path: string): string {
  assertLabAddress(ip)
  const url = `http://${ip}:8080${path}`
  if (hasCommand('curl')) return lab.exec(ns, ['curl', '-sS', '--max-time', '5', url])
  return lab.exec(ns, [process.execPath, '-e', `fetch(${JSON.stringify(url)}).then((r) => r.text()).then((t) => process.stdout.write(t))`])
}

interface Running {
  child: ChildProcess
  out: () => string
  err: () => string
  exited: Promise<{code: number | null; signal: NodeJS.Signals | null}>
}

async function startCapture(lab: Lab, ns: string, args: string[], argv0: string[] = []): Promise<Running> {
  const child = lab.spawn(ns, [...argv0, process.execPath, cliBin, 'capture', ...args], {stdio: ['ignore', 'pipe', 'pipe']})
  let out = ''
  let err = ''
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()))
  child.stderr!.on('data', (d: Buffer) => (err += d.toString()))
  const exited = new Promise<{code: number | null; signal: NodeJS.Signals | null}>((res) => child.once('exit', (code, signal) => res({code, signal})))
  await waitForOutput(child, /capturing on /, 15000)
  return {child, out: () => out, err: () => err, exited}
}

async function exitWithin(r: Running, ms: number): Promise<{code: number | null; signal: NodeJS.Signals | null}> {
  const res = await Promise.race([r.exited, delay(ms).then(() => null)])
  if (res === null) {
    r.child.kill('SIGKILL')
    assert.fail(`capture did not exit within ${ms} ms; stderr: ${r.err()}`)
  }
  return res
}

/** tshark output; fails on any complaint about the file. */
function tshark(file: string, args: string[]): string {
  const out = run('tshark', ['-r', file, ...args])
  return out
}

function assertValidFile(file: string): string {
  // capinfos exits non-zero (with a message) on a damaged or cut-short file.
  const info = run('capinfos', [file])
  assert.match(info, /File type:\s+Wireshark\/\.\.\. - pcapng/)
  return info
}

function tmpFile(name: string): {file: string; done: () => void} {
  const dir = mkdtempSync(join(tmpdir(), 'handoff-cap-'))
  return {file: join(dir, name), done: () => rmSync(dir, {recursive: true, force: true})}
}

test.after(() => {
  if (isRoot()) sweepLeftovers()
})

test('both ends of one veth: a capture in each namespace sees the same HTTP exchange', async (t) => {
  if (!canRun(t)) return
  const c = tmpFile('client-end.pcapng')
  const s = tmpFile('server-end.pcapng')
  try {
    await withLab(async (lab) => {
      const {client, server} = await topology(lab)
      const capC = await startCapture(lab, client, ['-i', 'a0', '-f', 'tcp port 8080', '-w', c.file])
      const capS = await startCapture(lab, server, ['-i', 'b0', '-f', 'tcp port 8080', '-w', s.file])
      assert.equal(httpGet(lab, client, '10.77.1.2', '/both-ends'), 'hello /both-ends')
      await delay(300)
      capC.child.kill('SIGINT')
      capS.child.kill('SIGINT')
      for (const cap of [capC, capS]) {
        const ex = await exitWithin(cap, 5000)
        assert.equal(ex.code, 0, `exit ${ex.code}/${ex.signal}; stderr: ${cap.err()}`)
      }
      const fields = ['-T', 'fields', '-e', 'ip.src', '-e', 'tcp.srcport', '-e', 'tcp.flags.str', '-e', 'tcp.seq_raw', '-e', 'tcp.ack_raw', '-e', 'tcp.len',
        '-e', 'tcp.checksum', '-e', 'tcp.checksum_calculated', '-e', 'tcp.checksum.status', '-o', 'tcp.check_checksum:TRUE']
      const atClient = tshark(c.file, fields).trim().split('\n')
      const atServer = tshark(s.file, fields).trim().split('\n')
      // The same segments, in the same order, at both ends of the wire, every checksum good. Both ends are
      // Linux stacks checksumming in software (offloads off), which store 0xFFFF for a checksum of 0x0000
      // (once in 65536 segments): the same ones'-complement zero, which tshark calls bad (see labChecksums
      // in ../support/lab.ts). Any other mismatch is bad.
      assert.ok(atClient.length >= 8, `client end: ${atClient.length} packets`)
      assert.deepEqual(atServer, atClient)
      for (const line of atClient) assert.match(line, /\t(0x[0-9a-f]{4}\t0x[0-9a-f]{4}\t1|0xffff\t0x0000\t0)$/, `checksum not good: ${line}`)
      const requests = tshark(s.file, ['-Y', 'http.request', '-T', 'fields', '-e', 'ip.src', '-e', 'http.request.uri']).trim()
      assert.equal(requests, '10.77.1.1\t/both-ends')
      const responses = tshark(c.file, ['-Y', 'http.response', '-T', 'fields', '-e', 'http.response.code']).trim()
      assert.equal(responses, '200')
    })
  } finally {
    c.done()
    s.done()
  }
})

test('two interfaces into one pcapng; SIGINT ends it with a valid file', async (t) => {
  if (!canRun(t)) return
  const {file, done} = tmpFile('two.pcapng')
  try {
    await withLab(async (lab) => {
      const {client} = await topology(lab)
      const cap = await startCapture(lab, client, ['-i', 'a0', '-i', 'a1', '-w', file, '--json'])
      assert.match(cap.err(), /capturing on a0 \(ETHERNET\), a1 \(ETHERNET\) to /)
      assert.equal(httpGet(lab, client, '10.77.1.2', '/one'), 'hello /one')
      assert.equal(httpGet(lab, client, '10.77.2.2', '/two'), 'hello /two')
      await delay(300)
      cap.child.kill('SIGINT')
      const ex = await exitWithin(cap, 5000)
      assert.equal(ex.code, 0, `exit ${ex.code}/${ex.signal}; stderr: ${cap.err()}`)
      assert.doesNotMatch(cap.err(), /\n\s+at /, 'no stack trace')

      const summary = JSON.parse(cap.out())
      assert.equal(summary.file, file)
      assert.equal(summary.stoppedBy, 'signal')
      assert.deepEqual(
        summary.interfaces.map((i: {name: string}) => i.name),
        ['a0', 'a1'],
      )
      for (const i of summary.interfaces) {
        assert.ok(i.packets >= 8, `${i.name}: ${i.packets} packets`) // a TCP connection with one request
        assert.ok(i.bytes >= i.packets * 42)
        assert.equal(i.drops, 0)
        assert.equal(i.linkType, 1)
      }
      assert.equal(summary.total.packets, summary.interfaces[0].packets + summary.interfaces[1].packets)

      const info = assertValidFile(file)
      assert.match(info, /Number of interfaces in file: 2/)
      assert.match(info, /Number of packets:\s+(\d+)/)
      assert.equal(Number(/Number of packets:\s+(\d+)/.exec(info)![1]), summary.total.packets)
      assert.equal((info.match(/Number of stat entries = 1/g) ?? []).length, 2, 'one ISB per interface')
      assert.match(info, /Name = a0/)
      assert.match(info, /Name = a1/)

      const reqs = tshark(file, ['-Y', 'http.request', '-T', 'fields', '-e', 'frame.interface_name', '-e', 'ip.dst', '-e', 'http.request.uri'])
      assert.deepEqual(reqs.trim().split('\n').sort(), ['a0\t10.77.1.2\t/one', 'a1\t10.77.2.2\t/two'])
      const names = new Set(tshark(file, ['-T', 'fields', '-e', 'frame.interface_name']).trim().split('\n'))
      assert.deepEqual([...names].sort(), ['a0', 'a1'])
      // Responses are there too, whole (offloads are off: no giant frames).
      const resp = tshark(file, ['-Y', 'http.response', '-T', 'fields', '-e', 'http.response.code'])
      assert.deepEqual(resp.trim().split('\n'), ['200', '200'])
      const bad = tshark(file, ['-Y', '_ws.malformed or _ws.expert.severity >= error', '-T', 'fields', '-e', 'frame.number'])
      assert.equal(bad.trim(), '', 'no malformed frames')
    })
  } finally {
    done()
  }
})

test('-c stops after exactly N packets (filter applied), table summary on stdout', async (t) => {
  if (!canRun(t)) return
  const {file, done} = tmpFile('count.pcapng')
  try {
    await withLab(async (lab) => {
      const {client} = await topology(lab)
      const cap = await startCapture(lab, client, ['-i', 'a0', '-i', 'a1', '-f', 'tcp port 8080', '-c', '5', '-w', file])
      assert.equal(httpGet(lab, client, '10.77.1.2', '/count'), 'hello /count')
      const ex = await exitWithin(cap, 5000)
      assert.equal(ex.code, 0, cap.err())
      assert.match(cap.out(), /^a0\s+5\s/m)
      assert.match(cap.out(), /^a1\s+0\s/m)
      assert.match(cap.out(), /^total\s+5\s/m)
      assert.match(cap.out(), new RegExp(`wrote ${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} \\(5 packets, .*packet count reached\\)`))
      const info = assertValidFile(file)
      assert.match(info, /Number of packets:\s+5\b/)
      const ports = tshark(file, ['-T', 'fields', '-e', 'tcp.port']).trim().split('\n')
      assert.equal(ports.length, 5)
      for (const p of ports) assert.match(p, /\b8080\b/)
      assert.match(info, /Comment = BPF filter: tcp port 8080/)
    })
  } finally {
    done()
  }
})

test('--duration ends a capture on an idle interface (the process exits)', async (t) => {
  if (!canRun(t)) return
  const {file, done} = tmpFile('idle.pcapng')
  try {
    await withLab(async (lab) => {
      const {client} = await topology(lab, false)
      const started = Date.now()
      const cap = await startCapture(lab, client, ['-i', 'a0', '-f', 'tcp port 9', '--duration', '0.5', '-w', file, '--json'])
      const ex = await exitWithin(cap, 8000)
      assert.equal(ex.code, 0, cap.err())
      assert.ok(Date.now() - started < 8000)
      const s = JSON.parse(cap.out())
      assert.equal(s.stoppedBy, 'duration')
      assert.equal(s.total.packets, 0)
      assert.ok(s.elapsedSec >= 0.45, String(s.elapsedSec))
      const info = assertValidFile(file)
      assert.match(info, /Number of packets:\s+0\b/)
      assert.match(info, /Number of interfaces in file: 1/)
      assert.match(info, /Number of stat entries = 1/)
    })
  } finally {
    done()
  }
})

test('SIGTERM on an idle capture also leaves a valid file and exits 0', async (t) => {
  if (!canRun(t)) return
  const {file, done} = tmpFile('term.pcapng')
  try {
    await withLab(async (lab) => {
      const {client} = await topology(lab, false)
      const cap = await startCapture(lab, client, ['-i', 'a0', '-i', 'a1', '-f', 'tcp port 9', '-w', file])
      await delay(200)
      cap.child.kill('SIGTERM')
      const ex = await exitWithin(cap, 5000)
      assert.equal(ex.code, 0, cap.err())
      assert.match(cap.out(), /interrupted\)/)
      const info = assertValidFile(file)
      assert.match(info, /Number of interfaces in file: 2/)
    })
  } finally {
    done()
  }
})

test('status line on a terminal: packets, bytes and drops per interface', async (t) => {
  if (!canRun(t)) return
  if (!requireOrSkip(t, hasCommand('script'), 'needs script(1) for a pseudo-terminal')) return
  const {file, done} = tmpFile('tty.pcapng')
  try {
    await withLab(async (lab) => {
      const {client} = await topology(lab)
      // script(1) gives the CLI a terminal on stdin/stdout/stderr.
      const cmd = `${process.execPath} ${cliBin} capture -i a0 -i a1 -f 'tcp port 8080' -w ${file} --duration 2`
      const child = lab.spawn(client, ['script', '-qfec', cmd, '/dev/null'])
      let out = ''
      child.stdout!.on('data', (d: Buffer) => (out += d.toString()))
      const exited = new Promise<number | null>((res) => child.once('exit', (c) => res(c)))
      await waitForOutput(child, /capturing on /, 15000)
      httpGet(lab, client, '10.77.2.2', '/tty')
      await delay(700) // several refreshes
      const code = await Promise.race([exited, delay(8000).then(() => 'timeout' as const)])
      assert.equal(code, 0, out)
      assert.match(out, /\r\x1b\[2K\d+\.\ds {2}a0: 0 pkts 0 B 0 drops \| a1: \d+ pkts [\d.]+ k?B 0 drops {2}total \d+ pkts/)
      const refreshes = out.split('\r\x1b[2K').length - 1
      assert.ok(refreshes >= 4 && refreshes <= 12, `${refreshes} status refreshes in 2 s`)
      assert.match(out, /duration elapsed/)
    })
  } finally {
    done()
  }
})

test('errors inside a namespace: the interfaces listed are that namespace\'s; exit 2, no stack', async (t) => {
  if (!canRun(t)) return
  const {file, done} = tmpFile('err.pcapng')
  try {
    await withLab(async (lab) => {
      const {client} = await topology(lab, false)
      const r1 = lab.spawn(client, [process.execPath, cliBin, 'capture', '-i', 'a0', '-i', 'eth9', '-w', file])
      let err1 = ''
      r1.stderr!.on('data', (d: Buffer) => (err1 += d.toString()))
      const code1 = await new Promise<number | null>((res) => r1.once('exit', (c) => res(c)))
      assert.equal(code1, 2, err1)
      const flat = err1.replace(/\s*›\s*/g, ' ')
      assert.match(flat, /interface "eth9" does not exist \(available: .*\ba0\b.*\)/)
      assert.match(flat, /\ba1\b/)
      assert.doesNotMatch(flat, /\beth0\b/, 'the host namespace is not listed')
      assert.doesNotMatch(err1, /\n\s+at /)
      assert.throws(() => statSync(file), 'no file is left behind')

      const r2 = lab.spawn(client, [process.execPath, cliBin, 'capture', '-i', 'a0', '-f', 'tcp prt 80', '-w', file])
      let err2 = ''
      r2.stderr!.on('data', (d: Buffer) => (err2 += d.toString()))
      const code2 = await new Promise<number | null>((res) => r2.once('exit', (c) => res(c)))
      assert.equal(code2, 2, err2)
      assert.match(err2.replace(/\s*›\s*/g, ' '), /bad BPF filter "tcp prt 80": /)
      assert.doesNotMatch(err2, /\n\s+at /)
    })
  } finally {
    done()
  }
})

test('an interface removed during the capture: exit 2 naming it, the file is still valid', async (t) => {
  if (!canRun(t)) return
  const {file, done} = tmpFile('removed.pcapng')
  try {
    await withLab(async (lab) => {
      const {client, server} = await topology(lab, false)
      const cap = await startCapture(lab, client, ['-i', 'a0', '-i', 'a1', '-w', file])
      await delay(200)
      lab.exec(server, ['ip', 'link', 'del', 'b1']) // takes a1 with it
      const ex = await exitWithin(cap, 5000)
      assert.equal(ex.code, 2, cap.err())
      assert.match(cap.err().replace(/\s*›\s*/g, ' '), /capture on "a1" failed: libpcap could not read from the interface/)
      assert.doesNotMatch(cap.err(), /\n\s+at /)
      const info = assertValidFile(file)
      assert.match(info, /Number of interfaces in file: 2/)
    })
  } finally {
    done()
  }
})
