'use strict'
// bench/ depends on the repository root (`file:..`), whose addon is built with
// the root's devDependencies (@napi-rs/cli). From a fresh clone, `npm install`
// here therefore installs the root's dependencies too, once.
const fs = require('node:fs')
const path = require('node:path')
const { execFileSync } = require('node:child_process')

const root = path.resolve(__dirname, '..', '..')
if (fs.existsSync(path.join(root, 'node_modules', '@napi-rs', 'cli'))) process.exit(0)
console.log('[bench] installing the repository root’s dependencies (needed to build the addon)…')
execFileSync('npm', ['install', '--no-audit', '--no-fund'], { cwd: root, stdio: 'inherit' })
