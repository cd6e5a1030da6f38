'use strict'
// End to end through real Medusa 1.20.11 servers. INVENTORY_MODULE=medusa: Medusa's own
// @medusajs/inventory 1.11.7 (lifecycle and faults asserted, contention reported);
// otherwise medusa-inventory-rs/medusa-v1 (or V1_MODULE), everything asserted.
const { defineSuite } = require('./support/suite')
const { moduleUnderTest } = require('./support/harness')

const m = moduleUnderTest()
defineSuite(m, { reportOnly: m === 'medusa' })
