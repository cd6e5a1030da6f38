'use strict'
// What an operator sees of the calls: OpenTelemetry spans and metrics through the app's
// `@opentelemetry/api` (an optional peer: without it no span or instrument is made),
// the same numbers from `stats()`, and warnings to a logger.
//
// The core measures (Rust: pool checkout, group-commit queue, each round trip on the
// wire); this file only re-creates those measurements as child spans of the call's span,
// at their offsets from the call's start, the way Prisma's engine hands its spans to JS.

const { performance } = require('node:perf_hooks')
const { version } = require('../package.json')

let api // undefined: not looked up yet; null: the app has no @opentelemetry/api
function otel() {
  if (api === undefined) {
    try {
      api = require('@opentelemetry/api')
    } catch {
      api = null
    }
  }
  return api
}

const SCOPE = 'medusa-inventory-rs'

/** Server address, port and `db.namespace` from a URL: never its user or password. */
function endpointOf(url, schema) {
  const out = { 'db.system.name': 'postgresql', 'db.system': 'postgresql' }
  let database = null
  try {
    const u = new URL(url)
    if (u.hostname) out['server.address'] = u.hostname.replace(/^\[|\]$/g, '')
    if (u.port) out['server.port'] = Number(u.port)
    database = decodeURIComponent(u.pathname.slice(1)) || null
  } catch {
    // Key-value or multi-host strings: no address attributes rather than a guess.
  }
  const ns = [database, schema || 'public'].filter(Boolean).join('|')
  out['db.namespace'] = ns
  return out
}

/** Epoch milliseconds now, on the clock the OpenTelemetry SDK stamps spans with. */
const nowMs = () => performance.timeOrigin + performance.now()

/** What the core measured, as child spans: `pool`, `queue` and `roundtrip` entries. */
const CHILD_NAMES = {
  pool: 'pool.acquire',
  queue: 'group_commit.queue',
  roundtrip: 'postgresql.roundtrip',
}

function childAttributes(s, base) {
  const a = { ...base }
  if (s.name === 'roundtrip') {
    if (Array.isArray(s.statements) && s.statements.length) a['db.query.text'] = s.statements.join(';\n')
    if (typeof s.messages === 'number') a['medusa_inventory_rs.messages'] = s.messages
  } else if (s.name === 'queue' && typeof s.group === 'number') {
    a['medusa_inventory_rs.group.size'] = s.group
  } else if (s.name === 'pool' && s.created) {
    a['medusa_inventory_rs.pool.created'] = true
  }
  return a
}

/** Rows a call touched: the ids in its committed changes; rows a read returned. */
function rowCounts(out) {
  const a = {}
  if (Array.isArray(out?.changes) && out.changes.length) {
    let n = 0
    for (const [, , ids] of out.changes) n += ids.length
    a['medusa_inventory_rs.rows_changed'] = n
  }
  const r = out?.result
  if (Array.isArray(r)) {
    // listAndCount*: [rows, count].
    const rows = r.length === 2 && Array.isArray(r[0]) && typeof r[1] === 'number' ? r[0] : r
    a['db.response.returned_rows'] = rows.length
  } else if (r !== null && r !== undefined && typeof r === 'object') {
    a['db.response.returned_rows'] = 1
  }
  return a
}

/** Warnings for the operator, once per event the core reports: logger.warn or a process warning. */
function warnerOf(logger) {
  if (logger && typeof logger.warn === 'function') return (message) => logger.warn(message)
  return (message, kind) => process.emitWarning(message, { code: `MEDUSA_INVENTORY_RS_${String(kind).toUpperCase()}` })
}

