// Capture timestamps are (seconds, nanoseconds) pairs: exact, and cheap to
// compare without BigInt. These helpers render and subtract them.

export interface Timestamp {
  sec: number
  nsec: number
}

export function tsBefore(aSec: number, aNsec: number, bSec: number, bNsec: number): boolean {
  return aSec < bSec || (aSec === bSec && aNsec < bNsec)
}

/** b − a in seconds (a float: exact enough for durations and rates). */
export function tsDiff(aSec: number, aNsec: number, bSec: number, bNsec: number): number {
  return (bSec - aSec) + (bNsec - aNsec) / 1e9
}

function pad(n: number, w: number): string {
  return String(n).padStart(w, '0')
}

/** "2024-05-01 12:34:56.123456" (UTC), with 6 or 9 fractional digits. */
export function formatDateTime(sec: number, nsec: number, digits: 6 | 9 = 9): string {
  const d = new Date(sec * 1000)
  const date = `${d.getUTCFullYear()}-${pad(d.getUTCMonth() + 1, 2)}-${pad(d.getUTCDate(), 2)}`
  return `${date} ${formatTimeOfDay(sec, nsec, digits)}`
}

/** "12:34:56.123456" (UTC time of day, like tcpdump's default but in UTC). */
export function formatTimeOfDay(sec: number, nsec: number, digits: 6 | 9 = 9): string {
  const s = ((sec % 86400) + 86400) % 86400
  const frac = digits === 9 ? pad(nsec, 9) : pad(Math.floor(nsec / 1000), 6)
  return `${pad(Math.floor(s / 3600), 2)}:${pad(Math.floor((s % 3600) / 60), 2)}:${pad(s % 60, 2)}.${frac}`
}

/** ISO 8601 with nanoseconds, for JSON: "2024-05-01T12:34:56.123456789Z". */
export function formatIso(sec: number, nsec: number): string {
  return formatDateTime(sec, nsec, 9).replace(' ', 'T') + 'Z'
}
