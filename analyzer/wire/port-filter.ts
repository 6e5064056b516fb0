// A look at the raw bytes of a frame, before any decoding, that rules out
// most packets a reader does not want: "could this be a TCP segment to or
// from this port?". For a pass that only wants one port (the control
// channel) over millions of frames, this is the difference between a few
// byte reads and a full PacketDecoder run per frame.
//
// Only the common untagged shapes are looked at: Ethernet, raw IP and IPv4
// linktypes, IPv4 without fragmentation. Anything else — VLAN tags, SLL,
// IPv6 (extension headers), fragments, short frames — answers true, and the
// caller decodes the frame to know. So false is always right (the decoder
// would not report TCP with that port), true means "decode it".
import {LINKTYPE} from './linktype.js'

/** The frame is b[start, start + capLen) (clamped to b.length), as PacketDecoder.decode takes it. */
export function mayBeTcpPort(linkType: number, b: Uint8Array, start: number, capLen: number, port: number): boolean {
  const end = start + capLen < b.length ? start + capLen : b.length
  let o: number
  if (linkType === LINKTYPE.ETHERNET) {
    if (end - start < 14 + 20 || b[start + 12] !== 0x08 || b[start + 13] !== 0x00) return true
    o = start + 14
  } else if (linkType === LINKTYPE.RAW || linkType === LINKTYPE.DLT_RAW_12 || linkType === LINKTYPE.DLT_RAW_14 ||
    linkType === LINKTYPE.IPV4) {
    o = start
  } else return true
  if (end - o < 20 || b[o]! >> 4 !== 4) return true
  const hl = (b[o]! & 15) * 4
  // Not TCP: the decoder would not call it TCP either (a header too short to
  // decode is not TCP to it).
  if (b[o + 9] !== 6) return false
  // Fragments (MF or an offset): let the decoder decide.
  if ((b[o + 6]! & 0x3f) !== 0 || b[o + 7] !== 0) return true
  const l4 = o + hl
  if (hl < 20 || l4 + 4 > end) return true
  const sp = (b[l4]! << 8) | b[l4 + 1]!
  const dp = (b[l4 + 2]! << 8) | b[l4 + 3]!
  return sp === port || dp === port
}
