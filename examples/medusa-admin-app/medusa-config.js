// A Medusa 2.21 application with its admin, on medusa-inventory-rs twice over: as the
// inventory module (modules) and as a plugin (plugins: the inventory item page's ledger
// widget and its admin API routes). A plugin cannot replace a module, so both entries.
//
// - Admin at /app, served by `medusa start` from public/admin (the test links it to
//   what `medusa build` wrote in .medusa/server/public/admin).
// - Database: DATABASE_URL. Medusa's defaults for the event bus, cache, workflow engine
//   and locking (in-memory).
const { defineConfig, loadEnv } = require('@medusajs/framework/utils')

loadEnv(process.env.NODE_ENV || 'development', process.cwd())

module.exports = defineConfig({
  projectConfig: {
    databaseUrl: process.env.DATABASE_URL,
    workerMode: 'shared',
    http: {
      storeCors: process.env.STORE_CORS || 'http://127.0.0.1',
      adminCors: process.env.ADMIN_CORS || 'http://127.0.0.1',
      authCors: process.env.AUTH_CORS || 'http://127.0.0.1',
      jwtSecret: process.env.JWT_SECRET || 'example-jwt-secret',
      cookieSecret: process.env.COOKIE_SECRET || 'example-cookie-secret',
    },
  },
  admin: { path: '/app' },
  plugins: ['medusa-inventory-rs'],
  modules: [{ resolve: 'medusa-inventory-rs/medusa' }],
})
