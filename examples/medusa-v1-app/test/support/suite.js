'use strict'
// The end-to-end suite against one inventory module ('ours' or 'medusa'): one fresh database,
// `medusa migrations run`, `medusa user`, one `medusa start` (a second one for the contention
// test), everything through Medusa 1.20.11's HTTP API, levels read through the API and SQL.
const { describe, test, before, after } = require('node:test')
const assert = require('node:assert/strict')
const fs = require('node:fs')
const path = require('node:path')
const { adminClient, client, prepareApp, startServer, APP_DIR } = require('./harness')
const shop = require('./shop')
const { installProbes, readProbes } = require('./probes')

const CONTENTION_STOCK = Number(process.env.E2E_STOCK || 5)
const CONTENTION_CARTS = Number(process.env.E2E_CARTS || 20)
const CONTENTION_ROUNDS = Number(process.env.E2E_ROUNDS || 1)

function report(name, data) {
  const dir = path.join(APP_DIR, '.e2e-logs')
  fs.mkdirSync(dir, { recursive: true })
  fs.writeFileSync(path.join(dir, `${name}.json`), JSON.stringify(data, null, 2))
  console.log(`[e2e] ${name}: ${JSON.stringify(data)}`)
}

/** Levels via the API and SQL, checked against each other; returns the SQL view. */
async function levels(ctx, itemId) {
  const api = await shop.levelsViaApi(ctx.admin, ctx.shop, itemId)
  const sql = await shop.levelsViaSql(ctx.db, ctx.shop, itemId)
  assert.equal(api.stocked, sql.stocked, 'stocked: API vs SQL')
  assert.equal(api.reserved, sql.reserved, 'reserved: API vs SQL')
  return sql
}

async function expectLevels(ctx, itemId, want, label) {
  const got = await levels(ctx, itemId)
  assert.deepEqual(
    { stocked: got.stocked, reserved: got.reserved, liveReserved: got.liveReserved, reservations: got.reservations },
    want,
    label,
  )
}

/** Everything a fault must leave unchanged for an item. */
async function snapshot(ctx, itemId) {
  const { rows: reservations } = await ctx.db.query(
    `SELECT id, line_item_id, quantity, deleted_at FROM reservation_item WHERE inventory_item_id = $1 ORDER BY id`,
    [itemId],
  )
  return {
    levels: await shop.levelsViaSql(ctx.db, ctx.shop, itemId),
    reservations,
    ledger: await shop.ledgerRows(ctx.db, itemId),
  }
}

