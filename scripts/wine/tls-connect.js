'use strict'
// Under Wine (scripts/wine-test.sh): connects with sslmode=require to the server in
// DATABASE_URL (ssl on), migrates, and asks the server (pg_stat_ssl) whether the
// addon's connections are encrypted.
const { Client } = require('pg')
const { InventoryService } = require('../..')

async function main() {
  const schema = `wine_tls_${process.pid}`
  const url = new URL(process.env.DATABASE_URL)
  url.searchParams.set('sslmode', 'require')
  const inventory = await InventoryService.connect({ url: url.toString(), schema })
  await inventory.migrate()
  const db = new Client({ connectionString: process.env.DATABASE_URL })
  await db.connect()
  try {
    const { rows } = await db.query(
      `SELECT count(*)::int AS n FROM pg_stat_ssl JOIN pg_stat_activity USING (pid)
        WHERE ssl AND pid <> pg_backend_pid() AND datname = current_database()`,
    )
    if (rows[0].n < 1) throw new Error('the server sees no TLS connection (pg_stat_ssl)')
    console.log(`sslmode=require: migrated over TLS (${rows[0].n} encrypted connection(s) in pg_stat_ssl)`)
  } finally {
    await inventory.close()
    await db.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`)
    await db.end()
  }
}
main().catch((e) => {
  console.error(e)
  process.exit(1)
})
