//! Schema identical to what @medusajs/inventory 2.21.2's migrations leave behind
//! (same tables, column types and nullability, index and constraint names), so a
//! database written by either module works with the other.

use crate::entity::{DIGIT_GRAM, DIGIT_GRAMS_FN, DIGIT_RUN, DIGIT_STEP};
use crate::error::Result;
use deadpool_postgres::Client;

/// Bumped whenever the statements below change.
pub(crate) const SCHEMA_VERSION: i32 = 2;

/// Medusa's migration names for this module: recorded so that Medusa's own
/// migrator, if switched back to, does not replay them over our tables.
const MEDUSA_MIGRATIONS: &[&str] = &[
    "Migration20240307132720",
    "Migration20240719123015",
    "Migration20241213063611",
    "Migration20251010131115",
    "Migration20260815185216",
];

/// Every statement is idempotent: it brings an empty schema, one migrated by
/// Medusa's module (at any of its versions) or one of ours to the final shape.
const STATEMENTS: &[&str] = &[
    r#"CREATE TABLE IF NOT EXISTS "inventory_item" (
        "id" text NOT NULL,
        "created_at" timestamptz NOT NULL DEFAULT now(),
        "updated_at" timestamptz NOT NULL DEFAULT now(),
        "deleted_at" timestamptz NULL,
        "sku" text NULL, "origin_country" text NULL, "hs_code" text NULL,
        "mid_code" text NULL, "material" text NULL,
        "weight" integer NULL, "length" integer NULL, "height" integer NULL, "width" integer NULL,
        "requires_shipping" boolean NOT NULL DEFAULT true,
        "description" text NULL, "title" text NULL, "thumbnail" text NULL,
        "metadata" jsonb NULL,
        CONSTRAINT "inventory_item_pkey" PRIMARY KEY ("id"))"#,
    r#"ALTER TABLE "inventory_item" ADD COLUMN IF NOT EXISTS "unit_of_measure" text NULL"#,
    r#"CREATE INDEX IF NOT EXISTS "IDX_inventory_item_deleted_at" ON "inventory_item" (deleted_at) WHERE deleted_at IS NOT NULL"#,
    r#"DROP INDEX IF EXISTS "IDX_inventory_item_sku_unique""#,
    r#"CREATE UNIQUE INDEX IF NOT EXISTS "IDX_inventory_item_sku" ON "inventory_item" (sku) WHERE deleted_at IS NULL"#,
    r#"CREATE TABLE IF NOT EXISTS "inventory_level" (
        "id" text NOT NULL,
        "created_at" timestamptz NOT NULL DEFAULT now(),
        "updated_at" timestamptz NOT NULL DEFAULT now(),
        "deleted_at" timestamptz NULL,
        "inventory_item_id" text NOT NULL,
        "location_id" text NOT NULL,
        "stocked_quantity" numeric NOT NULL DEFAULT 0,
        "reserved_quantity" numeric NOT NULL DEFAULT 0,
        "incoming_quantity" numeric NOT NULL DEFAULT 0,
        "metadata" jsonb NULL,
        CONSTRAINT "inventory_level_pkey" PRIMARY KEY ("id"))"#,
    r#"ALTER TABLE "inventory_level"
        ADD COLUMN IF NOT EXISTS "raw_stocked_quantity" jsonb NULL,
        ADD COLUMN IF NOT EXISTS "raw_reserved_quantity" jsonb NULL,
        ADD COLUMN IF NOT EXISTS "raw_incoming_quantity" jsonb NULL"#,
    r#"CREATE INDEX IF NOT EXISTS "IDX_inventory_level_deleted_at" ON "inventory_level" (deleted_at) WHERE deleted_at IS NOT NULL"#,
    r#"CREATE INDEX IF NOT EXISTS "IDX_inventory_level_inventory_item_id" ON "inventory_level" (inventory_item_id) WHERE deleted_at IS NULL"#,
    r#"CREATE INDEX IF NOT EXISTS "IDX_inventory_level_location_id" ON "inventory_level" (location_id) WHERE deleted_at IS NULL"#,
    r#"CREATE UNIQUE INDEX IF NOT EXISTS "IDX_inventory_level_location_id_inventory_item_id" ON "inventory_level" (inventory_item_id, location_id) WHERE deleted_at IS NULL"#,
    r#"DROP INDEX IF EXISTS "IDX_inventory_level_item_location""#,
    r#"CREATE TABLE IF NOT EXISTS "reservation_item" (
        "id" text NOT NULL,
        "created_at" timestamptz NOT NULL DEFAULT now(),
        "updated_at" timestamptz NOT NULL DEFAULT now(),
        "deleted_at" timestamptz NULL,
        "line_item_id" text NULL,
        "location_id" text NOT NULL,
        "quantity" numeric NOT NULL,
        "external_id" text NULL, "description" text NULL, "created_by" text NULL,
        "metadata" jsonb NULL,
        "inventory_item_id" text NOT NULL,
        CONSTRAINT "reservation_item_pkey" PRIMARY KEY ("id"))"#,
    r#"ALTER TABLE "reservation_item" ADD COLUMN IF NOT EXISTS "allow_backorder" boolean DEFAULT false"#,
    r#"ALTER TABLE "reservation_item" ADD COLUMN IF NOT EXISTS "raw_quantity" jsonb NULL"#,
    r#"CREATE INDEX IF NOT EXISTS "IDX_reservation_item_deleted_at" ON "reservation_item" (deleted_at) WHERE deleted_at IS NOT NULL"#,
    r#"CREATE INDEX IF NOT EXISTS "IDX_reservation_item_line_item_id" ON "reservation_item" (line_item_id) WHERE deleted_at IS NULL"#,
    r#"CREATE INDEX IF NOT EXISTS "IDX_reservation_item_location_id" ON "reservation_item" (location_id) WHERE deleted_at IS NULL"#,
    r#"CREATE INDEX IF NOT EXISTS "IDX_reservation_item_inventory_item_id" ON "reservation_item" (inventory_item_id) WHERE deleted_at IS NULL"#,
    // Medusa's first releases stored quantities as integers without raw twins.
    r#"DO $$
    DECLARE r record;
    BEGIN
      FOR r IN SELECT c.table_name, c.column_name FROM information_schema.columns c
        WHERE c.table_schema = current_schema() AND c.data_type = 'integer'
          AND (c.table_name, c.column_name) IN (('inventory_level','stocked_quantity'),
               ('inventory_level','reserved_quantity'), ('inventory_level','incoming_quantity'),
               ('reservation_item','quantity'))
      LOOP
        EXECUTE format('ALTER TABLE %I ALTER COLUMN %I TYPE numeric USING (%I::numeric)',
                       r.table_name, r.column_name, r.column_name);
      END LOOP;
    END $$"#,
    r#"UPDATE "inventory_level" SET
        raw_stocked_quantity = coalesce(raw_stocked_quantity, jsonb_build_object('value', stocked_quantity::text, 'precision', 20)),
        raw_reserved_quantity = coalesce(raw_reserved_quantity, jsonb_build_object('value', reserved_quantity::text, 'precision', 20)),
        raw_incoming_quantity = coalesce(raw_incoming_quantity, jsonb_build_object('value', incoming_quantity::text, 'precision', 20))
      WHERE raw_stocked_quantity IS NULL OR raw_reserved_quantity IS NULL OR raw_incoming_quantity IS NULL"#,
    r#"UPDATE "reservation_item" SET raw_quantity = jsonb_build_object('value', quantity::text, 'precision', 20)
      WHERE raw_quantity IS NULL"#,
    r#"DO $$
    BEGIN
      IF NOT EXISTS (SELECT 1 FROM pg_constraint WHERE conname = 'inventory_level_inventory_item_id_foreign'
                     AND connamespace = (SELECT oid FROM pg_namespace WHERE nspname = current_schema())) THEN
        ALTER TABLE "inventory_level" ADD CONSTRAINT "inventory_level_inventory_item_id_foreign"
          FOREIGN KEY ("inventory_item_id") REFERENCES "inventory_item" ("id") ON UPDATE CASCADE ON DELETE CASCADE;
      END IF;
      IF NOT EXISTS (SELECT 1 FROM pg_constraint WHERE conname = 'reservation_item_inventory_item_id_foreign'
                     AND connamespace = (SELECT oid FROM pg_namespace WHERE nspname = current_schema())) THEN
        ALTER TABLE "reservation_item" ADD CONSTRAINT "reservation_item_inventory_item_id_foreign"
          FOREIGN KEY ("inventory_item_id") REFERENCES "inventory_item" ("id") ON UPDATE CASCADE ON DELETE CASCADE;
      END IF;
    END $$"#,
    // Version 2: this module's own tables (Medusa's module never reads them).
    // The movement ledger (ledger.rs); no foreign keys: it outlives what it describes.
    r#"CREATE TABLE IF NOT EXISTS "inventory_movement" (
        "id" bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
        "created_at" timestamptz NOT NULL DEFAULT now(),
        "inventory_level_id" text NOT NULL,
        "inventory_item_id" text NOT NULL,
        "location_id" text NOT NULL,
        "field" text NOT NULL CHECK ("field" IN ('stocked_quantity', 'reserved_quantity', 'incoming_quantity')),
        "delta" numeric NOT NULL,
        "resulting" numeric NOT NULL,
        "reason" text NOT NULL,
        "method" text NULL,
        "actor" text NULL,
        "reference" text NULL,
        "reservation_item_id" text NULL,
        "line_item_id" text NULL,
        "idempotency_key" text NULL,
        "metadata" jsonb NULL)"#,
    r#"CREATE INDEX IF NOT EXISTS "IDX_inventory_movement_level" ON "inventory_movement" (inventory_level_id, id)"#,
    r#"CREATE INDEX IF NOT EXISTS "IDX_inventory_movement_item" ON "inventory_movement" (inventory_item_id, id)"#,
    // Levels from before the ledger (or written by Medusa's module) open with
    // their current quantities, so that quantities = ledger sums from here on.
    r#"INSERT INTO "inventory_movement" (inventory_level_id, inventory_item_id, location_id, field, delta, resulting, reason)
       SELECT l.id, l.inventory_item_id, l.location_id, v.field, v.q, v.q, 'opening_balance'
       FROM inventory_level l, LATERAL (VALUES ('stocked_quantity', l.stocked_quantity),
            ('reserved_quantity', l.reserved_quantity), ('incoming_quantity', l.incoming_quantity)) v(field, q)
       WHERE v.q <> 0 AND NOT EXISTS (SELECT 1 FROM inventory_movement m WHERE m.inventory_level_id = l.id)"#,
    // Idempotency keys (idempotency.rs): the first committed response of each key.
    r#"CREATE TABLE IF NOT EXISTS "inventory_idempotency_key" (
        "key" text PRIMARY KEY,
        "method" text NOT NULL,
        "request_hash" text NOT NULL,
        "response" jsonb NOT NULL,
        "created_at" timestamptz NOT NULL DEFAULT now(),
        "expires_at" timestamptz NOT NULL)"#,
    r#"CREATE TABLE IF NOT EXISTS "mikro_orm_migrations" (
        "id" serial PRIMARY KEY, "name" varchar(255), "executed_at" timestamptz DEFAULT current_timestamp)"#,
];

