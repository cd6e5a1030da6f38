'use strict'
// Tables and the chart of rtt.js: round trips per operation, latency vs RTT.

// The fewest round trips that can do each operation's work correctly, and, where
// ours needs more, why (from reading the code; nothing here is measured).
// min: a number; why: the reasoning for the minimum; ours_note: why ours is above
// it, or what would have to change (shown only where ours > min).
const MINIMUM = {
  createInventoryItems_1: { min: 1, why: 'one INSERT … RETURNING' },
  createInventoryItems_1000: { min: 1, why: 'one multi-row INSERT … RETURNING (or COPY in one flight)' },
  createInventoryLevels_1: { min: 1, why: 'one INSERT … RETURNING (the item is checked by its foreign key)' },
  confirmInventory: { min: 1, why: 'one SELECT of the levels' },
  retrieveAvailableQuantity: { min: 1, why: 'one SELECT sum(...)' },
  createReservationItems_1: {
    min: 1,
    why: 'BEGIN + guarded UPDATE of the level + INSERT + COMMIT pipelined in one flight (the availability check is a WHERE of the UPDATE)',
  },
  createReservationItems_10: {
    min: 1,
    why: 'as for 1 line: the 10 guarded UPDATEs and INSERTs in one pipelined flight',
  },
  updateReservationItems: {
    min: 1,
    why: 'one statement (data-modifying CTE: reservation and level together), or BEGIN…COMMIT pipelined',
  },
  adjustInventory: { min: 1, why: 'one UPDATE … RETURNING' },
  deleteReservationItemsByLineItem: {
    min: 1,
    why: 'one statement (CTE: soft-delete and give the quantity back to the level)',
  },
  listInventoryItems_q: { min: 1, why: 'one SELECT (the count, if wanted, as a window function in it)' },
  listInventoryItems_location: { min: 1, why: 'one SELECT with the join' },
  listReservationItems_line: { min: 1, why: 'one SELECT' },
  adjustInventory_batch: { min: 1, why: 'one UPDATE … RETURNING' },
  softDeleteReservationItems: { min: 1, why: 'one statement (CTE: soft-delete and give the quantity back)' },
  checkout_fulfilment: { min: 3, why: 'three calls as Medusa makes them: one each (1 if the three were one call)' },
  checkout_return: { min: 1, why: 'one UPDATE … RETURNING' },
}

// Why ours is above the minimum, from reading crates/inventory-core (not changed here), and
// what would have to change. Shown where a measured count of ours exceeds the minimum.
const RESERVE_TWO =
  'BEGIN with SELECT … FOR UPDATE of the levels is one flight; Rust then decides each call of the group-commit ' +
  'batch against the locked levels (reservation_engine.rs decide_and_write: stock rule, allow_backorder, the ' +
  'reserved quantity after each call for the ledger rows) and sends UPDATE + INSERTs + COMMIT as the second. To be 1: ' +
  'the decision in SQL, a guarded UPDATE … WHERE stocked - reserved >= q RETURNING per call feeding the INSERTs in ' +
  "one CTE, a refusal an empty RETURNING rather than an error (so the pipelined COMMIT keeps the group's other calls), " +
  'the ledger rows computed from the RETURNING'
const OURS_ABOVE = {
  createReservationItems_1: RESERVE_TWO,
  createReservationItems_10: RESERVE_TWO,
}

function fmtCounts(xs) {
  if (!xs || !xs.length) return '—'
  const lo = Math.min(...xs)
  const hi = Math.max(...xs)
  return lo === hi ? String(lo) : `${lo}–${hi}`
}

function txStatements(r) {
  return (r.statements || []).filter((s) => /^(BEGIN|COMMIT|ROLLBACK|START TRANSACTION|SAVEPOINT|RELEASE)\b/i.test(s))
    .length
}

