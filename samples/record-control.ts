// Records samples/traces/control-channel.pcapng: a real control channel (spec
// §3) between two network namespaces, captured at both ends.
//
//   ns "fe" (front-end, client)                 ns "be" (back-end, server)
//     fe0 10.77.70.1/24  <──── veth ────>  be0 10.77.70.2/24   control server :7070
//     `handoff capture -i fe0`                  `handoff capture -i be0`
//
// The client (fe1) and the server (be1) are this script in other roles
// (--role client / --role server), speaking with encodeFrame/FrameDecoder:
//   fe1 → be1  hello (its length prefix and body in two writes)
//   be1 → fe1  hello (split the same way)
//   fe1 → be1  handoff-req fe1/1 (with real SYN/ACK/request pkts; three writes)
//   be1 → fe1  handoff-ack fe1/1, then terminate fe1/1
//   fe1 → be1  handoff-req fe1/2 + ping 1 (one write)
//   be1 → fe1  handoff-nack fe1/2 + pong 1 (one write)
//   fe1 → be1  ping 2 + ping 3 (one write)  → be1 → fe1 pong 2 + pong 3 (one write)
//   fe1 → be1  a malformed frame: valid length, body [1] (a MessagePack array, not a map)
//   both close (FIN).
// Both captures are merged by time into one pcapng with two interfaces (fe0,
// be0): every frame is on the file twice, once per vantage point.
//
// Run as root after `npm run build`:  node dist/samples/record-control.js [OUT]
// Namespaces are named hot-<pid>-… and always deleted (test/support/netns.ts).
import {mkdtempSync, rmSync, statSync} from 'node:fs'
import {createServer, connect, type Socket} from 'node:net'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {setTimeout as delay} from 'node:timers/promises'
import type {ChildProcess} from 'node:child_process'
import {readCaptureSync} from '../analyzer/capture/read.js'
import {PcapngWriter} from '../analyzer/capture/pcapng-writer.js'
import {encodeFrame} from '../analyzer/control/codec.js'
import {FrameDecoder, type DecodeEvent} from '../analyzer/control/decoder.js'
import type {ControlMessage, SynAckOptions} from '../analyzer/control/messages.js'
import {buildTcpPacket} from '../analyzer/wire/build.js'
import {cliBin, repoRoot} from '../test/support/env.js'
import {waitForOutput, withLab} from '../test/support/netns.js'

const FE = {addr: '10.77.70.1', mac: '02:77:70:00:00:01', node: 'fe1'}
const BE = {addr: '10.77.70.2', mac: '02:77:70:00:00:02', node: 'be1'}
const PORT = 7070
const OPTS: SynAckOptions = {mss: 1460, ws: 7, sack: true, ts: true}

function now(): number {
  return Date.now() * 1000
}

function log(s: string): void {
  process.stderr.write(`[${process.argv.includes('--role') ? process.argv[process.argv.indexOf('--role') + 1] : 'record'}] ${s}\n`)
}

/** Writes `bytes` in pieces (cut at `cuts`), `gapMs` apart, so they leave as separate segments. */
async function writePieces(sock: Socket, bytes: Uint8Array, cuts: number[], gapMs = 40): Promise<void> {
  let from = 0
  for (const c of [...cuts, bytes.length]) {
    sock.write(bytes.subarray(from, c))
    from = c
    if (c < bytes.length) await delay(gapMs)
  }
}

function concat(...parts: Uint8Array[]): Uint8Array {
  return new Uint8Array(Buffer.concat(parts))
}

