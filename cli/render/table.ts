// Tables for human output. cli-table3 colours headers with its own colours
// library unless told not to; we colour with chalk (see color.ts) instead.
import Table from 'cli-table3'
import {color} from './color.js'

export function table(head: string[], rows: (string | number)[][], opts: {align?: ('left' | 'right')[]} = {}): string {
  const t = new Table({
    head: head.map((h) => color.bold(h)),
    style: {head: [], border: [], compact: true, 'padding-left': 0, 'padding-right': 2},
    chars: {top: '', 'top-mid': '', 'top-left': '', 'top-right': '', bottom: '', 'bottom-mid': '', 'bottom-left': '',
      'bottom-right': '', left: '', 'left-mid': '', mid: '', 'mid-mid': '', right: '', 'right-mid': '', middle: ''},
    colAligns: opts.align,
  })
  for (const r of rows) t.push(r.map(String))
  // cli-table3 pads every line to the full width; trailing blanks are noise in diffs.
  return t.toString().split('\n').map((l) => l.trimEnd()).join('\n')
}
