// Runs every compiled test file under dist/test with node's own test runner.
// Benchmarks (dist/test/bench) are not tests and are left out.
import {readdirSync, statSync} from 'node:fs'
import {join} from 'node:path'
import {spawnSync} from 'node:child_process'

function collect(dir, out) {
  for (const name of readdirSync(dir).sort()) {
    const p = join(dir, name)
    if (statSync(p).isDirectory()) {
      if (name !== 'bench') collect(p, out)
    } else if (name.endsWith('.test.js')) out.push(p)
  }
  return out
}

const only = process.argv.slice(2)
const files = only.length > 0 ? only : collect('dist/test', [])
if (files.length === 0) {
  console.error('no test files found under dist/test (did the build run?)')
  process.exit(1)
}
const reporter = process.stdout.isTTY ? 'spec' : 'spec'
const r = spawnSync(process.execPath, ['--test', `--test-reporter=${reporter}`, '--test-concurrency=2', ...files], {stdio: 'inherit'})
process.exit(r.status ?? 1)
