// The check ids of spec §5, their severities, and the violation record.
import type {View} from '../correlate/vantage.js'

export const CHECK_IDS = [
  'ip-checksum', 'tcp-checksum', 'addr-rewrite', 'seq-remap', 'ack-remap', 'sack-remap', 'ts-remap', 'window-rescale',
  'rst-leak', 'synack-leak', 'isn-mismatch', 'request-replay', 'stream-gap', 'option-mismatch', 'handoff-orphan',
  'late-forward', 'control-framing',
] as const
export type CheckId = (typeof CHECK_IDS)[number]
export type Severity = 'error' | 'warning'

export const SEVERITY: Record<CheckId, Severity> = {
  'ip-checksum': 'error',
  'tcp-checksum': 'error',
  'addr-rewrite': 'error',
  'seq-remap': 'error',
  'ack-remap': 'error',
  'sack-remap': 'error',
  'ts-remap': 'error',
  'window-rescale': 'warning',
  'rst-leak': 'error',
  'synack-leak': 'error',
  'isn-mismatch': 'error',
  'request-replay': 'error',
  'stream-gap': 'error',
  'option-mismatch': 'warning',
  'handoff-orphan': 'error',
  'late-forward': 'warning',
  'control-framing': 'error',
}

export type Value = string | number | boolean | null | number[]

export interface Violation {
  id: CheckId
  severity: Severity
  /** The handoff id, when the violation belongs to a handoff. */
  hid?: string
  /** "client ip:port ↔ vip:port" of the handoff, or the control connection. */
  connection: string
  file: string
  /** 1-based frame number in `file`. */
  frame: number
  /** Vantage point of the frame: "file#iface (name)" and its kind. */
  view?: string
  vantage?: string
  /** ISO time of the frame, when known. */
  time?: string
  message: string
  /** Field that differs, when one does. */
  field?: string
  expected?: Value
  seen?: Value
}

/** Where a check reports: a ViolationSink, or check.ts's ViolationCollector (check-violations.ts: on disk, deduplicated at the end). */
export interface ViolationTarget {
  add(v: Omit<Violation, 'severity'>): void
}

/** Where a check reports, in memory. Duplicates (same id, file, frame, field) are dropped. */
export class ViolationSink implements ViolationTarget {
  readonly list: Violation[] = []
  private readonly keys = new Set<string>()

  add(v: Omit<Violation, 'severity'>): void {
    const key = `${v.id}|${v.file}|${v.frame}|${v.field ?? ''}`
    if (this.keys.has(key)) return
    this.keys.add(key)
    this.list.push({...v, severity: SEVERITY[v.id]} as Violation)
  }

  has(id: CheckId, file: string, frame: number): boolean {
    for (const v of this.list) if (v.id === id && v.file === file && v.frame === frame) return true
    return false
  }
}

export function viewFields(v: View): {view: string; vantage: string} {
  return {view: `${v.file}#${v.iface}${v.name ? ` (${v.name})` : ''}`, vantage: v.kind}
}

export function hex32(n: number): string {
  return `${n >>> 0} (0x${(n >>> 0).toString(16).padStart(8, '0')})`
}
