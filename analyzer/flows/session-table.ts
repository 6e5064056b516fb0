// A hash table from (scope, unordered TCP/UDP 4-tuple) to a value, built
// from the packet's raw address words without allocating per lookup: A→B and
// B→A find the same entry (gopacket's symmetric flow hash). With deletion, so
// that a tracker can free what it no longer needs and memory follows the live
// entries, not the trace. Used by the session tracker and by inspect's
// conversation table.
// Open addressing with linear probing over typed arrays; deletion shifts the
// following entries back (no tombstones).
import type {PacketDecoder} from '../wire/decode.js'

// Key: [scope, version<<8 | proto, A0..A3, B0..B3, portA<<16 | portB] (IPv4 uses A0 and B0 only).
const WORDS = 11
/** keyHash()'s bits. */
const HASH_BITS = 0x3fffffff

export class SessionTable<T> {
  private capacity = 1 << 10
  private keys = new Uint32Array(this.capacity * WORDS)
  private values: (T | undefined)[] = new Array(this.capacity)
  private used = new Uint8Array(this.capacity)
  private count = 0
  private readonly scratch = new Uint32Array(WORDS)
  /** After find(): the packet goes from endpoint A (the one that sorts lower) to B. */
  fromA = true
  /** After find(): the slot of the key (for set() / delete()). */
  private slot = -1

  get size(): number {
    return this.count
  }

  /**
   * Looks the packet's 4-tuple up in `scope`. Returns the value, or
   * undefined (then set() stores one under the same key). The packet must
   * have IP addresses and ports.
   */
  find(d: PacketDecoder, scope: number): T | undefined {
    const k = this.scratch
    const b = d.bytes
    const v6 = d.network === 'ipv6'
    const n = v6 ? 4 : 1
    let order = 0
    for (let i = 0; i < n && order === 0; i++) {
      const s = word(b, d.ipSrcOffset + 4 * i)
      const t = word(b, d.ipDstOffset + 4 * i)
      order = s < t ? -1 : s > t ? 1 : 0
    }
    if (order === 0) order = d.srcPort <= d.dstPort ? -1 : 1
    const fromA = order < 0
    this.fromA = fromA
    const aOff = fromA ? d.ipSrcOffset : d.ipDstOffset
    const bOff = fromA ? d.ipDstOffset : d.ipSrcOffset
    k.fill(0)
    k[0] = scope >>> 0
    k[1] = ((v6 ? 6 : 4) << 8) | (d.proto & 0xff)
    for (let i = 0; i < n; i++) {
      k[2 + i] = word(b, aOff + 4 * i)
      k[6 + i] = word(b, bOff + 4 * i)
    }
    const sp = d.srcPort
    const dp = d.dstPort
    k[10] = fromA ? ((sp << 16) | dp) >>> 0 : ((dp << 16) | sp) >>> 0
    const mask = this.capacity - 1
    const keys = this.keys
    for (let s = hashKey(k, 0) & mask; ; s = (s + 1) & mask) {
      if (this.used[s] === 0) {
        this.slot = s
        return undefined
      }
      const base = s * WORDS
      let same = true
      for (let i = 0; same && i < WORDS; i++) same = keys[base + i] === k[i]
      if (same) {
        this.slot = s
        return this.values[s]
      }
    }
  }

  /** Stores `v` under the key of the last find() (replacing what was there). */
  set(v: T): void {
    const s = this.slot
    if (this.used[s] === 0) {
      this.used[s] = 1
      this.keys.set(this.scratch, s * WORDS)
      this.count++
    }
    this.values[s] = v
    if (this.count * 2 > this.capacity) this.grow()
  }

  /** Removes the entry whose value is `v` and whose key is `key` (from keyOf()). */
  deleteKey(key: Uint32Array): boolean {
    const mask = this.capacity - 1
    for (let s = hashKey(key, 0) & mask; ; s = (s + 1) & mask) {
      if (this.used[s] === 0) return false
      const base = s * WORDS
      let same = true
      for (let i = 0; same && i < WORDS; i++) same = this.keys[base + i] === key[i]
      if (same) {
        this.removeAt(s)
        return true
      }
    }
  }

  /**
   * The hash of the key of the last find(), for deleteValue(): 30 bits (a small integer to V8, no
   * allocation; the table's capacity never reaches 2^30 slots, so the probe starts where the key's would).
   */
  keyHash(): number {
    return hashKey(this.scratch, 0) & HASH_BITS
  }

  /** Removes the entry whose value is `v` (the same object) and whose key had the hash `hash` (keyHash()). */
  deleteValue(hash: number, v: T): boolean {
    const mask = this.capacity - 1
    for (let s = hash & mask; ; s = (s + 1) & mask) {
      if (this.used[s] === 0) return false
      if (this.values[s] === v) {
        this.removeAt(s)
        return true
      }
    }
  }

  /** A copy of the key of the last find() (allocates: call once per new entry). */
  keyCopy(): Uint32Array {
    return this.scratch.slice()
  }

  /** Every stored value (any order). */
  *entries(): IterableIterator<T> {
    for (let s = 0; s < this.capacity; s++) if (this.used[s] !== 0) yield this.values[s] as T
  }

  clear(): void {
    this.used.fill(0)
    this.values.fill(undefined)
    this.count = 0
  }

  private removeAt(s: number): void {
    const mask = this.capacity - 1
    this.used[s] = 0
    this.values[s] = undefined
    this.count--
    // backward-shift deletion: move later entries of the run into the hole
    let hole = s
    for (let j = (s + 1) & mask; this.used[j] !== 0; j = (j + 1) & mask) {
      const home = hashKey(this.keys, j * WORDS) & mask
      // can the entry at j live in the hole? (its home is not in (hole, j] cyclically)
      const inRange = hole <= j ? home > hole && home <= j : home > hole || home <= j
      if (inRange) continue
      this.keys.copyWithin(hole * WORDS, j * WORDS, j * WORDS + WORDS)
      this.values[hole] = this.values[j]
      this.used[hole] = 1
      this.used[j] = 0
      this.values[j] = undefined
      hole = j
    }
  }

  private grow(): void {
    const oldKeys = this.keys
    const oldValues = this.values
    const oldUsed = this.used
    const oldCap = this.capacity
    this.capacity = oldCap * 2
    this.keys = new Uint32Array(this.capacity * WORDS)
    this.values = new Array(this.capacity)
    this.used = new Uint8Array(this.capacity)
    const mask = this.capacity - 1
    for (let s = 0; s < oldCap; s++) {
      if (oldUsed[s] === 0) continue
      let t = hashKey(oldKeys, s * WORDS) & mask
      while (this.used[t] !== 0) t = (t + 1) & mask
      this.used[t] = 1
      this.values[t] = oldValues[s]
      this.keys.set(oldKeys.subarray(s * WORDS, s * WORDS + WORDS), t * WORDS)
    }
    this.slot = -1
  }
}

/** FNV-1a over the key words with a final mix. */
function hashKey(k: Uint32Array, base: number): number {
  let h = 0x811c9dc5
  for (let i = 0; i < WORDS; i++) h = Math.imul(h ^ k[base + i], 0x01000193)
  return (h ^ (h >>> 15)) >>> 0
}

function word(b: Uint8Array, o: number): number {
  return ((b[o] << 24) | (b[o + 1] << 16) | (b[o + 2] << 8) | b[o + 3]) >>> 0
}
