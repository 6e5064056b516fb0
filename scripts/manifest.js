// Regenerates oclif.manifest.json from the compiled commands, exactly as
// `oclif manifest` does (that tool is a thin wrapper over @oclif/core's
// Plugin; calling it directly spares a very large dev dependency).
// The manifest is committed, so a stale one would hide new commands: the
// build always rewrites it and test/unit/manifest.test.ts checks it.
import {Plugin} from '@oclif/core/config'
import {writeFileSync, rmSync} from 'node:fs'
import {dirname, join} from 'node:path'
import {fileURLToPath} from 'node:url'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')
const target = join(root, 'oclif.manifest.json')
rmSync(target, {force: true})
const plugin = new Plugin({root, type: 'core', ignoreManifest: true, errorOnManifestCreate: true})
await plugin.load()
const manifest = {...plugin.manifest}
// The version is the only field that changes without the commands changing.
writeFileSync(target, JSON.stringify(manifest, null, 2) + '\n')
console.log(`oclif.manifest.json: ${Object.keys(manifest.commands).length} commands`)
