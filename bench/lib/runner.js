'use strict'
// One module under test, in a Node process of its own (forked by ../bench.js).
//
// The module is booted the way a Medusa application boots it: Medusa's own
// loader (MedusaAppMigrateUp, then MedusaApp from @medusajs/framework/modules-sdk)
// with the module's `resolve`, beside Medusa's Locking module (in-memory
// provider, the default). Every timed call goes to app.modules.inventory.
//
// Config comes as JSON in BENCH_CHILD_CONFIG; the result goes back over IPC.
const { benchRoot } = require('./one-medusa')
const { bootInventory, quietLogger } = require('./medusa-boot')
const { Client } = require('pg')
const { OPS, LEDGER_ONLY_OPS, LOCATIONS, seed, picker } = require('./ops')
const { FLOORS, BULK_INSERT } = require('./floors')
const { summarize, now, rng, round } = require('./stats')

const cfg = JSON.parse(process.env.BENCH_CHILD_CONFIG || '{}')

// --otel: an OpenTelemetry SDK records every span and metric (exported nowhere), set up
// before the module connects, as an app's instrumentation does: what tracing costs.
if (cfg.otel) {
  const { trace, context, metrics } = require('@opentelemetry/api')
  const { AsyncLocalStorageContextManager } = require('@opentelemetry/context-async-hooks')
  const { BasicTracerProvider, SimpleSpanProcessor, InMemorySpanExporter } = require('@opentelemetry/sdk-trace-base')
  const { MeterProvider, MetricReader } = require('@opentelemetry/sdk-metrics')
  class Discard extends InMemorySpanExporter {
    export(spans, done) {
      done({ code: 0 })
    }
  }
  class Never extends MetricReader {
    async onForceFlush() {}
    async onShutdown() {}
  }
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable())
  trace.setGlobalTracerProvider(new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(new Discard())] }))
  metrics.setGlobalMeterProvider(new MeterProvider({ readers: [new Never()] }))
}
const profile = cfg.profile
function log(msg) {
  process.stderr.write(`[${cfg.impl}] ${msg}\n`)
}

function gc() {
  if (typeof global.gc === 'function') global.gc()
}

const logger = quietLogger(cfg.impl)
// A bus that takes the events and drops them (what the modules emit is not under test here).
let eventsEmitted = 0
const eventBus = {
  async emit(messages) {
    eventsEmitted += [].concat(messages).length
  },
  subscribe() {},
  unsubscribe() {},
}

async function boot({ migrate }) {
  const { url, schema, pool } = cfg
  const ctx = await bootInventory({ impl: cfg.impl, url, schema, pool, migrate, logger, eventBus })
  log(
    `loaded through MedusaApp (${ctx.resolve.replace(benchRoot, 'bench')}): migrate ${Math.round(ctx.migrateMs)} ms, load ${Math.round(ctx.loadMs)} ms`,
  )
  return {
    ...ctx,
    boot: { migrate_ms: round(ctx.migrateMs, 1), load_ms: round(ctx.loadMs, 1), locking_loaded: !!ctx.locking },
  }
}

/** Direct SQL on the module's schema, for checks (never timed). */
async function sqlClient() {
  const c = new Client({ connectionString: cfg.url, options: `-c search_path=${cfg.schema}` })
  await c.connect()
  return c
}

// ---- sequential -------------------------------------------------------------

/**
 * ANALYZE of the Medusa tables the operations write, after an operation's data is
 * prepared and before it is timed (ours, its floor and the peer alike). The
 * rows written since the ANALYZE after seeding (reservation_item was empty
 * then) are far past its statistics, and a plan Postgres caches on them is one
 * for a near-empty table. Autovacuum keeps a shop's statistics current; in a
 * run it comes when it comes.
 */
async function refreshStatistics() {
  const c = await sqlClient()
  try {
    // Medusa's tables only: the peer's schema has no others.
    await c.query('ANALYZE inventory_level, reservation_item')
  } finally {
    await c.end()
  }
}

async function timeSequential(
  n,
  call,
  { maxSeconds = profile.maxSeconds, minIterations = profile.minIterations } = {},
) {
  const samples = []
  const start = now()
  const deadline = start + maxSeconds * 1000
  for (let i = 0; i < n; i++) {
    const t0 = now()
    await call(i)
    samples.push(now() - t0)
    if (samples.length >= minIterations && now() > deadline) break
  }
  return { samples, wall: now() - start }
}

async function runOp(op, svc, env) {
  const iterations = op.iterations ? op.iterations(profile) : profile.iterations
  const warmup = op.batch ? Math.min(1, profile.warmup) : profile.warmup
  const n = warmup + iterations
  const ctx = await op.prepare(svc, n, env)
  await refreshStatistics()
  for (let i = 0; i < warmup; i++) await op.call(svc, ctx, i, env)
  gc()
  const { samples, wall } = await timeSequential(iterations, (i) => op.call(svc, ctx, warmup + i, env))
  const extra = op.batch ? { batch: op.batch, rows_per_s: round((samples.length * op.batch * 1000) / wall, 0) } : {}
  return summarize(samples, wall, extra)
}

/**
 * Lanes ({ key, ctx, call(ctx, i) }) timed in one loop: warm-up of each, then
 * alternating chunks (about six each), so drift in the machine's load falls on
 * all alike. Resolves to a sample summary per lane key.
 */
