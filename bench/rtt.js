#!/usr/bin/env node
'use strict'
// Round trips per operation, counted on the wire, and latency against the
// round-trip time between Node and Postgres: ours and @medusajs/inventory
// 2.21.2, both loaded through Medusa's module loader (lib/rtt-child.js).
// `node rtt.js --help`; ../docs/benchmarks.md#round-trips-and-latency-vs-rtt.
require('./lib/one-medusa')
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const { execFileSync } = require('node:child_process')
const { forkChild } = require('./lib/child')
const { Client } = require('pg')
const db = require('./lib/db')
const { startDelayProxy } = require('./lib/delay-proxy')
const { RTT_OPS, CHECKOUT } = require('./lib/rtt-ops')
const { MINIMUM, roundTripMarkdown, latencyMarkdown, latencySvg, replaceSection } = require('./lib/rtt-report')
const { summarize, now, round } = require('./lib/stats')

const HELP = `usage: node rtt.js [options]   (npm run bench:roundtrips / bench:latency)

  --roundtrips       count round trips per operation through the wire tap (both modules)
  --latency          latency of each operation with an RTT added between Node and Postgres
                     (neither: both parts)
  --rtts=LIST        round-trip times in ms (default 0,0.5,1,2; 0 = through the delaying path, no delay)
  --iterations=N     timed calls per operation and RTT (default 60)
  --duration=S       seconds per concurrent scenario (default 2)
  --smoke            tiny counts, results to a temp dir, README untouched (CI; no timing claims)
  --out=DIR          where results go (default results/)
  --rewrite          no run: rewrite README.md's two sections and latency.svg from results/*.json

  DATABASE_URL       the Postgres to use; unset: an embedded Postgres from npm`

const args = {}
for (const a of process.argv.slice(2)) {
  const m = /^--([\w-]+)(?:=(.*))?$/.exec(a)
  if (!m) throw new Error(`unknown argument ${a}\n\n${HELP}`)
  args[m[1]] = m[2] === undefined ? true : m[2]
}
if (args.help) {
  console.log(HELP)
  process.exit(0)
}
const smoke = !!args.smoke
const both = !args.roundtrips && !args.latency
const doCount = both || !!args.roundtrips
const doLatency = both || !!args.latency
const num = (v, d) => (v === undefined || v === true ? d : Number(v))
const rtts = String(args.rtts || (smoke ? '0,1' : '0,0.5,1,2'))
  .split(',')
  .map(Number)
const settings = smoke
  ? {
      seedItems: 20,
      countCalls: 2,
      iterations: 2,
      warmup: 1,
      batchIterations: 1,
      callers: 8,
      durationMs: 200,
      pingN: 5,
    }
  : {
      seedItems: 200,
      countCalls: 3,
      iterations: num(args.iterations, 60),
      warmup: 3,
      batchIterations: 3,
      callers: 32,
      durationMs: num(args.duration, 2) * 1000,
      pingN: 200,
    }
const outDir = args.out
  ? path.resolve(String(args.out))
  : smoke
    ? fs.mkdtempSync(path.join(os.tmpdir(), 'medusa-inventory-rtt-smoke-'))
    : path.join(__dirname, 'results')
const readme = path.join(__dirname, 'README.md')
const IMPLS = ['ours', 'peer']

function log(msg) {
  process.stderr.write(`${msg}\n`)
}

function runChild(config) {
  return forkChild(path.join(__dirname, 'lib', 'rtt-child.js'), 'RTT_CHILD_CONFIG', config)
}

function gitCommit() {
  try {
    return execFileSync('git', ['rev-parse', 'HEAD'], { cwd: __dirname, encoding: 'utf8' }).trim()
  } catch {
    return null
  }
}

/** Whether `tc netem` can be used here (needs root and the kernel's sch_netem); why not, if not. */
function probeNetem() {
  if (smoke) return { available: false, reason: 'not tried in --smoke' }
  if (process.getuid && process.getuid() !== 0) return { available: false, reason: 'not root' }
  // A veth pair, as the namespace path would use (some kernels have no dummy devices).
  const dev = `rttp${process.pid % 100000}`
  try {
    execFileSync('ip', ['link', 'add', dev, 'type', 'veth', 'peer', 'name', `${dev}b`], { stdio: 'pipe' })
  } catch (e) {
    return { available: false, reason: `ip link add: ${String(e.stderr || e.message).trim()}` }
  }
  try {
    execFileSync('tc', ['qdisc', 'add', 'dev', dev, 'root', 'netem', 'delay', '1ms'], { stdio: 'pipe' })
    return { available: true }
  } catch (e) {
    return { available: false, reason: `tc qdisc add … netem: ${String(e.stderr || e.message).trim()}` }
  } finally {
    try {
      execFileSync('ip', ['link', 'del', dev], { stdio: 'pipe' })
    } catch {
      // gone already
    }
  }
}

