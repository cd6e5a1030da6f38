'use strict'
// End to end through a real Medusa 2.21.2 server whose inventory module is
// medusa-inventory-rs: checkout lifecycle, then two servers under contention.
// INVENTORY_MODULE=medusa runs the same suite against Medusa's own @medusajs/inventory
// (lifecycle asserted, contention reported).
const { defineSuite } = require('./support/suite')

const medusa = process.env.INVENTORY_MODULE === 'medusa'
defineSuite(medusa ? 'medusa' : 'ours', { reportOnly: medusa })
