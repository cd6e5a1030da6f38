#!/usr/bin/env node
'use strict'
// medusa-inventory-rs vs @medusajs/inventory 2.21.2, both loaded through
// Medusa's module loader, on one Postgres, in one run, beside the floors.
// `node bench.js --help` for the options; ../docs/benchmarks.md for what is measured.
require('./lib/one-medusa')
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const { execFileSync } = require('node:child_process')
const { forkChild } = require('./lib/child')
const db = require('./lib/db')
const { writeFloors, scaleReadFloor } = require('./lib/pgbench')
const { buildReport } = require('./lib/report')

const HELP = `usage: node bench.js [options]   (npm run bench -- [options])

  --smoke              a few calls of everything, tiny counts (CI; no timing claims)
  --full               also 100k items through createInventoryItems and the 1M × 5 scale reads
  --bulk[=N]           createInventoryItems of N items (default 100000) in batches of 1000, with a progress bar
  --scale[=N[,M…]]     the scale part: N items (default 1000000) × 5 locations, reads and reservations;
                       a comma list of increasing sizes seeds the first, measures, extends the same
                       tables to the next and measures again (growth with the catalogue)
  --scale-ours-only    run the scale reads on our module only
  --only=ours|peer     run one module (ratios are then left out)
  --iterations=N       timed calls per sequential operation (default 300)
  --duration=S         seconds per concurrent scenario (default 5)
  --pgbench-seconds=S  seconds per pgbench run (default 5)
  --no-pgbench         skip the pgbench write floors
  --no-ledger          skip the ledger-cost comparison (ours: ledger on / ledger: false / idempotency key)
  --pool=N             connections per module (default 10, both modules)
  --out=DIR            where results go (default results/, --smoke: a temp dir)
  --keep               keep the benchmark database afterwards
  --otel               our module with an OpenTelemetry SDK recording every span and metric (the cost of tracing)

  BENCH_FULL=1, BENCH_BULK=N, BENCH_SCALE=N   the same as --full, --bulk=N, --scale=N
  DATABASE_URL         the Postgres to use; unset: an embedded Postgres from npm
  PGBENCH              path of pgbench (else PATH, then /usr/lib/postgresql/*/bin)`

function parseArgs(argv) {
  const o = {}
  for (const a of argv) {
    const m = /^--([\w-]+)(?:=(.*))?$/.exec(a)
    if (!m) throw new Error(`unknown argument ${a}\n\n${HELP}`)
    o[m[1]] = m[2] === undefined ? true : m[2]
  }
  return o
}

const args = parseArgs(process.argv.slice(2))
// The optional parts can also be switched on from the environment.
if (process.env.BENCH_FULL === '1' && args.full === undefined) args.full = true
if (process.env.BENCH_BULK && args.bulk === undefined) args.bulk = process.env.BENCH_BULK
if (process.env.BENCH_SCALE && args.scale === undefined) args.scale = process.env.BENCH_SCALE
if (args.help) {
  console.log(HELP)
  process.exit(0)
}

const smoke = !!args.smoke
const full = !!args.full
const num = (v, d) => (v === undefined || v === true ? d : Number(v))

const profile = smoke
  ? {
      iterations: 3,
      warmup: 1,
      bulkIterations: 1,
      minIterations: 1,
      maxSeconds: 5,
      floorIterations: 5,
      callers: 32,
      hotCallers: 64,
      durationMs: 300,
      hotStock: 10,
      hotAttempts: 1,
      scaleIterations: 3,
      scalePointIterations: 3,
      scaleWarmup: 1,
      scaleMaxSeconds: 5,
      pgbenchSeconds: 0,
      pgbenchTransactions: 3,
      floorItems: 1000,
      seedItems: 200,
    }
  : {
      iterations: num(args.iterations, 300),
      warmup: 20,
      bulkIterations: Math.max(3, Math.round(num(args.iterations, 300) / 30)),
      minIterations: 30,
      maxSeconds: 20,
      floorIterations: Math.max(300, num(args.iterations, 300)),
      callers: 32,
      hotCallers: 64,
      durationMs: num(args.duration, 5) * 1000,
      hotStock: 50,
      hotAttempts: 3,
      scaleIterations: 200,
      // A p99 of 200 samples is their third-worst; the point reads are cheap
      // enough to take 2 000.
      scalePointIterations: 2000,
      scaleWarmup: 100,
      scaleMaxSeconds: 20,
      pgbenchSeconds: num(args['pgbench-seconds'], 5),
      pgbenchTransactions: 0,
      floorItems: 1000,
      seedItems: 1000,
    }

