'use strict'
// Before the tests: the v1 entry the app will load must be there. With V1_MODULE set (a checkout's
// medusa-v1/index.js), that file; otherwise medusa-inventory-rs installed here the way users get
// it (the packed tarballs, `npm run install:packed`), whose native addon must load without any build.
const fs = require('node:fs')
const path = require('node:path')

const HOW =
  'at the repository root run `npm run pack:local` (builds and packs; needs Rust), then here `npm run install:packed`' +
  ' (or set V1_MODULE=/abs/path/to/medusa-v1/index.js of a built checkout)'

if (process.env.INVENTORY_MODULE === 'medusa') process.exit(0)

if (process.env.V1_MODULE) {
  const file = process.env.V1_MODULE
  if (!path.isAbsolute(file)) {
    console.error(`[app] V1_MODULE must be an absolute path (Medusa resolves it from the app): ${file}`)
    process.exit(1)
  }
  try {
    const def = require(file).default
    if (typeof def?.service !== 'function') throw new Error('its default export has no service class')
  } catch (e) {
    console.error(`[app] V1_MODULE=${file} does not load: ${e.message}`)
    process.exit(1)
  }
  console.log(`[app] inventory module: V1_MODULE=${file}`)
  process.exit(0)
}

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
  const def = require(path.join(__dirname, '..', 'node_modules', 'medusa-inventory-rs', 'medusa-v1')).default
  if (typeof def?.service !== 'function') throw new Error('medusa-v1 has no service class')
} catch (e) {
  console.error(`[app] medusa-inventory-rs ${version} (${how}): medusa-v1 does not load: ${e.message}\n${HOW}.`)
  process.exit(1)
}
console.log(`[app] medusa-inventory-rs ${version}: ${how}, medusa-v1 and its native addon load`)
