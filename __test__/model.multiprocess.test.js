'use strict'
// Model-based property test across several Node processes. PROPERTY_PROCS workers
// (support/model-worker.js), each with its own InventoryService on one schema, run
// seeded random write sequences concurrently on the SAME items and locations.
//
// How it stays exact although the calls interleave: the run is cut into epochs
// (seeded sizes, 1..6 calls per process). In an epoch every worker runs its calls
// back to back while the others do the same; then all stop (a barrier) and the
// test reads the database. Each call was logged with its arguments and outcome
// (typed error, or the value it returned: levels with exact raw stocked and
// reserved quantities, reservations with ids and quantities, reads). The test
// then searches for a linearization: an order of all the epoch's calls that keeps
// each process's own order and in which every call, applied to the exact model
// (support/model.js) from the state at the previous barrier, has exactly the
// logged outcome; and the state it ends in must be the database's. The search is
// a breadth-first walk over the lattice of per-process prefixes, keeping the set
// of distinct model states reachable at each point, so it stays small. Because
// every adjust and update returns the level it left, the stocked values pin the
// commit order of competing absolute and relative writes: no owner process is
// needed for updateInventoryLevels. Within an epoch only the per-process order is
// enforced (not real time across processes); the barriers order the epochs.
//
// At every barrier the SQL invariants are checked on all levels of the schema
// (support/model.js, invariants): reserved = sum of the live reservations, raw_*
// columns agree, reserved >= 0, stocked, reserved and available inside the quantity
// domain (|q| < 10^28, at most 28 significant digits), reserved > stocked only where
// a backorder reservation is live or the stock was lowered, every live reservation at
// a live level, every quantity the sum of its ledger movements. Each worker also
// checks its own reservations (only their creator changes their quantity or location)
// against its own model, and the test compares those models with the database.
//
// The workload (support/model-ops.js) includes soft deletes, restores and hard
// deletes of items, levels and reservations, levels re-created at an item and
// location, and updateReservationItems (quantities and moves). Some epochs are
// held: a side session locks every reservation and level of the round before the
// workers start, and lets go once each worker waits behind it (or is done), so their
// first writes queue on the same rows and each runs with a snapshot older than the
// commit it waited for (how a write queued behind a restore goes wrong). Every
// second round is a race round: one item at two locations, a mix of reservations,
// level and item soft deletes and restores, updates and moves, one call per process
// per epoch, every epoch held. A `conflict` from a removal or restore that kept
// meeting new rows while it took its locks is a call that wrote nothing; PROPERTY_STATS=1
// lists them. A deadlock Postgres had to break (SQLSTATE 40P01) fails the test: calls
// lock in one order, so none can wait for another in a cycle.
//
// Rounds of ROUND calls per process start from fresh items, which keeps the model
// small. PROPERTY_SEED, PROPERTY_PROCS (3), PROPERTY_STEPS (calls per process,
// 1000; PROPERTY_LONG=1 makes it 4000). A failure names the seed, round and epoch
// and prints the epoch's calls and outcomes; the interleaving itself is up to the
// scheduler, so the printed log, not the seed alone, is the reproduction.
const path = require('node:path')
const { fork } = require('node:child_process')
const fc = require('fast-check')
const { freshService, ledgerGaps, ledgerOutOfOrder, sql, DATABASE_URL } = require('./helpers')
const M = require('./support/model')
const O = require('./support/model-ops')

const SEED = Number(process.env.PROPERTY_SEED ?? 42)
const PROCS = Number(process.env.PROPERTY_PROCS ?? 3)
const STEPS = Number(process.env.PROPERTY_STEPS ?? (process.env.PROPERTY_LONG === '1' ? 4000 : 1000))
const ROUND = 40
const ROUNDS = Math.ceil(STEPS / ROUND)

// Every RACE-th round (from the second) is a race round: the raceOp mix, epochs of one
// call per process, every epoch held (below).
const RACE = 2
const roundPlan = (race) =>
  fc.record({
    start: race
      ? fc.constant([
          { item: 0, loc: 'a', stocked: 20 },
          { item: 0, loc: 'b', stocked: 20 },
        ])
      : O.start,
    sizes: fc.array(fc.integer({ min: 1, max: race ? 1 : 6 }), { minLength: ROUND, maxLength: ROUND }),
    // Epochs that start with every row of the round locked by a side session, released once
    // every process waits (or is done): their first writes queue on the same rows and run in
    // the lock queue's order, each with a snapshot from before the one ahead committed.
    hold: fc.array(race ? fc.constant(true) : fc.nat(2).map((x) => x === 0), { minLength: ROUND, maxLength: ROUND }),
    ops: fc.array(fc.array(race ? O.raceOp : O.op, { minLength: ROUND, maxLength: ROUND }), {
      minLength: PROCS,
      maxLength: PROCS,
    }),
  })

