'use strict'
// Test-only write probes, in the test's database only: AFTER triggers on the inventory tables
// that advance a sequence per written row. Sequences are not transactional, so a probe still
// shows a write whose transaction was rolled back: the fault tests use it to prove the
// inventory write did happen before the injected failure, and was undone.
const PROBES = {
  reservation_item: 'e2e_probe_reservation_item',
  inventory_level: 'e2e_probe_inventory_level',
}

async function installProbes(db) {
  for (const [table, seq] of Object.entries(PROBES)) {
    await db.query(`
      CREATE SEQUENCE IF NOT EXISTS ${seq};
      CREATE OR REPLACE FUNCTION ${seq}_fn() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN PERFORM nextval('${seq}'); RETURN NULL; END $$;
      DROP TRIGGER IF EXISTS ${seq} ON ${table};
      CREATE TRIGGER ${seq} AFTER INSERT OR UPDATE ON ${table} FOR EACH ROW EXECUTE FUNCTION ${seq}_fn();`)
  }
}

/** { reservation_item, inventory_level }: rows written so far (committed or not). */
async function readProbes(db) {
  const out = {}
  for (const [table, seq] of Object.entries(PROBES)) {
    const { rows } = await db.query(`SELECT CASE WHEN is_called THEN last_value ELSE 0 END::int AS n FROM ${seq}`)
    out[table] = rows[0].n
  }
  return out
}

module.exports = { installProbes, readProbes }
