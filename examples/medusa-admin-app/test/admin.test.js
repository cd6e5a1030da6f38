'use strict'
// The admin widget in a real browser: a fresh Medusa 2.21.2 app with medusa-inventory-rs as
// its inventory module and as a plugin, `medusa build` (the admin with the plugin's widget),
// `medusa start` (NODE_ENV=production), Debian's chromium driven by playwright-core.
//
// An order placed over the store API shows as the item's movements with their resulting
// quantities; an edit in the admin's own location-level form names the admin user and
// "admin"; verify finds drift injected by SQL and the UI's reconcile fixes it.
// Screenshots: artifacts/ (ADMIN_ARTIFACTS overrides).
const assert = require('node:assert/strict')
const fs = require('node:fs')
const path = require('node:path')
const { after, before, describe, it } = require('node:test')
const { chromium } = require('playwright-core')
const support = path.join('..', '..', 'medusa-app', 'test', 'support')
const { ADMIN_EMAIL, ADMIN_PASSWORD, adminClient, appEnv, client, createDatabase, runMedusa, startServer } = require(
  `${support}/harness`,
)
const { createProduct, readyCart, setupShop } = require(`${support}/shop`)

const APP_DIR = path.resolve(__dirname, '..')
const LOG_DIR = path.join(APP_DIR, '.e2e-logs')
const ARTIFACTS = path.resolve(process.env.ADMIN_ARTIFACTS || path.join(APP_DIR, 'artifacts'))
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium'
const ADMIN_BUILD = path.join(APP_DIR, '.medusa', 'server', 'public', 'admin')
const log = (msg) => console.log(`[admin-e2e] ${msg}`)

