'use strict'
// Per-operation floors: for each operation of ops.js, the cheapest SQL that does
// the same durable work, sent with node-postgres as one prepared statement (one
// round trip) from the same process, on the same schema and data as our module.
//
// "The same work" is what our call leaves in the database: the rows of Medusa's
// tables it writes, plus the movement row of our ledger for a quantity it moves
// (so ours/floor is what our implementation costs beyond the work itself; what
// the ledger costs is measured on its own, in runner.js ledgerCost). Guards stay
// (a reservation only where the stock is there), checks that only matter when a
// call fails do not (the floor never sees a missing item or a duplicate id).
//
// Lists are the exception: their floor is our own list statement (taken off the
// wire, ./wire-tap.js) run by node-postgres the way ours runs it (cached, or
// unnamed and planned per call for a q), so ours/floor is what the call costs
// beyond its SQL. bulk create's floor is a COPY of the same rows (pg-copy-streams),
// with a multi-row INSERT beside it.
//
// Each floor: { what, prepare(pg, svc, n, env) → ctx, call(pg, ctx, i, env) }.
// call checks what the statement returned, so a floor that quietly did nothing
// fails instead of passing for a floor.
const { LOCATIONS, createItems, createReservations, reservationsFor, picker } = require('./ops')

const raw = (expr) => `jsonb_build_object('value', (${expr})::text, 'precision', 20)`

/** Movement rows for the levels of CTE `l` (columns id, inventory_item_id, location_id, resulting, delta). */
const movement = (field, reason, method, extra = { res: 'NULL', line: 'NULL' }) =>
  `INSERT INTO inventory_movement (inventory_level_id, inventory_item_id, location_id, field, delta, resulting,
                                   reason, method, reservation_item_id, line_item_id)
   SELECT l.id, l.inventory_item_id, l.location_id, '${field}', l.delta, l.resulting, '${reason}', '${method}',
          ${extra.res}, ${extra.line} FROM l`

function expect(rows, n, what) {
  if (rows.length !== n) throw new Error(`floor ${what}: expected ${n} row(s), the statement returned ${rows.length}`)
  return rows
}

async function run(pg, name, text, values) {
  return (await pg.query({ name, text, values })).rows
}

