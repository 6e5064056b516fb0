// Comparing the live response stream with the recorded one.
//
// Byte for byte, with one allowance: the values of named HTTP response
// header fields (default: Date, which no two runs share) are masked in both
// streams before comparing. Masking replaces each byte of the value with
// '*' in place, so every offset the report gives is an offset of the real
// stream. Only header blocks are masked: a block starts with "HTTP/" where a
// response starts (offset 0, or after the previous response's body as its
// Content-Length says); without a Content-Length the rest of the stream is
// one body. Bytes the recording never captured (holes) are not compared.

export interface CompareResult {
  match: boolean
  recordedBytes: number
  liveBytes: number
  /** First differing offset (or where the shorter stream ends), when they differ. */
  firstDiff?: number
  /** Recorded and live bytes around firstDiff, escaped for one line. */
  recordedExcerpt?: string
  liveExcerpt?: string
  /** Bytes of recorded holes that were skipped. */
  uncompared: number
  /** Header values masked (per stream: recorded, live). */
  masked: [number, number]
}

const CRLF2 = [13, 10, 13, 10]

function indexOf(b: Uint8Array, pat: number[], from: number): number {
  outer: for (let i = from; i + pat.length <= b.length; i++) {
    for (let j = 0; j < pat.length; j++) if (b[i + j] !== pat[j]) continue outer
    return i
  }
  return -1
}

function startsWith(b: Uint8Array, off: number, s: string): boolean {
  if (off + s.length > b.length) return false
  for (let i = 0; i < s.length; i++) if (b[off + i] !== s.charCodeAt(i)) return false
  return true
}

/** Masks the values of `names` (case-insensitive) in each HTTP response head of `b`, in place; returns how many. */
export function maskHeaders(b: Uint8Array, names: readonly string[]): number {
  if (names.length === 0) return 0
  const want = new Set(names.map((n) => n.toLowerCase()))
  let n = 0
  let pos = 0
  while (pos < b.length && startsWith(b, pos, 'HTTP/')) {
    const endHead = indexOf(b, CRLF2, pos)
    const headEnd = endHead < 0 ? b.length : endHead
    let contentLength = -1
    let line = indexOf(b, [13, 10], pos)
    while (line >= 0 && line < headEnd) {
      const start = line + 2
      let stop = indexOf(b, [13, 10], start)
      if (stop < 0 || stop > headEnd) stop = headEnd
      const colon = b.subarray(start, stop).indexOf(0x3a)
      if (colon > 0) {
        const name = Buffer.from(b.subarray(start, start + colon)).toString('latin1').trim().toLowerCase()
        let v = start + colon + 1
        while (v < stop && (b[v] === 0x20 || b[v] === 0x09)) v++
        if (name === 'content-length') contentLength = Number(Buffer.from(b.subarray(v, stop)).toString('latin1').trim())
        if (want.has(name) && v < stop) {
          b.fill(0x2a, v, stop)
          n++
        }
      }
      line = stop < headEnd ? stop : -1
    }
    if (endHead < 0 || !Number.isInteger(contentLength) || contentLength < 0) break
    pos = endHead + 4 + contentLength
  }
  return n
}

function excerpt(b: Uint8Array, at: number): string {
  const from = Math.max(0, at - 16)
  const to = Math.min(b.length, at + 24)
  let s = ''
  for (let i = from; i < to; i++) {
    const c = b[i]
    if (i === at) s += '⟨'
    s += c === 0x0a ? '\\n' : c === 0x0d ? '\\r' : c >= 0x20 && c < 0x7f ? String.fromCharCode(c) : `\\x${c.toString(16).padStart(2, '0')}`
  }
  if (at >= b.length) s += '⟨'
  return (from > 0 ? '…' : '') + s + (to < b.length ? '…' : '') + (at >= b.length ? '(end)' : '')
}

/** Compares two response streams (copies are masked, the inputs are left alone). */
export function compareResponses(recorded: Uint8Array, live: Uint8Array, holes: readonly [number, number][], maskNames: readonly string[]): CompareResult {
  const r = recorded.slice()
  const l = live.slice()
  const masked: [number, number] = [maskHeaders(r, maskNames), maskHeaders(l, maskNames)]
  const inHole = (i: number): number => {
    for (const [a, b] of holes) if (i >= a && i < b) return b
    return -1
  }
  let uncompared = 0
  for (const [a, b] of holes) uncompared += b - a
  const n = Math.min(r.length, l.length)
  let diff = -1
  for (let i = 0; i < n; i++) {
    if (r[i] === l[i]) continue
    const skip = inHole(i)
    if (skip >= 0) {
      i = skip - 1
      continue
    }
    diff = i
    break
  }
  if (diff < 0 && r.length !== l.length) diff = n
  const res: CompareResult = {match: diff < 0, recordedBytes: r.length, liveBytes: l.length, uncompared, masked}
  if (diff >= 0) {
    res.firstDiff = diff
    res.recordedExcerpt = excerpt(r, diff)
    res.liveExcerpt = excerpt(l, diff)
  }
  return res
}
