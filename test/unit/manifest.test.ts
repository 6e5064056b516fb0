// A stale committed oclif.manifest.json hides new commands from users
// ("command not found"), so every command file must be listed in it, and
// nothing may be listed that no longer exists.
import {test} from 'node:test'
import assert from 'node:assert/strict'
import {readFileSync, readdirSync, statSync} from 'node:fs'
import {join, relative} from 'node:path'
import {repoRoot} from '../support/env.js'

function commandIds(dir: string, base = dir, out: string[] = []): string[] {
  for (const name of readdirSync(dir)) {
    const p = join(dir, name)
    if (statSync(p).isDirectory()) commandIds(p, base, out)
    else if (name.endsWith('.ts') && !name.endsWith('.d.ts')) {
      out.push(relative(base, p).replace(/\.ts$/, '').replace(/\/index$/, '').split('/').join(':'))
    }
  }
  return out
}

test('oclif.manifest.json lists exactly the commands in cli/commands', () => {
  const manifest = JSON.parse(readFileSync(join(repoRoot, 'oclif.manifest.json'), 'utf8'))
  const listed = Object.keys(manifest.commands).sort()
  const files = commandIds(join(repoRoot, 'cli', 'commands')).sort()
  assert.ok(files.length > 0, 'no command files found')
  assert.deepEqual(listed, files)
})
