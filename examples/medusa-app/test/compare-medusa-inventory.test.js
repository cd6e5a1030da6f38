'use strict'
// The same app and the same suite with Medusa's own @medusajs/inventory 2.21.2, for
// comparison: its lifecycle is asserted, its two-server contention result is reported
// (it is expected to oversell sometimes) and never fails the run.
// Skipped with E2E_SKIP_MEDUSA=1, and when INVENTORY_MODULE=medusa already ran it.
const { describe } = require('node:test')
const { defineSuite } = require('./support/suite')

if (process.env.E2E_SKIP_MEDUSA === '1' || process.env.INVENTORY_MODULE === 'medusa') {
  describe('@medusajs/inventory comparison', { skip: 'E2E_SKIP_MEDUSA=1 or INVENTORY_MODULE=medusa' }, () => {})
} else {
  defineSuite('medusa', { reportOnly: true })
}