async function interleaved(lanes, { iterations, warmup, batch }) {
  for (const lane of lanes) {
    lane.i = 0
    lane.samples = []
    lane.wall = 0
    for (let k = 0; k < warmup; k++) await lane.call(lane.ctx, lane.i++)
  }
  gc()
  const chunk = Math.max(1, Math.ceil(iterations / 6))
  const deadline = now() + 2 * profile.maxSeconds * 1000
  for (;;) {
    for (const lane of lanes) {
      const t = now()
      for (let k = 0; k < chunk && lane.samples.length < iterations; k++) {
        const t0 = now()
        await lane.call(lane.ctx, lane.i++)
        lane.samples.push(now() - t0)
      }
      lane.wall += now() - t
    }
    const counts = lanes.map((l) => l.samples.length)
    if (counts.every((c) => c >= iterations)) break
    if (counts.every((c) => c >= profile.minIterations) && now() > deadline) break
  }
  const out = {}
  for (const lane of lanes) {
    const extraStats = batch ? { batch, rows_per_s: round((lane.samples.length * batch * 1000) / lane.wall, 0) } : {}
    out[lane.key] = summarize(lane.samples, lane.wall, extraStats)
  }
  return out
}

function opShape(op) {
  const iterations = op.iterations ? op.iterations(profile) : profile.iterations
  const warmup = op.batch ? Math.min(2, profile.warmup) : profile.warmup
  return { iterations, warmup, batch: op.batch, n: warmup + iterations }
}

/**
 * Ours and the operation's floor (floors.js), interleaved; `extra` adds more
 * floors of the same operation ({ key, call(pg, i, env) }).
 */
async function runOpWithFloor(op, svc, env, pg, floor, extra = []) {
  const shape = opShape(op)
  const lanes = [
    { key: 'ours', ctx: await op.prepare(svc, shape.n, env), call: (ctx, i) => op.call(svc, ctx, i, env) },
    { key: 'floor', ctx: await floor.prepare(pg, svc, shape.n, env), call: (ctx, i) => floor.call(pg, ctx, i, env) },
    ...extra.map((e) => ({ key: e.key, ctx: null, call: (_ctx, i) => e.call(pg, i, env) })),
  ]
  await refreshStatistics()
  return interleaved(lanes, shape)
}

/**
 * What our additive objects on inventory_item cost creates: the search indexes (and their
 * statistics), and the triggers that keep the live item count. createInventoryItems of
 * 1 and of 1000 on the standalone service, on our schema and on copies made by the same
 * migrate with the index dropped, and with the count triggers dropped, interleaved.
 * Disk is in the scale part.
 */
async function searchIndexCost(env) {
  const { InventoryService } = require('medusa-inventory-rs')
  const bare = `${cfg.schema}_noindex`
  const nocount = `${cfg.schema}_nocount`
  const withIndex = await InventoryService.connect({ url: cfg.url, schema: cfg.schema, maxConnections: 2 })
  const without = await InventoryService.connect({ url: cfg.url, schema: bare, maxConnections: 2 })
  const noCount = await InventoryService.connect({ url: cfg.url, schema: nocount, maxConnections: 2 })
  const sql = await sqlClient()
  try {
    await without.migrate()
    await sql.query(`DROP INDEX "${bare}".medusa_inventory_rs_item_search_trgm`)
    await sql.query(`DROP STATISTICS IF EXISTS "${bare}".medusa_inventory_rs_item_search_trgm_stats`)
    await sql.query(`DROP INDEX "${bare}".medusa_inventory_rs_item_search_digits`)
    await sql.query(`DROP STATISTICS IF EXISTS "${bare}".medusa_inventory_rs_item_search_digits_stats`)
    await noCount.migrate()
    for (const k of ['ins', 'del', 'upd', 'trunc'])
      await sql.query(`DROP TRIGGER medusa_inventory_rs_item_count_${k} ON "${nocount}".inventory_item`)
    const out = {}
    for (const op of OPS.filter((o) => o.key.startsWith('createInventoryItems'))) {
      const shape = opShape(op)
      const lanes = []
      for (const [key, svc] of [
        ['with', withIndex],
        ['without', without],
        ['without_count', noCount],
      ]) {
        const venv = { ...env, tag: `${env.tag}-idx${key}`, round: 'index' }
        lanes.push({ key, ctx: await op.prepare(svc, shape.n, venv), call: (ctx, i) => op.call(svc, ctx, i, venv) })
      }
      const r = await interleaved(lanes, shape)
      out[op.key] = {
        label: op.label,
        ...r,
        with_over_without_p50: round(r.with.p50 / r.without.p50, 2),
        with_over_without_count_p50: round(r.with.p50 / r.without_count.p50, 2),
      }
      log(
        `search index and count cost, ${op.label}: p50 with both ${r.with.p50} / without the index ${r.without.p50} / without the count triggers ${r.without_count.p50} ms`,
      )
    }
    return out
  } finally {
    await withIndex.close()
    await without.close()
    await noCount.close()
    await sql.query(`DROP SCHEMA IF EXISTS "${bare}" CASCADE`)
    await sql.query(`DROP SCHEMA IF EXISTS "${nocount}" CASCADE`)
    await sql.end()
  }
}

async function floors(ctx, env) {
  const out = {}
  const n = profile.floorIterations
  const pg = new Client({ connectionString: cfg.url })
  await pg.connect()
  try {
    for (let i = 0; i < profile.warmup; i++) await pg.query('SELECT 1')
    gc()
    const r = await timeSequential(n, () => pg.query('SELECT 1'))
    out.pg_select1 = summarize(r.samples, r.wall, { what: 'node-postgres Client, SELECT 1 (simple query)' })
  } finally {
    await pg.end()
  }
  if (cfg.impl === 'peer') {
    for (let i = 0; i < profile.warmup; i++) await ctx.knex.raw('SELECT 1')
    gc()
    const r = await timeSequential(n, () => ctx.knex.raw('SELECT 1'))
    out.min = summarize(r.samples, r.wall, { what: "knex.raw('SELECT 1') on the module's knex pool (node-postgres)" })
  } else {
    // No SELECT 1 entry point in the addon: our cheapest real query is
    // retrieveReservedQuantity(item, []): one statement (item exists? + sum over
    // no levels), one round trip, through the Medusa adapter, napi and tokio-postgres.
    const call = () => ctx.svc.retrieveReservedQuantity(env.items[0], [])
    for (let i = 0; i < profile.warmup; i++) await call()
    gc()
    let r = await timeSequential(n, call)
    out.min = summarize(r.samples, r.wall, {
      what: 'retrieveReservedQuantity(item, []) through Medusa: one real statement via napi + tokio-postgres',
    })
    const { InventoryService } = require('medusa-inventory-rs')
    const direct = await InventoryService.connect({ url: cfg.url, schema: cfg.schema, maxConnections: 2 })
    try {
      const call2 = () => direct.retrieveReservedQuantity(env.items[0], [])
      for (let i = 0; i < profile.warmup; i++) await call2()
      gc()
      r = await timeSequential(n, call2)
      out.min_facade = summarize(r.samples, r.wall, {
        what: 'the same call on the standalone InventoryService (no Medusa adapter)',
      })
    } finally {
      await direct.close()
    }
  }
  return out
}

