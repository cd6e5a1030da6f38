'use strict'
// The same suite on Medusa's own @medusajs/inventory 1.11.7: lifecycle and faults asserted,
// the contention result reported only (stock v1 may oversell). Sets INVENTORY_MODULE=medusa
// for the servers it starts (the env is read when the harness builds their environment).
process.env.INVENTORY_MODULE = 'medusa'
const { defineSuite } = require('./support/suite')

defineSuite('medusa', { reportOnly: true })
