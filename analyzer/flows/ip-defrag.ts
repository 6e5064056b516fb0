// IP reassembly (IPv4 and IPv6) for the readers of `check` and `sessions`. A
// TCP segment sent in fragments (a path MTU below the sender's, a tunnel, a
// middlebox) has no TCP header in any but the first fragment, and in the
// first maybe not all of it: read one by one, the segment is not there at
// all, and what the client received looks like a hole.
//
// reassembleIp() wraps reader handlers: every packet goes through as it is,
// except the fragment that completes a datagram, which is replaced by the
// whole datagram as a raw-IP record (LINKTYPE_RAW) with that fragment's frame
// number and time (as tshark shows a reassembled packet at its last
// fragment). Frames that are not fragments cost a few byte reads here.
//
// Rules, both families: the datagram is complete when every byte from 0 to
// the end given by the fragment without MF / M is there. Not reassembled
// (left to the readers as the fragments they are): a datagram with a
// fragment cut by the snap length, one over 65535 bytes, and one whose
// fragments overlap with different bytes — receivers disagree on which copy
// wins (Linux drops the datagram, tshark keeps the last), so the segment
// cannot be known; overlaps with the same bytes are duplicates (the same
// fragment captured twice). At most MAX_PENDING datagrams wait at a time;
// the oldest is dropped past that.
//   IPv4 (RFC 791 / RFC 815 holes): fragments are grouped by interface,
//   source, destination, protocol and identification. The rebuilt header is
//   the first fragment's, MF and offset cleared, length set; its checksum is
//   made valid when every fragment's was, and left invalid otherwise (so
//   ip-checksum still sees it).
//   IPv6 (RFC 8200 §4.5): grouped by interface, source, destination and the
//   Fragment header's identification. The rebuilt packet is the first
//   fragment's unfragmentable part (the IPv6 header and the extension headers
//   before the Fragment header), the Fragment header taken out (the header
//   before it names the first fragment's next header instead), then the
//   fragmentable part; Payload Length set. An atomic fragment (offset 0, M
//   clear, RFC 6946) is a whole packet already: it goes through, and the
//   decoder reads past its Fragment header.
import {ipv4HeaderChecksum} from '../wire/checksum.js'
import {LINKTYPE} from '../wire/linktype.js'
import {ipVersionOfFamily, readLoopFamily, readNullFamily} from '../wire/null.js'
import type {CaptureHandlers, PacketRecord} from '../capture/types.js'

const MAX_PENDING = 256

interface Pending {
  /**
   * Of the fragment at offset 0, once seen: IPv4, its header (with options); IPv6, its unfragmentable part
   * (the IPv6 header and the extension headers before the Fragment header).
   */
  header: Uint8Array | null
  /** IPv6: where, in `header`, the next-header byte that named the Fragment header is. */
  nhAt: number
  /** IPv6: the next header the first fragment's Fragment header names (what follows in the fragmentable part). */
  fragNext: number
  body: Uint8Array
  /** Byte ranges of the body received, [from, to) sorted and merged. */
  have: number[]
  /** Body length, known from the fragment without MF / M (-1 until then). */
  total: number
  badHeader: boolean
  unusable: boolean
}

/** A fragment, where its bytes are: what add() needs of either family. */
interface Fragment {
  key: string
  /** Offset in the datagram's body (the fragmentable part for IPv6), and length. */
  off: number
  len: number
  more: boolean
  /** Where its body bytes start in the frame. */
  at: number
  /** Where the datagram's header (IPv4) or unfragmentable part (IPv6) starts, and its length. */
  hdr: number
  hdrLen: number
  /** IPv6: where the next-header byte naming the Fragment header is, from `hdr`; and the next header it names. -1 for IPv4. */
  nhAt: number
  fragNext: number
}

