// A segment the segment pass keeps (assemble.ts's Seg), as a class rather
// than an object literal: the pass makes one per kept packet (about 2 M on
// the bench trace), and V8 boxes every number field that has ever held a
// non-int32 value (sequence numbers, timestamps and hashes are uint32 and
// often ≥ 2^31; the capture time is a fraction) in a heap number of its own,
// made with the segment: six more objects per segment for the young
// generation to copy. Here those are kept as int32 (`| 0`), which V8 stores
// inline, and read back as uint32 by getters; the capture time is computed
// from its seconds and nanoseconds when read. Readers see the same values.
import type {ChecksumStatus} from '../wire/decode.js'
import type {Leg, Seg} from './assemble.js'
import type {View} from './vantage.js'

export class KeptSeg implements Seg {
  // Declared, not defined (a class field is defined as undefined before the constructor runs, then written:
  // twice the stores, for every segment); the constructor writes each once, always in this order (one shape).
  declare readonly view: View
  declare readonly frame: number
  declare readonly tsSec: number
  declare readonly tsNsec: number
  declare readonly linkType: number
  declare readonly hdrBuf: Uint8Array
  declare readonly hdrOff: number
  declare readonly hdrLen: number
  declare readonly origLen: number
  declare readonly v6: boolean
  declare readonly src: string
  declare readonly dst: string
  declare readonly sport: number
  declare readonly dport: number
  declare readonly flags: number
  declare readonly window: number
  declare readonly len: number
  declare readonly cut: number
  declare readonly optOff: number
  declare readonly optLen: number
  declare readonly ipId: number
  declare readonly hasTs: boolean
  declare readonly sack: number[]
  declare readonly mss: number
  declare readonly ws: number
  declare readonly sackPerm: boolean
  declare readonly ipCsum: ChecksumStatus
  declare readonly tcpCsum: ChecksumStatus
  declare readonly leg: Leg
  declare payload?: Uint8Array
  declare private readonly seq32: number
  declare private readonly ack32: number
  declare private readonly hash32: number
  declare private readonly tsVal32: number
  declare private readonly tsEcr32: number

  constructor(
    view: View, frame: number, tsSec: number, tsNsec: number, linkType: number, hdrBuf: Uint8Array, hdrOff: number,
    hdrLen: number, origLen: number, v6: boolean, src: string, dst: string, sport: number, dport: number,
    seq: number, ack: number, flags: number, window: number, len: number, cut: number, hash: number, optOff: number,
    optLen: number, ipId: number, hasTs: boolean, tsVal: number, tsEcr: number, sack: number[], mss: number,
    ws: number, sackPerm: boolean, ipCsum: ChecksumStatus, tcpCsum: ChecksumStatus, leg: Leg
  ) {
    this.view = view
    this.frame = frame
    this.tsSec = tsSec
    this.tsNsec = tsNsec
    this.linkType = linkType
    this.hdrBuf = hdrBuf
    this.hdrOff = hdrOff
    this.hdrLen = hdrLen
    this.origLen = origLen
    this.v6 = v6
    this.src = src
    this.dst = dst
    this.sport = sport
    this.dport = dport
    this.seq32 = seq | 0
    this.ack32 = ack | 0
    this.flags = flags
    this.window = window
    this.len = len
    this.cut = cut
    this.hash32 = hash | 0
    this.optOff = optOff
    this.optLen = optLen
    this.ipId = ipId
    this.hasTs = hasTs
    this.tsVal32 = tsVal | 0
    this.tsEcr32 = tsEcr | 0
    this.sack = sack
    this.mss = mss
    this.ws = ws
    this.sackPerm = sackPerm
    this.ipCsum = ipCsum
    this.tcpCsum = tcpCsum
    this.leg = leg
    this.payload = undefined
  }

  get seq(): number { return this.seq32 >>> 0 }
  get ack(): number { return this.ack32 >>> 0 }
  get hash(): number { return this.hash32 >>> 0 }
  get tsVal(): number { return this.tsVal32 >>> 0 }
  get tsEcr(): number { return this.tsEcr32 >>> 0 }
  /** Capture time in seconds: computed as the pass computed it (tsSec + tsNsec / 1e9). */
  get t(): number { return this.tsSec + this.tsNsec / 1e9 }
}
