'use strict'
// Turns a run's results into the summary, the Markdown tables and the SVG chart.
const { OPS, LEDGER_ONLY_OPS } = require('./ops')

const fmt = (x, digits) => {
  if (x === null || x === undefined || !Number.isFinite(x)) return '—'
  if (digits !== undefined) return x.toFixed(digits)
  if (x >= 100) return x.toFixed(0)
  if (x >= 10) return x.toFixed(1)
  if (x >= 1) return x.toFixed(2)
  return x.toFixed(3)
}
const ratio = (a, b) => (Number.isFinite(a) && Number.isFinite(b) && b > 0 ? a / b : null)
const times = (x) => (x === null ? '—' : `${fmt(x, x >= 10 ? 0 : 1)}×`)
// Ledger ratios sit near 1, where one decimal hides the difference.
const times2 = (x) => (x === null ? '—' : `${x.toFixed(2)}×`)
const pct = (x) => (x === null ? '—' : `${Math.round(x * 100)}%`)

/** pgbench runs that completed and wrote what they claimed. */
function validRuns(report) {
  const all = (report.pgbench && report.pgbench.available && report.pgbench.runs) || {}
  return Object.fromEntries(Object.entries(all).filter(([, r]) => r && !r.error))
}

/** The operation's own floor (floors.js), measured beside it in our process. */
function floorFor(op, report) {
  const ours = report.results.ours
  const f = ours && ours.op_floors && ours.op_floors[op.key]
  if (f && !f.error && f.p50) return { what: f.what, p50: f.p50, p99: f.p99 }
  return { what: 'n/a', p50: null }
}

function summarizeRun(report) {
  const { ours, peer } = report.results
  const sequential = OPS.map((op) => {
    const o = ours && ours.sequential && ours.sequential[op.key]
    const p = peer && peer.sequential && peer.sequential[op.key]
    const floor = floorFor(op, report)
    const rt = ours && ours.traffic && ours.traffic[op.key]
    return {
      key: op.key,
      label: op.label,
      ours:
        o && !o.error
          ? { p50: o.p50, p99: o.p99, ops_per_s: o.ops_per_s, n: o.n, rows_per_s: o.rows_per_s }
          : o || null,
      peer:
        p && !p.error
          ? { p50: p.p50, p99: p.p99, ops_per_s: p.ops_per_s, n: p.n, rows_per_s: p.rows_per_s }
          : p || null,
      peer_over_ours_p50: ratio(p && p.p50, o && o.p50),
      floor,
      ours_over_floor_p50: ratio(o && o.p50, floor.p50),
      goal: op.goal,
      peer_over_floor_p50: ratio(p && p.p50, floor.p50),
      ours_round_trips: rt && !rt.error ? rt.roundTrips : null,
      ledger: ledgerRatios(ours && ours.ledger && ours.ledger.sequential && ours.ledger.sequential[op.key]),
    }
  })
  const l = ours && ours.ledger
  const ledger = l
    ? {
        sequential: [...OPS.filter((o) => o.ledger), ...LEDGER_ONLY_OPS].map((op) => ({
          key: op.key,
          label: op.label,
          ...ledgerRatios(l.sequential[op.key]),
        })),
        hot:
          l.hot && l.hot.on
            ? {
                committed_per_s: {
                  on: l.hot.on.committed_per_s,
                  off: l.hot.off.committed_per_s,
                  key: l.hot.key.committed_per_s,
                },
                // Throughput: off over on, so that > 1 reads as "the ledger costs" like the latency ratios.
                off_over_on_committed: ratio(l.hot.off.committed_per_s, l.hot.on.committed_per_s),
                on_over_key_committed: ratio(l.hot.on.committed_per_s, l.hot.key.committed_per_s),
              }
            : null,
      }
    : null
  return { sequential, ledger }
}

/** p50 ratios of the ledger-cost comparison: on/off (the ledger's cost), key/on (the idempotency key's). */
function ledgerRatios(r) {
  if (!r) return null
  if (r.error) return { error: r.error }
  return {
    p50: { on: r.on.p50, off: r.off.p50, key: r.key.p50 },
    on_over_off_p50: ratio(r.on.p50, r.off.p50),
    key_over_on_p50: ratio(r.key.p50, r.on.p50),
  }
}