const SQL = {
  item1: `INSERT INTO inventory_item (id, sku, title) VALUES ($1, $2, $3) RETURNING *`,
  items1000: `INSERT INTO inventory_item (id, sku, title) SELECT * FROM unnest($1::text[], $2::text[], $3::text[])`,
  level1: `WITH l0 AS (
      INSERT INTO inventory_level (id, inventory_item_id, location_id, stocked_quantity, raw_stocked_quantity,
                                   raw_reserved_quantity, raw_incoming_quantity)
      VALUES ($1, $2, $3, $4::numeric, ${raw('$4::numeric')}, ${raw('0')}, ${raw('0')}) RETURNING *),
    l AS (SELECT l0.*, l0.stocked_quantity AS delta, l0.stocked_quantity AS resulting FROM l0),
    m AS (${movement('stocked_quantity', 'level_created', 'createInventoryLevels')})
    SELECT id, created_at FROM l0`,
  confirm: `SELECT EXISTS (SELECT 1 FROM inventory_item WHERE id = $1 AND deleted_at IS NULL) AS found,
      coalesce(sum(stocked_quantity - reserved_quantity), 0) >= $3::numeric AS ok
    FROM inventory_level WHERE inventory_item_id = $1 AND location_id = ANY($2::text[]) AND deleted_at IS NULL`,
  available: `SELECT EXISTS (SELECT 1 FROM inventory_item WHERE id = $1 AND deleted_at IS NULL) AS found,
      coalesce(sum(stocked_quantity - reserved_quantity), 0)::text AS available
    FROM inventory_level WHERE inventory_item_id = $1 AND location_id = ANY($2::text[]) AND deleted_at IS NULL`,
  // One reservation per (id, item, line) of the arrays at location $4, each guarded by its level's stock.
  reserve: `WITH u AS (SELECT * FROM unnest($1::text[], $2::text[], $3::text[]) AS u(rid, item, line)),
    l AS (UPDATE inventory_level t SET reserved_quantity = t.reserved_quantity + 1,
                 raw_reserved_quantity = ${raw('t.reserved_quantity + 1')}, updated_at = now()
          FROM u WHERE t.inventory_item_id = u.item AND t.location_id = $4 AND t.deleted_at IS NULL
                   AND t.stocked_quantity - t.reserved_quantity >= 1
          RETURNING t.id, t.inventory_item_id, t.location_id, t.reserved_quantity AS resulting, 1 AS delta, u.rid, u.line),
    r AS (INSERT INTO reservation_item (id, line_item_id, location_id, quantity, raw_quantity, inventory_item_id)
          SELECT l.rid, l.line, l.location_id, 1, ${raw('1')}, l.inventory_item_id FROM l RETURNING *),
    m AS (${movement('reserved_quantity', 'reservation_created', 'createReservationItems', { res: 'l.rid', line: 'l.line' })})
    SELECT * FROM r`,
  updateReservation: `WITH r AS (SELECT id, inventory_item_id, location_id, quantity, line_item_id FROM reservation_item
                WHERE id = $1 AND deleted_at IS NULL FOR UPDATE),
    l AS (UPDATE inventory_level t SET reserved_quantity = t.reserved_quantity + ($2::numeric - r.quantity),
                 raw_reserved_quantity = ${raw('t.reserved_quantity + ($2::numeric - r.quantity)')}, updated_at = now()
          FROM r WHERE t.inventory_item_id = r.inventory_item_id AND t.location_id = r.location_id AND t.deleted_at IS NULL
                   AND t.stocked_quantity - t.reserved_quantity >= $2::numeric - r.quantity
          RETURNING t.id, t.inventory_item_id, t.location_id, t.reserved_quantity AS resulting,
                    $2::numeric - r.quantity AS delta, r.id AS rid, r.line_item_id AS line),
    u AS (UPDATE reservation_item t SET quantity = $2::numeric, raw_quantity = ${raw('$2::numeric')}, updated_at = now()
          FROM l WHERE t.id = l.rid RETURNING t.*),
    m AS (${movement('reserved_quantity', 'reservation_updated', 'updateReservationItems', { res: 'l.rid', line: 'l.line' })})
    SELECT * FROM u`,
  adjust: `WITH l0 AS (UPDATE inventory_level SET stocked_quantity = stocked_quantity + $3::numeric,
                 raw_stocked_quantity = ${raw('stocked_quantity + $3::numeric')}, updated_at = now()
          WHERE inventory_item_id = $1 AND location_id = $2 AND deleted_at IS NULL RETURNING *),
    l AS (SELECT l0.*, $3::numeric AS delta, l0.stocked_quantity AS resulting FROM l0),
    m AS (${movement('stocked_quantity', 'adjustment', 'adjustInventory')})
    SELECT * FROM l0`,
  deleteByLine: `WITH r AS (UPDATE reservation_item SET deleted_at = now(), updated_at = now()
                WHERE line_item_id = $1 AND deleted_at IS NULL RETURNING id, inventory_item_id, location_id, quantity, line_item_id),
    l AS (UPDATE inventory_level t SET reserved_quantity = t.reserved_quantity - r.quantity,
                 raw_reserved_quantity = ${raw('t.reserved_quantity - r.quantity')}, updated_at = now()
          FROM r WHERE t.inventory_item_id = r.inventory_item_id AND t.location_id = r.location_id AND t.deleted_at IS NULL
          RETURNING t.id, t.inventory_item_id, t.location_id, t.reserved_quantity AS resulting,
                    -r.quantity AS delta, r.id AS rid, r.line_item_id AS line),
    m AS (${movement('reserved_quantity', 'reservation_deleted', 'deleteReservationItemsByLineItem', { res: 'l.rid', line: 'l.line' })})
    SELECT rid FROM l`,
}

/** node-postgres value of a parameter taken off the wire (wire-tap's decodeParam). */
function wireValue(v) {
  if (v && Array.isArray(v.array)) return v.array
  // tokio-postgres sends int8 in binary: LIMIT / OFFSET.
  if (v && typeof v.hex === 'string' && v.hex.length === 16) return Number(Buffer.from(v.hex, 'hex').readBigInt64BE(0))
  if (v && typeof v.hex === 'string') throw new Error(`cannot replay a binary parameter: ${v.hex}`)
  return v
}