function roundTripMarkdown(report) {
  const lines = []
  lines.push(
    `Run \`${report.meta.run_id}\` (${report.meta.mode}), commit \`${String(report.meta.commit).slice(0, 7)}\`, ` +
      `PostgreSQL ${report.meta.postgres.version}. Both modules loaded through MedusaApp, pool 10, every byte through ` +
      `the wire tap (\`lib/wire-tap.js\`); steady state: calls 3 to ${2 + report.settings.counted_calls} of each ` +
      `operation (after a first and a warm-up call); "first" is the first call. A round trip: the client waits for ` +
      `ReadyForQuery before it sends again; a pipelined flight is one. Counted per connection and added up. Exact, ` +
      `not timed. Idle traffic between calls: ours ${report.ours.idle_300ms}, peer ${report.peer.idle_300ms} round trips in 300 ms.`,
  )
  lines.push('')
  lines.push('| operation | ours | peer | physical minimum¹ | note | first call (ours / peer) |')
  lines.push('|---|--:|--:|--:|---|--:|')
  const above = [] // [[op labels], reason] for the rows where ours is above the minimum
  const note = (row) => {
    const parts = []
    const m = row.minimum || {}
    const oursMax = row.ours && row.ours.round_trips ? Math.max(...row.ours.round_trips) : null
    if (m.min !== undefined && oursMax !== null && oursMax > m.min) {
      const reason = OURS_ABOVE[row.key] || 'not explained yet'
      let at = above.findIndex(([, r]) => r === reason)
      if (at < 0) at = above.push([[], reason]) - 1
      above[at][0].push(row.label)
      parts.push(`ours above the minimum: note ${at + 1} below`)
    }
    if (row.peer && row.peer.statements) {
      const tx = txStatements(row.peer)
      const rts = Math.max(...row.peer.round_trips)
      if (tx)
        parts.push(
          `peer: ${tx} of ${rts} are its MikroORM transaction's BEGIN/COMMIT` +
            (row.peer.statements.length === rts ? '; one statement per round trip' : ''),
        )
      const seq = row.peer.sequential_round_trips
      if (seq && Math.max(...seq) < rts) parts.push(`peer: ${fmtCounts(seq)} on the critical path`)
    }
    return parts.join('; ')
  }
  const cell = (r) => (r && !r.error ? fmtCounts(r.round_trips) : `failed`)
  for (const row of report.rows) {
    lines.push(
      `| ${row.label} | ${cell(row.ours)} | ${cell(row.peer)} | ${row.minimum ? row.minimum.min : '?'} | ${note(row)} | ${
        row.ours && !row.ours.error ? row.ours.first_call : '—'
      } / ${row.peer && !row.peer.error ? row.peer.first_call : '—'} |`,
    )
  }
  lines.push('')
  lines.push(
    '¹ The fewest round trips that do the work correctly (an argument, not a measurement; `lib/rtt-report.js`):',
  )
  lines.push('')
  for (const row of report.rows) if (row.minimum) lines.push(`- ${row.label}: ${row.minimum.min}, ${row.minimum.why}.`)
  if (above.length) {
    lines.push('')
    lines.push('Where ours is above the minimum (from reading `crates/inventory-core`; not changed here):')
    lines.push('')
    above.forEach(([labels, reason], i) => lines.push(`${i + 1}. ${labels.join(', ')}: ${reason}.`))
  }
  lines.push('')
  lines.push('Medusa checkout and order steps (@medusajs/core-flows 2.21.2), the same counts:')
  lines.push('')
  lines.push('| step | operation | ours | peer | physical minimum |')
  lines.push('|---|---|--:|--:|--:|')
  for (const c of report.checkout) {
    const row = report.rows.find((r) => r.key === c.op)
    lines.push(
      `| ${c.step} | ${row.label} | ${cell(row.ours)} | ${cell(row.peer)} | ${row.minimum ? row.minimum.min : '?'} |`,
    )
  }
  return lines.join('\n')
}

const fmt = (x) =>
  x === null || x === undefined ? '—' : x >= 100 ? x.toFixed(0) : x >= 10 ? x.toFixed(1) : x.toFixed(2)

