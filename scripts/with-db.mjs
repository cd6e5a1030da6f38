// Runs a command with DATABASE_URL pointing at a real Postgres: the caller's
// DATABASE_URL when set, otherwise an embedded Postgres from npm started in a
// temp dir for the duration of the command and removed afterwards.
import { spawn } from 'node:child_process'
import embedded from '../testing/embedded-postgres.js'

const { startEmbeddedPostgres } = embedded

const [cmd, ...args] = process.argv.slice(2)
if (!cmd) {
  console.error('usage: node scripts/with-db.mjs <command> [args…]')
  process.exit(2)
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
  const pg = await startEmbeddedPostgres({ log: console.log })
  try {
    code = await run({ ...process.env, DATABASE_URL: pg.url })
  } finally {
    await pg.stop()
    console.log('[db] embedded Postgres stopped')
  }
}
process.exit(code)
