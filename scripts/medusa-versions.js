'use strict'
// Version matrix: this package, packed with `npm pack` and installed into a fresh
// Medusa app pinned to each given version, must
//   install   without ERESOLVE, and resolve THAT version's @medusajs/framework
//   suite     pass __test__/medusa-module.test.js through that version's own loader,
//             next to that version's own @medusajs/inventory (MEDUSA_APP_DIR)
//   migrate   `medusa db:migrate` on a fresh database with { resolve: "medusa-inventory-rs/medusa" }
//   old db    a database migrated by that version's own @medusajs/inventory, with rows
//             written by it, migrated in place by ours: schema = Medusa 2.21.2's, rows intact
//
//   npm run test:medusa-versions -- 2.6.1 2.13.6           (DATABASE_URL, else an embedded Postgres)
//   npm run test:medusa-versions -- --install-only 2.17.1  (only: installs without ERESOLVE)
//
// Packs with scripts/pack.js (builds the addon when stale). Apps go to the OS temp dir and
// are removed afterwards; databases are created next to DATABASE_URL's and dropped.
const { spawnSync } = require('node:child_process')
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const { Client } = require('pg')
const { startMedusa } = require('./lib/medusa')
const { catalogOf } = require('./lib/catalog')
const { ITEM_FIELDS, LEVEL_FIELDS, RESERVATION_FIELDS } = require('./lib/medusa-fields')
const { isDeepStrictEqual } = require('node:util')

const ROOT = path.resolve(__dirname, '..')
const DATABASE_URL = process.env.DATABASE_URL
// Resolves as the app does (a plain require.resolve from here would find this package itself).
const appRequire = (dir) => require('node:module').createRequire(path.join(dir, 'package.json'))
const INVENTORY_TABLES = ['inventory_item', 'inventory_level', 'reservation_item']
const LOC = 'sloc_old'

const argv = process.argv.slice(2)
const installOnly = argv.includes('--install-only')
const versions = argv.filter((a) => !a.startsWith('--'))

const log = (...a) => console.log('[versions]', ...a)

function run(cmd, args, opts = {}) {
  const r = spawnSync(cmd, args, {
    encoding: 'utf8',
    maxBuffer: 64 << 20,
    ...opts,
    env: { ...process.env, ...opts.env },
  })
  const output = `${r.stdout || ''}${r.stderr || ''}`
  return { status: r.status ?? 1, output }
}

function must(r, what) {
  if (r.status !== 0) throw new Error(`${what} failed (exit ${r.status}):\n${r.output.slice(-6000)}`)
  return r
}

function urlFor(database) {
  const u = new URL(DATABASE_URL)
  u.pathname = `/${database}`
  return u.toString()
}

async function admin(fn, database) {
  const c = new Client({ connectionString: database ? urlFor(database) : DATABASE_URL })
  await c.connect()
  try {
    return await fn(c)
  } finally {
    await c.end()
  }
}

/**
 * The tarballs a user installs, made by scripts/pack.js (the main package and the host's
 * napi-rs platform package with the binary), copied to `dir`; resolves to { name: path }.
 */
function pack(dir) {
  must(run(process.execPath, [path.join(__dirname, 'pack.js')], { cwd: ROOT }), 'scripts/pack.js')
  const packed = path.join(ROOT, 'packed')
  const tarballs = {}
  for (const f of fs.readdirSync(packed).filter((n) => n.endsWith('.tgz'))) {
    const name = f.replace(/-\d+\.\d+\.\d+[^/]*\.tgz$/, '')
    tarballs[name] = path.join(dir, f)
    fs.copyFileSync(path.join(packed, f), tarballs[name])
  }
  if (!tarballs['medusa-inventory-rs']) throw new Error('scripts/pack.js made no medusa-inventory-rs tarball')
  return tarballs
}

/** An app pinned to `version`, with the packed module; installs; returns its dir. */
function makeApp(version, tarballs, { full }) {
  // No dot in the dir name: MikroORM takes a cwd with an extension for a file and then
  // cannot find @mikro-orm/migrations from it.
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `medusa-inventory-rs-${version.replace(/\./g, '_')}-`))
  const dependencies = { '@medusajs/framework': version }
  for (const [name, file] of Object.entries(tarballs)) dependencies[name] = `file:${file}`
  if (full) {
    Object.assign(dependencies, {
      '@medusajs/medusa': version,
      '@medusajs/cli': version,
      '@medusajs/inventory': version,
      pg: '^8.13.0',
    })
  }
  fs.writeFileSync(
    path.join(dir, 'package.json'),
    JSON.stringify({ name: `app-${version}`, version: '0.0.0', private: true, dependencies }, null, 2),
  )
  fs.writeFileSync(
    path.join(dir, 'medusa-config.js'),
    `const { defineConfig } = require('@medusajs/framework/utils')
module.exports = defineConfig({
  projectConfig: {
    databaseUrl: process.env.DATABASE_URL,
    http: { storeCors: '/x', adminCors: '/x', authCors: '/x', jwtSecret: 'test', cookieSecret: 'test' },
  },
  admin: { disable: true },
  // INVENTORY_MODULE=medusa: Medusa's own @medusajs/inventory (the default module).
  modules: process.env.INVENTORY_MODULE === 'medusa' ? [] : [{ resolve: 'medusa-inventory-rs/medusa' }],
})
`,
  )
  return dir
}