// ---- concurrent ---------------------------------------------------------------

/**
 * `callers` loops run `step(caller, state)` until the deadline; each step
 * resolves to the name of what it did. Returns overall and per-name stats.
 */
async function runLoops({ callers, durationMs, step, init = () => ({}) }) {
  const byName = new Map()
  const errors = new Map()
  let total = 0
  let failed = 0
  const start = now()
  const deadline = start + durationMs
  await Promise.all(
    Array.from({ length: callers }, async (_, c) => {
      const state = init(c)
      while (now() < deadline) {
        const t0 = now()
        let name
        try {
          name = await step(c, state)
        } catch (e) {
          failed++
          const key = `${e && e.type ? e.type + ': ' : ''}${String(e && e.message)
            .replace(/(iitem|ilev|resitem)_\w+/g, '$1_…')
            .slice(0, 120)}`
          errors.set(key, (errors.get(key) || 0) + 1)
          name = state.lastName || 'error'
        }
        const dt = now() - t0
        total++
        if (!byName.has(name)) byName.set(name, [])
        byName.get(name).push(dt)
      }
    }),
  )
  const wall = now() - start
  const all = [...byName.values()].flat()
  const ops = {}
  for (const [name, samples] of byName) ops[name] = summarize(samples, wall)
  return {
    callers,
    duration_ms: round(wall, 0),
    total,
    failed,
    ops_per_s: round((total * 1000) / wall, 1),
    p50: summarize(all, wall).p50,
    p99: summarize(all, wall).p99,
    ops,
    errors: Object.fromEntries(errors),
  }
}

async function reserve32(svc, env) {
  const r = await runLoops({
    callers: profile.callers,
    durationMs: profile.durationMs,
    init: (c) => ({ pick: picker(1000 + c, env.items.length), n: 0, lastName: 'createReservationItems' }),
    step: async (c, s) => {
      await svc.createReservationItems([
        {
          inventory_item_id: env.items[s.pick()],
          location_id: LOCATIONS[4],
          quantity: 1,
          line_item_id: `ordli_${env.tag}_c32_${c}_${s.n++}`,
        },
      ])
      return 'createReservationItems'
    },
  })
  return r
}

const MIX = [
  ['retrieveAvailableQuantity', 0.35],
  ['confirmInventory', 0.15],
  ['createReservationItems', 0.2],
  ['deleteReservationItemsByLineItem', 0.1],
  ['adjustInventory', 0.1],
  ['listInventoryItems', 0.1],
]

async function mixed(svc, env) {
  return runLoops({
    callers: profile.callers,
    durationMs: profile.durationMs,
    init: (c) => ({ r: rng(5000 + c), pick: picker(2000 + c, env.items.length), lines: [], n: 0 }),
    step: async (c, s) => {
      let x = s.r()
      let name = MIX[MIX.length - 1][0]
      for (const [n, w] of MIX) {
        if (x < w) {
          name = n
          break
        }
        x -= w
      }
      if (name === 'deleteReservationItemsByLineItem' && !s.lines.length) name = 'createReservationItems'
      s.lastName = name
      const item = env.items[s.pick()]
      switch (name) {
        case 'retrieveAvailableQuantity':
          await svc.retrieveAvailableQuantity(item, [LOCATIONS[0], LOCATIONS[1]])
          break
        case 'confirmInventory':
          await svc.confirmInventory(item, [LOCATIONS[0]], 1)
          break
        case 'createReservationItems': {
          const line = `ordli_${env.tag}_mix_${c}_${s.n++}`
          await svc.createReservationItems([
            { inventory_item_id: item, location_id: LOCATIONS[0], quantity: 1, line_item_id: line },
          ])
          s.lines.push(line)
          break
        }
        case 'deleteReservationItemsByLineItem':
          await svc.deleteReservationItemsByLineItem(s.lines.pop())
          break
        case 'adjustInventory':
          await svc.adjustInventory(item, LOCATIONS[0], s.n % 2 ? 1 : -1)
          break
        default:
          await svc.listInventoryItems({ q: 'shirt' }, { take: 50 })
      }
      return name
    },
  })
}

/** A fresh item with one level at LOCATIONS[0] holding `stock`. */
async function hotLevel(svc, label, stock) {
  const [item] = await svc.createInventoryItems([{ sku: `HOT-${label}`, title: `Hot item ${label}` }])
  await svc.createInventoryLevels([{ inventory_item_id: item.id, location_id: LOCATIONS[0], stocked_quantity: stock }])
  return item.id
}

async function levelState(sql, item) {
  const { rows: lv } = await sql.query(
    `SELECT stocked_quantity::text AS stocked, reserved_quantity::text AS reserved
     FROM inventory_level WHERE inventory_item_id = $1 AND location_id = $2 AND deleted_at IS NULL`,
    [item, LOCATIONS[0]],
  )
  const { rows: rs } = await sql.query(
    `SELECT coalesce(sum(quantity), 0)::text AS live, count(*)::int AS n
     FROM reservation_item WHERE inventory_item_id = $1 AND location_id = $2 AND deleted_at IS NULL`,
    [item, LOCATIONS[0]],
  )
  const stocked = Number(lv[0].stocked)
  const reserved = Number(lv[0].reserved)
  const live = Number(rs[0].live)
  return {
    stocked,
    reserved_quantity: reserved,
    live_reservations: rs[0].n,
    live_reserved_sum: live,
    oversold_units: Math.max(0, live - stocked),
    drift: reserved - live, // reserved_quantity minus what the live reservations add up to
  }
}