function markdown(report, summary) {
  const { meta, results, pgbench, scale } = report
  const { ours, peer } = results
  const L = []
  const pg = meta.postgres
  L.push(`# Inventory benchmark: medusa-inventory-rs vs @medusajs/inventory 2.21.2`)
  L.push('')
  if (meta.noisy) {
    L.push(
      `> **Noisy run** (${meta.mode === 'smoke' ? 'smoke mode: tiny counts, not a measurement' : `load average ${meta.machine.loadavg_start.join(' ')} at the start, on ${meta.machine.cpus} cores`}). Read ratios, not absolute numbers.`,
    )
    L.push('')
  }
  L.push(
    `${meta.started_at} · ${meta.mode} mode · PostgreSQL ${pg.version}${pg.embedded ? ' (embedded, from npm)' : ''}, synchronous_commit=${pg.synchronous_commit}, fsync=${pg.fsync} · Node ${meta.node} · ${meta.machine.cpus} cores (${meta.machine.cpu_model}) · pool ${meta.pool_per_module} connections per module · repo ${meta.repo.commit ? meta.repo.commit.slice(0, 10) : '?'}${meta.repo.dirty ? ' (with uncommitted changes)' : ''}`,
  )
  L.push('')
  L.push(
    `Both modules are booted by Medusa's loader (\`MedusaAppMigrateUp\` + \`MedusaApp\`), each in its own Node process and schema of one fresh database, with ${meta.profile.seedItems} items × 5 locations seeded and ANALYZEd; calls go to \`app.modules.inventory\`. p50/p99 in ms; ops/s = calls per second of one sequential caller.`,
  )
  L.push('')
  for (const [name, r] of [
    ['ours', ours],
    ['peer', peer],
  ]) {
    if (r && r.error) {
      L.push(`> **${name} failed:** ${String(r.error).split('\n')[0]}`)
      L.push('')
    }
  }
  L.push('## One caller at a time')
  L.push('')
  L.push(
    '| operation | ours p50 | ours p99 | ours ops/s | peer p50 | peer p99 | peer ops/s | peer/ours | floor p50¹ | ours/floor | goal | peer/floor | round trips (ours) | ledger on/off² | key/on² |',
  )
  L.push('|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|')
  for (const r of summary.sequential) {
    const cell = (s, k) => (s && s.error ? 'error' : s ? fmt(s[k]) : '—')
    const lg = (k) => (!r.ledger ? '—' : r.ledger.error ? 'error' : times2(r.ledger[k]))
    L.push(
      `| ${r.label} | ${cell(r.ours, 'p50')} | ${cell(r.ours, 'p99')} | ${cell(r.ours, 'ops_per_s')} | ${cell(r.peer, 'p50')} | ${cell(r.peer, 'p99')} | ${cell(r.peer, 'ops_per_s')} | ${times(r.peer_over_ours_p50)} | ${fmt(r.floor.p50)} | ${times2(r.ours_over_floor_p50)} | ${goalCell(r)} | ${times(r.peer_over_floor_p50)} | ${r.ours_round_trips ?? '—'} | ${lg('on_over_off_p50')} | ${lg('key_over_on_p50')} |`,
    )
  }
  L.push('')
  L.push(
    '¹ Each operation\'s floor is the cheapest SQL that does the same durable work (for lists: our own list statement), sent by node-postgres as one prepared statement from our process, measured in alternating chunks with ours (see "Floors per operation"). ours/floor and peer/floor are p50 over p50; goal is the ours/floor the operation should stay within, ✓ when it does.',
  )
  L.push(
    '² The ledger\'s cost (see "Ledger cost" below): p50 with the ledger (default) over p50 with `ledger: false`, and p50 with an `idempotencyKey` on every call over p50 without, all three on the standalone `InventoryService` in our process (the Medusa adapter has no `ledger` option), so they are not ratios of the "ours" columns.',
  )
  const errs = summary.sequential.filter((r) => (r.ours && r.ours.error) || (r.peer && r.peer.error))
  for (const r of errs) {
    if (r.ours && r.ours.error) L.push(`- ours, ${r.label}: error: ${r.ours.error}`)
    if (r.peer && r.peer.error) L.push(`- peer, ${r.label}: error: ${r.peer.error}`)
  }
  for (const r of summary.sequential) {
    if (r.ours && r.ours.rows_per_s)
      L.push(
        `- ${r.label}: ours ${fmt(r.ours.rows_per_s)} rows/s${r.peer && r.peer.rows_per_s ? `, peer ${fmt(r.peer.rows_per_s)} rows/s` : ''}.`,
      )
  }
  L.push('')

  L.push('## Floors per operation')
  L.push('')
  L.push('| operation | floor: what it runs | floor p50 | floor p99 | ours p50 | ours/floor |')
  L.push('|---|---|--:|--:|--:|--:|')
  for (const r of summary.sequential) {
    const f = ours && ours.op_floors && ours.op_floors[r.key]
    if (!f) continue
    L.push(
      `| ${r.label} | ${f.error ? `error: ${f.error}` : f.what} | ${fmt(f.p50)} | ${fmt(f.p99)} | ${r.ours ? fmt(r.ours.p50) : '—'} | ${times2(r.ours_over_floor_p50)} |`,
    )
    const ins = ours.op_floors[`${r.key}_insert`]
    if (ins)
      L.push(
        `| ${r.label} | ${ins.what} | ${fmt(ins.p50)} | ${fmt(ins.p99)} | ${r.ours ? fmt(r.ours.p50) : '—'} | ${times2(ratio(r.ours && r.ours.p50, ins.p50))} |`,
      )
  }
  L.push('')
  L.push('## Other floors')
  L.push('')
  L.push('| floor | p50 | p99 | throughput |')
  L.push('|---|--:|--:|--:|')
  const fl = (label, s, tp) => L.push(`| ${label} | ${s ? fmt(s.p50) : '—'} | ${s ? fmt(s.p99) : '—'} | ${tp ?? '—'} |`)
  if (ours && ours.floors) {
    fl(
      'ours: `retrieveReservedQuantity(item, [])` through Medusa (one statement, napi + tokio-postgres)',
      ours.floors.min,
    )
    fl('ours: the same call on the standalone `InventoryService` (no Medusa adapter)', ours.floors.min_facade)
    fl('node-postgres `SELECT 1` (in our process)', ours.floors.pg_select1)
  }
  if (peer && peer.floors) {
    fl("peer path: `knex.raw('SELECT 1')` on the module's knex pool", peer.floors.min)
    fl('node-postgres `SELECT 1` (in the peer process)', peer.floors.pg_select1)
  }
  if (pgbench && pgbench.available) {
    for (const r of Object.values(pgbench.runs)) {
      if (r.error) L.push(`| pgbench: ${r.what} | error | | ${r.error.slice(0, 80)} |`)
      else
        L.push(
          `| pgbench: ${r.what} | ${r.p50 !== undefined ? fmt(r.p50) : '—'} | ${r.p99 !== undefined ? fmt(r.p99) : '—'} | ${fmt(r.tps)} tps |`,
        )
    }
  } else {
    L.push(`| pgbench write floors | skipped | | ${(pgbench && pgbench.reason) || ''} |`)
  }
  L.push('')
  L.push(
    'There is no `SELECT 1` entry point in our addon; our read floor is the cheapest real call it has: `retrieveReservedQuantity(item, [])`, one prepared statement (item exists? + a sum over no levels) in one round trip.',
  )
  L.push('')

  L.push('## Concurrent callers (one process, pool of ' + meta.pool_per_module + ')')
  L.push('')
  L.push('| scenario | ours ops/s | ours p50 / p99 | peer ops/s | peer p50 / p99 | ours/peer | floor |')
  L.push('|---|--:|--:|--:|--:|--:|--:|')
  const runs = validRuns(report)
  const conc = (label, o, p, floorTps, floorWhat) => {
    const oo = o && !o.error ? o : null
    const pp = p && !p.error ? p : null
    const floorCell = floorTps
      ? `${fmt(floorTps)} tps (${floorWhat}); ours = ${pct(ratio(oo && oo.ops_per_s, floorTps))}`
      : '—'
    L.push(
      `| ${label} | ${oo ? fmt(oo.ops_per_s) : '—'} | ${oo ? `${fmt(oo.p50)} / ${fmt(oo.p99)}` : '—'} | ${pp ? fmt(pp.ops_per_s) : '—'} | ${pp ? `${fmt(pp.p50)} / ${fmt(pp.p99)}` : '—'} | ${times(ratio(oo && oo.ops_per_s, pp && pp.ops_per_s))} | ${floorCell} |`,
    )
  }
  const callers = meta.profile.callers
  conc(
    `${callers} callers: createReservationItems (1 line), ${meta.profile.seedItems} items`,
    ours && ours.reserve32,
    peer && peer.reserve32,
    runs.reserve_c32 && runs.reserve_c32.tps,
    `pgbench, ${callers} clients`,
  )
  conc(`${callers} callers: mixed workload¹`, ours && ours.mixed, peer && peer.mixed, null)
  L.push('')
  L.push(
    `The pgbench floor runs one reservation per transaction. Our module can pass it: reservations that arrive while one is in flight are group-committed (one transaction, one commit for many calls).`,
  )
  L.push('')
  L.push(
    '¹ 35% retrieveAvailableQuantity, 15% confirmInventory, 20% createReservationItems (1 line), 10% deleteReservationItemsByLineItem (of an earlier reservation of the same caller), 10% adjustInventory, 10% listInventoryItems (q, take 50); each caller follows its own seeded sequence, the same for both modules.',
  )
  const failures = []
  for (const [name, r] of [
    ['ours', ours],
    ['peer', peer],
  ]) {
    for (const sc of ['reserve32', 'mixed']) {
      if (r && r[sc] && r[sc].failed)
        failures.push(
          `${name} ${sc}: ${r[sc].failed} failed calls (${Object.entries(r[sc].errors)
            .map(([k, v]) => `${v}× ${k}`)
            .join('; ')})`,
        )
    }
  }
  if (failures.length) {
    L.push('')
    for (const f of failures) L.push(`- ${f}`)
  }
  L.push('')

  L.push(`## Hot item: ${meta.profile.hotCallers} callers reserving 1 unit each on one level`)
  L.push('')
  L.push(
    `Throughput: stock that never runs out, ${meta.profile.durationMs / 1000} s. Oversell: stock ${meta.profile.hotStock}, every caller tries ${meta.profile.hotAttempts}× at once (${meta.profile.hotCallers * meta.profile.hotAttempts} attempts); counted afterwards in SQL. "Locking" = each call inside \`locking.execute([inventory_item_id], …)\` of Medusa's Locking module (in-memory provider, the default), as Medusa's \`reserveInventoryStep\` does at checkout.`,
  )
  L.push('')
  L.push(
    '| module | attempts/s | committed/s | p50 / p99 | oversell test: committed | oversold units | reserved_quantity − live reservations |',
  )
  L.push('|---|--:|--:|--:|--:|--:|--:|')
  const hotRow = (label, h) => {
    if (!h) return
    if (h.error) return L.push(`| ${label} | ${h.error} | | | | | |`)
    L.push(
      `| ${label} | ${fmt(h.attempts_per_s)} | ${fmt(h.committed_per_s)} | ${fmt(h.p50)} / ${fmt(h.p99)} | ${h.oversell.committed} of stock ${h.oversell.stock} | ${h.oversell.oversold_units} | ${fmt(h.oversell.drift, 0)} (throughput run: ${fmt(h.throughput_check.drift, 0)}) |`,
    )
  }
  if (ours && ours.hot) {
    hotRow('ours', ours.hot.plain)
    hotRow('ours, inside locking.execute', ours.hot.locking)
  }
  if (peer && peer.hot) {
    hotRow('peer', peer.hot.plain)
    hotRow('peer, inside locking.execute', peer.hot.locking)
  }
  if (runs.reserve_hot && runs.reserve_hot.tps) {
    L.push(
      `| floor: pgbench, ${runs.reserve_hot.clients} clients, the reservation floor statement on one row | | ${fmt(runs.reserve_hot.tps)} | | | | |`,
    )
  }
  const hotErrs = []
  for (const [name, r] of [
    ['ours', ours],
    ['peer', peer],
  ]) {
    for (const v of ['plain', 'locking']) {
      const h = r && r.hot && r.hot[v]
      if (h && h.errors && Object.keys(h.errors).length)
        hotErrs.push(
          `${name} ${v}: ${Object.entries(h.errors)
            .map(([k, n]) => `${n}× ${k}`)
            .join('; ')}`,
        )
    }
  }
  if (hotErrs.length) {
    L.push('')
    for (const e of hotErrs) L.push(`- errors in the throughput run, ${e}`)
  }
  L.push('')

  if (ours && ours.ledger) ledgerSection(L, meta, ours.ledger, summary.ledger)

  if ((ours && ours.bulk) || (peer && peer.bulk)) {
    L.push(`## createInventoryItems: ${meta.bulk_items} items in batches of 1000`)
    L.push('')
    L.push('| module | total | items/s | batch p50 / p99 |')
    L.push('|---|--:|--:|--:|')
    for (const [name, r] of [
      ['ours', ours],
      ['peer', peer],
    ]) {
      if (r && r.bulk)
        L.push(
          `| ${name} | ${fmt(r.bulk.total_s)} s | ${fmt(r.bulk.items_per_s)} | ${fmt(r.bulk.batch_latency.p50)} / ${fmt(r.bulk.batch_latency.p99)} ms |`,
        )
    }
    L.push('')
  }

  if (scale) scaleSection(L, scale)

  const sic = ours && ours.search_index_cost
  if (sic) {
    L.push('## Search index and kept count: what they cost creates (ours)')
    L.push('')
    if (sic.error) L.push(`Not measured: ${sic.error}`)
    else {
      L.push(
        'The indexes for `q` (trigram and digit-gram, and their statistics) are written with every item, and the triggers that keep the live item count add a delta row per statement. createInventoryItems on the standalone `InventoryService`, on our schema and on copies made by the same migrate with both indexes dropped and with the count triggers dropped, in alternating chunks:',
      )
      L.push('')
      L.push(
        '| operation | ours p50 | p99 | without index p50 | p99 | ours / without index | without count triggers p50 | p99 | ours / without count triggers |',
      )
      L.push('|---|--:|--:|--:|--:|--:|--:|--:|--:|')
      for (const r of Object.values(sic)) {
        const nc = r.without_count || {}
        L.push(
          `| ${r.label} | ${fmt(r.with.p50)} | ${fmt(r.with.p99)} | ${fmt(r.without.p50)} | ${fmt(r.without.p99)} | ${times2(r.with_over_without_p50)} | ${fmt(nc.p50)} | ${fmt(nc.p99)} | ${r.with_over_without_count_p50 ? times2(r.with_over_without_count_p50) : '—'} |`,
        )
      }
    }
    L.push('')
  }

  if (ours && ours.traffic) {
    L.push('## What our module sends per call')
    L.push('')
    L.push(
      "Taken off the wire (a proxy in front of Postgres) on the second call, statements already prepared. A round trip is one wait for the server: messages (Syncs and simple queries, each answered by a ReadyForQuery) sent before the answers to the ones before them travel in the same round trip, as a pipelined transaction's BEGIN, statements and COMMIT do.",
    )
    L.push('')
    L.push('| operation | round trips | messages | statements |')
    L.push('|---|--:|--:|---|')
    for (const op of OPS) {
      const t = ours.traffic[op.key]
      if (!t) continue
      if (t.error) L.push(`| ${op.label} | error | — | ${t.error} |`)
      else
        L.push(
          `| ${op.label} | ${t.roundTrips} | ${t.messages ?? '—'} | ${t.statements.map((s) => '`' + s.slice(0, 60).replace(/\|/g, '\\|') + (s.length > 60 ? '…' : '') + '`').join('<br>')} |`,
        )
    }
    L.push('')
  }
  return L.join('\n')
}

