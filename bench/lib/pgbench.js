'use strict'
// Write floors at concurrency: pgbench running the floor statements of
// floors.js (the cheapest SQL that does a reservation's or an adjustment's
// work, ledger row included) with 1, 32 and 64 clients: what Postgres itself
// sustains, with libpq and no Node in the way.
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const { execFileSync, spawn } = require('node:child_process')
const { SQL } = require('./floors')
const { summarize, round } = require('./stats')

const FLOOR_LOCATION = 'sloc_pgb'
const ITEM_PREFIX = 'iitem_pgb_'

/** Path and version of a usable pgbench, or { reason } when there is none. */
function findPgbench() {
  const candidates = []
  if (process.env.PGBENCH) candidates.push(process.env.PGBENCH)
  candidates.push('pgbench')
  try {
    const base = '/usr/lib/postgresql'
    for (const v of fs.readdirSync(base).sort((a, b) => Number(b) - Number(a))) {
      candidates.push(path.join(base, v, 'bin', 'pgbench'))
    }
  } catch {
    // no Debian-style PostgreSQL install
  }
  for (const bin of candidates) {
    try {
      const version = execFileSync(bin, ['--version'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim()
      return { bin, version }
    } catch {
      // try the next one
    }
  }
  return {
    reason:
      'pgbench not found (set PGBENCH, put it on PATH, or install postgresql-client / postgresql-contrib; the embedded Postgres from npm ships no pgbench)',
  }
}

/** The floor schema: our tables, `items` items with a level each at sloc_pgb, item 0 being the hot one. */
async function setupFloorSchema(InventoryService, url, schema, items) {
  const svc = await InventoryService.connect({ url, schema, maxConnections: 2 })
  try {
    await svc.migrate()
    for (let start = 0; start <= items; start += 1000) {
      const batch = []
      for (let i = start; i <= Math.min(items, start + 999); i++)
        batch.push({ id: `${ITEM_PREFIX}${i}`, sku: `PGB-${i}`, title: `pgbench ${i}` })
      await svc.createInventoryItems(batch)
      await svc.createInventoryLevels(
        batch.map((b) => ({ inventory_item_id: b.id, location_id: FLOOR_LOCATION, stocked_quantity: 1_000_000_000 })),
      )
    }
  } finally {
    await svc.close()
  }
}

/**
 * A pgbench script of a floor statement (floors.js SQL): each $k becomes the SQL
 * expression `args[k-1]`, where `:n` picks the item (1..items, or the hot item 0).
 */
function scriptFor(sql, args, { hot, items }) {
  const text = sql.replace(/\$(\d+)(::[a-z[\]]+)?/g, (m, d) => {
    const a = args[Number(d) - 1]
    if (a === undefined) throw new Error(`statement uses $${d} but the script gives no value for it`)
    return `(${a})`
  })
  // pgbench reads :name as a variable; only casts (::) may appear besides our own :n.
  const stray = text.replace(/::/g, '').match(/:(?!n\b)[A-Za-z_]\w*/)
  if (stray) throw new Error(`statement contains ${stray[0]}, which pgbench would read as a variable`)
  if (text.includes(';')) throw new Error('statement contains a semicolon')
  const set = hot ? '\\set n 0' : `\\set n random(1, ${items})`
  return `${set}\n${text.replace(/\s+/g, ' ').trim()};\n`
}

const ITEM = `'${ITEM_PREFIX}' || (:n)::text`
const FRESH_RESERVATION = `'resitem_pgb' || replace(gen_random_uuid()::text, '-', '')`
/** The floor statements with what pgbench puts in their parameters. */
const STATEMENTS = {
  reserve: {
    sql: SQL.reserve,
    args: [`ARRAY[${FRESH_RESERVATION}]`, `ARRAY[${ITEM}]`, `ARRAY['ordli_pgb']`, `'${FLOOR_LOCATION}'`],
  },
  adjust: { sql: SQL.adjust, args: [ITEM, `'${FLOOR_LOCATION}'`, `'1'::numeric`] },
}

function pgEnv(url, schema) {
  const u = new URL(url)
  return {
    ...process.env,
    PGHOST: u.hostname || '127.0.0.1',
    PGPORT: u.port || '5432',
    PGUSER: decodeURIComponent(u.username || 'postgres'),
    PGPASSWORD: decodeURIComponent(u.password || ''),
    PGDATABASE: decodeURIComponent(u.pathname.slice(1) || 'postgres'),
    PGOPTIONS: `-c search_path=${schema}`,
    PGAPPNAME: 'medusa-inventory-bench-pgbench',
  }
}

function runProcess(bin, args, opts) {
  return new Promise((resolve, reject) => {
    const p = spawn(bin, args, { ...opts, stdio: ['ignore', 'pipe', 'pipe'] })
    let out = ''
    let err = ''
    p.stdout.on('data', (d) => (out += d))
    p.stderr.on('data', (d) => (err += d))
    p.on('error', reject)
    p.on('exit', (code) =>
      code === 0
        ? resolve({ out, err })
        : reject(new Error(`pgbench exited ${code}: ${(err || out).trim().slice(-800)}`)),
    )
  })
}

/**
 * Runs one script. clients/threads as pgbench's -c/-j; either seconds (-T) or
 * transactions per client (-t). With latencies: per-transaction log (-l) for p50/p99.
 */
async function runScript(pg, { url, schema, name, script, clients, seconds, transactions, latencies }) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `bench-pgbench-${name}-`))
  try {
    const file = path.join(dir, `${name}.sql`)
    fs.writeFileSync(file, script)
    const threads = Math.min(clients, Math.max(1, os.cpus().length))
    const args = ['-n', '-M', 'prepared', '-f', file, '-c', String(clients), '-j', String(threads)]
    args.push(...(seconds ? ['-T', String(seconds)] : ['-t', String(transactions)]))
    if (latencies) args.push('-l', `--log-prefix=${path.join(dir, 'log')}`)
    const { out } = await runProcess(pg.bin, args, { env: pgEnv(url, schema), cwd: dir })
    const num = (re) => {
      const m = re.exec(out)
      return m ? Number(m[1]) : null
    }
    const result = {
      clients,
      threads,
      tps: round(num(/tps = ([\d.]+) \(without initial connection time\)/) ?? num(/tps = ([\d.]+)/), 1),
      latency_avg_ms: num(/latency average = ([\d.]+) ms/),
      transactions: num(/number of transactions actually processed: (\d+)/),
      failed: num(/number of failed transactions: (\d+)/) ?? 0,
    }
    if (latencies) {
      const samples = []
      for (const f of fs.readdirSync(dir).filter((f) => f.startsWith('log.'))) {
        for (const line of fs.readFileSync(path.join(dir, f), 'utf8').split('\n')) {
          const cols = line.trim().split(/\s+/)
          if (cols.length >= 3 && /^\d+$/.test(cols[2])) samples.push(Number(cols[2]) / 1000)
        }
      }
      const s = summarize(
        samples,
        samples.reduce((a, b) => a + b, 0),
      )
      Object.assign(result, { p50: s.p50, p90: s.p90, p99: s.p99, n: s.n })
    }
    return result
  } finally {
    fs.rmSync(dir, { recursive: true, force: true })
  }
}

