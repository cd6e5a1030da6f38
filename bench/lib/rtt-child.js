'use strict'
// One module (ours or the peer) in a Node process of its own, forked by
// ../rtt.js, booted through Medusa's module loader exactly as runner.js boots
// it (MedusaAppMigrateUp, then MedusaApp; the Locking module beside it).
//
// Tasks (config as JSON in RTT_CHILD_CONFIG, the result back over IPC):
//   count    the module on a connection through the wire tap (wire-tap.js):
//            migrate, seed, then each operation's round trips: its first call,
//            then (after a second, warm-up call) `countCalls` calls counted one by one
//   setup    migrate and seed (straight to Postgres), for the latency task
//   latency  the module through the delaying path (cfg.url): each operation
//            one call at a time, then `callers` callers reserving, and (cfg.hot)
//            `callers` callers reserving one item
const { bootInventory, quietLogger } = require('./medusa-boot')
const { seed, picker, LOCATIONS } = require('./ops')
const { RTT_OPS } = require('./rtt-ops')
const { summarize, now } = require('./stats')

const cfg = JSON.parse(process.env.RTT_CHILD_CONFIG || '{}')
function log(msg) {
  process.stderr.write(`[${cfg.impl}${cfg.rtt !== undefined ? ` ${cfg.rtt} ms` : ''}] ${msg}\n`)
}

const logger = quietLogger(cfg.impl)
const eventBus = { async emit() {}, subscribe() {}, unsubscribe() {} }

/** The module through MedusaApp on `url` (medusa-boot.js, as runner.js boots it). */
function boot(url, { migrate }) {
  return bootInventory({ impl: cfg.impl, url, schema: cfg.schema, pool: cfg.pool, migrate, logger, eventBus })
}

const opsWanted = () => RTT_OPS.filter((op) => !cfg.ops || cfg.ops.includes(op.key))

async function count() {
  const { startTap, describeTraffic } = require('./wire-tap')
  const tap = await startTap(cfg.url)
  const ctx = await boot(tap.url, { migrate: true })
  const out = { ops: {} }
  try {
    const env = { ...(await seed(ctx.svc, `${cfg.impl}rt`, cfg.seedItems)), round: 'rt' }
    // Anything the module sends on its own while no call runs would be counted into
    // the calls; measure an idle stretch to show there is none.
    const idle = tap.mark()
    await new Promise((r) => setTimeout(r, 300))
    out.idle_300ms = describeTraffic(tap.since(idle)).roundTrips
    for (const op of opsWanted()) {
      try {
        const n = cfg.countCalls
        const octx = await op.prepare(ctx.svc, n + 2, env)
        let mark = tap.mark()
        await op.call(ctx.svc, octx, 0, env)
        const first = describeTraffic(tap.since(mark))
        await op.call(ctx.svc, octx, 1, env)
        const calls = []
        for (let i = 2; i < n + 2; i++) {
          mark = tap.mark()
          await op.call(ctx.svc, octx, i, env)
          calls.push(describeTraffic(tap.since(mark)))
        }
        const rts = calls.map((c) => c.roundTrips)
        out.ops[op.key] = {
          label: op.label,
          first_call: first.roundTrips,
          first_call_parses: first.parses,
          round_trips: rts,
          sequential_round_trips: calls.map((c) => c.sequentialRoundTrips),
          connections: Math.max(...calls.map((c) => c.connections)),
          parses_steady: calls.map((c) => c.parses),
          // One steady call's statements, shortened: what the round trips carry.
          statements: calls[calls.length - 1].statements.map((s) => (s.length > 160 ? `${s.slice(0, 157)}...` : s)),
        }
        log(`${op.label}: first ${first.roundTrips}, steady ${rts.join(',')}`)
      } catch (e) {
        out.ops[op.key] = { label: op.label, error: String(e && e.message) }
        log(`${op.label}: FAILED ${e && e.message}`)
      }
    }
  } finally {
    await ctx.stop()
    await tap.close()
  }
  return out
}

async function setup() {
  const ctx = await boot(cfg.url, { migrate: true })
  try {
    return { env: await seed(ctx.svc, `${cfg.impl}lat`, cfg.seedItems) }
  } finally {
    await ctx.stop()
  }
}

