// One interface across pcapng sections. Every Section Header Block starts its
// interface numbering again, so the reader gives each section's interfaces
// new global ids (types.ts). A file with several sections is nearly always
// files concatenated (`cat a.pcapng b.pcapng`, a ring buffer glued back
// together, a capture restarted into the same file): the second section's
// "client" interface is the same vantage point as the first's. Read apart,
// one connection becomes two half-sessions, one control channel two streams
// the second of which starts mid-frame, and one view's return stream two
// views of which only one is judged.
//
// joinSections() wraps reader handlers so that an interface of a later
// section that has the same link type and the same name as one of an earlier
// section (or, both unnamed, the same position in its section) is reported
// as that one: its packets carry the earlier interface's id, and
// onInterface is not called again for it. Interfaces that match nothing keep
// their own ids. `inspect` does not use it: it describes the file as it is.
import type {CaptureHandlers, CaptureInterface, PacketRecord} from './types.js'

export function joinSections(h: CaptureHandlers): CaptureHandlers {
  // Per global id: the id its packets are reported under.
  const canon: number[] = []
  // The interfaces reported so far, with their position in their section.
  const known: {iface: CaptureInterface; pos: number}[] = []
  let section = -1
  let pos = 0
  // Interfaces of earlier sections already taken by one of this section's.
  let claimed = new Set<number>()
  const out: CaptureHandlers = {
    onPacket: (rec: PacketRecord) => {
      const c = canon[rec.interfaceId]
      if (c !== undefined && c !== rec.interfaceId) rec.interfaceId = c
      h.onPacket(rec)
    },
    onInterface: (i: CaptureInterface) => {
      if (i.section !== section) {
        section = i.section
        pos = 0
        claimed = new Set()
      }
      const p = pos++
      const name = i.name ?? ''
      const match = known.find((k) => k.iface.section < i.section && !claimed.has(k.iface.id) && k.iface.linkType === i.linkType &&
        (name !== '' ? k.iface.name === name : (k.iface.name ?? '') === '' && k.pos === p))
      if (match !== undefined) {
        claimed.add(match.iface.id)
        canon[i.id] = match.iface.id
        return
      }
      canon[i.id] = i.id
      known.push({iface: i, pos: p})
      h.onInterface?.(i)
    },
  }
  if (h.onInfo) out.onInfo = h.onInfo
  if (h.onWarning) out.onWarning = h.onWarning
  return out
}
