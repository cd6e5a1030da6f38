'use strict'
// Per-call boundary cost of three hot-call shapes through JSON text (A), napi's
// serde_json::Value conversion (B) and typed napi values (C, D). No database.
const assert = require('assert')
const n = require('./index.js')

// The product facade's replacer (non-finite numbers are rejected, bigints sent as text).
function replacer(key, value) {
  if (typeof value === 'number' && !Number.isFinite(value)) throw new Error('non-finite')
  if (typeof value === 'bigint') return value.toString()
  return value
}
const DATES = ['created_at', 'updated_at', 'deleted_at']
const NESTED = { location_levels: true }
const REVIVE = process.env.REVIVE !== '0'
function revive(v) {
  if (!REVIVE) return v
  if (Array.isArray(v)) {
    for (const x of v) revive(x)
    return v
  }
  if (v !== null && typeof v === 'object') {
    for (const k of DATES) if (typeof v[k] === 'string') v[k] = new Date(v[k])
    for (const k in NESTED) if (v[k] !== null && typeof v[k] === 'object') revive(v[k])
  }
  return v
}

const resv = (i) => ({
  inventory_item_id: `iitem_${i}`,
  location_id: 'sloc_01',
  quantity: 2,
  line_item_id: `ordli_${i}`,
  allow_backorder: false,
  description: 'reservation for order',
  metadata: { a: 1 },
})
const lines1 = [resv(0)]
const lines100 = Array.from({ length: 100 }, (_, i) => resv(i))
const locs = ['sloc_01', 'sloc_02', 'sloc_03']

// Each variant does what a facade method would: build args, cross, parse/revive the result.
const A = (m, args) => n.aAsync(m, JSON.stringify(args, replacer)).then((s) => revive(JSON.parse(s).result))
const As = (m, args) => revive(JSON.parse(n.aSync(m, JSON.stringify(args, replacer))).result)
const B = (m, args) => n.bAsync(m, args).then((o) => revive(o.result))
const Bs = (m, args) => revive(n.bSync(m, args).result)

const CASES = {
  confirm: {
    iters: 100000,
    v: {
      'A json': [() => A('confirmInventory', ['iitem_1', locs, 2]), () => As('confirmInventory', ['iitem_1', locs, 2])],
      'B value': [
        () => B('confirmInventory', ['iitem_1', locs, 2]),
        () => Bs('confirmInventory', ['iitem_1', locs, 2]),
      ],
      'C typed': [() => n.cConfirmAsync('iitem_1', locs, 2), () => n.cConfirmSync('iitem_1', locs, 2)],
      noop: [() => n.noopAsync(), () => n.noopSync()],
    },
  },
  create1: {
    iters: 50000,
    v: {
      'A json': [() => A('createReservationItems', [lines1]), () => As('createReservationItems', [lines1])],
      'B value': [() => B('createReservationItems', [lines1]), () => Bs('createReservationItems', [lines1])],
      'D object': [() => n.dCreateAsync(lines1).then(revive), () => revive(n.dCreateSync(lines1))],
    },
  },
  create100: {
    iters: 2000,
    v: {
      'A json': [() => A('createReservationItems', [lines100]), () => As('createReservationItems', [lines100])],
      'B value': [() => B('createReservationItems', [lines100]), () => Bs('createReservationItems', [lines100])],
      'D object': [() => n.dCreateAsync(lines100).then(revive), () => revive(n.dCreateSync(lines100))],
    },
  },
  list50: {
    iters: 2000,
    v: {
      'A json': [() => A('listInventoryItems', [{}, { take: 50 }]), () => As('listInventoryItems', [{}, { take: 50 }])],
      'B value': [
        () => B('listInventoryItems', [{}, { take: 50 }]),
        () => Bs('listInventoryItems', [{}, { take: 50 }]),
      ],
      'D object': [() => n.dListAsync().then(revive), () => revive(n.dListSync())],
    },
  },
}

// Sanity: every variant returns the same data (key order aside).
const norm = (x) =>
  JSON.parse(
    JSON.stringify(x, (k, v) =>
      v && typeof v === 'object' && !Array.isArray(v) && !(v instanceof Date)
        ? Object.fromEntries(
            Object.keys(v)
              .sort()
              .map((kk) => [kk, v[kk]]),
          )
        : v,
    ),
  )
async function check() {
  if (!REVIVE) return
  for (const [name, c] of Object.entries(CASES)) {
    const outs = []
    for (const [vn, [fa, fs]] of Object.entries(c.v)) {
      if (vn === 'noop') continue
      outs.push(norm(await fa()), norm(fs()))
    }
    for (const o of outs) assert.deepStrictEqual(o, outs[0], name)
  }
}

const CONC = 32
async function run(fn, mode, iters) {
  const t0 = process.hrtime.bigint(),
    c0 = process.cpuUsage()
  if (mode === 'sync') for (let i = 0; i < iters; i++) fn()
  else if (mode === 'async') for (let i = 0; i < iters; i++) await fn()
  else
    for (let i = 0; i < iters; i += CONC) {
      const ps = []
      for (let j = 0; j < CONC; j++) ps.push(fn())
      await Promise.all(ps)
    }
  const cpu = process.cpuUsage(c0)
  return { wall: Number(process.hrtime.bigint() - t0) / iters, cpu: ((cpu.user + cpu.system) * 1000) / iters }
}

async function main() {
  await check()
  const only = process.argv[2]
  const ROUNDS = Number(process.env.ROUNDS || 5)
  const scale = Number(process.env.SCALE || 1)
  const best = {}
  for (const [name, c] of Object.entries(CASES)) {
    if (only && only !== name) continue
    const iters = Math.max(CONC, Math.round(c.iters * scale))
    for (const [, [fa, fs]] of Object.entries(c.v)) {
      await run(fa, 'async', iters / 10)
      await run(fs, 'sync', iters / 10)
    } // warm-up
    for (let r = 0; r < ROUNDS; r++) {
      for (const mode of ['sync', 'async', 'conc']) {
        // Interleaved: every variant once per round and mode, order rotated per round.
        const names = Object.keys(c.v)
        const rot = names.slice(r % names.length).concat(names.slice(0, r % names.length))
        for (const vn of rot) {
          const fn = mode === 'sync' ? c.v[vn][1] : c.v[vn][0]
          const m = await run(fn, mode, iters)
          const k = `${name}|${mode}|${vn}`
          const b = best[k]
          if (!b) best[k] = { wall: m.wall, cpu: m.cpu }
          else {
            b.wall = Math.min(b.wall, m.wall)
            b.cpu = Math.min(b.cpu, m.cpu)
          }
        }
      }
    }
  }
  const rows = Object.entries(best).map(([k, v]) => {
    const [c, mode, vn] = k.split('|')
    return {
      case: c,
      mode,
      variant: vn,
      'wall µs/call': +(v.wall / 1000).toFixed(2),
      'cpu µs/call': +(v.cpu / 1000).toFixed(2),
    }
  })
  console.table(rows)
  console.log(JSON.stringify(rows))
}
main().catch((e) => {
  console.error(e)
  process.exit(1)
})
