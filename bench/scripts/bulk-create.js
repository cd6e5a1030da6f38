'use strict'
// createInventoryItems of 1000 rows, and single-row creates, next to what Postgres
// itself takes for the same rows (the floors), in alternating rounds so that drift
// on a shared machine hits every contender alike.
//
//   DATABASE_URL=postgres://… node bench/scripts/bulk-create.js [--rounds=30] [--single=300]
//
// Ours is the standalone InventoryService from the repository's lib/ (built addon).
// Floors, through node-postgres on a connection of its own, in the same schema:
//   core    ours without the JS facade: the addon's call, JSON text in and out, the
//           answer in columns as the facade asks for it (call option `columns`)
//   copy    COPY inventory_item (id, sku, title) FROM STDIN (pg-copy-streams), 1000 rows
//   insert  INSERT INTO inventory_item (id, sku, title) SELECT * FROM unnest(…), no RETURNING
//   single  INSERT INTO inventory_item (id, sku, title) VALUES (…) RETURNING *
//   level   INSERT INTO inventory_level … RETURNING * with its opening movement row in
//           inventory_movement (one statement, a CTE), as createInventoryLevels writes it
//   levels  1000 levels (fresh items, one location, stocked 10) and their opening
//           movements: two COPYs (inventory_level, then inventory_movement) in one
//           transaction, against ours through the JS facade and the core call alone
//           (JSON text in and out, `--only=levels`)
// With --baseline=DIR (another checkout of this repository, built), that build's
// InventoryService runs beside ours in the same process and rounds, as `base` (items)
// and `baseLevels`: a before/after that host drift cannot tilt.
// Everything runs in a schema of its own, dropped at the end.

const path = require('node:path')
const { Client } = require('pg')
const { from: copyFrom } = require('pg-copy-streams')
const { InventoryService } = require(path.resolve(__dirname, '../../lib'))

const url = process.env.DATABASE_URL || 'postgres://postgres@127.0.0.1:5432/postgres'
const arg = (name, dflt) => {
  const a = process.argv.find((x) => x.startsWith(`--${name}=`))
  return a ? Number(a.split('=')[1]) : dflt
}
const ROUNDS = arg('rounds', 30)
const BATCH = arg('batch', 1000)
const SINGLE = arg('single', 300)
const only = process.argv.find((x) => x.startsWith('--only='))?.split('=')[1]
const baselineDir = process.argv.find((x) => x.startsWith('--baseline='))?.split('=')[1]

let seq = 0
const tag = `${process.pid.toString(36)}${Date.now().toString(36)}`
const nextKey = () => `${tag}-${(seq++).toString(36)}`

function stats(xs) {
  const s = [...xs].sort((a, b) => a - b)
  const q = (p) => s[Math.min(s.length - 1, Math.floor(p * s.length))]
  return { n: s.length, p50: q(0.5), p99: q(0.99) }
}

const ms = (ns) => Number(ns) / 1e6

async function timed(fn) {
  const t = process.hrtime.bigint()
  await fn()
  return ms(process.hrtime.bigint() - t)
}

function copyRows(db, rows) {
  return new Promise((resolve, reject) => {
    const stream = db.query(copyFrom('COPY inventory_item (id, sku, title) FROM STDIN'))
    stream.on('error', reject)
    stream.on('finish', resolve)
    // Ids and skus are [a-z0-9-_], titles plain words: nothing to escape in COPY text.
    stream.end(rows.map((r) => `${r.id}\t${r.sku}\t${r.title}\n`).join(''))
  })
}