/** p50 of SELECT 1 on one connection to `url`. */
async function ping(url, n) {
  const c = new Client({ connectionString: url })
  await c.connect()
  try {
    for (let i = 0; i < 5; i++) await c.query('SELECT 1')
    const samples = []
    for (let i = 0; i < n; i++) {
      const t0 = now()
      await c.query('SELECT 1')
      samples.push(now() - t0)
    }
    return summarize(samples, 0)
  } finally {
    await c.end()
  }
}

async function roundTrips(url, schema) {
  const out = { settings: { seed_items: settings.seedItems, counted_calls: settings.countCalls, pool: 10 } }
  for (const impl of IMPLS) {
    log(`\n== round trips: ${impl} through MedusaApp, every call through the wire tap`)
    out[impl] = await runChild({
      impl,
      task: 'count',
      url,
      schema: schema(`rt_${impl}`),
      pool: 10,
      seedItems: settings.seedItems,
      countCalls: settings.countCalls,
    })
  }
  const failures = []
  for (const impl of IMPLS)
    for (const op of RTT_OPS) {
      const r = out[impl].ops[op.key]
      if (!r || r.error) failures.push(`${impl} ${op.key}: ${r ? r.error : 'not run'}`)
      else if (![r.first_call, ...r.round_trips].every((x) => Number.isInteger(x) && x > 0))
        failures.push(`${impl} ${op.key}: round trips not positive integers (${r.round_trips})`)
    }
  out.rows = RTT_OPS.map((op) => ({
    key: op.key,
    label: op.label,
    ours: out.ours.ops[op.key],
    peer: out.peer.ops[op.key],
    minimum: MINIMUM[op.key],
  }))
  out.checkout = CHECKOUT
  return { out, failures }
}

async function latency(baseUrl, url, schema) {
  const target = new URL(url)
  const netem = probeNetem()
  const proxy = await startDelayProxy({ targetHost: target.hostname, targetPort: Number(target.port || 5432) })
  const viaProxy = new URL(url)
  viaProxy.hostname = '127.0.0.1'
  viaProxy.port = String(proxy.port)
  const out = {
    method: 'node-delay-proxy',
    method_note:
      'A Node TCP proxy (lib/delay-proxy.js) in the parent process delays every chunk by RTT/2 in each direction, order kept. ' +
      (netem.available
        ? 'tc netem is available here but the namespace path is not implemented; the proxy was used.'
        : `tc netem could not be used (${netem.reason}).`),
    netem,
    settings: { ...settings, rtts, pool: 10, hot_rtt: 1 },
    rtts: {},
  }
  const failures = []
  try {
    const env = {}
    for (const impl of IMPLS) {
      log(`\n== latency: setting up ${impl} (migrate, seed ${settings.seedItems} items), no delay`)
      env[impl] = (
        await runChild({
          impl,
          task: 'setup',
          url,
          schema: schema(`lat_${impl}`),
          pool: 10,
          seedItems: settings.seedItems,
        })
      ).env
    }
    const direct = await ping(url, settings.pingN)
    for (const rtt of rtts) {
      proxy.setOneWayMs(rtt / 2)
      const through = await ping(viaProxy.toString(), settings.pingN)
      const r = {
        target_ms: rtt,
        select1_direct_p50: direct.p50,
        select1_proxy_p50: through.p50,
        added_p50: round(through.p50 - direct.p50),
      }
      log(`\n== RTT ${rtt} ms: SELECT 1 p50 ${through.p50} ms through the proxy, ${direct.p50} ms direct`)
      for (const impl of IMPLS) {
        try {
          r[impl] = await runChild({
            impl,
            task: 'latency',
            rtt,
            url: viaProxy.toString(),
            directUrl: url,
            schema: schema(`lat_${impl}`),
            pool: 10,
            env: env[impl],
            iterations: settings.iterations,
            warmup: settings.warmup,
            batchIterations: settings.batchIterations,
            callers: settings.callers,
            durationMs: settings.durationMs,
            concurrent: true,
            hot: rtt === 1,
          })
          for (const [k, s] of Object.entries(r[impl].sequential))
            if (s.error || !(s.n > 0)) failures.push(`latency ${impl} ${rtt} ms ${k}: ${s.error || 'no samples'}`)
        } catch (e) {
          failures.push(`latency ${impl} ${rtt} ms: ${e.message}`)
          r[impl] = { error: e.message }
        }
      }
      out.rtts[String(rtt)] = r
    }
  } finally {
    await proxy.close()
  }
  return { out, failures }
}