/// The trigram index for `q` (sql.rs): a GIN index over the item's searchable
/// fields as one text ([`Entity::search_expr`]), partial on live items, so a
/// search that matches few of millions of items reads them through the index
/// instead of walking every item. Run on every migrate (each step is
/// idempotent), so installing pg_trgm later and migrating again adds it.
/// pg_trgm goes where it already is, else into `public`, never into the tenant
/// schema (dropping that schema would take the extension, and every other
/// schema's indexes, with it); its operator class is named with that schema so
/// the index does not depend on the search_path. Statistics on the same
/// expression (Postgres 14 on; a GIN index keeps none) tell the planner how
/// many items a pattern matches, so a common word still pages in id order
/// rather than through the index. Where the extension cannot be
/// had (no contrib package, no privilege) searches scan, as before, and the
/// server logs a warning. The index is named `medusa_inventory_rs_…`: additive,
/// Medusa's module ignores it (and the compatibility tests leave it out).
fn search_index_sql() -> String {
    let item = &crate::entity::INVENTORY_ITEM;
    let Some(name) = item.search_index else {
        return String::new();
    };
    format!(
        r#"DO $$
    DECLARE ns text;
    BEGIN
      SELECT n.nspname INTO ns FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace
        WHERE e.extname = 'pg_trgm';
      IF ns IS NULL THEN
        BEGIN
          CREATE EXTENSION IF NOT EXISTS pg_trgm WITH SCHEMA public;
          ns := 'public';
        EXCEPTION WHEN OTHERS THEN
          RAISE WARNING 'medusa-inventory-rs: pg_trgm is not available (%); q searches will scan inventory_item', SQLERRM;
          RETURN;
        END;
      END IF;
      EXECUTE format('CREATE INDEX IF NOT EXISTS {name} ON inventory_item USING gin (({expr}) %I.gin_trgm_ops) WHERE deleted_at IS NULL', ns);
      IF current_setting('server_version_num')::int >= 140000 AND NOT EXISTS (
           SELECT 1 FROM pg_statistic_ext WHERE stxname = '{name}_stats' AND stxnamespace = (SELECT oid FROM pg_namespace WHERE nspname = current_schema())) THEN
        EXECUTE 'CREATE STATISTICS {name}_stats ON (({expr})) FROM inventory_item';
        ANALYZE inventory_item;
      END IF;
    END $$"#,
        expr = item.search_expr("").replace('\'', "''"),
    )
}

