// A minimal Medusa 2.21 application whose inventory module is medusa-inventory-rs.
//
// - Admin UI disabled; Medusa's defaults for the event bus, cache, workflow engine
//   and locking (all in-memory: each server process has its own).
// - Database: DATABASE_URL.
// - INVENTORY_MODULE=medusa switches back to Medusa's own @medusajs/inventory
//   (for comparisons); anything else (the default) uses medusa-inventory-rs.
const { defineConfig, loadEnv } = require('@medusajs/framework/utils')

loadEnv(process.env.NODE_ENV || 'development', process.cwd())

const useMedusaInventory = process.env.INVENTORY_MODULE === 'medusa'

module.exports = defineConfig({
  projectConfig: {
    databaseUrl: process.env.DATABASE_URL,
    // Optional; Medusa's default is the connection's search_path (public).
    ...(process.env.DATABASE_SCHEMA ? { databaseSchema: process.env.DATABASE_SCHEMA } : {}),
    workerMode: 'shared',
    http: {
      storeCors: process.env.STORE_CORS || 'http://127.0.0.1',
      adminCors: process.env.ADMIN_CORS || 'http://127.0.0.1',
      authCors: process.env.AUTH_CORS || 'http://127.0.0.1',
      jwtSecret: process.env.JWT_SECRET || 'example-jwt-secret',
      cookieSecret: process.env.COOKIE_SECRET || 'example-cookie-secret',
    },
  },
  admin: { disable: true },
  modules: useMedusaInventory
    ? []
    : [
        {
          resolve: 'medusa-inventory-rs/medusa',
          // Round trips slower than this are warned about in Medusa's log (default 1000 ms).
          options: process.env.SLOW_STATEMENT_MS ? { slowStatementMs: Number(process.env.SLOW_STATEMENT_MS) } : {},
        },
      ],
})
