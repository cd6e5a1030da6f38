'use strict'
// Spans, metrics, stats() and operator warnings, with the OpenTelemetry SDK's in-memory
// exporter and a metric reader collected on demand (the SDK, not a fake of it).
const { trace, context, metrics, SpanStatusCode } = require('@opentelemetry/api')
const { AsyncLocalStorageContextManager } = require('@opentelemetry/context-async-hooks')
const { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } = require('@opentelemetry/sdk-trace-base')
const { MeterProvider, MetricReader } = require('@opentelemetry/sdk-metrics')
const { InventoryService } = require('..')
const { freshService, sql, DATABASE_URL } = require('./helpers')

class OnDemandReader extends MetricReader {
  async onForceFlush() {}
  async onShutdown() {}
}

const exporter = new InMemorySpanExporter()
const reader = new OnDemandReader()
const ctxManager = new AsyncLocalStorageContextManager().enable()
context.setGlobalContextManager(ctxManager)
trace.setGlobalTracerProvider(new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] }))
// Before connect: the metrics API has no proxy, a meter taken earlier stays a no-op.
metrics.setGlobalMeterProvider(new MeterProvider({ readers: [reader] }))
const tracer = trace.getTracer('test')

const ms = (hr) => hr[0] * 1e3 + hr[1] / 1e6
const spansNamed = (name) => exporter.getFinishedSpans().filter((s) => s.name === name)
const parentOf = (s) => s.parentSpanContext?.spanId ?? s.parentSpanId
const childrenOf = (s) => exporter.getFinishedSpans().filter((c) => parentOf(c) === s.spanContext().spanId)

async function collected(name) {
  const { resourceMetrics } = await reader.collect()
  for (const sm of resourceMetrics.scopeMetrics) {
    if (sm.scope.name !== 'medusa-inventory-rs') continue
    for (const m of sm.metrics) if (m.descriptor.name === name) return m.dataPoints
  }
  return []
}

let t
let inv
const warnings = []
beforeAll(async () => {
  t = await freshService('otel', { maxConnections: 3, logger: { warn: (m) => warnings.push(m) } })
  inv = t.inventory
})
afterAll(async () => {
  await t.cleanup()
  ctxManager.disable()
})
beforeEach(() => {
  exporter.reset()
  warnings.length = 0
})

test('a call is a span under the caller’s active span, with what the core measured inside it', async () => {
  const sku = 'SKU-NOT-IN-ANY-SPAN-71c3'
  let parent
  await tracer.startActiveSpan('workflow step', async (span) => {
    parent = span
    await inv.createInventoryItems({ sku, title: 'secret title 9f2e' })
    span.end()
  })
  const [call] = spansNamed('createInventoryItems')
  expect(call).toBeDefined()
  expect(parentOf(call)).toBe(parent.spanContext().spanId)
  expect(call.spanContext().traceId).toBe(parent.spanContext().traceId)
  expect(call.attributes).toMatchObject({
    'db.system.name': 'postgresql',
    'db.operation.name': 'createInventoryItems',
    'db.namespace': expect.stringContaining(t.schema),
    'medusa_inventory_rs.rows_changed': 1,
  })
  expect(call.status.code).not.toBe(SpanStatusCode.ERROR)

  const inner = childrenOf(call)
  const names = inner.map((s) => s.name)
  expect(names).toContain('pool.acquire')
  const trips = inner.filter((s) => s.name === 'postgresql.roundtrip')
  expect(trips.length).toBeGreaterThanOrEqual(1)
  const text = trips.map((s) => s.attributes['db.query.text']).join('\n')
  expect(text).toMatch(/inventory_item/i)
  // Statement text, never the values bound to it.
  const everything = JSON.stringify(exporter.getFinishedSpans().map((s) => [s.attributes, s.events]))
  expect(everything).not.toContain(sku)
  expect(everything).not.toContain('secret title 9f2e')
  // The core's times sit inside the call's span (measured in Rust from the call's start).
  for (const s of inner) {
    expect(ms(s.startTime)).toBeGreaterThanOrEqual(ms(call.startTime))
    expect(ms(s.endTime)).toBeLessThanOrEqual(ms(call.endTime) + 0.001)
    expect(ms(s.endTime)).toBeGreaterThanOrEqual(ms(s.startTime))
  }
})

