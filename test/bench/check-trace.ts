// Builds (once, then reuses) a large multi-view handoff trace for the `check`
// benchmark by cloning the real lab recording samples/traces/lab-clean
// (12 handoffs, 6 views: client, lan, n1..n3-inside, control) N times, or
// one of the fault runs recorded the same way.
//
// Clone k differs from the recording in:
//  - the client addresses: 10.77.1.x → 10.77.(100 + i / 250).(i % 250 + 1),
//    i = k × (number of client addresses) + slot(x), all inside 10.77.0.0/16
//    (file contents only: no traffic is sent);
//  - the client ports (shifted by 7k, modulo the range 1024..65535);
//  - the client's sequence space (its ISN): + k × 2654435761 (mod 2^32) in the
//    seq of every segment from the client address, the ack of every segment to
//    it, the SACK edges of every segment to it, and `ciss` plus the stored
//    `pkts` of its handoff-req;
//  - time: + k × span (span = the recording's length + 1 s, whole seconds), in
//    packet timestamps and in every message's `at`, so clones follow each
//    other and every view stays in time order;
//  - handoff ids: 'n1/1' → 'n1/1#k';
//  - the control channel: each clone's messages are re-encoded (encodeFrame)
//    onto NEW control connections (one per original one, same daemon
//    addresses, new client ports and ISNs; SYN, SYN/ACK, ACK, then one frame
//    per segment with correct seq/ack). The recording's control packets —
//    including the FIN/ACKs of a previous run's connections at its start,
//    which carry no messages — are not copied.
// The servers' sequence spaces (fiss/biss), TCP timestamps, MACs, IP ids and
// ARP are left as recorded. Checksums keep their kind: a valid one is
// recomputed, a partial one (offload) stays partial, a wrong one stays wrong.
import {existsSync, mkdirSync, readFileSync, renameSync, statSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {readCaptureSync} from '../../analyzer/capture/read.js'
import {PcapngWriter} from '../../analyzer/capture/pcapng-writer.js'
import {extractControlMessages} from '../../analyzer/control/channels.js'
import {encodeFrame} from '../../analyzer/control/codec.js'
import type {ControlMessage} from '../../analyzer/control/messages.js'
import {buildTcpPacket} from '../../analyzer/wire/build.js'
import {fold16, ipv4HeaderChecksum, pseudoHeaderSumV4, tcpOrUdpChecksum} from '../../analyzer/wire/checksum.js'
import {repoRoot} from '../support/env.js'

export const LAB_TRACE = join(repoRoot, 'samples', 'traces', 'lab-clean', 'lab.pcapng.gz')
/** Handoffs in the recording (its summary.json). */
export const LAB_HANDOFFS = 12

export interface CheckTrace {
  path: string
  clones: number
  packets: number
  bytes: number
  /** Handoffs the trace holds: clones × LAB_HANDOFFS. */
  handoffs: number
  /** Built by this call (false: reused from an earlier run). */
  built: boolean
}

interface Pkt {
  iface: number
  tsSec: number
  tsNsec: number
  data: Uint8Array
  origLen: number
}

const ISN_STEP = 2654435761

const u16 = (b: Uint8Array, o: number) => (b[o] << 8) | b[o + 1]
const u32 = (b: Uint8Array, o: number) => ((b[o] << 24) | (b[o + 1] << 16) | (b[o + 2] << 8) | b[o + 3]) >>> 0
function put16(b: Uint8Array, o: number, v: number): void { b[o] = (v >>> 8) & 0xff; b[o + 1] = v & 0xff }
function put32(b: Uint8Array, o: number, v: number): void {
  b[o] = v >>> 24; b[o + 1] = (v >>> 16) & 0xff; b[o + 2] = (v >>> 8) & 0xff; b[o + 3] = v & 0xff
}

const isClientAddr = (b: Uint8Array, o: number) => b[o] === 10 && b[o + 1] === 77 && b[o + 2] === 1

class Cloner {
  /** Last octet of each recorded client address (10.77.1.x) → slot. */
  readonly slots = new Map<number, number>()
  k = 0
  off = 0

  setClone(k: number): void {
    this.k = k
    this.off = (k * ISN_STEP) >>> 0
  }

  slot(x: number): number {
    let s = this.slots.get(x)
    if (s === undefined) { s = this.slots.size; this.slots.set(x, s) }
    return s
  }

  /** Third and fourth octet of the clone's address for 10.77.1.x. */
  addr(x: number): [number, number] {
    const i = this.k * Math.max(1, this.slots.size) + this.slot(x)
    const third = 100 + Math.floor(i / 250)
    if (third > 254) throw new RangeError('too many clones for 10.77.100.0 – 10.77.254.255')
    return [third, (i % 250) + 1]
  }

  addrText(ip: string): string {
    const m = /^10\.77\.1\.(\d+)$/.exec(ip)
    if (m === null) return ip
    const [c, d] = this.addr(Number(m[1]))
    return `10.77.${c}.${d}`
  }

  port(p: number): number {
    return ((p - 1024 + 7 * this.k) % 64512 + 64512) % 64512 + 1024
  }

  /**
   * Rewrites, in place, an IPv4/TCP packet whose IP header starts at ipOff
   * (other packets are left alone).
   */
  rewrite(b: Uint8Array, ipOff: number): void {
    if (b.length < ipOff + 20 || (b[ipOff] >> 4) !== 4) return
    const ihl = (b[ipOff] & 15) * 4
    if (b[ipOff + 9] !== 6) return
    const fromClient = isClientAddr(b, ipOff + 12)
    const toClient = isClientAddr(b, ipOff + 16)
    if (!fromClient && !toClient) return
    const totalLen = u16(b, ipOff + 2)
    const l4 = ipOff + ihl
    const l4Len = totalLen - ihl
    const whole = b.length >= ipOff + totalLen && l4Len >= 20
    if (b.length < l4 + 20) throw new Error('truncated TCP header in the lab trace')
    // Kind of the recorded TCP checksum.
    const stored = u16(b, l4 + 16)
    const partial = stored === fold16(pseudoHeaderSumV4(b, ipOff + 12, ipOff + 16, 6, l4Len))
    const good = !partial && whole && tcpOrUdpChecksum(b, ipOff, l4, l4Len, 6) === stored
    const ipGood = ipv4HeaderChecksum(b, ipOff, ihl) === u16(b, ipOff + 10)
    // Addresses and ports.
    if (fromClient) {
      const [c, d] = this.addr(b[ipOff + 15])
      b[ipOff + 14] = c; b[ipOff + 15] = d
      put16(b, l4, this.port(u16(b, l4)))
      put32(b, l4 + 4, (u32(b, l4 + 4) + this.off) >>> 0)
    }
    if (toClient) {
      const [c, d] = this.addr(b[ipOff + 19])
      b[ipOff + 18] = c; b[ipOff + 19] = d
      put16(b, l4 + 2, this.port(u16(b, l4 + 2)))
      if (b[l4 + 13] & 0x10) put32(b, l4 + 8, (u32(b, l4 + 8) + this.off) >>> 0)
      // SACK edges (option 5) name the client's sequence space.
      const hl = (b[l4 + 12] >> 4) * 4
      let o = l4 + 20
      const end = Math.min(l4 + hl, b.length)
      while (o < end) {
        const kind = b[o]
        if (kind === 0) break
        if (kind === 1) { o++; continue }
        const len = b[o + 1]
        if (len < 2 || o + len > end) break
        if (kind === 5) for (let e = o + 2; e + 4 <= o + len; e += 4) put32(b, e, (u32(b, e) + this.off) >>> 0)
        o += len
      }
    }
    // Checksums, of the same kind as recorded.
    const ipC = ipv4HeaderChecksum(b, ipOff, ihl)
    put16(b, ipOff + 10, ipGood ? ipC : ipC ^ 1)
    if (partial) {
      put16(b, l4 + 16, fold16(pseudoHeaderSumV4(b, ipOff + 12, ipOff + 16, 6, l4Len)))
    } else if (whole) {
      const c = tcpOrUdpChecksum(b, ipOff, l4, l4Len, 6)
      put16(b, l4 + 16, good ? c : c ^ 1)
    }
  }

  /** The message as clone k sends it; `at` shifted by shiftUs. */
  message(m: ControlMessage, shiftUs: number): ControlMessage {
    const at = m.at + shiftUs
    switch (m.t) {
      case 'handoff-req':
        return {...m, at, hid: `${m.hid}#${this.k}`, cip: this.addrText(m.cip), cport: this.port(m.cport),
          ciss: (m.ciss + this.off) >>> 0,
          pkts: m.pkts.map((p) => { const c = p.slice(); this.rewrite(c, 0); return c })}
      case 'handoff-ack':
      case 'handoff-nack':
      case 'terminate':
        return {...m, at, hid: `${m.hid}#${this.k}`}
      default:
        return {...m, at}
    }
  }
}

interface CtlConn {
  cAddr: string
  cPort: number
  sAddr: string
  sPort: number
  /** Messages in stream order, with the capture time of the packet that completed each. */
  msgs: {fromClient: boolean; tsSec: number; tsNsec: number; msg: ControlMessage}[]
}

const ETH = 14

function ethMacs(pkts: Pkt[], iface: number): Map<string, string> {
  const macs = new Map<string, string>()
  const hex = (b: Uint8Array, o: number) => Array.from(b.subarray(o, o + 6), (x) => x.toString(16).padStart(2, '0')).join(':')
  for (const p of pkts) {
    if (p.iface !== iface || p.data.length < ETH + 20 || u16(p.data, 12) !== 0x0800) continue
    macs.set(Array.from(p.data.subarray(ETH + 12, ETH + 16)).join('.'), hex(p.data, 6))
  }
  return macs
}

/**
 * The trace for `clones` clones, built into os.tmpdir()/handoff-bench unless already there.
 * `lab` names another recording of samples/traces (a fault run, e.g. lab-ack-remap: its
 * violations come again in every clone, for a report with many of them).
 */
export async function checkBenchTrace(clones: number, lab = 'lab-clean'): Promise<CheckTrace> {
  const dir = join(tmpdir(), 'handoff-bench')
  mkdirSync(dir, {recursive: true})
  const path = join(dir, `${lab}-x${clones}.pcapng`)
  const LAB_TRACE = join(repoRoot, 'samples', 'traces', lab, 'lab.pcapng.gz')
  const meta = `${path}.json`
  if (existsSync(path) && existsSync(meta)) {
    const m = JSON.parse(readFileSync(meta, 'utf8')) as {packets: number}
    return {path, clones, packets: m.packets, bytes: statSync(path).size, handoffs: clones * LAB_HANDOFFS, built: false}
  }

  // The recording: interfaces and packets (PacketRecord is reused: copy data).
  const ifaces: {linkType: number; name?: string; description?: string; ns: boolean}[] = []
  const pkts: Pkt[] = []
  readCaptureSync(LAB_TRACE, {
    onInterface: (i) => { ifaces.push({linkType: i.linkType, name: i.name, description: i.description, ns: i.tsUnitsPerSec === 1e9}) },
    onPacket: (r) => { pkts.push({iface: r.interfaceId, tsSec: r.tsSec, tsNsec: r.tsNsec, data: r.data.slice(), origLen: r.origLen}) },
  })
  const control = ifaces.findIndex((i) => i.name === 'control')
  if (control < 0) throw new Error(`${LAB_TRACE}: no interface named control`)
  for (const p of pkts) {
    if (p.iface !== control && ifaces[p.iface].linkType !== 1) throw new Error('lab trace: expected Ethernet on every view')
  }
  const cloner = new Cloner()
  for (const p of pkts) {
    const b = p.data
    if (p.iface === control || b.length < ETH + 20 || u16(b, 12) !== 0x0800) continue
    if (isClientAddr(b, ETH + 12)) cloner.slot(b[ETH + 15])
    if (isClientAddr(b, ETH + 16)) cloner.slot(b[ETH + 19])
  }

  // The control messages, per connection in stream order.
  const report = await extractControlMessages(LAB_TRACE, {keepMessages: true})
  if (report.summary.errors > 0) throw new Error(`${LAB_TRACE}: control-channel errors in the recording`)
  const conns = new Map<string, CtlConn>()
  for (const r of report.rows) {
    if (r.kind !== 'message' || r.msg === undefined) continue
    if (r.interface !== control) throw new Error('lab trace: control message outside the control view')
    const fromClient = r.direction === 'client-to-server'
    const cli = fromClient ? r.sender : r.receiver
    const srv = fromClient ? r.receiver : r.sender
    let c = conns.get(r.connection)
    if (c === undefined) {
      c = {cAddr: cli.addr, cPort: cli.port, sAddr: srv.addr, sPort: srv.port, msgs: []}
      conns.set(r.connection, c)
    }
    c.msgs.push({fromClient, tsSec: r.tsSec, tsNsec: r.tsNsec, msg: r.msg})
  }
  const macs = ethMacs(pkts, control)
  const macOf = (a: string) => macs.get(a) ?? '02:00:00:00:00:01'
  const base = pkts.filter((p) => p.iface !== control)
  const first = pkts.reduce((m, p) => Math.min(m, p.tsSec), Infinity)
  const last = pkts.reduce((m, p) => Math.max(m, p.tsSec), -Infinity)
  const span = last - first + 2 // whole seconds, ≥ the recording's length + 1 s

  const tmp = `${path}.partial`
  const w = PcapngWriter.open(tmp, {application: 'handoff test/bench/check-trace.ts', comment: `${lab} cloned ${clones} times`})
  for (const i of ifaces) w.addInterface({linkType: i.linkType, name: i.name, description: i.description, tsResolution: i.ns ? 'ns' : 'us'})
  let packets = 0
  const conList = [...conns.values()]
  for (let k = 0; k < clones; k++) {
    cloner.setClone(k)
    const shift = k * span
    // This clone's control packets, each connection's in order; merged by time below.
    const ctl: Pkt[] = []
    conList.forEach((c, ci) => {
      const cPort = 32768 + ((k * conList.length + ci) % 28000)
      let cSeq = ((k + 1) * 40503 * (ci + 3)) >>> 0
      let sSeq = ((k + 7) * 2246822519 + ci) >>> 0
      const eth = (fromClient: boolean) => fromClient
        ? {src: macOf(c.cAddr), dst: macOf(c.sAddr)} : {src: macOf(c.sAddr), dst: macOf(c.cAddr)}
      const seg = (fromClient: boolean, flags: string, payload: Uint8Array, options: object = {}) =>
        buildTcpPacket({
          src: fromClient ? c.cAddr : c.sAddr, dst: fromClient ? c.sAddr : c.cAddr,
          srcPort: fromClient ? cPort : c.sPort, dstPort: fromClient ? c.sPort : cPort,
          seq: fromClient ? cSeq : sSeq, ack: flags === 'S' ? 0 : fromClient ? sSeq : cSeq,
          flags, payload, window: 502, options, ethernet: eth(fromClient),
        })
      const t0 = c.msgs[0]
      const at = (sec: number, nsec: number, backUs: number) => {
        let ns = nsec - backUs * 1000
        let s = sec + shift
        while (ns < 0) { ns += 1e9; s-- }
        return {tsSec: s, tsNsec: ns}
      }
      const push = (ts: {tsSec: number; tsNsec: number}, data: Uint8Array) => {
        ctl.push({iface: control, ...ts, data, origLen: data.length})
      }
      push(at(t0.tsSec, t0.tsNsec, 30), seg(true, 'S', new Uint8Array(0), {mss: 1460, sackPermitted: true, wscale: 7}))
      cSeq = (cSeq + 1) >>> 0
      push(at(t0.tsSec, t0.tsNsec, 20), seg(false, 'S.', new Uint8Array(0), {mss: 1460, sackPermitted: true, wscale: 7}))
      sSeq = (sSeq + 1) >>> 0
      push(at(t0.tsSec, t0.tsNsec, 10), seg(true, '.', new Uint8Array(0)))
      for (const m of c.msgs) {
        const frame = encodeFrame(cloner.message(m.msg, shift * 1e6))
        push(at(m.tsSec, m.tsNsec, 0), seg(m.fromClient, 'P.', frame))
        if (m.fromClient) cSeq = (cSeq + frame.length) >>> 0
        else sSeq = (sSeq + frame.length) >>> 0
      }
    })
    ctl.sort((a, b) => a.tsSec - b.tsSec || a.tsNsec - b.tsNsec) // stable: a connection's own order is kept
    let j = 0
    const emit = (p: Pkt) => { w.writePacket(p.iface, p.tsSec, p.tsNsec, p.data, p.origLen); packets++ }
    for (const p of base) {
      const tsSec = p.tsSec + shift
      while (j < ctl.length && (ctl[j].tsSec < tsSec || (ctl[j].tsSec === tsSec && ctl[j].tsNsec <= p.tsNsec))) emit(ctl[j++])
      const data = p.data.slice()
      if (u16(data, 12) === 0x0800) cloner.rewrite(data, ETH)
      emit({iface: p.iface, tsSec, tsNsec: p.tsNsec, data, origLen: p.origLen})
    }
    while (j < ctl.length) emit(ctl[j++])
  }
  w.close()
  renameSync(tmp, path)
  writeFileSync(meta, JSON.stringify({clones, packets}))
  return {path, clones, packets, bytes: statSync(path).size, handoffs: clones * LAB_HANDOFFS, built: true}
}
