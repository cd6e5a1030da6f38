'use strict'
// Jest globalTeardown: stops the embedded Postgres the globalSetup started and removes its files.
const { stopTestDatabase } = require('./index.js')

module.exports = async function globalTeardown() {
  await stopTestDatabase()
}
