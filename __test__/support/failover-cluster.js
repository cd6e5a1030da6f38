'use strict'
// A pg_auto_failover cluster on this machine for the failover test: a monitor, a primary and a
// synchronous secondary, each a Postgres 15 on its own free port and data directory under one
// temp dir (removed by stop()). Trust auth on 127.0.0.1 only, no TLS.
//
// pg_autoctl and postgres refuse to run as root: as root (CI), every command runs as the
// `postgres` OS user through runuser, in a temp dir that user owns; as anyone else, as that user.
// Each node's `pg_autoctl run` is started in its own process group, so kill() can SIGKILL the
// node as a whole (keeper, postmaster, backends) like a machine that dies: killing only the
// postmaster would let the node's keeper restart it in place instead of failing over.
//
// Binaries: PG_AUTOCTL (default: pg_autoctl on PATH, /usr/bin) and PG_BINDIR (default
// /usr/lib/postgresql/15/bin, where Debian's postgresql-15-auto-failover puts its extension).
const fs = require('node:fs')
const os = require('node:os')
const net = require('node:net')
const path = require('node:path')
const { spawn, spawnSync, execFileSync } = require('node:child_process')
const { Client } = require('pg')

const PG_BINDIR = process.env.PG_BINDIR || '/usr/lib/postgresql/15/bin'
const DBNAME = 'inventory'
const INSTALL_HINT =
  'The failover test needs pg_auto_failover for PostgreSQL 15: on Debian/Ubuntu ' +
  '`sudo apt-get install postgresql-15-auto-failover` (it provides /usr/bin/pg_autoctl and the monitor extension); ' +
  'elsewhere set PG_AUTOCTL to the pg_autoctl binary and PG_BINDIR to the matching PostgreSQL bin directory.'

// The monitor's failure detection, lowered from its defaults (5 s health checks, a node
// unhealthy after 20 s, 30 s for the old primary to drain) so a failover takes seconds. Safe
// here only because the old primary is really dead; in production the drain timeout must stay
// above the keepers' network_partition_timeout (a partitioned primary demotes itself first).
const FAST_FAILOVER = {
  'pgautofailover.health_check_period': 1000,
  'pgautofailover.health_check_timeout': 1000,
  'pgautofailover.health_check_max_retries': 1,
  'pgautofailover.health_check_retry_delay': 500,
  'pgautofailover.node_considered_unhealthy_timeout': 2000,
  'pgautofailover.primary_demote_timeout': 2000,
  'pgautofailover.startup_grace_period': 1000,
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms))

function findPgAutoctl() {
  if (process.env.PG_AUTOCTL) return fs.existsSync(process.env.PG_AUTOCTL) ? process.env.PG_AUTOCTL : null
  const dirs = [...(process.env.PATH || '').split(path.delimiter), '/usr/bin', PG_BINDIR]
  for (const d of dirs) {
    const p = path.join(d, 'pg_autoctl')
    if (d && fs.existsSync(p)) return p
  }
  return null
}

/** Throws, saying how to install it, unless pg_autoctl, pg_ctl and the monitor extension are there. */
function requirePgAutoFailover() {
  const autoctl = findPgAutoctl()
  const missing = []
  if (!autoctl)
    missing.push(
      process.env.PG_AUTOCTL ? `PG_AUTOCTL=${process.env.PG_AUTOCTL}` : 'pg_autoctl (not on PATH, not in /usr/bin)',
    )
  if (!fs.existsSync(path.join(PG_BINDIR, 'pg_ctl'))) missing.push(`${PG_BINDIR}/pg_ctl`)
  if (missing.length) throw new Error(`missing ${missing.join(', ')}. ${INSTALL_HINT}`)
  return autoctl
}

function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer()
    s.unref()
    s.on('error', reject)
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address()
      s.close(() => resolve(port))
    })
  })
}

/**
 * Creates and starts the cluster; resolves to its handle once node1 is the primary and node2 its
 * synchronous secondary. `log(line)` gets progress lines.
 */