describe('the inventory item page of Medusa 2.21.2 admin with the medusa-inventory-rs plugin', () => {
  let db
  let server
  let admin
  let browser
  let page
  let shop
  let item
  let me
  const t0 = Date.now()

  /** The widget's movement rows as [field, delta, resulting, reason, actor] (the text shown). */
  async function rows() {
    const section = page.getByTestId('ledger-movements')
    await section.getByTestId('ledger-movement').first().waitFor()
    return section
      .getByTestId('ledger-movement')
      .evaluateAll((trs) =>
        trs.map((tr) =>
          ['field', 'delta', 'resulting', 'reason', 'actor'].map(
            (c) => tr.querySelector(`[data-col="${c}"]`)?.textContent.trim() ?? '',
          ),
        ),
      )
  }

  /** The widget (and the whole page), or with `whole` only the page, into ARTIFACTS. */
  async function shot(name, { whole = false } = {}) {
    const file = path.join(ARTIFACTS, `${name}.png`)
    if (!whole) await page.getByTestId('inventory-ledger').screenshot({ path: file })
    await page.screenshot({ path: whole ? file : path.join(ARTIFACTS, `${name}-page.png`) })
    log(`screenshot ${path.relative(process.cwd(), file)}`)
  }

  async function ledgerRows(sql, params) {
    return (await db.query(sql, params)).rows
  }

  before(async () => {
    fs.mkdirSync(ARTIFACTS, { recursive: true })
    db = await createDatabase('medusa_admin_e2e')
    const env = appEnv(db.url)
    const opts = (name) => ({ env, appDir: APP_DIR, log: path.join(LOG_DIR, `${name}.log`) })
    fs.mkdirSync(LOG_DIR, { recursive: true })
    let t = Date.now()
    await runMedusa(['db:migrate'], opts('migrate'))
    await runMedusa(['user', '-e', ADMIN_EMAIL, '-p', ADMIN_PASSWORD], opts('user'))
    log(`database ${db.name} migrated, admin user created in ${((Date.now() - t) / 1000).toFixed(1)} s`)
    if (process.env.ADMIN_E2E_REUSE_BUILD && fs.existsSync(path.join(ADMIN_BUILD, 'index.html'))) {
      log('reusing the admin build in .medusa/server/public/admin (ADMIN_E2E_REUSE_BUILD)')
    } else {
      t = Date.now()
      await runMedusa(['build'], { ...opts('build'), timeoutMs: 600_000 })
      log(`medusa build (admin with the plugin's widget) in ${((Date.now() - t) / 1000).toFixed(1)} s`)
    }
    // `medusa start` in the app directory serves ./public/admin: the build's output.
    fs.rmSync(path.join(APP_DIR, 'public'), { recursive: true, force: true })
    fs.symlinkSync(path.join('.medusa', 'server', 'public'), path.join(APP_DIR, 'public'))
    server = await startServer({ env, name: 'admin-app', appDir: APP_DIR, logDir: LOG_DIR })
    log(`server on ${server.url} ready in ${(server.readyMs / 1000).toFixed(1)} s`)
    admin = await adminClient(server.url)
    ;({ user: me } = await admin.get('/admin/users/me'))
    shop = await setupShop(admin)
    item = await createProduct(admin, shop, { title: 'Ledger widget' })

    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
      ],
    })
    const context = await browser.newContext({
      // Tall enough for the whole widget: the admin scrolls inside its main column, so
      // screenshots show what fits in the viewport.
      viewport: { width: 1440, height: 2200 },
      // Medusa's production session cookie is Secure; over plain http the browser only
      // keeps it when the server believes the request came over https (behind a proxy).
      extraHTTPHeaders: { 'x-forwarded-proto': 'https' },
    })
    page = await context.newPage()
    page.on('pageerror', (e) => log(`page error: ${e.message}`))
  })

  after(async () => {
    await browser?.close()
    await server?.stop()
    await db?.drop()
    log(`done in ${((Date.now() - t0) / 1000).toFixed(1)} s`)
  })

  it('stock set through the admin route names the admin; an order placed over the store API shows as movements', async () => {
    await admin.post(`/admin/inventory-items/${item.inventoryItemId}/location-levels`, {
      location_id: shop.location.id,
      stocked_quantity: 5,
    })
    const store = client(server.url, { 'x-publishable-api-key': shop.publishableKey })
    const cart = await readyCart(store, shop, item.variant.id, 2)
    const done = await store.post(`/store/carts/${cart.id}/complete`, {})
    assert.equal(done.type, 'order', JSON.stringify(done).slice(0, 300))

    const moved = await ledgerRows(
      `SELECT field, delta::int, resulting::int, reason, actor, line_item_id FROM inventory_movement
        WHERE inventory_item_id = $1 ORDER BY id`,
      [item.inventoryItemId],
    )
    assert.deepEqual(
      moved.map((m) => [m.field, m.delta, m.resulting, m.reason, m.actor]),
      [
        ['stocked_quantity', 5, 5, 'admin', me.id],
        ['reserved_quantity', 2, 2, 'reservation_created', null],
      ],
    )
    assert.equal(moved[1].line_item_id, done.order.items[0].id)

    // The plugin's routes: authenticated as Medusa's admin routes are; parameters checked.
    const routes = `/admin/medusa-inventory-rs/inventory-items/${item.inventoryItemId}`
    assert.equal((await client(server.url).get(`${routes}/movements`, { expect: 'any' })).status, 401)
    const { movements, count } = await admin.get(`${routes}/movements?limit=1`)
    assert.deepEqual([movements.length, count, movements[0].reason], [1, 2, 'reservation_created'])
    const bad = await admin.get(`${routes}/history`, { expect: 'any' })
    assert.deepEqual([bad.status, bad.body.message], [400, 'location_id is required'])
  })

  it('log in, open the item: the widget shows the movements, newest first, with their resulting quantities', async () => {
    await page.goto(`${server.url}/app/login`)
    await page.locator('input[name="email"]').fill(ADMIN_EMAIL)
    await page.locator('input[name="password"]').fill(ADMIN_PASSWORD)
    await page.locator('button[type="submit"]').click()
    await page.waitForURL((u) => !u.pathname.endsWith('/login'), { timeout: 30_000 })

    await page.goto(`${server.url}/app/inventory/${item.inventoryItemId}`)
    await page.getByTestId('inventory-ledger').waitFor({ timeout: 60_000 })
    assert.deepEqual(await rows(), [
      ['Reserved', '+2', '2', 'reservation_created', '—'],
      ['Stocked', '+5', '5', 'admin', ADMIN_EMAIL],
    ])
    // The chart: stocked 5, available 3 now.
    const desc = await page.getByTestId('ledger-chart-svg').locator('desc').textContent()
    assert.match(desc, /now stocked 5, reserved 2, available 3/)
    await shot('01-movements-after-order')
  })

  it('an item without stock anywhere: the widget says so instead of an empty table or chart', async () => {
    const bare = await createProduct(admin, shop, { title: 'Never stocked' })
    await page.goto(`${server.url}/app/inventory/${bare.inventoryItemId}`)
    await page.getByTestId('ledger-movements-empty').waitFor({ timeout: 30_000 })
    assert.equal(await page.getByTestId('ledger-movements-empty').textContent(), 'No movements for this item yet.')
    await page.getByTestId('ledger-chart').getByText('This item is not stocked at any location yet.').waitFor()
    await shot('01b-empty-item')
    await page.goto(`${server.url}/app/inventory/${item.inventoryItemId}`)
    await page.getByTestId('ledger-movement').first().waitFor({ timeout: 30_000 })
  })

  it('the location filter is a labelled select, reachable by keyboard', async () => {
    const trigger = page.getByRole('combobox', { name: 'Filter movements by location' })
    await trigger.focus()
    await page.keyboard.press('Enter')
    await page.getByRole('option', { name: shop.location.name }).click()
    assert.equal((await rows()).length, 2)
    await trigger.click()
    await page.getByRole('option', { name: 'All locations' }).click()
  })

  it("an edit in the admin's own location-level form names the admin user and reason admin", async () => {
    // The item page's Locations table: Edit opens the "Manage location quantity" drawer,
    // which saves through POST /admin/inventory-items/:id/location-levels/:location_id.
    await page.goto(`${server.url}/app/inventory/${item.inventoryItemId}/locations/${shop.location.id}`)
    await page.getByRole('heading', { name: 'Manage location quantity' }).waitFor({ timeout: 30_000 })
    const saved = page.waitForResponse(
      (r) =>
        r.request().method() === 'POST' &&
        r.url().endsWith(`/admin/inventory-items/${item.inventoryItemId}/location-levels/${shop.location.id}`),
    )
    await page.locator('input[name="stocked_quantity"]').fill('8')
    await shot('02-admin-level-form', { whole: true })
    await page.getByRole('button', { name: 'Save' }).click()
    assert.equal((await saved).status(), 200)
    await page.getByRole('heading', { name: 'Manage location quantity' }).waitFor({ state: 'hidden' })
    const [last] = await ledgerRows(
      `SELECT field, delta::int, resulting::int, reason, actor FROM inventory_movement
        WHERE inventory_item_id = $1 ORDER BY id DESC LIMIT 1`,
      [item.inventoryItemId],
    )
    assert.deepEqual(last, { field: 'stocked_quantity', delta: 3, resulting: 8, reason: 'admin', actor: me.id })
    await page.getByTestId('inventory-ledger').getByRole('button', { name: 'Refresh' }).click()
    await page.waitForFunction(
      () =>
        document.querySelector('[data-testid="ledger-movement"] [data-col="resulting"]')?.textContent.trim() === '8',
    )
    assert.deepEqual((await rows())[0], ['Stocked', '+3', '8', 'admin', ADMIN_EMAIL])
  })

  it('verify says ok; drift injected by SQL is found; reconcile from the UI (dry run, then apply) fixes it as the admin', async () => {
    const check = page.getByTestId('ledger-check')
    await check.getByRole('button', { name: 'Verify ledger' }).click()
    await check.locator('[data-testid="ledger-verify-result"][data-ok="true"]').waitFor()

    // Another writer changes the level behind the module's back: stocked 8 -> 11 and
    // reserved 2 -> 4, with no movements and no reservations.
    await db.query(
      `UPDATE inventory_level SET stocked_quantity = 11, raw_stocked_quantity = '{"value":"11","precision":20}',
              reserved_quantity = 4, raw_reserved_quantity = '{"value":"4","precision":20}'
        WHERE inventory_item_id = $1 AND location_id = $2`,
      [item.inventoryItemId, shop.location.id],
    )
    await check.getByRole('button', { name: 'Verify ledger' }).click()
    await check.locator('[data-testid="ledger-verify-result"][data-ok="false"]').waitFor()
    const drift = await check
      .getByTestId('ledger-drift')
      .evaluateAll((trs) => trs.map((tr) => [...tr.querySelectorAll('td')].map((td) => td.textContent.trim())))
    assert.deepEqual(drift, [
      [shop.location.name, 'Reserved', '4', '2'],
      [shop.location.name, 'Stocked', '11', '8'],
    ])
    await shot('03-verify-drift')

    await check.getByRole('button', { name: 'Reconcile (dry run)' }).click()
    const plan = check.getByTestId('ledger-reconcile-plan')
    await plan.waitFor()
    assert.match(await plan.textContent(), /Dry run: reconcile would write 3 fixes/)
    const untouched = await ledgerRows(`SELECT count(*)::int AS n FROM inventory_movement WHERE reason = 'reconcile'`)
    assert.equal(untouched[0].n, 0, 'the dry run wrote nothing')
    await shot('04-reconcile-dry-run')

    await plan.getByRole('button', { name: 'Apply reconcile' }).click()
    await check.locator('[data-testid="ledger-verify-result"][data-ok="true"]').waitFor()
    const level = await ledgerRows(
      `SELECT stocked_quantity::int AS stocked, reserved_quantity::int AS reserved FROM inventory_level
        WHERE inventory_item_id = $1 AND location_id = $2`,
      [item.inventoryItemId, shop.location.id],
    )
    assert.deepEqual(
      level,
      [{ stocked: 11, reserved: 2 }],
      'stocked kept (the level is the truth), reserved = live reservations',
    )
    const fixes = await ledgerRows(
      `SELECT field, delta::int, resulting::int, actor FROM inventory_movement
        WHERE inventory_item_id = $1 AND reason = 'reconcile' ORDER BY id`,
      [item.inventoryItemId],
    )
    assert.deepEqual(
      fixes.map((f) => [f.field, f.delta, f.resulting, f.actor]).sort(),
      [
        ['reserved_quantity', -2, 2, me.id],
        ['reserved_quantity', 2, 4, me.id],
        ['stocked_quantity', 3, 11, me.id],
      ].sort(),
    )
    await page.waitForFunction(
      () =>
        document.querySelector('[data-testid="ledger-movement"] [data-col="reason"]')?.textContent.trim() ===
        'reconcile',
    )
    const shown = await rows()
    assert.deepEqual(
      shown.slice(0, 3).map((r) => [r[3], r[4]]),
      [
        ['reconcile', ADMIN_EMAIL],
        ['reconcile', ADMIN_EMAIL],
        ['reconcile', ADMIN_EMAIL],
      ],
    )
    const desc = await page.getByTestId('ledger-chart-svg').locator('desc').textContent()
    assert.match(desc, /now stocked 11, reserved 2, available 9/)
    await shot('05-reconciled')
  })
})
