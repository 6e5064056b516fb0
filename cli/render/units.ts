// Human-readable numbers for terminal output (JSON output keeps raw numbers).

/** 1234567 → "1.23 MB" (decimal units, like capinfos). */
export function humanBytes(n: number): string {
  if (n < 1000) return `${n} B`
  const units = ['kB', 'MB', 'GB', 'TB']
  let v = n
  let u = -1
  do {
    v /= 1000
    u++
  } while (v >= 1000 && u < units.length - 1)
  return `${v.toFixed(v < 10 ? 2 : v < 100 ? 1 : 0)} ${units[u]}`
}

/** Seconds → "1.234 s", "12 ms", "850 µs". */
export function humanDuration(sec: number): string {
  if (sec >= 1) return `${sec.toFixed(3)} s`
  if (sec >= 1e-3) return `${(sec * 1e3).toFixed(3)} ms`
  return `${(sec * 1e6).toFixed(0)} µs`
}

export function percent(part: number, whole: number): string {
  return whole === 0 ? '-' : `${((100 * part) / whole).toFixed(1)}%`
}
