// Vantage points (spec §7). A trace is a set of views: one per capture
// interface of each file. The kind of a view comes, in this order, from
//   1. a `--vantage SPEC=KIND` assignment, where SPEC is an interface name,
//      `FILE#ID` (interface id in that file), or a file name (all of its
//      interfaces);
//   2. the interface name, with the lab's naming (samples/lab/run.ts):
//      `client` → client, `lan` → lan, `<node>-inside` → inside (also
//      `fe-inside`, `be-inside`, `fe1-inside`…), `control`/`ctl` → control;
//      when the interface has no name (pcap files), the same rule on the
//      file name without extensions (`be1-inside.pcap`, `client.pcapng.gz`);
//   3. its traffic, when the control channel names handoffs (`check` only:
//      vantage-infer.ts, from which legs of a handoff the view shows);
//   4. otherwise 'lan': a view of unknown place is read as the cluster LAN,
//      which sees every leg (forwarded segments are recognised by content,
//      not by where they were captured). A node-inside capture read as LAN
//      loses something: the BE TCP's own segments (BE address → client) are
//      not recognised as such, so return segments are judged by continuity
//      only, and forwarded segments are judged once per view. Step 3 is
//      there to avoid that; --vantage overrides it.
// Node-inside views do not need to say whether the node was the FE or the BE:
// each segment's leg is told by its addresses (see legs.ts).

export type VantageKind = 'client' | 'lan' | 'inside' | 'control'

export const VANTAGE_KINDS: readonly VantageKind[] = ['client', 'lan', 'inside', 'control']

export interface View {
  /** Index of the file in the argument list. */
  fileIndex: number
  file: string
  iface: number
  name: string
  kind: VantageKind
  /** How the kind was decided: --vantage, the interface / file name, the traffic (vantage-infer.ts), or not at all (LAN). */
  from: 'flag' | 'name' | 'traffic' | 'default'
  /** Node name for an inside view, when the interface name says it (`be1-inside` → be1). */
  node?: string
}

export interface VantageAssignment {
  spec: string
  kind: VantageKind
  /** Made from the traffic (vantage-infer.ts) rather than given with --vantage. */
  from?: 'traffic'
}

/** Parses `SPEC=KIND` (KIND also accepts fe-inside, be-inside, node-inside). Throws on a bad value. */
export function parseVantageFlag(s: string): VantageAssignment {
  const i = s.lastIndexOf('=')
  if (i <= 0) throw new Error(`--vantage ${JSON.stringify(s)}: expected IFACE=client|lan|fe-inside|be-inside|control`)
  const spec = s.slice(0, i)
  const k = s.slice(i + 1).toLowerCase()
  const kind = kindOfWord(k)
  if (kind === null) throw new Error(`--vantage ${JSON.stringify(s)}: unknown vantage point ${JSON.stringify(k)} (client, lan, fe-inside, be-inside, node-inside, control)`)
  return {spec, kind}
}

function kindOfWord(k: string): VantageKind | null {
  switch (k) {
    case 'client': return 'client'
    case 'lan': return 'lan'
    case 'inside': case 'fe-inside': case 'be-inside': case 'node-inside': return 'inside'
    case 'control': return 'control'
    default: return null
  }
}

/** Kind from an interface name (lab naming), or null. */
export function kindFromName(name: string): {kind: VantageKind; node?: string} | null {
  const n = name.toLowerCase()
  if (n === 'client' || /(^|[-_.:])client($|[-_.:])/.test(n)) return {kind: 'client'}
  const inside = /^(.*?)[-_.:]?inside$/.exec(n) ?? /^inside[-_.:](.+)$/.exec(n)
  if (inside) {
    const node = inside[1]
    return node && node !== 'fe' && node !== 'be' && node !== 'node' ? {kind: 'inside', node} : {kind: 'inside'}
  }
  if (n === 'lan' || /(^|[-_.:])lan($|[-_.:])/.test(n)) return {kind: 'lan'}
  if (n === 'control' || n === 'ctl' || /(^|[-_.:])(control|ctl)($|[-_.:])/.test(n)) return {kind: 'control'}
  return null
}

function baseName(p: string): string {
  const i = Math.max(p.lastIndexOf('/'), p.lastIndexOf('\\'))
  return i >= 0 ? p.slice(i + 1) : p
}

function stem(p: string): string {
  return baseName(p).replace(/(\.(pcapng|pcap|cap|gz|ntar))+$/i, '')
}

export function resolveView(fileIndex: number, file: string, iface: number, name: string | undefined,
  assignments: readonly VantageAssignment[]): View {
  const nm = name ?? ''
  for (const a of assignments) {
    const hit = (nm !== '' && a.spec === nm) || a.spec === `${file}#${iface}` || a.spec === `${baseName(file)}#${iface}` ||
      a.spec === file || a.spec === baseName(file)
    if (hit) return {fileIndex, file, iface, name: nm, kind: a.kind, from: a.from ?? 'flag'}
  }
  // The interface name, else (pcap files have none) the file's name without its extensions.
  const k = (nm !== '' ? kindFromName(nm) : null) ?? kindFromName(stem(file))
  if (k !== null) return {fileIndex, file, iface, name: nm, kind: k.kind, from: 'name', ...(k.node ? {node: k.node} : {})}
  return {fileIndex, file, iface, name: nm, kind: 'lan', from: 'default'}
}

/**
 * The views of one file, each resolved once, when its interface is first
 * named (the interface block) or used (a packet). `onNew` sees each view once.
 */
export class FileViews {
  private readonly byIface: View[] = []

  constructor(private readonly fileIndex: number, private readonly file: string, private readonly assignments: readonly VantageAssignment[],
    private readonly onNew?: (v: View) => void) {}

  get(iface: number, name?: string | null): View {
    let v = this.byIface[iface]
    if (v === undefined) {
      v = resolveView(this.fileIndex, this.file, iface, name ?? undefined, this.assignments)
      this.byIface[iface] = v
      this.onNew?.(v)
    }
    return v
  }
}

/** "file#iface" of a view, made once per view (hot paths ask for it per segment or per packet). */
export function viewKey(v: View): string {
  let k = viewKeys.get(v)
  if (k === undefined) viewKeys.set(v, (k = `${v.file}#${v.iface}`))
  return k
}

const viewKeys = new WeakMap<View, string>()

export function viewLabel(v: View): string {
  return `${v.file}#${v.iface}${v.name ? ` (${v.name})` : ''}`
}