function ledgerSection(L, meta, l, sum) {
  L.push('## Ledger cost (ours)')
  L.push('')
  L.push(
    `Every quantity change writes a row of \`inventory_movement\` in the same statement or transaction. The same calls three ways, on the standalone \`InventoryService\` in our process (pool ${meta.pool_per_module}, our schema and data set): **on** = the default, **off** = connected with \`ledger: false\` (exists only to measure this), **key** = the default with \`{ idempotencyKey }\` (a fresh key) as every call's trailing argument. One caller; the three take turns in chunks of about a sixth of the calls each, so load drift falls on all three alike. on/off and key/on are p50 over p50. Ledger rows per call are counted in SQL after each chunk (untimed).`,
  )
  L.push('')
  L.push(
    '| operation | on p50 | on p99 | off p50 | off p99 | key p50 | key p99 | on/off | key/on | ledger rows per call (on / off / key) |',
  )
  L.push('|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|')
  for (const row of sum.sequential) {
    const r = l.sequential[row.key]
    if (!r) continue
    if (r.error) {
      L.push(`| ${row.label} | error | | | | | | | | ${String(r.error).slice(0, 80)} |`)
      continue
    }
    L.push(
      `| ${row.label} | ${fmt(r.on.p50)} | ${fmt(r.on.p99)} | ${fmt(r.off.p50)} | ${fmt(r.off.p99)} | ${fmt(r.key.p50)} | ${fmt(r.key.p99)} | ${times2(row.on_over_off_p50)} | ${times2(row.key_over_on_p50)} | ${r.on.ledger_rows_per_call} / ${r.off.ledger_rows_per_call} / ${r.key.ledger_rows_per_call} |`,
    )
  }
  L.push('')
  if (l.hot && l.hot.on) {
    const h = l.hot
    L.push(
      `Hot level: ${h.callers} callers reserving 1 unit each on one level (stock that never runs out), each variant twice for ${h.duration_ms_per_variant / 2000} s in the order on, off, key, key, off, on. off/on and on/key are committed/s over committed/s (> 1: the ledger, or the key, costs throughput).`,
    )
    L.push('')
    L.push('| variant | committed/s | p50 / p99 | ledger rows per reservation | errors |')
    L.push('|---|--:|--:|--:|--:|')
    for (const v of l.variants) {
      const x = h[v.key]
      const errs = Object.entries(x.errors || {})
      L.push(
        `| ${v.label} | ${fmt(x.committed_per_s)} | ${fmt(x.p50)} / ${fmt(x.p99)} | ${x.ledger_rows_per_call ?? '—'} | ${errs.length ? errs.map(([k, n]) => `${n}× ${k}`).join('; ') : 0} |`,
      )
    }
    L.push('')
    L.push(`off/on ${times2(sum.hot.off_over_on_committed)}, on/key ${times2(sum.hot.on_over_key_committed)}.`)
    L.push('')
  }
}

