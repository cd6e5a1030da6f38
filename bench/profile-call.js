'use strict'
// Where the time of one call goes, Node → napi → tokio → Postgres → back.
//
//   cd bench && DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres node profile-call.js
//
// Options: --part=adapter|e2e|all|loop (default all), --rounds=N (default 40), --chunk=N
// (default 25 calls per path per round), --items=N (seeded items, default 1000),
// --async-commit (synchronous_commit off in the run's database: writes stop waiting for
// the WAL flush, whose spread of milliseconds otherwise hides differences of microseconds).
// Needs DATABASE_URL; creates a database of its own (or, without CREATEDB, a schema)
// and drops it at the end.
//
// Every figure is measured in one process with the paths interleaved: each round runs
// `chunk` calls of every path, the order flipping each round, so drift (other load,
// autovacuum, the table growing) lands on all paths alike. Each path gets `rounds ×
// chunk` samples; the tables show p50 and the mean of the middle 90% (trimmed mean).
//
// Part "adapter": the Medusa adapter's cost per call, i.e. `app.modules.inventory.<m>`
// (MedusaApp booting medusa-inventory-rs/medusa, as bench/lib/runner.js does) minus
// the same call on the standalone InventoryService that the adapter itself wraps (same
// pool, same connections).
//
// Part "e2e": differential layers of retrieveAvailableQuantity and createReservationItems
// (1 line), each path adding one layer over the previous one:
//   raw Sync          a pg protocol Sync → ReadyForQuery on a raw socket: loopback + server wake-up
//   pg SELECT 1       node-postgres, named prepared statement
//   pg same SQL       node-postgres running the statement(s) our core sends (taken off the
//                     wire with lib/wire-tap.js), named prepared statements, same parameters
//   native no-DB      the addon's call with an argument the core answers without Postgres
//                     (createInventoryItems([])): napi in/out, tokio hand-off, promise
//   native call       the addon's call, arguments pre-serialized: + pool, tokio-postgres, DB
//   facade            InventoryService.<m>: + argument JSON, result JSON.parse and Dates
//   medusa            app.modules.inventory.<m>: + Medusa's adapter
// and the server's own time for the statement(s), from EXPLAIN (ANALYZE) (execution +
// planning), averaged over many runs, with how often Postgres chose a custom plan (one
// it plans on every execution) for each replayed statement. Both parts also time the JS
// layers alone: facade and adapter over a stand-in addon that answers at once with the
// output text of one real call.
//
// Part "loop" (for V8 profiles): --op=<part of an operation's name> --path=medusa|standalone
// --n=N [--prof=FILE.cpuprofile --interval=µs] runs one call in a loop, profiling the loop
// alone (not loading and seeding); open the file in Chrome DevTools.
const { benchRoot } = require('./lib/one-medusa')
const { MedusaApp, MedusaModule } = require('@medusajs/framework/modules-sdk')
const { ContainerRegistrationKeys, Modules } = require('@medusajs/framework/utils')
const net = require('node:net')
const { Client } = require('pg')
const { startTap, describeTraffic } = require('./lib/wire-tap')

const argv = Object.fromEntries(
  process.argv.slice(2).map((a) => {
    const [k, v] = a.replace(/^--/, '').split('=')
    return [k, v ?? true]
  }),
)
const PART = argv.part || 'all'
const ROUNDS = Number(argv.rounds || 40)
const CHUNK = Number(argv.chunk || 25)
const ITEMS = Number(argv.items || 1000)
const BASE_URL = process.env.DATABASE_URL
if (!BASE_URL) {
  console.error('profile-call.js: set DATABASE_URL (e.g. postgres://postgres@127.0.0.1:5432/postgres)')
  process.exit(2)
}
const LOCATIONS = ['sloc_prof_1', 'sloc_prof_2', 'sloc_prof_3', 'sloc_prof_4', 'sloc_prof_5']

const hr = () => process.hrtime.bigint()
const us = (a, b) => Number(b - a) / 1000

