// Copies of capture files with their packets changed, for tests of files
// whose clocks are off or connections that never end: a copy through a
// callback, a copy with every timestamp moved, a copy with one connection
// kept alive to the end.
import {readCapture} from '../../analyzer/capture/read.js'
import type {PacketRecord} from '../../analyzer/capture/types.js'
import {PcapngWriter} from '../../analyzer/capture/pcapng-writer.js'
import {PacketDecoder} from '../../analyzer/wire/decode.js'
import {TCP_FLAG} from '../../analyzer/wire/tcp.js'

/** A copy of `src` (pcapng), each packet written through `write` (its interfaces as they were). */
export async function copyCapture(src: string, dst: string, write: (w: PcapngWriter, r: PacketRecord) => void): Promise<void> {
  const w = PcapngWriter.open(dst)
  try {
    await readCapture(src, {
      onInterface: (i) => { w.addInterface({linkType: i.linkType, ...(i.name !== undefined ? {name: i.name} : {})}) },
      onPacket: (r) => write(w, r),
    })
  } finally {
    w.close()
  }
}

/** A copy of `src` with every timestamp moved by `sec` (a capture whose clock is off). */
export async function shiftedCapture(src: string, dst: string, sec: number): Promise<void> {
  await copyCapture(src, dst, (w, r) => w.writePacket(r.interfaceId, r.tsSec + sec, r.tsNsec, r.data, r.origLen))
}

/**
 * A copy of `src` in which the first client connection lives to the end: its handshake's last ACK, as the
 * `client` interface saw it, is seen again every `everySec` seconds, in time order with the rest, and it never
 * closes: its packets (every view: the client's endpoint as source or destination) from its first FIN or RST on
 * are left out (the trace of the README's "kept alive" --infer row; check-infer-streaming.test.ts).
 */
export async function longLivedCopy(src: string, dst: string, everySec: number): Promise<void> {
  const dec = new PacketDecoder({verifyChecksums: false})
  const client = new Set<number>()
  let ack: {iface: number; data: Uint8Array; origLen: number; addr: string; port: number} | null = null
  let closed = false
  let due = Infinity
  const w = PcapngWriter.open(dst)
  try {
    await readCapture(src, {
      onInterface: (i) => {
        w.addInterface({linkType: i.linkType, ...(i.name !== undefined ? {name: i.name} : {})})
        if (i.name === 'client') client.add(i.id)
      },
      onPacket: (r) => {
        const t = r.tsSec + r.tsNsec / 1e9
        for (; ack !== null && due <= t; due += everySec) {
          w.writePacket(ack.iface, Math.floor(due), Math.round((due % 1) * 1e9), ack.data, ack.origLen)
        }
        const d = dec.decode(r.linkType, r.data, r.capLen, r.origLen)
        if (ack !== null && d.transport === 'tcp' &&
          ((d.srcPort === ack.port && d.srcAddr() === ack.addr) || (d.dstPort === ack.port && d.dstAddr() === ack.addr))) {
          if (d.tcpFlags & (TCP_FLAG.FIN | TCP_FLAG.RST)) closed = true
          if (closed) return
        }
        w.writePacket(r.interfaceId, r.tsSec, r.tsNsec, r.data, r.origLen)
        if (ack !== null || !client.has(r.interfaceId)) return
        if (d.transport === 'tcp' && d.tcpFlags === TCP_FLAG.ACK && d.payloadWireLen === 0) {
          ack = {iface: r.interfaceId, data: r.data.slice(), origLen: r.origLen, addr: d.srcAddr(), port: d.srcPort}
          due = Math.floor(t) + everySec
        }
      },
    })
  } finally {
    w.close()
  }
}