/**
 * All write floors. Resolves to { available, reason?, version, statements, runs }.
 * profile: { pgbenchSeconds (0 = use pgbenchTransactions), pgbenchTransactions, callers, hotCallers, floorItems }.
 */
async function writeFloors({ InventoryService, url, schema, profile, log }) {
  const pg = findPgbench()
  if (!pg.bin) return { available: false, reason: pg.reason }
  const out = { available: true, bin: pg.bin, version: pg.version, schema, statements: {}, runs: {} }
  const items = profile.floorItems
  await setupFloorSchema(InventoryService, url, schema, items)
  const scripts = {}
  try {
    scripts.reserve = scriptFor(STATEMENTS.reserve.sql, STATEMENTS.reserve.args, { hot: false, items })
    scripts.reserve_hot = scriptFor(STATEMENTS.reserve.sql, STATEMENTS.reserve.args, { hot: true, items })
    scripts.adjust = scriptFor(STATEMENTS.adjust.sql, STATEMENTS.adjust.args, { hot: false, items })
  } catch (e) {
    return {
      ...out,
      available: false,
      reason: `could not turn the floor statements into pgbench scripts: ${e.message}`,
    }
  }
  scripts.select1 = 'SELECT 1;\n'
  out.statements = { reserve: scripts.reserve, adjust: scripts.adjust }
  const timing = profile.pgbenchSeconds
    ? { seconds: profile.pgbenchSeconds }
    : { transactions: profile.pgbenchTransactions }
  const plan = [
    ['select1_c1', 'select1', 1, true, 'SELECT 1, 1 client (libpq, prepared)'],
    ['reserve_c1', 'reserve', 1, true, 'the reservation floor statement, 1 client, 1000 items'],
    ['adjust_c1', 'adjust', 1, true, 'the adjust floor statement, 1 client, 1000 items'],
    [
      'reserve_c32',
      'reserve',
      profile.callers,
      false,
      `the reservation floor statement, ${profile.callers} clients, 1000 items`,
    ],
    [
      'adjust_c32',
      'adjust',
      profile.callers,
      false,
      `the adjust floor statement, ${profile.callers} clients, 1000 items`,
    ],
    [
      'reserve_hot',
      'reserve_hot',
      profile.hotCallers,
      false,
      `the reservation floor statement, ${profile.hotCallers} clients, one level`,
    ],
  ]
  // pgbench does not look at what a statement returns: count what each run
  // wrote, so a script that quietly did nothing cannot pass for a floor.
  const { Client } = require('pg')
  const check = new Client({ connectionString: url, options: `-c search_path=${schema}` })
  await check.connect()
  const effect = {
    select1: async () => 0,
    reserve: async () => Number((await check.query('SELECT count(*) AS n FROM reservation_item')).rows[0].n),
    reserve_hot: async () => Number((await check.query('SELECT count(*) AS n FROM reservation_item')).rows[0].n),
    adjust: async () =>
      Number(
        (
          await check.query(
            `SELECT sum(stocked_quantity) - count(*) * 1000000000 AS n FROM inventory_level WHERE location_id = '${FLOOR_LOCATION}'`,
          )
        ).rows[0].n,
      ),
  }
  try {
    for (const [key, script, clients, latencies, what] of plan) {
      try {
        const before = await effect[script]()
        const r = {
          what,
          ...(await runScript(pg, { url, schema, name: key, script: scripts[script], clients, latencies, ...timing })),
        }
        if (script !== 'select1') {
          r.rows_written = (await effect[script]()) - before
          r.verified = r.rows_written === r.transactions - r.failed
          if (!r.verified)
            r.error = `pgbench reported ${r.transactions} transactions but ${r.rows_written} were written: not a valid floor`
        }
        out.runs[key] = r
        log(
          `[pgbench] ${what}: ${r.tps} tps${latencies ? `, p50 ${r.p50} ms, p99 ${r.p99} ms` : ''}${r.failed ? `, ${r.failed} failed` : ''}${r.error ? ` (${r.error})` : ''}`,
        )
      } catch (e) {
        out.runs[key] = { what, error: e.message }
        log(`[pgbench] ${what}: FAILED ${e.message}`)
      }
    }
  } finally {
    await check.end()
  }
  return out
}