/** Our own statement for `call`, taken off the wire: { sql, values } of its one Bind. */
async function ownStatement(url, schema, call) {
  const { startTap } = require('./wire-tap')
  const { InventoryService } = require('medusa-inventory-rs')
  const tap = await startTap(url)
  const svc = await InventoryService.connect({ url: tap.url, schema, maxConnections: 1 })
  try {
    await call(svc)
    const mark = tap.mark()
    await call(svc)
    const binds = tap.since(mark).filter((e) => e.type === 'B')
    if (binds.length !== 1) throw new Error(`expected one statement, saw ${binds.length}`)
    // Replayed the way ours sends it: prepared once and cached, or unnamed (planned per call).
    return { sql: binds[0].sql, values: binds[0].params.map(wireValue), named: Boolean(binds[0].statement) }
  } finally {
    await svc.close()
    await tap.close()
  }
}

let seq = 0
const fresh = (prefix) => `${prefix}_floor${process.pid}_${seq++}`

const FLOORS = {
  createInventoryItems_1: {
    what: 'INSERT … RETURNING * of one item',
    prepare: async () => ({}),
    call: async (pg) =>
      expect(
        await run(pg, 'f_item1', SQL.item1, [fresh('iitem'), fresh('FLOOR-SKU'), 'Bench single shirt']),
        1,
        'item1',
      ),
  },
  createInventoryItems_1000: {
    what: 'COPY of the same 1000 rows (id, sku, title) into inventory_item, its indexes included',
    prepare: async () => ({}),
    call: async (pg, _ctx, i, env) => {
      const { from: copyFrom } = require('pg-copy-streams')
      const { pipeline } = require('node:stream/promises')
      const { Readable } = require('node:stream')
      // The same texts as ours writes (ops.js): the search indexes' work per row depends
      // on them (the run id's digits make grams for the digit-gram index).
      const tag = `${env.tag}-f1000-${env.round}-${seq++}`
      let text = ''
      for (let j = 0; j < 1000; j++) text += `iitem_${fresh('bulk')}\tBULK-${tag}-${i}-${j}\tBulk shirt ${j}\n`
      const stream = pg.query(copyFrom('COPY inventory_item (id, sku, title) FROM STDIN'))
      await pipeline(Readable.from([text]), stream)
      if (stream.rowCount !== 1000) throw new Error(`floor COPY: expected 1000 rows, copied ${stream.rowCount}`)
      return env
    },
  },
  createInventoryLevels_1: {
    what: 'INSERT … RETURNING of the level with its opening movement (one statement)',
    prepare: async (_pg, svc, n, env) => {
      const items = await createItems(svc, n, (i) => ({
        sku: `FLVL-${env.tag}-${env.round}-${i}`,
        title: 'Level target',
      }))
      return { items: items.map((x) => x.id) }
    },
    call: async (pg, ctx, i) =>
      expect(await run(pg, 'f_level1', SQL.level1, [fresh('ilev'), ctx.items[i], LOCATIONS[0], '100']), 1, 'level1'),
  },
  confirmInventory: {
    what: 'SELECT: item exists, and the sum of stocked − reserved at the locations ≥ quantity',
    prepare: async (_pg, _svc, _n, env) => ({ pick: picker(11, env.items.length) }),
    call: async (pg, ctx, _i, env) => {
      const [row] = await run(pg, 'f_confirm', SQL.confirm, [env.items[ctx.pick()], [LOCATIONS[0]], '1'])
      if (!row.found || !row.ok) throw new Error('floor confirm: item not found or not available')
    },
  },
  retrieveAvailableQuantity: {
    what: 'SELECT: item exists, and the sum of stocked − reserved at the locations',
    prepare: async (_pg, _svc, _n, env) => ({ pick: picker(13, env.items.length) }),
    call: async (pg, ctx, _i, env) => {
      const [row] = await run(pg, 'f_available', SQL.available, [env.items[ctx.pick()], [LOCATIONS[0], LOCATIONS[1]]])
      if (!row.found) throw new Error('floor available: item not found')
    },
  },
  createReservationItems_1: {
    what: 'one statement: guarded level UPDATE + reservation INSERT + movement INSERT',
    prepare: async (_pg, _svc, _n, env) => ({ pick: picker(17, env.items.length) }),
    call: async (pg, ctx, i, env) =>
      expect(
        await run(pg, 'f_reserve', SQL.reserve, [
          [fresh('resitem')],
          [env.items[ctx.pick()]],
          [`ordli_${env.tag}_fr1_${env.round}_${i}`],
          LOCATIONS[0],
        ]),
        1,
        'reserve',
      ),
  },
  createReservationItems_10: {
    what: 'the same statement for 10 lines (arrays)',
    prepare: async (_pg, _svc, _n, env) => ({ pick: picker(19, env.items.length) }),
    call: async (pg, ctx, i, env) => {
      const seen = new Set()
      const ids = []
      const items = []
      const lines = []
      while (items.length < 10) {
        const k = ctx.pick()
        if (seen.has(k)) continue
        seen.add(k)
        ids.push(fresh('resitem'))
        items.push(env.items[k])
        lines.push(`ordli_${env.tag}_fr10_${env.round}_${i}_${items.length}`)
      }
      return expect(await run(pg, 'f_reserve', SQL.reserve, [ids, items, lines, LOCATIONS[1]]), 10, 'reserve10')
    },
  },
  updateReservationItems: {
    what: 'one statement: lock the reservation, guarded level UPDATE, reservation UPDATE, movement INSERT',
    prepare: async (_pg, svc, n, env) => ({
      ids: (await createReservations(svc, reservationsFor(env, n, `fupd${env.round}`, LOCATIONS[2]))).map((r) => r.id),
    }),
    call: async (pg, ctx, i) =>
      expect(await run(pg, 'f_update_res', SQL.updateReservation, [ctx.ids[i], '2']), 1, 'updateReservation'),
  },
  adjustInventory: {
    what: 'one statement: level UPDATE + movement INSERT',
    prepare: async (_pg, _svc, _n, env) => ({ pick: picker(23, env.items.length) }),
    call: async (pg, ctx, i, env) =>
      expect(
        await run(pg, 'f_adjust', SQL.adjust, [env.items[ctx.pick()], LOCATIONS[0], i % 2 ? '1' : '-1']),
        1,
        'adjust',
      ),
  },
  deleteReservationItemsByLineItem: {
    what: 'one statement: soft-delete the line’s reservations, level UPDATE, movement INSERT',
    prepare: async (_pg, svc, n, env) => {
      const rows = reservationsFor(env, n, `fdel${env.round}`, LOCATIONS[3])
      await createReservations(svc, rows)
      return { lines: rows.map((r) => r.line_item_id) }
    },
    call: async (pg, ctx, i) =>
      expect(await run(pg, 'f_delete_line', SQL.deleteByLine, [ctx.lines[i]]), 1, 'deleteByLine'),
  },
  listInventoryItems_q: {
    what: 'our own list statement (taken off the wire), run by node-postgres',
    own: (svc) => svc.listInventoryItems({ q: 'shirt' }, { take: 50 }),
  },
  listInventoryItems_location: {
    what: 'our own list statement (taken off the wire), run by node-postgres',
    own: (svc) => svc.listInventoryItems({ location_levels: { location_id: LOCATIONS[2] } }, { take: 50 }),
  },
}