// Issue 13's goals for the 1M-item reads (ms), shown beside the results, never asserted.
const SCALE_GOALS = {
  retrieveAvailableQuantity: { text: 'p99 < 1', met: (o) => o.p99 < 1 },
  confirmInventory: { text: 'p99 < 1', met: (o) => o.p99 < 1 },
  listInventoryItems_q: {
    text: 'p50 ≤ 50 and ≥ 10× the peer',
    met: (o, p) => o.p50 <= 50 && !!p && !p.error && p.p50 >= 10 * o.p50,
  },
  listAndCountInventoryItems: { text: 'p50 ≤ 50', met: (o) => o.p50 <= 50 },
}

/**
 * Whether a scale read's cost must grow with the catalogue (the number of items),
 * and why: the judgement the growth table shows beside the measured ratios.
 */
const SCALE_GROWTH = {
  retrieveAvailableQuantity: { must_grow: false, why: 'point read by item id: B-tree lookups, depth ~log N' },
  confirmInventory: { must_grow: false, why: 'point read by item id: B-tree lookups, depth ~log N' },
  listInventoryItems_first: { must_grow: false, why: 'first page: the first 50 rows in index order' },
  listInventoryItems_page: { must_grow: false, why: 'offset ≤ 10 000 whatever the size: at most 10 050 rows walked' },
  listInventoryItems_deep: {
    must_grow: true,
    why: 'offset in the second half of the catalogue: OFFSET walks and drops every skipped row',
  },
  listInventoryItems_location: { must_grow: false, why: 'take 50 of one location: stops at the first 50 levels' },
  listInventoryItems_q: {
    must_grow: false,
    why: "one sku: need not, and ours barely does: its number's five-digit grams (the digit-gram index) are each in a few hundred items of ten million, where a digit trigram is in a fixed share of the catalogue",
  },
  listInventoryItems_q_common: {
    must_grow: false,
    why: 'no count: the first 50 matches end the scan (if the plan walks rows in order)',
  },
  listAndCountInventoryItems: {
    must_grow: true,
    why: 'exact count: count(*) reads every row matched. Ours answers the unfiltered count from its kept live count, so ours need not',
  },
  listAndCountInventoryItems_q: {
    must_grow: false,
    why: 'one sku with count: the same index search as without, then a count of its few rows',
  },
  listAndCountInventoryItems_q_common: {
    must_grow: true,
    why: 'a word every item has, with count: every item matches and is counted',
  },
  reserve_sequential: { must_grow: false, why: 'one line: point read and update of one level, one insert' },
  reserve_concurrent: { must_grow: false, why: 'as one caller, on random items: little contention at any size' },
}