async function main() {
  const schema = `bulk_bench_${tag}`
  const inventory = await InventoryService.connect({ url, schema, maxConnections: 2 })
  await inventory.migrate()
  const Baseline = baselineDir && require(path.resolve(baselineDir, 'lib')).InventoryService
  const baseline = Baseline && (await Baseline.connect({ url, schema, maxConnections: 2 }))
  const db = new Client({ connectionString: url })
  await db.connect()
  await db.query(`SET search_path TO "${schema}"`)

  const rowsOf = (n) =>
    Array.from({ length: n }, () => {
      const k = nextKey()
      return { id: `iitem_${k}`, sku: `sku-${k}`, title: `Item ${k}` }
    })

  const contenders = {
    ours: () => {
      const rows = rowsOf(BATCH).map(({ sku, title }) => ({ sku, title }))
      return timed(() => inventory.createInventoryItems(rows))
    },
    // The core call alone: JSON text in and out (rows as columns, as the facade takes them).
    core: () => {
      const args = JSON.stringify([rowsOf(BATCH).map(({ sku, title }) => ({ sku, title }))])
      return timed(() => inventory._native.call('createInventoryItems', args, '{"columns":true}'))
    },
    copy: () => {
      const rows = rowsOf(BATCH)
      return timed(() => copyRows(db, rows))
    },
    ...(baseline && {
      base: () => {
        const rows = rowsOf(BATCH).map(({ sku, title }) => ({ sku, title }))
        return timed(() => baseline.createInventoryItems(rows))
      },
    }),
    insert: () => {
      const rows = rowsOf(BATCH)
      const cols = [rows.map((r) => r.id), rows.map((r) => r.sku), rows.map((r) => r.title)]
      return timed(() =>
        db.query({
          name: 'bulk-insert',
          text: 'INSERT INTO inventory_item (id, sku, title) SELECT * FROM unnest($1::text[], $2::text[], $3::text[])',
          values: cols,
        }),
      )
    },
  }

  const single = {
    ours1: () => {
      const [{ sku, title }] = rowsOf(1)
      return timed(() => inventory.createInventoryItems([{ sku, title }]))
    },
    pg1: () => {
      const [r] = rowsOf(1)
      return timed(() =>
        db.query({
          name: 'single-insert',
          text: 'INSERT INTO inventory_item (id, sku, title) VALUES ($1, $2, $3) RETURNING *',
          values: [r.id, r.sku, r.title],
        }),
      )
    },
  }

  // Levels need an item each: made up front (outside the timing), 2 per round and call.
  const levelItems = []
  const levels = {
    oursLevel1: () => {
      const item = levelItems.pop()
      return timed(() =>
        inventory.createInventoryLevels([{ inventory_item_id: item, location_id: 'sloc_bench', stocked_quantity: 10 }]),
      )
    },
    pgLevel1: () => {
      const item = levelItems.pop()
      const id = `ilev_${nextKey()}`
      return timed(() =>
        db.query({
          name: 'level-insert',
          text: `WITH l AS (
                   INSERT INTO inventory_level (id, inventory_item_id, location_id, stocked_quantity,
                     raw_stocked_quantity, raw_reserved_quantity, raw_incoming_quantity)
                   VALUES ($1, $2, $3, $4::numeric, jsonb_build_object('value', $4::text, 'precision', 20),
                     '{"value":"0","precision":20}', '{"value":"0","precision":20}')
                   RETURNING *),
                 m AS (
                   INSERT INTO inventory_movement (inventory_level_id, inventory_item_id, location_id, field, delta, resulting, reason, method)
                   SELECT id, inventory_item_id, location_id, 'stocked_quantity', stocked_quantity, stocked_quantity, 'opening_balance', 'createInventoryLevels' FROM l)
                 SELECT * FROM l`,
          values: [id, item, 'sloc_bench', '10'],
        }),
      )
    },
  }

  // 1000 levels per call, each contender on items of its own made before the round.
  const levelBatch = { oursLevels: [], coreLevels: [], copyLevels: [], ...(baseline && { baseLevels: [] }) }
  const levelRows = (items) =>
    items.map((id) => ({ inventory_item_id: id, location_id: 'sloc_bulk', stocked_quantity: 10 }))
  const bulkLevels = {
    oursLevels: () => {
      const rows = levelRows(levelBatch.oursLevels)
      return timed(() => inventory.createInventoryLevels(rows))
    },
    coreLevels: () => {
      const args = JSON.stringify([levelRows(levelBatch.coreLevels)])
      return timed(() => inventory._native.call('createInventoryLevels', args, '{"columns":true}'))
    },
    ...(baseline && {
      baseLevels: () => {
        const rows = levelRows(levelBatch.baseLevels)
        return timed(() => baseline.createInventoryLevels(rows))
      },
    }),
    copyLevels: () => {
      const rows = levelBatch.copyLevels.map((item) => ({ id: `ilev_${nextKey()}`, item }))
      const raw = (v) => `{"value": "${v}", "precision": 20}`
      const copy = (sql, text) =>
        new Promise((resolve, reject) => {
          const stream = db.query(copyFrom(sql))
          stream.on('error', reject)
          stream.on('finish', resolve)
          stream.end(text)
        })
      return timed(async () => {
        await db.query('BEGIN')
        await copy(
          'COPY inventory_level (id, inventory_item_id, location_id, stocked_quantity, raw_stocked_quantity, raw_reserved_quantity, raw_incoming_quantity) FROM STDIN',
          rows.map((r) => `${r.id}\t${r.item}\tsloc_bulk\t10\t${raw(10)}\t${raw(0)}\t${raw(0)}\n`).join(''),
        )
        await copy(
          'COPY inventory_movement (inventory_level_id, inventory_item_id, location_id, field, delta, resulting, reason, method) FROM STDIN',
          rows
            .map(
              (r) =>
                `${r.id}\t${r.item}\tsloc_bulk\tstocked_quantity\t10\t10\topening_balance\tcreateInventoryLevels\n`,
            )
            .join(''),
        )
        await db.query('COMMIT')
      })
    },
  }
  const freshLevelItems = async () => {
    for (const name of Object.keys(levelBatch)) {
      const made = await db.query(
        `INSERT INTO inventory_item (id, sku) SELECT 'iitem_' || $2 || '_' || g, 'bl-' || $2 || '-' || g
         FROM generate_series(1, $1) g RETURNING id`,
        [BATCH, nextKey()],
      )
      levelBatch[name] = made.rows.map((r) => r.id)
    }
  }

  const samples = {}
  const run = async (set, times, round = 0) => {
    const names = Object.keys(set)
    for (let i = 0; i < times; i++) {
      // Rotate the order too, so no contender always runs right after another.
      const k = (i + round) % names.length
      for (const name of [...names.slice(k), ...names.slice(0, k)]) {
        ;(samples[name] ??= []).push(await set[name]())
      }
    }
  }

  // Warm-up (statement caches, pool, JIT), not recorded.
  const warm = async (set, times) => {
    for (let i = 0; i < times; i++) for (const f of Object.values(set)) await f()
  }
  if (!only || only === 'bulk') {
    await warm(contenders, 3)
    for (let r = 0; r < ROUNDS; r++) {
      await run(contenders, 1, r)
      // Keep the table from growing into a different regime: empty it every 10 rounds.
      if (r % 10 === 9) await db.query('TRUNCATE inventory_item CASCADE')
    }
  }
  if (only === 'levels') {
    for (let r = 0; r < 3; r++) {
      await freshLevelItems()
      for (const f of Object.values(bulkLevels)) await f()
    }
    for (let r = 0; r < ROUNDS; r++) {
      await freshLevelItems()
      await run(bulkLevels, 1, r)
      if (r % 10 === 9) await db.query('TRUNCATE inventory_item, inventory_level, inventory_movement CASCADE')
    }
  }
  if (!only || only === 'single') {
    await warm(single, 20)
    await run(single, SINGLE)
    const made = await db.query(
      `INSERT INTO inventory_item (id, sku) SELECT 'iitem_lv_' || g, 'lv-${tag}-' || g FROM generate_series(1, $1) g RETURNING id`,
      [2 * (SINGLE + 20)],
    )
    levelItems.push(...made.rows.map((r) => r.id))
    await warm(levels, 20)
    await run(levels, SINGLE)
  }

  const report = {}
  for (const [name, xs] of Object.entries(samples)) report[name] = stats(xs)
  const fmt = (x) => x.toFixed(3)
  console.log(`rounds=${ROUNDS} batch=${BATCH} single=${SINGLE}  (ms)`)
  for (const [name, s] of Object.entries(report)) {
    console.log(
      `${name.padEnd(11)} n=${String(s.n).padStart(4)}  p50 ${fmt(s.p50).padStart(8)}  p99 ${fmt(s.p99).padStart(8)}`,
    )
  }
  // Besides the ratio of the p50s, the median of the rounds' own ratios: each round
  // runs every contender once, back to back, so drift on a shared machine (which moves
  // a p50 by more than the difference measured) divides out of it.
  const ratio = (a, b) => {
    if (!report[a] || !report[b]) return
    const paired = stats(samples[a].map((x, i) => x / samples[b][i])).p50
    console.log(
      `${a}/${b}`.padEnd(20) +
        ` p50 ${(report[a].p50 / report[b].p50).toFixed(2)}×  p99 ${(report[a].p99 / report[b].p99).toFixed(2)}×` +
        `  paired ${paired.toFixed(2)}×`,
    )
  }
  ratio('ours', 'copy')
  ratio('base', 'copy')
  ratio('core', 'copy')
  ratio('ours', 'insert')
  ratio('ours1', 'pg1')
  ratio('oursLevel1', 'pgLevel1')
  ratio('oursLevels', 'copyLevels')
  ratio('baseLevels', 'copyLevels')
  ratio('coreLevels', 'copyLevels')

  await inventory.close()
  await baseline?.close()
  await db.query(`DROP SCHEMA "${schema}" CASCADE`)
  await db.end()
}

main().catch((e) => {
  console.error(e)
  process.exit(1)
})
