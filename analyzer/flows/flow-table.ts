// A hash table from a packet's bidirectional 5-tuple to a small integer id,
// without building a string per packet. Keys are the raw address words read
// straight from the packet bytes; the endpoint that sorts lower is "A", so
// A→B and B→A find the same entry (gopacket's symmetric flow hash). Open
// addressing over typed arrays: lookups allocate nothing; the table doubles
// when half full.
import type {PacketDecoder} from '../wire/decode.js'

// Key slots are 10 words: IPv6 [version<<8 | proto, A0..A3, B0..B3, ports];
// IPv4 uses the first 4: [version<<8 | proto, A, B, portA<<16 | portB].
const WORDS = 10

export class FlowTable {
  private capacity = 1 << 12
  private keys = new Uint32Array(this.capacity * WORDS)
  /** id + 1 per slot; 0 = empty. */
  private slots = new Int32Array(this.capacity)
  private count = 0
  private readonly scratch = new Uint32Array(WORDS)
  /** After lookup(): the packet goes from A to B. */
  fromA = true
  /** After lookup(): the id did not exist before. */
  created = false

  get size(): number {
    return this.count
  }

  /**
   * The id of the packet's flow (0, 1, 2, … in order of first appearance),
   * or -1 when the packet has no IP addresses and ports.
   */
  lookup(d: PacketDecoder): number {
    if (d.ipSrcOffset < 0 || d.ipDstOffset < 0 || d.srcPort < 0) return -1
    const k = this.scratch
    const b = d.bytes
    const v6 = d.network === 'ipv6'
    const n = v6 ? 4 : 1
    // Which endpoint sorts lower: compare address words, then ports.
    let order = 0
    for (let i = 0; i < n && order === 0; i++) {
      const s = word(b, d.ipSrcOffset + 4 * i)
      const t = word(b, d.ipDstOffset + 4 * i)
      order = s < t ? -1 : s > t ? 1 : 0
    }
    if (order === 0) order = d.srcPort <= d.dstPort ? -1 : 1
    const fromA = order < 0
    const aOff = fromA ? d.ipSrcOffset : d.ipDstOffset
    const bOff = fromA ? d.ipDstOffset : d.ipSrcOffset
    // IPv4 keys use 4 words (proto, A, B, ports), IPv6 keys all 10; word 0
    // says which, so keys of the two families never compare equal.
    const sp = d.srcPort
    const dp = d.dstPort
    k[0] = ((v6 ? 6 : 4) << 8) | (d.proto & 0xff)
    if (v6) {
      for (let i = 0; i < 4; i++) {
        k[1 + i] = word(b, aOff + 4 * i)
        k[5 + i] = word(b, bOff + 4 * i)
      }
      k[9] = fromA ? ((sp << 16) | dp) >>> 0 : ((dp << 16) | sp) >>> 0
    } else {
      k[1] = word(b, aOff)
      k[2] = word(b, bOff)
      k[3] = fromA ? ((sp << 16) | dp) >>> 0 : ((dp << 16) | sp) >>> 0
    }
    const len = v6 ? WORDS : 4
    this.fromA = fromA
    const h = hashKey(k, 0, len)
    const mask = this.capacity - 1
    const keys = this.keys
    for (let slot = h & mask; ; slot = (slot + 1) & mask) {
      const id1 = this.slots[slot]
      if (id1 === 0) {
        this.created = true
        const id = this.count++
        this.slots[slot] = id + 1
        keys.set(len === WORDS ? k : k.subarray(0, len), slot * WORDS)
        if (this.count * 2 > this.capacity) this.grow()
        return id
      }
      const base = slot * WORDS
      let same = keys[base] === k[0]
      for (let i = 1; same && i < len; i++) same = keys[base + i] === k[i]
      if (same) { this.created = false; return id1 - 1 }
    }
  }

  private grow(): void {
    const oldKeys = this.keys
    const oldSlots = this.slots
    const oldCap = this.capacity
    this.capacity = oldCap * 2
    this.keys = new Uint32Array(this.capacity * WORDS)
    this.slots = new Int32Array(this.capacity)
    const mask = this.capacity - 1
    for (let s = 0; s < oldCap; s++) {
      const id1 = oldSlots[s]
      if (id1 === 0) continue
      const len = (oldKeys[s * WORDS] >>> 8) === 6 ? WORDS : 4
      let slot = hashKey(oldKeys, s * WORDS, len) & mask
      while (this.slots[slot] !== 0) slot = (slot + 1) & mask
      this.slots[slot] = id1
      this.keys.set(oldKeys.subarray(s * WORDS, s * WORDS + WORDS), slot * WORDS)
    }
  }
}

/** FNV-1a over 32-bit words, with a final mix so the low bits (the slot) depend on every word. */
function hashKey(k: Uint32Array, base: number, len: number): number {
  let h = 0x811c9dc5
  for (let i = 0; i < len; i++) h = Math.imul(h ^ k[base + i], 0x01000193)
  return h ^ (h >>> 15)
}

function word(b: Uint8Array, o: number): number {
  return ((b[o] << 24) | (b[o + 1] << 16) | (b[o + 2] << 8) | b[o + 3]) >>> 0
}
