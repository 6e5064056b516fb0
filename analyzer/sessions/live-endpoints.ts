// Which endpoints have a session still held by the tracker (open, or closed
// and lingering): those sessions' rows are still to come, and one of them may
// belong to a connection the merger already has (a view that missed the FIN
// stays open to the end of the trace, and its row must join the others).
// So the merger retires a connection only when no held session could join
// it: one with the same two endpoints (an endpoint-merged connection) or the
// same client endpoint (a handoff's legs: client ↔ VIP, client → BE address,
// the node insides all share cip:cport).
//
// Counted per endpoint ("addr|port", addresses normalised as the merger
// does), both endpoints of every session: the roles of a session without a
// handshake may still be the wrong way round, and an unordered pair needs
// both counts above zero.
import {normAddr} from '../correlate/assemble.js'

export const endpointKey = (addr: string, port: number): string => `${normAddr(addr)}|${port}`

export class LiveEndpoints {
  private readonly count = new Map<string, number>()

  open(a: string, aPort: number, b: string, bPort: number): void {
    this.bump(endpointKey(a, aPort), 1)
    this.bump(endpointKey(b, bPort), 1)
  }

  close(a: string, aPort: number, b: string, bPort: number): void {
    this.bump(endpointKey(a, aPort), -1)
    this.bump(endpointKey(b, bPort), -1)
  }

  /** Whether a held session has this endpoint. */
  has(key: string): boolean {
    return this.count.has(key)
  }

  private bump(k: string, d: number): void {
    const n = (this.count.get(k) ?? 0) + d
    if (n > 0) this.count.set(k, n)
    else this.count.delete(k)
  }
}