/** One per connection: the tally `stats()` reports, the spans, the instruments, the warnings. */
class Telemetry {
  constructor(native, { url, schema, logger, telemetry } = {}) {
    this._native = native
    this._warn = warnerOf(logger)
    // Per method: calls, failures by error type, total and largest duration (ms).
    this._calls = new Map()
    this._otel = telemetry === false ? null : otel()
    if (!this._otel) return
    const { trace, metrics } = this._otel
    this._tracer = trace.getTracer(SCOPE, version)
    this._base = endpointOf(url, schema)
    const meter = metrics.getMeter(SCOPE, version)
    // Semantic conventions for database clients, in seconds.
    this._duration = meter.createHistogram('db.client.operation.duration', {
      unit: 's',
      description: 'Duration of inventory calls, each one Postgres transaction or statement',
      advice: { explicitBucketBoundaries: [0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.5, 1, 5] },
    })
    this._durationAttrs = new Map()
    this._observe(meter)
  }

  /** Pool and core counters, read from the core when a metric reader collects. */
  _observe(meter) {
    const g = (name, description, unit = '{connection}') => meter.createObservableGauge(name, { description, unit })
    const c = (name, description, unit) => meter.createObservableCounter(name, { description, unit })
    const inst = {
      count: meter.createObservableUpDownCounter('db.client.connection.count', {
        description: 'Connections of the pool by state',
        unit: '{connection}',
      }),
      max: g('db.client.connection.max', 'Largest number of connections the pool may hold'),
      pending: g('db.client.connection.pending_requests', 'Calls waiting for a pooled connection', '{request}'),
      groups: c('medusa_inventory_rs.reservation.groups', 'Reservation groups committed together', '{group}'),
      members: c('medusa_inventory_rs.reservation.group.members', 'Calls in reservation groups', '{call}'),
      largest: g('medusa_inventory_rs.reservation.group.largest', 'Largest reservation group so far', '{call}'),
      refused: c('medusa_inventory_rs.reservations.refused', 'Reservations refused: not enough inventory', '{call}'),
      replays: c('medusa_inventory_rs.idempotent.replays', 'Calls answered from an idempotency key', '{call}'),
      losses: c('medusa_inventory_rs.connection.losses', 'Calls that found their connection lost', '{event}'),
      switches: c('medusa_inventory_rs.host.switches', 'New connections that reached another host', '{event}'),
      slow: c('medusa_inventory_rs.statements.slow', 'Round trips slower than slowStatementMs', '{round_trip}'),
    }
    const pool = { 'db.client.connection.pool.name': this._base['db.namespace'] }
    const idle = { ...pool, 'db.client.connection.state': 'idle' }
    const used = { ...pool, 'db.client.connection.state': 'used' }
    this._collect = (r) => {
      let s
      try {
        s = this.coreStats()
      } catch {
        return // closed: nothing to report
      }
      r.observe(inst.count, s.pool.idle, idle)
      r.observe(inst.count, Math.max(0, s.pool.size - s.pool.idle), used)
      r.observe(inst.max, s.pool.max, pool)
      r.observe(inst.pending, s.pool.waiting, pool)
      r.observe(inst.groups, s.groups.count, pool)
      r.observe(inst.members, s.groups.members, pool)
      r.observe(inst.largest, s.groups.largest, pool)
      r.observe(inst.refused, s.refused, pool)
      r.observe(inst.replays, s.replays, pool)
      r.observe(inst.losses, s.connectionLosses, pool)
      r.observe(inst.switches, s.hostSwitches, pool)
      r.observe(inst.slow, s.slowStatements, pool)
    }
    this._meter = meter
    this._instruments = Object.values(inst)
    meter.addBatchObservableCallback(this._collect, this._instruments)
  }

  coreStats() {
    return JSON.parse(this._native.stats())
  }

  /**
   * Before a call: its span (a child of the caller's active span), or null when no
   * tracer records. `traced` asks the core for its measurements.
   */
  begin(method) {
    const start = nowMs()
    if (!this._otel) return { start, span: null, traced: false }
    const { trace, context, SpanKind } = this._otel
    const parent = context.active()
    const span = this._tracer.startSpan(
      method,
      { kind: SpanKind.CLIENT, startTime: start, attributes: { ...this._base, 'db.operation.name': method } },
      parent,
    )
    const traced = span.isRecording()
    return { start, span, traced, ctx: traced ? trace.setSpan(parent, span) : null }
  }

