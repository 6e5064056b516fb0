#!/usr/bin/env node
// Entry point of the `handoff` command. The commands themselves are compiled
// to dist/cli/commands; oclif finds them through oclif.manifest.json.
import {execute} from '@oclif/core'

await execute({dir: import.meta.url})