/** Offset of the IP header in the frame, or -1 (not IP, or a link layer not looked into); its version is b[o] >> 4. */
export function ipOffset(linkType: number, b: Uint8Array, start: number, capLen: number): number {
  let o: number
  switch (linkType) {
    case LINKTYPE.ETHERNET: {
      o = start + 12
      let et = capLen >= 14 ? (b[o]! << 8) | b[o + 1]! : -1
      o += 2
      while ((et === 0x8100 || et === 0x88a8 || et === 0x9100) && o + 4 <= start + capLen) {
        et = (b[o + 2]! << 8) | b[o + 3]!
        o += 4
      }
      if (et !== 0x0800 && et !== 0x86dd) return -1
      break
    }
    case LINKTYPE.LINUX_SLL: {
      const et = capLen >= 16 ? (b[start + 14]! << 8) | b[start + 15]! : -1
      if (et !== 0x0800 && et !== 0x86dd) return -1
      o = start + 16
      break
    }
    case LINKTYPE.LINUX_SLL2: {
      const et = capLen >= 20 ? (b[start]! << 8) | b[start + 1]! : -1
      if (et !== 0x0800 && et !== 0x86dd) return -1
      o = start + 20
      break
    }
    case LINKTYPE.NULL: case LINKTYPE.LOOP: {
      if (capLen < 4) return -1
      const family = linkType === LINKTYPE.LOOP ? readLoopFamily(b, start) : readNullFamily(b, start)
      if (ipVersionOfFamily(family) === 0) return -1
      o = start + 4
      break
    }
    case LINKTYPE.RAW: case LINKTYPE.DLT_RAW_12: case LINKTYPE.DLT_RAW_14: case LINKTYPE.IPV4: case LINKTYPE.IPV6:
      o = start
      break
    default:
      return -1
  }
  const v = o < start + capLen ? b[o]! >> 4 : 0
  if (v === 4 ? o + 20 > start + capLen : v === 6 ? o + 40 > start + capLen : true) return -1
  return o
}

function addRange(have: number[], from: number, to: number): void {
  have.push(from, to)
  // Few ranges per datagram: sort pairs and merge.
  const pairs: [number, number][] = []
  for (let i = 0; i < have.length; i += 2) pairs.push([have[i]!, have[i + 1]!])
  pairs.sort((a, b) => a[0] - b[0])
  have.length = 0
  for (const [a, z] of pairs) {
    const n = have.length
    if (n > 0 && a <= have[n - 1]!) have[n - 1] = Math.max(have[n - 1]!, z)
    else have.push(a, z)
  }
}

export function reassembleIp(h: CaptureHandlers): CaptureHandlers {
  const pending = new Map<string, Pending>()
  const out: CaptureHandlers = {
    onPacket: (rec: PacketRecord) => {
      const b = rec.buffer
      const o = ipOffset(rec.linkType, b, rec.dataOffset, rec.capLen)
      const f = o < 0 ? null : b[o]! >> 4 === 4 ? ipv4Fragment(rec, b, o) : ipv6Fragment(rec, b, o)
      // Not a fragment: through, untouched.
      if (f === null) { h.onPacket(rec); return }
      const whole = add(pending, rec, b, o, f)
      if (whole === null) { h.onPacket(rec); return }
      h.onPacket({
        index: rec.index, interfaceId: rec.interfaceId, linkType: LINKTYPE.RAW, tsSec: rec.tsSec, tsNsec: rec.tsNsec,
        capLen: whole.length, origLen: whole.length, data: whole, buffer: whole, dataOffset: 0, fileOffset: rec.fileOffset,
        comments: rec.comments, hasTimestamp: rec.hasTimestamp,
        ...(rec.flags !== undefined ? {flags: rec.flags} : {}), ...(rec.dropCount !== undefined ? {dropCount: rec.dropCount} : {}),
      })
    },
  }
  if (h.onInfo) out.onInfo = h.onInfo
  if (h.onInterface) out.onInterface = h.onInterface
  if (h.onWarning) out.onWarning = h.onWarning
  return out
}

/** The IPv4 fragment at o, or null (not a fragment: MF clear and offset 0; or a header that cannot be read). */
function ipv4Fragment(rec: PacketRecord, b: Uint8Array, o: number): Fragment | null {
  if ((b[o + 6]! & 0x3f) === 0 && b[o + 7] === 0) return null
  const hl = (b[o]! & 15) * 4
  const total = (b[o + 2]! << 8) | b[o + 3]!
  if (hl < 20 || total < hl || o + hl > rec.dataOffset + rec.capLen) return null
  return {
    key: `${rec.interfaceId}|${b[o + 12]}.${b[o + 13]}.${b[o + 14]}.${b[o + 15]}>${b[o + 16]}.${b[o + 17]}.${b[o + 18]}.${b[o + 19]}|${b[o + 9]}|${(b[o + 4]! << 8) | b[o + 5]!}`,
    off: (((b[o + 6]! & 0x1f) << 8) | b[o + 7]!) * 8, len: total - hl, more: (b[o + 6]! & 0x20) !== 0,
    at: o + hl, hdr: o, hdrLen: hl, nhAt: -1, fragNext: -1,
  }
}

/**
 * The IPv6 fragment at o, or null: no Fragment header before the upper layer (or one that cannot be read), or
 * an atomic one. The extension headers that may come before it are hop-by-hop (0), routing (43) and
 * destination options (60); anything else first (AH, ESP, the upper layer) ends the search.
 */
