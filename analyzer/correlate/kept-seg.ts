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
  payload?: Uint8Array = undefined
  private readonly seq32: number
  private readonly ack32: number
  private readonly hash32: number
  private readonly tsVal32: number
  private readonly tsEcr32: number

  constructor(
    readonly view: View,
    readonly frame: number,
    readonly tsSec: number,
    readonly tsNsec: number,
    readonly linkType: number,
    readonly hdrBuf: Uint8Array,
    readonly hdrOff: number,
    readonly hdrLen: number,
    readonly origLen: number,
    readonly v6: boolean,
    readonly src: string,
    readonly dst: string,
    readonly sport: number,
    readonly dport: number,
    seq: number,
    ack: number,
    readonly flags: number,
    readonly window: number,
    readonly len: number,
    readonly cut: number,
    hash: number,
    readonly optOff: number,
    readonly optLen: number,
    readonly ipId: number,
    readonly hasTs: boolean,
    tsVal: number,
    tsEcr: number,
    readonly sack: number[],
    readonly mss: number,
    readonly ws: number,
    readonly sackPerm: boolean,
    readonly ipCsum: ChecksumStatus,
    readonly tcpCsum: ChecksumStatus,
    readonly leg: Leg,
  ) {
    this.seq32 = seq | 0
    this.ack32 = ack | 0
    this.hash32 = hash | 0
    this.tsVal32 = tsVal | 0
    this.tsEcr32 = tsEcr | 0
  }

  get seq(): number { return this.seq32 >>> 0 }
  get ack(): number { return this.ack32 >>> 0 }
  get hash(): number { return this.hash32 >>> 0 }
  get tsVal(): number { return this.tsVal32 >>> 0 }
  get tsEcr(): number { return this.tsEcr32 >>> 0 }
  /** Capture time in seconds: computed as the pass computed it (tsSec + tsNsec / 1e9). */
  get t(): number { return this.tsSec + this.tsNsec / 1e9 }
}