  /** After a call: the core's measurements as child spans, the outcome, metrics, warnings. */
  end(method, handle, out, err, coreTrace) {
    const end = nowMs()
    const ms = end - handle.start
    let tally = this._calls.get(method)
    if (!tally) this._calls.set(method, (tally = { calls: 0, failures: {}, totalMs: 0, maxMs: 0 }))
    tally.calls++
    tally.totalMs += ms
    if (ms > tally.maxMs) tally.maxMs = ms
    const errorType = err ? (typeof err.type === 'string' ? err.type : 'unexpected_state') : null
    if (errorType) tally.failures[errorType] = (tally.failures[errorType] ?? 0) + 1
    if (this._duration) this._duration.record(ms / 1000, this._attrs(method, errorType))
    const span = handle.span
    if (span) {
      if (handle.traced) {
        if (coreTrace) this._children(handle, coreTrace)
        if (out) span.setAttributes(rowCounts(out))
        if (err) {
          span.setAttribute('error.type', errorType)
          // The message only: never `cause` (raw database text) nor `sqlState` in a span.
          span.recordException({ name: 'InventoryError', message: err.message })
          span.setStatus({ code: this._otel.SpanStatusCode.ERROR, message: err.message })
        }
      }
      span.end(end)
    }
    this.drain()
    if (!err && method === 'verifyInventoryLedger' && out?.result && out.result.ok === false) {
      const drift = out.result.levels ?? []
      const ids = [...new Set(drift.map((l) => l.id))]
      this._warn(
        `medusa-inventory-rs: verifyInventoryLedger found ${ids.length} inventory level(s) whose quantities are not the sum of their movements (${ids.slice(0, 5).join(', ')}${ids.length > 5 ? ', …' : ''}); \`reconcile\` closes the gaps`,
        'ledger_drift',
      )
    }
  }

  _attrs(method, errorType) {
    const key = errorType ? `${method} ${errorType}` : method
    let a = this._durationAttrs.get(key)
    if (!a) {
      a = { 'db.system.name': 'postgresql', 'db.operation.name': method, 'db.namespace': this._base['db.namespace'] }
      if (errorType) a['error.type'] = errorType
      this._durationAttrs.set(key, a)
    }
    return a
  }

  _children(handle, text) {
    let t
    try {
      t = typeof text === 'string' ? JSON.parse(text) : text
    } catch {
      return
    }
    if (!t || !Array.isArray(t.spans)) return
    const base = { 'db.system.name': 'postgresql', 'db.namespace': this._base['db.namespace'] }
    for (const s of t.spans) {
      const name = CHILD_NAMES[s.name]
      if (!name) continue
      const child = this._tracer.startSpan(
        name,
        {
          kind: this._otel.SpanKind.CLIENT,
          startTime: handle.start + s.start / 1e6,
          attributes: childAttributes(s, base),
        },
        handle.ctx,
      )
      child.end(handle.start + s.end / 1e6)
    }
  }

  /** The core's events since the last look (connection lost, host switched, …) to the logger. */
  drain() {
    let text
    try {
      text = this._native.takeEvents()
    } catch {
      return
    }
    if (text === null || text === undefined) return
    let events
    try {
      events = JSON.parse(text)
    } catch {
      return
    }
    for (const e of events) {
      const message =
        e.kind === 'events_dropped'
          ? `medusa-inventory-rs: ${e.count} more warning(s) were dropped`
          : `medusa-inventory-rs: ${e.message}`
      this._warn(message, e.kind)
    }
  }

  /** The numbers the metrics carry, for anyone without OpenTelemetry. */
  stats() {
    const calls = {}
    for (const [method, t] of this._calls) {
      calls[method] = { calls: t.calls, failures: { ...t.failures }, totalMs: t.totalMs, maxMs: t.maxMs }
    }
    return { ...this.coreStats(), methods: calls }
  }

  close() {
    if (this._meter) this._meter.removeBatchObservableCallback(this._collect, this._instruments)
    this._meter = null
  }
}

module.exports = { Telemetry }