function install(dir, { dryRun }) {
  const args = ['install', '--prefer-offline', '--no-audit', '--no-fund', ...(dryRun ? ['--dry-run'] : [])]
  const r = run('npm', args, { cwd: dir })
  if (/ERESOLVE/.test(r.output)) throw new Error(`npm install: ERESOLVE\n${r.output.slice(-4000)}`)
  must(r, 'npm install')
}

/** The @medusajs/framework the installed medusa-inventory-rs/medusa resolves: its version. */
function resolvedFramework(dir) {
  const ours = appRequire(dir).resolve('medusa-inventory-rs/medusa')
  if (!ours.startsWith(path.join(dir, 'node_modules')))
    throw new Error(`medusa-inventory-rs resolved outside the app: ${ours}`)
  let p = path.dirname(require('node:module').createRequire(ours).resolve('@medusajs/framework/utils'))
  for (; p !== path.dirname(p); p = path.dirname(p)) {
    const file = path.join(p, 'package.json')
    if (fs.existsSync(file)) {
      const pkg = JSON.parse(fs.readFileSync(file, 'utf8'))
      if (pkg.name === '@medusajs/framework') return { version: pkg.version, dir: p }
    }
  }
  throw new Error('no @medusajs/framework package.json above its utils')
}

/** The three inventory tables' catalog in `schema` of `database`. */
function inventoryCatalog(database, schema) {
  return admin((c) => catalogOf(c, schema, (t) => INVENTORY_TABLES.includes(t)), database)
}

/** Medusa 2.21.2's inventory schema, made by its own migrations (the repo's @medusajs/inventory). */
async function referenceShape(database) {
  await admin((c) => c.query('CREATE SCHEMA ref_2_21_2'), database)
  const m = await startMedusa(urlFor(database), 'ref_2_21_2')
  try {
    await m.migrate()
  } finally {
    await m.stop()
  }
  return inventoryCatalog(database, 'ref_2_21_2')
}

function diff(a, b) {
  const out = []
  for (const k of Object.keys(a)) {
    const key = (r) => JSON.stringify(r)
    const as = new Set(a[k].map(key))
    const bs = new Set(b[k].map(key))
    for (const r of as) if (!bs.has(r)) out.push(`- ${k} ${r}`)
    for (const r of bs) if (!as.has(r)) out.push(`+ ${k} ${r}`)
  }
  return out
}