/**
 * 64 callers reserving 1 unit each on one level, plain or inside
 * locking.execute([item], …) as Medusa's reserveInventoryStep does.
 * throughput: stock large enough never to run out, for durationMs.
 * oversell:   stock S, every caller tries `hotAttempts` times at once.
 */
async function hotItem(ctx, env, withLocking, sql) {
  const { svc, locking } = ctx
  const label = `${env.tag}-${withLocking ? 'lock' : 'plain'}`
  if (withLocking && !locking) return { error: 'Locking module not loaded' }
  const reserve = (item, line) => {
    const run = () =>
      svc.createReservationItems([
        { inventory_item_id: item, location_id: LOCATIONS[0], quantity: 1, line_item_id: line },
      ])
    return withLocking ? locking.execute([item], run) : run()
  }
  // Throughput.
  const big = await hotLevel(svc, `${label}-t`, 1_000_000_000)
  let committed = 0
  const t = await runLoops({
    callers: profile.hotCallers,
    durationMs: profile.durationMs,
    init: () => ({ n: 0, lastName: 'reserve' }),
    step: async (c, s) => {
      await reserve(big, `ordli_${label}_t_${c}_${s.n++}`)
      committed++
      return 'reserve'
    },
  })
  const afterThroughput = await levelState(sql, big)
  // Oversell.
  const stock = profile.hotStock
  const small = await hotLevel(svc, `${label}-o`, stock)
  let ok = 0
  const refused = {}
  const t0 = now()
  await Promise.all(
    Array.from({ length: profile.hotCallers }, async (_, c) => {
      for (let k = 0; k < profile.hotAttempts; k++) {
        try {
          await reserve(small, `ordli_${label}_o_${c}_${k}`)
          ok++
        } catch (e) {
          const key = (e && e.type) || String(e && e.message).slice(0, 60)
          refused[key] = (refused[key] || 0) + 1
        }
      }
    }),
  )
  const oversellWall = now() - t0
  const afterOversell = await levelState(sql, small)
  return {
    callers: profile.hotCallers,
    locking: withLocking,
    attempts: t.total,
    attempts_per_s: t.ops_per_s,
    committed,
    committed_per_s: round((committed * 1000) / t.duration_ms, 1),
    p50: t.p50,
    p99: t.p99,
    errors: t.errors,
    throughput_check: afterThroughput,
    oversell: {
      stock,
      attempts: profile.hotCallers * profile.hotAttempts,
      committed: ok,
      refused,
      wall_ms: round(oversellWall, 1),
      ...afterOversell,
    },
  }
}

// ---- ledger cost (ours) ---------------------------------------------------------------

// The same calls three ways. `ledger: false` is a connect option of the standalone
// InventoryService only (the Medusa adapter has no such option), so all three run on
// the standalone service in this process, and their ratios compare like with like.
const LEDGER_VARIANTS = [
  { key: 'on', label: 'ledger on (default)' },
  { key: 'off', label: 'ledger: false' },
  { key: 'key', label: 'ledger on + idempotencyKey on every call' },
]

/** Ledger rows written since `mark` (the highest id seen), and the new mark. */
async function movementsSince(sql, mark) {
  const { rows } = await sql.query(
    'SELECT count(*)::int AS n, coalesce(max(id), $1)::bigint::text AS last FROM inventory_movement WHERE id > $1',
    [mark],
  )
  return { n: rows[0].n, mark: rows[0].last }
}

