'use strict'
// Builds a shop through Medusa's admin HTTP API, and walks a store checkout.
const crypto = require('node:crypto')

const CURRENCY = 'eur'
const COUNTRY = 'de'
const ADDRESS = {
  first_name: 'Ada',
  last_name: 'Lovelace',
  address_1: 'Hauptstraße 1',
  city: 'Berlin',
  postal_code: '10115',
  country_code: COUNTRY,
}

const suffix = () => crypto.randomBytes(3).toString('hex')

/**
 * Sales channel, stock location (linked to the channel, with the manual fulfillment
 * provider and a shipping fulfillment set + service zone), region with the system
 * payment provider, shipping options (outbound and return) and a publishable key.
 */
async function setupShop(admin, { name = `e2e-${suffix()}` } = {}) {
  const { sales_channel: salesChannel } = await admin.post('/admin/sales-channels', { name: `${name} channel` })

  const { stock_location: created } = await admin.post('/admin/stock-locations', {
    name: `${name} warehouse`,
    address: { address_1: 'Lagerweg 2', city: 'Berlin', country_code: COUNTRY },
  })
  await admin.post(`/admin/stock-locations/${created.id}/sales-channels`, { add: [salesChannel.id] })
  await admin.post(`/admin/stock-locations/${created.id}/fulfillment-providers`, { add: ['manual_manual'] })
  const { stock_location: location } = await admin.post(
    `/admin/stock-locations/${created.id}/fulfillment-sets?fields=*fulfillment_sets`,
    { name: `${name} shipping`, type: 'shipping' },
  )
  const fulfillmentSet = location.fulfillment_sets[0]
  const { fulfillment_set: withZone } = await admin.post(`/admin/fulfillment-sets/${fulfillmentSet.id}/service-zones`, {
    name: `${name} zone`,
    geo_zones: [{ type: 'country', country_code: COUNTRY }],
  })
  const serviceZone = withZone.service_zones[0]

  const { shipping_profiles: profiles } = await admin.get('/admin/shipping-profiles?type=default')
  const shippingProfile =
    profiles[0] ??
    (await admin.post('/admin/shipping-profiles', { name: `${name} profile`, type: 'default' })).shipping_profile

  const { region } = await admin.post('/admin/regions', {
    name: `${name} region`,
    currency_code: CURRENCY,
    countries: [COUNTRY],
    payment_providers: ['pp_system_default'],
  })

  const shippingOption = async (isReturn) =>
    (
      await admin.post('/admin/shipping-options', {
        name: `${name} ${isReturn ? 'return' : 'standard'} shipping`,
        service_zone_id: serviceZone.id,
        shipping_profile_id: shippingProfile.id,
        provider_id: 'manual_manual',
        price_type: 'flat',
        type: { label: isReturn ? 'Return' : 'Standard', description: 'e2e', code: isReturn ? 'return' : 'standard' },
        prices: [
          { currency_code: CURRENCY, amount: 5 },
          { region_id: region.id, amount: 5 },
        ],
        rules: [
          { attribute: 'enabled_in_store', operator: 'eq', value: 'true' },
          { attribute: 'is_return', operator: 'eq', value: isReturn ? 'true' : 'false' },
        ],
      })
    ).shipping_option
  const outbound = await shippingOption(false)
  const inbound = await shippingOption(true)

  const { api_key: apiKey } = await admin.post('/admin/api-keys', { title: `${name} key`, type: 'publishable' })
  await admin.post(`/admin/api-keys/${apiKey.id}/sales-channels`, { add: [salesChannel.id] })

  return {
    salesChannel,
    location,
    serviceZone,
    shippingProfile,
    region,
    shippingOption: outbound,
    returnShippingOption: inbound,
    publishableKey: apiKey.token,
  }
}

/** A published product with one variant that manages inventory; returns { product, variant, inventoryItemId }. */
async function createProduct(admin, shop, { title = `Widget ${suffix()}`, sku = `SKU-${suffix()}`, price = 20 } = {}) {
  const { product } = await admin.post('/admin/products?fields=*variants,*variants.inventory_items', {
    title,
    status: 'published',
    shipping_profile_id: shop.shippingProfile.id,
    sales_channels: [{ id: shop.salesChannel.id }],
    options: [{ title: 'Size', values: ['One size'] }],
    variants: [
      {
        title: 'One size',
        sku,
        manage_inventory: true,
        allow_backorder: false,
        options: { Size: 'One size' },
        prices: [{ currency_code: CURRENCY, amount: price }],
      },
    ],
  })
  const variant = product.variants[0]
  const inventoryItemId = variant.inventory_items?.[0]?.inventory_item_id
  return { product, variant, inventoryItemId, sku }
}

/** Cart in the shop's channel, with the variant, address, shipping method and a payment session. */
async function readyCart(store, shop, variantId, quantity = 1) {
  const { cart } = await store.post('/store/carts', {
    region_id: shop.region.id,
    sales_channel_id: shop.salesChannel.id,
    email: `buyer-${suffix()}@example.com`,
    shipping_address: ADDRESS,
    billing_address: ADDRESS,
  })
  await store.post(`/store/carts/${cart.id}/line-items`, { variant_id: variantId, quantity })
  await store.post(`/store/carts/${cart.id}/shipping-methods`, { option_id: shop.shippingOption.id })
  const { payment_collection: pc } = await store.post('/store/payment-collections', { cart_id: cart.id })
  await store.post(`/store/payment-collections/${pc.id}/payment-sessions`, { provider_id: 'pp_system_default' })
  return cart
}

module.exports = { ADDRESS, COUNTRY, CURRENCY, createProduct, readyCart, setupShop }