const bulkItems = args.bulk ? num(args.bulk, 100_000) : full ? 100_000 : smoke ? 0 : 0
/** --scale=N or --scale=N,M,… (increasing): the catalogue sizes measured, in order. */
function parseScale(v) {
  if (!v) return full ? [1_000_000] : []
  if (v === true) return [1_000_000]
  const sizes = String(v)
    .split(',')
    .map((x) => Number(x.trim().replace(/_/g, '')))
  for (let i = 0; i < sizes.length; i++) {
    if (!Number.isInteger(sizes[i]) || sizes[i] < 1) throw new Error(`--scale: ${v} is not a list of item counts`)
    if (i && sizes[i] <= sizes[i - 1]) throw new Error(`--scale: sizes must increase (${v})`)
  }
  return sizes
}
const scaleSizes = parseScale(args.scale)
const scaleItems = scaleSizes.length ? scaleSizes[scaleSizes.length - 1] : 0
// Digits of the ids' and skus' number: 7 up to 9 999 999 (the ids runs before this kept), more past it.
const scaleWidth = Math.max(7, String(scaleItems).length)
const impls = args.only ? [String(args.only)] : ['ours', 'peer']
for (const i of impls) if (!['ours', 'peer'].includes(i)) throw new Error(`--only must be ours or peer`)
const pool = num(args.pool, 10)
const outDir = args.out
  ? path.resolve(String(args.out))
  : smoke
    ? fs.mkdtempSync(path.join(os.tmpdir(), 'medusa-inventory-bench-smoke-'))
    : path.join(__dirname, 'results')

function log(msg) {
  process.stderr.write(`${msg}\n`)
}

function gitInfo() {
  const root = path.resolve(__dirname, '..')
  try {
    const commit = execFileSync('git', ['rev-parse', 'HEAD'], {
      cwd: root,
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
    }).trim()
    const dirty = execFileSync('git', ['status', '--porcelain', '--', '.', ':!bench'], {
      cwd: root,
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
    }).trim()
    return { commit, dirty: dirty.length > 0 }
  } catch {
    return { commit: null, dirty: null }
  }
}

/** Runs one module's task in its own process; resolves to its result. */
function runChild(config) {
  return forkChild(path.join(__dirname, 'lib', 'runner.js'), 'BENCH_CHILD_CONFIG', config, ['--expose-gc'])
}

/**
 * The scale data set, written with SQL in our schema (tables identical to Medusa's):
 * items g in (from, to] and their 5 levels. The first size (from = 0) starts from
 * Medusa's tables alone: our migrate() makes the schema, then our additive
 * indexes on inventory_item are dropped, so the peer reads first without them and
 * searchIndexes() has our migrate build them afterwards. A later size extends the
 * same tables, with our search indexes (and the count triggers) in place, so their
 * upkeep is part of that seed's time, as in a shop whose catalogue grows.
 */
