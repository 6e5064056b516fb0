// The hash of a kept segment's payload (KeptSeg.hash: tells segments apart
// by content, never shown), and, from the same walk over the payload, the
// payload's ones-complement sum, which the decoder adds to the header's to
// verify the TCP checksum (PacketDecoder.verifyNow): every payload byte of
// every kept segment is read once, not once for each (the two walks were
// ~9 % of check's CPU on the bench trace).
//
// The hash is murmur3's 32-bit mix over the payload's little-endian 32-bit
// words, in two lanes (even and odd words: two independent multiply chains
// run about twice as fast as one), then the tail bytes. Words are read
// through an Int32Array over the whole buffer (wire/words.ts; signed, so
// that no word is a heap number), two aligned reads shifted together when
// the payload is not 4-byte aligned: the hash of the same bytes is the same
// wherever they sit. Every mixing step ends in `| 0`: without it the lane
// leaves int32 and V8 works on doubles (half the speed, same values).
//
// The sum of those little-endian words is the byte-swapped ones-complement
// sum of the payload's big-endian 16-bit words (RFC 1071 §2: the sum does
// not care about word size, and swapping every word swaps the sum), so it is
// folded and swapped back once at the end.
import {fold16, sum16} from '../wire/checksum.js'
import {HOST_LITTLE_ENDIAN, wordsOf} from '../wire/words.js'

let lastSum = 0

/** Hash of b[s, e); payloadSum() then gives the same range's ones-complement sum. */
export function payloadHash(b: Uint8Array, s: number, e: number): number {
  let h = (e - s) ^ 0x811c9dc5
  let g = 0x9747b28c
  let i = s
  let swapped = 0
  if (HOST_LITTLE_ENDIAN && e - s >= 32) {
    const w = wordsOf(b.buffer)
    const abs = b.byteOffset + s
    const sh = (abs & 3) * 8
    let k = abs >>> 2
    // Whole words of the payload, an even count; when unaligned, the word after the last one is read too: it must
    // exist.
    let n = (e - s) >>> 2
    if (sh !== 0 && k + n >= w.length) n = w.length - k - 1
    n &= ~1
    const kEnd = k + n
    // A float: 16 Ki words of < 2^32 (a 64 KiB payload) stay far below 2^53.
    let sum = 0
    if (sh === 0) {
      for (; k < kEnd; k += 2) {
        const x = w[k]!
        const y = w[k + 1]!
        h = mixWord(h, x)
        g = mixWord(g, y)
        sum += (x >>> 0) + (y >>> 0)
      }
    } else {
      let lo = w[k]!
      for (; k < kEnd; k += 2) {
        const mid = w[k + 1]!
        const hi = w[k + 2]!
        const x = (lo >>> sh) | (mid << (32 - sh))
        const y = (mid >>> sh) | (hi << (32 - sh))
        h = mixWord(h, x)
        g = mixWord(g, y)
        sum += (x >>> 0) + (y >>> 0)
        lo = hi
      }
    }
    const f = fold16(sum)
    swapped = ((f & 0xff) << 8) | (f >>> 8)
    i = s + 4 * n
  }
  // The bytes left start at an even distance from s: their high bytes are where sum16 takes them.
  lastSum = sum16(b, i, e, swapped)
  // The words left (all of them for a short payload, or at the end of the buffer), still even words to h, odd to g.
  for (const last = e - 3; i < last; i += 4) {
    const x = b[i]! | (b[i + 1]! << 8) | (b[i + 2]! << 16) | (b[i + 3]! << 24)
    if (((i - s) & 4) === 0) h = mixWord(h, x)
    else g = mixWord(g, x)
  }
  for (; i < e; i++) h = Math.imul(h ^ b[i]!, 0x01000193)
  h ^= Math.imul(g, 0x9e3779b1)
  h ^= h >>> 16
  h = Math.imul(h, 0x85ebca6b)
  h ^= h >>> 13
  return h >>> 0
}

/**
 * The unfolded ones-complement sum of the range the last payloadHash hashed, congruent (mod 0xFFFF, and zero
 * only when that is) to sum16 over it: what PacketDecoder.verifyNow takes.
 */
export function payloadSum(): number {
  return lastSum
}

function mixWord(h: number, k: number): number {
  k = Math.imul(k, 0xcc9e2d51)
  k = Math.imul((k << 15) | (k >>> 17), 0x1b873593)
  h ^= k
  return (Math.imul((h << 13) | (h >>> 19), 5) + 0xe6546b64) | 0
}
