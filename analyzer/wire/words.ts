// A buffer read 32 bits at a time: an Int32Array over the whole ArrayBuffer
// of the bytes at hand, made once per buffer (the capture's chunks: one per
// chunk) and shared by the hot loops that read a packet's words — the
// payload hash (correlate/payload-hash.ts) and the arena's header copies
// (correlate/byte-arena.ts). Signed, so that no word read is a heap number.
// Words are in host byte order: callers that shift bytes across words
// assume a little-endian host and check HOST_LITTLE_ENDIAN.

export const HOST_LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1

let lastBuf: ArrayBufferLike | null = null
let lastWords: Int32Array<ArrayBufferLike> = new Int32Array(0)

/** The whole 32-bit words of buf (its last 1–3 bytes, if any, are in none). */
export function wordsOf(buf: ArrayBufferLike): Int32Array<ArrayBufferLike> {
  if (buf !== lastBuf) {
    lastBuf = buf
    lastWords = new Int32Array(buf, 0, buf.byteLength >>> 2)
  }
  return lastWords
}
