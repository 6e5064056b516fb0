// A segment the segment pass keeps (assemble.ts's Seg), as a class rather
// than an object literal: the pass makes one per kept packet (about 2 M on
// the bench trace), and V8 boxes every number field that has ever held a
// non-int32 value (sequence numbers, timestamps and hashes are uint32 and
// often ≥ 2^31; the capture time is a fraction) in a heap number of its own,
// made with the segment: six more objects per segment for the young
// generation to copy. Here those are kept as int32 (`| 0`), which V8 stores
// inline, and read back as uint32 by getters; the capture time is computed
// from its seconds and nanoseconds when read. The small fields (ports,
// flags, window, lengths, option values, checksum verdicts, leg) are packed
// four or five to an int32 and read back by getters: the segments outlive
// several young-generation collections (until their handoff is judged), so
// each field is copied twice and then marked; 35 fields became 24. Readers
// see the same values.
import type {ChecksumStatus} from '../wire/decode.js'
import type {Leg, Seg} from './assemble.js'
import type {View} from './vantage.js'

/** The checksum verdicts and legs, by their packed code. */
const STATUSES: readonly ChecksumStatus[] = ['good', 'bad', 'partial', 'unverified', 'none']
const LEGS: readonly Leg[] = ['client', 'forward', 'return', 'be-raw', 'fe-own', 'stray-forward', 'stray-return', 'other']

function statusCode(s: ChecksumStatus): number {
  const i = STATUSES.indexOf(s)
  if (i < 0) throw new Error(`internal error: checksum status ${s}`)
  return i
}

function legCode(l: Leg): number {
  const i = LEGS.indexOf(l)
  if (i < 0) throw new Error(`internal error: leg ${l}`)
  return i
}

export class KeptSeg implements Seg {
  // Declared, not defined (a class field is defined as undefined before the constructor runs, then written:
  // twice the stores, for every segment); the constructor writes each once, always in this order (one shape).
  declare readonly view: View
  declare readonly frame: number
  declare readonly tsSec: number
  declare readonly tsNsec: number
  declare readonly hdrBuf: Uint8Array
  declare readonly hdrOff: number
  declare readonly origLen: number
  declare readonly src: string
  declare readonly dst: string
  declare readonly len: number
  declare readonly cut: number
  declare readonly ipId: number
  declare readonly sack: number[]
  declare payload?: Uint8Array
  declare private readonly seq32: number
  declare private readonly ack32: number
  declare private readonly hash32: number
  declare private readonly tsVal32: number
  declare private readonly tsEcr32: number
  /** sport << 16 | dport. */
  declare private readonly ports: number
  /** flags | window << 8. */
  declare private readonly flagsWindow: number
  /** hdrLen | optOff << 16 (both < 2^16: offsets in a header copy). */
  declare private readonly hdrShape: number
  /** optLen (≤ 40) | (ws + 1) << 6 (9 bits) | (mss + 1) << 15 (17 bits). */
  declare private readonly opts: number
  /** linkType (16 bits) | ipCsum << 16 | tcpCsum << 19 | leg << 22 (codes) | v6 << 25 | hasTs << 26 | sackPerm << 27. */
  declare private readonly kinds: number

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
    this.hdrBuf = hdrBuf
    this.hdrOff = hdrOff
    this.origLen = origLen
    this.src = src
    this.dst = dst
    this.len = len
    this.cut = cut
    this.ipId = ipId
    this.sack = sack
    this.payload = undefined
    this.seq32 = seq | 0
    this.ack32 = ack | 0
    this.hash32 = hash | 0
    this.tsVal32 = tsVal | 0
    this.tsEcr32 = tsEcr | 0
    this.ports = (sport << 16) | dport
    this.flagsWindow = flags | (window << 8)
    this.hdrShape = hdrLen | (optOff << 16)
    this.opts = optLen | ((ws + 1) << 6) | ((mss + 1) << 15)
    this.kinds = linkType | (statusCode(ipCsum) << 16) | (statusCode(tcpCsum) << 19) | (legCode(leg) << 22) |
      (v6 ? 1 << 25 : 0) | (hasTs ? 1 << 26 : 0) | (sackPerm ? 1 << 27 : 0)
  }

  get seq(): number { return this.seq32 >>> 0 }
  get ack(): number { return this.ack32 >>> 0 }
  get hash(): number { return this.hash32 >>> 0 }
  get tsVal(): number { return this.tsVal32 >>> 0 }
  get tsEcr(): number { return this.tsEcr32 >>> 0 }
  /** Capture time in seconds: computed as the pass computed it (tsSec + tsNsec / 1e9). */
  get t(): number { return this.tsSec + this.tsNsec / 1e9 }
  get sport(): number { return this.ports >>> 16 }
  get dport(): number { return this.ports & 0xffff }
  get flags(): number { return this.flagsWindow & 0xff }
  get window(): number { return this.flagsWindow >>> 8 }
  get hdrLen(): number { return this.hdrShape & 0xffff }
  get optOff(): number { return this.hdrShape >>> 16 }
  get optLen(): number { return this.opts & 0x3f }
  get ws(): number { return ((this.opts >>> 6) & 0x1ff) - 1 }
  get mss(): number { return (this.opts >>> 15) - 1 }
  get linkType(): number { return this.kinds & 0xffff }
  get ipCsum(): ChecksumStatus { return STATUSES[(this.kinds >>> 16) & 7]! }
  get tcpCsum(): ChecksumStatus { return STATUSES[(this.kinds >>> 19) & 7]! }
  get leg(): Leg { return LEGS[(this.kinds >>> 22) & 7]! }
  get v6(): boolean { return (this.kinds & (1 << 25)) !== 0 }
  get hasTs(): boolean { return (this.kinds & (1 << 26)) !== 0 }
  get sackPerm(): boolean { return (this.kinds & (1 << 27)) !== 0 }
}
