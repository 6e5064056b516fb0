// One interface across pcapng sections. Every Section Header Block starts its
// interface numbering again, so the reader gives each section's interfaces
// new global ids (types.ts). A file with several sections is often files
// concatenated (`cat a.pcapng b.pcapng`, a ring buffer glued back together,
// a capture restarted into the same file): the second section's "client"
// interface is the same vantage point as the first's. Read apart, one
// connection becomes two half-sessions, one control channel two streams the
// second of which starts mid-frame, and one view's return stream two views
// of which only one is judged.
//
// joinSections() wraps reader handlers so that an interface of a later
// section is reported as an earlier section's interface (its packets carry
// that id, onInterface is not called for it) when
//   - both have the same link type and the same name, or, both unnamed, the
//     same position in their sections; and
//   - it goes on in time from there: its first packet is no earlier than
//     the earlier interface's last one (SLACK_SEC allowed). Captures of two
//     hosts that happen to share an interface name (eth0) and were glued
//     together overlap in time: they stay two interfaces.
// Whether it joins is decided at its first packet (onInterface is called for
// it then, when it does not). Interfaces that match nothing keep their own
// ids. `inspect` does not use it: it describes the file as it is.
import type {CaptureHandlers, CaptureInterface, PacketRecord} from './types.js'

/** A later section may start this much before the earlier one's last packet (clock steps, reordering). */
const SLACK_SEC = 1

export function joinSections(h: CaptureHandlers): CaptureHandlers {
  // Per global id: the id its packets are reported under (-1: not decided until its first packet).
  const canon: number[] = []
  // Per global id, undecided: the candidate earlier interface, and the interface itself.
  const candidate: number[] = []
  const pendingIface: (CaptureInterface | undefined)[] = []
  // Per reported id: time of its last packet (seconds).
  const last: number[] = []
  // The interfaces reported so far, with their position in their section.
  const known: {iface: CaptureInterface; pos: number}[] = []
  let section = -1
  let pos = 0
  // Earlier interfaces already proposed to one of this section's.
  let claimed = new Set<number>()
  const out: CaptureHandlers = {
    onPacket: (rec: PacketRecord) => {
      const id = rec.interfaceId
      let c = canon[id]
      if (c === -1) {
        const cand = candidate[id]!
        const t0 = rec.tsSec + rec.tsNsec / 1e9
        if (last[cand] === undefined || t0 >= last[cand]! - SLACK_SEC) c = cand
        else {
          c = id
          const i = pendingIface[id]!
          known.push({iface: i, pos: -1})
          h.onInterface?.(i)
        }
        canon[id] = c
        pendingIface[id] = undefined
      }
      if (c !== undefined && c !== id) rec.interfaceId = c
      last[c ?? id] = rec.tsSec + rec.tsNsec / 1e9
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
        canon[i.id] = -1
        candidate[i.id] = match.iface.id
        pendingIface[i.id] = i
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