/// The digit-gram index for a `q` with a number of [`DIGIT_RUN`] digits or
/// more (sql.rs): a GIN index over the grams [`DIGIT_GRAMS_FN`] makes of the
/// same text as the trigram index, partial on live items. Trigrams of digits
/// are too few to tell ten million items apart; five-digit grams are not
/// (entity.rs, [`DIGIT_GRAM`]). They cost writes about 5 µs an item whose text
/// has such a number (mostly the regular expression that finds the runs),
/// 0.3 µs one without. The function is plain PL/pgSQL (no extension),
/// with every call schema-qualified so that it means the same under any
/// search_path (autovacuum's, a restore's). It is created once and never
/// replaced: an index built with one definition must not be read with
/// another, so a different gram would take a new name. Statistics on the
/// expression let the planner see how common a gram is. Additive, named
/// `medusa_inventory_rs_…` like the trigram index.
fn digits_index_sql() -> String {
    let item = &crate::entity::INVENTORY_ITEM;
    let Some(name) = item.digits_index else {
        return String::new();
    };
    let expr = item.search_expr("");
    let (n, rest, step, run) = (DIGIT_GRAM, DIGIT_GRAM - 1, DIGIT_STEP, DIGIT_RUN);
    format!(
        r#"DO $$
    BEGIN
      IF to_regprocedure('{DIGIT_GRAMS_FN}(text)') IS NULL THEN
        CREATE FUNCTION {DIGIT_GRAMS_FN}(t text) RETURNS text[]
          LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE AS $f$
        DECLARE grams text[]; run text; i int;
        BEGIN
          -- A text without such a number costs this test alone.
          IF t OPERATOR(pg_catalog.!~) '[0-9]{{{run}}}' THEN
            RETURN NULL;
          END IF;
          FOREACH run IN ARRAY pg_catalog.regexp_split_to_array(t, '[^0-9]+') LOOP
            IF pg_catalog.length(run) >= {run} THEN
              FOR i IN 1 .. pg_catalog.length(run) - {rest} BY {step} LOOP
                grams := pg_catalog.array_append(grams, pg_catalog.substr(run, i, {n}));
              END LOOP;
            END IF;
          END LOOP;
          RETURN grams;
        END $f$;
      END IF;
    END $$;
    CREATE INDEX IF NOT EXISTS {name} ON inventory_item USING gin ({DIGIT_GRAMS_FN}({expr})) WHERE deleted_at IS NULL;
    DO $$
    BEGIN
      IF current_setting('server_version_num')::int >= 140000 AND NOT EXISTS (
           SELECT 1 FROM pg_statistic_ext WHERE stxname = '{name}_stats' AND stxnamespace = (SELECT oid FROM pg_namespace WHERE nspname = current_schema())) THEN
        CREATE STATISTICS {name}_stats ON ({DIGIT_GRAMS_FN}({expr})) FROM inventory_item;
        ANALYZE inventory_item;
      END IF;
    END $$"#
    )
}

