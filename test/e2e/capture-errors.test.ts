// `handoff capture` usage and environment errors: exit 2, one clear line, no
// stack trace, no file left behind. No traffic is sent; the only interface
// opened is loopback (for the bad-filter case, which fails before capturing).
import {test} from 'node:test'
import assert from 'node:assert/strict'
import {spawnSync} from 'node:child_process'
import {existsSync, mkdtempSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {cliBin} from '../support/env.js'

const dir = mkdtempSync(join(tmpdir(), 'handoff-caperr-'))
test.after(() => rmSync(dir, {recursive: true, force: true}))

function capture(args: string[]): {status: number | null; stdout: string; stderr: string; flat: string} {
  const r = spawnSync(process.execPath, [cliBin, 'capture', ...args], {encoding: 'utf8', timeout: 20000})
  // oclif wraps long messages and prefixes lines with "›"
  const flat = (r.stdout + r.stderr).replace(/\s*›\s*/g, ' ').replace(/\s+/g, ' ')
  return {status: r.status, stdout: r.stdout, stderr: r.stderr, flat}
}

function noStack(r: {stdout: string; stderr: string}): void {
  assert.doesNotMatch(r.stdout + r.stderr, /\n\s+at .*:\d+:\d+/, 'no stack trace')
}

test('nonexistent interface: exit 2, names it, lists the available ones, leaves no file', () => {
  const f = join(dir, 'a.pcapng')
  const r = capture(['-i', 'nope-if0', '-w', f])
  assert.equal(r.status, 2, r.flat)
  assert.match(r.flat, /Error: interface "nope-if0" does not exist \(available: .*\blo\b.*\)/)
  noStack(r)
  assert.equal(existsSync(f), false)
})

test('bad BPF filter: exit 2, names the filter and libpcap\'s reason', () => {
  const r = capture(['-i', 'lo', '-f', 'tcp port', '-w', join(dir, 'b.pcapng')])
  assert.equal(r.status, 2, r.flat)
  assert.match(r.flat, /Error: bad BPF filter "tcp port": can't parse filter expression: syntax error/)
  noStack(r)
})

test('--json: the error is JSON on stdout and the exit code is still 2', () => {
  const r = capture(['-i', 'nope-if0', '-w', join(dir, 'c.pcapng'), '--json'])
  assert.equal(r.status, 2, r.flat)
  const j = JSON.parse(r.stdout)
  assert.match(j.error.message, /interface "nope-if0" does not exist/)
})

test('usage errors exit 2', () => {
  const cases: Array<[string[], RegExp]> = [
    [['-i', 'lo', '-i', 'lo', '-w', join(dir, 'd.pcapng')], /interface "lo" is given more than once/],
    [['-i', 'lo', '-w', join(dir, 'd.pcapng'), '--duration', '0'], /--duration must be a positive number of seconds/],
    [['-i', 'lo', '-w', join(dir, 'd.pcapng'), '-c', '0'], /Expected an integer greater than or equal to 1/],
    [['-i', 'lo', '-w', join(dir, 'd.pcapng'), '--snaplen', '300000'], /less than or equal to 262144/],
    [['-i', 'lo'], /Missing required flag write/],
    [['-w', join(dir, 'd.pcapng')], /Missing required flag interface/],
    [['-i', 'lo', '-w', '-', '--json'], /--json cannot be used with -w -/],
    [['-i', 'lo', '-w', join(dir, 'no', 'such', 'dir', 'e.pcapng')], /cannot write .*e\.pcapng: ENOENT/],
  ]
  for (const [args, re] of cases) {
    const r = capture(args)
    assert.equal(r.status, 2, `${args.join(' ')}: ${r.flat}`)
    assert.match(r.flat, re, args.join(' '))
    noStack(r)
  }
})

test('--help describes the command', () => {
  const r = spawnSync(process.execPath, [cliBin, 'capture', '--help'], {encoding: 'utf8', timeout: 20000})
  assert.equal(r.status, 0, r.stderr)
  for (const flag of ['--interface', '--filter', '--write', '--count', '--duration', '--snaplen', '--[no-]promisc', '--json']) {
    assert.ok(r.stdout.includes(flag), flag)
  }
})
