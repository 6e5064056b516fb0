// One capture per interface from a capture with several (the lab's one
// pcapng: client, lan, n1..n3-inside, control), as a trace recorded with one
// capture per vantage point would be: each file holds one interface with its
// name, link type and snap length, and that interface's packets in their
// order, with their timestamps (exact: nanosecond resolution), lengths,
// flags and comments. Frame numbers start again at 1 in each file.
import {join} from 'node:path'
import {readCapture} from '../../analyzer/capture/read.js'
import {PcapngWriter} from '../../analyzer/capture/pcapng-writer.js'

export interface SplitFile {
  path: string
  /** The interface's name in the source ('' when it had none). */
  name: string
  packets: number
}

/**
 * Writes `<dir>/<prefix><name>.pcapng` per interface of `src` (`if<id>` for an unnamed one); returns them in
 * the source's interface order.
 */
export async function splitViews(src: string, dir: string, prefix = ''): Promise<SplitFile[]> {
  const out: {w: PcapngWriter; f: SplitFile}[] = []
  const byId = new Map<number, {w: PcapngWriter; f: SplitFile}>()
  try {
    await readCapture(src, {
      onInterface: (i) => {
        const name = i.name ?? ''
        const path = join(dir, `${prefix}${(name || `if${i.id}`).replace(/[^\w.-]/g, '_')}.pcapng`)
        const w = PcapngWriter.open(path, {application: 'handoff test/support/split-views.ts'})
        w.addInterface({linkType: i.linkType, snapLen: i.snapLen, ...(i.name !== undefined ? {name: i.name} : {}),
          ...(i.description !== undefined ? {description: i.description} : {}), tsResolution: 'ns'})
        const e = {w, f: {path, name, packets: 0}}
        out.push(e)
        byId.set(i.id, e)
      },
      onPacket: (rec) => {
        const e = byId.get(rec.interfaceId)!
        const extra = rec.flags !== undefined || rec.dropCount !== undefined
          ? {...(rec.flags !== undefined ? {flags: rec.flags} : {}), ...(rec.dropCount !== undefined ? {dropCount: rec.dropCount} : {})}
          : undefined
        e.w.writePacket(0, rec.tsSec, rec.tsNsec, rec.buffer.subarray(rec.dataOffset, rec.dataOffset + rec.capLen), rec.origLen,
          rec.comments ?? undefined, extra)
        e.f.packets++
      },
    })
  } finally {
    for (const {w} of out) w.close()
  }
  return out.map((e) => e.f)
}