/// Soft-deleted levels by item and location. Medusa's level indexes are all
/// partial on live rows, so a lookup that must also lock the soft-deleted
/// levels of an item (a release by line item, an item's delete) walked every
/// soft-deleted level through `IDX_inventory_level_deleted_at`: with 100 000 of
/// them a release took 10.7 ms instead of 0.9. Partial on deleted rows, it
/// costs nothing while levels stay live. Additive, named `medusa_inventory_rs_…`.
const DELETED_LEVELS_INDEX: &str =
    "CREATE INDEX IF NOT EXISTS medusa_inventory_rs_level_deleted_item
    ON inventory_level (inventory_item_id, location_id) WHERE deleted_at IS NOT NULL";

/// The movement feed's column (movements.rs, `listInventoryMovementFeed`): the
/// id of the transaction that wrote each movement, `pg_current_xact_id()` as
/// the column's default, so every write's INSERT stamps it with no statement
/// or parameter of its own. The feed hands out only movements of transactions
/// older than every running one and pages by (xid, id), so a movement that
/// commits late is still delivered once. Rows from before it get the
/// migrating transaction's id (the one-time ADD COLUMN rewrites the table).
/// Run on every migrate; each step looks at the catalog first, so a migrated
/// table is not locked again. Additive: on this module's own table, which
/// `revert` drops with what it holds.
const MOVEMENT_FEED_SQL: &str = r#"DO $$
    BEGIN
      IF to_regclass('inventory_movement') IS NULL THEN
        RETURN;
      END IF;
      IF NOT EXISTS (SELECT 1 FROM pg_attribute WHERE attrelid = 'inventory_movement'::regclass
                     AND attname = 'xid' AND NOT attisdropped) THEN
        ALTER TABLE inventory_movement ADD COLUMN xid xid8 NOT NULL DEFAULT pg_current_xact_id();
      END IF;
      IF to_regclass('"IDX_inventory_movement_xid"') IS NULL THEN
        CREATE INDEX "IDX_inventory_movement_xid" ON inventory_movement (xid, id);
      END IF;
    END $$"#;

