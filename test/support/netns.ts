// Network namespaces for tests that need live traffic.
//
// Safety rules (enforced here, not just documented):
// - every namespace is named `hot-<pid>-<random>[-tag]`, so a run only ever
//   touches its own, and leftovers of a crashed run are recognisable;
// - interfaces are created directly inside our namespaces (`ip -n NS link add
//   … peer … netns NS2`), never in the host's namespace;
// - addresses must be inside 10.77.0.0/16 (addAddress() refuses others), so
//   live traffic only goes to namespaces we created, or to loopback;
// - IPv6 likewise: only unique local addresses inside fd77:77::/48 (a ULA
//   prefix no real network routes), and like every address only on an
//   interface of a namespace this Lab created (addAddress() checks both);
//   IPv6 is turned on per namespace (enableIpv6), never in the host's;
// - Lab.cleanup() kills the processes it started and deletes its namespaces;
//   withLab() calls it in `finally`, and sweepLeftovers() removes whatever a
//   previous run with the same pid prefix (or a dead pid) left behind.
import {execFileSync, spawn, type ChildProcess, type SpawnOptions} from 'node:child_process'
import {randomBytes} from 'node:crypto'
import {existsSync} from 'node:fs'
import {isIPv6} from 'node:net'

export const NS_PREFIX = 'hot-'

/** Prefix of every namespace this process creates: `hot-<pid>-`. */
export function pidPrefix(pid = process.pid): string {
  return `${NS_PREFIX}${pid}-`
}

/** Runs a command (no shell); returns stdout. The error names the command and its stderr. */
export function run(cmd: string, args: string[], opts: {input?: string; timeoutMs?: number} = {}): string {
  try {
    return execFileSync(cmd, args, {encoding: 'utf8', stdio: ['pipe', 'pipe', 'pipe'], input: opts.input, timeout: opts.timeoutMs ?? 30000})
  } catch (e) {
    const err = e as {stderr?: string; status?: number; message: string}
    throw new Error(`${cmd} ${args.join(' ')} failed (status ${err.status ?? '?'}): ${(err.stderr ?? '').trim() || err.message}`)
  }
}

export function listNamespaces(): string[] {
  // `ip netns list` prints "name" or "name (id: N)".
  const out = run('ip', ['netns', 'list'])
  return out
    .split('\n')
    .map((l) => l.trim().split(/\s+/)[0])
    .filter((n) => n)
}

function checkName(name: string): void {
  if (!name.startsWith(NS_PREFIX)) throw new Error(`refusing to touch namespace "${name}": not one of ours (${NS_PREFIX}…)`)
}

export function deleteNamespace(name: string): void {
  checkName(name)
  if (!listNamespaces().includes(name)) return
  // Kill anything still running inside, or the namespace outlives `del`.
  try {
    const pids = run('ip', ['netns', 'pids', name]).split(/\s+/).filter((p) => p)
    for (const p of pids) {
      try {
        process.kill(Number(p), 'SIGKILL')
      } catch {
        /* already gone */
      }
    }
  } catch {
    /* ignore */
  }
  run('ip', ['netns', 'del', name])
}

function pidAlive(pid: number): boolean {
  return existsSync(`/proc/${pid}`)
}

/**
 * Deletes namespaces left by this process's prefix and by `hot-<pid>-`
 * prefixes whose process no longer exists. Returns the names removed.
 */
export function sweepLeftovers(): string[] {
  const removed: string[] = []
  let names: string[]
  try {
    names = listNamespaces()
  } catch {
    return removed
  }
  for (const n of names) {
    const m = /^hot-(\d+)-/.exec(n)
    if (!m) continue
    const pid = Number(m[1])
    if (pid === process.pid || !pidAlive(pid)) {
      try {
        deleteNamespace(n)
        removed.push(n)
      } catch {
        /* best effort */
      }
    }
  }
  return removed
}

