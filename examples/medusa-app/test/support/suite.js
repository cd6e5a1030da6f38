'use strict'
// The end-to-end suite, for one inventory module: a real Medusa 2.21.2 app
// (`medusa db:migrate`, `medusa user`, `medusa start` with NODE_ENV=production and the
// admin disabled) on a fresh database, driven through Medusa's admin and store HTTP API.
const assert = require('node:assert/strict')
const fs = require('node:fs')
const path = require('node:path')
const { after, before, describe, it } = require('node:test')
const { APP_DIR, adminClient, client, prepareApp, startServer } = require('./harness')
const { ADDRESS, createProduct, setupShop } = require('./shop')
const { contentionRounds, expectLevels, summarize } = require('./scenarios')

const ROUNDS = Number(process.env.E2E_ROUNDS || 5)
const CARTS = Number(process.env.E2E_CARTS || 10)
const STOCK = 3

/**
 * MODULE 'ours' (medusa-inventory-rs) or 'medusa' (@medusajs/inventory). With
 * reportOnly, the contention outcome is reported and not asserted (Medusa's own module
 * is expected to oversell across processes); the lifecycle is asserted either way.
 */
function defineSuite(MODULE, { reportOnly = false } = {}) {
  const LABEL = MODULE === 'medusa' ? '@medusajs/inventory 2.21.2' : 'medusa-inventory-rs'
  describe(`Medusa 2.21.2 app with ${LABEL}`, () => {
    let app
    let serverA
    let serverB
    let admin
    let shop

    before(async () => {
      app = await prepareApp({ inventoryModule: MODULE, label: `e2e-${MODULE}` })
      console.log(
        `[e2e] ${LABEL}: database ${app.db.name}; db:migrate ${(app.timings.migrateMs / 1000).toFixed(1)} s, ` +
          `user ${(app.timings.userMs / 1000).toFixed(1)} s`,
      )
      serverA = await startServer({ env: app.env, name: `${MODULE}-A` })
      console.log(`[e2e] server A on ${serverA.url} ready in ${(serverA.readyMs / 1000).toFixed(1)} s`)
      admin = await adminClient(serverA.url)
      shop = await setupShop(admin)
    })

    after(async () => {
      await serverB?.stop()
      await serverA?.stop()
      await app?.db.drop()
    })

    describe('checkout lifecycle on one server', () => {
      const ctx = {}
      let store
      let variant
      let order

      it('admin: location linked to the channel, product with a managed variant, stock set at the location', async () => {
        const product = await createProduct(admin, shop, { title: 'Lifecycle widget' })
        variant = product.variant
        assert.equal(variant.manage_inventory, true)
        assert.ok(product.inventoryItemId, 'Medusa created the inventory item and linked it to the variant')
        Object.assign(ctx, {
          admin,
          db: app.db,
          inventoryItemId: product.inventoryItemId,
          locationId: shop.location.id,
        })

        const { inventory_item: item } = await admin.get(`/admin/inventory-items/${ctx.inventoryItemId}`)
        assert.equal(item.sku, product.sku)
        const { inventory_levels: none } = await admin.get(
          `/admin/inventory-items/${ctx.inventoryItemId}/location-levels`,
        )
        assert.equal(none.length, 0)

        await admin.post(`/admin/inventory-items/${ctx.inventoryItemId}/location-levels`, {
          location_id: ctx.locationId,
          stocked_quantity: 5,
        })
        await expectLevels(ctx, { stocked: 5, reserved: 0 }, 'stock set')

        store = client(serverA.url, { 'x-publishable-api-key': shop.publishableKey })
        const { product: seen } = await store.get(
          `/store/products/${product.product.id}?region_id=${shop.region.id}&fields=*variants,+variants.inventory_quantity`,
        )
        assert.equal(Number(seen.variants[0].inventory_quantity), 5, 'store sees 5 available in its channel')
      })

      it('store: add to cart (availability checked), more than available refused, cart completed with a reservation', async () => {
        const { cart } = await store.post('/store/carts', {
          region_id: shop.region.id,
          sales_channel_id: shop.salesChannel.id,
          email: 'lifecycle@example.com',
          shipping_address: ADDRESS,
        })
        await store.post(`/store/carts/${cart.id}/line-items`, { variant_id: variant.id, quantity: 2 })

        const refused = await store.post(
          `/store/carts/${cart.id}/line-items`,
          { variant_id: variant.id, quantity: 4 },
          { expect: 'any' },
        )
        assert.equal(refused.status, 400, `adding 4 more (6 > 5) is refused: ${JSON.stringify(refused.body)}`)
        assert.equal(refused.body.type, 'not_allowed')
        assert.match(refused.body.message, /does not have the required inventory/)
        const { cart: still } = await store.get(`/store/carts/${cart.id}?fields=*items`)
        assert.equal(still.items.length, 1)
        assert.equal(Number(still.items[0].quantity), 2, 'the refused add left the cart as it was')
        await expectLevels(ctx, { stocked: 5, reserved: 0 }, 'cart (no reservation yet)')

        const { shipping_options: options } = await store.get(`/store/shipping-options?cart_id=${cart.id}`)
        assert.ok(
          options.some((o) => o.id === shop.shippingOption.id),
          'the manual shipping option is offered',
        )
        await store.post(`/store/carts/${cart.id}/shipping-methods`, { option_id: shop.shippingOption.id })
        const { payment_collection: pc } = await store.post('/store/payment-collections', { cart_id: cart.id })
        await store.post(`/store/payment-collections/${pc.id}/payment-sessions`, { provider_id: 'pp_system_default' })

        const done = await store.post(`/store/carts/${cart.id}/complete`, {}, { expect: 'any' })
        assert.equal(done.status, 200, JSON.stringify(done.body))
        assert.equal(done.body.type, 'order', JSON.stringify(done.body).slice(0, 500))
        order = done.body.order
        await expectLevels(ctx, { stocked: 5, reserved: 2 }, 'order placed')

        const { reservations } = await admin.get(`/admin/reservations?inventory_item_id=${ctx.inventoryItemId}`)
        assert.equal(reservations.length, 1)
        assert.equal(Number(reservations[0].quantity), 2)
        assert.equal(reservations[0].location_id, ctx.locationId)
        assert.equal(reservations[0].line_item_id, order.items[0].id, 'reserved for the order line')

        const { product: seen } = await store.get(
          `/store/products/${variant.product_id}?region_id=${shop.region.id}&fields=*variants,+variants.inventory_quantity`,
        )
        assert.equal(Number(seen.variants[0].inventory_quantity), 3, 'store sees 3 available')
      })

      it("admin: the app's routes show the item's stock movements (the checkout's reservation for its order line) and a reconcile dry run without drift", async () => {
        const movementsPath = `/admin/inventory-items/${ctx.inventoryItemId}/movements`
        if (MODULE === 'medusa') {
          // Medusa's own module keeps no ledger and has no reconcile: the routes say so.
          for (const p of [movementsPath, '/admin/inventory-reconcile']) {
            const r = await admin.get(p, { expect: 'any' })
            assert.equal(r.status, 501, `${p}: ${JSON.stringify(r.body)}`)
            assert.equal(r.body.type, 'not_implemented')
            assert.match(r.body.message, /needs medusa-inventory-rs\/medusa/)
          }
          return
        }
        const anonymous = await client(serverA.url).get(movementsPath, { expect: 'any' })
        assert.equal(anonymous.status, 401, 'admin routes need an authenticated admin')

        const history = await admin.get(movementsPath)
        assert.equal(history.limit, 50)
        assert.equal(history.offset, 0)
        assert.equal(history.count, history.movements.length)
        assert.ok(history.movements.every((m) => m.inventory_item_id === ctx.inventoryItemId))
        const stocked = history.movements.filter((m) => m.field === 'stocked_quantity')
        assert.deepEqual(
          stocked.map((m) => [m.reason, Number(m.delta), Number(m.resulting), m.location_id]),
          [['level_created', 5, 5, ctx.locationId]],
          'the stock set through the admin',
        )
        const reserved = history.movements.filter((m) => m.reason === 'reservation_created')
        assert.equal(reserved.length, 1, JSON.stringify(history.movements))
        const [r] = reserved
        assert.deepEqual(
          [r.field, Number(r.delta), Number(r.resulting), r.location_id, r.line_item_id, r.method],
          ['reserved_quantity', 2, 2, ctx.locationId, order.items[0].id, 'createReservationItems'],
        )
        const { reservations } = await admin.get(`/admin/reservations?inventory_item_id=${ctx.inventoryItemId}`)
        assert.equal(r.reservation_item_id, reservations[0].id, 'the movement names the reservation')
        // Medusa's reserveInventoryStep calls createReservationItems(items) without a shared
        // context, so the workflow's transactionId (the default reference) never reaches the
        // module: the order line is what ties this movement to the checkout.
        assert.equal(r.reference, null, JSON.stringify(r))
        assert.equal(history.movements[0].id, r.id, 'newest first: the reservation was the last change')

        const page = await admin.get(`${movementsPath}?limit=1&offset=1`)
        assert.deepEqual(page, { movements: [history.movements[1]], count: history.count, limit: 1, offset: 1 })
        const bad = await admin.get(`${movementsPath}?limit=-1`, { expect: 'any' })
        assert.equal(bad.status, 400, JSON.stringify(bad.body))

        const reconcile = await admin.get('/admin/inventory-reconcile')
        assert.deepEqual(reconcile.levels, [], 'no level drifted')
        assert.deepEqual(reconcile.ledger, [], 'every quantity is the sum of its movements')
        assert.equal(reconcile.next, null)
        assert.ok(reconcile.scanned >= 1, `scanned ${reconcile.scanned} levels`)
      })

      it('admin: fulfil the order (stocked and reserved go down, reservation gone)', async () => {
        const { order: fulfilled } = await admin.post(
          `/admin/orders/${order.id}/fulfillments?fields=id,*fulfillments`,
          {
            location_id: ctx.locationId,
            items: [{ id: order.items[0].id, quantity: 2 }],
          },
        )
        assert.equal(fulfilled.fulfillments.length, 1)
        await expectLevels(ctx, { stocked: 3, reserved: 0 }, 'fulfilled')
        const { reservations } = await admin.get(`/admin/reservations?inventory_item_id=${ctx.inventoryItemId}`)
        assert.equal(reservations.length, 0, 'the reservation is gone')
      })

      it('admin: create and receive a return (stocked goes up)', async () => {
        const { return: ret } = await admin.post('/admin/returns', { order_id: order.id, location_id: ctx.locationId })
        await admin.post(`/admin/returns/${ret.id}/request-items`, { items: [{ id: order.items[0].id, quantity: 1 }] })
        await admin.post(`/admin/returns/${ret.id}/shipping-method`, {
          shipping_option_id: shop.returnShippingOption.id,
        })
        await admin.post(`/admin/returns/${ret.id}/request`, {})
        await expectLevels(ctx, { stocked: 3, reserved: 0 }, 'return requested')

        await admin.post(`/admin/returns/${ret.id}/receive`, {})
        await admin.post(`/admin/returns/${ret.id}/receive-items`, { items: [{ id: order.items[0].id, quantity: 1 }] })
        await admin.post(`/admin/returns/${ret.id}/receive/confirm`, {})
        await expectLevels(ctx, { stocked: 4, reserved: 0 }, 'return received')
      })
    })

    describe(`two servers on one database: ${CARTS} one-unit carts for ${STOCK} units, completed at once`, () => {
      it(`${ROUNDS} rounds`, async (t) => {
        serverB = await startServer({ env: app.env, name: `${MODULE}-B` })
        console.log(`[e2e] server B on ${serverB.url} ready in ${(serverB.readyMs / 1000).toFixed(1)} s`)
        const results = await contentionRounds({
          servers: [serverA, serverB],
          admin,
          db: app.db,
          shop,
          rounds: ROUNDS,
          carts: CARTS,
          stock: STOCK,
          log: (line) => console.log(`[e2e] ${LABEL}: ${line}`),
        })
        const summary = summarize(LABEL, results)
        const out = path.join(APP_DIR, '.e2e-logs', `contention-${MODULE}.json`)
        fs.writeFileSync(out, JSON.stringify({ summary, results, at: new Date().toISOString() }, null, 2))
        console.log(
          `[e2e] ${LABEL}: orders per round ${JSON.stringify(summary.ordersPerRound)} for ${STOCK} units each; ` +
            `oversold in ${summary.oversoldRounds}/${summary.rounds} rounds; reserved_quantity drifted in ` +
            `${summary.driftRounds}/${summary.rounds}; ${summary.unitsSold} units sold of ${summary.unitsInStock}; ` +
            `orders in the database per round ${JSON.stringify(summary.ordersInDbPerRound)} ` +
            `(${summary.orchestrationErrors} carts refused with Medusa's checkpoint error) (${out})`,
        )

        t.diagnostic(
          `${LABEL}: orders per round ${JSON.stringify(summary.ordersPerRound)} for ${STOCK} units; oversold in ` +
            `${summary.oversoldRounds}/${summary.rounds} rounds; reserved_quantity drifted in ${summary.driftRounds}/${summary.rounds}; ` +
            `orders in the database per round ${JSON.stringify(summary.ordersInDbPerRound)}` +
            (reportOnly ? ' (reported, not asserted)' : ''),
        )
        if (reportOnly) return
        for (const r of results) {
          assert.ok(r.orders <= STOCK, `round ${r.round}: ${r.orders} orders for ${STOCK} units`)
          assert.equal(r.orders, STOCK, `round ${r.round}: every unit sold (no false refusals)`)
          assert.equal(
            r.reservedQuantity,
            r.liveReserved,
            `round ${r.round}: reserved_quantity equals the live reservations`,
          )
          assert.equal(r.liveReservations, r.orders, `round ${r.round}: one reservation per order`)
          assert.equal(r.stocked, STOCK, `round ${r.round}: stocked_quantity untouched by checkout`)
          for (const m of r.refusalMessages) {
            assert.match(
              m,
              /^400 (Not enough stock available for item .* at location .*|Updating Status from "ok" to "temp_failure" is not allowed\.)$/,
              `round ${r.round}: refusal`,
            )
          }
          // The orders table: the orders the shoppers got are the reserved and paid ones; an
          // order beyond them can only come from Medusa's own checkpoint race (see README).
          assert.equal(r.ordersInDbWithReservation, r.orders, `round ${r.round}: reserved orders in the database`)
          assert.equal(r.ordersInDbAuthorized, r.orders, `round ${r.round}: paid orders in the database`)
          assert.ok(
            r.ordersInDb - r.orders <= r.orchestrationErrors,
            `round ${r.round}: ${r.ordersInDb} orders in the database, ${r.orders} placed, ${r.orchestrationErrors} orchestration errors`,
          )
          const api = await admin.get(
            `/admin/inventory-items/${r.inventoryItemId}/location-levels?location_id=${shop.location.id}`,
          )
          assert.equal(Number(api.inventory_levels[0].reserved_quantity), STOCK)
          assert.equal(Number(api.inventory_levels[0].available_quantity), 0)
        }
      })
    })
  })
}

module.exports = { defineSuite }
