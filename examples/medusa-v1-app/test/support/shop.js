'use strict'
// The shop the suite works in, set up and driven through Medusa 1.20.11's admin and store API.
const crypto = require('node:crypto')
const { HttpError } = require('./harness')

const uid = () => crypto.randomBytes(4).toString('hex')

const ADDRESS = {
  first_name: 'Ada',
  last_name: 'Lovelace',
  address_1: '1 Main Street',
  city: 'Springfield',
  country_code: 'us',
  postal_code: '12345',
}

/**
 * Region (usd, payment providers `e2e` and `manual`, fulfillment provider `manual`), a stock
 * location linked to the store's default sales channel, and a flat-rate shipping option.
 */
async function setupShop(admin) {
  const { store } = await admin.get('/admin/store')
  const salesChannelId = store.default_sales_channel_id
  if (!salesChannelId) throw new Error('the store has no default sales channel')
  const { region } = await admin.post('/admin/regions', {
    name: `E2E ${uid()}`,
    currency_code: 'usd',
    tax_rate: 0,
    payment_providers: ['e2e', 'manual'],
    fulfillment_providers: ['manual'],
    countries: ['us'],
  })
  const { stock_location: location } = await admin.post('/admin/stock-locations', { name: `Warehouse ${uid()}` })
  await admin.post(`/admin/sales-channels/${salesChannelId}/stock-locations`, { location_id: location.id })
  const { shipping_option: shippingOption } = await admin.post('/admin/shipping-options', {
    name: 'Standard',
    region_id: region.id,
    provider_id: 'manual',
    data: { id: 'manual-fulfillment' },
    price_type: 'flat_rate',
    amount: 0,
    is_return: false,
  })
  return { salesChannelId, regionId: region.id, locationId: location.id, shippingOptionId: shippingOption.id }
}

/** A product whose one variant manages inventory; Medusa creates its inventory item. */
async function createManagedProduct(admin, shop, { title = `Shirt ${uid()}`, allowBackorder = false } = {}) {
  const sku = `SKU-${uid()}`
  const { product } = await admin.post('/admin/products', {
    title,
    is_giftcard: false,
    discountable: false,
    options: [{ title: 'Size' }],
    sales_channels: [{ id: shop.salesChannelId }],
    variants: [
      {
        title: 'M',
        sku,
        manage_inventory: true,
        allow_backorder: allowBackorder,
        inventory_quantity: 0,
        prices: [{ currency_code: 'usd', amount: 1000 }],
        options: [{ value: 'M' }],
      },
    ],
  })
  const variant = product.variants[0]
  const { inventory_items: items } = await admin.get(`/admin/inventory-items?sku=${encodeURIComponent(sku)}`)
  if (items.length !== 1) throw new Error(`expected one inventory item for ${sku}, got ${items.length}`)
  return { productId: product.id, variantId: variant.id, sku, inventoryItemId: items[0].id }
}

async function createLevel(admin, shop, inventoryItemId, stocked) {
  return admin.post(`/admin/inventory-items/${inventoryItemId}/location-levels`, {
    location_id: shop.locationId,
    stocked_quantity: stocked,
  })
}

/** { stocked, reserved, available } of the item at the shop's location, from the admin API. */
async function levelsViaApi(admin, shop, inventoryItemId) {
  const { inventory_item: item } = await admin.get(`/admin/inventory-items/${inventoryItemId}/location-levels`)
  const level = item.location_levels.find((l) => l.location_id === shop.locationId)
  if (!level) return null
  return {
    stocked: level.stocked_quantity,
    reserved: level.reserved_quantity,
    available: level.available_quantity ?? level.stocked_quantity - level.reserved_quantity,
  }
}

/**
 * The same from SQL, with the live reservations: { stocked, reserved, liveReserved, reservations }.
 * `reserved` must equal `liveReserved` (the sum of the live reservation rows) when nothing drifted.
 */
async function levelsViaSql(db, shop, inventoryItemId) {
  const { rows } = await db.query(
    `SELECT l.stocked_quantity::int AS stocked, l.reserved_quantity::int AS reserved,
            (SELECT coalesce(sum(r.quantity), 0)::int FROM reservation_item r
              WHERE r.inventory_item_id = l.inventory_item_id AND r.location_id = l.location_id
                AND r.deleted_at IS NULL) AS live_reserved,
            (SELECT count(*)::int FROM reservation_item r
              WHERE r.inventory_item_id = l.inventory_item_id AND r.location_id = l.location_id
                AND r.deleted_at IS NULL) AS reservations
       FROM inventory_level l
      WHERE l.inventory_item_id = $1 AND l.location_id = $2 AND l.deleted_at IS NULL`,
    [inventoryItemId, shop.locationId],
  )
  if (rows.length !== 1) throw new Error(`expected one level row, got ${rows.length}`)
  const r = rows[0]
  return { stocked: r.stocked, reserved: r.reserved, liveReserved: r.live_reserved, reservations: r.reservations }
}

/** Rows of our ledger (`inventory_movement`) for an item; null when the table does not exist (stock module). */
async function ledgerRows(db, inventoryItemId) {
  const { rows: exists } = await db.query(`SELECT to_regclass('inventory_movement') IS NOT NULL AS ok`)
  if (!exists[0].ok) return null
  const { rows } = await db.query(`SELECT * FROM inventory_movement WHERE inventory_item_id = $1 ORDER BY id`, [
    inventoryItemId,
  ])
  return rows
}

/**
 * A store cart with `quantity` of the variant, an address, a shipping method and the `e2e`
 * payment session selected: ready for `POST /store/carts/:id/complete`.
 */
async function prepareCart(store, shop, variantId, quantity, { context, more = [] } = {}) {
  const { cart } = await store.post('/store/carts', {
    region_id: shop.regionId,
    sales_channel_id: shop.salesChannelId,
    ...(context ? { context } : {}),
  })
  for (const line of [{ variant_id: variantId, quantity }, ...more])
    await store.post(`/store/carts/${cart.id}/line-items`, line)
  await store.post(`/store/carts/${cart.id}`, {
    email: `buyer-${uid()}@test.com`,
    shipping_address: ADDRESS,
    billing_address: ADDRESS,
  })
  await store.post(`/store/carts/${cart.id}/shipping-methods`, { option_id: shop.shippingOptionId })
  await store.post(`/store/carts/${cart.id}/payment-sessions`)
  await store.post(`/store/carts/${cart.id}/payment-session`, { provider_id: 'e2e' })
  return cart.id
}

/** Completes a cart; { status, body } whatever the outcome. */
async function completeCart(store, cartId, { timeoutMs = 60_000 } = {}) {
  return store.post(`/store/carts/${cartId}/complete`, {}, { expect: 'any', timeoutMs })
}

async function checkout(store, shop, variantId, quantity, opts) {
  const cartId = await prepareCart(store, shop, variantId, quantity, opts)
  const res = await completeCart(store, cartId)
  if (res.status !== 200 || res.body.type !== 'order')
    throw new HttpError('POST', `/store/carts/${cartId}/complete`, res.status, res.body)
  return res.body.data
}

module.exports = {
  checkout,
  completeCart,
  createLevel,
  createManagedProduct,
  ledgerRows,
  levelsViaApi,
  levelsViaSql,
  prepareCart,
  setupShop,
  uid,
}