/** The first three 16-bit groups of an IPv6 address, or null when it is not one. */
function v6Head(ip: string): number[] | null {
  if (!isIPv6(ip) || ip.includes('.')) return null
  const [l, r] = ip.split('::')
  const left = l ? l.split(':') : []
  const right = r === undefined ? [] : r ? r.split(':') : []
  const groups = ip.includes('::') ? [...left, ...Array(8 - left.length - right.length).fill('0'), ...right] : left
  return groups.slice(0, 3).map((g) => parseInt(g, 16))
}

/** True when `cidr`/`ip` lies in 10.77.0.0/16 or (IPv6) fd77:77::/48, the only ranges tests may use. */
export function isLabAddress(ipOrCidr: string): boolean {
  const [ip, len] = ipOrCidr.split('/')
  if (ip.includes(':')) {
    // A prefix shorter than /48 would claim routes outside fd77:77::/48.
    if (len !== undefined && !(Number(len) >= 48 && Number(len) <= 128)) return false
    const h = v6Head(ip)
    return h !== null && h[0] === 0xfd77 && h[1] === 0x77 && h[2] === 0
  }
  const parts = ip.split('.').map(Number)
  if (parts.length !== 4 || parts.some((p) => !Number.isInteger(p) || p < 0 || p > 255)) return false
  return parts[0] === 10 && parts[1] === 77
}

export function assertLabAddress(ipOrCidr: string): void {
  if (!isLabAddress(ipOrCidr)) throw new Error(`address ${ipOrCidr} is outside 10.77.0.0/16 and fd77:77::/48: tests may only use lab addresses`)
}

/** Interface names are at most 15 characters. */
function checkIfName(n: string): void {
  if (!/^[A-Za-z0-9_.-]{1,15}$/.test(n)) throw new Error(`bad interface name "${n}" (1–15 of [A-Za-z0-9_.-])`)
}

export class Lab {
  readonly namespaces: string[] = []
  private readonly children: ChildProcess[] = []
  private readonly runId = randomBytes(3).toString('hex')

  /** Creates a namespace `hot-<pid>-<random>-<tag>` with loopback up. */
  ns(tag: string): string {
    if (!/^[a-z0-9]{1,12}$/.test(tag)) throw new Error(`bad namespace tag "${tag}"`)
    const name = `${pidPrefix()}${this.runId}-${tag}`
    run('ip', ['netns', 'add', name])
    this.namespaces.push(name)
    run('ip', ['-n', name, 'link', 'set', 'lo', 'up'])
    return name
  }

  private own(ns: string): void {
    if (!this.namespaces.includes(ns)) throw new Error(`namespace ${ns} was not created by this lab`)
  }

  /** A veth pair with one end in each namespace (they may be the same), both up, offloads off. */
  veth(nsA: string, ifA: string, nsB: string, ifB: string, opts: {offloadsOff?: boolean} = {}): void {
    this.own(nsA)
    this.own(nsB)
    checkIfName(ifA)
    checkIfName(ifB)
    run('ip', ['-n', nsA, 'link', 'add', ifA, 'type', 'veth', 'peer', 'name', ifB, 'netns', nsB])
    this.up(nsA, ifA)
    this.up(nsB, ifB)
    if (opts.offloadsOff ?? true) {
      this.offloadsOff(nsA, ifA)
      this.offloadsOff(nsB, ifB)
    }
  }

  up(ns: string, iface: string): void {
    this.own(ns)
    run('ip', ['-n', ns, 'link', 'set', iface, 'up'])
  }

  /**
   * Adds an address; only 10.77.0.0/16 and fd77:77::/48 are allowed. IPv6
   * addresses are added `nodad` (usable at once: duplicate address
   * detection would hold them "tentative" for a second or more, and the
   * namespaces are ours, so there is no one to collide with).
   */
  addAddress(ns: string, iface: string, cidr: string): void {
    this.own(ns)
    assertLabAddress(cidr)
    if (!cidr.includes('/')) throw new Error(`give a prefix length: ${cidr}`)
    run('ip', ['-n', ns, 'addr', 'add', cidr, 'dev', iface, ...(cidr.includes(':') ? ['nodad'] : [])])
  }