function stats(samples) {
  const s = Float64Array.from(samples).sort()
  const n = s.length
  const lo = Math.floor(n * 0.05)
  const hi = Math.ceil(n * 0.95)
  let sum = 0
  for (let i = lo; i < hi; i++) sum += s[i]
  return { n, p50: s[Math.floor(n / 2)], mean: sum / (hi - lo) }
}

const f1 = (x) => (x === null || x === undefined ? '' : x.toFixed(1))

function table(header, rows) {
  const all = [header, ...rows.map((r) => r.map((c) => (typeof c === 'number' ? f1(c) : String(c ?? ''))))]
  const w = header.map((_, i) => Math.max(...all.map((r) => r[i].length)))
  const line = (r) => `| ${r.map((c, i) => (i ? c.padStart(w[i]) : c.padEnd(w[i]))).join(' | ')} |`
  console.log(line(all[0]))
  console.log(`|${w.map((x, i) => (i ? '-'.repeat(x + 1) + ':' : ':' + '-'.repeat(x + 1))).join('|')}|`)
  for (const r of all.slice(1)) console.log(line(r))
}

/** Runs the paths interleaved (see the top of the file); resolves to one stats object per path. */
async function interleave(paths, { rounds = ROUNDS, chunk = CHUNK, warm = 2 } = {}) {
  const samples = paths.map(() => [])
  const cpu = paths.map(() => 0)
  let i = 0
  for (let r = -warm; r < rounds; r++) {
    const order = r % 2 ? [...paths.keys()].reverse() : [...paths.keys()]
    for (const p of order) {
      const fn = paths[p].fn
      const c0 = process.cpuUsage()
      for (let c = 0; c < chunk; c++) {
        const t0 = hr()
        await fn(i++)
        const t1 = hr()
        if (r >= 0) samples[p].push(us(t0, t1))
      }
      const dc = process.cpuUsage(c0)
      if (r >= 0) cpu[p] += dc.user + dc.system
    }
  }
  // cpu: the process's CPU time per call (every thread: JS, tokio, libuv), µs.
  return samples.map((s, p) => ({ ...stats(s), cpu: cpu[p] / s.length }))
}

// ---- database ------------------------------------------------------------------

