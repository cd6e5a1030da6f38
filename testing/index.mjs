// ES module entry of medusa-inventory-rs/testing: the same objects as the CommonJS one.
import kit from './index.js'

export const {
  createTestInventory,
  medusaModuleRunnerOptions,
  sweepTestSchemas,
  startTestDatabase,
  stopTestDatabase,
  maskUrl,
  TestKitError,
  InvariantError,
  TEST_URL_ENV,
} = kit
export default kit
