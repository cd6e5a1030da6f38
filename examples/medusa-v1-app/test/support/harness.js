'use strict'
// Real processes, real HTTP: a fresh database on the Postgres in DATABASE_URL,
// `medusa migrations run`, `medusa user`, and `medusa start` (Medusa 1.20.11) servers on 127.0.0.1.
const { spawn } = require('node:child_process')
const crypto = require('node:crypto')
const fs = require('node:fs')
const path = require('node:path')
const { Client } = require('pg')
const { freePort } = require('../../../../testing/embedded-postgres')

const APP_DIR = path.resolve(__dirname, '..', '..')
const MEDUSA_BIN = path.join(APP_DIR, 'node_modules', '@medusajs', 'medusa-cli', 'cli.js')
const LOG_DIR = path.join(APP_DIR, '.e2e-logs')

const ADMIN_EMAIL = 'admin@test.com'
const ADMIN_PASSWORD = 'secret'

/** Which inventory module the app loads: 'medusa' (INVENTORY_MODULE=medusa) or 'ours'. */
function moduleUnderTest() {
  return process.env.INVENTORY_MODULE === 'medusa' ? 'medusa' : 'ours'
}

function baseDatabaseUrl() {
  const url = process.env.DATABASE_URL
  if (!url) throw new Error('DATABASE_URL is not set (npm test starts an embedded Postgres when it is unset)')
  return url
}

function withDatabase(url, name) {
  const u = new URL(url)
  u.pathname = `/${name}`
  return u.toString()
}

