'use strict'
// The operations measured one call at a time, the same way for every module.
//
// Each op: { key, label, kind, goal, ledger, iterations(profile), prepare(svc, n, env), call(svc, ctx, i, env, opts) }.
// `prepare` (not timed) creates what n calls need; `call` is the timed call.
// `ledger`: the op moves a quantity, so the ledger-cost comparison (ours only,
// runner.js ledgerCost) measures it too; there `opts` is the call's trailing
// options ({ idempotencyKey }), appended only when given so the Medusa-path
// calls keep exactly the arguments they had.
// `svc` is whatever serves Medusa's IInventoryService method names: the module
// loaded through Medusa's loader for the timings, or (for counting round
// trips) our standalone facade on a connection that goes through the wire tap.
//
// goal: the ratio ours/floor the operation should stay within (issue 13): reads
// 1.2×, single writes 1.5×, lists 1.5× their own SQL; bulk create 1.2× the COPY
// floor (issue 29; it was 2×). The floors themselves are in floors.js. The report shows it, never asserts it.

const { rng } = require('./stats')

const LOCATIONS = ['sloc_bench_1', 'sloc_bench_2', 'sloc_bench_3', 'sloc_bench_4', 'sloc_bench_5']
const SEED_ITEMS = 1000
const SEED_STOCK = 1_000_000

/** The trailing call-options argument, or none. */
const tail = (opts) => (opts ? [opts] : [])

function pad(n, w = 5) {
  return String(n).padStart(w, '0')
}

/** Creates `n` inventory items in batches of up to 1000 (not timed). */
async function createItems(svc, n, make) {
  const out = []
  for (let start = 0; start < n; start += 1000) {
    const batch = []
    for (let i = start; i < Math.min(n, start + 1000); i++) batch.push(make(i))
    out.push(...(await svc.createInventoryItems(batch)))
  }
  return out
}

/** The shared data set: `count` items (1000; fewer in smoke mode), each stocked at 5 locations. */
async function seed(svc, tag, count = SEED_ITEMS) {
  const items = await createItems(svc, count, (i) => ({
    sku: `BENCH-${tag}-${pad(i)}`,
    title: `Bench shirt ${pad(i)}`,
    description: `Cotton shirt number ${i}`,
  }))
  const levels = []
  for (const it of items) {
    for (const loc of LOCATIONS)
      levels.push({ inventory_item_id: it.id, location_id: loc, stocked_quantity: SEED_STOCK })
  }
  for (let start = 0; start < levels.length; start += 1000) {
    await svc.createInventoryLevels(levels.slice(start, start + 1000))
  }
  return { items: items.map((i) => i.id), tag }
}

/** Index of the item a call uses: the same sequence for every module. */
function picker(seedValue, n) {
  const r = rng(seedValue)
  return () => Math.floor(r() * n)
}

function reservationsFor(env, n, prefix, loc) {
  const pick = picker(7 + prefix.length, env.items.length)
  const rows = []
  for (let i = 0; i < n; i++) {
    rows.push({
      inventory_item_id: env.items[pick()],
      location_id: loc,
      quantity: 1,
      line_item_id: `ordli_${env.tag}_${prefix}_${i}`,
    })
  }
  return rows
}

/** Creates reservations for `rows` in batches (not timed); resolves to their ids. */
async function createReservations(svc, rows) {
  const out = []
  for (let start = 0; start < rows.length; start += 200) {
    out.push(...(await svc.createReservationItems(rows.slice(start, start + 200))))
  }
  return out
}