function latencyMarkdown(report) {
  const { RTT_OPS } = require('./rtt-ops')
  const rtts = Object.keys(report.rtts).sort((a, b) => Number(a) - Number(b))
  const lines = []
  const s = report.settings
  lines.push(
    `Run \`${report.meta.run_id}\` (${report.meta.mode}), commit \`${String(report.meta.commit).slice(0, 7)}\`, ` +
      `${report.meta.machine.cpus} cores, load average ${report.meta.machine.loadavg_start.map((x) => x.toFixed(2)).join(' ')} at the start. ` +
      `Delay: ${report.method_note} One caller: ${s.iterations} timed calls per operation and RTT after ${s.warmup} ` +
      `warm-up calls (the p99 of ${s.iterations} samples is their worst, nearest rank). ms. ` +
      `**Timings on a shared 2-core machine are noisy**; the round-trip counts above are exact.`,
  )
  lines.push('')
  lines.push('| RTT target (ms) | SELECT 1 p50 through the path (ms) | added vs direct (ms) |')
  lines.push('|--:|--:|--:|')
  for (const k of rtts) {
    const r = report.rtts[k]
    lines.push(`| ${k} | ${fmt(r.select1_proxy_p50)} | ${fmt(r.added_p50)} |`)
  }
  lines.push('')
  const head = ['operation']
  for (const k of rtts) head.push(`${k} ms: ours p50 (p99)`, `peer p50 (p99)`, '×')
  lines.push(`| ${head.join(' | ')} |`)
  lines.push(`|---|${rtts.map(() => '--:|--:|--:|').join('')}`)
  for (const op of RTT_OPS) {
    const row = [op.label]
    for (const k of rtts) {
      const o = report.rtts[k].ours && report.rtts[k].ours.sequential && report.rtts[k].ours.sequential[op.key]
      const p = report.rtts[k].peer && report.rtts[k].peer.sequential && report.rtts[k].peer.sequential[op.key]
      const c = (x) => (x && !x.error ? `${fmt(x.p50)} (${fmt(x.p99)})` : '—')
      row.push(c(o), c(p), o && p && o.p50 && p.p50 ? `${(p.p50 / o.p50).toFixed(1)}×` : '—')
    }
    lines.push(`| ${row.join(' | ')} |`)
  }
  lines.push('')
  lines.push(
    `${s.callers} concurrent callers, ${s.durationMs / 1000} s each: reserving 1 unit of a random item of ${s.seedItems} ` +
      `(createReservationItems, 1 line), and (at 1 ms) all reserving the same item (hot item, plain: no locking.execute):`,
  )
  lines.push('')
  lines.push(
    '| RTT (ms) | scenario | ours /s | ours p50 | ours p99 | peer /s | peer p50 | peer p99 | ours/peer throughput |',
  )
  lines.push('|--:|---|--:|--:|--:|--:|--:|--:|--:|')
  for (const k of rtts) {
    for (const [key, name] of [
      ['reserve_concurrent', 'reserve, random items'],
      ['hot', 'reserve, one hot item'],
    ]) {
      const o = report.rtts[k].ours && report.rtts[k].ours[key]
      const p = report.rtts[k].peer && report.rtts[k].peer[key]
      if (!o && !p) continue
      const f = (x, what) => (x ? fmt(x[what]) : '—')
      const fails = [o, p].some((x) => x && x.failed)
        ? ` (failed calls: ours ${o ? o.failed : '—'}, peer ${p ? p.failed : '—'})`
        : ''
      lines.push(
        `| ${k} | ${name}${fails} | ${f(o, 'ops_per_s')} | ${f(o, 'p50')} | ${f(o, 'p99')} | ${f(p, 'ops_per_s')} | ${f(p, 'p50')} | ${f(p, 'p99')} | ${
          o && p && p.ops_per_s ? `${(o.ops_per_s / p.ops_per_s).toFixed(1)}×` : '—'
        } |`,
      )
    }
  }
  lines.push('')
  lines.push('![p50 latency against RTT, ours and the peer](results/latency.svg)')
  return lines.join('\n')
}

const CHART_OPS = ['confirmInventory', 'createReservationItems_1', 'createReservationItems_10', 'checkout_fulfilment']

