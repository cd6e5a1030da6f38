'use strict'
// The load and the checks shared by the fault test (faults.test.js) and the failover test
// (failover.test.js): seeded load processes (fault-worker.js) on a few hot levels, a row lock
// that makes sure calls of every process are in flight when the fault hits, and the check that
// the data agrees exactly with what the callers were told (see faults.test.js for the rules).
// `connect()` opens a pg Client on the server to check (for the failover test: the new primary).
const path = require('node:path')
const { fork } = require('node:child_process')
const { ledgerGaps, reservedDrift } = require('../helpers')

const APP = 'medusa-inventory-rs'
const sleep = (ms) => new Promise((r) => setTimeout(r, ms))

// ---- load processes ----

/** One load process on `url` (any connection string the module takes), seeded from `seed`. */
function startWorker(worker, levels, { url, schema, keyed, seed, lanes }) {
  const child = fork(path.join(__dirname, 'fault-worker.js'), [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] })
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
      if (child.exitCode !== null || child.signalCode !== null)
        return reject(failed || new Error(`worker ${worker} is gone`))
      pending.set(key, { resolve, reject })
      child.send(msg)
    })
  return {
    child,
    start: () =>
      // Its own application_name tells its sessions apart in pg_stat_activity.
      ask(
        {
          type: 'start',
          url: `${url}${url.includes('?') ? '&' : '?'}application_name=${APP}-${worker}`,
          schema,
          worker,
          seed: seed * 31 + worker,
          lanes,
          levels,
          keyed,
        },
        'ready',
      ),
    epoch: (epoch) => child.send({ type: 'epoch', epoch }),
    /** Resolves once n calls started from now on were acknowledged; rejects if they keep failing. */
    async waitAcks(n) {
      const t = ++token
      const reply = await ask({ type: 'waitAcks', token: t, n, maxFailures: 300 }, t)
      if (!reply.ok) {
        throw new Error(
          `worker ${worker}'s pool did not recover: ${reply.failures.length} calls in a row failed:\n` +
            reply.failures.join('\n'),
        )
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
async function holdHotLevel(connect, admin, schema, levelId, workers) {
  const locker = await connect()
  await locker.query('BEGIN')
  await locker.query(`SELECT 1 FROM "${schema}".inventory_level WHERE id = $1 FOR UPDATE`, [levelId])
  for (;;) {
    const { rows } = await admin.query(
      `SELECT application_name AS app, pid FROM pg_stat_activity WHERE application_name LIKE $1 AND wait_event_type = 'Lock'`,
      [`${APP}-%`],
    )
    if (new Set(rows.map((r) => r.app)).size === workers) return { locker, blocked: rows.map((r) => r.pid) }
    await sleep(5)
  }
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

async function check(connect, calls, levels, { schema, keyed }) {
  const violations = []
  const db = await connect()
  await db.query(`SET search_path TO "${schema}"`)
  try {
    const { rows: reservations } = await db.query(
      `SELECT id, line_item_id, quantity::text, deleted_at IS NOT NULL AS deleted, raw_quantity->>'value' AS raw
         FROM reservation_item`,
    )
    const rowsByLine = new Map()
    for (const r of reservations) {
      if (!rowsByLine.has(r.line_item_id)) rowsByLine.set(r.line_item_id, [])
      rowsByLine.get(r.line_item_id).push(r)
      if (Number(r.raw) !== Number(r.quantity))
        violations.push(`reservation ${r.id}: raw_quantity ${r.raw} != quantity ${r.quantity}`)
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
          .map(
            (o) =>
              `${o.op}${o.quantity ? `(${o.quantity})` : ''}=${o.outcome}${o.errType ? `[${o.errType}: ${o.errMessage}]` : ''}`,
          )
          .join(', ')
        violations.push(
          `line ${line} (${create.item}@${create.loc}) is ${actual}, expected one of {${[...states]}} after ${story}`,
        )
      }
      if (create.outcome === 'ack' && rows.length && rows[0].id !== create.id) {
        violations.push(`line ${line}: acknowledged as ${create.id}, stored as ${rows[0].id}`)
      }
      // Keyed: a create retried after its first attempt committed must not make a second row.
      // (A hard delete leaves no row.)
      const want = create.outcome === 'ack' && !ops.some((o) => o.op === 'delete' && o.outcome === 'ack') ? 1 : 0
      if (keyed && rows.length !== want) {
        violations.push(
          `line ${line}: ${rows.length} reservation rows for a create that was ${create.outcome} after ${create.attempts} attempts`,
        )
      }
    }

    const { rows: levelRows } = await db.query(
      `SELECT id, inventory_item_id AS item, location_id AS loc, stocked_quantity::text AS stocked,
              reserved_quantity::text AS reserved, incoming_quantity::text AS incoming,
              raw_stocked_quantity->>'value' AS raw_stocked, raw_reserved_quantity->>'value' AS raw_reserved,
              raw_incoming_quantity->>'value' AS raw_incoming
         FROM inventory_level WHERE deleted_at IS NULL`,
    )
    for (const level of levels) {
      const row = levelRows.find((r) => r.item === level.item && r.loc === level.loc)
      const name = `level ${level.item}@${level.loc} (${level.kind})`
      if (!row) {
        violations.push(`${name} is gone`)
        continue
      }
      for (const k of ['stocked', 'reserved', 'incoming']) {
        if (Number(row[`raw_${k}`]) !== Number(row[k]))
          violations.push(`${name}: raw_${k}_quantity ${row[`raw_${k}`]} != ${row[k]}`)
      }
      const adjusts = calls.filter((c) => c.op === 'adjust' && c.item === level.item && c.loc === level.loc)
      const sum = (outcome, sign) =>
        adjusts
          .filter((c) => c.outcome === outcome && Math.sign(c.adjustment) === sign)
          .reduce((s, c) => s + c.adjustment, 0)
      const acked = sum('ack', 1) + sum('ack', -1)
      const low = acked + sum('unknown', -1)
      const high = acked + sum('unknown', 1)
      const moved = Number(row.stocked) - level.stock
      if (moved < low || moved > high) {
        violations.push(
          `${name}: stocked moved by ${moved}, acknowledged adjustments sum to ${acked}, unknown ones allow [${low}, ${high}]`,
        )
      }
      const stocked = Number(row.stocked)
      const reserved = Number(row.reserved)
      if (reserved < 0) violations.push(`${name}: reserved_quantity ${reserved} < 0`)
      if (stocked < 0) violations.push(`${name}: stocked_quantity ${stocked} < 0`)
      // Only the backorder level accepts reservations beyond stock, and stock only drops on loose levels.
      if (level.kind !== 'backorder' && stocked - reserved < 0)
        violations.push(`${name}: available ${stocked - reserved} < 0`)
    }

    // Errors: typed, and no raw database text in what callers see (it belongs in `cause`).
    for (const c of calls.filter((c) => c.outcome !== 'ack')) {
      const what = `${c.op} call ${c.worker}/${c.n}`
      if (c.errType === 'untyped') violations.push(`${what} threw a non-Medusa error: ${c.errMessage}`)
      else if (c.outcome === 'refused' && c.errType !== 'not_allowed' && c.errSqlState !== '57P03') {
        violations.push(`${what} was refused with an unexpected type [${c.errType}] ${c.errMessage}`)
      }
      if (c.errCause && c.errMessage.includes(c.errCause))
        violations.push(`${what}: message repeats the raw cause: ${c.errMessage}`)
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
    `SELECT key, method, (extract(epoch FROM created_at) * 1000)::float8 AS at FROM inventory_idempotency_key`,
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
       FROM inventory_movement WHERE idempotency_key IS NOT NULL GROUP BY 1, 2, 3, 4`,
  )
  const movesByKey = new Map()
  for (const m of moves) {
    if (!movesByKey.has(m.key)) movesByKey.set(m.key, [])
    movesByKey.get(m.key).push(m)
    const c = byKey.get(m.key)
    if (m.n !== 1)
      violations.push(`key ${m.key}: ${m.n} movements of ${m.field} at ${m.item}@${m.loc} (applied ${m.n} times?)`)
    if (!c || c.outcome !== 'ack')
      violations.push(`key ${m.key} of a ${c ? c.outcome : 'missing'} call moved ${m.field} by ${m.delta}`)
  }
  for (const c of calls.filter((c) => c.outcome === 'ack' && (c.op === 'adjust' || c.op === 'create'))) {
    const want =
      c.op === 'adjust'
        ? { field: 'stocked_quantity', delta: c.adjustment }
        : { field: 'reserved_quantity', delta: c.quantity }
    const got = (movesByKey.get(c.key) || []).map((m) => ({ field: m.field, delta: Number(m.delta) }))
    if (got.length !== 1 || got[0].field !== want.field || got[0].delta !== want.delta) {
      violations.push(`${c.op} call ${c.key}: movements ${JSON.stringify(got)}, expected [${JSON.stringify(want)}]`)
    }
  }
  return violations
}

// ---- the levels ----

/** Six hot levels on a fresh schema: two tight (refusals happen), one taking backorders, three with plenty of stock. */
async function seedLevels(InventoryService, url, schema) {
  const setup = await InventoryService.connect({ url, schema, maxConnections: 2 })
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
    levels.map((l) => ({ inventory_item_id: l.item, location_id: l.loc, stocked_quantity: l.stock })),
  )
  levels.forEach((l, i) => (l.id = created[i].id))
  await setup.close()
  return levels
}

/** The numbers of a run: calls by outcome and error type, and for a keyed run its retries. */
function callStats(calls, keyed) {
  const count = (f) => calls.filter(f).length
  const byType = (list) => {
    const out = {}
    for (const c of list) {
      const t = `${c.errType} ${c.errSqlState || ''}`.trim()
      out[t] = (out[t] || 0) + 1
    }
    return out
  }
  const stats = {
    keyed,
    calls: calls.length,
    acknowledged: count((c) => c.outcome === 'ack'),
    refused: count((c) => c.outcome === 'refused'),
    unknown: count((c) => c.outcome === 'unknown'),
    refusedByType: byType(calls.filter((c) => c.outcome === 'refused')),
    unknownByType: byType(calls.filter((c) => c.outcome === 'unknown')),
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
      retriedAfter: byType(retried.map((c) => ({ errType: c.retried[0].type, errSqlState: c.retried[0].sqlState }))),
    })
  }
  return stats
}

module.exports = { APP, seedLevels, startWorker, holdHotLevel, check, callStats }
