// Running `ip`, `ethtool` and `sysctl` for the lab, with the lab's safety
// rules: only namespaces named `ho-…`, only addresses in 10.77.0.0/16.
import {execFileSync} from 'node:child_process'
import {LAB_PREFIX} from './config.js'

export class LabCommandError extends Error {
  constructor(message: string) {
    super(message)
    this.name = 'LabCommandError'
  }
}

/** Runs a command (no shell); returns stdout. The error names the command and its stderr. */
export function run(cmd: string, args: string[], timeoutMs = 30000): string {
  try {
    return execFileSync(cmd, args, {encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: timeoutMs})
  } catch (e) {
    const err = e as {stderr?: string; status?: number; message: string}
    throw new LabCommandError(`${cmd} ${args.join(' ')} failed (status ${err.status ?? '?'}): ${(err.stderr ?? '').trim() || err.message}`)
  }
}

export function hasCommand(name: string): boolean {
  try {
    execFileSync('sh', ['-c', `command -v ${name}`], {stdio: 'ignore'})
    return true
  } catch {
    return false
  }
}

function checkNs(ns: string): void {
  if (!ns.startsWith(LAB_PREFIX)) throw new LabCommandError(`refusing to touch namespace "${ns}": not a lab namespace (${LAB_PREFIX}…)`)
}

export function isLabAddress(ipOrCidr: string): boolean {
  const parts = ipOrCidr.split('/')[0].split('.').map(Number)
  return parts.length === 4 && parts.every((p) => Number.isInteger(p) && p >= 0 && p <= 255) && parts[0] === 10 && parts[1] === 77
}

export function listNamespaces(): string[] {
  return run('ip', ['netns', 'list'])
    .split('\n')
    .map((l) => l.trim().split(/\s+/)[0])
    .filter((n) => n)
}

export function nsAdd(ns: string): void {
  checkNs(ns)
  run('ip', ['netns', 'add', ns])
  // No IPv6 anywhere in the lab: no router solicitations, no neighbour
  // discovery noise on the wire; interfaces created later inherit `default`.
  nsExec(ns, ['sysctl', '-qw', 'net.ipv6.conf.all.disable_ipv6=1', 'net.ipv6.conf.default.disable_ipv6=1'])
  run('ip', ['-n', ns, 'link', 'set', 'lo', 'up'])
}

export function nsExec(ns: string, argv: string[]): string {
  checkNs(ns)
  return run('ip', ['netns', 'exec', ns, ...argv])
}

export function ipn(ns: string, args: string[]): string {
  checkNs(ns)
  return run('ip', ['-n', ns, ...args])
}

/** A veth pair created directly inside the two namespaces (never in the host's), both up, offloads off. */
export function veth(nsA: string, ifA: string, nsB: string, ifB: string, macA?: string): void {
  ipn(nsA, ['link', 'add', ifA, ...(macA ? ['address', macA] : []), 'type', 'veth', 'peer', 'name', ifB, 'netns', nsB])
  for (const [ns, i] of [[nsA, ifA], [nsB, ifB]]) {
    offloadsOff(ns, i)
    ipn(ns, ['link', 'set', i, 'up'])
  }
}

export function offloadsOff(ns: string, iface: string): void {
  nsExec(ns, ['ethtool', '-K', iface, 'tso', 'off', 'gso', 'off', 'gro', 'off', 'tx', 'off', 'rx', 'off'])
}

export function addAddress(ns: string, iface: string, cidr: string): void {
  if (!isLabAddress(cidr)) throw new LabCommandError(`address ${cidr} is outside 10.77.0.0/16: the lab only uses lab addresses`)
  ipn(ns, ['addr', 'add', cidr, 'dev', iface])
}

/** Pids of processes running inside a namespace. */
export function nsPids(ns: string): number[] {
  checkNs(ns)
  try {
    return run('ip', ['netns', 'pids', ns]).split(/\s+/).filter((p) => p).map(Number)
  } catch {
    return []
  }
}

/** Kills what runs inside (processes the lab started there) and deletes the namespace. */
export function nsDelete(ns: string): void {
  checkNs(ns)
  if (!listNamespaces().includes(ns)) return
  for (const p of nsPids(ns)) {
    try {
      process.kill(p, 'SIGKILL')
    } catch {
      /* already gone */
    }
  }
  run('ip', ['netns', 'del', ns])
}