test('a failed call records Medusa’s type, and no database text', async () => {
  await expect(inv.retrieveInventoryItem('iitem_missing')).rejects.toMatchObject({ type: 'not_found' })
  const [call] = spansNamed('retrieveInventoryItem')
  expect(call.status.code).toBe(SpanStatusCode.ERROR)
  expect(call.attributes['error.type']).toBe('not_found')
  expect(call.events.map((e) => e.name)).toContain('exception')
  expect(childrenOf(call).some((s) => s.name === 'postgresql.roundtrip')).toBe(true)
})

test('grouped reservations each show their wait in the group-commit queue', async () => {
  const grouped = await InventoryService.connect({
    url: DATABASE_URL,
    schema: t.schema,
    groupReservations: { forceGroupOf: 2 },
  })
  try {
    const item = await inv.createInventoryItems({ sku: 'grouped' })
    await inv.createInventoryLevels({ inventory_item_id: item.id, location_id: 'loc_g', stocked_quantity: 5 })
    exporter.reset()
    await Promise.all(
      [1, 2].map((q) =>
        grouped.createReservationItems({ inventory_item_id: item.id, location_id: 'loc_g', quantity: q }),
      ),
    )
    const calls = spansNamed('createReservationItems')
    expect(calls).toHaveLength(2)
    for (const call of calls) {
      const queue = childrenOf(call).filter((s) => s.name === 'group_commit.queue')
      expect(queue).toHaveLength(1)
      expect(queue[0].attributes['medusa_inventory_rs.group.size']).toBe(2)
      // The group's transaction, on the wire, is in each member's trace.
      expect(childrenOf(call).some((s) => s.name === 'postgresql.roundtrip')).toBe(true)
    }
    const s = grouped.stats()
    expect(s.groups.count).toBeGreaterThanOrEqual(1)
    expect(s.groups.largest).toBe(2)
  } finally {
    await grouped.close()
  }
})

test('metrics: call durations per method and outcome, and the pool', async () => {
  await inv.listInventoryItems({}, { take: 1 })
  await expect(inv.retrieveInventoryItem('iitem_gone')).rejects.toMatchObject({ type: 'not_found' })
  const points = await collected('db.client.operation.duration')
  const ok = points.find((p) => p.attributes['db.operation.name'] === 'listInventoryItems')
  const failed = points.find(
    (p) => p.attributes['db.operation.name'] === 'retrieveInventoryItem' && p.attributes['error.type'] === 'not_found',
  )
  expect(ok.value.count).toBeGreaterThanOrEqual(1)
  expect(failed.value.count).toBeGreaterThanOrEqual(1)
  const [max] = await collected('db.client.connection.max')
  expect(max.value).toBe(3)
  const count = await collected('db.client.connection.count')
  expect(count.map((p) => p.attributes['db.client.connection.state']).sort()).toEqual(['idle', 'used'])
})

test('stats() gives the same numbers without OpenTelemetry', async () => {
  const plain = await InventoryService.connect({ url: DATABASE_URL, schema: t.schema, telemetry: false })
  try {
    exporter.reset()
    const item = await plain.createInventoryItems({ sku: 'plain' })
    await plain.createInventoryLevels({ inventory_item_id: item.id, location_id: 'loc_p', stocked_quantity: 1 })
    await expect(
      plain.createReservationItems({ inventory_item_id: item.id, location_id: 'loc_p', quantity: 2 }),
    ).rejects.toMatchObject({ type: 'not_allowed' })
    await plain.createInventoryItems({ sku: 'once' }, { idempotencyKey: 'k-once' })
    await plain.createInventoryItems({ sku: 'once' }, { idempotencyKey: 'k-once' })
    const s = plain.stats()
    expect(exporter.getFinishedSpans()).toHaveLength(0)
    expect(s.pool).toMatchObject({ max: 10 })
    expect(s.refused).toBe(1)
    expect(s.replays).toBe(1)
    expect(s.methods.createInventoryItems.calls).toBe(3)
    expect(s.methods.createReservationItems).toMatchObject({ calls: 1, failures: { not_allowed: 1 } })
  } finally {
    await plain.close()
  }
})

/** The backend of `app` (its application_name) waiting for a lock, seen from `db`. */
async function waitingForLock(db, app) {
  for (let i = 0; i < 200; i++) {
    const { rows } = await db.query(
      "SELECT pid FROM pg_stat_activity WHERE application_name = $1 AND wait_event_type = 'Lock'",
      [app],
    )
    if (rows[0]) return rows[0].pid
    await new Promise((r) => setTimeout(r, 50))
  }
  throw new Error(`no backend of ${app} waited for a lock`)
}