// Lists: the statement our module sends, replayed.
for (const [key, f] of Object.entries(FLOORS)) {
  if (!f.own) continue
  f.prepare = async (_pg, _svc, _n, env) => ownStatement(env.url, env.schema, f.own)
  f.call = async (pg, ctx) => {
    const rows = ctx.named ? await run(pg, `f_${key}`, ctx.sql, ctx.values) : (await pg.query(ctx.sql, ctx.values)).rows
    if (!rows.length) throw new Error(`floor ${key}: no rows`)
  }
}

/** The multi-row INSERT beside the COPY floor of bulk create. */
const BULK_INSERT = {
  what: 'multi-row INSERT (unnest) of the same 1000 rows, no RETURNING',
  call: async (pg, i, env) => {
    const tag = `${env.tag}-i1000-${env.round}-${seq++}`
    const ids = []
    const skus = []
    const titles = []
    for (let j = 0; j < 1000; j++) {
      ids.push(`iitem_${fresh('bulki')}`)
      skus.push(`BULKI-${tag}-${i}-${j}`)
      titles.push(`Bulk shirt ${j}`)
    }
    const r = await pg.query({ name: 'f_items1000', text: SQL.items1000, values: [ids, skus, titles] })
    if (r.rowCount !== 1000) throw new Error(`floor bulk INSERT: expected 1000 rows, wrote ${r.rowCount}`)
  },
}

module.exports = { FLOORS, BULK_INSERT, SQL, ownStatement }
