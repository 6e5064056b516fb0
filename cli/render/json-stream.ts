// `--json` output written as it is serialised, instead of oclif's logJson:
// that one pretty-prints the whole report into one string, then splits it
// into a token object per brace, key and value to colour it (also when no
// colour is wanted) and concatenates the tokens again — several times the
// report's size in memory at once, for a report that is already as large as
// the trace has connections. Here the top levels (the report, its arrays)
// are walked and each element below them is serialised on its own and
// written through the 64 KiB LineWriter, so the peak is one element, not
// the document.
//
// The bytes are those of JSON.stringify(value, null, 2) plus a newline,
// which is what logJson prints when no colour theme is set: an element's
// own lines are re-indented to its depth (a JSON string holds no raw
// newline, so every newline in JSON.stringify's output is layout).
import {SummaryList} from '../../analyzer/check-summaries.js'
import {ViolationList} from '../../analyzer/check-violations.js'
import {FlaggedList} from '../../analyzer/sessions/flagged-list.js'
import {ConnectionList, SessionRowList} from '../../analyzer/sessions/row-list.js'
import {LineWriter} from './output.js'

/** Levels walked before an element is serialised whole (report → rows → row). */
const WALK_DEPTH = 2

/** `value` as JSON.stringify(value, null, 2) + newline, to standard output. */
export function writeJson(value: unknown): void {
  const out = new LineWriter()
  serializeJson(value, (s) => out.text(s))
  out.flush()
}

/** The same text in pieces: `write` gets them in order (their concatenation is the document). */
export function serializeJson(value: unknown, write: (s: string) => void): void {
  emit(value, '', 0, write)
  write('\n')
}

/** check's summaries or violations, sessions' rows and flagged packets, on disk: walked as the arrays they stand for. */
function onDisk(v: unknown): v is SummaryList | ViolationList | ConnectionList | SessionRowList | FlaggedList {
  return v instanceof SummaryList || v instanceof ViolationList || v instanceof ConnectionList || v instanceof SessionRowList ||
    v instanceof FlaggedList
}

function walkable(v: unknown): v is object {
  return v !== null && typeof v === 'object' && (typeof (v as {toJSON?: unknown}).toJSON !== 'function' || onDisk(v))
}

/** JSON.stringify's rule: such a member of an object is left out (in an array it is null). */
function omitted(v: unknown): boolean {
  return v === undefined || typeof v === 'function' || typeof v === 'symbol'
}

function emit(v: unknown, indent: string, depth: number, write: (s: string) => void): void {
  if (depth >= WALK_DEPTH || !walkable(v)) {
    const s = JSON.stringify(v, null, 2) ?? 'null'
    write(indent === '' ? s : s.replaceAll('\n', `\n${indent}`))
    return
  }
  const inner = `${indent}  `
  // A list on disk (onDisk) is walked as the array it stands for, one element read at a time.
  if (Array.isArray(v) || onDisk(v)) {
    if (v.length === 0) { write('[]'); return }
    write('[\n')
    let first = true
    for (const x of v as Iterable<unknown>) {
      if (!first) write(',\n')
      first = false
      write(inner)
      emit(omitted(x) ? null : x, inner, depth + 1, write)
    }
    write(`\n${indent}]`)
    return
  }
  const keys = Object.keys(v).filter((k) => !omitted((v as Record<string, unknown>)[k]))
  if (keys.length === 0) { write('{}'); return }
  write('{\n')
  for (let i = 0; i < keys.length; i++) {
    const k = keys[i]!
    write(`${inner}${JSON.stringify(k)}: `)
    emit((v as Record<string, unknown>)[k], inner, depth + 1, write)
    write(i < keys.length - 1 ? ',\n' : '\n')
  }
  write(`${indent}}`)
}