async function seedScale(url, schema, from, to, width) {
  const { Client } = require('pg')
  if (from === 0) {
    const { InventoryService } = require('medusa-inventory-rs')
    const svc = await InventoryService.connect({ url, schema, maxConnections: 1 })
    try {
      await svc.migrate()
    } finally {
      await svc.close()
    }
  }
  const c = new Client({ connectionString: url, options: `-c search_path=${schema}` })
  await c.connect()
  const t0 = Date.now()
  try {
    if (from === 0) {
      for (const { indexname } of (
        await c.query(
          `SELECT indexname FROM pg_indexes WHERE schemaname = $1 AND tablename = 'inventory_item' AND indexname LIKE 'medusa\\_inventory\\_rs\\_%'`,
          [schema],
        )
      ).rows) {
        await c.query(`DROP INDEX "${indexname.replace(/"/g, '""')}"`)
      }
      await c.query(`DROP STATISTICS IF EXISTS medusa_inventory_rs_item_search_trgm_stats`)
      await c.query(`DROP STATISTICS IF EXISTS medusa_inventory_rs_item_search_digits_stats`)
    }
    const step = 100_000
    const pad = (g) => `lpad(${g}::text, ${width}, '0')`
    for (let start = from + 1; start <= to; start += step) {
      const end = Math.min(to, start + step - 1)
      await c.query(
        `INSERT INTO inventory_item (id, sku, title, description)
         SELECT 'iitem_scale_' || ${pad('g')}, 'SCALE-' || ${pad('g')},
                'Scale shirt ' || g, 'Cotton shirt number ' || g
         FROM generate_series($1::int, $2::int) g`,
        [start, end],
      )
      await c.query(
        `INSERT INTO inventory_level (id, inventory_item_id, location_id, stocked_quantity, raw_stocked_quantity,
                                      reserved_quantity, raw_reserved_quantity, incoming_quantity, raw_incoming_quantity)
         SELECT 'ilev_scale_' || ${pad('g')} || '_' || l, 'iitem_scale_' || ${pad('g')}, 'sloc_scale_' || l,
                100, '{"value":"100","precision":20}', 0, '{"value":"0","precision":20}', 0, '{"value":"0","precision":20}'
         FROM generate_series($1::int, $2::int) g, generate_series(1, 5) l`,
        [start, end],
      )
      const line = `[scale] seeding ${end}/${to} items × 5 locations ${((Date.now() - t0) / 1000).toFixed(0)} s`
      if (process.stderr.isTTY) process.stderr.write(`\r${line}${end === to ? '\n' : ''}`)
      else log(line)
    }
    await c.query('VACUUM ANALYZE inventory_item')
    await c.query('VACUUM ANALYZE inventory_level')
  } finally {
    await c.end()
  }
  return {
    items: to,
    added: to - from,
    locations: 5,
    levels: to * 5,
    seconds: Math.round((Date.now() - t0) / 100) / 10,
    how:
      from === 0
        ? "SQL INSERT … SELECT generate_series into Medusa's tables (without our search indexes), then VACUUM ANALYZE"
        : `the same tables extended with SQL INSERT … SELECT generate_series of items ${from + 1}…${to} and their levels, with our search indexes and count triggers already in place (their upkeep is in this time), then VACUUM ANALYZE`,
  }
}

/**
 * Size on disk of every table (pg_table_size: heap, TOAST, free space and
 * visibility maps) and every index (pg_relation_size) of inventory_item,
 * inventory_level and reservation_item in the schema; ours are the indexes named
 * medusa_inventory_rs_%, the rest Medusa's.
 */
async function relationSizes(url, schema) {
  const { Client } = require('pg')
  const c = new Client({ connectionString: url })
  await c.connect()
  const mb = (b) => Math.round(Number(b) / 1e5) / 10
  try {
    const tables = (
      await c.query(
        `SELECT t.relname AS name, pg_table_size(t.oid)::bigint AS bytes, t.reltuples::bigint AS rows
         FROM pg_class t WHERE t.relnamespace = $1::regnamespace AND t.relkind = 'r'
           AND t.relname IN ('inventory_item', 'inventory_level', 'reservation_item') ORDER BY t.relname`,
        [schema],
      )
    ).rows
    const indexes = (
      await c.query(
        `SELECT t.relname AS "table", i.relname AS name, pg_relation_size(i.oid)::bigint AS bytes,
                i.relname LIKE 'medusa\\_inventory\\_rs\\_%' AS ours
         FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid JOIN pg_class t ON t.oid = x.indrelid
         WHERE t.relnamespace = $1::regnamespace AND t.relname IN ('inventory_item', 'inventory_level', 'reservation_item')
         ORDER BY t.relname, i.relname`,
        [schema],
      )
    ).rows
    const sum = (rows) => mb(rows.reduce((a, r) => a + Number(r.bytes), 0))
    return {
      how: 'pg_table_size per table (heap, TOAST, FSM, VM), pg_relation_size per index; MB = 10^6 bytes',
      tables: tables.map((r) => ({ name: r.name, mb: mb(r.bytes), rows_estimate: Number(r.rows) })),
      indexes: indexes.map((r) => ({ table: r.table, name: r.name, ours: r.ours, mb: mb(r.bytes) })),
      tables_mb: sum(tables),
      medusa_indexes_mb: sum(indexes.filter((r) => !r.ours)),
      ours_indexes_mb: sum(indexes.filter((r) => r.ours)),
    }
  } finally {
    await c.end()
  }
}