/// The live-item count for an unfiltered listAndCountInventoryItems: counting
/// a million items is a scan of them all (about 110 ms here, however it is
/// planned), so Postgres keeps the count instead. A table of this module's own
/// ([`Entity::live_count`]) holds deltas, one row per statement (or soft
/// delete) that changed how many items are live, written by triggers on
/// `inventory_item` in the writer's transaction: whichever module writes,
/// the sum in any snapshot is that snapshot's count of live items. Rows are
/// only inserted, so writers never wait on each other; [`compact_count_sql`]
/// folds them into one from time to time. Installed once (under a lock that
/// holds writers off while it counts what is there); each later migrate
/// compares the kept count with a count of the items (one snapshot) and counts
/// afresh, with a warning, when they differ (rows written with triggers off). The
/// triggers and functions are named `medusa_inventory_rs_…`, additive like
/// the search index.
fn live_count_sql(schema: &str) -> String {
    let item = &crate::entity::INVENTORY_ITEM;
    let Some(name) = item.live_count else {
        return String::new();
    };
    let s = quote_ident(schema);
    format!(
        r#"DO $do$
    DECLARE kept bigint; live bigint;
    BEGIN
      IF to_regclass('{name}') IS NOT NULL AND (
           SELECT count(*) FROM pg_trigger
           WHERE tgrelid = 'inventory_item'::regclass AND tgname LIKE '{name}\_%') = 4 THEN
        SELECT (SELECT coalesce(sum(delta), 0) FROM {name}),
               (SELECT count(*) FROM inventory_item WHERE deleted_at IS NULL) INTO kept, live;
        IF kept = live THEN
          RETURN;
        END IF;
        RAISE WARNING 'medusa-inventory-rs: the kept count of live items was % but % are live (rows written with triggers off?); counted afresh', kept, live;
      END IF;
      LOCK TABLE inventory_item IN SHARE ROW EXCLUSIVE MODE;
      -- A key, so that a logical replication publishing deletes can take the folds.
      CREATE TABLE IF NOT EXISTS {name} (
        id bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY, delta bigint NOT NULL);
      DELETE FROM {name};
      INSERT INTO {name} (delta) SELECT count(*) FROM inventory_item WHERE deleted_at IS NULL;
      CREATE OR REPLACE FUNCTION {name}_rows() RETURNS trigger LANGUAGE plpgsql AS $f$
      DECLARE n bigint;
      BEGIN
        IF TG_OP = 'INSERT' THEN
          SELECT count(*) INTO n FROM {name}_new WHERE deleted_at IS NULL;
        ELSE
          SELECT -count(*) INTO n FROM {name}_old WHERE deleted_at IS NULL;
        END IF;
        IF n <> 0 THEN
          INSERT INTO {s}.{name} (delta) VALUES (n);
        END IF;
        RETURN NULL;
      END $f$;
      CREATE OR REPLACE FUNCTION {name}_live() RETURNS trigger LANGUAGE plpgsql AS $f$
      BEGIN
        INSERT INTO {s}.{name} (delta) VALUES (CASE WHEN NEW.deleted_at IS NULL THEN 1 ELSE -1 END);
        RETURN NULL;
      END $f$;
      CREATE OR REPLACE FUNCTION {name}_reset() RETURNS trigger LANGUAGE plpgsql AS $f$
      BEGIN
        DELETE FROM {s}.{name};
        RETURN NULL;
      END $f$;
      DROP TRIGGER IF EXISTS {name}_ins ON inventory_item;
      DROP TRIGGER IF EXISTS {name}_del ON inventory_item;
      DROP TRIGGER IF EXISTS {name}_upd ON inventory_item;
      DROP TRIGGER IF EXISTS {name}_trunc ON inventory_item;
      CREATE TRIGGER {name}_ins AFTER INSERT ON inventory_item
        REFERENCING NEW TABLE AS {name}_new FOR EACH STATEMENT EXECUTE FUNCTION {s}.{name}_rows();
      CREATE TRIGGER {name}_del AFTER DELETE ON inventory_item
        REFERENCING OLD TABLE AS {name}_old FOR EACH STATEMENT EXECUTE FUNCTION {s}.{name}_rows();
      CREATE TRIGGER {name}_upd AFTER UPDATE OF deleted_at ON inventory_item FOR EACH ROW
        WHEN ((OLD.deleted_at IS NULL) IS DISTINCT FROM (NEW.deleted_at IS NULL))
        EXECUTE FUNCTION {s}.{name}_live();
      CREATE TRIGGER {name}_trunc AFTER TRUNCATE ON inventory_item
        FOR EACH STATEMENT EXECUTE FUNCTION {s}.{name}_reset();
    END $do$;
    {compact}"#,
        compact = compact_count_sql(name),
    )
}

