'use strict'
// Differential check: the same admin and store calls against one app on
// medusa-inventory-rs and one on Medusa's own @medusajs/inventory (each on a fresh
// database, one after the other), then every response that differs once ids and dates are
// masked. A report, not a test: it exits 0 unless an app fails to start.
//   node ../../scripts/with-db.mjs node scripts/api-diff.js      (npm run api-diff)
const { prepareApp, startServer, adminClient, client } = require('../test/support/harness')
const { setupShop, createProduct, readyCart } = require('../test/support/shop')

const ID = /^([a-z_]+?)_[0-9A-Z]{26}$/
function mask(v, key) {
  if (Array.isArray(v)) return v.map((x) => mask(x))
  if (v && typeof v === 'object') {
    const o = {}
    for (const k of Object.keys(v).sort()) o[k] = mask(v[k], k)
    return o
  }
  if (typeof v === 'string') {
    if (ID.test(v)) return v.replace(ID, '$1_ID')
    if (/^\d{4}-\d\d-\d\dT/.test(v)) return 'DATE'
    if (/^pk_/.test(v) || key === 'email') return 'STR'
    return v.replace(/\b(iitem|sloc|resitem)_[0-9A-Z]{26}\b/g, '$1_ID')
  }
  return v
}

/** The scenario: returns [{ name, request, status, body }] with masked bodies. */
async function scenario(url) {
  const out = []
  const admin = await adminClient(url)
  const shop = await setupShop(admin, { name: 'diff' })
  const store = client(url, { 'x-publishable-api-key': shop.publishableKey })
  const p = await createProduct(admin, shop, { title: 'Diff', sku: 'DIFF-1' })
  const iid = p.inventoryItemId
  const loc = shop.location.id
  const { stock_location: loc2 } = await admin.post('/admin/stock-locations', { name: 'second' })
  const rec = (name, request, r) => {
    out.push({
      name,
      request: request.replace(/\b([a-z]+)_[0-9A-Z]{26}\b/g, '$1_ID'),
      status: r.status,
      body: mask(r.body),
    })
    return r.body
  }
  const call = async (name, method, path, body) =>
    rec(
      name,
      `${method} ${path}`,
      method === 'GET'
        ? await admin.get(path, { expect: 'any' })
        : method === 'DELETE'
          ? await admin.delete(path, { expect: 'any' })
          : await admin.post(path, body, { expect: 'any' }),
    )
  const storeGet = async (name, path) => rec(name, `GET(store) ${path}`, await store.get(path, { expect: 'any' }))

  await call('create level', 'POST', `/admin/inventory-items/${iid}/location-levels`, {
    location_id: loc,
    stocked_quantity: 10,
  })
  await call('batch levels of an item', 'POST', `/admin/inventory-items/${iid}/location-levels/batch`, {
    create: [{ location_id: loc2.id, stocked_quantity: 2 }],
  })
  for (const q of [
    'limit=20&offset=0&fields=id,title,sku,*location_levels,reserved_quantity,stocked_quantity,requires_shipping',
    'q=DIFF',
    `location_levels[location_id]=${loc2.id}`,
    'location_levels[stocked_quantity][$gt]=1',
    'order=-sku',
    'order=-stocked_quantity',
    'sku=DIFF-1',
    'weight[$gt]=1',
    'weight[gt]=1', // no $: Medusa's validator drops the operator and passes { weight: {} }
    'fields=id,*variants,*variants.product',
    'fields=unknown_field',
    'fields=*unknown_relation',
  ])
    await call(`list items ${q}`, 'GET', `/admin/inventory-items?${q}`)
  await call('item detail', 'GET', `/admin/inventory-items/${iid}?fields=*variants,*variants.product,*location_levels`)
  await call(
    'levels with stock_locations',
    'GET',
    `/admin/inventory-items/${iid}/location-levels?fields=*stock_locations`,
  )
  await call('update level', 'POST', `/admin/inventory-items/${iid}/location-levels/${loc2.id}`, {
    stocked_quantity: 4,
  })
  await call('update item', 'POST', `/admin/inventory-items/${iid}`, {
    hs_code: 'HS1',
    weight: 100,
    metadata: { a: 1 },
  })
  await call('create reservation', 'POST', '/admin/reservations', {
    inventory_item_id: iid,
    location_id: loc,
    quantity: 2,
    description: 'manual hold',
  })
  const { reservations } = await admin.get(`/admin/reservations?inventory_item_id=${iid}`)
  const rid = reservations[0].id
  for (const q of [
    `inventory_item_id=${iid}`,
    'q=manual',
    'quantity[$gt]=1',
    'quantity[$gt]=5',
    'quantity[gt]=5', // no $: Medusa's validator drops the operator and passes { quantity: {} }
    'created_at[$gte]=2020-01-01T00:00:00.000Z',
    'created_at[$gt]=2100-01-01',
    'description[$ilike]=%25hold%25',
    'order=-quantity',
    'fields=*inventory_item',
    'fields=*line_item',
    'fields=unknown_field',
  ])
    await call(`list reservations ${q}`, 'GET', `/admin/reservations?${q}`)
  await call('update reservation', 'POST', `/admin/reservations/${rid}`, { quantity: 3 })
  await call('update reservation beyond stock', 'POST', `/admin/reservations/${rid}`, { quantity: 30 })
  await call('move reservation', 'POST', `/admin/reservations/${rid}`, { location_id: loc2.id, quantity: 1 })
  await call('levels after the move', 'GET', `/admin/inventory-items/${iid}/location-levels?order=location_id`)
  await call('reserve beyond stock', 'POST', '/admin/reservations', {
    inventory_item_id: iid,
    location_id: loc,
    quantity: 100,
  })
  await call('delete reservation', 'DELETE', `/admin/reservations/${rid}`)
  await call(
    'products with inventory',
    'GET',
    '/admin/products?fields=+variants.inventory_quantity,*variants.inventory_items.inventory.location_levels',
  )
  await storeGet(
    'store product',
    `/store/products/${p.product.id}?region_id=${shop.region.id}&fields=+variants.inventory_quantity`,
  )
  const cart = await readyCart(store, shop, p.variant.id, 2)
  const { order } = await store.post(`/store/carts/${cart.id}/complete`, {})
  await call('levels after an order', 'GET', `/admin/inventory-items/${iid}/location-levels?order=location_id`)
  await call('order reservations', 'GET', `/admin/reservations?line_item_id[]=${order.items[0].id}`)
  await call('cancel order', 'POST', `/admin/orders/${order.id}/cancel`, {})
  await call('levels after cancel', 'GET', `/admin/inventory-items/${iid}/location-levels?order=location_id`)
  // An inventory kit (one variant, two items, 2 + 1 per unit) and an order edit adding a unit.
  const partA = (await admin.post('/admin/inventory-items', { sku: 'KIT-A', title: 'Part A' })).inventory_item.id
  const partB = (await admin.post('/admin/inventory-items', { sku: 'KIT-B', title: 'Part B' })).inventory_item.id
  for (const id of [partA, partB])
    await admin.post(`/admin/inventory-items/${id}/location-levels`, { location_id: loc, stocked_quantity: 5 })
  const { product: kit } = await admin.post('/admin/products?fields=*variants', {
    title: 'Kit',
    status: 'published',
    shipping_profile_id: shop.shippingProfile.id,
    sales_channels: [{ id: shop.salesChannel.id }],
    options: [{ title: 'Size', values: ['One'] }],
    variants: [
      {
        title: 'Kit',
        sku: 'KIT',
        manage_inventory: true,
        options: { Size: 'One' },
        prices: [{ currency_code: 'eur', amount: 50 }],
        inventory_items: [
          { inventory_item_id: partA, required_quantity: 2 },
          { inventory_item_id: partB, required_quantity: 1 },
        ],
      },
    ],
  })
  await storeGet(
    'kit availability',
    `/store/products/${kit.id}?region_id=${shop.region.id}&fields=+variants.inventory_quantity`,
  )
  const kitCart = await readyCart(store, shop, kit.variants[0].id, 2)
  const kitDone = await store.post(`/store/carts/${kitCart.id}/complete`, {}, { expect: 'any' })
  rec('complete kit cart', 'POST /store/carts/:id/complete', {
    status: kitDone.status,
    body: { type: kitDone.body.type },
  })
  await call(
    'kit part levels',
    'GET',
    `/admin/inventory-items?id[]=${partA}&id[]=${partB}&order=sku&fields=sku,stocked_quantity,reserved_quantity`,
  )
  try {
    await readyCart(store, shop, kit.variants[0].id, 1)
    rec('one more kit (A has 1 left, a kit needs 2)', 'POST /store/carts/:id/line-items', { status: 200, body: {} })
  } catch (e) {
    rec('one more kit (A has 1 left, a kit needs 2)', 'POST /store/carts/:id/line-items', {
      status: e.status,
      body: e.body,
    })
  }
  if (kitDone.body.order) {
    const edit = await call('order edit', 'POST', '/admin/order-edits', { order_id: kitDone.body.order.id })
    const editId = edit.order_change?.id
    await call('order edit: add a product', 'POST', `/admin/order-edits/${kitDone.body.order.id}/items`, {
      items: [{ variant_id: p.variant.id, quantity: 1 }],
    })
    await call('order edit: request', 'POST', `/admin/order-edits/${kitDone.body.order.id}/request`, {})
    await call('order edit: confirm', 'POST', `/admin/order-edits/${kitDone.body.order.id}/confirm`, {})
    await call('levels after the order edit', 'GET', `/admin/inventory-items/${iid}/location-levels?order=location_id`)
    await call(
      'reservations of the edited order',
      'GET',
      `/admin/reservations?inventory_item_id[]=${iid}&inventory_item_id[]=${partA}&inventory_item_id[]=${partB}&order=quantity&fields=quantity,location_id`,
    )
    void editId
  }
  const created = await call('create item', 'POST', '/admin/inventory-items', {
    sku: 'LOOSE-1',
    title: 'Loose',
    location_levels: [{ location_id: loc, stocked_quantity: 7 }],
  })
  const other = created.inventory_item?.id
  await call('create item, same sku', 'POST', '/admin/inventory-items', { sku: 'LOOSE-1' })
  await call('delete a stocked level', 'DELETE', `/admin/inventory-items/${other}/location-levels/${loc}`)
  await call('bulk levels', 'POST', '/admin/inventory-items/location-levels/batch', {
    create: [{ inventory_item_id: other, location_id: loc2.id, stocked_quantity: 1 }],
    update: [{ inventory_item_id: other, location_id: loc, stocked_quantity: 9 }],
  })
  await call('delete item', 'DELETE', `/admin/inventory-items/${other}`)
  await call('get deleted item', 'GET', `/admin/inventory-items/${other}`)
  await call('delete location', 'DELETE', `/admin/stock-locations/${loc2.id}`)
  await call('levels after location delete', 'GET', `/admin/inventory-items/${iid}/location-levels`)
  return out
}