/**
 * Our additive indexes on the scale data set, built the way a shop gets them: by
 * our migrate() on a table that already holds the items. Time and size on disk.
 */
async function searchIndexes(url, schema) {
  const { InventoryService } = require('medusa-inventory-rs')
  const svc = await InventoryService.connect({ url, schema, maxConnections: 1 })
  const t0 = Date.now()
  try {
    await svc.migrate()
  } finally {
    await svc.close()
  }
  const seconds = Math.round((Date.now() - t0) / 100) / 10
  const { Client } = require('pg')
  const c = new Client({ connectionString: url, options: `-c search_path=${schema}` })
  await c.connect()
  try {
    await c.query('ANALYZE inventory_item')
    const { rows } = await c.query(
      `SELECT i.relname AS name, pg_relation_size(i.oid)::bigint AS bytes, i.relname LIKE 'medusa\\_inventory\\_rs\\_%' AS ours
       FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid JOIN pg_class t ON t.oid = x.indrelid
       WHERE t.relname = 'inventory_item' AND t.relnamespace = $1::regnamespace`,
      [schema],
    )
    const table = Number((await c.query(`SELECT pg_relation_size('inventory_item')::bigint AS b`)).rows[0].b)
    const mb = (b) => Math.round(b / 1e5) / 10
    const ours = rows.filter((r) => r.ours)
    return {
      how: 'our migrate() on the seeded table (CREATE INDEX of the search indexes: trigram and digit-gram), then ANALYZE',
      build_seconds: seconds,
      indexes: ours.map((r) => ({ name: r.name, mb: mb(Number(r.bytes)) })),
      ours_mb: mb(ours.reduce((a, r) => a + Number(r.bytes), 0)),
      medusa_indexes_mb: mb(rows.filter((r) => !r.ours).reduce((a, r) => a + Number(r.bytes), 0)),
      table_mb: mb(table),
    }
  } finally {
    await c.end()
  }
}

/**
 * Before each module's scale reads: a CHECKPOINT, so that no spread checkpoint
 * of the seed's and the index build's writes runs under the measurement, and
 * the data set's tables and indexes read once into the OS page cache
 * (pg_prewarm 'read'; shared_buffers are left as they are), as a running
 * shop's catalogue would be. Both modules get the same; what could not be
 * done is said in the report.
 */
async function settleScale(url, schema, log) {
  const { Client } = require('pg')
  const c = new Client({ connectionString: url })
  await c.connect()
  const out = {}
  try {
    try {
      await c.query('CHECKPOINT')
      out.checkpoint = true
    } catch (e) {
      out.checkpoint = `not run: ${e.message}`
    }
    try {
      await c.query('CREATE EXTENSION IF NOT EXISTS pg_prewarm SCHEMA public')
      const t0 = Date.now()
      const { rows } = await c.query(
        `SELECT coalesce(sum(public.pg_prewarm(c.oid, 'read')), 0)::bigint AS blocks
         FROM pg_class c WHERE c.relnamespace = $1::regnamespace AND c.relkind IN ('r', 'i', 't')`,
        [schema],
      )
      out.prewarmed_mb = Math.round((Number(rows[0].blocks) * 8) / 1024)
      out.prewarm_s = Math.round((Date.now() - t0) / 100) / 10
    } catch (e) {
      out.prewarmed_mb = `not prewarmed: ${e.message}`
    }
  } finally {
    await c.end()
  }
  log(
    `[scale] settled: checkpoint ${out.checkpoint === true ? 'done' : out.checkpoint}, ${typeof out.prewarmed_mb === 'number' ? `${out.prewarmed_mb} MB read into the OS page cache in ${out.prewarm_s} s` : out.prewarmed_mb}`,
  )
  return out
}

