// Address resolution for the stateful replay, done by the replayer itself
// on the one interface it was given:
// - it resolves the target's MAC (ARP request / IPv6 neighbour
//   solicitation from the replayer's source address);
// - it answers ARP requests and neighbour solicitations for its source
//   address, which the local stack does NOT own (so the local kernel neither
//   answers for it nor resets the replayed connections — the point of the
//   design: no stray RSTs).
// Frames are built and parsed here byte by byte (RFC 826, RFC 4861 §4.3/4.4).
import {finishChecksum, pseudoHeaderSumV6, sum16} from '../../analyzer/wire/checksum.js'
import {parseIpv4Bytes, parseIpv6} from '../../analyzer/wire/addr.js'

export const ETH_ARP = 0x0806
export const ETH_IPV6 = 0x86dd
const BROADCAST = new Uint8Array([0xff, 0xff, 0xff, 0xff, 0xff, 0xff])

export function addrBytes(a: string): Uint8Array {
  return a.includes(':') ? parseIpv6(a) : parseIpv4Bytes(a)
}

function eq(a: Uint8Array, aOff: number, b: Uint8Array): boolean {
  for (let i = 0; i < b.length; i++) if (a[aOff + i] !== b[i]) return false
  return true
}

function eth(dst: Uint8Array, src: Uint8Array, type: number, bodyLen: number): Uint8Array {
  // Ethernet minimum frame: 60 bytes before the FCS (padding is zeros).
  const f = new Uint8Array(Math.max(60, 14 + bodyLen))
  f.set(dst, 0)
  f.set(src, 6)
  f[12] = type >> 8
  f[13] = type & 0xff
  return f
}

function arp(op: 1 | 2, sha: Uint8Array, spa: Uint8Array, tha: Uint8Array, tpa: Uint8Array, ethDst: Uint8Array): Uint8Array {
  const f = eth(ethDst, sha, ETH_ARP, 28)
  f.set([0, 1, 0x08, 0x00, 6, 4, 0, op], 14)
  f.set(sha, 22)
  f.set(spa, 28)
  f.set(tha, 32)
  f.set(tpa, 38)
  return f
}

/** ARP request "who has `target`? tell `source`", broadcast. */
export function arpRequest(sourceMac: Uint8Array, source: Uint8Array, target: Uint8Array): Uint8Array {
  return arp(1, sourceMac, source, new Uint8Array(6), target, BROADCAST)
}

/** ARP reply "`ip` is at `mac`" to the asker. */
export function arpReply(mac: Uint8Array, ip: Uint8Array, askerMac: Uint8Array, askerIp: Uint8Array): Uint8Array {
  return arp(2, mac, ip, askerMac, askerIp, askerMac)
}

/** The solicited-node multicast address of an IPv6 address (RFC 4291 §2.7.1). */
export function solicitedNode(a: Uint8Array): Uint8Array {
  const s = new Uint8Array(16)
  s.set([0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0xff], 0)
  s.set(a.subarray(13, 16), 13)
  return s
}

function icmp6(ethDst: Uint8Array, srcMac: Uint8Array, src: Uint8Array, dst: Uint8Array, body: Uint8Array): Uint8Array {
  const f = eth(ethDst, srcMac, ETH_IPV6, 40 + body.length)
  const ip = 14
  f[ip] = 0x60
  f[ip + 4] = body.length >> 8
  f[ip + 5] = body.length & 0xff
  f[ip + 6] = 58
  f[ip + 7] = 255 // RFC 4861: hop limit 255, or the receiver drops it
  f.set(src, ip + 8)
  f.set(dst, ip + 24)
  f.set(body, ip + 40)
  const l4 = ip + 40
  const c = finishChecksum(sum16(f, l4, l4 + body.length, pseudoHeaderSumV6(f, ip + 8, ip + 24, 58, body.length)))
  f[l4 + 2] = c >> 8
  f[l4 + 3] = c & 0xff
  return f
}

