'use strict'
// OpenTelemetry in a real Medusa 2.21.2 app: instrumentation.js calls Medusa's
// registerOtel with in-memory exporters (OTEL_TEST=1), a checkout runs over HTTP, and
// the spans and metrics are read back from the server (GET /otel-test).
const assert = require('node:assert/strict')
const { after, before, describe, it } = require('node:test')
const { adminClient, client, prepareApp, startServer } = require('./support/harness')
const { ADDRESS, createProduct, setupShop } = require('./support/shop')

const SCOPE = 'medusa-inventory-rs'

describe('medusa-inventory-rs in the traces and metrics of a Medusa app (registerOtel)', () => {
  let app
  let server
  let admin
  let shop
  let product
  let spans
  let metrics

  before(async () => {
    app = await prepareApp({ label: 'otel' })
    // Every round trip counts as slow here, so the warnings show in Medusa's log.
    server = await startServer({ env: { ...app.env, OTEL_TEST: '1', SLOW_STATEMENT_MS: '0.001' }, name: 'otel' })
    admin = await adminClient(server.url)
    shop = await setupShop(admin)
    product = await createProduct(admin, shop, { title: 'Traced widget' })
    await admin.post(`/admin/inventory-items/${product.inventoryItemId}/location-levels`, {
      location_id: shop.location.id,
      stocked_quantity: 5,
    })
    const otel = client(server.url)
    await otel.delete('/otel-test')

    // A checkout over the store API: add to cart (availability), complete (reservation).
    const store = client(server.url, { 'x-publishable-api-key': shop.publishableKey })
    const { cart } = await store.post('/store/carts', {
      region_id: shop.region.id,
      sales_channel_id: shop.salesChannel.id,
      email: 'otel@example.com',
      shipping_address: ADDRESS,
    })
    await store.post(`/store/carts/${cart.id}/line-items`, { variant_id: product.variant.id, quantity: 2 })
    await store.post(`/store/carts/${cart.id}/shipping-methods`, { option_id: shop.shippingOption.id })
    const { payment_collection: pc } = await store.post('/store/payment-collections', { cart_id: cart.id })
    await store.post(`/store/payment-collections/${pc.id}/payment-sessions`, { provider_id: 'pp_system_default' })
    const done = await store.post(`/store/carts/${cart.id}/complete`, {})
    assert.equal(done.type, 'order', JSON.stringify(done).slice(0, 300))
    ;({ spans, metrics } = await otel.get('/otel-test'))
  })

  after(async () => {
    await server?.stop()
    await app?.db.drop()
  })

  const byId = () => new Map(spans.map((s) => [s.spanId, s]))
  const ancestors = (s) => {
    const ids = byId()
    const out = []
    for (let p = ids.get(s.parentSpanId); p; p = ids.get(p.parentSpanId)) out.push(p)
    return out
  }
  const children = (s) => spans.filter((c) => c.parentSpanId === s.spanId)

  it("the checkout's reservation is a span under Medusa's workflow step, inside the HTTP request", () => {
    const ours = spans.filter((s) => s.scope === SCOPE && s.name === 'createReservationItems')
    assert.equal(ours.length, 1, JSON.stringify(spans.map((s) => `${s.scope} ${s.name}`)))
    const [reserve] = ours
    const chain = ancestors(reserve)
    assert.match(
      chain[0]?.name ?? '',
      /^step:reserve[-_]inventory[-_]step:invoke$/,
      `parent is a workflow step: ${chain.map((s) => s.name).join(' < ')}`,
    )
    assert.ok(
      chain.some((s) => /^workflow:complete[-_]cart/.test(s.name)),
      `under the complete-cart workflow: ${chain.map((s) => s.name).join(' < ')}`,
    )
    assert.ok(
      chain.at(-1).name === '/store/carts/:id/complete',
      `under the HTTP request: ${chain.map((s) => s.name).join(' < ')}`,
    )
    assert.equal(reserve.traceId, chain.at(-1).traceId)
    assert.equal(reserve.attributes['db.system.name'], 'postgresql')
    assert.equal(reserve.attributes['db.operation.name'], 'createReservationItems')
    // The reservation and the level whose reserved quantity it raised.
    assert.equal(reserve.attributes['medusa_inventory_rs.rows_changed'], 2)
  })

  it('inside it: the pool checkout and the round trips to Postgres, with statement text and no values', () => {
    const [reserve] = spans.filter((s) => s.scope === SCOPE && s.name === 'createReservationItems')
    const inner = children(reserve)
    const ms = (s) => `${(s.end - s.start).toFixed(3)} ms`
    console.log(
      `[otel] ${[...ancestors(reserve)]
        .reverse()
        .map((s) => s.name)
        .join(' > ')} > ${reserve.name} (${ms(reserve)})\n` +
        inner.map((s) => `[otel]   ${s.name} +${(s.start - reserve.start).toFixed(3)} ms, ${ms(s)}`).join('\n'),
    )
    const trips = inner.filter((s) => s.name === 'postgresql.roundtrip')
    assert.ok(trips.length >= 1, JSON.stringify(inner.map((s) => s.name)))
    // The group's one statement locks the levels first; its text is cut at 1000 characters
    // (wire.rs), before the reservations' INSERT at its end.
    assert.ok(
      trips.some((s) => /FROM inventory_level l/.test(s.attributes['db.query.text'])),
      trips.map((s) => s.attributes['db.query.text']).join('\n---\n'),
    )
    assert.ok(inner.some((s) => s.name === 'pool.acquire' || s.name === 'group_commit.queue'))
    for (const s of inner) {
      assert.ok(s.start >= reserve.start && s.end <= reserve.end + 0.001, `${s.name} inside the call's span`)
    }
    const text = JSON.stringify(spans.filter((s) => s.scope === SCOPE).map((s) => s.attributes))
    assert.ok(!text.includes('otel@example.com'))
  })

  it('availability checks of the cart are spans too, each under a step', () => {
    const reads = spans.filter(
      (s) => s.scope === SCOPE && /^(confirmInventory|retrieveAvailableQuantity|listInventoryLevels)$/.test(s.name),
    )
    assert.ok(reads.length >= 1, JSON.stringify(spans.filter((s) => s.scope === SCOPE).map((s) => s.name)))
    for (const s of reads) assert.ok(ancestors(s).length >= 1, `${s.name} has a parent`)
  })

  it("slow statements are warned about in Medusa's log, with their text and no values", () => {
    const log = server.logTail(100000)
    const slow = log.split('\n').filter((l) => /medusa-inventory-rs: .*slow/i.test(l))
    assert.ok(slow.length >= 1, log.slice(-2000))
    assert.ok(
      slow.some((l) => /reservation_item|inventory_level/.test(l)),
      slow.slice(0, 5).join('\n'),
    )
    // The item's SKU was a bound value of the insert that created it: never in a warning.
    assert.ok(!slow.some((l) => l.includes(product.sku)), 'no SKU in the warnings')
  })

  it('metrics: call durations per method, and the pool', () => {
    const mine = metrics.filter((m) => m.scope === SCOPE)
    const duration = mine.find((m) => m.name === 'db.client.operation.duration')
    const reserve = duration.points.find((p) => p.attributes['db.operation.name'] === 'createReservationItems')
    assert.ok(reserve.value.count >= 1)
    const max = mine.find((m) => m.name === 'db.client.connection.max')
    assert.ok(max.points[0].value >= 1)
  })
})
