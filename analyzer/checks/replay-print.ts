// The fingerprint request-replay compares a replayed segment (`pkts` of a
// handoff-req) and the client's segment by, when the control pass has not
// kept the `pkts` (request-replay.ts's header). Its own module: the control
// pass (correlate/control-pass.ts) computes it too.
import {LINKTYPE} from '../wire/linktype.js'
import {PacketDecoder} from '../wire/decode.js'

const dec = new PacketDecoder({verifyChecksums: false})

/**
 * Fingerprint of the fields this check compares (two 32-bit hashes, pushed
 * onto `out`): the same for a segment the client sent and its copy in
 * `pkts` exactly when no field differs, but for a 2^-64 chance.
 */
export function replayPrint(out: number[], src: string, dst: string, sport: number, dport: number, seq: number, ack: number, flags: number,
  window: number, options: Uint8Array, payload: Uint8Array): void {
  let a = 0x811c9dc5
  let b = 0x9747b28c
  const mix = (x: number) => {
    a = Math.imul(a ^ x, 0x01000193)
    b = Math.imul(b ^ x, 0x5bd1e995)
    b ^= b >>> 15
  }
  for (let i = 0; i < src.length; i++) mix(src.charCodeAt(i))
  mix(0x10000)
  for (let i = 0; i < dst.length; i++) mix(dst.charCodeAt(i))
  mix(0x10001)
  mix(sport); mix(dport); mix(seq & 0xffff); mix(seq >>> 16); mix(ack & 0xffff); mix(ack >>> 16); mix(flags); mix(window)
  mix(options.length)
  for (let i = 0; i < options.length; i++) mix(options[i]!)
  mix(payload.length & 0xffff)
  mix(payload.length >>> 16)
  for (let i = 0; i < payload.length; i++) mix(payload[i]!)
  out.push(a >>> 0, (b ^ (b >>> 13)) >>> 0)
}

/** The fingerprints of a request's `pkts` (two numbers each; -1, -1 for one that is not a TCP segment: it matches nothing). */
export function pktsPrint(pkts: readonly Uint8Array[]): number[] {
  const out: number[] = []
  for (const b of pkts) {
    const d = dec.decode(LINKTYPE.RAW, b, b.length, b.length)
    if (d.transport !== 'tcp' || d.l4HeaderLen === 0) { out.push(-1, -1); continue }
    replayPrint(out, d.srcAddr(), d.dstAddr(), d.srcPort, d.dstPort, d.seq, d.ack, d.tcpFlags, d.window,
      b.subarray(d.l4Offset + 20, d.l4Offset + d.l4HeaderLen), b.subarray(d.payloadOffset, d.payloadOffset + d.payloadLen))
  }
  return out
}