test('operator warnings reach the logger once per event, without values', async () => {
  const slow = await InventoryService.connect({
    url: DATABASE_URL,
    schema: t.schema,
    slowStatementMs: 0.001,
    logger: { warn: (m) => warnings.push(m) },
  })
  try {
    await slow.listInventoryItems({ sku: 'VALUE-NOT-LOGGED-55' })
    const found = warnings.filter((w) => /slow/i.test(w))
    expect(found.length).toBeGreaterThanOrEqual(1)
    // The statement's text (cut at 1 000 characters), host and port, and no value.
    expect(found.join('\n')).toMatch(/slowStatementMs\): SELECT /)
    expect(found.join('\n')).toMatch(/127\.0\.0\.1|localhost|\//)
    expect(warnings.join('\n')).not.toContain('VALUE-NOT-LOGGED-55')
    expect(slow.stats().slowStatements).toBeGreaterThanOrEqual(1)
  } finally {
    await slow.close()
  }

  // A connection killed under a call (waiting for a row lock held here): the call
  // fails, and the logger hears of it once.
  warnings.length = 0
  const app = `otel_lost_${process.pid}`
  const url = `${DATABASE_URL}${DATABASE_URL.includes('?') ? '&' : '?'}application_name=${app}`
  const lossy = await InventoryService.connect({
    url,
    schema: t.schema,
    maxConnections: 1,
    logger: { warn: (m) => warnings.push(m) },
  })
  const item = await inv.createInventoryItems({ sku: 'lost' })
  const level = await inv.createInventoryLevels({
    inventory_item_id: item.id,
    location_id: 'loc_l',
    stocked_quantity: 1,
  })
  const db = await sql(t.schema)
  try {
    await db.query('BEGIN')
    await db.query('SELECT 1 FROM inventory_level WHERE id = $1 FOR UPDATE', [level.id])
    const pending = lossy.adjustInventory(item.id, 'loc_l', 1).catch((e) => e)
    await db.query('SELECT pg_terminate_backend($1)', [await waitingForLock(db, app)])
    await db.query('ROLLBACK')
    expect(await pending).toMatchObject({ type: 'database_error' })
    expect(lossy.stats().connectionLosses).toBe(1)
  } finally {
    await db.query('ROLLBACK').catch(() => {})
    await db.end()
    await lossy.close()
  }
  expect(warnings.filter((w) => /database connection broken/.test(w))).toHaveLength(1)
  expect(warnings.join('\n')).not.toMatch(/postgres:\/\/|password/i)

  // A read killed under it (waiting behind a lock on its table) is asked once more on a
  // new connection, and answers; the logger still hears of the loss, once.
  warnings.length = 0
  const reader = await InventoryService.connect({
    url,
    schema: t.schema,
    maxConnections: 1,
    logger: { warn: (m) => warnings.push(m) },
  })
  const locker = await sql(t.schema)
  try {
    await reader.listInventoryItems({ sku: 'lost' })
    await locker.query('BEGIN')
    await locker.query('LOCK TABLE inventory_item IN ACCESS EXCLUSIVE MODE')
    const pending = reader.listInventoryItems({ sku: 'lost' }).catch((e) => e)
    await locker.query('SELECT pg_terminate_backend($1)', [await waitingForLock(locker, app)])
    await locker.query('ROLLBACK')
    expect(await pending).toEqual([expect.objectContaining({ id: item.id, sku: 'lost' })])
    expect(reader.stats()).toMatchObject({ connectionLosses: 1, calls: 2 })
  } finally {
    await locker.query('ROLLBACK').catch(() => {})
    await locker.end()
    await reader.close()
  }
  expect(warnings.filter((w) => /database connection broken/.test(w))).toHaveLength(1)
})

test('verify that finds ledger drift warns the operator', async () => {
  const item = await inv.createInventoryItems({ sku: 'drift' })
  const level = await inv.createInventoryLevels({
    inventory_item_id: item.id,
    location_id: 'loc_d',
    stocked_quantity: 4,
  })
  await t.db.query('UPDATE inventory_level SET stocked_quantity = 9 WHERE id = $1', [level.id])
  const out = await inv.verifyInventoryLedger()
  expect(out.ok).toBe(false)
  expect(warnings.filter((w) => w.includes(level.id))).toHaveLength(1)
  await inv.reconcile({})
})