/// Name of [`arrived_sql`]'s function.
pub(crate) const ARRIVED_FN: &str = "medusa_inventory_rs_arrived";

/// Whether reservations of the line items (`by_line`) or locations in `vals`
/// that are live (`live`; else soft-deleted) exist beyond the ids in `seen`.
/// A release by line item or location calls it after it holds its rows and
/// levels (reservations.rs): VOLATILE, so in READ COMMITTED its query takes a
/// snapshot of its own, newer than the calling statement's, and sees what
/// committed while that statement waited. That lets the release and its look
/// be one statement, with no transaction around them to begin and commit.
/// Installed (replaced) by every migrate; additive like the count triggers.
fn arrived_sql(schema: &str) -> String {
    let s = quote_ident(schema);
    let look = |column: &str, state: &str| {
        format!(
            "RETURN EXISTS (SELECT 1 FROM {s}.reservation_item t WHERE t.{column} = ANY(vals)
               AND t.deleted_at IS {state} AND t.id <> ALL(seen));"
        )
    };
    format!(
        r#"CREATE OR REPLACE FUNCTION {s}.{ARRIVED_FN}(by_line boolean, vals text[], live boolean, seen text[])
    RETURNS boolean LANGUAGE plpgsql VOLATILE AS $f$
    BEGIN
      -- One query per case, so that each keeps a plan on its own partial index.
      IF by_line AND live THEN
        {line_live}
      ELSIF by_line THEN
        {line_gone}
      ELSIF live THEN
        {loc_live}
      END IF;
      {loc_gone}
    END $f$"#,
        line_live = look("line_item_id", "NULL"),
        line_gone = look("line_item_id", "NOT NULL"),
        loc_live = look("location_id", "NULL"),
        loc_gone = look("location_id", "NOT NULL"),
    )
}