/** Neighbour solicitation for `target` from `source` (with our link-layer address). */
export function neighborSolicitation(sourceMac: Uint8Array, source: Uint8Array, target: Uint8Array): Uint8Array {
  const body = new Uint8Array(32)
  body[0] = 135
  body.set(target, 8)
  body[24] = 1 // source link-layer address option
  body[25] = 1
  body.set(sourceMac, 26)
  const dst = solicitedNode(target)
  const ethDst = new Uint8Array([0x33, 0x33, dst[12], dst[13], dst[14], dst[15]])
  return icmp6(ethDst, sourceMac, source, dst, body)
}

/** Solicited neighbour advertisement: `ip` is at `mac` (Override set). */
export function neighborAdvertisement(mac: Uint8Array, ip: Uint8Array, askerMac: Uint8Array, askerIp: Uint8Array): Uint8Array {
  const body = new Uint8Array(32)
  body[0] = 136
  body[4] = 0x60 // S (solicited) + O (override)
  body.set(ip, 8)
  body[24] = 2 // target link-layer address option
  body[25] = 1
  body.set(mac, 26)
  return icmp6(askerMac, mac, ip, askerIp, body)
}

export type NeighborMessage =
  | {kind: 'request'; senderMac: Uint8Array; senderIp: Uint8Array; target: Uint8Array}
  | {kind: 'reply'; mac: Uint8Array; ip: Uint8Array}

/** An ARP or NDP (NS/NA, no extension headers) message in an Ethernet frame, or null. */
export function parseNeighbor(f: Uint8Array): NeighborMessage | null {
  if (f.length < 14) return null
  const type = (f[12] << 8) | f[13]
  if (type === ETH_ARP) {
    if (f.length < 42 || f[14] !== 0 || f[15] !== 1 || f[16] !== 0x08 || f[17] !== 0 || f[18] !== 6 || f[19] !== 4) return null
    const op = (f[20] << 8) | f[21]
    const sha = f.slice(22, 28)
    const spa = f.slice(28, 32)
    const tpa = f.slice(38, 42)
    if (op === 1) return {kind: 'request', senderMac: sha, senderIp: spa, target: tpa}
    if (op === 2) return {kind: 'reply', mac: sha, ip: spa}
    return null
  }
  if (type === ETH_IPV6) {
    if (f.length < 14 + 40 + 24 || (f[14] >> 4) !== 6 || f[14 + 6] !== 58 || f[14 + 7] !== 255) return null
    const l4 = 54
    const t = f[l4]
    if (t !== 135 && t !== 136) return null
    const target = f.slice(l4 + 8, l4 + 24)
    const end = Math.min(f.length, l4 + ((f[18] << 8) | f[19]))
    let lla: Uint8Array | null = null
    for (let o = l4 + 24; o + 8 <= end && f[o + 1] > 0; o += f[o + 1] * 8) {
      if (f[o] === (t === 135 ? 1 : 2) && f[o + 1] === 1) lla = f.slice(o + 2, o + 8)
    }
    if (t === 135) {
      // From the unspecified address (duplicate address detection) there is no one to answer to by unicast: ignore.
      const src = f.slice(22, 38)
      if (src.every((b) => b === 0) || lla === null) return null
      return {kind: 'request', senderMac: lla, senderIp: src, target}
    }
    return {kind: 'reply', mac: lla ?? f.slice(6, 12), ip: target}
  }
  return null
}

/** The answer to `m` if it asks for one of `owned` (our source addresses), else null. */
export function answerFor(m: NeighborMessage, owned: Uint8Array[], mac: Uint8Array): Uint8Array | null {
  if (m.kind !== 'request') return null
  for (const a of owned) {
    if (a.length !== m.target.length || !eq(m.target, 0, a)) continue
    return a.length === 4 ? arpReply(mac, a, m.senderMac, m.senderIp) : neighborAdvertisement(mac, a, m.senderMac, m.senderIp)
  }
  return null
}