/** Messages as they arrive, and a way to wait for one. */
class Inbox {
  private readonly queue: ControlMessage[] = []
  private waiters: {pred: (m: ControlMessage) => boolean; res: (m: ControlMessage) => void}[] = []
  readonly dec = new FrameDecoder()
  feed(b: Buffer): readonly DecodeEvent[] {
    const evs = this.dec.push(new Uint8Array(b.buffer, b.byteOffset, b.length))
    for (const ev of evs) {
      if (ev.kind !== 'message') {
        log(`received a bad frame: ${ev.reason}`)
        continue
      }
      log(`received ${ev.msg.t}${'hid' in ev.msg ? ' ' + ev.msg.hid : ''}`)
      const w = this.waiters.findIndex((x) => x.pred(ev.msg))
      if (w >= 0) this.waiters.splice(w, 1)[0]!.res(ev.msg)
      else this.queue.push(ev.msg)
    }
    return evs
  }
  next(pred: (m: ControlMessage) => boolean, ms = 5000): Promise<ControlMessage> {
    const i = this.queue.findIndex(pred)
    if (i >= 0) return Promise.resolve(this.queue.splice(i, 1)[0]!)
    return new Promise((res, rej) => {
      const t = setTimeout(() => rej(new Error('timed out waiting for a control message')), ms)
      this.waiters.push({pred, res: (m) => { clearTimeout(t); res(m) }})
    })
  }
}

// ---------------------------------------------------------------------------
// Server (be1)

function runServer(): void {
  const srv = createServer((sock) => {
    sock.setNoDelay(true)
    const inbox = new Inbox()
    sock.on('data', (b: Buffer) => {
      const out: Uint8Array[] = []
      const later: (() => Promise<void>)[] = []
      for (const ev of inbox.feed(b)) {
        if (ev.kind !== 'message') continue
        const m = ev.msg
        switch (m.t) {
          case 'hello': {
            const f = encodeFrame({v: 1, t: 'hello', node: BE.node, at: now(), addr: BE.addr, mac: BE.mac})
            later.push(() => writePieces(sock, f, [2, 9]))
            break
          }
          case 'handoff-req':
            if (m.hid === 'fe1/1') {
              out.push(encodeFrame({v: 1, t: 'handoff-ack', node: BE.node, at: now(), hid: m.hid, biss: 0x8a3f1c07, bts: 912345, bopt: OPTS, baddr: BE.addr, bmac: BE.mac}))
              later.push(async () => {
                await delay(60)
                sock.write(encodeFrame({v: 1, t: 'terminate', node: BE.node, at: now(), hid: m.hid, reason: 'fin', cbytes: 46, sbytes: 5120}))
              })
            } else {
              out.push(encodeFrame({v: 1, t: 'handoff-nack', node: BE.node, at: now(), hid: m.hid, err: 'backend overloaded'}))
            }
            break
          case 'ping':
            out.push(encodeFrame({v: 1, t: 'pong', node: BE.node, at: now(), n: m.n}))
            break
          default:
            break
        }
      }
      // Everything answered to one read leaves in one write (coalesced frames).
      if (out.length > 0) sock.write(concat(...out))
      void (async () => {
        for (const f of later) await f()
      })()
    })
    sock.on('end', () => {
      log('client closed; closing')
      setTimeout(() => sock.end(), 50)
    })
    sock.on('error', (e) => log(`socket error: ${e.message}`))
  })
  srv.listen(PORT, BE.addr, () => log('ready'))
}

// ---------------------------------------------------------------------------
// Client (fe1)

function requestPkts(cport: number, path: string, ciss: number, fiss: number): Uint8Array[] {
  const c = {src: '10.77.100.10', dst: FE.addr, srcPort: cport, dstPort: 80, ttl: 63}
  const req = `GET ${path} HTTP/1.1\r\nHost: shop.lab\r\n\r\n`
  return [
    buildTcpPacket({...c, seq: ciss, flags: 'S', window: 64240, ipId: 0x1a2b,
      options: {mss: 1460, sackPermitted: true, timestamp: {tsVal: 3141592, tsEcr: 0}, wscale: 7}}),
    buildTcpPacket({...c, seq: ciss + 1, ack: fiss + 1, flags: '.', window: 502, ipId: 0x1a2c,
      options: {timestamp: {tsVal: 3141593, tsEcr: 271828}}}),
    buildTcpPacket({...c, seq: ciss + 1, ack: fiss + 1, flags: 'P.', window: 502, ipId: 0x1a2d,
      options: {timestamp: {tsVal: 3141594, tsEcr: 271828}}, payload: req}),
  ]
}