async function startCluster({ log = () => {} } = {}) {
  const autoctl = requirePgAutoFailover()
  const asRoot = process.getuid && process.getuid() === 0
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mirs-failover-'))
  let owner
  if (asRoot) {
    owner = {
      uid: Number(execFileSync('id', ['-u', 'postgres']).toString()),
      gid: Number(execFileSync('id', ['-g', 'postgres']).toString()),
    }
    fs.chownSync(dir, owner.uid, owner.gid)
  }
  fs.chmodSync(dir, 0o700)
  const mkdir = (p) => {
    fs.mkdirSync(p, { mode: 0o700 })
    if (owner) fs.chownSync(p, owner.uid, owner.gid)
    return p
  }
  // Sockets in the temp dir: Debian's default (/var/run/postgresql) is not writable by developers.
  const sockets = mkdir(path.join(dir, 'sock'))
  // pg_autoctl keeps its config and state under the XDG dirs: keep them in the temp dir too.
  const env = {
    XDG_CONFIG_HOME: path.join(dir, 'config'),
    XDG_DATA_HOME: path.join(dir, 'share'),
    XDG_RUNTIME_DIR: mkdir(path.join(dir, 'run')),
    PGHOST: '127.0.0.1',
    PGUSER: 'postgres',
    PATH: `${PG_BINDIR}${path.delimiter}${process.env.PATH}`,
  }
  const command = (bin, args) =>
    asRoot
      ? ['runuser', ['-u', 'postgres', '--', 'env', ...Object.entries(env).map(([k, v]) => `${k}=${v}`), bin, ...args]]
      : [bin, args]
  const childEnv = asRoot ? process.env : { ...process.env, ...env }
  function run(bin, args) {
    const [cmd, argv] = command(bin, args)
    const r = spawnSync(cmd, argv, { cwd: dir, env: childEnv, encoding: 'utf8' })
    if (r.status !== 0) {
      throw new Error(
        `${path.basename(bin)} ${args.join(' ')} failed (${r.status ?? r.signal}):\n${(r.stdout || '') + (r.stderr || '') || r.error}`,
      )
    }
    return r.stdout
  }
  const appendConf = (pgdata, settings) =>
    fs.appendFileSync(
      path.join(pgdata, 'postgresql.conf'),
      Object.entries(settings)
        .map(([k, v]) => `${k} = ${typeof v === 'number' ? v : `'${v}'`}\n`)
        .join(''),
    )

  const keepers = new Map() // name -> child process (`pg_autoctl run`, leader of its process group)
  function runKeeper(name, pgdata) {
    const out = fs.openSync(path.join(dir, `${name}.log`), 'a')
    const [cmd, argv] = command(autoctl, ['run', '--pgdata', pgdata])
    const child = spawn(cmd, argv, { cwd: dir, env: childEnv, detached: true, stdio: ['ignore', out, out] })
    fs.closeSync(out)
    child.exited = new Promise((resolve) => child.once('exit', resolve))
    keepers.set(name, child)
  }

  const ports = { monitor: await freePort(), node1: await freePort(), node2: await freePort() }
  const pgdata = (name) => path.join(dir, name)
  const common = ['--hostname', '127.0.0.1', '--auth', 'trust', '--no-ssl', '--pgctl', path.join(PG_BINDIR, 'pg_ctl')]
  const monitorUri = `postgres://autoctl_node@127.0.0.1:${ports.monitor}/pg_auto_failover?sslmode=disable`
  const handle = { dir, ports, keepers, url: null, monitorUri }

  // ---- the handle ----

  function nodeOf(name) {
    return { name, port: ports[name], pgdata: pgdata(name) }
  }
  /** Where the monitor stands: [{ name, port, reported, goal }]. */
  async function state() {
    const rows = await query(
      ports.monitor,
      'pg_auto_failover',
      `SELECT nodename AS name, nodeport AS port, reportedstate::text AS reported, goalstate::text AS goal FROM pgautofailover.node ORDER BY nodeid`,
    )
    return rows
  }
  handle.state = state
  handle.node = nodeOf
  /** The node the monitor has as primary, with both its reported and assigned state 'primary'. */
  handle.primary = async () => {
    const p = (await state()).find((n) => n.reported === 'primary' && n.goal === 'primary')
    return p && nodeOf(p.name)
  }
  /**
   * SIGKILLs the node's whole process group (its keeper, postmaster and backends at once), and
   * its postmaster by the pid in postmaster.pid in case it left the group. Resolves to that pid.
   */
  handle.kill = async (node) => {
    const pid = Number(fs.readFileSync(path.join(node.pgdata, 'postmaster.pid'), 'utf8').split('\n')[0])
    const keeper = keepers.get(node.name)
    process.kill(-keeper.pid, 'SIGKILL')
    try {
      process.kill(pid, 'SIGKILL')
    } catch (e) {
      if (e.code !== 'ESRCH') throw e
    }
    await keeper.exited
    keepers.delete(node.name)
    return pid
  }
  /** Resolves once another node than `old` is reported a writable primary by the monitor and by itself. */
  handle.waitForPromotion = async (old, timeoutMs = 60000) => {
    let promoted
    await waitFor(
      async () => {
        const n = (await state()).find((n) => n.name !== old.name && ['wait_primary', 'primary'].includes(n.reported))
        if (!n) return false
        const [{ ro }] = await query(n.port, DBNAME, `SELECT pg_is_in_recovery() AS ro`)
        promoted = nodeOf(n.name)
        return !ro
      },
      timeoutMs,
      `a node other than ${old.name} to be promoted`,
      dir,
      50,
    )
    return promoted
  }
  /** Stops every keeper (SIGTERM: a fast shutdown of its Postgres), then SIGKILLs leftovers and removes the temp dir. */
  handle.stop = async ({ keep } = {}) => {
    const left = [...keepers.values()]
    for (const k of left) {
      try {
        process.kill(-k.pid, 'SIGTERM')
      } catch {}
    }
    let timer
    await Promise.race([Promise.all(left.map((k) => k.exited)), new Promise((r) => (timer = setTimeout(r, 15000)))])
    clearTimeout(timer)
    for (const k of left) {
      try {
        process.kill(-k.pid, 'SIGKILL')
      } catch {}
    }
    keepers.clear()
    for (const name of ['monitor', 'node1', 'node2']) {
      try {
        process.kill(
          Number(fs.readFileSync(path.join(pgdata(name), 'postmaster.pid'), 'utf8').split('\n')[0]),
          'SIGKILL',
        )
      } catch {}
    }
    if (keep) log(`kept ${dir}`)
    else fs.rmSync(dir, { recursive: true, force: true })
  }

  try {
    // Our own initdb (then pg_autoctl adopts the cluster) so the socket dir is set from the start;
    // the secondary's pg_basebackup copies the primary's postgresql.conf with it.
    const initdb = (name) => {
      run(path.join(PG_BINDIR, 'initdb'), ['-D', pgdata(name), '-A', 'trust', '-U', 'postgres', '--no-sync'])
      appendConf(pgdata(name), { unix_socket_directories: sockets })
    }
    initdb('monitor')
    run(autoctl, ['create', 'monitor', '--pgdata', pgdata('monitor'), '--pgport', String(ports.monitor), ...common])
    run(autoctl, ['config', 'set', '--pgdata', pgdata('monitor'), 'postgresql.listen_addresses', '127.0.0.1'])
    appendConf(pgdata('monitor'), FAST_FAILOVER)
    runKeeper('monitor', pgdata('monitor'))
    await waitFor(
      () => query(ports.monitor, 'pg_auto_failover', 'SELECT 1'),
      30000,
      'the monitor to accept connections',
      dir,
    )
    log(`monitor on ${ports.monitor}`)

    const createNode = (name) =>
      run(autoctl, [
        'create',
        'postgres',
        '--pgdata',
        pgdata(name),
        '--pgport',
        String(ports[name]),
        '--listen',
        '127.0.0.1',
        '--name',
        name,
        '--dbname',
        DBNAME,
        '--username',
        'postgres',
        '--monitor',
        monitorUri,
        ...common,
      ])
    initdb('node1')
    createNode('node1')
    runKeeper('node1', pgdata('node1'))
    await waitFor(
      async () => (await handle.state()).some((n) => n.name === 'node1' && n.reported === 'single'),
      30000,
      'node1 to run as single',
      dir,
    )
    createNode('node2') // empty data dir: pg_basebackup from node1
    runKeeper('node2', pgdata('node2'))
    // Ready when node2 is a secondary, node1 the primary, and node1 waits for node2 on commit.
    await waitFor(
      async () => {
        const s = await handle.state()
        if (!s.some((n) => n.name === 'node1' && n.reported === 'primary' && n.goal === 'primary')) return false
        if (!s.some((n) => n.name === 'node2' && n.reported === 'secondary')) return false
        const [{ names }] = await query(
          ports.node1,
          DBNAME,
          `SELECT current_setting('synchronous_standby_names') AS names`,
        )
        return names !== ''
      },
      60000,
      'node1 primary with node2 as its synchronous secondary',
      dir,
    )
    // The application's connection string, as pg_autoctl prints it (both nodes, read-write
    // session wanted), with the user added.
    const uri = run(autoctl, ['show', 'uri', '--pgdata', pgdata('monitor'), '--formation', 'default']).trim()
    handle.url = uri.replace('postgres://', 'postgres://postgres@')
    log(`cluster up: ${handle.url}`)
    return handle
  } catch (e) {
    await handle.stop({ keep: process.env.FAILOVER_KEEP })
    throw e
  }
}

