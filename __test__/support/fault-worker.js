'use strict'
// One load process of the fault test (__test__/faults.test.js), run with child_process.fork.
// It has its own InventoryService pool and keeps `lanes` concurrent callers busy with a seeded
// mix of reservation creates / updates / deletes and adjustInventory(±1) on a few shared levels,
// and logs every call with its outcome: 'ack' (resolved), 'refused' (a Medusa error that means
// nothing was written) or 'unknown' (the database call failed: it may or may not have landed).
// Keyed (start message `keyed: true`): every call carries its own idempotency key
// (`${worker}-${n}`), and a call whose outcome is unknown is retried with the same arguments and
// key until it gets a definite answer; its log entry counts the attempts and the errors retried.
//
// Messages from the parent:
//   { type: 'start', url, schema, worker, seed, lanes, levels: [{ item, loc, kind }], keyed } -> { type: 'ready' }
//   { type: 'epoch', epoch }: calls started from now on are tagged with it
//   { type: 'waitAcks', token, n, maxFailures }: answered { type: 'acks', token, ok } once n calls
//     started after it were acknowledged (ok: true), or once maxFailures of them failed in a row
//     for another reason than stock (ok: false, with their errors): the pool did not recover
//   { type: 'stop' }: lanes finish their call, the pool closes -> { type: 'log', calls }
// The process exits when the parent disconnects.
const { InventoryService, InventoryError } = require('../..')
const { rng } = require('./rng')

// Errors after which the call's effect is unknown: the database call itself failed.
const UNKNOWN = new Set(['database_error', 'unexpected_state'])
// ...except this SQLSTATE, cannot_connect_now: a server still starting up refused the connection,
// so nothing of the call ran.
const NOT_CONNECTED = '57P03'
// Keyed calls: how often an unknown outcome is retried, and the longest pause between tries.
// The budget outlasts a server restart (connections fail until it is up again).
const MAX_ATTEMPTS = 400
const MAX_BACKOFF_MS = 100

let inventory
let cfg
let rand
let epoch = 0
let stopping = false
let seq = 0
const calls = []
const mine = new Map() // id -> { id, line, level, busy }: acknowledged reservations of this process
const waiters = new Set()

const pick = (list) => list[Math.floor(rand() * list.length)]
const sleep = (ms) => new Promise((r) => setTimeout(r, ms))

function classify(e) {
  if (e instanceof InventoryError) {
    return {
      outcome: UNKNOWN.has(e.type) && e.sqlState !== NOT_CONNECTED ? 'unknown' : 'refused',
      errType: e.type,
      errMessage: e.message,
      errSqlState: e.sqlState,
      errCause: e.cause,
    }
  }
  // Not a Medusa error at all: the parent reports it.
  return { outcome: 'unknown', errType: 'untyped', errMessage: String(e && (e.stack || e.message || e)) }
}

/** Runs one call and logs it; resolves to the log entry. `fn(options)` makes the call. */
async function record(entry, fn) {
  entry.n = seq++
  entry.worker = cfg.worker
  entry.epoch = epoch
  entry.t0 = Date.now()
  const started = waiters.size ? [...waiters] : []
  const options = cfg.keyed ? { idempotencyKey: `${cfg.worker}-${entry.n}` } : undefined
  if (options) {
    entry.key = options.idempotencyKey
    entry.attempts = 0
    entry.retried = []
  }
  for (;;) {
    if (options) {
      entry.attempts++
      entry.lastAttemptAt = Date.now()
    }
    try {
      entry.result = await (options ? fn(options) : fn())
      entry.outcome = 'ack'
    } catch (e) {
      Object.assign(entry, classify(e))
    }
    if (!options || !retry(entry) || entry.attempts >= MAX_ATTEMPTS) break
    // The same call with the same key: it applies once whatever the first attempt did.
    entry.retried.push({ type: entry.errType, sqlState: entry.errSqlState, message: entry.errMessage })
    for (const k of ['outcome', 'errType', 'errMessage', 'errSqlState', 'errCause']) delete entry[k]
    await sleep(Math.min(MAX_BACKOFF_MS, 2 ** entry.attempts) + Math.floor(rand() * 5))
  }
  entry.t1 = Date.now()
  calls.push(entry)
  for (const w of started) w.observe(entry)
  return entry
}

/**
 * A keyed call is retried unless its answer is definite: acknowledged, or refused by the module
 * (not_allowed, ...). Retried: unknown outcomes, a starting server's refusal (57P03: nothing ran,
 * but no answer either), and a key held by an attempt that committed first (conflict: the retry
 * replays it).
 */