/** The app's `medusa` CLI; a logged error counts as failure (db:migrate exits 0 on some). */
function medusa(dir, database, args, env = {}) {
  const r = run(path.join(dir, 'node_modules/.bin/medusa'), args, {
    cwd: dir,
    env: { DATABASE_URL: urlFor(database), NODE_ENV: 'development', ...env },
  })
  const errors = r.output
    // eslint-disable-next-line no-control-regex
    .replace(/\x1b\[[0-9;]*m/g, '')
    .split('\n')
    .filter((l) => /^error:/.test(l))
  return errors.length ? { status: r.status || 1, output: `${errors.join('\n')}\n--- output:\n${r.output}` } : r
}

const DTO_FIELDS = { items: ITEM_FIELDS, levels: LEVEL_FIELDS, reservations: RESERVATION_FIELDS }

/** The DTO fields of a row the older module returned, raw_* values as numbers. */
function view(row, fields) {
  const out = {}
  for (const f of fields) {
    let v = row[f]
    if (f.startsWith('raw_') && v && typeof v === 'object') v = { ...v, value: Number(v.value) }
    out[f] = v
  }
  return out
}

async function readAll(handle) {
  const items = await handle.service.listInventoryItems({}, { relations: ['location_levels'], order: { sku: 'ASC' } })
  const levels = await handle.service.listInventoryLevels({}, { order: { id: 'ASC' } })
  const reservations = await handle.service.listReservationItems({}, { order: { id: 'ASC' } })
  return { items, levels, reservations }
}

/** Equal on every DTO field the older module returned (ours may return more: unit_of_measure). */
function sameRows(before, after) {
  const problems = []
  for (const kind of Object.keys(before)) {
    if (before[kind].length !== after[kind].length)
      problems.push(`${kind}: ${before[kind].length} rows before, ${after[kind].length} after`)
    for (const b of before[kind]) {
      const a = after[kind].find((x) => x.id === b.id)
      if (!a) {
        problems.push(`${kind} ${b.id} missing`)
        continue
      }
      const fields = DTO_FIELDS[kind].filter((f) => f in b && f !== 'available_quantity')
      const [vb, va] = [view(b, fields), view(a, fields)]
      if (!isDeepStrictEqual(vb, va)) problems.push(`${kind} ${b.id}: ${JSON.stringify(vb)} != ${JSON.stringify(va)}`)
    }
  }
  return problems
}

async function oldDatabase(dir, version, database, shape) {
  const env = { MEDUSA_APP_DIR: dir }
  const t0 = Date.now()
  const at = (what) => log(`${version} old db: ${what} (${Math.round((Date.now() - t0) / 1000)}s)`)
  must(
    medusa(dir, database, ['db:migrate'], { INVENTORY_MODULE: 'medusa' }),
    `medusa db:migrate with @medusajs/inventory@${version}`,
  )
  at(`migrated by @medusajs/inventory@${version}`)
  const url = urlFor(database)
  const old = await inventoryCatalog(database, 'public')
  // Rows written by that version's own module.
  const stock = await startMedusa(url, 'public', { env })
  let before
  try {
    await stock.load()
    const [shirt, mug] = await stock.service.createInventoryItems([
      { sku: 'shirt', title: 'Shirt', weight: 250, metadata: { color: 'blue' } },
      { sku: 'mug', title: 'Mug', requires_shipping: false },
    ])
    await stock.service.createInventoryLevels([
      { inventory_item_id: shirt.id, location_id: LOC, stocked_quantity: 10.5, incoming_quantity: 2 },
      { inventory_item_id: mug.id, location_id: LOC, stocked_quantity: 3 },
    ])
    await stock.service.createReservationItems([
      {
        inventory_item_id: shirt.id,
        location_id: LOC,
        quantity: 2.5,
        line_item_id: 'li_old',
        description: 'old order',
      },
    ])
    before = await readAll(stock)
    at('rows written through it')
  } finally {
    await stock.stop()
  }
  // Switch to ours and migrate in place.
  must(medusa(dir, database, ['db:migrate']), 'medusa db:migrate with medusa-inventory-rs on the old database')
  at('migrated in place by ours')
  const migrated = await inventoryCatalog(database, 'public')
  const schemaDiff = diff(shape, migrated)
  if (schemaDiff.length)
    throw new Error(`old database after our migrate differs from 2.21.2:\n${schemaDiff.join('\n')}`)
  const ours = await startMedusa(url, 'public', {
    env,
    resolve: path.dirname(appRequire(dir).resolve('medusa-inventory-rs/medusa')),
  })
  try {
    await ours.load()
    const after = await readAll(ours)
    const problems = sameRows(before, after)
    if (problems.length) throw new Error(`rows read through ours differ:\n${problems.join('\n')}`)
    const shirt = after.items.find((i) => i.sku === 'shirt')
    if (shirt.unit_of_measure !== null) throw new Error(`unit_of_measure of an old row: ${shirt.unit_of_measure}`)
    // The old rows are live data for ours: reserve what is left, then one more is refused.
    await ours.service.createReservationItems({ inventory_item_id: shirt.id, location_id: LOC, quantity: 8 })
    const err = await ours.callError('createReservationItems', {
      inventory_item_id: shirt.id,
      location_id: LOC,
      quantity: 0.5,
    })
    if (!err.threw || err.type !== 'not_allowed')
      throw new Error(`over-reserving migrated stock: ${JSON.stringify(err)}`)
  } finally {
    await ours.stop()
  }
  return `before ours: ${diff(shape, old).join('; ')}; after: none; rows intact`
}

async function matrixFor(version, tarballs, shape, dbTag) {
  const row = installOnly
    ? { version, install: '-' }
    : { version, install: '-', framework: '-', suite: '-', 'db:migrate': '-', 'old db': '-' }
  const notes = []
  const step = async (col, fn) => {
    const t0 = Date.now()
    try {
      const note = await fn()
      row[col] = `ok (${Math.round((Date.now() - t0) / 1000)}s)`
      log(`${version} ${col}: ${row[col]}`)
      if (note) notes.push(`${col}: ${note}`)
      return true
    } catch (e) {
      row[col] = 'FAIL'
      notes.push(`${col}: ${String(e.message || e)}`)
      console.error(`[versions] ${version} ${col} FAILED:\n${e.message || e}`)
      return false
    }
  }
  const dir = makeApp(version, tarballs, { full: !installOnly })
  const databases = []
  try {
    if (!(await step('install', () => install(dir, { dryRun: installOnly })))) return { row, notes }
    if (installOnly) return { row, notes }
    if (
      !(await step('framework', () => {
        const fw = resolvedFramework(dir)
        if (fw.version !== version)
          throw new Error(`resolves @medusajs/framework ${fw.version} (${fw.dir}), not ${version}`)
        return `${fw.version} at ${path.relative(dir, fw.dir)}`
      }))
    )
      return { row, notes }
    await step('suite', () => {
      must(
        run('npx', ['jest', '--ci', '__test__/medusa-module.test.js'], { cwd: ROOT, env: { MEDUSA_APP_DIR: dir } }),
        `medusa-module.test.js on ${version}`,
      )
    })
    const fresh = `${dbTag}_${version.replace(/\./g, '_')}_fresh`
    const old = `${dbTag}_${version.replace(/\./g, '_')}_old`
    databases.push(fresh, old)
    await admin(async (c) => {
      for (const d of databases) await c.query(`CREATE DATABASE "${d}"`)
    })
    await step('db:migrate', async () => {
      must(medusa(dir, fresh, ['db:migrate']), 'medusa db:migrate')
      const tables = await admin((c) => c.query(`SELECT tablename FROM pg_tables WHERE schemaname = 'public'`), fresh)
      if (!tables.rows.some((r) => r.tablename === 'medusa_inventory_rs_schema'))
        throw new Error('our migrator did not run')
      const d = diff(shape, await inventoryCatalog(fresh, 'public'))
      if (d.length) throw new Error(`fresh schema differs from 2.21.2:\n${d.join('\n')}`)
    })
    await step('old db', () => oldDatabase(dir, version, old, shape))
    return { row, notes }
  } finally {
    if (databases.length) {
      await admin(async (c) => {
        for (const d of databases) await c.query(`DROP DATABASE IF EXISTS "${d}" WITH (FORCE)`)
      }).catch((e) => console.error('[versions] dropping databases:', e.message))
    }
    fs.rmSync(dir, { recursive: true, force: true })
  }
}

async function main() {
  if (!versions.length || versions.some((v) => !/^2\.\d+\.\d+$/.test(v))) {
    console.error('usage: node scripts/medusa-versions.js [--install-only] <2.x.y>...')
    process.exit(2)
  }
  if (!installOnly && !DATABASE_URL) {
    console.error('DATABASE_URL is not set (run through `npm run test:medusa-versions`, which provides one)')
    process.exit(2)
  }
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'medusa-inventory-rs-pack-'))
  const dbTag = `mirs_v_${process.pid}`
  const shapeDb = `${dbTag}_shape`
  const results = []
  try {
    const t0 = Date.now()
    const tarballs = pack(work)
    log(`packed ${Object.keys(tarballs).join(' + ')} (${Math.round((Date.now() - t0) / 1000)}s)`)
    let shape
    if (!installOnly) {
      await admin((c) => c.query(`CREATE DATABASE "${shapeDb}"`))
      shape = await referenceShape(shapeDb)
      log(`Medusa 2.21.2's inventory schema taken from its own migrations (${Math.round((Date.now() - t0) / 1000)}s)`)
    }
    for (const version of versions) {
      log(`== Medusa ${version}`)
      const t0 = Date.now()
      const r = await matrixFor(version, tarballs, shape, dbTag)
      r.seconds = Math.round((Date.now() - t0) / 1000)
      results.push(r)
      log(`${version}: ${JSON.stringify(r.row)} in ${r.seconds}s`)
      for (const n of r.notes) log(`  ${n.split('\n')[0]}`)
    }
  } finally {
    if (!installOnly) await admin((c) => c.query(`DROP DATABASE IF EXISTS "${shapeDb}" WITH (FORCE)`)).catch(() => {})
    fs.rmSync(work, { recursive: true, force: true })
  }
  console.log('\n| ' + Object.keys(results[0].row).join(' | ') + ' | time |')
  console.log('|' + ' --- |'.repeat(Object.keys(results[0].row).length + 1))
  for (const r of results) console.log('| ' + Object.values(r.row).join(' | ') + ` | ${r.seconds}s |`)
  const failed = results.filter((r) => Object.values(r.row).some((v) => v === 'FAIL' || v === '-'))
  if (failed.length) {
    console.error(`\n[versions] failed: ${failed.map((r) => r.row.version).join(', ')}`)
    process.exit(1)
  }
}

if (require.main === module) {
  main().catch((e) => {
    console.error(e)
    process.exit(1)
  })
}

module.exports = { oldDatabase, referenceShape, admin }