  /** Turns IPv6 on in one of our namespaces (all, default and `ifaces`); it may be off by the host's defaults. */
  enableIpv6(ns: string, ifaces: string[] = []): void {
    this.own(ns)
    for (const i of ['all', 'default', ...ifaces]) {
      checkIfName(i)
      this.exec(ns, ['sysctl', '-qw', `net.ipv6.conf.${i}.disable_ipv6=0`])
    }
  }

  /** Turns off the offloads that make veth captures unlike real wires. */
  offloadsOff(ns: string, iface: string): void {
    this.own(ns)
    run('ip', ['netns', 'exec', ns, 'ethtool', '-K', iface, 'tso', 'off', 'gso', 'off', 'gro', 'off', 'tx', 'off', 'rx', 'off'])
  }

  /** Runs a command inside a namespace; returns stdout. */
  exec(ns: string, argv: string[], opts: {timeoutMs?: number; input?: string} = {}): string {
    this.own(ns)
    return run('ip', ['netns', 'exec', ns, ...argv], opts)
  }

  /** Starts a process inside a namespace; it is killed by cleanup(). */
  spawn(ns: string, argv: string[], opts: SpawnOptions = {}): ChildProcess {
    this.own(ns)
    const child = spawn('ip', ['netns', 'exec', ns, ...argv], {stdio: ['ignore', 'pipe', 'pipe'], ...opts})
    this.children.push(child)
    return child
  }

  /** Kills started processes, deletes the namespaces (and with them every interface in them). */
  async cleanup(): Promise<void> {
    for (const c of this.children) {
      if (c.exitCode === null && c.signalCode === null) {
        c.kill('SIGKILL')
        await new Promise<void>((res) => {
          const t = setTimeout(res, 2000)
          c.once('exit', () => {
            clearTimeout(t)
            res()
          })
        })
      }
    }
    const errors: string[] = []
    for (const n of this.namespaces.splice(0).reverse()) {
      try {
        deleteNamespace(n)
      } catch (e) {
        errors.push((e as Error).message)
      }
    }
    if (errors.length > 0) throw new Error(`lab cleanup: ${errors.join('; ')}`)
  }
}

/** Runs `fn` with a fresh Lab and always cleans up, even when `fn` fails. */
export async function withLab<T>(fn: (lab: Lab) => Promise<T>): Promise<T> {
  const lab = new Lab()
  try {
    return await fn(lab)
  } finally {
    await lab.cleanup()
  }
}

/** Waits until `child` prints a line matching `re` on stdout or stderr. */
export function waitForOutput(child: ChildProcess, re: RegExp, timeoutMs = 10000): Promise<string> {
  return new Promise((resolve, reject) => {
    let seen = ''
    const onData = (d: Buffer) => {
      seen += d.toString()
      const m = re.exec(seen)
      if (m) {
        done()
        resolve(m[0])
      }
    }
    const onExit = (code: number | null) => {
      done()
      reject(new Error(`process exited (${code}) before printing ${re}; output: ${seen.slice(-2000)}`))
    }
    const timer = setTimeout(() => {
      done()
      reject(new Error(`timed out after ${timeoutMs} ms waiting for ${re}; output: ${seen.slice(-2000)}`))
    }, timeoutMs)
    const done = () => {
      clearTimeout(timer)
      child.stdout?.off('data', onData)
      child.stderr?.off('data', onData)
      child.off('exit', onExit)
    }
    child.stdout?.on('data', onData)
    child.stderr?.on('data', onData)
    child.once('exit', onExit)
  })
}

/** Network namespaces available to this process (root, `ip netns` works). */
export function netnsUsable(): boolean {
  try {
    run('ip', ['netns', 'list'])
    return true
  } catch {
    return false
  }
}
