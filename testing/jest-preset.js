'use strict'
// Jest preset: `preset: 'medusa-inventory-rs/testing'` in the Jest config.
module.exports = {
  testEnvironment: 'node',
  globalSetup: require.resolve('./jest-global-setup.js'),
  globalTeardown: require.resolve('./jest-global-teardown.js'),
}
