// Copies a capture into a pcapng whose interfaces are renamed by `rename`
// (the old name → the new one; '' leaves it unnamed), leaving out the packets
// of interfaces `drop` names. Packets, timestamps and link types unchanged:
// for tests of what a view's name decides.
import {readCaptureSync} from '../../analyzer/capture/read.js'
import {PcapngWriter} from '../../analyzer/capture/pcapng-writer.js'

export function renameInterfaces(src: string, dst: string, rename: (name: string, id: number) => string, drop: readonly string[] = []): void {
  const w = PcapngWriter.open(dst)
  const ids: number[] = []
  const dropped = new Set<number>()
  readCaptureSync(src, {
    onInterface: (i) => {
      if (drop.includes(i.name ?? '')) dropped.add(i.id)
      const name = rename(i.name ?? '', i.id)
      ids[i.id] = w.addInterface({linkType: i.linkType, snapLen: i.snapLen, ...(name !== '' ? {name} : {})})
    },
    onPacket: (r) => { if (!dropped.has(r.interfaceId)) w.writePacket(ids[r.interfaceId]!, r.tsSec, r.tsNsec, r.data, r.origLen) },
  })
  w.close()
}