/// Folds the live-count deltas of table `name` into one row. Safe beside
/// writers and other compactions: it deletes only rows committed when it
/// started and puts back their sum in the same transaction, so every snapshot
/// sums the same.
pub(crate) fn compact_count_sql(name: &str) -> String {
    format!(
        "WITH d AS (DELETE FROM {name} RETURNING delta)
         INSERT INTO {name} (delta) SELECT sum(delta) FROM d HAVING count(*) > 0"
    )
}

/// Creates or upgrades the tables. Safe to run concurrently from several
/// processes: an advisory lock serializes them and each step is idempotent.
pub(crate) async fn migrate(client: &mut Client, schema: &str) -> Result<i32> {
    let tx = client.transaction().await?;
    tx.batch_execute(&format!(
        "SELECT pg_advisory_xact_lock(hashtext('medusa-inventory-rs:' || {}));",
        quote_literal(schema)
    ))
    .await?;
    tx.batch_execute(&format!(
        "CREATE SCHEMA IF NOT EXISTS {}; SET LOCAL search_path TO {};
         CREATE TABLE IF NOT EXISTS medusa_inventory_rs_schema (
           version integer PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now());",
        quote_ident(schema),
        quote_ident(schema)
    ))
    .await?;
    let current: Option<i32> = tx
        .query_one("SELECT max(version) FROM medusa_inventory_rs_schema", &[])
        .await?
        .get(0);
    if current.unwrap_or(0) < SCHEMA_VERSION {
        for stmt in STATEMENTS {
            tx.batch_execute(stmt).await?;
        }
        tx.execute(
            "INSERT INTO mikro_orm_migrations (name)
             SELECT n FROM unnest($1::text[]) n
             WHERE NOT EXISTS (SELECT 1 FROM mikro_orm_migrations m WHERE m.name = n)",
            &[&MEDUSA_MIGRATIONS],
        )
        .await?;
        tx.execute(
            "INSERT INTO medusa_inventory_rs_schema (version) VALUES ($1) ON CONFLICT DO NOTHING",
            &[&SCHEMA_VERSION],
        )
        .await?;
    }
    tx.batch_execute(&search_index_sql()).await?;
    tx.batch_execute(&digits_index_sql()).await?;
    tx.batch_execute(DELETED_LEVELS_INDEX).await?;
    tx.batch_execute(MOVEMENT_FEED_SQL).await?;
    tx.batch_execute(&live_count_sql(schema)).await?;
    tx.batch_execute(&arrived_sql(schema)).await?;
    tx.commit().await?;
    Ok(SCHEMA_VERSION)
}

/// Drops the module's tables and forgets its migrations (Medusa's and ours):
/// what `medusa db:rollback inventory` asks of a module.
pub(crate) async fn revert(client: &mut Client, schema: &str) -> Result<()> {
    let tx = client.transaction().await?;
    tx.batch_execute(&format!(
        "SELECT pg_advisory_xact_lock(hashtext('medusa-inventory-rs:' || {}));
         SET LOCAL search_path TO {};
         DROP TABLE IF EXISTS reservation_item, inventory_level, inventory_item, inventory_movement,
           inventory_idempotency_key, medusa_inventory_rs_schema, medusa_inventory_rs_item_count;
         DROP FUNCTION IF EXISTS medusa_inventory_rs_item_count_rows(), medusa_inventory_rs_item_count_live(),
           medusa_inventory_rs_item_count_reset(), {ARRIVED_FN}(boolean, text[], boolean, text[]),
           {DIGIT_GRAMS_FN}(text);",
        quote_literal(schema),
        quote_ident(schema)
    ))
    .await?;
    let has_log: bool = tx
        .query_one(
            "SELECT to_regclass('mikro_orm_migrations') IS NOT NULL",
            &[],
        )
        .await?
        .get(0);
    if has_log {
        tx.execute(
            "DELETE FROM mikro_orm_migrations WHERE name = ANY($1)",
            &[&MEDUSA_MIGRATIONS],
        )
        .await?;
    }
    tx.commit().await?;
    Ok(())
}

pub(crate) fn quote_ident(s: &str) -> String {
    format!("\"{}\"", s.replace('"', "\"\""))
}

fn quote_literal(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}