async function runClient(): Promise<void> {
  const sock = connect({host: BE.addr, port: PORT, localAddress: FE.addr})
  await new Promise<void>((res, rej) => {
    sock.once('connect', res)
    sock.once('error', rej)
  })
  sock.setNoDelay(true)
  const inbox = new Inbox()
  sock.on('data', (b: Buffer) => inbox.feed(b))
  const closed = new Promise<void>((res) => sock.once('close', () => res()))

  // hello: length prefix and body in separate writes.
  await writePieces(sock, encodeFrame({v: 1, t: 'hello', node: FE.node, at: now(), addr: FE.addr, mac: FE.mac}), [4])
  await inbox.next((m) => m.t === 'hello')

  // handoff-req fe1/1 in three writes.
  const ciss = 0x2c5e9a10
  const fiss = 0x71d04e33
  const req1 = encodeFrame({v: 1, t: 'handoff-req', node: FE.node, at: now(), hid: 'fe1/1', cip: '10.77.100.10', cport: 51234,
    vip: FE.addr, vport: 80, ciss, fiss, fts: 271828, fopt: OPTS, pkts: requestPkts(51234, '/img/logo.png', ciss, fiss),
    url: '/img/logo.png', host: 'shop.lab'})
  await writePieces(sock, req1, [30, 130])
  await inbox.next((m) => m.t === 'handoff-ack')
  await inbox.next((m) => m.t === 'terminate')

  // handoff-req fe1/2 and ping 1 coalesced in one write.
  const ciss2 = 0x0badcafe
  const fiss2 = 0xfffffff0 // the FE's ISN close to the wrap
  const req2 = encodeFrame({v: 1, t: 'handoff-req', node: FE.node, at: now(), hid: 'fe1/2', cip: '10.77.100.10', cport: 51236,
    vip: FE.addr, vport: 80, ciss: ciss2, fiss: fiss2, fopt: {mss: 1460, sack: true, ts: false}, pkts: requestPkts(51236, '/api/cart', ciss2, fiss2),
    url: '/api/cart', host: 'shop.lab'})
  sock.write(concat(req2, encodeFrame({v: 1, t: 'ping', node: FE.node, at: now(), n: 1})))
  await inbox.next((m) => m.t === 'handoff-nack')
  await inbox.next((m) => m.t === 'pong' && m.n === 1)

  // ping 2 + ping 3 in one write.
  sock.write(concat(encodeFrame({v: 1, t: 'ping', node: FE.node, at: now(), n: 2}), encodeFrame({v: 1, t: 'ping', node: FE.node, at: now(), n: 3})))
  await inbox.next((m) => m.t === 'pong' && m.n === 3)
  await delay(40)

  // A malformed frame: valid length (2), body 0x91 0x01 = the array [1], not a map.
  sock.write(Uint8Array.of(0, 0, 0, 2, 0x91, 0x01))
  await delay(60)
  sock.end()
  await closed
  log('done')
}

// ---------------------------------------------------------------------------
// Orchestration

interface Collected {
  iface: number
  tsSec: number
  tsNsec: number
  data: Uint8Array
  origLen: number
}

