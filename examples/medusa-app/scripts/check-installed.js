'use strict'
// Before the tests: medusa-inventory-rs must be installed here the way users get it (the packed
// tarballs, `npm run install:packed`), and its native addon must load without any build step.
const fs = require('node:fs')
const path = require('node:path')

const HOW =
  'at the repository root run `npm run pack:local` (builds and packs; needs Rust), then here `npm run install:packed`'
const installed = path.join(__dirname, '..', 'node_modules', 'medusa-inventory-rs')

let st
try {
  st = fs.lstatSync(installed)
} catch {
  console.error(`[app] medusa-inventory-rs is not installed in ${path.dirname(installed)}: ${HOW}.`)
  process.exit(1)
}
const { version } = JSON.parse(fs.readFileSync(path.join(installed, 'package.json'), 'utf8'))
const how = st.isSymbolicLink() ? `a link to ${fs.realpathSync(installed)}` : 'an installed copy'
try {
  require(installed) // loads the native addon
} catch (e) {
  console.error(`[app] medusa-inventory-rs ${version} (${how}) does not load: ${e.message}\n${HOW}.`)
  process.exit(1)
}
console.log(`[app] medusa-inventory-rs ${version}: ${how}, native addon loads`)
