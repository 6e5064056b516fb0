// Tables for human output. cli-table3 colours headers with its own colours
// library unless told not to; we colour with chalk (see color.ts) instead.
//
// cli-table3 lays a table out in time that grows much faster than its rows
// (3,800 session rows took 20 s, 15,000 did not finish in minutes), so past
// FAST_ROWS rows the same layout — columns as wide as their widest cell, two
// blanks between them, no borders, trailing blanks trimmed — is computed
// directly. A test holds the two to the same output.
import {stripVTControlCharacters} from 'node:util'
import Table from 'cli-table3'
import {color} from './color.js'

export type Align = 'left' | 'right'

/** Tables with more rows than this skip cli-table3 (see above). */
export const FAST_ROWS = 200

export function table(head: string[], rows: (string | number)[][], opts: {align?: Align[]} = {}): string {
  const cells = rows.map((r) => r.map(String))
  if (cells.length > FAST_ROWS && !cells.some((r) => r.some((c) => c.includes('\n')))) return plainTable(head, cells, opts.align)
  return cliTable(head, cells, opts.align)
}

export function cliTable(head: string[], rows: string[][], align?: Align[]): string {
  const t = new Table({
    head: head.map((h) => color.bold(h)),
    style: {head: [], border: [], compact: true, 'padding-left': 0, 'padding-right': 2},
    chars: {top: '', 'top-mid': '', 'top-left': '', 'top-right': '', bottom: '', 'bottom-mid': '', 'bottom-left': '',
      'bottom-right': '', left: '', 'left-mid': '', mid: '', 'mid-mid': '', right: '', 'right-mid': '', middle: ''},
    colAligns: align ?? [],
  })
  for (const r of rows) t.push(r)
  // cli-table3 pads every line to the full width; trailing blanks are noise in diffs.
  return t.toString().split('\n').map((l) => l.trimEnd()).join('\n')
}

/** cli-table3's borderless layout for single-line cells, in one pass over the cells. */
export function plainTable(head: string[], rows: string[][], align: Align[] = []): string {
  const all = [head.map((h) => color.bold(h)), ...rows]
  // A loop, not Math.max(...): one argument per row overflowed the stack at ~130 k rows (sessions on 166 k sessions).
  let cols = 0
  for (const r of all) if (r.length > cols) cols = r.length
  const width = new Array<number>(cols).fill(0)
  const vis = all.map((r) => r.map((c, i) => {
    const w = visibleWidth(c)
    if (w > width[i]) width[i] = w
    return w
  }))
  const out: string[] = []
  for (let r = 0; r < all.length; r++) {
    let line = ''
    for (let i = 0; i < cols; i++) {
      const c = all[r][i] ?? ''
      const pad = ' '.repeat(width[i] - (vis[r][i] ?? 0))
      line += (align[i] === 'right' ? pad + c : c + pad) + '  '
    }
    out.push(line.trimEnd())
  }
  return out.join('\n')
}

/** Terminal columns of a cell: escape sequences take none; our cells hold no wide characters. */
function visibleWidth(s: string): number {
  return stripVTControlCharacters(s).length
}

/**
 * plainTable for rows walked twice instead of held (sessions' merged rows on
 * disk): measure() the header and every row, then line() each; the lines are
 * plainTable's. `multiLine`: a cell had a newline, where table() would have
 * used cli-table3 (the caller then builds the table whole).
 */
export class PlainTableLayout {
  multiLine = false
  private readonly width: number[] = []

  measure(cells: readonly string[]): void {
    for (let i = 0; i < cells.length; i++) {
      const c = cells[i]!
      if (c.includes('\n')) this.multiLine = true
      const w = visibleWidth(c)
      if (!(w <= this.width[i]!)) this.width[i] = w
    }
  }

  /** The widths of these layouts' columns side by side (tables measured in parts). */
  copyWidths(parts: readonly PlainTableLayout[]): void {
    this.width.length = 0
    for (const p of parts) this.width.push(...p.width)
  }

  line(cells: readonly string[], align: readonly Align[] = []): string {
    let line = ''
    for (let i = 0; i < this.width.length; i++) {
      const c = cells[i] ?? ''
      const pad = ' '.repeat(this.width[i]! - visibleWidth(c))
      line += (align[i] === 'right' ? pad + c : c + pad) + '  '
    }
    return line.trimEnd()
  }
}
