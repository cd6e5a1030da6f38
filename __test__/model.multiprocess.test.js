'use strict'
// Model-based property test across several Node processes. PROPERTY_PROCS workers
// (support/model-worker.js), each with its own InventoryService on one schema, run
// seeded random write sequences concurrently on the SAME items and locations.
//
// How it stays exact although the calls interleave: the run is cut into epochs
// (seeded sizes, 1..8 calls per process). In an epoch every worker runs its calls
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
// At every barrier the SQL invariants are checked on all levels of the schema:
// reserved = sum of the live reservations, raw_* columns agree, reserved >= 0,
// stocked, reserved and available inside the quantity domain (|q| < 10^28, at
// most 28 significant digits), available < 0 only where a backorder reservation
// is live or the stock was lowered. Each worker also checks its own reservations
// (only their creator changes their quantity or location) against its own model,
// and the test compares those models with the database.
//
// Rounds of ROUND calls per process start from fresh items, which keeps the model
// small. PROPERTY_SEED, PROPERTY_PROCS (3), PROPERTY_STEPS (calls per process,
// 200; PROPERTY_LONG=1 makes it 2000). A failure names the seed, round and epoch
// and prints the epoch's calls and outcomes; the interleaving itself is up to the
// scheduler, so the printed log, not the seed alone, is the reproduction.
const path = require('node:path')
const { fork } = require('node:child_process')
const fc = require('fast-check')
const { freshService, ledgerGaps, ledgerOutOfOrder, DATABASE_URL } = require('./helpers')
const M = require('./support/model')

const SEED = Number(process.env.PROPERTY_SEED ?? 42)
const PROCS = Number(process.env.PROPERTY_PROCS ?? 3)
const STEPS = Number(process.env.PROPERTY_STEPS ?? (process.env.PROPERTY_LONG === '1' ? 2000 : 200))
const ROUND = 40
const LOCS = ['a', 'b', 'c']
const ROUNDS = Math.ceil(STEPS / ROUND)

