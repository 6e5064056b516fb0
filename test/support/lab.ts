// Shared by the lab's end-to-end tests: run the real CLI, pick a unique lab
// id, skip (or, under HANDOFF_TEST_STRICT=1, fail) without root and tools,
// and find whatever a lab left behind.
import {execFileSync, spawnSync} from 'node:child_process'
import {randomBytes} from 'node:crypto'
import {existsSync} from 'node:fs'
import type {TestContext} from 'node:test'
import {cliBin, hasCommand, isRoot, requireOrSkip} from './env.js'

export function labId(): string {
  return 'e' + randomBytes(3).toString('hex').slice(0, 5)
}

export interface CliResult {
  status: number
  stdout: string
  stderr: string
}

export function cli(args: string[], timeoutMs = 60000): CliResult {
  const r = spawnSync(process.execPath, [cliBin, ...args], {encoding: 'utf8', timeout: timeoutMs, env: {...process.env, NO_COLOR: '1'}})
  return {status: r.status ?? -1, stdout: r.stdout ?? '', stderr: r.stderr ?? ''}
}

export function canRunLab(t: TestContext, extra: string[] = []): boolean {
  if (!requireOrSkip(t, isRoot(), 'needs root for network namespaces')) return false
  for (const c of ['ip', 'ethtool', 'curl', ...extra]) if (!requireOrSkip(t, hasCommand(c), `needs ${c}`)) return false
  return true
}

export function labNamespaces(id: string): string[] {
  return execFileSync('ip', ['netns', 'list'], {encoding: 'utf8'})
    .split('\n')
    .map((l) => l.trim().split(/\s+/)[0])
    .filter((n) => n && n.startsWith(`ho-${id}-`))
}

/** What a lab left behind: namespaces, host interfaces linked into its namespaces, its state directory. */
export function leftovers(id: string): string[] {
  const left = labNamespaces(id)
  const links = execFileSync('ip', ['-o', 'link', 'show'], {encoding: 'utf8'})
  for (const l of links.split('\n')) if (l.includes(`ho-${id}-`)) left.push(`host link: ${l.trim()}`)
  if (existsSync(`/run/handoff-lab/${id}`)) left.push(`/run/handoff-lab/${id}`)
  return left
}

/** Always tear a test's lab down, whatever happened. */
export function downQuietly(id: string): void {
  cli(['lab', 'down', '--id', id])
}
