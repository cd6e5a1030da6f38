'use strict'
// Jest globalSetup: one database for the whole run, before any worker starts. DATABASE_URL when
// set; else an embedded Postgres whose URL the workers inherit (MEDUSA_INVENTORY_RS_TEST_URL).
const { startTestDatabase, maskUrl } = require('./index.js')

module.exports = async function globalSetup() {
  const { url, embedded } = await startTestDatabase()
  if (embedded && process.env.MEDUSA_INVENTORY_RS_TEST_VERBOSE) {
    console.log(`[medusa-inventory-rs/testing] embedded Postgres at ${maskUrl(url)}`)
  }
}