/** Per-process request/response over the IPC channel. */
function spawnWorker(i) {
  const child = fork(path.join(__dirname, 'support', 'model-worker.js'), [], {
    env: { ...process.env, MODEL_WORKER_INDEX: String(i) },
    execArgv: [],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  })
  let waiting = null
  child.on('message', (m) => {
    const wt = waiting
    waiting = null
    if (!wt) return
    if (m.crash) wt.reject(new Error(`worker ${i} crashed: ${m.crash}`))
    else wt.resolve(m)
  })
  child.on('exit', (code) => waiting && waiting.reject(new Error(`worker ${i} exited (${code})`)))
  return {
    child,
    ask: (msg) =>
      new Promise((resolve, reject) => {
        waiting = { resolve, reject }
        child.send(msg)
      }),
  }
}

/**
 * All linearizations of the epoch's logs from the start states: the distinct model
 * states they end in, or { fail } describing where every order got stuck.
 */
function linearize(starts, logs) {
  const n = logs.length
  let layer = new Map([[logs.map(() => 0).join(','), { vec: logs.map(() => 0), states: starts }]])
  const total = logs.reduce((a, l) => a + l.length, 0)
  for (let depth = 0; depth < total; depth++) {
    const next = new Map()
    for (const { vec, states } of layer.values()) {
      for (let p = 0; p < n; p++) {
        if (vec[p] >= logs[p].length) continue
        const e = logs[p][vec[p]]
        for (const s of states.values()) {
          const after = apply(s, e)
          if (!after.next) continue
          const nv = vec.slice()
          nv[p]++
          const k = nv.join(',')
          if (!next.has(k)) next.set(k, { vec: nv, states: new Map() })
          const slot = next.get(k).states
          slot.set(M.stateKey(after.next), after.next)
          if (slot.size > 5000) return { fail: `search too wide at ${k}` }
        }
      }
    }
    if (!next.size) return { fail: stuck(layer, logs) }
    layer = next
  }
  return { ends: [...layer.values()][0].states }
}

/** One logged call on model state s: { next } if the model explains its outcome, else { why }. */
function apply(s, e) {
  const pr = M.predict(s, e.c)
  const err = e.outcome.err
  // A deadlock means two calls locked rows in different orders: never explained.
  if (err && err.sqlState === '40P01') return { why: `Postgres broke a deadlock (${err.message})` }
  // `conflict`: a removal or restore that kept meeting new rows while it took its locks
  // gave up: it wrote nothing. Counted (stats.conflicts), not failed.
  if (err && err.type === 'conflict') return { next: s }
  if (err) {
    return pr.refuse && pr.refuse.includes(err.type)
      ? { next: s }
      : { why: pr.refuse ? `model refuses with ${pr.refuse.join('|')}` : 'model accepts' }
  }
  if (!pr.accept) return { why: `model refuses with ${pr.refuse.join('|')}` }
  const r = pr.accept(e.outcome.ok)
  return r.next ? { next: r.next } : { why: r.bad }
}

const show = (x) => JSON.stringify(x, (_, v) => (typeof v === 'bigint' ? M.text(v) : v))
function stuck(layer, logs) {
  const lines = ['no order of the calls explains their outcomes; deepest prefixes reached:']
  for (const { vec, states } of [...layer.values()].slice(0, 3)) {
    const s = states.values().next().value
    lines.push(`  after ${vec.map((v, p) => `${v} calls of process ${p}`).join(', ')}, model state:`)
    const rows = M.modelRows(s)
    lines.push(...rows.levels.map((l) => `    level ${l}`), ...rows.res.map((r) => `    reservation ${r}`))
    for (let p = 0; p < logs.length; p++) {
      const e = logs[p][vec[p]]
      if (e) lines.push(`    next of process ${p}: ${show(e.c)} -> ${summary(e.outcome)}: ${apply(s, e).why}`)
    }
  }
  return lines.join('\n')
}
function summary(o) {
  if (o.err) return `${o.err.type} (${o.err.message})`
  const v = o.ok
  const one = (d) =>
    d && d.raw_stocked_quantity
      ? `level ${d.id} ${d.raw_stocked_quantity.value}/${d.raw_reserved_quantity.value}`
      : d && d.raw_quantity
        ? `reservation ${d.id} ${d.location_id} ${d.raw_quantity.value}`
        : show(d)
  return `ok ${Array.isArray(v) ? `[${v.map(one).join(', ')}]` : one(v)}`
}