/** `callers` loops calling step(c, state) for durationMs; per-call latencies. */
async function loops(callers, durationMs, step) {
  const samples = []
  let failed = 0
  const errors = {}
  const start = now()
  const deadline = start + durationMs
  await Promise.all(
    Array.from({ length: callers }, async (_, c) => {
      const s = { n: 0, pick: picker(3000 + c, 1 << 30) }
      while (now() < deadline) {
        const t0 = now()
        try {
          await step(c, s)
        } catch (e) {
          failed++
          const k = String((e && e.type) || (e && e.message)).slice(0, 80)
          errors[k] = (errors[k] || 0) + 1
        }
        samples.push(now() - t0)
      }
    }),
  )
  const wall = now() - start
  return { callers, failed, errors, ...summarize(samples, wall) }
}

/**
 * Removes the items (and their levels) that ops.js's create operations made, so
 * that every RTT's run starts from the same data: createInventoryItems (1000 at
 * once) alone adds thousands of items titled "… shirt", which the `q` list then
 * has to search (straight to Postgres, not through the delay).
 */
async function dropCreatedItems() {
  const { Client } = require('pg')
  const c = new Client({ connectionString: cfg.directUrl, options: `-c search_path=${cfg.schema}` })
  await c.connect()
  try {
    const made = `SELECT id FROM inventory_item WHERE sku LIKE 'ONE-%' OR sku LIKE 'BULK-%' OR sku LIKE 'LVL-%'`
    await c.query(`DELETE FROM inventory_level WHERE inventory_item_id IN (${made})`)
    await c.query(`DELETE FROM inventory_item WHERE id IN (${made})`)
    await c.query('ANALYZE inventory_item')
  } finally {
    await c.end()
  }
}

async function latency() {
  await dropCreatedItems()
  const ctx = await boot(cfg.url, { migrate: false })
  const out = { sequential: {} }
  const env = { ...cfg.env, round: `l${String(cfg.rtt).replace('.', '_')}` }
  try {
    for (const op of opsWanted()) {
      try {
        const iterations = op.batch ? cfg.batchIterations : cfg.iterations
        const warmup = op.batch ? 1 : cfg.warmup
        const octx = await op.prepare(ctx.svc, warmup + iterations, env)
        for (let i = 0; i < warmup; i++) await op.call(ctx.svc, octx, i, env)
        const samples = []
        const t = now()
        for (let i = warmup; i < warmup + iterations; i++) {
          const t0 = now()
          await op.call(ctx.svc, octx, i, env)
          samples.push(now() - t0)
        }
        out.sequential[op.key] = summarize(samples, now() - t)
      } catch (e) {
        out.sequential[op.key] = { error: String(e && e.message) }
        log(`${op.label}: FAILED ${e && e.message}`)
      }
    }
    if (cfg.concurrent) {
      const items = env.items
      out.reserve_concurrent = await loops(cfg.callers, cfg.durationMs, (c, s) =>
        ctx.svc.createReservationItems([
          {
            inventory_item_id: items[s.pick() % items.length],
            location_id: LOCATIONS[4],
            quantity: 1,
            line_item_id: `ordli_${env.round}_c_${c}_${s.n++}`,
          },
        ]),
      )
      log(
        `${cfg.callers} callers reserving: ${out.reserve_concurrent.ops_per_s}/s, p99 ${out.reserve_concurrent.p99} ms`,
      )
    }
    if (cfg.hot) {
      const [item] = await ctx.svc.createInventoryItems([{ sku: `HOT-${cfg.impl}-${env.round}`, title: 'Hot item' }])
      await ctx.svc.createInventoryLevels([
        { inventory_item_id: item.id, location_id: LOCATIONS[0], stocked_quantity: 1_000_000_000 },
      ])
      out.hot = await loops(cfg.callers, cfg.durationMs, (c, s) =>
        ctx.svc.createReservationItems([
          {
            inventory_item_id: item.id,
            location_id: LOCATIONS[0],
            quantity: 1,
            line_item_id: `ordli_hot_${c}_${s.n++}`,
          },
        ]),
      )
      log(`${cfg.callers} callers reserving one item: ${out.hot.ops_per_s}/s, p99 ${out.hot.p99} ms`)
    }
  } finally {
    await ctx.stop()
  }
  return out
}

const TASKS = { count, setup, latency }
TASKS[cfg.task]().then(
  (result) => process.send({ ok: true, result }, () => process.exit(0)),
  (e) => {
    process.stderr.write(`[${cfg.impl}] failed: ${(e && e.stack) || e}\n`)
    process.send({ ok: false, error: String((e && e.stack) || e) }, () => process.exit(1))
  },
)
