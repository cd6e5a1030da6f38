'use strict'
// The catalog of one Postgres schema, for comparing schemas made by different
// migrators (compat.test.js, scripts/medusa-versions.js).

/**
 * Our own additive indexes and triggers on Medusa's tables (migrate.rs: the trigram index
 * for q, soft-deleted levels by item, the triggers that keep the live item count).
 */
const OWN_INDEX_PREFIX = 'medusa_inventory_rs_'

/**
 * Tables, columns, indexes, constraints, sequences and triggers of `schema`, schema name
 * normalised; only tables for which `keep(table)` holds (sequences: by their owning table).
 * Our own indexes and triggers (OWN_INDEX_PREFIX) are left out: Medusa's schema never has them.
 * `admin` is a connected pg client.
 */
async function catalogOf(admin, schema, keep = () => true) {
  const strip = (text) => (text == null ? text : text.split(`"${schema}".`).join('').split(`${schema}.`).join(''))
  const q = (text, params) => admin.query(text, params).then((r) => r.rows)

  const tables = (
    await q(`SELECT table_name, table_type FROM information_schema.tables WHERE table_schema = $1 ORDER BY 1`, [schema])
  ).filter((r) => keep(r.table_name))
  const columns = (
    await q(
      `SELECT table_name, column_name, ordinal_position, data_type, udt_name, character_maximum_length,
              numeric_precision, numeric_scale, is_nullable, column_default, is_identity, is_generated
       FROM information_schema.columns WHERE table_schema = $1 ORDER BY table_name, column_name`,
      [schema],
    )
  )
    .filter((r) => keep(r.table_name))
    .map((r) => ({ ...r, column_default: strip(r.column_default) }))
  const indexes = (
    await q(`SELECT tablename, indexname, indexdef FROM pg_indexes WHERE schemaname = $1 ORDER BY indexname`, [schema])
  )
    .filter((r) => keep(r.tablename) && !r.indexname.startsWith(OWN_INDEX_PREFIX))
    .map((r) => ({ ...r, indexdef: strip(r.indexdef) }))
  const constraints = (
    await q(
      `SELECT c.relname AS table_name, k.conname, k.contype, pg_get_constraintdef(k.oid) AS def,
              k.condeferrable, k.condeferred
       FROM pg_constraint k JOIN pg_class c ON c.oid = k.conrelid
       WHERE k.connamespace = $1::regnamespace ORDER BY k.conname`,
      [schema],
    )
  )
    .filter((r) => keep(r.table_name))
    .map((r) => ({ ...r, def: strip(r.def) }))
  const sequences = (
    await q(
      `SELECT s.relname AS sequence_name, t.relname AS owner
       FROM pg_class s
       LEFT JOIN pg_depend d ON d.classid = 'pg_class'::regclass AND d.objid = s.oid AND d.deptype IN ('a', 'i')
       LEFT JOIN pg_class t ON t.oid = d.refobjid
       WHERE s.relkind = 'S' AND s.relnamespace = $1::regnamespace ORDER BY 1`,
      [schema],
    )
  )
    .filter((r) => r.owner == null || keep(r.owner))
    .map(({ sequence_name }) => ({ sequence_name }))
  const triggers = (
    await q(
      `SELECT c.relname AS table_name, t.tgname FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid
       WHERE c.relnamespace = $1::regnamespace AND NOT t.tgisinternal ORDER BY 2`,
      [schema],
    )
  ).filter((r) => keep(r.table_name) && !r.tgname.startsWith(OWN_INDEX_PREFIX))
  return { tables, columns, indexes, constraints, sequences, triggers }
}

module.exports = { catalogOf, OWN_INDEX_PREFIX }