async function runWith(module) {
  const app = await prepareApp({ inventoryModule: module, label: `api-diff-${module}` })
  let server
  try {
    server = await startServer({ env: app.env, name: `api-diff-${module}` })
    return await scenario(server.url)
  } finally {
    await server?.stop()
    await app.db.drop()
  }
}

function differences(a, b, path = '', out = []) {
  if (JSON.stringify(a) === JSON.stringify(b)) return out
  if (a && b && typeof a === 'object' && typeof b === 'object') {
    for (const k of new Set([...Object.keys(a), ...Object.keys(b)])) differences(a[k], b[k], `${path}.${k}`, out)
  } else {
    const show = (v) => (v === undefined ? '(absent)' : JSON.stringify(v).slice(0, 160))
    out.push(`  ${path || '(body)'}: ours ${show(a)} | medusa ${show(b)}`)
  }
  return out
}

;(async () => {
  const ours = await runWith('ours')
  const medusa = await runWith('medusa')
  let same = 0
  for (let i = 0; i < ours.length; i++) {
    const a = ours[i]
    const b = medusa[i]
    const d = differences({ status: a.status, body: a.body }, { status: b.status, body: b.body })
    if (!d.length) {
      same++
      console.log(
        `same ${a.status} ${a.name}${process.env.API_DIFF_VERBOSE ? `: ${JSON.stringify(a.body).slice(0, 300)}` : ''}`,
      )
      continue
    }
    console.log(`DIFF ${a.name}: ${a.request}`)
    console.log(d.slice(0, 12).join('\n'))
  }
  console.log(`\n${same} of ${ours.length} responses identical (ids and dates masked)`)
})().catch((e) => {
  console.error(e)
  process.exit(1)
})
