// A minimal Medusa v1 (1.20.11) application whose inventory module is medusa-inventory-rs.
//
// - No Redis: the local event bus and the in-memory cache (each server process has its own).
// - Database: DATABASE_URL.
// - Inventory module: `medusa-inventory-rs/medusa-v1` (the packed install, `npm run install:packed`);
//   V1_MODULE=/abs/path/to/medusa-v1/index.js points at a checkout instead (its `../lib` and the
//   built addon next to it); INVENTORY_MODULE=medusa switches back to Medusa's own
//   @medusajs/inventory (for comparisons).
// - plugins/e2e-faults: the test's payment processor `e2e` (its payment status check can be made
//   to fail, see its README), loaded like any local v1 plugin.

const useMedusaInventory = process.env.INVENTORY_MODULE === 'medusa'
const inventoryResolve = useMedusaInventory
  ? '@medusajs/inventory'
  : process.env.V1_MODULE || 'medusa-inventory-rs/medusa-v1'

module.exports = {
  projectConfig: {
    database_url: process.env.DATABASE_URL,
    database_type: 'postgres',
    jwt_secret: process.env.JWT_SECRET || 'example-jwt-secret',
    cookie_secret: process.env.COOKIE_SECRET || 'example-cookie-secret',
    store_cors: process.env.STORE_CORS || 'http://127.0.0.1',
    admin_cors: process.env.ADMIN_CORS || 'http://127.0.0.1',
    // node-postgres pool size of Medusa's TypeORM connection (default 10). The e2e suite raises
    // it: at 10 concurrent cart completions per server, Medusa 1.20.11 with its own inventory
    // module waits forever for an 11th connection (see README, "Known v1 behaviour").
    ...(process.env.DATABASE_POOL_MAX ? { database_extra: { max: Number(process.env.DATABASE_POOL_MAX) } } : {}),
  },
  plugins: ['medusa-fulfillment-manual', 'medusa-payment-manual', 'e2e-faults'],
  modules: {
    eventBus: { resolve: '@medusajs/event-bus-local' },
    cacheService: { resolve: '@medusajs/cache-inmemory' },
    inventoryService: { resolve: inventoryResolve },
    stockLocationService: { resolve: '@medusajs/stock-location' },
  },
}
