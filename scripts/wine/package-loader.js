'use strict'
// Under Wine (scripts/wine-test.sh): the package as npm lays it out in WINE_APP
// (node_modules/medusa-inventory-rs and node_modules/medusa-inventory-rs-win32-x64-msvc).
// With the platform package, require('medusa-inventory-rs') must load that package's file;
// with `--missing`, none is there and the error must name the npm install that fixes it.
const path = require('node:path')
const { createRequire } = require('node:module')

const req = createRequire(path.join(process.env.WINE_APP, 'index.js'))
if (process.argv[2] === '--missing') {
  try {
    req('medusa-inventory-rs')
  } catch (e) {
    if (e.code !== 'ERR_MEDUSA_INVENTORY_RS_NATIVE') throw e
    const { version } = require('../../package.json')
    if (!e.message.includes(`npm install medusa-inventory-rs-win32-x64-msvc@${version} `))
      throw new Error(`no npm install in: ${e.message}`)
    console.log(`without the platform package: ${e.message}`)
    process.exit(0)
  }
  throw new Error('loaded without a platform package')
}
const { InventoryService } = req('medusa-inventory-rs')
const loaded = Object.keys(require.cache).filter((f) => f.endsWith('.node'))
const want = path.join('medusa-inventory-rs-win32-x64-msvc', 'medusa-inventory-rs.win32-x64-msvc.node')
if (loaded.length !== 1 || !loaded[0].endsWith(want))
  throw new Error(`loaded ${loaded.join(', ') || 'no .node file'}, not …\\${want}`)
if (typeof InventoryService.connect !== 'function') throw new Error('InventoryService.connect is missing')
console.log(`require('medusa-inventory-rs') loaded ${loaded[0]}`)