/** The issue's goals for our scale reads: point reads and list by location p99 < 2 ms, q for one sku p50 < 5 ms. */
const SCALE_ISSUE_GOALS = {
  retrieveAvailableQuantity: { field: 'p99', max: 2 },
  confirmInventory: { field: 'p99', max: 2 },
  listInventoryItems_location: { field: 'p99', max: 2 },
  listInventoryItems_q: { field: 'p50', max: 5 },
}

/** A size's reads and its reservations, keyed alike, for one module. */
function scaleRows(size, impl) {
  const reads = size[impl]
  if (!reads) return null
  const out = { ...reads }
  const res = size[`${impl}_reserve`]
  if (res) {
    if (res.sequential) out.reserve_sequential = res.sequential
    if (res.concurrent) out.reserve_concurrent = res.concurrent
  }
  return out
}

function scaleSection(L, scale) {
  // Results written before the comma list (one size, at the top level) read as one size.
  const sizes = scale.sizes || [{ items: scale.seed.items, ...scale }]
  const many = sizes.length > 1
  L.push(
    `## Scale: ${sizes.map((z) => z.items.toLocaleString('en')).join(', then ')} items × ${sizes[0].seed.locations} locations`,
  )
  L.push('')
  if (many)
    L.push(
      `One data set, grown in place: seeded to the first size, measured, then extended with the missing items and their levels to the next size and measured again.${scale.id_digits ? ` Ids and skus carry ${scale.id_digits}-digit numbers.` : ''}`,
    )
  if (scale.note) L.push(`${scale.note}.`)
  if (scale.reservations_kept)
    L.push(
      `Reservations: after its reads, each module reserves on the same tables (one caller, then ${scale.sampling ? scale.sampling.reserve_callers : 32} callers); the rows are kept: ${scale.reservations_kept} (up to a few tens of thousands of rows against millions of levels: negligible).`,
    )
  if (scale.sizes && scale.sampling)
    L.push(
      `Each read is warmed up with ${scale.sampling.warmup} calls; the point reads and the one-caller reservations take up to ${scale.sampling.point_iterations} samples each, the lists ${scale.sampling.list_iterations}${scale.sampling.max_seconds ? `, each stopped after ${scale.sampling.max_seconds} s (at least 3 samples; the warm-up after a quarter of that)` : ''}${scale.sampling.reserve_duration_ms ? `; the concurrent reservations run ${fmt(scale.sampling.reserve_duration_ms / 1000)} s` : ''}.`,
    )
  if (L[L.length - 1] !== '') L.push('')
  for (const size of sizes) scaleSizeSection(L, size, many)
  if (many) scaleGrowth(L, sizes)
}

