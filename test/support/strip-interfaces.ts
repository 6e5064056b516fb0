// A copy of a capture without some of its interfaces (e.g. the lab's
// `control`, to make a trace with no control channel in it), written with the
// repository's pcapng writer: the interfaces kept, in order, with their names
// and link types, and their packets with the original timestamps and lengths.
import {readCapture} from '../../analyzer/capture/read.js'
import {PcapngWriter} from '../../analyzer/capture/pcapng-writer.js'

export async function stripInterfaces(src: string, dst: string, drop: (name: string) => boolean): Promise<{packets: number; dropped: number}> {
  const w = PcapngWriter.open(dst, {application: 'handoff test/support/strip-interfaces.ts'})
  const ids = new Map<number, number>()
  let packets = 0
  let dropped = 0
  try {
    await readCapture(src, {
      onInterface: (i) => {
        if (!drop(i.name ?? '')) ids.set(i.id, w.addInterface({linkType: i.linkType, ...(i.name !== undefined ? {name: i.name} : {})}))
      },
      onPacket: (rec) => {
        const id = ids.get(rec.interfaceId)
        if (id === undefined) { dropped++; return }
        w.writePacket(id, rec.tsSec, rec.tsNsec, rec.data.subarray(0, rec.capLen), rec.origLen)
        packets++
      },
    })
  } finally {
    w.close()
  }
  return {packets, dropped}
}