function merge(inputs: {path: string; name: string}[], out: string): number {
  const w = PcapngWriter.open(out, {
    application: 'handoff samples/record-control',
    comments: [
      'A control channel (spec §3) between fe1 (10.77.70.1) and be1 (10.77.70.2:7070), captured with `handoff capture` at both ends of the veth (interfaces fe0 and be0): every frame appears once per interface.',
      'fe1→be1: hello (split), handoff-req fe1/1 (3 writes), handoff-req fe1/2 + ping 1 (coalesced), ping 2 + ping 3 (coalesced), a malformed frame (length 2, body [1]: not-a-map). be1→fe1: hello (split), handoff-ack fe1/1, terminate fe1/1, handoff-nack fe1/2 + pong 1, pong 2 + pong 3.',
    ],
  })
  const all: Collected[] = []
  for (const [i, inp] of inputs.entries()) {
    let linkType = 1
    let us = true
    readCaptureSync(inp.path, {
      onInterface: (ifc) => {
        linkType = ifc.linkType
        us = ifc.tsUnitsPerSec <= 1e6
      },
      onPacket: (rec) => all.push({iface: i, tsSec: rec.tsSec, tsNsec: rec.tsNsec, data: rec.data.slice(), origLen: rec.origLen}),
    })
    w.addInterface({linkType, name: inp.name, tsResolution: us ? 'us' : 'ns', description: `${inp.name}: captured by handoff capture in its namespace`})
  }
  all.sort((a, b) => a.tsSec - b.tsSec || a.tsNsec - b.tsNsec || a.iface - b.iface)
  for (const p of all) w.writePacket(p.iface, p.tsSec, p.tsNsec, p.data, p.origLen)
  w.close()
  return all.length
}

async function record(out: string): Promise<void> {
  if (process.getuid?.() !== 0) throw new Error('needs root (network namespaces)')
  const tmp = mkdtempSync(join(tmpdir(), 'handoff-record-control-'))
  const self = join(repoRoot, 'dist', 'samples', 'record-control.js')
  try {
    await withLab(async (lab) => {
      const fe = lab.ns('fe')
      const be = lab.ns('be')
      lab.veth(fe, 'fe0', be, 'be0')
      lab.exec(fe, ['ip', 'link', 'set', 'dev', 'fe0', 'address', FE.mac])
      lab.exec(be, ['ip', 'link', 'set', 'dev', 'be0', 'address', BE.mac])
      lab.addAddress(fe, 'fe0', `${FE.addr}/24`)
      lab.addAddress(be, 'be0', `${BE.addr}/24`)
      // No IPv6 chatter on the wire.
      lab.exec(fe, ['sysctl', '-q', 'net.ipv6.conf.fe0.disable_ipv6=1'])
      lab.exec(be, ['sysctl', '-q', 'net.ipv6.conf.be0.disable_ipv6=1'])

      const captures: ChildProcess[] = []
      for (const [ns, ifc] of [[fe, 'fe0'], [be, 'be0']] as const) {
        const c = lab.spawn(ns, [process.execPath, cliBin, 'capture', '-i', ifc, '-f', `tcp port ${PORT}`, '-w', join(tmp, `${ifc}.pcapng`)])
        await waitForOutput(c, /capturing on /, 15000)
        captures.push(c)
      }
      const server = lab.spawn(be, [process.execPath, self, '--role', 'server'])
      server.stderr!.pipe(process.stderr)
      await waitForOutput(server, /ready/)
      const client = lab.spawn(fe, [process.execPath, self, '--role', 'client'])
      client.stderr!.pipe(process.stderr)
      const code = await new Promise<number | null>((res) => client.once('exit', (c) => res(c)))
      if (code !== 0) throw new Error(`client failed (exit ${code})`)
      await delay(300)
      for (const c of captures) {
        const exited = new Promise<void>((res) => c.once('exit', () => res()))
        c.kill('SIGINT')
        await Promise.race([exited, delay(5000)])
      }
    })
    const n = merge([{path: join(tmp, 'fe0.pcapng'), name: 'fe0'}, {path: join(tmp, 'be0.pcapng'), name: 'be0'}], out)
    log(`wrote ${out}: ${n} packets, ${statSync(out).size} bytes`)
  } finally {
    rmSync(tmp, {recursive: true, force: true})
  }
}

const roleAt = process.argv.indexOf('--role')
const role = roleAt >= 0 ? process.argv[roleAt + 1] : undefined
if (role === 'server') runServer()
else if (role === 'client') {
  runClient().catch((e) => {
    log(String(e))
    process.exit(1)
  })
} else {
  const out = process.argv[2] ?? join(repoRoot, 'samples', 'traces', 'control-channel.pcapng')
  record(out).catch((e) => {
    log(e instanceof Error ? e.stack ?? e.message : String(e))
    process.exitCode = 1
  })
}