function defineSuite(moduleName, { reportOnly = false } = {}) {
  const ours = moduleName === 'ours'
  describe(`Medusa 1.20.11 with ${ours ? 'medusa-inventory-rs (medusa-v1)' : '@medusajs/inventory 1.11.7'}`, () => {
    const ctx = {}
    const servers = []
    let app

    before(async () => {
      app = await prepareApp({ label: `v1-${moduleName}` })
      ctx.db = app.db
      await installProbes(ctx.db)
      const a = await startServer({ env: app.env, name: `v1-${moduleName}-a` })
      servers.push(a)
      ctx.admin = await adminClient(a.url)
      ctx.store = client(a.url)
      ctx.shop = await shop.setupShop(ctx.admin)
      console.log(
        `[e2e] ${moduleName}: migrations ${app.timings.migrateMs} ms, user ${app.timings.userMs} ms, ` +
          `server ready in ${a.readyMs} ms`,
      )
    })

    after(async () => {
      for (const s of servers) await s.stop()
      if (app) await app.db.drop()
    })

    test('the module in use is the one asked for', async () => {
      const { rows } = await ctx.db.query(`SELECT to_regclass('inventory_movement') IS NOT NULL AS ledger`)
      assert.equal(rows[0].ledger, ours, ours ? 'our ledger table exists' : 'stock v1 has no ledger table')
    })

    test('lifecycle: item, level, checkout, fulfilment, return, admin reservations', async () => {
      const { admin, store, db } = ctx
      const p = await shop.createManagedProduct(admin, ctx.shop)
      const { inventory_item: item } = await admin.get(`/admin/inventory-items/${p.inventoryItemId}`)
      assert.equal(item.sku, p.sku)
      const { variant_inventory: vi } = await admin.get(`/admin/variants/${p.variantId}/inventory`).then((r) => ({
        variant_inventory: r.variant.inventory,
      }))
      assert.deepEqual(
        vi.map((i) => i.id),
        [p.inventoryItemId],
        'the variant is linked to its inventory item',
      )

      await shop.createLevel(admin, ctx.shop, p.inventoryItemId, 5)
      await expectLevels(ctx, p.inventoryItemId, { stocked: 5, reserved: 0, liveReserved: 0, reservations: 0 }, 'level')

      // Store: 2 units; the order holds a reservation of 2 for its line.
      const order = await shop.checkout(store, ctx.shop, p.variantId, 2)
      const lineId = order.items[0].id
      await expectLevels(ctx, p.inventoryItemId, { stocked: 5, reserved: 2, liveReserved: 2, reservations: 1 }, 'order')
      const { reservations } = await admin.get(`/admin/reservations?line_item_id[]=${lineId}`)
      assert.equal(reservations.length, 1)
      assert.equal(reservations[0].quantity, 2)
      assert.equal(reservations[0].location_id, ctx.shop.locationId)
      const { variants } = await store.get(
        `/store/variants?ids=${p.variantId}&sales_channel_id=${ctx.shop.salesChannelId}`,
      )
      assert.equal(variants[0].inventory_quantity, 3, 'the store shows 3 available')

      // Admin: capture, then fulfil at the location: stocked down, reservation gone.
      await admin.post(`/admin/orders/${order.id}/capture`)
      const f = await admin.post(`/admin/orders/${order.id}/fulfillment`, {
        items: [{ item_id: lineId, quantity: 2 }],
        location_id: ctx.shop.locationId,
      })
      assert.equal(f.order.fulfillment_status, 'fulfilled')
      await expectLevels(
        ctx,
        p.inventoryItemId,
        { stocked: 3, reserved: 0, liveReserved: 0, reservations: 0 },
        'fulfil',
      )
      assert.equal((await admin.get(`/admin/reservations?line_item_id[]=${lineId}`)).reservations.length, 0)

      // A return of 1, received at once at the location: stocked up.
      const r = await admin.post(`/admin/orders/${order.id}/return`, {
        items: [{ item_id: lineId, quantity: 1 }],
        receive_now: true,
        location_id: ctx.shop.locationId,
      })
      assert.deepEqual(
        r.order.returns.map((x) => x.status),
        ['received'],
      )
      await expectLevels(
        ctx,
        p.inventoryItemId,
        { stocked: 4, reserved: 0, liveReserved: 0, reservations: 0 },
        'return',
      )

      // Admin reservations: create, update, delete.
      const { reservation } = await admin.post('/admin/reservations', {
        inventory_item_id: p.inventoryItemId,
        location_id: ctx.shop.locationId,
        quantity: 2,
        description: 'held for a customer',
      })
      assert.equal(reservation.quantity, 2)
      await expectLevels(
        ctx,
        p.inventoryItemId,
        { stocked: 4, reserved: 2, liveReserved: 2, reservations: 1 },
        'create',
      )
      await admin.post(`/admin/reservations/${reservation.id}`, { quantity: 3 })
      assert.equal((await admin.get(`/admin/reservations/${reservation.id}`)).reservation.quantity, 3)
      await expectLevels(
        ctx,
        p.inventoryItemId,
        { stocked: 4, reserved: 3, liveReserved: 3, reservations: 1 },
        'update',
      )
      await admin.delete(`/admin/reservations/${reservation.id}`)
      await expectLevels(
        ctx,
        p.inventoryItemId,
        { stocked: 4, reserved: 0, liveReserved: 0, reservations: 0 },
        'delete',
      )

      if (ours) {
        // Every quantity change is in the ledger, and the ledger adds up to the level.
        const ledger = await shop.ledgerRows(db, p.inventoryItemId)
        const sum = (field) => ledger.filter((m) => m.field === field).reduce((acc, m) => acc + Number(m.delta), 0)
        assert.equal(sum('stocked_quantity'), 4, 'stocked movements sum to the level')
        assert.equal(sum('reserved_quantity'), 0, 'reserved movements sum to the level')
        assert.ok(ledger.length >= 8, `ledger rows: ${ledger.length}`)
      }
    })

    test('a cart of two items, one out of stock: 409 insufficient_inventory, no hang, no order', async () => {
      const { admin, store, db } = ctx
      const scarce = await shop.createManagedProduct(admin, ctx.shop)
      const plenty = await shop.createManagedProduct(admin, ctx.shop)
      await shop.createLevel(admin, ctx.shop, scarce.inventoryItemId, 1)
      await shop.createLevel(admin, ctx.shop, plenty.inventoryItemId, 5)
      // Both lines go in while the unit is there (adding a line checks stock), then it is sold.
      const cartId = await shop.prepareCart(store, ctx.shop, scarce.variantId, 1, {
        more: [{ variant_id: plenty.variantId, quantity: 1 }],
      })
      await shop.checkout(store, ctx.shop, scarce.variantId, 1)
      const started = Date.now()
      const res = await shop.completeCart(store, cartId, { timeoutMs: 30_000 })
      assert.equal(res.status, 409, JSON.stringify(res.body))
      assert.ok(
        res.body.errors.some(
          (e) =>
            e.code === 'insufficient_inventory' &&
            e.message === `Variant with id: ${scarce.variantId} does not have the required inventory`,
        ),
        JSON.stringify(res.body),
      )
      const { rows } = await db.query(`SELECT count(*)::int AS n FROM "order" WHERE cart_id = $1`, [cartId])
      assert.equal(rows[0].n, 0, 'no order')
      await expectLevels(
        ctx,
        scarce.inventoryItemId,
        { stocked: 1, reserved: 1, liveReserved: 1, reservations: 1 },
        'the scarce item keeps only the first order',
      )
      // v1 removes the other items' reservations outside its transaction, where they are not
      // visible yet, then commits the 409: the accepted item's reservation may stay (stock v1
      // does the same). Whatever stays, the level must count exactly the live reservations.
      const other = await levels(ctx, plenty.inventoryItemId)
      assert.equal(other.reserved, other.liveReserved, 'reserved_quantity = live reservations')
      console.log(
        `[e2e] ${moduleName}: two-item 409 in ${Date.now() - started} ms; other item ${JSON.stringify(other)}`,
      )
    })

    test('a backorder variant reserves past its stock', async () => {
      const { admin, store } = ctx
      const p = await shop.createManagedProduct(admin, ctx.shop, { allowBackorder: true })
      await shop.createLevel(admin, ctx.shop, p.inventoryItemId, 1)
      const order = await shop.checkout(store, ctx.shop, p.variantId, 3)
      const { reservations } = await admin.get(`/admin/reservations?line_item_id[]=${order.items[0].id}`)
      assert.deepEqual(
        reservations.map((r) => r.quantity),
        [3],
      )
      await expectLevels(
        ctx,
        p.inventoryItemId,
        { stocked: 1, reserved: 3, liveReserved: 3, reservations: 1 },
        'backorder',
      )
    })

    test(`two servers, one database: ${CONTENTION_CARTS} one-unit carts for ${CONTENTION_STOCK} units`, async () => {
      const { admin, db } = ctx
      const b = await startServer({ env: app.env, name: `v1-${moduleName}-b` })
      servers.push(b)
      const stores = [ctx.store, client(b.url)]
      const rounds = []
      for (let round = 0; round < CONTENTION_ROUNDS; round++) {
        const p = await shop.createManagedProduct(admin, ctx.shop)
        await shop.createLevel(admin, ctx.shop, p.inventoryItemId, CONTENTION_STOCK)
        const carts = []
        for (let i = 0; i < CONTENTION_CARTS; i++) {
          const s = stores[i % 2]
          carts.push({ store: s, id: await shop.prepareCart(s, ctx.shop, p.variantId, 1) })
        }
        const started = Date.now()
        const results = await Promise.all(carts.map((c) => shop.completeCart(c.store, c.id)))
        const ms = Date.now() - started
        const placed = results.filter((r) => r.status === 200 && r.body.type === 'order')
        const insufficient = results.filter(
          (r) => r.status === 409 && r.body.errors?.some((e) => e.code === 'insufficient_inventory'),
        )
        const other = results.filter((r) => !placed.includes(r) && !insufficient.includes(r))
        const after = await shop.levelsViaSql(db, ctx.shop, p.inventoryItemId)
        const { rows: orders } = await db.query(
          `SELECT count(*)::int AS n FROM "order" WHERE cart_id = ANY($1::text[])`,
          [carts.map((c) => c.id)],
        )
        const refusedIds = carts.filter((c, i) => insufficient.includes(results[i])).map((c) => c.id)
        const { rows: canceled } = await db.query(
          `SELECT count(*)::int AS n FROM payment WHERE cart_id = ANY($1::text[]) AND canceled_at IS NOT NULL`,
          [refusedIds],
        )
        rounds.push({
          round,
          ms,
          placed: placed.length,
          refused409: insufficient.length,
          other: other.map((r) => ({ status: r.status, body: r.body })),
          ordersInDb: orders[0].n,
          stock: CONTENTION_STOCK,
          reservedQuantity: after.reserved,
          liveReservations: after.reservations,
          liveReserved: after.liveReserved,
          refusedPaymentsCanceled: canceled[0].n,
          oversold: after.liveReserved > CONTENTION_STOCK || placed.length > CONTENTION_STOCK,
          drift: after.reserved !== after.liveReserved,
        })
        report(`contention-${moduleName}`, rounds)
      }
      if (reportOnly) return
      for (const r of rounds) {
        assert.equal(
          r.other.length,
          0,
          `every checkout is an order or a 409 insufficient_inventory: ${JSON.stringify(r)}`,
        )
        assert.ok(r.liveReserved <= CONTENTION_STOCK, `never more reserved than stock: ${JSON.stringify(r)}`)
        assert.equal(r.placed, CONTENTION_STOCK, `exactly the stock is sold: ${JSON.stringify(r)}`)
        assert.equal(r.ordersInDb, r.placed, `one order per placed checkout: ${JSON.stringify(r)}`)
        assert.equal(r.liveReservations, r.placed, `one reservation per order: ${JSON.stringify(r)}`)
        assert.equal(r.reservedQuantity, r.liveReserved, `reserved_quantity = live reservations: ${JSON.stringify(r)}`)
        assert.equal(r.refused409, CONTENTION_CARTS - CONTENTION_STOCK)
        assert.equal(r.refusedPaymentsCanceled, r.refused409, `refused carts' payments are canceled`)
      }
    })

    test('fault after the inventory write in fulfilment: request fails, nothing changes; the retry moves stock once', async () => {
      const { admin, store, db } = ctx
      const p = await shop.createManagedProduct(admin, ctx.shop)
      await shop.createLevel(admin, ctx.shop, p.inventoryItemId, 5)
      const order = await shop.checkout(store, ctx.shop, p.variantId, 2)
      await admin.post(`/admin/orders/${order.id}/capture`)
      const lineId = order.items[0].id
      const before = await snapshot(ctx, p.inventoryItemId)
      assert.deepEqual(before.levels, { stocked: 5, reserved: 2, liveReserved: 2, reservations: 1 })
      const probesBefore = await readProbes(db)

      const res = await admin.post(
        `/admin/orders/${order.id}/fulfillment`,
        {
          items: [{ item_id: lineId, quantity: 2 }],
          location_id: ctx.shop.locationId,
          metadata: { e2e_fail_on_commit: true },
        },
        { expect: 'any' },
      )
      assert.ok(res.status >= 400, `the fulfilment fails: ${res.status} ${JSON.stringify(res.body)}`)
      assert.match(servers[0].logTail(400), /e2e: injected failure at commit of fulfillment/)
      const probesAfter = await readProbes(db)
      assert.ok(
        probesAfter.inventory_level > probesBefore.inventory_level,
        `the inventory level was written before the failure: ${JSON.stringify({ probesBefore, probesAfter })}`,
      )
      assert.deepEqual(await snapshot(ctx, p.inventoryItemId), before, 'levels, reservations and ledger unchanged')
      const { rows: fulfillments } = await db.query(`SELECT count(*)::int AS n FROM fulfillment WHERE order_id = $1`, [
        order.id,
      ])
      assert.equal(fulfillments[0].n, 0, 'no fulfilment row')

      const ok = await admin.post(`/admin/orders/${order.id}/fulfillment`, {
        items: [{ item_id: lineId, quantity: 2 }],
        location_id: ctx.shop.locationId,
      })
      assert.equal(ok.order.fulfillment_status, 'fulfilled')
      await expectLevels(ctx, p.inventoryItemId, { stocked: 3, reserved: 0, liveReserved: 0, reservations: 0 }, 'retry')
    })

    test('fault after the reservations in cart completion: request fails, nothing changes', async () => {
      const { admin, store, db } = ctx
      const p = await shop.createManagedProduct(admin, ctx.shop)
      await shop.createLevel(admin, ctx.shop, p.inventoryItemId, 5)
      const cartId = await shop.prepareCart(store, ctx.shop, p.variantId, 2, {
        context: { e2e_fail_order_creation: true },
      })
      const before = await snapshot(ctx, p.inventoryItemId)
      assert.deepEqual(before.levels, { stocked: 5, reserved: 0, liveReserved: 0, reservations: 0 })
      const probesBefore = await readProbes(db)

      const res = await shop.completeCart(store, cartId)
      assert.ok(res.status >= 400, `the completion fails: ${res.status} ${JSON.stringify(res.body)}`)
      assert.equal(res.body.message, 'Payment method is not authorized', 'the injected failure is the one that failed')
      const probesAfter = await readProbes(db)
      assert.ok(
        probesAfter.reservation_item > probesBefore.reservation_item,
        `a reservation was written before the failure: ${JSON.stringify({ probesBefore, probesAfter })}`,
      )
      assert.deepEqual(await snapshot(ctx, p.inventoryItemId), before, 'levels, reservations and ledger unchanged')
      const { rows: orders } = await db.query(`SELECT count(*)::int AS n FROM "order" WHERE cart_id = $1`, [cartId])
      assert.equal(orders[0].n, 0, 'no order')

      // The stock is still sellable: an ordinary checkout of all 5 goes through.
      await shop.checkout(store, ctx.shop, p.variantId, 5)
      await expectLevels(ctx, p.inventoryItemId, { stocked: 5, reserved: 5, liveReserved: 5, reservations: 1 }, 'after')
    })
  })
}

module.exports = { defineSuite }
