'use strict'
// Shared by the Jest suites: every suite gets its own Postgres schema on the
// server in DATABASE_URL, migrated fresh and dropped afterwards.
const { Client } = require('pg')
const { InventoryService } = require('..')

const DATABASE_URL = process.env.DATABASE_URL || 'postgres://postgres@127.0.0.1:5432/postgres'

function uniqueSchema(tag) {
  return `t_${tag}_${process.pid}_${Math.random().toString(36).slice(2, 8)}`.toLowerCase()
}

/** Raw SQL access for assertions that must not go through the module under test. */
async function sql(schema) {
  const client = new Client({ connectionString: DATABASE_URL })
  await client.connect()
  if (schema) await client.query(`SET search_path TO "${schema}"`)
  return client
}

async function freshService(tag, opts = {}) {
  const schema = uniqueSchema(tag)
  const inventory = await InventoryService.connect({ url: DATABASE_URL, schema, ...opts })
  await inventory.migrate()
  const db = await sql(schema)
  return {
    schema,
    inventory,
    db,
    async cleanup() {
      await inventory.close()
      await db.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`)
      await db.end()
    },
  }
}

/** reserved_quantity of every live level next to the sum of its live reservations. */
async function reservedDrift(db) {
  const { rows } = await db.query(`
    SELECT l.id, l.reserved_quantity::text AS reserved,
           coalesce((SELECT sum(r.quantity) FROM reservation_item r
                     WHERE r.inventory_item_id = l.inventory_item_id AND r.location_id = l.location_id
                       AND r.deleted_at IS NULL), 0)::text AS live_sum,
           (l.raw_reserved_quantity->>'value') AS raw
    FROM inventory_level l WHERE l.deleted_at IS NULL`)
  return rows.filter((r) => Number(r.reserved) !== Number(r.live_sum) || Number(r.raw) !== Number(r.reserved))
}

/**
 * Every (level, quantity) whose value differs from the sum of its ledger movements, levels
 * hard-deleted since (known only to the ledger) included: the ledger's invariant, in raw SQL.
 */
async function ledgerGaps(db) {
  const { rows } = await db.query(`
    WITH s AS (SELECT inventory_level_id AS id, field, sum(delta) AS total FROM inventory_movement GROUP BY 1, 2)
    SELECT q.id, q.field, q.q::text AS quantity, coalesce(s.total, 0)::text AS ledger_sum
    FROM (SELECT ids.id, v.field, v.q
          FROM (SELECT id FROM inventory_level UNION SELECT inventory_level_id FROM inventory_movement) ids
          LEFT JOIN inventory_level l ON l.id = ids.id,
          LATERAL (VALUES ('stocked_quantity', coalesce(l.stocked_quantity, 0)), ('reserved_quantity', coalesce(l.reserved_quantity, 0)),
                          ('incoming_quantity', coalesce(l.incoming_quantity, 0))) v(field, q)) q
    LEFT JOIN s ON s.id = q.id AND s.field = q.field
    WHERE q.q <> coalesce(s.total, 0)
    ORDER BY 1, 2`)
  return rows
}

/**
 * Movements whose `resulting` is not the running sum of their level's and quantity's deltas
 * in ledger order (id): every writer takes a movement's id while it holds the level's lock,
 * so there should be none, whatever ran concurrently.
 */
async function ledgerOutOfOrder(db) {
  const { rows } = await db.query(`
    SELECT id::text, inventory_level_id, field, resulting::text, running::text FROM (
      SELECT m.*, sum(delta) OVER (PARTITION BY inventory_level_id, field ORDER BY id) AS running
      FROM inventory_movement m) x
    WHERE resulting <> running ORDER BY id`)
  return rows
}

/**
 * Waits until `n` backends wait behind the session of pg client `holder`, directly or
 * behind one that does: lets a test order concurrent calls by locks, not by sleeps.
 */
async function waitBlockedBy(db, holder, n = 1) {
  for (;;) {
    const { rows } = await db.query(
      `WITH RECURSIVE w(pid) AS (
         SELECT pid FROM pg_stat_activity WHERE $1 = ANY(pg_blocking_pids(pid))
         UNION SELECT a.pid FROM pg_stat_activity a JOIN w ON w.pid = ANY(pg_blocking_pids(a.pid)))
       SELECT count(*)::int AS n FROM w`,
      [holder.processID],
    )
    if (rows[0].n >= n) return
    await new Promise((res) => setTimeout(res, 10))
  }
}

module.exports = {
  DATABASE_URL,
  uniqueSchema,
  sql,
  freshService,
  reservedDrift,
  ledgerGaps,
  ledgerOutOfOrder,
  waitBlockedBy,
}
