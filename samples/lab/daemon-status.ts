// What a daemon reports about itself (written to <stateDir>/<node>.status.json
// a few times a second; read by `lab status` and `lab run`).

export const COUNTER_NAMES = [
  'relayedFromLan', // frames passed LAN → stack untouched (ARP, other traffic, FE before the decision, local service)
  'relayedFromStack', // frames passed stack → LAN untouched
  'connections', // client SYNs seen as front-end
  'local', // requests served by this node's own stack (policy or nack fallback)
  'handoffsOut', // handoff-req sent
  'acksReceived',
  'nacksReceived',
  'handoffTimeouts', // handoff-req without an answer in time: served locally
  'handoffsIn', // handoff-req received
  'acksSent',
  'nacksSent',
  'synackSwallowed', // the BE stack's SYN/ACKs taken off the wire
  'forwarded', // client segments rewritten (forward) and sent to a BE
  'returned', // BE stack segments rewritten (return) and sent to the client
  'rstInjected', // local resets toward this node's stack
  'absorbed', // client retransmissions of a held request, absorbed
  'feStackDropped', // segments of the FE stack on a handed-off connection, dropped
  'absorbedAfterTerminate', // client segments of a handed-off connection arriving after its terminate, absorbed
  'terminatesSent',
  'terminatesReceived',
  'rewriteErrors',
  'injectErrors',
  'staleTimeouts', // connection state freed by the idle timer
  'faultsApplied', // segments or messages deliberately made wrong (lab run --fault)
] as const

export type CounterName = (typeof COUNTER_NAMES)[number]
export type Counters = Record<CounterName, number>

export function zeroCounters(): Counters {
  const c = {} as Counters
  for (const n of COUNTER_NAMES) c[n] = 0
  return c
}

export interface DaemonStatus {
  node: string
  pid: number
  ready: boolean
  /** Names of the nodes with an open control channel (hello exchanged). */
  peers: string[]
  /** hello messages received since start: grows by one per control channel (re)opened. */
  hellos: number
  counters: Counters
  /** Handed-off requests per back-end node name (this node as front-end). */
  handoffsTo: Record<string, number>
  /** Handoff latency, client SYN → handoff-ack, in µs, most recent last (at most 50,000). */
  latenciesUs: number[]
  /** Total handoff-acks measured (latenciesUs may hold fewer). */
  latencyCount: number
  activeFe: number
  activeBe: number
  fault?: string
  updatedAt: string
}