let t
let holder // the side session of the `hold` epochs
let workers = []
beforeAll(async () => {
  t = await freshService('mproc', { groupReservations: false })
  holder = await sql(t.schema)
  workers = Array.from({ length: PROCS }, (_, i) => spawnWorker(i))
  await Promise.all(workers.map((wk) => wk.ask({ cmd: 'connect', url: DATABASE_URL, schema: t.schema })))
})
afterAll(async () => {
  await Promise.all(
    workers.map(
      (wk) =>
        new Promise((resolve) => {
          wk.child.once('exit', resolve)
          wk.child.send({ cmd: 'close' })
        }),
    ),
  )
  await holder.end()
  await t.cleanup()
})

/**
 * Ends the holder's transaction once every worker still in its epoch waits behind it
 * (directly or behind another waiter), or has finished. Not a timing assertion: the
 * poll only decides when to let go (at the latest after about 10 s).
 */
async function releaseWhenQueued(asked) {
  let done = 0
  for (const a of asked)
    a.then(
      () => done++,
      () => done++,
    )
  for (let i = 0; i < 2000; i++) {
    const { rows } = await t.db.query(
      `WITH RECURSIVE w(pid) AS (
         SELECT pid FROM pg_stat_activity WHERE $1 = ANY(pg_blocking_pids(pid))
         UNION SELECT a.pid FROM pg_stat_activity a JOIN w ON w.pid = ANY(pg_blocking_pids(a.pid)))
       SELECT count(*)::int AS n FROM w`,
      [holder.processID],
    )
    if (rows[0].n + done >= PROCS) break
    await new Promise((res) => setTimeout(res, 5))
  }
  stats.held++
  await holder.query('COMMIT')
}

const stats = { calls: 0, epochs: 0, held: 0, outcomes: {}, conflicts: [] }
afterAll(() => {
  if (process.env.PROPERTY_STATS) console.log(stats)
})