const OPS = [
  {
    key: 'createInventoryItems_1',
    label: 'createInventoryItems (1)',
    kind: 'write',
    goal: 1.5,
    prepare: async (_svc, _n, env) => ({ tag: `${env.tag}-c1-${env.round}` }),
    call: (svc, ctx, i) => svc.createInventoryItems([{ sku: `ONE-${ctx.tag}-${i}`, title: 'Bench single shirt' }]),
  },
  {
    key: 'createInventoryItems_1000',
    label: 'createInventoryItems (1000 at once)',
    kind: 'write',
    goal: 1.2,
    batch: 1000,
    iterations: (p) => p.bulkIterations,
    prepare: async (_svc, _n, env) => ({ tag: `${env.tag}-c1000-${env.round}` }),
    call: (svc, ctx, i) => {
      const batch = []
      for (let j = 0; j < 1000; j++) batch.push({ sku: `BULK-${ctx.tag}-${i}-${j}`, title: `Bulk shirt ${j}` })
      return svc.createInventoryItems(batch)
    },
  },
  {
    key: 'createInventoryLevels_1',
    label: 'createInventoryLevels (1)',
    kind: 'write',
    goal: 1.5,
    prepare: async (svc, n, env) => {
      const items = await createItems(svc, n, (i) => ({
        sku: `LVL-${env.tag}-${env.round}-${i}`,
        title: 'Level target',
      }))
      return { items: items.map((x) => x.id) }
    },
    call: (svc, ctx, i) =>
      svc.createInventoryLevels([
        { inventory_item_id: ctx.items[i], location_id: LOCATIONS[0], stocked_quantity: 100 },
      ]),
  },
  {
    key: 'confirmInventory',
    label: 'confirmInventory (1 location)',
    kind: 'read',
    goal: 1.2,
    prepare: async (_svc, _n, env) => ({ pick: picker(11, env.items.length) }),
    call: (svc, ctx, i, env) => svc.confirmInventory(env.items[ctx.pick()], [LOCATIONS[0]], 1),
  },
  {
    key: 'retrieveAvailableQuantity',
    label: 'retrieveAvailableQuantity (2 locations)',
    kind: 'read',
    goal: 1.2,
    prepare: async (_svc, _n, env) => ({ pick: picker(13, env.items.length) }),
    call: (svc, ctx, i, env) => svc.retrieveAvailableQuantity(env.items[ctx.pick()], [LOCATIONS[0], LOCATIONS[1]]),
  },
  {
    key: 'createReservationItems_1',
    label: 'createReservationItems (1 line)',
    kind: 'write',
    goal: 1.5,
    ledger: true,
    prepare: async (_svc, _n, env) => ({ pick: picker(17, env.items.length) }),
    call: (svc, ctx, i, env, opts) =>
      svc.createReservationItems(
        [
          {
            inventory_item_id: env.items[ctx.pick()],
            location_id: LOCATIONS[0],
            quantity: 1,
            line_item_id: `ordli_${env.tag}_r1_${env.round}_${i}`,
          },
        ],
        ...tail(opts),
      ),
  },
  {
    key: 'createReservationItems_10',
    label: 'createReservationItems (10-line order)',
    kind: 'write',
    goal: 1.5,
    ledger: true,
    prepare: async (_svc, _n, env) => ({ pick: picker(19, env.items.length) }),
    call: (svc, ctx, i, env, opts) => {
      const seen = new Set()
      const lines = []
      while (lines.length < 10) {
        const k = ctx.pick()
        if (seen.has(k)) continue
        seen.add(k)
        lines.push({
          inventory_item_id: env.items[k],
          location_id: LOCATIONS[1],
          quantity: 1,
          line_item_id: `ordli_${env.tag}_r10_${env.round}_${i}_${lines.length}`,
        })
      }
      return svc.createReservationItems(lines, ...tail(opts))
    },
  },
  {
    key: 'updateReservationItems',
    label: 'updateReservationItems (quantity)',
    kind: 'write',
    goal: 1.5,
    ledger: true,
    prepare: async (svc, n, env) => {
      const made = await createReservations(svc, reservationsFor(env, n, `upd${env.round}`, LOCATIONS[2]))
      return { ids: made.map((r) => r.id) }
    },
    call: (svc, ctx, i, _env, opts) => svc.updateReservationItems([{ id: ctx.ids[i], quantity: 2 }], ...tail(opts)),
  },
  {
    key: 'adjustInventory',
    label: 'adjustInventory',
    kind: 'write',
    goal: 1.5,
    ledger: true,
    prepare: async (_svc, _n, env) => ({ pick: picker(23, env.items.length) }),
    call: (svc, ctx, i, env, opts) =>
      svc.adjustInventory(env.items[ctx.pick()], LOCATIONS[0], i % 2 ? 1 : -1, ...tail(opts)),
  },
  {
    key: 'deleteReservationItemsByLineItem',
    label: 'deleteReservationItemsByLineItem',
    kind: 'write',
    goal: 1.5,
    ledger: true,
    prepare: async (svc, n, env) => {
      const rows = reservationsFor(env, n, `del${env.round}`, LOCATIONS[3])
      await createReservations(svc, rows)
      return { lines: rows.map((r) => r.line_item_id) }
    },
    call: (svc, ctx, i, _env, opts) => svc.deleteReservationItemsByLineItem(ctx.lines[i], ...tail(opts)),
  },
  {
    key: 'listInventoryItems_q',
    label: 'listInventoryItems (q, take 50)',
    kind: 'read',
    goal: 1.5,
    prepare: async () => ({}),
    call: (svc) => svc.listInventoryItems({ q: 'shirt' }, { take: 50 }),
  },
  {
    key: 'listInventoryItems_location',
    label: 'listInventoryItems (location_levels filter, take 50)',
    kind: 'read',
    goal: 1.5,
    prepare: async () => ({}),
    call: (svc) => svc.listInventoryItems({ location_levels: { location_id: LOCATIONS[2] } }, { take: 50 }),
  },
]

// Measured only in the ledger-cost comparison (ours, standalone InventoryService):
// not in OPS, so the ours-vs-peer table and the peer's run are unchanged.
const LEDGER_ONLY_OPS = [
  {
    key: 'updateInventoryLevels',
    label: 'updateInventoryLevels (stocked_quantity)',
    kind: 'write',
    ledger: true,
    prepare: async (_svc, _n, env) => ({ pick: picker(29, env.items.length) }),
    // A value no earlier call set (the variant's base + i), so every call moves the stock.
    call: (svc, ctx, i, env, opts) =>
      svc.updateInventoryLevels(
        [
          {
            inventory_item_id: env.items[ctx.pick()],
            location_id: LOCATIONS[4],
            stocked_quantity: (env.stockBase || 2_000_000) + i,
          },
        ],
        ...tail(opts),
      ),
  },
]

module.exports = {
  OPS,
  LEDGER_ONLY_OPS,
  LOCATIONS,
  SEED_ITEMS,
  SEED_STOCK,
  seed,
  createItems,
  createReservations,
  reservationsFor,
  picker,
  pad,
}