function scaleSizeSection(L, size, many) {
  L.push(`### ${size.items.toLocaleString('en')} items × ${size.seed.locations} locations`)
  L.push('')
  L.push(
    `Seeded with SQL (${size.seed.how}) in ${size.seed.seconds} s${size.seed.added !== undefined && size.seed.added !== size.items ? ` (${size.seed.added.toLocaleString('en')} items added)` : ''}; both modules read the same tables, the peer first${many && size.seed.added !== size.items ? ' (at this size with our search indexes present on the table, which its ILIKE may use)' : ", as Medusa's migrations leave them"}.`,
  )
  const si = size.search_index
  if (si) {
    L.push(
      `Then our \`migrate()\` built the search index for \`q\` on the seeded table in ${si.build_seconds} s (with its statistics, and the drift check of the first 100 000 levels): ${si.indexes.map((x) => `\`${x.name}\` ${x.mb} MB`).join(', ')}, beside a ${si.table_mb} MB table and ${si.medusa_indexes_mb} MB of Medusa's own indexes on it.`,
    )
  }
  const st = size.settle && (size.settle.ours || size.settle.peer)
  if (st) {
    const mb =
      typeof st.prewarmed_mb === 'number'
        ? `its ${st.prewarmed_mb} MB of tables and indexes read once into the OS page cache (\`pg_prewarm\` 'read'; shared_buffers as the server has them)`
        : st.prewarmed_mb
    L.push(
      `Before each module's reads: ${st.checkpoint === true ? 'a CHECKPOINT (no spread checkpoint of the seed under the measurement)' : `CHECKPOINT ${st.checkpoint}`}, and ${mb}.${size.sampling ? ` Each read is warmed up with ${size.sampling.warmup} calls; the point reads take up to ${size.sampling.point_iterations} samples each, the lists ${size.sampling.list_iterations}.` : ''}`,
    )
  }
  L.push('')
  L.push('| read | ours p50 | ours p99 | peer p50 | peer p99 | peer/ours | floor p50 / p99³ | ours/floor | goal |')
  L.push('|---|--:|--:|--:|--:|--:|--:|--:|---|')
  const keys = Object.keys(size.ours || size.peer || {})
  const c = (s, f) => (!s ? '—' : s.error ? 'error' : fmt(s[f]))
  for (const k of keys) {
    const o = size.ours && size.ours[k]
    const p = size.peer && size.peer[k]
    const g = SCALE_GOALS[k]
    const goal = !g ? '—' : o && !o.error ? `${g.text} ${g.met(o, p) ? '✓' : '✗'}` : g.text
    const f = o && o.floor
    L.push(
      `| ${(o || p).label} | ${c(o, 'p50')} | ${c(o, 'p99')} | ${c(p, 'p50')} | ${c(p, 'p99')} | ${times(ratio(p && p.p50, o && o.p50))} | ${f ? `${fmt(f.p50)} / ${fmt(f.p99)}` : '—'} | ${f ? times2(ratio(o.p50, f.p50)) : '—'} | ${goal} |`,
    )
  }
  L.push('')
  L.push(
    '³ Measured in our process, in alternating chunks with ours: for the two reads the same SQL as their floors above, with the same random items; for the count and the sku search our own statement (the search with a fresh sku each call), by node-postgres.',
  )
  const og = size.ours
  if (og) {
    const marks = Object.entries(SCALE_ISSUE_GOALS)
      .filter(([k]) => og[k])
      .map(([k, g]) => {
        const r = og[k]
        const ok = !r.error && Number.isFinite(r[g.field]) && r[g.field] < g.max
        return `${r.label} ${g.field} ${r.error ? 'error' : `${fmt(r[g.field])} ms`} < ${g.max} ms ${ok ? '✓' : '✗'}`
      })
    if (marks.length) {
      L.push('')
      L.push(`Issue goals (ours): ${marks.join('; ')}.`)
    }
  }
  const or = size.ours_reserve
  const pr = size.peer_reserve
  if (or || pr) {
    L.push('')
    L.push(
      '| reservations at sloc_scale_1, random items of the whole catalogue | ours calls/s | ours p50 | ours p99 | peer calls/s | peer p50 | peer p99 | peer/ours p50 |',
    )
    L.push('|---|--:|--:|--:|--:|--:|--:|--:|')
    for (const k of ['sequential', 'concurrent']) {
      const o = or && or[k]
      const p = pr && pr[k]
      if (!o && !p) continue
      const fail = (r) => (r && r.failed ? ` (${r.failed} failed)` : '')
      L.push(
        `| ${(o || p).label} | ${c(o, 'ops_per_s')}${fail(o)} | ${c(o, 'p50')} | ${c(o, 'p99')} | ${c(p, 'ops_per_s')}${fail(p)} | ${c(p, 'p50')} | ${c(p, 'p99')} | ${times(ratio(p && p.p50, o && o.p50))} |`,
      )
    }
  }
  const rs = size.relation_sizes
  if (rs) {
    L.push('')
    L.push(
      `On disk after this size's runs (${rs.how}): tables ${fmt(rs.tables_mb)} MB, Medusa's indexes ${fmt(rs.medusa_indexes_mb)} MB, ours ${fmt(rs.ours_indexes_mb)} MB.`,
    )
    L.push('')
    L.push("| table | table MB | Medusa's indexes | our indexes |")
    L.push('|---|--:|---|---|')
    for (const t of rs.tables) {
      const idx = rs.indexes.filter((i) => i.table === t.name)
      const list = (xs) => (xs.length ? xs.map((i) => `\`${i.name}\` ${fmt(i.mb)}`).join(', ') : '—')
      L.push(`| ${t.name} | ${fmt(t.mb)} | ${list(idx.filter((i) => !i.ours))} | ${list(idx.filter((i) => i.ours))} |`)
    }
  }
  const pa = size.pgbench_available
  if (pa && pa.available) {
    L.push('')
    L.push(
      pa.error
        ? `pgbench, ${pa.what}: failed (${pa.error}).`
        : `Outside Node, pgbench ran ${pa.what}: p50 ${fmt(pa.p50)} ms, p99 ${fmt(pa.p99)} ms (${fmt(pa.tps)} tps). Against the same statement's p99 from node-postgres above, the difference is what a Node process adds on this machine.`,
    )
  }
  L.push('')
}