/** One query on a fresh connection (the cluster changes under us: no pooled connection survives). */
async function query(port, database, sql) {
  const c = new Client({ host: '127.0.0.1', port, user: 'postgres', database, connectionTimeoutMillis: 2000 })
  c.on('error', () => {})
  await c.connect()
  try {
    return (await c.query(sql)).rows
  } finally {
    await c.end().catch(() => {})
  }
}

/** Polls `ready()` (errors count as not yet) until it is true; on timeout, throws with the logs' tails. */
async function waitFor(ready, timeoutMs, what, dir, everyMs = 200) {
  const deadline = Date.now() + timeoutMs
  let last
  for (;;) {
    try {
      if (await ready()) return
    } catch (e) {
      last = e
    }
    if (Date.now() > deadline) {
      const tails = ['monitor', 'node1', 'node2']
        .map((n) => path.join(dir, `${n}.log`))
        .filter((f) => fs.existsSync(f))
        .map((f) => `--- ${path.basename(f)}\n${fs.readFileSync(f, 'utf8').split('\n').slice(-15).join('\n')}`)
      throw new Error(
        `timed out after ${timeoutMs} ms waiting for ${what}${last ? ` (last error: ${last.message})` : ''}\n${tails.join('\n')}`,
      )
    }
    await sleep(everyMs)
  }
}

module.exports = { startCluster, requirePgAutoFailover, query, DBNAME }