function ipv6Fragment(rec: PacketRecord, b: Uint8Array, o: number): Fragment | null {
  const end = rec.dataOffset + rec.capLen
  let nh = b[o + 6]!
  let nhAt = o + 6
  let x = o + 40
  while (nh === 0 || nh === 43 || nh === 60) {
    if (x + 2 > end) return null
    nhAt = x
    nh = b[x]!
    x += (b[x + 1]! + 1) * 8
  }
  if (nh !== 44 || x + 8 > end) return null
  const offM = (b[x + 2]! << 8) | b[x + 3]!
  const off = offM & 0xfff8
  const more = (offM & 1) !== 0
  if (off === 0 && !more) return null // atomic: a whole packet
  const payloadLen = (b[o + 4]! << 8) | b[o + 5]!
  const len = payloadLen - (x + 8 - (o + 40))
  if (len < 0) return null
  let addrs = ''
  for (let i = o + 8; i < o + 40; i++) addrs += String.fromCharCode(b[i]!)
  const id = ((b[x + 4]! << 24) | (b[x + 5]! << 16) | (b[x + 6]! << 8) | b[x + 7]!) >>> 0
  // The unfragmentable part is [o, x).
  return {key: `${rec.interfaceId}|6|${addrs}|${id}`, off, len, more, at: x + 8, hdr: o, hdrLen: x - o, nhAt: nhAt - o, fragNext: b[x]!}
}

/** Adds fragment f (of the datagram whose IP header is at o); returns the whole datagram when f completed it. */
function add(pending: Map<string, Pending>, rec: PacketRecord, b: Uint8Array, o: number, f: Fragment): Uint8Array | null {
  const v6 = b[o]! >> 4 === 6
  const frameEnd = rec.dataOffset + rec.capLen
  let p = pending.get(f.key)
  if (p === undefined) {
    if (pending.size >= MAX_PENDING) pending.delete(pending.keys().next().value!)
    p = {header: null, nhAt: -1, fragNext: -1, body: new Uint8Array(0), have: [], total: -1, badHeader: false, unusable: false}
    pending.set(f.key, p)
  }
  const {off, len} = f
  if (f.at + len > frameEnd) p.unusable = true // cut by the snap length (or a lying length): not rebuilt
  if (off + len > 65535 - f.hdrLen + (v6 ? 40 : 0)) p.unusable = true // IPv6's Payload Length leaves out its 40-byte header
  if (p.unusable) return null
  if (!v6 && ipv4HeaderChecksum(b, o, f.hdrLen) !== ((b[o + 10]! << 8) | b[o + 11]!)) p.badHeader = true
  if (off === 0 && p.header === null) {
    p.header = b.slice(f.hdr, f.hdr + f.hdrLen)
    p.nhAt = f.nhAt
    p.fragNext = f.fragNext
  }
  if (!f.more && p.total < 0) p.total = off + len
  if (p.body.length < off + len) {
    const nb = new Uint8Array(Math.max(off + len, p.body.length * 2))
    nb.set(p.body)
    p.body = nb
  }
  // Write where nothing was yet; where something was, it must be the same bytes.
  let at = off
  const end = off + len
  const src = f.at - off // frame offset of body byte 0, as this fragment carries it
  for (let i = 0; i < p.have.length && at < end; i += 2) {
    const a = p.have[i]!, z = p.have[i + 1]!
    if (z <= at) continue
    if (a > at) p.body.set(b.subarray(src + at, src + Math.min(a, end)), at)
    for (let k = Math.max(a, at); k < Math.min(z, end); k++) {
      if (p.body[k] !== b[src + k]) { p.unusable = true; return null }
    }
    at = Math.max(at, z)
  }
  if (at < end) p.body.set(b.subarray(src + at, src + end), at)
  addRange(p.have, off, end)
  if (p.header === null || p.total < 0 || p.have.length !== 2 || p.have[0] !== 0 || p.have[1]! < p.total) return null
  pending.delete(f.key)
  const hdr = p.header
  const out = new Uint8Array(hdr.length + p.total)
  out.set(hdr)
  out.set(p.body.subarray(0, p.total), hdr.length)
  if (v6) {
    const pl = hdr.length - 40 + p.total
    out[4] = pl >> 8
    out[5] = pl & 255
    out[p.nhAt] = p.fragNext
    return out
  }
  const t = hdr.length + p.total
  out[2] = t >> 8
  out[3] = t & 255
  out[6] &= 0x40 // DF kept; MF and offset cleared
  out[7] = 0
  const c = ipv4HeaderChecksum(out, 0, hdr.length) ^ (p.badHeader ? 0x5555 : 0)
  out[10] = c >> 8
  out[11] = c & 255
  return out
}