async function ledgerCost(env, sql) {
  const { InventoryService } = require('medusa-inventory-rs')
  const on = await InventoryService.connect({ url: cfg.url, schema: cfg.schema, maxConnections: cfg.pool })
  const off = await InventoryService.connect({
    url: cfg.url,
    schema: cfg.schema,
    maxConnections: cfg.pool,
    ledger: false,
  })
  const svcOf = { on, off, key: on }
  let keys = 0
  const optsFor = (v) => (v === 'key' ? { idempotencyKey: `bench-${env.tag}-${keys++}` } : undefined)
  // The concurrent scenarios before this grew reservation_item and inventory_movement
  // far past the statistics of the ANALYZE after seeding; refresh them (as autovacuum
  // would in a shop) so the plans here are not those of near-empty tables.
  await sql.query('ANALYZE inventory_level, reservation_item, inventory_movement')
  let mark = (await movementsSince(sql, '0')).mark
  // Untimed: ledger rows the timed calls wrote, so a variant that quietly
  // did not write (or did) shows in the report rather than passing as a timing.
  const count = async () => {
    const r = await movementsSince(sql, mark)
    mark = r.mark
    return r.n
  }
  const out = {
    how: 'standalone InventoryService, same process and schema as ours, pool ' + cfg.pool,
    variants: LEDGER_VARIANTS,
    sequential: {},
    hot: null,
  }
  try {
    const ops = [...OPS.filter((o) => o.ledger), ...LEDGER_ONLY_OPS]
    for (const op of ops) {
      try {
        const iterations = op.iterations ? op.iterations(profile) : profile.iterations
        const warmup = profile.warmup
        const st = {}
        for (const [vi, v] of LEDGER_VARIANTS.entries()) {
          const venv = { ...env, round: `ledger${v.key}`, stockBase: 2_000_000 + vi * 100_000 }
          st[v.key] = {
            env: venv,
            ctx: await op.prepare(svcOf[v.key], warmup + iterations, venv),
            i: 0,
            samples: [],
            rows: 0,
            wall: 0,
          }
        }
        for (const v of LEDGER_VARIANTS) {
          const s = st[v.key]
          for (let k = 0; k < warmup; k++) await op.call(svcOf[v.key], s.ctx, s.i++, s.env, optsFor(v.key))
        }
        gc()
        // Interleaved chunks (about six per variant), so drift in the machine's load
        // falls on all three alike instead of on whichever ran last.
        const chunk = Math.max(1, Math.ceil(iterations / 6))
        const deadline = now() + 3 * profile.maxSeconds * 1000
        await count()
        for (;;) {
          for (const v of LEDGER_VARIANTS) {
            const s = st[v.key]
            const t = now()
            for (let k = 0; k < chunk && s.samples.length < iterations; k++) {
              const t0 = now()
              await op.call(svcOf[v.key], s.ctx, s.i++, s.env, optsFor(v.key))
              s.samples.push(now() - t0)
            }
            s.wall += now() - t
            s.rows += await count()
          }
          const all = LEDGER_VARIANTS.map((v) => st[v.key].samples.length)
          if (all.every((n) => n >= iterations)) break
          if (all.every((n) => n >= profile.minIterations) && now() > deadline) break
        }
        const r = { label: op.label }
        for (const v of LEDGER_VARIANTS) {
          const s = st[v.key]
          r[v.key] = summarize(s.samples, s.wall, {
            ledger_rows: s.rows,
            ledger_rows_per_call: round(s.rows / s.samples.length, 2),
          })
        }
        out.sequential[op.key] = r
        log(
          `ledger cost, ${op.label}: p50 on ${r.on.p50} / off ${r.off.p50} / key ${r.key.p50} ms; ledger rows per call ${r.on.ledger_rows_per_call} / ${r.off.ledger_rows_per_call} / ${r.key.ledger_rows_per_call}`,
        )
      } catch (e) {
        out.sequential[op.key] = { label: op.label, error: String(e && e.message) }
        log(`ledger cost, ${op.label}: FAILED ${e && e.message}`)
      }
    }

    // Hot level: hotCallers reserving 1 unit each on one level, each variant twice for
    // half the duration, in the order on, off, key, key, off, on.
    gc()
    const hot = {}
    const items = {}
    for (const v of LEDGER_VARIANTS) {
      items[v.key] = await hotLevel(on, `${env.tag}-ledger-${v.key}`, 1_000_000_000)
      hot[v.key] = { samples: [], attempts: 0, committed: 0, wall: 0, rows: 0, errors: {} }
    }
    const order = [...LEDGER_VARIANTS, ...[...LEDGER_VARIANTS].reverse()].map((v) => v.key)
    for (const [round_, v] of order.entries()) {
      const h = hot[v]
      await count()
      const t = now()
      const deadline = t + profile.durationMs / 2
      await Promise.all(
        Array.from({ length: profile.hotCallers }, async (_, c) => {
          let n = 0
          while (now() < deadline) {
            const t0 = now()
            h.attempts++
            try {
              await svcOf[v].createReservationItems(
                [
                  {
                    inventory_item_id: items[v],
                    location_id: LOCATIONS[0],
                    quantity: 1,
                    line_item_id: `ordli_${env.tag}_lh_${v}_${round_}_${c}_${n++}`,
                  },
                ],
                ...(v === 'key' ? [optsFor(v)] : []),
              )
              h.committed++
            } catch (e) {
              const k = String(e && e.message).slice(0, 100)
              h.errors[k] = (h.errors[k] || 0) + 1
            }
            h.samples.push(now() - t0)
          }
        }),
      )
      h.wall += now() - t
      h.rows += await count()
    }
    out.hot = { callers: profile.hotCallers, duration_ms_per_variant: profile.durationMs }
    for (const v of LEDGER_VARIANTS) {
      const h = hot[v.key]
      const s = summarize(h.samples, h.wall)
      out.hot[v.key] = {
        attempts: h.attempts,
        committed: h.committed,
        committed_per_s: round((h.committed * 1000) / h.wall, 1),
        p50: s.p50,
        p99: s.p99,
        ledger_rows: h.rows,
        ledger_rows_per_call: h.committed ? round(h.rows / h.committed, 2) : null,
        errors: h.errors,
      }
    }
    log(
      `ledger cost, hot level ${profile.hotCallers} callers: committed/s on ${out.hot.on.committed_per_s} / off ${out.hot.off.committed_per_s} / key ${out.hot.key.committed_per_s}`,
    )
  } finally {
    await on.close()
    await off.close()
  }
  return out
}

// ---- optional bulk and scale ----------------------------------------------------

function progress(label, done, total, t0) {
  const width = 30
  const filled = Math.round((done / total) * width)
  const secs = (now() - t0) / 1000
  const line = `[${cfg.impl}] ${label} [${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${done}/${total} ${secs.toFixed(1)} s`
  if (process.stderr.isTTY) process.stderr.write(`\r${line}${done === total ? '\n' : ''}`)
  else if (done === total || done % Math.max(1, Math.round(total / 10)) === 0) process.stderr.write(`${line}\n`)
}

async function bulk(svc, env, total) {
  const batches = Math.ceil(total / 1000)
  const samples = []
  const t0 = now()
  for (let b = 0; b < batches; b++) {
    const rows = []
    for (let j = 0; j < 1000 && b * 1000 + j < total; j++) {
      rows.push({ sku: `BULK100K-${env.tag}-${b}-${j}`, title: `Bulk shirt ${b}-${j}` })
    }
    const s = now()
    await svc.createInventoryItems(rows)
    samples.push(now() - s)
    progress(`createInventoryItems ${total} in batches of 1000`, Math.min(total, (b + 1) * 1000), total, t0)
  }
  const wall = now() - t0
  return {
    items: total,
    batch: 1000,
    total_s: round(wall / 1000, 2),
    items_per_s: round((total * 1000) / wall, 0),
    batch_latency: summarize(samples, wall),
  }
}

