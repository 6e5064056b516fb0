// Copies of capture files with their packets changed, for tests of files
// whose clocks are off: a copy through a callback, and a copy with every
// timestamp moved.
import {readCapture} from '../../analyzer/capture/read.js'
import type {PacketRecord} from '../../analyzer/capture/types.js'
import {PcapngWriter} from '../../analyzer/capture/pcapng-writer.js'

/** A copy of `src` (pcapng), each packet written through `write` (its interfaces as they were). */
export async function copyCapture(src: string, dst: string, write: (w: PcapngWriter, r: PacketRecord) => void): Promise<void> {
  const w = PcapngWriter.open(dst)
  try {
    await readCapture(src, {
      onInterface: (i) => { w.addInterface({linkType: i.linkType, ...(i.name !== undefined ? {name: i.name} : {})}) },
      onPacket: (r) => write(w, r),
    })
  } finally {
    w.close()
  }
}

/** A copy of `src` with every timestamp moved by `sec` (a capture whose clock is off). */
export async function shiftedCapture(src: string, dst: string, sec: number): Promise<void> {
  await copyCapture(src, dst, (w, r) => w.writePacket(r.interfaceId, r.tsSec + sec, r.tsNsec, r.data, r.origLen))
}
