// What a test may need from the machine, and the one place that decides what
// happens when it is missing. Locally such a test is skipped with
// "skipped: <reason>"; under HANDOFF_TEST_STRICT=1 (CI sets it) the same
// absence is a failure, so CI can never go green by skipping.
import {execFileSync} from 'node:child_process'
import {existsSync} from 'node:fs'
import {dirname, join} from 'node:path'
import {fileURLToPath} from 'node:url'
import type {TestContext} from 'node:test'

/** Repository root (works from both test/… and dist/test/…). */
export const repoRoot = (() => {
  let dir = dirname(fileURLToPath(import.meta.url))
  while (!existsSync(join(dir, 'package.json'))) dir = dirname(dir)
  return dir
})()

/** The shared capture corpus, which sits beside the repository. */
export const sharedCaptures = join(repoRoot, '..', 'shared', 'captures')

/** The built CLI entry point. */
export const cliBin = join(repoRoot, 'cli', 'bin', 'handoff.js')

export const strict = process.env.HANDOFF_TEST_STRICT === '1'

export function hasCommand(name: string): boolean {
  try {
    execFileSync('sh', ['-c', `command -v ${name}`], {stdio: 'ignore'})
    return true
  } catch {
    return false
  }
}

export function isRoot(): boolean {
  return typeof process.getuid === 'function' && process.getuid() === 0
}

/**
 * Returns true when the test can run. Otherwise skips it with
 * "skipped: <reason>" — or, in strict mode, fails it.
 */
export function requireOrSkip(t: TestContext, ok: boolean, reason: string): boolean {
  if (ok) return true
  if (strict) throw new Error(`required for this test but missing (HANDOFF_TEST_STRICT=1): ${reason}`)
  t.skip(`skipped: ${reason}`)
  return false
}