/**
 * What sql.rs asks the digit-gram index for (entity.rs, digit_alignments): of the longest
 * run of six or more ASCII digits, the five digits from each even place, then from each
 * odd place, each set without repeats and at most 8.
 */
function digitAlignments(text) {
  const run = text
    .split(/[^0-9]+/)
    .filter((r) => r.length >= 6)
    .reduce((a, b) => (b.length > a.length ? b : a), '')
  if (!run) return null
  return [0, 1].map((from) => {
    const set = []
    for (let at = from; at + 5 <= run.length; at += 2) {
      const g = run.slice(at, at + 5)
      if (set.length < 8 && !set.includes(g)) set.push(g)
    }
    return set
  })
}

/** The scale data set's ids and skus (bench.js seedScale): the number padded to cfg.scaleWidth digits. */
const SKU_PREFIX = 'SCALE-'
const scaleId = (g) => `iitem_scale_${String(g).padStart(cfg.scaleWidth || 7, '0')}`
const scaleSku = (g) => `${SKU_PREFIX}${String(g).padStart(cfg.scaleWidth || 7, '0')}`

async function scaleReads(svc) {
  const N = cfg.scaleItems
  const id = scaleId
  const r = rng(99)
  const any = () => 1 + Math.floor(r() * N)
  const allLocs = [1, 2, 3, 4, 5].map((l) => `sloc_scale_${l}`)
  const sku = () => scaleSku(any())
  // Point reads (whose goal is a p99) take profile.scalePointIterations samples, lists scaleIterations.
  const point = new Set(['retrieveAvailableQuantity', 'confirmInventory'])
  const warmup = profile.scaleWarmup ?? 3
  const ops = [
    [
      'retrieveAvailableQuantity',
      'retrieveAvailableQuantity (5 locations)',
      () => svc.retrieveAvailableQuantity(id(any()), allLocs),
    ],
    ['confirmInventory', 'confirmInventory (1 location)', () => svc.confirmInventory(id(any()), [allLocs[0]], 1)],
    [
      'listInventoryItems_first',
      'listInventoryItems (take 50, first page)',
      () => svc.listInventoryItems({}, { take: 50 }),
    ],
    [
      'listInventoryItems_page',
      'listInventoryItems (take 50, skip random ≤ 10000)',
      () => svc.listInventoryItems({}, { take: 50, skip: Math.floor(r() * 10000) }),
    ],
    [
      'listInventoryItems_deep',
      'listInventoryItems (take 50, skip random in the second half of the catalogue)',
      () => svc.listInventoryItems({}, { take: 50, skip: Math.floor(N / 2 + r() * Math.max(0, N / 2 - 50)) }),
    ],
    [
      'listInventoryItems_location',
      'listInventoryItems (location_levels filter, take 50)',
      () => svc.listInventoryItems({ location_levels: { location_id: allLocs[2] } }, { take: 50 }),
    ],
    [
      'listInventoryItems_q',
      'listInventoryItems (q = one sku, take 50)',
      () => svc.listInventoryItems({ q: sku() }, { take: 50 }),
    ],
    [
      'listInventoryItems_q_common',
      'listInventoryItems (q = a word every item has, take 50)',
      () => svc.listInventoryItems({ q: 'shirt' }, { take: 50 }),
    ],
    [
      'listAndCountInventoryItems',
      'listAndCountInventoryItems (take 50, with count)',
      () => svc.listAndCountInventoryItems({}, { take: 50 }),
    ],
    [
      'listAndCountInventoryItems_q',
      'listAndCountInventoryItems (q = one sku, take 50, with count)',
      () => svc.listAndCountInventoryItems({ q: sku() }, { take: 50 }),
    ],
    [
      'listAndCountInventoryItems_q_common',
      'listAndCountInventoryItems (q = a word every item has, take 50, with count)',
      () => svc.listAndCountInventoryItems({ q: 'shirt' }, { take: 50 }),
    ],
  ]
  // Floors (ours only), interleaved with ours: the same SQL floors.js uses for the reads,
  // and our own statement for the count and the sku search (replayed with a fresh sku).
  const floors = {}
  const pg = cfg.impl === 'ours' ? await sqlClient() : null
  if (pg) {
    const { SQL, ownStatement } = require('./floors')
    floors.retrieveAvailableQuantity = {
      what: 'SELECT: item exists, sum of stocked − reserved',
      call: () => pg.query({ name: 's_av', text: SQL.available, values: [id(any()), allLocs] }),
    }
    floors.confirmInventory = {
      what: 'SELECT: item exists, sum ≥ quantity',
      call: () => pg.query({ name: 's_cf', text: SQL.confirm, values: [id(any()), [allLocs[0]], '1'] }),
    }
    const count = await ownStatement(cfg.url, cfg.schema, (s) => s.listAndCountInventoryItems({}, { take: 50 }))
    floors.listAndCountInventoryItems = {
      what: 'our own statement (page + count)',
      call: () => pg.query({ name: 's_count', text: count.sql, values: count.values }),
    }
    const q = await ownStatement(cfg.url, cfg.schema, (s) => s.listInventoryItems({ q: scaleSku(1) }, { take: 50 }))
    // After the pattern come what narrows through an index: the sku's two sets of digit
    // grams (sql.rs, a schema with the digit-gram index), else the number as a pattern
    // for the trigram index. Each call must find its one item, or it replayed another
    // statement than ours.
    const byDigits = q.sql.includes('medusa_inventory_rs_digit_grams(')
    const narrowing = byDigits ? 2 : 1
    floors.listInventoryItems_q = {
      what: 'our own statement, unnamed as ours sends it, a fresh sku each call',
      call: async () => {
        const k = sku()
        const narrow = byDigits ? digitAlignments(k) : [`%${k.slice(SKU_PREFIX.length)}%`]
        const r = await pg.query(q.sql, [`%${k}%`, ...narrow, ...q.values.slice(1 + narrowing)])
        if (r.rows.length !== 1) throw new Error(`floor sku search: ${r.rows.length} rows for ${k}, not 1`)
      },
    }
  }
  const out = {}
  try {
    for (const [key, label, call] of ops) {
      try {
        const f = floors[key]
        if (f) {
          const t = await interleaved(
            [
              { key: 'ours', ctx: null, call: () => call() },
              { key: 'floor', ctx: null, call: () => f.call() },
            ],
            { iterations: point.has(key) ? profile.scalePointIterations : profile.scaleIterations, warmup },
          )
          out[key] = { label, ...t.ours, floor: { what: f.what, ...t.floor } }
          log(
            `scale ${label}: p50 ${t.ours.p50} ms, p99 ${t.ours.p99} ms (n=${t.ours.n}); floor p50 ${t.floor.p50} ms, p99 ${t.floor.p99} ms`,
          )
          continue
        }
        // Warm-up stops after a quarter of the read's time budget: at 10M items a read that
        // scans the catalogue takes seconds a call, and 100 of them would take many minutes.
        const warmEnd = now() + (profile.scaleMaxSeconds * 1000) / 4
        for (let i = 0; i < warmup && (i === 0 || now() < warmEnd); i++) await call()
        gc()
        const t = await timeSequential(point.has(key) ? profile.scalePointIterations : profile.scaleIterations, call, {
          maxSeconds: profile.scaleMaxSeconds,
          minIterations: 3,
        })
        out[key] = { label, ...summarize(t.samples, t.wall) }
        log(`scale ${label}: p50 ${out[key].p50} ms, p99 ${out[key].p99} ms (n=${out[key].n})`)
      } catch (e) {
        out[key] = { label, error: String(e && e.message) }
        log(`scale ${label}: FAILED ${e && e.message}`)
      }
    }
  } finally {
    if (pg) await pg.end()
  }
  return out
}