async function main() {
  const runId = `${new Date().toISOString().replace(/[-:T]/g, '').slice(0, 14)}_${process.pid}`
  const startedAt = new Date()
  const load0 = os.loadavg()
  let server = null
  let database = null
  const cleanup = async () => {
    if (database && !args.keep) {
      try {
        await database.drop()
      } catch (e) {
        log(`[db] could not drop ${database.name}: ${e.message}`)
      }
    }
    if (server) await server.stop()
  }
  process.once('SIGINT', () => {
    log('interrupted: cleaning up')
    cleanup().finally(() => process.exit(130))
  })
  try {
    let baseUrl = process.env.DATABASE_URL
    if (baseUrl) log(`[db] using DATABASE_URL (${db.redact(baseUrl)})`)
    else {
      server = await db.startEmbedded({ log })
      baseUrl = server.url
    }
    database = await db.freshDatabase(baseUrl, runId, { log })
    const url = database.url
    const info = await db.serverInfo(url)
    log(
      `[db] ${database.created ? `fresh database ${database.name}` : `database ${database.name} (fresh schemas)`}, PostgreSQL ${info.server_version}, synchronous_commit=${info.synchronous_commit}`,
    )
    if (load0[0] > os.cpus().length * 0.5)
      log(
        `[bench] load average ${load0.map((x) => x.toFixed(2)).join(' ')} on ${os.cpus().length} cores: the machine is busy, expect noisy numbers`,
      )
    const schema = (name) => (database.created ? name : `${name}_${runId}`)

    const results = {}
    const failures = []
    for (const impl of impls) {
      log(
        `\n== ${impl}: ${impl === 'ours' ? 'medusa-inventory-rs/medusa' : '@medusajs/inventory 2.21.2'} through MedusaApp, schema ${schema(impl)}`,
      )
      try {
        results[impl] = await runChild({
          impl,
          task: 'main',
          url,
          schema: schema(impl),
          pool,
          runId,
          profile,
          bulkItems,
          traffic: impl === 'ours',
          ledger: impl === 'ours' && !args['no-ledger'],
          otel: impl === 'ours' && !!args.otel,
        })
      } catch (e) {
        // One module failing to boot or crashing still leaves a report of the other.
        log(`[bench] ${impl} failed: ${e.message}`)
        results[impl] = { error: e.message }
        failures.push(impl)
      }
      // An operation that failed is in the report, and fails the run (the smoke in CI).
      for (const [op, r] of Object.entries((results[impl] && results[impl].sequential) || {})) {
        if (r && r.error) failures.push(`${impl} ${op} (${r.error})`)
      }
    }

    let pgbench = { available: false, reason: 'skipped (--no-pgbench)' }
    if (!args['no-pgbench']) {
      log(`\n== write floors: pgbench on the floor statements (lib/floors.js), schema ${schema('floor')}`)
      const { InventoryService } = require('medusa-inventory-rs')
      pgbench = await writeFloors({ InventoryService, url, schema: schema('floor'), profile, log })
      if (!pgbench.available) log(`[pgbench] skipped: ${pgbench.reason}`)
    }

    let scale = null
    if (scaleItems) {
      // The peer first: it reads Medusa's tables as its own migrations leave them.
      const scaleImpls = ['peer', 'ours'].filter((i) => impls.includes(i) && !(i === 'peer' && args['scale-ours-only']))
      scale = {
        sizes: [],
        id_digits: scaleWidth,
        sampling: {
          warmup: profile.scaleWarmup,
          point_iterations: profile.scalePointIterations,
          list_iterations: profile.scaleIterations,
          max_seconds: profile.scaleMaxSeconds,
          reserve_callers: profile.callers,
          reserve_duration_ms: profile.durationMs,
        },
        reservations_kept:
          "each module's reservations (sequential and concurrent) stay in reservation_item and in the levels' reserved_quantity; the next module and the next size read a data set that holds them",
      }
      if (args['scale-ours-only']) scale.note = 'peer not run on the scale data set (--scale-ours-only)'
      let prev = 0
      for (const items of scaleSizes) {
        log(
          `\n== scale: ${items} items × 5 locations${prev ? ` (extending from ${prev})` : ''}, schema ${schema('scale')}`,
        )
        const size = { items, seed: await seedScale(url, schema('scale'), prev, items, scaleWidth) }
        scale.sizes.push(size)
        log(`[scale] seeded ${items - prev} items in ${size.seed.seconds} s`)
        for (const impl of scaleImpls) {
          if (impl === 'ours' && prev === 0) {
            size.search_index = await searchIndexes(url, schema('scale'))
            log(
              `[scale] our search indexes: built by migrate() in ${size.search_index.build_seconds} s, ${size.search_index.ours_mb} MB (table ${size.search_index.table_mb} MB, Medusa's indexes ${size.search_index.medusa_indexes_mb} MB)`,
            )
          }
          ;(size.settle ||= {})[impl] = await settleScale(url, schema('scale'), log)
          try {
            const r = await runChild({
              impl,
              task: 'scale',
              url,
              schema: schema('scale'),
              pool,
              runId,
              profile,
              scaleItems: items,
              scaleWidth,
            })
            size[impl] = r.scale
            size[`${impl}_reserve`] = r.scale_reserve
          } catch (e) {
            log(`[bench] ${impl} scale failed: ${e.message}`)
            failures.push(`${impl} (scale ${items})`)
          }
        }
        size.relation_sizes = await relationSizes(url, schema('scale'))
        log(
          `[scale] on disk at ${items} items: tables ${size.relation_sizes.tables_mb} MB, Medusa's indexes ${size.relation_sizes.medusa_indexes_mb} MB, ours ${size.relation_sizes.ours_indexes_mb} MB`,
        )
        if (!args['no-pgbench']) {
          size.pgbench_available = await scaleReadFloor({
            url,
            schema: schema('scale'),
            items,
            width: scaleWidth,
            seconds: smoke ? 1 : profile.pgbenchSeconds || 5,
            log,
          })
        }
        prev = items
      }
    }

    const load1 = os.loadavg()
    const report = {
      meta: {
        run_id: runId,
        started_at: startedAt.toISOString(),
        finished_at: new Date().toISOString(),
        mode: smoke ? 'smoke' : full ? 'full' : 'default',
        // The load at the start is other people's; by the end it includes this run's own.
        noisy: smoke || load0[0] > os.cpus().length * 0.5,
        machine: {
          cpus: os.cpus().length,
          cpu_model: os.cpus()[0] && os.cpus()[0].model,
          memory_gib: Math.round(os.totalmem() / 2 ** 30),
          loadavg_start: load0.map((x) => Math.round(x * 100) / 100),
          loadavg_end: load1.map((x) => Math.round(x * 100) / 100),
        },
        node: process.version,
        postgres: {
          version: info.server_version,
          synchronous_commit: info.synchronous_commit,
          fsync: info.fsync,
          shared_buffers: info.shared_buffers,
          embedded: !!server,
          url: db.redact(url),
        },
        repo: gitInfo(),
        profile,
        pool_per_module: pool,
        bulk_items: bulkItems,
        scale_items: scaleItems,
        scale_sizes: scaleSizes,
        peer: '@medusajs/inventory@2.21.2',
      },
      results,
      pgbench,
      scale,
    }
    const { markdown, svg, summary } = buildReport(report)
    report.summary = summary
    fs.mkdirSync(outDir, { recursive: true })
    const json = JSON.stringify(report, null, 2)
    fs.writeFileSync(path.join(outDir, 'latest.json'), json)
    fs.writeFileSync(path.join(outDir, `${runId}.json`), json)
    fs.writeFileSync(path.join(outDir, 'latest.md'), markdown)
    fs.writeFileSync(path.join(outDir, 'latest.svg'), svg)
    console.log(`\n${markdown}`)
    log(`[bench] wrote ${path.join(outDir, 'latest.json')} (and ${runId}.json), latest.md, latest.svg`)
    if (failures.length) {
      process.exitCode = 1
      log(`[bench] failed: ${failures.join(', ')}`)
    }
  } finally {
    await cleanup()
  }
}

main().then(
  () => process.exit(process.exitCode || 0),
  (e) => {
    console.error(e && e.stack ? e.stack : e)
    process.exit(1)
  },
)
