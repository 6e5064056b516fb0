// Deliberate protocol faults for `lab run --fault ID`: the daemons break
// exactly one rule of the spec, on every 4th handoff (those whose hid
// number is 1 mod 4), so a trace holds both correct and faulty handoffs and
// the analyzer's checks (spec §5, same ids) have something to find. Faults
// that break a connection for real (rst-leak, seq-remap, addr-rewrite…) show
// up as failures or stalls in the run's summary: they are counted, not hidden.
export const FAULTS = {
  'ack-remap': 'FE: forwarded segments carry ack + Δ − 1',
  'sack-remap': 'FE: forwarded SACK edges are edge + Δ − 1; to make the client send SACK blocks, the BE drops the first return data segment (a loss, no violation)',
  'ts-remap': 'FE: forwarded TSecr is left untranslated (no + τ)',
  'seq-remap': 'BE: the first return data segment carries seq − Δ + 1',
  'tcp-checksum': 'BE: the first return data segment has a wrong TCP checksum (the client drops it; the BE retransmits)',
  'ip-checksum': 'BE: the first return data segment has a wrong IPv4 header checksum (dropped; retransmitted)',
  'addr-rewrite': 'BE: the first return data segment keeps the BE\'s address as source',
  'rst-leak': 'FE: the local reset is also sent to the client, from the VIP (seq fiss + 1: the client resets unless the BE\'s first return segment got there first)',
  'synack-leak': 'BE: the stack\'s SYN/ACK also goes to the client (return-rewritten)',
  'isn-mismatch': 'FE: handoff-req carries ciss + 1',
  'request-replay': 'FE: pkts carries the request with one header name lower-cased',
  'window-rescale': 'BE: the return window is not rescaled (visible where wsB ≠ wsF: node n2 announces a smaller window scale than the others)',
  'late-forward': 'FE: after terminate, the last forwarded segment is forwarded once more',
  'handoff-orphan': 'BE: after terminate, a terminate for a hid that was never requested',
} as const

export type FaultId = keyof typeof FAULTS

export function isFault(s: string): s is FaultId {
  return Object.prototype.hasOwnProperty.call(FAULTS, s)
}

/** The handoffs a fault applies to: hid number ≡ 1 (mod 4). */
export function faultyHid(hid: string): boolean {
  const n = Number(hid.slice(hid.lastIndexOf('/') + 1))
  return Number.isInteger(n) && n % 4 === 1
}
