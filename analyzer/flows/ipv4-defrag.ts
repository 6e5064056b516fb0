// IPv4 reassembly for the readers of `check` and `sessions`. A TCP segment
// sent in fragments (a path MTU below the sender's, a tunnel, a middlebox)
// has no TCP header in any but the first fragment, and in the first maybe not
// all of it: read one by one, the segment is not there at all, and what the
// client received looks like a hole.
//
// reassembleIpv4() wraps reader handlers: every packet goes through as it is,
// except the fragment that completes a datagram, which is replaced by the
// whole datagram as a raw-IP record (LINKTYPE_RAW) with that fragment's frame
// number and time (as tshark shows a reassembled packet at its last
// fragment). Frames that are not IPv4 fragments cost a few byte reads here.
//
// Rules (RFC 791 / RFC 815 holes): fragments are grouped by interface,
// source, destination, protocol and identification; the datagram is complete
// when every byte from 0 to the end given by the fragment without MF is
// there. Not reassembled (left to the readers as the fragments they are): a
// datagram with a fragment cut by the snap length, one over 65535 bytes, and
// one whose fragments overlap with different bytes — receivers disagree on
// which copy wins (Linux drops the datagram, tshark keeps the last), so the
// segment cannot be known; overlaps with the same bytes are duplicates. At most MAX_PENDING datagrams wait at a time; the
// oldest is dropped past that. The rebuilt header is the first fragment's,
// MF and offset cleared, length set; its checksum is made valid when every
// fragment's was, and left invalid otherwise (so ip-checksum still sees it).
import {ipv4HeaderChecksum} from '../wire/checksum.js'
import {LINKTYPE} from '../wire/linktype.js'
import type {CaptureHandlers, PacketRecord} from '../capture/types.js'

const MAX_PENDING = 256

interface Pending {
  /** Header of the fragment at offset 0 (with options), once seen. */
  header: Uint8Array | null
  body: Uint8Array
  /** Byte ranges of the body received, [from, to) sorted and merged. */
  have: number[]
  /** Body length, known from the fragment without MF (-1 until then). */
  total: number
  badHeader: boolean
  unusable: boolean
}

/** Offset of an IPv4 header in the frame, or -1 (not IPv4, or a link layer not looked into). */
export function ipv4Offset(linkType: number, b: Uint8Array, start: number, capLen: number): number {
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
      if (et !== 0x0800) return -1
      break
    }
    case LINKTYPE.LINUX_SLL:
      if (capLen < 16 || b[start + 14] !== 0x08 || b[start + 15] !== 0x00) return -1
      o = start + 16
      break
    case LINKTYPE.LINUX_SLL2:
      if (capLen < 20 || b[start] !== 0x08 || b[start + 1] !== 0x00) return -1
      o = start + 20
      break
    case LINKTYPE.NULL: case LINKTYPE.LOOP: {
      if (capLen < 4) return -1
      const le = b[start] === 2 && b[start + 1] === 0 && b[start + 2] === 0 && b[start + 3] === 0
      const be = b[start] === 0 && b[start + 1] === 0 && b[start + 2] === 0 && b[start + 3] === 2
      if (!le && !be) return -1
      o = start + 4
      break
    }
    case LINKTYPE.RAW: case LINKTYPE.DLT_RAW_12: case LINKTYPE.DLT_RAW_14: case LINKTYPE.IPV4:
      o = start
      break
    default:
      return -1
  }
  if (o + 20 > start + capLen || b[o]! >> 4 !== 4) return -1
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

export function reassembleIpv4(h: CaptureHandlers): CaptureHandlers {
  const pending = new Map<string, Pending>()
  const out: CaptureHandlers = {
    onPacket: (rec: PacketRecord) => {
      const b = rec.buffer
      const o = ipv4Offset(rec.linkType, b, rec.dataOffset, rec.capLen)
      // Not a fragment (MF clear, offset 0): through, untouched.
      if (o < 0 || ((b[o + 6]! & 0x3f) === 0 && b[o + 7] === 0)) { h.onPacket(rec); return }
      const whole = add(pending, rec, b, o)
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

/** Adds the fragment at o; returns the whole datagram when this one completed it. */
function add(pending: Map<string, Pending>, rec: PacketRecord, b: Uint8Array, o: number): Uint8Array | null {
  const hl = (b[o]! & 15) * 4
  const total = (b[o + 2]! << 8) | b[o + 3]!
  const frameEnd = rec.dataOffset + rec.capLen
  if (hl < 20 || total < hl || o + hl > frameEnd) return null
  const key = `${rec.interfaceId}|${b[o + 12]}.${b[o + 13]}.${b[o + 14]}.${b[o + 15]}>${b[o + 16]}.${b[o + 17]}.${b[o + 18]}.${b[o + 19]}|${b[o + 9]}|${(b[o + 4]! << 8) | b[o + 5]!}`
  let p = pending.get(key)
  if (p === undefined) {
    if (pending.size >= MAX_PENDING) pending.delete(pending.keys().next().value!)
    p = {header: null, body: new Uint8Array(0), have: [], total: -1, badHeader: false, unusable: false}
    pending.set(key, p)
  }
  const off = (((b[o + 6]! & 0x1f) << 8) | b[o + 7]!) * 8
  const mf = (b[o + 6]! & 0x20) !== 0
  const len = total - hl
  if (o + total > frameEnd) p.unusable = true // cut by the snap length (or a lying length): not rebuilt
  if (off + len > 65535 - hl) p.unusable = true
  if (p.unusable) return null
  if (ipv4HeaderChecksum(b, o, hl) !== ((b[o + 10]! << 8) | b[o + 11]!)) p.badHeader = true
  if (off === 0 && p.header === null) p.header = b.slice(o, o + hl)
  if (!mf && p.total < 0) p.total = off + len
  if (p.body.length < off + len) {
    const nb = new Uint8Array(Math.max(off + len, p.body.length * 2))
    nb.set(p.body)
    p.body = nb
  }
  // Write where nothing was yet; where something was, it must be the same bytes.
  let at = off
  const end = off + len
  for (let i = 0; i < p.have.length && at < end; i += 2) {
    const a = p.have[i]!, z = p.have[i + 1]!
    if (z <= at) continue
    if (a > at) p.body.set(b.subarray(o + hl + (at - off), o + hl + (Math.min(a, end) - off)), at)
    for (let k = Math.max(a, at); k < Math.min(z, end); k++) {
      if (p.body[k] !== b[o + hl + (k - off)]) { p.unusable = true; return null }
    }
    at = Math.max(at, z)
  }
  if (at < end) p.body.set(b.subarray(o + hl + (at - off), o + hl + len), at)
  addRange(p.have, off, end)
  if (p.header === null || p.total < 0 || p.have.length !== 2 || p.have[0] !== 0 || p.have[1]! < p.total) return null
  pending.delete(key)
  const hdr = p.header
  const out = new Uint8Array(hdr.length + p.total)
  out.set(hdr)
  out.set(p.body.subarray(0, p.total), hdr.length)
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