function retry(entry) {
  if (entry.outcome === 'ack' || entry.errType === 'untyped') return false
  return entry.outcome === 'unknown' || entry.errSqlState === NOT_CONNECTED || entry.errType === 'conflict'
}

async function create() {
  const level = pick(cfg.levels)
  const line = `f${cfg.worker}-${seq}`
  const quantity = 1 + Math.floor(rand() * 3)
  const allow_backorder = level.kind === 'backorder' && rand() < 0.5
  const e = await record(
    { op: 'create', line, item: level.item, loc: level.loc, quantity, allow_backorder },
    (options) =>
      inventory.createReservationItems(
        { inventory_item_id: level.item, location_id: level.loc, quantity, allow_backorder, line_item_id: line },
        options,
      ),
  )
  if (e.outcome === 'ack') {
    e.id = e.result.id
    mine.set(e.id, { id: e.id, line, level, busy: false })
  }
  delete e.result
  return e
}

async function update(r) {
  const quantity = 1 + Math.floor(rand() * 3)
  const e = await record({ op: 'update', id: r.id, line: r.line, quantity }, (options) =>
    inventory.updateReservationItems({ id: r.id, quantity }, options),
  )
  delete e.result
  return e
}

async function remove(r) {
  const byLine = rand() < 0.5
  const e = await record({ op: byLine ? 'deleteByLine' : 'delete', id: r.id, line: r.line }, (options) =>
    byLine
      ? inventory.deleteReservationItemsByLineItem(r.line, options)
      : inventory.deleteReservationItems(r.id, options),
  )
  delete e.result
  // After an unknown delete the reservation may be gone: leave it alone from now on.
  if (e.outcome !== 'refused') mine.delete(r.id)
  return e
}

async function adjust() {
  const level = pick(cfg.levels)
  // Only the loose levels (huge stock) go down: elsewhere available >= 0 must hold exactly.
  const adjustment = level.kind === 'loose' && rand() < 0.5 ? -1 : 1
  const e = await record({ op: 'adjust', item: level.item, loc: level.loc, adjustment }, (options) =>
    inventory.adjustInventory(level.item, level.loc, adjustment, options),
  )
  delete e.result
  return e
}

async function lane() {
  let failures = 0
  while (!stopping) {
    const x = rand()
    // A reservation is used by one call at a time, so its calls are ordered.
    const free = x >= 0.4 && x < 0.7 ? [...mine.values()].filter((r) => !r.busy) : []
    let e
    if (free.length) {
      const r = pick(free)
      r.busy = true
      try {
        e = await (x < 0.55 ? update(r) : remove(r))
      } finally {
        r.busy = false
      }
    } else {
      e = await (x < 0.7 ? create() : adjust())
    }
    // While the server is down calls fail at once: back off instead of spinning.
    failures = e.outcome === 'ack' || e.errType === 'not_allowed' ? 0 : failures + 1
    if (failures) await sleep(Math.min(100, 2 ** failures) + Math.floor(rand() * 5))
  }
}

function waitAcks({ token, n, maxFailures }) {
  let acks = 0
  let failuresInARow = 0
  const failures = []
  const w = {
    observe(entry) {
      if (!waiters.has(w)) return
      if (entry.outcome === 'ack') {
        acks++
        failuresInARow = 0
        failures.length = 0
      } else if (entry.errType !== 'not_allowed') {
        failuresInARow++
        if (failures.length < 5)
          failures.push(`${entry.op}: [${entry.errType}] ${entry.errMessage} (${entry.errCause || ''})`)
      }
      if (acks >= n || failuresInARow >= maxFailures) {
        waiters.delete(w)
        process.send({ type: 'acks', token, ok: acks >= n, acks, failures })
      }
    },
  }
  waiters.add(w)
}

let running = []
process.on('message', async (msg) => {
  try {
    if (msg.type === 'start') {
      cfg = msg
      rand = rng(msg.seed)
      inventory = await InventoryService.connect({ url: msg.url, schema: msg.schema, maxConnections: 4 })
      running = Array.from({ length: msg.lanes }, () => lane())
      process.send({ type: 'ready' })
    } else if (msg.type === 'epoch') {
      epoch = msg.epoch
    } else if (msg.type === 'waitAcks') {
      waitAcks(msg)
    } else if (msg.type === 'stop') {
      stopping = true
      await Promise.all(running)
      await inventory.close()
      process.send({ type: 'log', calls }) // the parent then disconnects, which ends this process
    }
  } catch (e) {
    process.send({ type: 'fatal', error: String(e && (e.stack || e.message)) })
  }
})
process.on('disconnect', () => process.exit(0))
