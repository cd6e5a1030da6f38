'use strict'
// Call option `client`: the call runs on the caller's own node-postgres connection,
// inside the transaction it holds, and so commits or rolls back with it (Medusa v1
// hands its TypeORM transaction over this way). The core's statements travel over
// the lent socket (crates/inventory-core/src/relay.rs); here the socket is lent and
// taken back, one call at a time per client, inside a savepoint:
//
// - The caller's other queries on that client wait while a call has it: issued in
//   the middle of the call they would land inside its savepoint, and a refused
//   call's rollback to it would undo them (the caller may run queries
//   concurrently on one transaction, as Medusa v1 does with Promise.all).
// - SAVEPOINT first (it also waits for the client's earlier queries), then the
//   socket's data goes to the core until it is idle again, then RELEASE when the
//   call succeeded, ROLLBACK TO when it failed: a failed call writes nothing and
//   the caller's transaction goes on.

const { native } = require('./internal')

const SQL = native.lentSql()

/** Per client, the end of its queue of lent calls. */
const queues = new WeakMap()

/**
 * Runs `method` through `service`'s core on `client`, after the client's lent calls
 * before it. `fail(type, message)` builds the facade's error.
 */
function callOnClient(service, client, method, payload, opts, fail) {
  const stream = client && client.connection && client.connection.stream
  if (!stream || typeof stream.write !== 'function' || typeof client.query !== 'function') {
    return Promise.reject(
      fail(
        'invalid_data',
        'call option client must be a node-postgres Client or pool client, connected, holding an open transaction',
      ),
    )
  }
  const previous = queues.get(client) || Promise.resolve()
  const run = previous.then(() => lendOnce(service, client, stream, method, payload, opts, fail))
  const tail = run.then(
    () => {},
    () => {},
  )
  queues.set(client, tail)
  return run
}

async function lendOnce(service, client, stream, method, payload, opts, fail) {
  const held = hold(client)
  try {
    // The core's SQL names no schema: on a lent connection, the connection's search_path
    // decides, and it must be the service's.
    let schema
    try {
      const [, current] = await held.query(`${SQL.savepoint}; SELECT current_schema() AS name`)
      schema = current.rows[0].name
    } catch (e) {
      // 25P01: SAVEPOINT outside a transaction block.
      if (e && e.code === '25P01') {
        throw fail('invalid_data', 'call option client must hold an open transaction (BEGIN it first)')
      }
      if (e && e.code === '25P02') {
        throw fail('invalid_data', "call option client's transaction has already failed (roll it back first)")
      }
      throw dbError(fail, 'the savepoint for the call could not be opened', e)
    }
    const expected = service._schema || 'public'
    if (schema !== expected) {
      await held.query(SQL.rollback)
      throw fail(
        'invalid_data',
        `call option client's search_path resolves to schema ${schema}, and this service uses ${expected}`,
      )
    }
    const lent = service._native.lend((chunk) => stream.write(chunk))
    let out
    let failure
    const listeners = stream.listeners('data')
    stream.removeAllListeners('data')
    const onData = (chunk) => lent.feed(chunk)
    const onGone = () => lent.end()
    stream.on('data', onData)
    stream.once('close', onGone)
    try {
      out = await lent.call(method, payload, opts)
    } catch (e) {
      failure = e
    } finally {
      stream.removeListener('data', onData)
      stream.removeListener('close', onGone)
      for (const l of listeners) stream.on('data', l)
    }
    if (lent.broken) {
      // Answers may still be on their way: the driver cannot read this socket safely.
      stream.destroy()
      throw failure || fail('unexpected_state', 'the lent connection was lost during the call')
    }
    try {
      await held.query(failure ? SQL.rollback : SQL.release)
    } catch (e) {
      throw dbError(fail, 'the savepoint around the call could not be ended', e)
    }
    if (failure) throw failure
    return out
  } finally {
    held.release()
  }
}

/** A database_error saying what failed; the driver's error only in `sqlState` and `cause`. */
function dbError(fail, message, e) {
  const err = fail('database_error', message)
  if (e && e.code !== undefined) err.sqlState = e.code
  if (e && e.message !== undefined) err.cause = e.message
  return err
}

/**
 * Holds `client`'s query method: calls made meanwhile wait, in order, until release.
 * node-postgres' forms are kept: a promise, a callback, or a submittable (returned at once).
 */
function hold(client) {
  const own = Object.prototype.hasOwnProperty.call(client, 'query')
  const query = client.query
  const waiting = []
  client.query = function (...args) {
    const first = args[0]
    if ((first && typeof first.submit === 'function') || typeof args[args.length - 1] === 'function') {
      waiting.push(() => query.apply(client, args))
      return first && typeof first.submit === 'function' ? first : undefined
    }
    return new Promise((resolve, reject) => {
      waiting.push(() => {
        const r = query.apply(client, args)
        if (r && typeof r.then === 'function') r.then(resolve, reject)
        else resolve(r)
      })
    })
  }
  return {
    query: (text) => query.call(client, text),
    release() {
      if (own) client.query = query
      else delete client.query
      for (const run of waiting) run()
    },
  }
}

module.exports = { callOnClient }
