// Reads the committed tshark goldens (test/fixtures/tshark*/NAME.tsv.gz):
// '#' lines are provenance comments, then a header row of field names, then
// one tab-separated row per frame.
import {readFileSync} from 'node:fs'
import {join} from 'node:path'
import {gunzipSync} from 'node:zlib'

export interface GoldenRow {[field: string]: string}

export function loadTsharkGolden(dir: string, name: string): GoldenRow[] {
  const lines = gunzipSync(readFileSync(join(dir, `${name}.tsv.gz`))).toString('utf8').split('\n')
  const body = lines.filter((l) => !l.startsWith('#') && l !== '')
  const header = body[0].split('\t')
  return body.slice(1).map((l) => {
    const cells = l.split('\t')
    const row: GoldenRow = {}
    header.forEach((h, i) => { row[h] = cells[i] ?? '' })
    return row
  })
}