/** Creates `medusa_v1_e2e_<random>` on the server of DATABASE_URL; returns { name, url, drop(), query() }. */
async function createDatabase(prefix = 'medusa_v1_e2e') {
  const admin = baseDatabaseUrl()
  const name = `${prefix}_${crypto.randomBytes(5).toString('hex')}`
  const c = new Client({ connectionString: admin })
  await c.connect()
  try {
    await c.query(`CREATE DATABASE ${name}`)
  } finally {
    await c.end()
  }
  const url = withDatabase(admin, name)
  const client = new Client({ connectionString: url })
  await client.connect()
  return {
    name,
    url,
    query: (text, params) => client.query(text, params),
    async drop() {
      await client.end().catch(() => {})
      if (process.env.E2E_KEEP_DB) {
        console.log(`[e2e] keeping database ${name} (E2E_KEEP_DB set)`)
        return
      }
      const c2 = new Client({ connectionString: admin })
      await c2.connect()
      try {
        await c2.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`)
      } finally {
        await c2.end()
      }
    },
  }
}

/**
 * A config home of the suite's own where medusa-telemetry is off. In 1.20.11 the
 * MEDUSA_DISABLE_TELEMETRY variable only stops queueing events: every process still forks
 * `medusa-telemetry/dist/util/send.js` to flush the outbox shared in ~/.config/medusa, and on a
 * machine without network those children grow to ~1 GB each (we saw the kernel OOM-kill a
 * `medusa start` because of them). `telemetry.enabled: false` in the config stops the forks.
 */
function telemetryOffConfigHome() {
  const home = path.join(LOG_DIR, 'xdg-config')
  fs.mkdirSync(path.join(home, 'medusa'), { recursive: true })
  const file = path.join(home, 'medusa', 'config.json')
  if (!fs.existsSync(file)) fs.writeFileSync(file, JSON.stringify({ telemetry: { enabled: false } }, null, 2))
  return home
}

function appEnv(databaseUrl, extra = {}) {
  const env = { ...process.env, ...extra }
  env.DATABASE_URL = databaseUrl
  env.NODE_ENV = 'production'
  env.MEDUSA_DISABLE_TELEMETRY = 'true'
  env.XDG_CONFIG_HOME = telemetryOffConfigHome()
  // Medusa's pool, raised above the contention test's concurrent checkouts per server (README).
  env.DATABASE_POOL_MAX = process.env.E2E_POOL_MAX || '30'
  delete env.NODE_OPTIONS
  return env
}

function logFile(name) {
  fs.mkdirSync(LOG_DIR, { recursive: true })
  return path.join(LOG_DIR, name)
}

function tail(file, lines = 60) {
  try {
    return fs.readFileSync(file, 'utf8').split('\n').slice(-lines).join('\n')
  } catch {
    return '(no log)'
  }
}

/** Runs `medusa <args>` in the app directory; resolves with the elapsed ms, rejects with the log tail. */
function runMedusa(args, { env, log, timeoutMs = 240_000 }) {
  return new Promise((resolve, reject) => {
    const started = Date.now()
    const out = fs.openSync(log, 'w')
    const child = spawn(process.execPath, [MEDUSA_BIN, ...args], { cwd: APP_DIR, env, stdio: ['ignore', out, out] })
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs)
    child.on('exit', (code, signal) => {
      clearTimeout(timer)
      fs.closeSync(out)
      if (code === 0) resolve(Date.now() - started)
      else reject(new Error(`medusa ${args.join(' ')} exited with ${code ?? signal}; log ${log}:\n${tail(log)}`))
    })
  })
}

// Servers this process started: killed if it exits without stopping them.
const running = new Set()
process.on('exit', () => {
  for (const child of running) child.kill('SIGKILL')
})
for (const sig of ['SIGINT', 'SIGTERM']) {
  process.once(sig, () => {
    for (const child of running) child.kill('SIGKILL')
    process.exit(1)
  })
}

/** `medusa start` on 127.0.0.1:<free port>; resolves once /health answers. */
async function startServer({ env, name }) {
  const port = await freePort()
  const log = logFile(`${name}.log`)
  const out = fs.openSync(log, 'w')
  const started = Date.now()
  const child = spawn(process.execPath, [MEDUSA_BIN, 'start', '-H', '127.0.0.1', '-p', String(port)], {
    cwd: APP_DIR,
    env,
    stdio: ['ignore', out, out],
  })
  fs.closeSync(out)
  running.add(child)
  let exited = null
  child.on('exit', (code, signal) => {
    exited = code ?? signal
    running.delete(child)
  })
  const url = `http://127.0.0.1:${port}`
  for (;;) {
    if (exited !== null)
      throw new Error(`server ${name} exited (${exited}) before it was ready; log ${log}:\n${tail(log)}`)
    if (Date.now() - started > 120_000) {
      child.kill('SIGKILL')
      throw new Error(`server ${name} not ready after 120 s; log ${log}:\n${tail(log)}`)
    }
    try {
      const r = await fetch(`${url}/health`)
      if (r.ok) break
    } catch {}
    await new Promise((r) => setTimeout(r, 250))
  }
  return {
    name,
    url,
    port,
    log,
    pid: child.pid,
    readyMs: Date.now() - started,
    logTail: (n) => tail(log, n),
    async stop() {
      if (exited !== null) return
      const done = new Promise((r) => child.once('exit', r))
      child.kill('SIGTERM')
      const t = setTimeout(() => child.kill('SIGKILL'), 15_000)
      await done
      clearTimeout(t)
    },
  }
}

class HttpError extends Error {
  constructor(method, url, status, body) {
    super(`${method} ${url} -> ${status}: ${typeof body === 'string' ? body : JSON.stringify(body)}`)
    this.status = status
    this.body = body
  }
}

/** A small JSON client for one server: admin (bearer token) or store. */
function client(baseUrl, headers = {}) {
  async function call(method, p, body, { expect = 'ok', timeoutMs = 120_000 } = {}) {
    let res
    try {
      res = await fetch(baseUrl + p, {
        method,
        signal: AbortSignal.timeout(timeoutMs),
        headers: { 'content-type': 'application/json', accept: 'application/json', ...headers },
        body: body === undefined ? undefined : JSON.stringify(body),
      })
    } catch (e) {
      if (e.name !== 'TimeoutError') throw e
      if (expect === 'any') return { status: 'timeout', body: { timeoutMs } }
      throw new Error(`${method} ${p}: no answer within ${timeoutMs} ms`)
    }
    const text = await res.text()
    let json
    try {
      json = text ? JSON.parse(text) : {}
    } catch {
      json = text
    }
    if (expect === 'ok' && !res.ok) throw new HttpError(method, p, res.status, json)
    return expect === 'any' ? { status: res.status, body: json } : json
  }
  return {
    baseUrl,
    get: (p, o) => call('GET', p, undefined, o),
    post: (p, b, o) => call('POST', p, b ?? {}, o),
    delete: (p, o) => call('DELETE', p, undefined, o),
    with: (more) => client(baseUrl, { ...headers, ...more }),
  }
}

/** v1's admin API: `POST /admin/auth/token` gives a bearer token. */
async function adminClient(baseUrl) {
  const { access_token } = await client(baseUrl).post('/admin/auth/token', {
    email: ADMIN_EMAIL,
    password: ADMIN_PASSWORD,
  })
  if (!access_token) throw new Error('no admin token')
  return client(baseUrl, { authorization: `Bearer ${access_token}` })
}

/** Fresh database, migrated, with the admin user and the test's fault trigger. */
async function prepareApp({ label }) {
  const db = await createDatabase()
  const env = appEnv(db.url)
  const timings = {}
  try {
    timings.migrateMs = await runMedusa(['migrations', 'run'], { env, log: logFile(`${label}-migrate.log`) })
    timings.userMs = await runMedusa(['user', '-e', ADMIN_EMAIL, '-p', ADMIN_PASSWORD], {
      env,
      log: logFile(`${label}-user.log`),
    })
    await installFulfillmentFault(db)
  } catch (e) {
    await db.drop()
    throw e
  }
  return { db, env, timings }
}

/**
 * Test-only fault for order fulfilment, in the test's database only. Medusa 1.20.11's
 * `POST /admin/orders/:id/fulfillment` runs, in one transaction: the fulfilment rows (and the
 * fulfillment provider's createFulfillment), then the reservations and `adjustInventory`, then
 * COMMIT; nothing of Medusa's runs after the inventory write inside that transaction. A
 * deferred constraint trigger on `fulfillment` fires at that COMMIT, i.e. after every inventory
 * statement, and fails it when the fulfilment's metadata carries `e2e_fail_on_commit: true`
 * (the request's `metadata`). An inventory module writing outside Medusa's transaction would
 * already have committed by then; one writing in it is rolled back with it.
 */
async function installFulfillmentFault(db) {
  await db.query(`
    CREATE OR REPLACE FUNCTION e2e_fail_fulfillment_on_commit() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      IF NEW.metadata ->> 'e2e_fail_on_commit' = 'true' THEN
        RAISE EXCEPTION 'e2e: injected failure at commit of fulfillment %', NEW.id;
      END IF;
      RETURN NULL;
    END $$;
    DROP TRIGGER IF EXISTS e2e_fail_fulfillment_on_commit ON fulfillment;
    CREATE CONSTRAINT TRIGGER e2e_fail_fulfillment_on_commit AFTER INSERT ON fulfillment
      DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION e2e_fail_fulfillment_on_commit();`)
}

module.exports = {
  APP_DIR,
  ADMIN_EMAIL,
  ADMIN_PASSWORD,
  HttpError,
  adminClient,
  appEnv,
  client,
  createDatabase,
  moduleUnderTest,
  prepareApp,
  runMedusa,
  startServer,
}