const itemIx = fc.nat(1)
const loc = fc.constantFrom(...LOCS)
const pick = fc.nat(6) // the n-th most recent reservation; beyond them: an unknown id
const line = fc.option(fc.constantFrom('L1', 'L2', 'shared'), { nil: undefined })
const resLine = { item: itemIx, loc, quantity: M.qty, line }
const w = (weight, arbitrary) => ({ weight, arbitrary })
const rec = (op, fields) => fc.record({ op: fc.constant(op), ...fields })
const ids = { rs: fc.array(pick, { minLength: 1, maxLength: 2 }), shared: fc.boolean() }
const op = fc.oneof(
  w(1, rec('createLevels', { levels: fc.array(fc.record({ item: itemIx, loc, stocked: M.stock }), { minLength: 1, maxLength: 2 }) })),
  w(2, rec('updateLevel', { item: itemIx, loc, stocked: M.stock })),
  w(3, rec('adjust', { item: itemIx, loc, by: M.adj })),
  w(1, rec('adjustMany', { entries: fc.array(fc.record({ item: itemIx, loc, by: M.adj }), { minLength: 1, maxLength: 3 }) })),
  w(3, rec('reserve', { lines: fc.array(fc.record(resLine), { minLength: 1, maxLength: 3 }), backorder: fc.boolean(), array: fc.constant(true) })),
  w(4, rec('reserve', { lines: fc.array(fc.record(resLine), { minLength: 1, maxLength: 1 }), backorder: fc.boolean(), array: fc.boolean() })),
  w(2, rec('updateQty', { r: pick, quantity: M.qty })),
  w(2, rec('move', { r: pick, loc })),
  w(1, rec('delete', ids)),
  w(1, rec('softDelete', ids)),
  w(1, rec('restore', ids)),
  w(1, rec('deleteByLine', { line: fc.constantFrom('L1', 'L2', 'shared') })),
  w(1, rec('restoreByLine', { line: fc.constantFrom('L1', 'L2', 'shared') })),
  w(1, rec('softDeleteLevel', { item: itemIx, loc, which: fc.nat(1) })),
  w(1, rec('restoreLevel', { item: itemIx, loc, which: fc.nat(1) })),
  w(1, rec('read', { item: itemIx, locs: fc.subarray(LOCS) })),
  w(1, rec('readLevel', { item: itemIx, loc })),
)
// Each round starts with levels at most item x location pairs, so the writes have something to move.
const PAIRS = [0, 1].flatMap((item) => LOCS.map((l) => ({ item, loc: l })))
const roundPlan = fc.record({
  start: fc.tuple(fc.subarray(PAIRS, { minLength: 3 }), fc.array(fc.constantFrom(2, 4.25, 10, 20), { minLength: 6, maxLength: 6 }))
    .map(([pairs, stocks]) => pairs.map((p, i) => ({ ...p, stocked: stocks[i] }))),
  sizes: fc.array(fc.integer({ min: 1, max: 8 }), { minLength: ROUND, maxLength: ROUND }),
  ops: fc.array(fc.array(op, { minLength: ROUND, maxLength: ROUND }), { minLength: PROCS, maxLength: PROCS }),
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
    ask: (msg) => new Promise((resolve, reject) => {
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
  if (err) {
    return pr.refuse && pr.refuse.includes(err.type) ? { next: s } : { why: pr.refuse ? `model refuses with ${pr.refuse.join('|')}` : 'model accepts' }
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
  const one = (d) => (d && d.raw_stocked_quantity ? `level ${d.id} ${d.raw_stocked_quantity.value}/${d.raw_reserved_quantity.value}`
    : d && d.raw_quantity ? `reservation ${d.id} ${d.location_id} ${d.raw_quantity.value}` : show(d))
  return `ok ${Array.isArray(v) ? `[${v.map(one).join(', ')}]` : one(v)}`
}

/** The SQL invariants over every level and reservation of the schema. */
async function invariants(db, lowered) {
  const problems = []
  const { rows } = await db.query(`
    SELECT l.id, l.inventory_item_id AS item, l.location_id AS loc, l.stocked_quantity::text AS s, l.reserved_quantity::text AS r,
           l.raw_stocked_quantity->>'value' AS rs, l.raw_reserved_quantity->>'value' AS rr,
           coalesce((SELECT sum(x.quantity) FROM reservation_item x WHERE x.inventory_item_id = l.inventory_item_id
                       AND x.location_id = l.location_id AND x.deleted_at IS NULL), 0)::text AS live,
           EXISTS (SELECT 1 FROM reservation_item x WHERE x.inventory_item_id = l.inventory_item_id
                     AND x.location_id = l.location_id AND x.deleted_at IS NULL AND x.allow_backorder) AS bo
    FROM inventory_level l WHERE l.deleted_at IS NULL`)
  for (const l of rows) {
    const [s, r, rs, rr, live] = [l.s, l.r, l.rs, l.rr, l.live].map(M.units)
    if (r !== live) problems.push(`level ${l.id}: reserved ${l.r}, live reservations ${l.live}`)
    if (rs !== s || rr !== r) problems.push(`level ${l.id}: raw ${l.rs}/${l.rr}, columns ${l.s}/${l.r}`)
    if (r < 0n) problems.push(`level ${l.id}: reserved ${l.r} < 0`)
    for (const [name, v] of [['stocked', s], ['reserved', r], ['available', s - r]]) {
      if (!M.inDomain(v)) problems.push(`level ${l.id}: ${name} ${M.text(v)} outside the quantity domain`)
    }
    if (s - r < 0n && !l.bo && !lowered.has(M.key(l.item, l.loc))) {
      problems.push(`level ${l.id}: available ${M.text(s - r)} < 0 with no live backorder and no lowered stock`)
    }
  }
  const res = await db.query(`SELECT id, quantity::text AS q, raw_quantity->>'value' AS rq FROM reservation_item`)
  for (const x of res.rows) {
    if (M.units(x.q) !== M.units(x.rq) || M.units(x.q) <= 0n || !M.inDomain(M.units(x.q))) problems.push(`reservation ${x.id}: quantity ${x.q}, raw ${x.rq}`)
  }
  for (const g of await ledgerGaps(db)) problems.push(`level ${g.id}: ${g.field} ${g.quantity}, ledger sum ${g.ledger_sum}`)
  for (const o of await ledgerOutOfOrder(db)) problems.push(`movement ${o.id} of level ${o.inventory_level_id}: ${o.field} resulting ${o.resulting}, running sum ${o.running}`)
  return problems
}

let t
let workers = []
beforeAll(async () => {
  t = await freshService('mproc', { groupReservations: false })
  workers = Array.from({ length: PROCS }, (_, i) => spawnWorker(i))
  await Promise.all(workers.map((wk) => wk.ask({ cmd: 'connect', url: DATABASE_URL, schema: t.schema })))
})
afterAll(async () => {
  await Promise.all(workers.map((wk) => new Promise((resolve) => {
    wk.child.once('exit', resolve)
    wk.child.send({ cmd: 'close' })
  })))
  await t.cleanup()
})

const stats = { calls: 0, epochs: 0, outcomes: {} }
afterAll(() => { if (process.env.PROPERTY_STATS) console.log(stats) })

test(`${PROCS} processes x ${STEPS} random writes on shared levels stay linearizable against the model`, async () => {
  const where = (round, epoch) =>
    `PROPERTY_SEED=${SEED} PROPERTY_PROCS=${PROCS} PROPERTY_STEPS=${STEPS}: round ${round}, epoch ${epoch}`
  const lowered = new Set() // item|loc where an acknowledged write lowered the stock
  for (let round = 0; round < ROUNDS; round++) {
    const plan = fc.sample(roundPlan, { seed: SEED + round * 7919, numRuns: 1 })[0]
    const items = [
      (await t.inventory.createInventoryItems({ sku: `mp-${round}-0-${Math.random()}` })).id,
      (await t.inventory.createInventoryItems({ sku: `mp-${round}-1-${Math.random()}` })).id,
    ]
    const made = await t.inventory.createInventoryLevels(plan.start.map((l) => ({ inventory_item_id: items[l.item], location_id: l.loc, stocked_quantity: l.stocked })))
    let states = new Map()
    {
      const s = M.emptyState()
      for (const l of made) s.levels.set(l.id, { id: l.id, item: l.inventory_item_id, loc: l.location_id, stocked: M.units(l.raw_stocked_quantity.value), deleted: false })
      states.set(M.stateKey(s), s)
    }
    await Promise.all(workers.map((wk) => wk.ask({ cmd: 'round', round })))
    let at = 0
    const steps = Math.min(ROUND, STEPS - round * ROUND)
    for (let epoch = 0; at < steps; epoch++) {
      const size = Math.min(plan.sizes[epoch], steps - at)
      // What the workers may address: the levels and reservations at the barrier.
      const levels = await t.db.query(
        `SELECT id, inventory_item_id AS item, location_id AS loc FROM inventory_level WHERE inventory_item_id = ANY($1) ORDER BY created_at DESC, id DESC`, [items])
      const res = await t.db.query(`SELECT id FROM reservation_item WHERE inventory_item_id = ANY($1) ORDER BY created_at DESC, id DESC`, [items])
      const ctx = { items, levels: levels.rows, res: res.rows.map((r) => r.id) }
      const replies = await Promise.all(workers.map((wk, p) => wk.ask({ cmd: 'epoch', ctx, ops: plan.ops[p].slice(at, at + size) })))
      at += size
      stats.epochs++
      const logs = replies.map((r) => r.log)
      const epochLog = () => logs.map((l, p) => l.map((e) => `  process ${p}: ${show(e.c)} -> ${summary(e.outcome)}`).join('\n')).join('\n')
      const fail = (msg) => { throw new Error(`${where(round, epoch)}\n${msg}\nthe epoch's calls, per process in order:\n${epochLog()}`) }
      for (const l of logs) {
        for (const e of l) {
          stats.calls++
          const k = `${e.c.op}:${e.outcome.err ? e.outcome.err.type : 'ok'}`
          stats.outcomes[k] = (stats.outcomes[k] ?? 0) + 1
          if (e.complaint) fail(e.complaint)
          if (e.outcome.err) continue
          if (e.c.op === 'updateLevel') lowered.add(M.key(e.c.item, e.c.loc))
          if (e.c.op === 'adjust' || e.c.op === 'adjustMany') {
            for (const x of e.c.entries ?? [e.c]) if (M.units(x.by) < 0n) lowered.add(M.key(x.item, x.loc))
          }
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
          ...db.levels.filter((x) => !m.levels.includes(x)).map((x) => `  database level ${x}`),
          ...m.levels.filter((x) => !db.levels.includes(x)).map((x) => `  model    level ${x}`),
          ...db.res.filter((x) => !m.res.includes(x)).map((x) => `  database reservation ${x}`),
          ...m.res.filter((x) => !db.res.includes(x)).map((x) => `  model    reservation ${x}`),
        ]
        fail(`the calls linearize, but to ${found.ends.size} state(s) none of which is the database's; first differs in:\n${diff.join('\n')}`)
      }
      states = matching
      // (2) the SQL invariants, over the whole schema
      const problems = await invariants(t.db, lowered)
      if (problems.length) fail(`SQL invariants broken:\n  ${problems.join('\n  ')}`)
      // (3) each worker's model of its own reservations
      const live = new Map((await t.db.query(`SELECT id, location_id, quantity::text AS q FROM reservation_item WHERE inventory_item_id = ANY($1)`, [items])).rows.map((r) => [r.id, r]))
      for (const [p, r] of replies.entries()) {
        for (const o of r.own) {
          const d = live.get(o.id)
          if (d && (d.location_id !== o.loc || M.units(d.q) !== BigInt(o.q))) fail(`process ${p}'s own reservation ${o.id}: database ${d.location_id} ${d.q}, own model ${o.loc} ${M.text(BigInt(o.q))}`)
        }
      }
    }
  }
  expect(stats.calls).toBeGreaterThan(0)
}, Math.max(60_000, PROCS * STEPS * 100)) // longer runs (PROPERTY_STEPS) get time in proportion