/**
 * Reservations on the scale data set, after the reads: createReservationItems of
 * one line, the call shape of ops.js createReservationItems_1 (quantity 1, a fresh
 * line_item_id), on a random item of the whole catalogue at sloc_scale_1 (stocked
 * 100 a level: random items over a large catalogue do not run out). First one
 * caller (scalePointIterations, capped by scaleMaxSeconds), then profile.callers
 * callers for profile.durationMs (the main run's --duration) through runLoops.
 * The rows stay (bench.js says so in the report).
 */
async function scaleReserve(svc) {
  const N = cfg.scaleItems
  const loc = 'sloc_scale_1'
  const tag = `${cfg.impl}${cfg.runId}_${N}`
  const reserveOne = (g, line) =>
    svc.createReservationItems([{ inventory_item_id: scaleId(g), location_id: loc, quantity: 1, line_item_id: line }])
  const out = {}
  try {
    const r = rng(4242)
    const any = () => 1 + Math.floor(r() * N)
    const warmup = Math.min(profile.scaleWarmup ?? 3, 20)
    for (let i = 0; i < warmup; i++) await reserveOne(any(), `ordli_scale_${tag}_w_${i}`)
    gc()
    const t = await timeSequential(
      profile.scalePointIterations,
      (i) => reserveOne(any(), `ordli_scale_${tag}_s_${i}`),
      {
        maxSeconds: profile.scaleMaxSeconds,
        minIterations: 3,
      },
    )
    out.sequential = { label: 'createReservationItems (1 line), one caller', ...summarize(t.samples, t.wall) }
    log(
      `scale ${out.sequential.label}: p50 ${out.sequential.p50} ms, p99 ${out.sequential.p99} ms (n=${out.sequential.n})`,
    )
  } catch (e) {
    out.sequential = { label: 'createReservationItems (1 line), one caller', error: String(e && e.message) }
    log(`scale reservations, one caller: FAILED ${e && e.message}`)
  }
  try {
    gc()
    const c = await runLoops({
      callers: profile.callers,
      durationMs: profile.durationMs,
      init: (k) => ({ r: rng(5000 + k), n: 0, lastName: 'createReservationItems' }),
      step: async (k, st) => {
        await reserveOne(1 + Math.floor(st.r() * N), `ordli_scale_${tag}_c_${k}_${st.n++}`)
        return 'createReservationItems'
      },
    })
    out.concurrent = { label: `createReservationItems (1 line), ${c.callers} callers`, ...c }
    log(
      `scale ${out.concurrent.label}: ${c.ops_per_s} calls/s, p50 ${c.p50} ms, p99 ${c.p99} ms, failed ${c.failed} (${Math.round(c.duration_ms)} ms)`,
    )
  } catch (e) {
    out.concurrent = {
      label: `createReservationItems (1 line), ${profile.callers} callers`,
      error: String(e && e.message),
    }
    log(`scale reservations, ${profile.callers} callers: FAILED ${e && e.message}`)
  }
  return out
}

// ---- round trips per op (ours) ----------------------------------------------------

async function traffic(env) {
  const { startTap, describeTraffic } = require('./wire-tap')
  const { InventoryService } = require('medusa-inventory-rs')
  const tap = await startTap(cfg.url)
  const svc = await InventoryService.connect({ url: tap.url, schema: cfg.schema, maxConnections: 1 })
  const out = {}
  try {
    const tenv = { ...env, round: 'tap' }
    for (const op of OPS) {
      try {
        const ctx = await op.prepare(svc, 3, tenv)
        await op.call(svc, ctx, 0, tenv) // prepares and caches the statements
        const mark = tap.mark()
        await op.call(svc, ctx, 1, tenv)
        out[op.key] = describeTraffic(tap.since(mark))
      } catch (e) {
        out[op.key] = { error: String(e && e.message) }
      }
    }
    await svc.retrieveReservedQuantity(env.items[0], [])
    const mark = tap.mark()
    await svc.retrieveReservedQuantity(env.items[0], [])
    out.min = describeTraffic(tap.since(mark))
  } finally {
    await svc.close()
    await tap.close()
  }
  return out
}

