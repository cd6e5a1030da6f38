'use strict'
// Before the test: medusa-inventory-rs must be installed here from the packed tarballs
// (`npm run install:packed`), its native addon must load, and it must carry the plugin's
// build (.medusa/server/src: the admin widget and the API routes).
const fs = require('node:fs')
const path = require('node:path')

const HOW =
  'at the repository root run `npm run pack:local` (builds the addon and the plugin, then packs), then here `npm run install:packed`'
const installed = path.join(__dirname, '..', 'node_modules', 'medusa-inventory-rs')

if (!fs.existsSync(path.join(installed, 'package.json'))) {
  console.error(`[app] medusa-inventory-rs is not installed in ${path.dirname(installed)}: ${HOW}.`)
  process.exit(1)
}
const { version } = JSON.parse(fs.readFileSync(path.join(installed, 'package.json'), 'utf8'))
try {
  require(installed) // loads the native addon
} catch (e) {
  console.error(`[app] medusa-inventory-rs ${version} does not load: ${e.message}\n${HOW}.`)
  process.exit(1)
}
for (const f of ['admin/index.mjs', 'api/middlewares.js']) {
  if (!fs.existsSync(path.join(installed, '.medusa', 'server', 'src', f))) {
    console.error(`[app] medusa-inventory-rs ${version} has no plugin build (.medusa/server/src/${f}): ${HOW}.`)
    process.exit(1)
  }
}
console.log(`[app] medusa-inventory-rs ${version}: native addon loads, plugin build present`)