/** Per read: p50 / p99 at each size, largest over smallest, and whether it must grow (SCALE_GROWTH). */
function scaleGrowth(L, sizes) {
  const first = sizes[0]
  const last = sizes[sizes.length - 1]
  const short = (n) =>
    n >= 1e6 ? `${+(n / 1e6).toPrecision(3)}M` : n >= 1e3 ? `${+(n / 1e3).toPrecision(3)}k` : String(n)
  L.push(
    `### Growth: ${short(first.items)} → ${short(last.items)} items (${fmt(last.items / first.items)}× the catalogue)`,
  )
  L.push('')
  L.push(
    'p50 / p99 in ms at each size; "×" is the largest size over the smallest (p50, p99). "must grow" is whether the cost has to rise with the catalogue whatever the implementation; a read that need not grow but does is worth a look.',
  )
  L.push('')
  const head = ['read', 'must grow']
  for (const impl of ['ours', 'peer']) {
    for (const z of sizes) head.push(`${impl} @${short(z.items)}`)
    head.push(`${impl} ×`)
  }
  head.push('why')
  L.push(`| ${head.join(' | ')} |`)
  L.push(`|---|---|${sizes.map(() => '--:|').join('')}--:|${sizes.map(() => '--:|').join('')}--:|---|`)
  const rows = sizes.map((z) => ({ ours: scaleRows(z, 'ours'), peer: scaleRows(z, 'peer') }))
  const keys = []
  for (const r of rows)
    for (const impl of ['ours', 'peer']) for (const k of Object.keys(r[impl] || {})) if (!keys.includes(k)) keys.push(k)
  for (const k of keys) {
    const label = rows.map((r) => (r.ours && r.ours[k]) || (r.peer && r.peer[k])).find(Boolean).label
    const g = SCALE_GROWTH[k]
    const cells = [label, g ? (g.must_grow ? 'yes' : 'no') : '—']
    for (const impl of ['ours', 'peer']) {
      const at = rows.map((r) => r[impl] && r[impl][k])
      for (const x of at) cells.push(!x ? '—' : x.error ? 'error' : `${fmt(x.p50)} / ${fmt(x.p99)}`)
      const a = at[0]
      const b = at[at.length - 1]
      const ok = (x) => x && !x.error
      cells.push(ok(a) && ok(b) ? `${times(ratio(b.p50, a.p50))} / ${times(ratio(b.p99, a.p99))}` : '—')
    }
    cells.push(g ? g.why : '—')
    L.push(`| ${cells.join(' | ')} |`)
  }
  L.push('')
  const disk = sizes.filter((z) => z.relation_sizes)
  if (disk.length) {
    L.push(
      `On disk (MB): ${disk.map((z) => `${short(z.items)}: tables ${fmt(z.relation_sizes.tables_mb)}, Medusa's indexes ${fmt(z.relation_sizes.medusa_indexes_mb)}, ours ${fmt(z.relation_sizes.ours_indexes_mb)}`).join('; ')}.`,
    )
    L.push('')
  }
}

function goalCell(r) {
  if (!r.goal) return '—'
  if (r.ours_over_floor_p50 === null) return `≤ ${r.goal}×`
  return `≤ ${r.goal}× ${r.ours_over_floor_p50 <= r.goal ? '✓' : '✗'}`
}

// ---- SVG ------------------------------------------------------------------------------

function esc(s) {
  return String(s).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;')
}