/** p50 against RTT for a few operations, ours and the peer, one panel each (linear axes). */
function latencySvg(report) {
  const { RTT_OPS } = require('./rtt-ops')
  const rtts = Object.keys(report.rtts)
    .map(Number)
    .sort((a, b) => a - b)
  const pw = 340
  const ph = 220
  const m = { l: 48, r: 12, t: 34, b: 36 }
  const width = pw * 2 + 30
  const height = ph * 2 + 76
  const out = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="Helvetica, Arial, sans-serif" font-size="11">`,
    `<rect width="100%" height="100%" fill="white"/>`,
    `<text x="10" y="18" font-size="13" font-weight="bold">p50 latency (ms) against the added round-trip time (ms), one caller</text>`,
    `<text x="10" y="34"><tspan fill="#1f6fd1" font-weight="bold">ours (medusa-inventory-rs)</tspan><tspan dx="14" fill="#e8871e" font-weight="bold">@medusajs/inventory 2.21.2</tspan><tspan dx="14">both through MedusaApp</tspan></text>`,
    `<text x="10" y="${height - 8}" fill="#555">${report.meta.run_id}; delay: ${report.method}; a shared 2-core machine: noisy</text>`,
  ]
  const xmax = Math.max(...rtts, 0.001)
  CHART_OPS.forEach((key, idx) => {
    const op = RTT_OPS.find((o) => o.key === key)
    const ox = 10 + (idx % 2) * (pw + 10)
    const oy = 42 + Math.floor(idx / 2) * (ph + 4)
    const series = ['ours', 'peer'].map((impl) =>
      rtts.map((r) => {
        const s = report.rtts[String(r)][impl]
        const v = s && s.sequential && s.sequential[key]
        return v && !v.error ? v.p50 : null
      }),
    )
    const ymax = Math.max(0.1, ...series.flat().filter((v) => v !== null)) * 1.1
    const X = (r) => ox + m.l + (r / xmax) * (pw - m.l - m.r)
    const Y = (v) => oy + ph - m.b - (v / ymax) * (ph - m.t - m.b)
    out.push(
      `<text x="${ox + m.l}" y="${oy + m.t - 8}" font-weight="bold">${op.label.replace(/ \(list.*\)$/, '').replace(/&/g, '&amp;')}</text>`,
    )
    out.push(
      `<line x1="${X(0)}" y1="${Y(0)}" x2="${X(xmax)}" y2="${Y(0)}" stroke="#333"/><line x1="${X(0)}" y1="${Y(0)}" x2="${X(0)}" y2="${Y(ymax)}" stroke="#333"/>`,
    )
    for (const r of rtts) out.push(`<text x="${X(r)}" y="${Y(0) + 14}" text-anchor="middle">${r}</text>`)
    for (let k = 0; k <= 4; k++) {
      const v = (ymax * k) / 4
      out.push(
        `<line x1="${X(0)}" y1="${Y(v)}" x2="${X(xmax)}" y2="${Y(v)}" stroke="#eee"/><text x="${X(0) - 4}" y="${Y(v) + 4}" text-anchor="end">${fmt(v)}</text>`,
      )
    }
    ;['#1f6fd1', '#e8871e'].forEach((color, si) => {
      const pts = rtts.map((r, i) => [r, series[si][i]]).filter(([, v]) => v !== null)
      if (!pts.length) return
      out.push(
        `<polyline fill="none" stroke="${color}" stroke-width="2" points="${pts.map(([r, v]) => `${X(r).toFixed(1)},${Y(v).toFixed(1)}`).join(' ')}"/>`,
      )
      for (const [r, v] of pts)
        out.push(`<circle cx="${X(r).toFixed(1)}" cy="${Y(v).toFixed(1)}" r="3" fill="${color}"/>`)
    })
  })
  out.push('</svg>')
  return out.join('\n') + '\n'
}

/** Replaces what is between <!-- rtt:NAME:start --> and <!-- rtt:NAME:end --> in `text`. */
function replaceSection(text, name, md) {
  const start = `<!-- rtt:${name}:start -->`
  const end = `<!-- rtt:${name}:end -->`
  const a = text.indexOf(start)
  const b = text.indexOf(end)
  if (a < 0 || b < a) throw new Error(`README.md has no ${start} … ${end} markers`)
  return `${text.slice(0, a + start.length)}\n\n${md}\n\n${text.slice(b)}`
}

module.exports = { MINIMUM, OURS_ABOVE, roundTripMarkdown, latencyMarkdown, latencySvg, replaceSection }