// ---- main --------------------------------------------------------------------------

async function main() {
  const result = { impl: cfg.impl, task: cfg.task, schema: cfg.schema, pool: cfg.pool }
  const ctx = await boot({ migrate: cfg.task === 'main' })
  result.boot = ctx.boot
  try {
    if (cfg.task === 'scale') {
      result.scale = await scaleReads(ctx.svc)
      result.scale_reserve = await scaleReserve(ctx.svc)
      return result
    }
    const tag = `${cfg.impl}${cfg.runId}`
    let t0 = now()
    const env = { ...(await seed(ctx.svc, tag, profile.seedItems)), round: 'main' }
    // Fresh tables have no planner statistics until autovacuum gets to them;
    // a shop's tables have. Without this, list queries plan as if the tables were empty.
    const analyze = await sqlClient()
    try {
      await analyze.query('ANALYZE inventory_item, inventory_level, reservation_item')
    } finally {
      await analyze.end()
    }
    log(
      `seeded ${env.items.length} items × ${LOCATIONS.length} locations in ${Math.round(now() - t0)} ms (then ANALYZE)`,
    )

    result.floors = await floors(ctx, env)
    log(
      `floor: node-postgres SELECT 1 p50 ${result.floors.pg_select1.p50} ms; ${cfg.impl === 'ours' ? 'our minimal call' : 'knex SELECT 1'} p50 ${result.floors.min.p50} ms`,
    )

    result.sequential = {}
    // Ours measures each operation beside its floor (floors.js); the peer alone.
    const floorPg = cfg.impl === 'ours' ? await sqlClient() : null
    if (floorPg) result.op_floors = {}
    try {
      for (const op of OPS) {
        try {
          if (floorPg && FLOORS[op.key]) {
            const floor = FLOORS[op.key]
            const extra = op.key === 'createInventoryItems_1000' ? [{ key: 'insert', call: BULK_INSERT.call }] : []
            const r = await runOpWithFloor(
              op,
              ctx.svc,
              { ...env, url: cfg.url, schema: cfg.schema },
              floorPg,
              floor,
              extra,
            )
            result.sequential[op.key] = r.ours
            result.op_floors[op.key] = { what: floor.what, ...r.floor }
            if (r.insert) result.op_floors[`${op.key}_insert`] = { what: BULK_INSERT.what, ...r.insert }
            log(
              `${op.label}: p50 ${r.ours.p50} ms, p99 ${r.ours.p99} ms (n=${r.ours.n}); floor p50 ${r.floor.p50} ms${r.insert ? `, multi-row INSERT p50 ${r.insert.p50} ms` : ''}`,
            )
          } else {
            result.sequential[op.key] = await runOp(op, ctx.svc, env)
            const s = result.sequential[op.key]
            log(`${op.label}: p50 ${s.p50} ms, p99 ${s.p99} ms, ${s.ops_per_s} ops/s (n=${s.n})`)
          }
        } catch (e) {
          result.sequential[op.key] = { error: String(e && e.message) }
          log(`${op.label}: FAILED ${e && e.message}`)
        }
      }
    } finally {
      if (floorPg) await floorPg.end()
    }

    const sql = await sqlClient()
    try {
      gc()
      result.reserve32 = await reserve32(ctx.svc, env)
      log(
        `${profile.callers} callers reserving on ${env.items.length} items: ${result.reserve32.ops_per_s} reservations/s, p50 ${result.reserve32.p50} ms, p99 ${result.reserve32.p99} ms, failed ${result.reserve32.failed}`,
      )
      gc()
      result.mixed = await mixed(ctx.svc, env)
      log(
        `${profile.callers} callers, mixed workload: ${result.mixed.ops_per_s} ops/s, p50 ${result.mixed.p50} ms, p99 ${result.mixed.p99} ms, failed ${result.mixed.failed}`,
      )
      result.hot = {}
      for (const withLocking of [false, true]) {
        gc()
        const key = withLocking ? 'locking' : 'plain'
        result.hot[key] = await hotItem(ctx, env, withLocking, sql)
        const h = result.hot[key]
        if (h.error) log(`hot item (${key}): ${h.error}`)
        else
          log(
            `hot item, ${h.callers} callers${withLocking ? ' inside locking.execute' : ''}: ${h.attempts_per_s} attempts/s, ${h.committed_per_s} committed/s; ` +
              `stock ${h.oversell.stock}: ${h.oversell.committed} committed, oversold ${h.oversell.oversold_units}, drift ${h.oversell.drift}`,
          )
      }
      if (cfg.impl === 'ours' && cfg.ledger) {
        gc()
        result.ledger = await ledgerCost(env, sql)
      }
    } finally {
      await sql.end()
    }

    if (cfg.bulkItems) {
      gc()
      result.bulk = await bulk(ctx.svc, env, cfg.bulkItems)
      log(`${cfg.bulkItems} items: ${result.bulk.total_s} s, ${result.bulk.items_per_s} items/s`)
    }

    if (cfg.impl === 'ours' && cfg.traffic) {
      result.traffic = await traffic(env)
    }
    if (cfg.impl === 'ours') {
      try {
        result.search_index_cost = await searchIndexCost(env)
      } catch (e) {
        result.search_index_cost = { error: String(e && e.message) }
        log(`search index cost: FAILED ${e && e.message}`)
      }
    }
    result.events_emitted = eventsEmitted
    return result
  } finally {
    await ctx.stop()
  }
}

main().then(
  (result) => {
    process.send({ ok: true, result }, () => process.exit(0))
  },
  (e) => {
    process.stderr.write(`[${cfg.impl}] failed: ${(e && e.stack) || e}\n`)
    process.send({ ok: false, error: String((e && e.stack) || e) }, () => process.exit(1))
  },
)
