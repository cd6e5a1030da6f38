'use strict'
// Real processes, real HTTP: a fresh database on the Postgres in DATABASE_URL,
// `medusa db:migrate`, `medusa user`, and `medusa start` servers on 127.0.0.1.
const { spawn } = require('node:child_process')
const crypto = require('node:crypto')
const fs = require('node:fs')
const path = require('node:path')
const { Client } = require('pg')
const { freePort } = require('../../../../testing/embedded-postgres')

const APP_DIR = path.resolve(__dirname, '..', '..')
const medusaBin = (appDir) => path.join(appDir, 'node_modules', '@medusajs', 'cli', 'cli.js')
const LOG_DIR = path.join(APP_DIR, '.e2e-logs')

const ADMIN_EMAIL = 'admin@test.com'
const ADMIN_PASSWORD = 'secret'

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

/** Creates `medusa_e2e_<random>` on the server of DATABASE_URL; returns { name, url, drop(), query() }. */
async function createDatabase(prefix = 'medusa_e2e') {
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

function appEnv(databaseUrl, extra = {}) {
  const env = { ...process.env, ...extra }
  env.DATABASE_URL = databaseUrl
  env.NODE_ENV = 'production' // no ts-node, no dev tooling: `medusa start` as deployed
  env.MEDUSA_DISABLE_TELEMETRY = 'true'
  delete env.NODE_OPTIONS
  return env
}

function logFile(name, dir = LOG_DIR) {
  fs.mkdirSync(dir, { recursive: true })
  return path.join(dir, name)
}

function tail(file, lines = 60) {
  try {
    return fs.readFileSync(file, 'utf8').split('\n').slice(-lines).join('\n')
  } catch {
    return '(no log)'
  }
}

/**
 * Runs `medusa <args>` in the app directory (`appDir`: another app's, e.g. examples/medusa-admin-app);
 * resolves with the elapsed ms, rejects with the log tail.
 */
function runMedusa(args, { env, log, timeoutMs = 240_000, appDir = APP_DIR }) {
  return new Promise((resolve, reject) => {
    const started = Date.now()
    const out = fs.openSync(log, 'w')
    const child = spawn(process.execPath, [medusaBin(appDir), ...args], {
      cwd: appDir,
      env,
      stdio: ['ignore', out, out],
    })
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

/** `medusa start` on 127.0.0.1:<free port> (in `appDir`); resolves once /health answers. */
async function startServer({ env, name, appDir = APP_DIR, logDir }) {
  const port = await freePort()
  const log = logFile(`${name}.log`, logDir)
  const out = fs.openSync(log, 'w')
  const started = Date.now()
  const child = spawn(process.execPath, [medusaBin(appDir), 'start', '-H', '127.0.0.1', '-p', String(port)], {
    cwd: appDir,
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

/** A small JSON client for one server: admin (bearer token) or store (publishable key). */
function client(baseUrl, headers = {}) {
  async function call(method, p, body, { expect = 'ok' } = {}) {
    const res = await fetch(baseUrl + p, {
      method,
      headers: { 'content-type': 'application/json', accept: 'application/json', ...headers },
      body: body === undefined ? undefined : JSON.stringify(body),
    })
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

async function adminClient(baseUrl) {
  const { token } = await client(baseUrl).post('/auth/user/emailpass', { email: ADMIN_EMAIL, password: ADMIN_PASSWORD })
  if (!token) throw new Error('no admin token')
  return client(baseUrl, { authorization: `Bearer ${token}` })
}

/** Fresh database, migrated, with the admin user: what every scenario starts from. */
async function prepareApp({ inventoryModule = 'ours', label }) {
  const db = await createDatabase()
  const extra =
    inventoryModule === 'medusa' ? { INVENTORY_MODULE: 'medusa' } : { INVENTORY_MODULE: 'medusa-inventory-rs' }
  const env = appEnv(db.url, extra)
  const timings = {}
  try {
    timings.migrateMs = await runMedusa(['db:migrate'], { env, log: logFile(`${label}-migrate.log`) })
    timings.userMs = await runMedusa(['user', '-e', ADMIN_EMAIL, '-p', ADMIN_PASSWORD], {
      env,
      log: logFile(`${label}-user.log`),
    })
  } catch (e) {
    await db.drop()
    throw e
  }
  return { db, env, timings }
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
  prepareApp,
  runMedusa,
  startServer,
}