async function ownDatabase() {
  const name = `profile_call_${process.pid}`
  const admin = new Client({ connectionString: BASE_URL })
  await admin.connect()
  try {
    await admin.query(`CREATE DATABASE ${name}`)
    // --async-commit: writes stop waiting for the WAL flush, whose spread (ms) hides µs differences.
    if (argv['async-commit']) await admin.query(`ALTER DATABASE ${name} SET synchronous_commit = off`)
    const url = new URL(BASE_URL)
    url.pathname = `/${name}`
    return {
      url: url.toString(),
      schema: 'public',
      async drop() {
        await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`)
        await admin.end()
      },
    }
  } catch (e) {
    if (e.code !== '42501') throw e
    // No CREATEDB: a schema of our own.
    await admin.query(`CREATE SCHEMA ${name}`)
    return {
      url: BASE_URL,
      schema: name,
      async drop() {
        await admin.query(`DROP SCHEMA IF EXISTS ${name} CASCADE`)
        await admin.end()
      },
    }
  }
}

async function boot(db) {
  const knex = require('@medusajs/framework/utils').ModulesSdkUtils.createPgConnection({
    clientUrl: db.url,
    schema: db.schema,
    pool: { min: 0, max: 2 },
  })
  const quiet = { error: (...a) => console.error(...a), warn: () => {}, shouldLog: () => false }
  const logger = new Proxy(quiet, { get: (t, k) => t[k] ?? (() => {}) })
  // Events are composed (as in an app) and dropped.
  const eventBus = { async emit() {}, subscribe() {}, unsubscribe() {} }
  const warn = console.warn
  console.warn = (...a) => {
    if (typeof a[0] === 'string' && a[0].startsWith('Error initializing link modules')) return
    warn(...a)
  }
  const app = await MedusaApp({
    cwd: benchRoot,
    sharedResourcesConfig: { database: { clientUrl: db.url, schema: db.schema } },
    injectedDependencies: {
      [ContainerRegistrationKeys.PG_CONNECTION]: knex,
      [ContainerRegistrationKeys.LOGGER]: logger,
      [Modules.EVENT_BUS]: eventBus,
    },
    modulesConfig: {
      [Modules.INVENTORY]: {
        resolve: require.resolve('medusa-inventory-rs/medusa'),
        options: { database: { clientUrl: db.url, schema: db.schema, connection: knex, pool: { max: 4 } } },
      },
    },
  })
  const svc = app.modules[Modules.INVENTORY]
  // The standalone InventoryService the adapter calls into: same pool, same connections.
  const standalone = svc.connection_
  if (!standalone) throw new Error('the adapter holds no connection_ (has medusa/index.js changed?)')
  return {
    svc,
    standalone,
    async stop() {
      await app.onApplicationShutdown()
      MedusaModule.clearInstances()
      await knex.destroy().catch(() => {})
    },
  }
}

async function seed(inv) {
  const items = []
  for (let start = 0; start < ITEMS; start += 500) {
    const batch = []
    for (let i = start; i < Math.min(ITEMS, start + 500); i++) {
      batch.push({ sku: `PROF-${i}`, title: `Profile shirt ${i}`, description: `Cotton shirt number ${i}` })
    }
    items.push(...(await inv.createInventoryItems(batch)))
  }
  const levels = []
  for (const it of items)
    for (const loc of LOCATIONS)
      levels.push({ inventory_item_id: it.id, location_id: loc, stocked_quantity: 1_000_000 })
  for (let start = 0; start < levels.length; start += 1000)
    await inv.createInventoryLevels(levels.slice(start, start + 1000))
  return items.map((i) => i.id)
}

// ---- the operations -----------------------------------------------------------

function operations(items) {
  const item = (i) => items[(i * 7919) % items.length]
  let line = 0
  return [
    {
      name: 'retrieveAvailableQuantity (2 locations)',
      call: (s, i) => s.retrieveAvailableQuantity(item(i), [LOCATIONS[0], LOCATIONS[1]]),
    },
    { name: 'confirmInventory (1 location)', call: (s, i) => s.confirmInventory(item(i), [LOCATIONS[0]], 1) },
    {
      name: 'createReservationItems (1 line)',
      call: (s, i) =>
        s.createReservationItems([
          { inventory_item_id: item(i), location_id: LOCATIONS[1], quantity: 1, line_item_id: `ordli_prof_${line++}` },
        ]),
    },
    { name: 'adjustInventory', call: (s, i) => s.adjustInventory(item(i), LOCATIONS[2], i % 2 ? 1 : -1) },
    { name: 'listInventoryItems (q, take 50)', call: (s) => s.listInventoryItems({ q: 'shirt' }, { take: 50 }) },
    // Answered by the core without Postgres: the adapter's cost with no database noise.
    { name: 'createInventoryItems([]) (no database)', call: (s) => s.createInventoryItems([]) },
    // For --part=loop only (the adapter part would create a million items).
    {
      name: 'createInventoryItems (1000 at once)',
      loopOnly: true,
      call: (s, i) =>
        s.createInventoryItems(
          Array.from({ length: 1000 }, (_, j) => ({
            sku: `PROF-${process.pid}-${line++}-${i}-${j}`,
            title: 'Profiled',
          })),
        ),
    },
  ]
}

async function partAdapter(env) {
  console.log(`\n## Medusa adapter overhead per call (µs; ${ROUNDS} rounds × ${CHUNK} calls per path, interleaved)\n`)
  const rows = []
  for (const op of operations(env.items).filter((o) => !o.loopOnly)) {
    const [medusa, standalone] = await interleave([
      { fn: (i) => op.call(env.svc, i) },
      { fn: (i) => op.call(env.standalone, i) },
    ])
    const js = await isolatedJs(env.standalone._native, op.call)
    rows.push([
      op.name,
      medusa.p50,
      standalone.p50,
      medusa.p50 - standalone.p50,
      medusa.mean - standalone.mean,
      medusa.cpu - standalone.cpu,
      js.adapter,
    ])
  }
  table(['call', 'medusa p50', 'standalone p50', 'Δ p50', 'Δ mean', 'Δ CPU', 'adapter JS alone'], rows)
  console.log(
    "\n(adapter JS alone: the adapter over a stand-in addon that answers at once with a real call's output; mean µs.)",
  )
  console.log(
    '\n(Δ CPU: process CPU time per call, all threads; it does not wait on Postgres, so it is the steadier measure of the adapter.)',
  )
}

/** --part=loop --op=<substring of an operation name> --path=medusa|standalone --n=N: for node --cpu-prof. */
async function loop(env) {
  const op = operations(env.items).find((o) => o.name.includes(argv.op || 'retrieveAvailableQuantity'))
  const target = argv.path === 'standalone' ? env.standalone : env.svc
  const n = Number(argv.n || 20000)
  for (let i = 0; i < Math.min(n, op.loopOnly ? 20 : 500); i++) await op.call(target, i)
  // --prof=FILE: a V8 CPU profile of the loop alone (not of loading and seeding).
  const session = argv.prof ? new (require('node:inspector').Session)() : null
  const post = (m, p) => new Promise((resolve, reject) => session.post(m, p, (e, r) => (e ? reject(e) : resolve(r))))
  if (session) {
    session.connect()
    await post('Profiler.enable')
    await post('Profiler.setSamplingInterval', { interval: Number(argv.interval || 50) })
    await post('Profiler.start')
  }
  const c0 = process.cpuUsage()
  const t0 = hr()
  for (let i = 0; i < n; i++) await op.call(target, i)
  const wall = us(t0, hr()) / n
  const cpu = process.cpuUsage(c0)
  if (session) {
    const { profile } = await post('Profiler.stop')
    require('node:fs').writeFileSync(argv.prof, JSON.stringify(profile))
    session.disconnect()
  }
  console.log(
    `${op.name} × ${n} on ${argv.path || 'medusa'}: ${f1(wall)} µs per call, CPU ${f1((cpu.user + cpu.system) / n)} µs per call`,
  )
}

// ---- end to end -----------------------------------------------------------------

/** A raw protocol connection (trust or no auth only): Sync → ReadyForQuery round trips. */
async function rawSync(url) {
  const u = new URL(url)
  const sock = net.connect(Number(u.port || 5432), u.hostname)
  await new Promise((resolve, reject) => sock.once('connect', resolve).once('error', reject))
  sock.setNoDelay(true)
  let waiting = null
  let buf = Buffer.alloc(0)
  sock.on('data', (d) => {
    buf = Buffer.concat([buf, d])
    while (buf.length >= 5) {
      const len = buf.readInt32BE(1)
      if (buf.length < 1 + len) break
      const type = String.fromCharCode(buf[0])
      buf = buf.subarray(1 + len)
      if (type === 'Z' && waiting) {
        const w = waiting
        waiting = null
        w()
      }
    }
  })
  const params = Buffer.from(
    `user\0${decodeURIComponent(u.username || 'postgres')}\0database\0${u.pathname.slice(1)}\0\0`,
  )
  const start = Buffer.alloc(8)
  start.writeInt32BE(8 + params.length, 0)
  start.writeInt32BE(196608, 4)
  const ready = () => new Promise((resolve) => (waiting = resolve))
  let p = ready()
  sock.write(Buffer.concat([start, params]))
  await p
  const sync = Buffer.from([0x53, 0, 0, 0, 4])
  return {
    async roundTrip() {
      p = ready()
      sock.write(sync)
      await p
    },
    close: () => sock.destroy(),
  }
}

/** The statements one call sends, taken off the wire (a pool of one, through the tap). */
async function captureStatements(db, call) {
  const { InventoryService } = require('medusa-inventory-rs')
  const tap = await startTap(db.url)
  const url = new URL(tap.url)
  const inv = await InventoryService.connect({ url: url.toString(), schema: db.schema, maxConnections: 1 })
  try {
    await call(inv, 0) // connect and prepare
    const mark = tap.mark()
    await call(inv, 1)
    const events = tap.since(mark)
    const traffic = describeTraffic(events)
    const executed = events
      .filter((e) => e.type === 'B' || e.type === 'Q')
      .map((e) => ({ sql: e.sql, params: e.params || [] }))
    return { ...traffic, executed }
  } finally {
    inv.close()
    await tap.close()
  }
}

/** tokio-postgres sends text[] in binary; node-postgres takes a JS array for it. */
function jsParam(p) {
  if (p && typeof p === 'object' && Array.isArray(p.array)) return p.array
  if (p && typeof p === 'object' && p.hex) throw new Error(`binary parameter not replayable: ${p.hex}`)
  return p
}

async function serverTime(client, executed, runs, tag, param = jsParam) {
  // EXPLAIN (ANALYZE) each statement that can be explained, in a transaction rolled
  // back each run, so writes leave nothing behind.
  let exec = 0
  let plan = 0
  let explained = 0
  for (let r = 0; r < runs; r++) {
    await client.query('BEGIN')
    for (const [k, s] of executed.entries()) {
      const sql = s.sql.trim()
      if (/^(BEGIN|START|COMMIT|ROLLBACK|SET|SAVEPOINT|RELEASE)/i.test(sql)) continue
      const res = await client.query({
        name: `explain_${tag}_${k}`,
        text: `EXPLAIN (ANALYZE, TIMING OFF, FORMAT JSON) ${sql}`,
        values: s.params.map((p) => param(p, r)),
      })
      const plan0 = res.rows[0]['QUERY PLAN'][0]
      exec += plan0['Execution Time']
      plan += plan0['Planning Time']
      if (r === 0) explained++
    }
    await client.query('ROLLBACK')
  }
  return { exec_us: (exec / runs) * 1000, plan_us: (plan / runs) * 1000, explained }
}

/**
 * The JS layers alone: the facade and the adapter over an addon stand-in that resolves at
 * once to the output text of one real call of `call` (recorded), each timed against the
 * layer below. No database, no thread hand-off: what the JS itself costs, µs per call.
 */
async function isolatedJs(nativeHandle, call) {
  const { InventoryService } = require('medusa-inventory-rs')
  const { InventoryModuleService } = require('medusa-inventory-rs/medusa')
  let text
  const recorder = { call: async (...a) => (text = await nativeHandle.call(...a)) }
  await call(new InventoryService(recorder, {}), 900000)
  const native = { call: () => Promise.resolve(text) }
  const facade = new InventoryService(native, {})
  const adapter = new InventoryModuleService(
    { medusaInventoryRsConnection: facade, medusaInventoryRsOptions: {}, event_bus: { async emit() {} } },
    {},
  )
  const [a, f, n] = await interleave(
    [{ fn: (i) => call(adapter, i) }, { fn: (i) => call(facade, i) }, { fn: () => native.call() }],
    { rounds: 100, chunk: 50, warm: 20 },
  )
  return { adapter: a.mean - f.mean, facade: f.mean - n.mean }
}

async function partE2E(env) {
  const pg = new Client({ connectionString: env.db.url, options: `-c search_path=${env.db.schema}` })
  // Dropping the database at the end ends this connection too; not an error then.
  pg.on('error', () => {})
  await pg.connect()
  const raw = await rawSync(env.db.url)
  const nativeHandle = env.standalone._native
  const items = env.items
  const item = (i) => items[(i * 7919) % items.length]
  let line = 0
  let pgLine = 0
  const cases = [
    {
      name: 'retrieveAvailableQuantity (2 locations)',
      method: 'retrieveAvailableQuantity',
      args: (i) => [item(i), [LOCATIONS[0], LOCATIONS[1]]],
      call: (s, i) => s.retrieveAvailableQuantity(item(i), [LOCATIONS[0], LOCATIONS[1]]),
    },
    {
      name: 'createReservationItems (1 line)',
      method: 'createReservationItems',
      args: (i) => [
        [{ inventory_item_id: item(i), location_id: LOCATIONS[3], quantity: 1, line_item_id: `ordli_e2e_${line++}` }],
      ],
      call: (s, i) =>
        s.createReservationItems([
          { inventory_item_id: item(i), location_id: LOCATIONS[3], quantity: 1, line_item_id: `ordli_e2e_${line++}` },
        ]),
    },
  ]
  for (const c of cases) {
    const captured = await captureStatements(env.db, (inv, i) => c.call(inv, i + 100000))
    // The same statements over node-postgres, with the captured parameters; ids that must
    // be fresh per call (the new reservation's id, the line item) are made fresh.
    const freshOne = (p, i) =>
      typeof p === 'string' && /^(resitem_|ordli_|imov_)/.test(p) ? `${p}_pg${i}_${pgLine++}` : p
    const fresh = (p, i) => {
      const v = jsParam(p)
      return Array.isArray(v) ? v.map((x) => freshOne(x, i)) : freshOne(v, i)
    }
    // COMMIT's own time (the WAL flush a write waits for), summed over the replays.
    const commit = []
    const replay = async (i) => {
      for (const [k, s] of captured.executed.entries()) {
        const sql = s.sql.trim()
        if (/^COMMIT/i.test(sql)) {
          const t0 = hr()
          await pg.query(sql)
          commit.push(us(t0, hr()))
        } else if (/^(BEGIN|START TRANSACTION|ROLLBACK)/i.test(sql) && !s.params.length) await pg.query(sql)
        else await pg.query({ name: `${c.method}_${k}`, text: sql, values: s.params.map((p) => fresh(p, i)) })
      }
    }
    const server = await serverTime(pg, captured.executed, 200, c.method, fresh)
    const payload = (i) => JSON.stringify(c.args(i))
    const opts = c.method === 'createReservationItems' ? '{}' : null
    const results = await interleave(
      [
        { name: 'raw Sync round trip', fn: () => raw.roundTrip() },
        { name: 'pg SELECT 1', fn: () => pg.query({ name: 'select1', text: 'SELECT 1' }) },
        {
          name: `pg same SQL (${captured.statements.length} statements, ${captured.messages} round trips)`,
          fn: replay,
        },
        { name: 'native no-DB call', fn: () => nativeHandle.call('createInventoryItems', '[[]]', null) },
        { name: 'native call (args pre-serialized)', fn: (i) => nativeHandle.call(c.method, payload(i), opts) },
        { name: 'facade (standalone InventoryService)', fn: (i) => c.call(env.standalone, i) },
        { name: 'medusa (app.modules.inventory)', fn: (i) => c.call(env.svc, i) },
      ].map((p) => ({ ...p })),
      {},
    )
    // Whether Postgres plans the replayed statements each time (custom) or reuses a generic plan.
    const perStatement = (
      await pg.query(
        `SELECT name, generic_plans::int AS generic, custom_plans::int AS custom
                        FROM pg_prepared_statements WHERE name LIKE $1 ORDER BY name`,
        [`${c.method}_%`],
      )
    ).rows
    const plans = { generic: 0, custom: 0 }
    for (const r of perStatement) {
      plans.generic += r.generic
      plans.custom += r.custom
    }
    const names = [
      'raw Sync round trip',
      'pg SELECT 1 (node-postgres)',
      `pg same SQL (${captured.statements.length} statements, ${captured.messages} round trips)`,
      'native no-DB call',
      'native call (args pre-serialized)',
      'facade (standalone InventoryService)',
      'medusa (app.modules.inventory)',
    ]
    const js = await isolatedJs(nativeHandle, c.call)
    console.log(`\n## ${c.name}: layers (µs; ${ROUNDS} rounds × ${CHUNK} calls per path, interleaved)\n`)
    console.log('Statements on the wire:')
    for (const [k, s] of captured.statements.entries()) {
      const p = perStatement.find((r) => r.name === `${c.method}_${k}`)
      const planned = p ? ` [replayed: ${p.generic} generic, ${p.custom} custom plans]` : ''
      console.log(`  ${s.length > 140 ? s.slice(0, 137) + '...' : s}${planned}`)
    }
    console.log()
    table(
      ['path', 'p50', 'mean', 'CPU'],
      names.map((n, k) => [n, results[k].p50, results[k].mean, results[k].cpu]),
    )
    const [rawS, , same, noDb, nat] = results.map((r) => r.p50)
    const med = results[6].p50
    console.log(
      `\nServer time (EXPLAIN (ANALYZE, TIMING OFF), ${server.explained} statement(s), mean of 200 runs): execution ${f1(server.exec_us)} µs, ` +
        `planning ${f1(server.plan_us)} µs (a custom plan; the replayed prepared statements got ${plans.generic} generic and ${plans.custom} custom plans)\n`,
    )
    console.log('Breakdown:\n')
    table(
      ['layer', 'µs', 'how'],
      [
        ['Medusa adapter JS (medusa/index.js)', js.adapter, "in isolation, on this call's real output"],
        ['JS facade (argument JSON, JSON.parse, Dates)', js.facade, "in isolation, on this call's real output"],
        ['napi in/out + tokio hand-off + promise', noDb, 'native no-DB call, p50'],
        ['Rust DB side: pool, tokio-postgres, round trips', nat - noDb, 'native call − native no-DB, p50'],
        ['  of which: protocol round trips', captured.roundTrips * rawS, `${captured.roundTrips} × raw Sync, p50`],
        ['  of which: server execution', server.exec_us, 'EXPLAIN ANALYZE'],
        [
          '  of which: server planning',
          (server.plan_us * plans.custom) / Math.max(1, plans.custom + plans.generic),
          `EXPLAIN planning × share of custom plans (${plans.custom} of ${plans.custom + plans.generic})`,
        ],
        ...(commit.length ? [['  of which: COMMIT (WAL flush)', stats(commit).p50, 'COMMIT of pg same SQL, p50']] : []),
        ['  for comparison: node-postgres, same SQL', same, 'pg same SQL, p50'],
        ['total (medusa path)', med, 'p50'],
        ['  medusa − facade', results[6].p50 - results[5].p50, 'p50 (what the adapter adds, as measured end to end)'],
        ['  facade − native call', results[5].p50 - results[4].p50, 'p50'],
      ],
    )
  }
  raw.close()
  await pg.end()
}

async function main() {
  const db = await ownDatabase()
  let app
  try {
    const { InventoryService } = require('medusa-inventory-rs')
    const inv = await InventoryService.connect({ url: db.url, schema: db.schema })
    await inv.migrate()
    const items = await seed(inv)
    inv.close()
    const pg = new Client({ connectionString: db.url })
    await pg.connect()
    await pg.query(`ANALYZE`)
    await pg.end()
    app = await boot(db)
    const env = { db, items, svc: app.svc, standalone: app.standalone }
    console.log(`profile-call: ${ITEMS} items × ${LOCATIONS.length} locations; node ${process.version}`)
    if (PART === 'loop') await loop(env)
    if (PART === 'all' || PART === 'adapter') await partAdapter(env)
    if (PART === 'all' || PART === 'e2e') await partE2E(env)
  } finally {
    if (app) await app.stop()
    await db.drop()
  }
}

main().catch((e) => {
  console.error(e)
  process.exitCode = 1
})