/** The README as the repository's prettier would write it (tables aligned), when prettier is installed. */
async function prettyMarkdown(text) {
  try {
    const prettier = require('prettier')
    const options = (await prettier.resolveConfig(readme)) || {}
    return await prettier.format(text, { ...options, filepath: readme })
  } catch {
    return text
  }
}

/** --rewrite: the README sections and the chart again from the results files (after a change to lib/rtt-report.js). */
async function rewrite() {
  let text = fs.readFileSync(readme, 'utf8')
  const rt = path.join(outDir, 'roundtrips.json')
  const lat = path.join(outDir, 'latency.json')
  if (fs.existsSync(rt))
    text = replaceSection(text, 'roundtrips', roundTripMarkdown(JSON.parse(fs.readFileSync(rt, 'utf8'))))
  if (fs.existsSync(lat)) {
    const report = JSON.parse(fs.readFileSync(lat, 'utf8'))
    fs.writeFileSync(path.join(outDir, 'latency.svg'), latencySvg(report))
    text = replaceSection(text, 'latency', latencyMarkdown(report))
  }
  fs.writeFileSync(readme, await prettyMarkdown(text))
  log(`[rtt] rewrote README.md and ${path.join(outDir, 'latency.svg')} from ${outDir}`)
}

async function main() {
  if (args.rewrite) return rewrite()
  const runId = `${new Date().toISOString().replace(/[-:T]/g, '').slice(0, 14)}_${process.pid}`
  let server = null
  let database = null
  const load0 = os.loadavg()
  const failures = []
  try {
    let baseUrl = process.env.DATABASE_URL
    if (!baseUrl) {
      server = await db.startEmbedded({ log })
      baseUrl = server.url
    }
    database = await db.freshDatabase(baseUrl, `rtt_${runId}`, { log })
    const schema = (name) => (database.created ? name : `${name}_${runId}`)
    const info = await db.serverInfo(database.url)
    const meta = {
      run_id: runId,
      started_at: new Date().toISOString(),
      mode: smoke ? 'smoke' : 'default',
      commit: gitCommit(),
      node: process.version,
      postgres: { version: info.server_version, synchronous_commit: info.synchronous_commit, embedded: !!server },
      machine: { cpus: os.cpus().length, cpu_model: os.cpus()[0] && os.cpus()[0].model, loadavg_start: load0 },
      peer: '@medusajs/inventory@2.21.2',
    }
    fs.mkdirSync(outDir, { recursive: true })
    let text = fs.readFileSync(readme, 'utf8')
    if (doCount) {
      const { out, failures: f } = await roundTrips(database.url, schema)
      failures.push(...f)
      const report = { meta: { ...meta, finished_at: new Date().toISOString() }, ...out }
      fs.writeFileSync(path.join(outDir, 'roundtrips.json'), JSON.stringify(report, null, 2))
      const md = roundTripMarkdown(report)
      console.log(`\n${md}`)
      text = replaceSection(text, 'roundtrips', md)
    }
    if (doLatency) {
      const { out, failures: f } = await latency(baseUrl, database.url, schema)
      failures.push(...f)
      const report = {
        meta: { ...meta, finished_at: new Date().toISOString(), loadavg_end: os.loadavg() },
        ...out,
      }
      fs.writeFileSync(path.join(outDir, 'latency.json'), JSON.stringify(report, null, 2))
      fs.writeFileSync(path.join(outDir, 'latency.svg'), latencySvg(report))
      const md = latencyMarkdown(report)
      console.log(`\n${md}`)
      text = replaceSection(text, 'latency', md)
    }
    if (!smoke && !failures.length) fs.writeFileSync(readme, await prettyMarkdown(text))
    log(`[rtt] wrote ${outDir}${smoke ? '' : ' and README.md'}`)
  } finally {
    if (database) await database.drop().catch((e) => log(`[db] could not drop ${database.name}: ${e.message}`))
    if (server) await server.stop()
  }
  if (failures.length) {
    log(`[rtt] failed:\n  ${failures.join('\n  ')}`)
    process.exitCode = 1
  }
}

main().then(
  () => process.exit(process.exitCode || 0),
  (e) => {
    console.error(e && e.stack ? e.stack : e)
    process.exit(1)
  },
)
