// Builds (once, then reuses) a large synthetic Ethernet/IPv4/TCP trace for the
// benchmarks: many short HTTP-like sessions with timestamps, some SACK, a
// realistic mix of pure ACKs, requests and full-size data segments.
import {existsSync, mkdirSync, renameSync, statSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {PcapWriter} from '../../analyzer/capture/pcap-writer.js'
import {buildTcpPacket} from '../../analyzer/wire/build.js'

export interface BenchTrace {
  path: string
  packets: number
  bytes: number
}

const PAYLOAD = new Uint8Array(1448).map((_, i) => 32 + (i % 90))
const REQUEST = new TextEncoder().encode('GET /img/logo.png HTTP/1.1\r\nHost: vip.example\r\nUser-Agent: bench\r\nAccept: */*\r\n\r\n')

/** One session of 18 packets: handshake, request, 6 × (2 data + ACK with SACK on one), FINs. */
function* session(i: number): Generator<Uint8Array> {
  const client = `10.77.${(i >> 8) & 255}.${i & 255}`
  const server = '10.77.0.1'
  const cport = 10000 + (i % 50000)
  let cseq = (i * 2654435761) >>> 0
  let sseq = (i * 40503 + 12345) >>> 0
  const ts = (i * 7) >>> 0
  const c2s = (flags: string, payload: Uint8Array, extra: object = {}) =>
    buildTcpPacket({src: client, dst: server, srcPort: cport, dstPort: 80, seq: cseq, ack: sseq, flags, payload,
      window: 502, options: {timestamp: {tsVal: ts, tsEcr: ts + 1}, ...extra}, ethernet: {}})
  const s2c = (flags: string, payload: Uint8Array) =>
    buildTcpPacket({src: server, dst: client, srcPort: 80, dstPort: cport, seq: sseq, ack: cseq, flags, payload,
      window: 509, options: {timestamp: {tsVal: ts + 1, tsEcr: ts}}, ethernet: {}})
  yield buildTcpPacket({src: client, dst: server, srcPort: cport, dstPort: 80, seq: cseq, flags: 'S', window: 64240,
    options: {mss: 1460, sackPermitted: true, timestamp: {tsVal: ts, tsEcr: 0}, wscale: 7}, ethernet: {}})
  cseq = (cseq + 1) >>> 0
  yield buildTcpPacket({src: server, dst: client, srcPort: 80, dstPort: cport, seq: sseq, ack: cseq, flags: 'S.', window: 65160,
    options: {mss: 1460, sackPermitted: true, timestamp: {tsVal: ts + 1, tsEcr: ts}, wscale: 7}, ethernet: {}})
  sseq = (sseq + 1) >>> 0
  yield c2s('.', new Uint8Array(0))
  yield c2s('P.', REQUEST)
  cseq = (cseq + REQUEST.length) >>> 0
  for (let k = 0; k < 6; k++) {
    yield s2c('.', PAYLOAD)
    sseq = (sseq + PAYLOAD.length) >>> 0
    yield s2c('P.', PAYLOAD.subarray(0, 200 + k * 100))
    sseq = (sseq + 200 + k * 100) >>> 0
    yield k === 3
      ? c2s('.', new Uint8Array(0), {sack: [[(sseq - 100) >>> 0, sseq]]})
      : c2s('.', new Uint8Array(0))
  }
  yield s2c('F.', new Uint8Array(0))
  sseq = (sseq + 1) >>> 0
  yield c2s('F.', new Uint8Array(0))
}

export function benchTrace(minPackets: number): BenchTrace {
  const dir = join(tmpdir(), 'handoff-bench')
  mkdirSync(dir, {recursive: true})
  const sessions = Math.ceil(minPackets / 24)
  const path = join(dir, `sessions-${sessions}.pcap`)
  if (existsSync(path)) return {path, packets: sessions * 24, bytes: statSync(path).size}
  const tmp = `${path}.partial`
  const w = PcapWriter.open(tmp, {linkType: 1})
  let sec = 1_780_000_000
  let usec = 0
  for (let i = 0; i < sessions; i++) {
    for (const p of session(i)) {
      usec += 37
      if (usec >= 1_000_000) { sec++; usec -= 1_000_000 }
      w.writePacket(sec, usec * 1000, p)
    }
  }
  w.close()
  renameSync(tmp, path)
  return {path, packets: sessions * 24, bytes: statSync(path).size}
}