/**
 * The scale read's floor outside Node: pgbench (libpq, prepared) running the
 * availability SELECT of floors.js for a random one of `items` seeded items over
 * the five scale locations, one client. What the server itself answers in, p50 and
 * p99, with no JavaScript event loop in the way.
 */
async function scaleReadFloor({ url, schema, items, width = 7, seconds, log }) {
  const pg = findPgbench()
  if (!pg.bin) return { available: false, reason: pg.reason }
  const id = `'iitem_scale_' || lpad(:g::text, ${width}, '0')`
  const locs = "'{sloc_scale_1,sloc_scale_2,sloc_scale_3,sloc_scale_4,sloc_scale_5}'::text[]"
  const script = `\\set g random(1, ${items})
SELECT EXISTS (SELECT 1 FROM inventory_item WHERE id = ${id} AND deleted_at IS NULL) AS found,
  coalesce(sum(stocked_quantity - reserved_quantity), 0)::text AS available
  FROM inventory_level WHERE inventory_item_id = ${id} AND location_id = ANY(${locs}) AND deleted_at IS NULL;
`
  const what = `the availability SELECT (5 locations) for a random one of ${items} items, 1 client (libpq, prepared)`
  try {
    const r = {
      what,
      ...(await runScript(pg, { url, schema, name: 'scale_available', script, clients: 1, latencies: true, seconds })),
    }
    log(`[pgbench] ${what}: ${r.tps} tps, p50 ${r.p50} ms, p99 ${r.p99} ms`)
    return { available: true, ...r }
  } catch (e) {
    log(`[pgbench] ${what}: FAILED ${e.message}`)
    return { available: true, what, error: e.message }
  }
}

module.exports = { findPgbench, writeFloors, scriptFor, scaleReadFloor }
