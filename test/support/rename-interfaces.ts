// Copies a capture into a pcapng whose interfaces are renamed by `rename`
// (the old name → the new one; '' leaves it unnamed). Packets, timestamps and
// link types unchanged: for tests of what a view's name decides.
import {readCaptureSync} from '../../analyzer/capture/read.js'
import {PcapngWriter} from '../../analyzer/capture/pcapng-writer.js'

export function renameInterfaces(src: string, dst: string, rename: (name: string, id: number) => string): void {
  const w = PcapngWriter.open(dst)
  const ids: number[] = []
  readCaptureSync(src, {
    onInterface: (i) => {
      const name = rename(i.name ?? '', i.id)
      ids[i.id] = w.addInterface({linkType: i.linkType, snapLen: i.snapLen, ...(name !== '' ? {name} : {})})
    },
    onPacket: (r) => { w.writePacket(ids[r.interfaceId]!, r.tsSec, r.tsNsec, r.data, r.origLen) },
  })
  w.close()
}