/** Horizontal bars, log scale: per operation p50 of ours, peer and floor, with a p99 whisker. */
function svgChart(report, summary) {
  const rows = summary.sequential
  const series = [
    { name: 'ours (medusa-inventory-rs)', color: '#d9480f', get: (r) => r.ours },
    { name: 'peer (@medusajs/inventory 2.21.2)', color: '#1c7ed6', get: (r) => r.peer },
    { name: 'floor', color: '#868e96', get: (r) => (r.floor.p50 ? r.floor : null) },
  ]
  const values = []
  for (const r of rows)
    for (const s of series) {
      const v = s.get(r)
      if (v && !v.error && v.p50 > 0) values.push(v.p50, v.p99 || v.p50)
    }
  const lo = Math.pow(10, Math.floor(Math.log10(Math.max(1e-3, Math.min(...values, 1)))))
  const hi = Math.pow(10, Math.ceil(Math.log10(Math.max(...values, 1))))
  const left = 350
  const width = 1000
  const plotW = width - left - 30
  const barH = 9
  const groupH = series.length * (barH + 2) + 12
  const top = 78
  const height = top + rows.length * groupH + 46
  const x = (v) => left + ((Math.log10(v) - Math.log10(lo)) / (Math.log10(hi) - Math.log10(lo))) * plotW
  const out = []
  out.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="Helvetica, Arial, sans-serif" font-size="12">`,
  )
  out.push(`<rect width="100%" height="100%" fill="#fff"/>`)
  const m = report.meta
  out.push(
    `<text x="12" y="22" font-size="15" font-weight="bold">Latency per call, one caller: p50 bar, p99 whisker (ms, log scale)</text>`,
  )
  out.push(
    `<text x="12" y="40" fill="#495057">${esc(`${m.started_at.slice(0, 16).replace('T', ' ')} · PostgreSQL ${m.postgres.version}${m.postgres.embedded ? ' (embedded)' : ''} · ${m.machine.cpus} cores · both modules through Medusa's loader${m.noisy ? ' · NOISY RUN' : ''}`)}</text>`,
  )
  let lx = 12
  for (const s of series) {
    out.push(
      `<rect x="${lx}" y="50" width="12" height="10" fill="${s.color}"/><text x="${lx + 16}" y="59">${esc(s.name)}</text>`,
    )
    lx += 24 + s.name.length * 6.6
  }
  // Grid.
  for (let d = lo; d <= hi * 1.0001; d *= 10) {
    for (const k of [1, 2, 5]) {
      const v = d * k
      if (v > hi * 1.0001) break
      const gx = x(v)
      out.push(
        `<line x1="${gx.toFixed(1)}" y1="${top - 6}" x2="${gx.toFixed(1)}" y2="${height - 30}" stroke="${k === 1 ? '#ced4da' : '#f1f3f5'}"/>`,
      )
      if (k === 1 || rows.length > 0)
        out.push(
          `<text x="${gx.toFixed(1)}" y="${height - 14}" text-anchor="middle" fill="#495057" font-size="11">${v >= 1 ? v : v.toPrecision(1)}</text>`,
        )
    }
  }
  rows.forEach((r, i) => {
    const gy = top + i * groupH
    out.push(
      `<text x="${left - 8}" y="${gy + groupH / 2 - 6}" text-anchor="end" dominant-baseline="middle">${esc(r.label)}</text>`,
    )
    out.push(
      `<text x="${left - 8}" y="${gy + groupH / 2 + 8}" text-anchor="end" dominant-baseline="middle" font-size="10" fill="#495057">${esc(`ours/floor ${times2(r.ours_over_floor_p50)}${r.goal ? ` (goal ≤ ${r.goal}×)` : ''} · peer/ours ${times(r.peer_over_ours_p50)}`)}</text>`,
    )
    series.forEach((s, j) => {
      const v = s.get(r)
      const y = gy + j * (barH + 2)
      if (!v || v.error || !(v.p50 > 0)) return
      out.push(
        `<rect x="${left}" y="${y}" width="${Math.max(1, x(v.p50) - left).toFixed(1)}" height="${barH}" fill="${s.color}"><title>${esc(`${s.name}: p50 ${v.p50} ms, p99 ${v.p99 ?? '—'} ms`)}</title></rect>`,
      )
      if (v.p99 && v.p99 > v.p50) {
        const cy = y + barH / 2
        out.push(
          `<line x1="${x(v.p50).toFixed(1)}" y1="${cy}" x2="${x(v.p99).toFixed(1)}" y2="${cy}" stroke="${s.color}" stroke-width="1"/>`,
        )
        out.push(
          `<line x1="${x(v.p99).toFixed(1)}" y1="${y + 1}" x2="${x(v.p99).toFixed(1)}" y2="${y + barH - 1}" stroke="${s.color}" stroke-width="1.5"/>`,
        )
      }
      out.push(
        `<text x="${(Math.max(x(v.p99 || v.p50), x(v.p50)) + 4).toFixed(1)}" y="${y + barH - 1}" font-size="9" fill="#343a40">${fmt(v.p50)}</text>`,
      )
    })
  })
  out.push(
    `<text x="12" y="${height - 2}" font-size="10" fill="#868e96">floor: the cheapest SQL doing the same work (lists: our own statement), one prepared statement via node-postgres; bulk create: COPY</text>`,
  )
  out.push('</svg>')
  return out.join('\n')
}

function buildReport(report) {
  const summary = summarizeRun(report)
  return { summary, markdown: markdown(report, summary), svg: svgChart(report, summary) }
}

module.exports = { buildReport }