test(
  `${PROCS} processes x ${STEPS} random writes on shared levels stay linearizable against the model`,
  async () => {
    const where = (round, epoch) =>
      `PROPERTY_SEED=${SEED} PROPERTY_PROCS=${PROCS} PROPERTY_STEPS=${STEPS}: round ${round}${round % RACE === 1 ? ' (race)' : ''}, epoch ${epoch}`
    const lowered = new Set() // item|loc where an acknowledged write lowered the stock
    for (let round = 0; round < ROUNDS; round++) {
      const race = round % RACE === 1
      const plan = fc.sample(roundPlan(race), { seed: SEED + round * 7919, numRuns: 1 })[0]
      const items = [
        (await t.inventory.createInventoryItems({ sku: `mp-${round}-0-${Math.random()}` })).id,
        (await t.inventory.createInventoryItems({ sku: `mp-${round}-1-${Math.random()}` })).id,
      ]
      const made = await t.inventory.createInventoryLevels(
        plan.start.map((l) => ({ inventory_item_id: items[l.item], location_id: l.loc, stocked_quantity: l.stocked })),
      )
      let states = new Map()
      {
        const s = M.startState(items, made)
        states.set(M.stateKey(s), s)
      }
      await Promise.all(workers.map((wk) => wk.ask({ cmd: 'round', round })))
      let at = 0
      const steps = Math.min(ROUND, STEPS - round * ROUND)
      for (let epoch = 0; at < steps; epoch++) {
        const size = Math.min(plan.sizes[epoch], steps - at)
        // What the workers may address: the levels and reservations at the barrier.
        const ctx = await O.context(t.db, items)
        const hold = plan.hold[epoch]
        if (hold) {
          await holder.query('BEGIN')
          await holder.query(
            'SELECT id FROM reservation_item WHERE inventory_item_id = ANY($1) ORDER BY id FOR UPDATE',
            [items],
          )
          await holder.query(
            'SELECT id FROM inventory_level WHERE inventory_item_id = ANY($1) ORDER BY id FOR UPDATE',
            [items],
          )
        }
        const asked = workers.map((wk, p) => wk.ask({ cmd: 'epoch', ctx, ops: plan.ops[p].slice(at, at + size) }))
        if (hold) await releaseWhenQueued(asked)
        const replies = await Promise.all(asked)
        at += size
        stats.epochs++
        const logs = replies.map((r) => r.log)
        const epochLog = () =>
          logs
            .map((l, p) => l.map((e) => `  process ${p}: ${show(e.c)} -> ${summary(e.outcome)}`).join('\n'))
            .join('\n')
        const fail = (msg) => {
          throw new Error(`${where(round, epoch)}\n${msg}\nthe epoch's calls, per process in order:\n${epochLog()}`)
        }
        for (const l of logs) {
          for (const e of l) {
            stats.calls++
            const k = `${e.c.op}:${e.outcome.err ? e.outcome.err.type : 'ok'}`
            stats.outcomes[k] = (stats.outcomes[k] ?? 0) + 1
            if (e.complaint) fail(e.complaint)
            if (e.outcome.err?.type === 'conflict') {
              stats.conflicts.push(
                `${e.c.op} (${e.outcome.err.message}) in an epoch of ${logs.map((l2) => l2.map((x) => x.c.op).join(',')).join(' | ')}`,
              )
            }
            if (e.outcome.err) continue
            for (const k of O.lowers(e.c)) lowered.add(k)
          }
        }
        // (1) some order of the calls explains every outcome and ends in the database's state
        const found = linearize(states, logs)
        if (found.fail) fail(found.fail)
        const db = M.normalRows(await M.dbState(t.db, items))
        const matching = new Map([...found.ends].filter(([, s]) => show(M.modelRows(s)) === show(db)))
        if (!matching.size) {
          const s = found.ends.values().next().value
          const m = M.modelRows(s)
          const diff = [
            ...db.items.filter((x) => !m.items.includes(x)).map((x) => `  database item ${x}`),
            ...m.items.filter((x) => !db.items.includes(x)).map((x) => `  model    item ${x}`),
            ...db.stamps.filter((x) => !m.stamps.includes(x)).map((x) => `  database deleted together: ${x}`),
            ...m.stamps.filter((x) => !db.stamps.includes(x)).map((x) => `  model    deleted together: ${x}`),
            ...db.levels.filter((x) => !m.levels.includes(x)).map((x) => `  database level ${x}`),
            ...m.levels.filter((x) => !db.levels.includes(x)).map((x) => `  model    level ${x}`),
            ...db.res.filter((x) => !m.res.includes(x)).map((x) => `  database reservation ${x}`),
            ...m.res.filter((x) => !db.res.includes(x)).map((x) => `  model    reservation ${x}`),
          ]
          fail(
            `the calls linearize, but to ${found.ends.size} state(s) none of which is the database's; first differs in:\n${diff.join('\n')}`,
          )
        }
        states = matching
        // (2) the SQL invariants, over the whole schema
        const problems = await M.invariants(t.db, lowered, ledgerGaps)
        // Per level, the ledger in id order: resulting is the running sum of delta.
        for (const o of await ledgerOutOfOrder(t.db)) {
          problems.push(
            `movement ${o.id} of level ${o.inventory_level_id}: ${o.field} resulting ${o.resulting}, running sum ${o.running}`,
          )
        }
        if (problems.length) fail(`SQL invariants broken:\n  ${problems.join('\n  ')}`)
        // (3) each worker's model of its own reservations
        const live = new Map(
          (
            await t.db.query(
              `SELECT id, location_id, quantity::text AS q FROM reservation_item WHERE inventory_item_id = ANY($1)`,
              [items],
            )
          ).rows.map((r) => [r.id, r]),
        )
        for (const [p, r] of replies.entries()) {
          for (const o of r.own) {
            const d = live.get(o.id)
            if (d && (d.location_id !== o.loc || M.units(d.q) !== BigInt(o.q)))
              fail(
                `process ${p}'s own reservation ${o.id}: database ${d.location_id} ${d.q}, own model ${o.loc} ${M.text(BigInt(o.q))}`,
              )
          }
        }
      }
    }
    expect(stats.calls).toBeGreaterThan(0)
  },
  Math.max(60_000, PROCS * STEPS * 100),
) // longer runs (PROPERTY_STEPS) get time in proportion
