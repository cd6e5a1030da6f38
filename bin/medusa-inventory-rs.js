#!/usr/bin/env node
'use strict'
// Operations CLI. `reconcile` walks every live inventory level page by page and
// reports (and unless --dry-run, fixes) levels whose reserved quantity is not the
// sum of their live reservations, and quantities that differ from the sum of their
// movements in the ledger (closed with a `reconcile` movement). `verify` only checks
// the ledger; `prune` applies a retention. Exit codes, for CI and cron jobs: 0 nothing
// drifted or everything was fixed (verify: the ledger agrees), 1 drift found (dry run),
// left unfixed, or ledger gaps (verify), 2 error, 3 no error but the output could not
// be written (stdout or stderr closed early, e.g. `| head`, or disk full): no stack
// trace, the command stops writing there; what it did to the database (reconcile's
// fixes, prune) stands.

const USAGE = `Usage: medusa-inventory-rs reconcile [--dry-run] --url <postgres url> [--schema <schema>] [--limit <levels per page>]
       medusa-inventory-rs verify --url <postgres url> [--schema <schema>] [--limit <levels per page>]
       medusa-inventory-rs prune --days <n> --url <postgres url> [--schema <schema>]

  reconcile   fix reserved quantities that drifted from live reservations, and ledger gaps
  verify      report levels whose quantities differ from the sum of their ledger movements
  prune       fold ledger movements older than --days into one carried_forward movement
              per level and quantity (sums stay exact); drop expired idempotency keys

  --dry-run   reconcile: report drift and ledger gaps without writing (exit 1 when any is found)
  --url       Postgres connection string (default: $DATABASE_URL)
  --schema    schema holding the inventory tables (default: public)
  --limit     levels per page: reconcile 1 to 10000 (default 1000), verify 1 to 100000
  --days      prune: keep movements of the last n days

Exit codes: 0 nothing drifted or all fixed (verify: the ledger agrees), 1 drift found, left
unfixed, or ledger gaps, 2 error, 3 the output could not be written (closed pipe, disk full);
what the command did to the database stands.`

class UsageError extends Error {}

/** Exit code when the output could not be written (see the header). */
const WRITE_FAILED = 3

/** SQLSTATE undefined_table: the schema lacks the module's tables. */
const UNDEFINED_TABLE = '42P01'

function noTables(schema) {
  const where = `schema '${schema || 'public'}'`
  return (
    `${where} has no inventory tables: migrate it first, with \`medusa db:migrate\` in a Medusa app, ` +
    `or standalone: await (await InventoryService.connect({ url, schema })).migrate()`
  )
}

/** A command-line word as an error may quote it: a URL given without --url must not be echoed. */
const quoted = (word) => (/^-{0,2}[a-z][a-z-]{0,30}$/i.test(word) ? `'${word}'` : '(not shown: it may hold a password)')

function parseArgs(argv) {
  const [command, ...rest] = argv
  if (command === '--help' || command === '-h') return { help: true }
  if (!['reconcile', 'verify', 'prune'].includes(command))
    throw new UsageError(command ? `unknown command ${quoted(command)}` : 'no command given')
  const opts = {
    command,
    dryRun: false,
    url: process.env.DATABASE_URL,
    schema: undefined,
    limit: undefined,
    days: undefined,
  }
  for (let i = 0; i < rest.length; i++) {
    const arg = rest[i]
    const [flag, inline] =
      arg.startsWith('--') && arg.includes('=')
        ? [arg.slice(0, arg.indexOf('=')), arg.slice(arg.indexOf('=') + 1)]
        : [arg, undefined]
    const value = () => {
      if (inline !== undefined) return inline
      if (i + 1 >= rest.length) throw new UsageError(`${flag} needs a value`)
      return rest[++i]
    }
    if (flag === '--dry-run' && inline === undefined && command === 'reconcile') opts.dryRun = true
    else if (flag === '--days' && command === 'prune') {
      const text = value()
      if (!/^\d+$/.test(text)) throw new UsageError('--days must be a non-negative integer')
      opts.days = Number(text)
    } else if (flag === '--url') opts.url = value()
    else if (flag === '--schema') opts.schema = value()
    else if (flag === '--limit' && command !== 'prune') {
      const text = value()
      if (!/^\d+$/.test(text)) throw new UsageError('--limit must be a positive integer')
      opts.limit = Number(text)
    } else if (flag === '--help' || flag === '-h') return { help: true }
    else throw new UsageError(`unknown option ${quoted(flag)}`)
  }
  if (!opts.url) throw new UsageError('--url is required (or set DATABASE_URL)')
  if (command === 'prune' && opts.days === undefined) throw new UsageError('prune needs --days')
  return opts
}

const BAR_WIDTH = 20

const plural = (n, word) => `${n} ${word}${n === 1 ? '' : 's'}`

/** `[#####-----] 42% 4200/10000 levels, 3 drifted`; the count is read before the scan, so levels
 * created meanwhile can take `scanned` past it: the total is never shown below `scanned`. */
function progressText({ scanned, total, drifted, fixed, gaps = 0, dryRun }) {
  const of = Math.max(total, scanned)
  const ratio = of === 0 ? 1 : scanned / of
  const filled = Math.floor(ratio * BAR_WIDTH)
  const bar = `[${'#'.repeat(filled)}${'-'.repeat(BAR_WIDTH - filled)}]`
  const percent = `${Math.floor(ratio * 100)}%`.padStart(4)
  return `${bar} ${percent} ${scanned}/${of} levels, ${drifted} drifted${dryRun ? '' : `, ${fixed} fixed`}${gaps ? `, ${plural(gaps, 'ledger gap')}` : ''}`
}

/**
 * Progress lines on `stream`: rewritten in place on a terminal, one line per page otherwise.
 * A line equal to the last one is not written again (a final empty page after a full one).
 */
function progressTo(stream) {
  let last = null
  return (text, done) => {
    if (stream.isTTY) stream.write(`${text === last ? '' : `\r\x1b[K${text}`}${done ? '\n' : ''}`)
    else if (text !== last) stream.write(`${text}\n`)
    last = text
  }
}

function table(head, rows) {
  const cells = rows.map((r) => r.map((v) => String(v ?? '-')))
  const widths = head.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i].length)))
  const line = (c) =>
    c
      .map((v, i) => v.padEnd(widths[i]))
      .join('  ')
      .trimEnd()
  return [line(head), line(widths.map((w) => '-'.repeat(w))), ...cells.map(line)].join('\n')
}

const driftTable = (levels) =>
  table(
    ['level', 'item', 'location', 'reserved', 'raw', 'reservations', 'difference', 'fixed'],
    levels.map((l) => [
      l.id,
      l.inventory_item_id,
      l.location_id,
      l.reserved_quantity,
      l.raw_reserved_quantity,
      l.reservation_quantity,
      l.difference,
      l.fixed ? 'yes' : 'no',
    ]),
  )

const gapTable = (gaps) =>
  table(
    ['level', 'field', 'quantity', 'ledger sum', 'closed'],
    gaps.map((g) => [g.id, g.field, g.quantity, g.ledger_sum, g.fixed ? 'yes' : 'no']),
  )

async function reconcile(opts, { stdout, stderr }) {
  const { InventoryService } = require('../lib')
  const inventory = await InventoryService.connect({ url: opts.url, schema: opts.schema, maxConnections: 1 })
  const drifted = []
  const gaps = []
  let scanned = 0
  try {
    // The bar's denominator: one count of the live levels (take 0 reads no rows).
    const [, total] = await inventory.listAndCountInventoryLevels({}, { take: 0 })
    const state = () => ({
      scanned,
      total,
      drifted: drifted.length,
      fixed: drifted.filter((l) => l.fixed).length,
      gaps: gaps.length,
      dryRun: opts.dryRun,
    })
    // A terminal shows the bar before the first page, which can take a while on a big table.
    const progress = progressTo(stderr)
    if (stderr.isTTY) progress(progressText(state()), false)
    let after = null
    do {
      const page = await inventory.reconcile({ dryRun: opts.dryRun, after, limit: opts.limit })
      scanned += page.scanned
      drifted.push(...page.levels)
      // Gaps in the ledger of the page's id range (deleted levels the ledger remembers too).
      gaps.push(...(page.ledger ?? []))
      after = page.next
      // The last line says what was scanned, whatever was deleted meanwhile: 100% of it.
      progress(progressText({ ...state(), total: after === null ? scanned : total }), after === null)
    } while (after !== null)
  } finally {
    await inventory.close()
  }
  const fixed = drifted.filter((l) => l.fixed).length
  const closed = gaps.filter((g) => g.fixed).length
  if (drifted.length) stdout.write(`${driftTable(drifted)}\n\n`)
  if (gaps.length) stdout.write(`${gapTable(gaps)}\n\n`)
  const ledger = gaps.length ? `, ${plural(gaps.length, 'ledger gap')}, ${closed} closed` : ''
  stdout.write(
    `${scanned} levels scanned, ${drifted.length} drifted, ${fixed} fixed${ledger}${opts.dryRun ? ' (dry run: nothing written)' : ''}\n`,
  )
  return fixed === drifted.length && closed === gaps.length ? 0 : 1
}

/** Walks the ledger check page by page; 0 when every level agrees with its movements. */
async function verify(opts, { stdout, stderr }) {
  const { InventoryService } = require('../lib')
  const inventory = await InventoryService.connect({ url: opts.url, schema: opts.schema, maxConnections: 1 })
  const gaps = []
  let scanned = 0
  try {
    const progress = progressTo(stderr)
    let after = null
    do {
      const page = await inventory.verifyInventoryLedger({ after, limit: opts.limit })
      scanned += page.scanned
      gaps.push(...page.levels)
      after = page.next
      progress(`${scanned} levels checked, ${plural(gaps.length, 'ledger gap')}`, after === null)
    } while (after !== null)
  } finally {
    await inventory.close()
  }
  if (gaps.length)
    stdout.write(
      `${table(
        ['level', 'field', 'quantity', 'ledger sum'],
        gaps.map((g) => [g.id, g.field, g.quantity, g.ledger_sum]),
      )}\n\n`,
    )
  stdout.write(
    `${scanned} levels checked, ${plural(gaps.length, 'ledger gap')}${gaps.length ? ' (close them with reconcile)' : ''}\n`,
  )
  return gaps.length ? 1 : 0
}

async function prune(opts, { stdout }) {
  const { InventoryService } = require('../lib')
  const inventory = await InventoryService.connect({ url: opts.url, schema: opts.schema, maxConnections: 1 })
  try {
    const { folded, carried, keys } = await inventory.prune({ movementRetentionDays: opts.days })
    stdout.write(
      `${plural(folded, 'movement')} older than ${opts.days} days folded into ${carried}, ${plural(keys, 'expired idempotency key')} dropped\n`,
    )
    return 0
  } finally {
    await inventory.close()
  }
}

const COMMANDS = { reconcile, verify, prune }

/**
 * Runs one command line; resolves to the exit code. `io` holds the output streams
 * (the process's by default), so tests can hand it a terminal.
 */
async function run(argv, io = { stdout: process.stdout, stderr: process.stderr }) {
  let opts
  try {
    opts = parseArgs(argv)
    if (opts.help) {
      io.stdout.write(`${USAGE}\n`)
      return 0
    }
    return await COMMANDS[opts.command](opts, io)
  } catch (e) {
    if (e instanceof UsageError) {
      io.stderr.write(`medusa-inventory-rs: ${e.message}\n\n${USAGE}\n`)
      return 2
    }
    // A typed message, no stack: InventoryError carries Medusa's error type.
    const type = e && e.type ? `${e.type}: ` : ''
    const message =
      e && e.sqlState === UNDEFINED_TABLE ? noTables(opts && opts.schema) : e && e.message ? e.message : String(e)
    io.stderr.write(`\nmedusa-inventory-rs: ${type}${message}\n`)
    return 2
  }
}

/**
 * The process's streams, guarded: a stream's first write error (EPIPE when the reader is
 * gone, ENOSPC on a full disk) is kept and later writes to it are dropped; a lost stdout
 * is said on stderr. No stack trace: the exit code says it (WRITE_FAILED).
 */
function guardedIo(streams = { stdout: process.stdout, stderr: process.stderr }) {
  const failed = {}
  const guard = (name) => {
    const stream = streams[name]
    const fail = (e) => {
      if (failed[name]) return
      failed[name] = (e && e.code) || 'error'
      if (name === 'stdout' && !failed.stderr) {
        try {
          streams.stderr.write(`\nmedusa-inventory-rs: could not write to stdout (${failed.stdout}); stopped writing\n`)
        } catch {
          // stderr is gone too: the exit code says it.
        }
      }
    }
    stream.on('error', fail)
    return {
      get isTTY() {
        return stream.isTTY
      },
      write(text) {
        if (failed[name]) return
        try {
          stream.write(text)
        } catch (e) {
          fail(e)
        }
      },
    }
  }
  return { io: { stdout: guard('stdout'), stderr: guard('stderr') }, failed: () => Object.keys(failed).length > 0 }
}

if (require.main === module) {
  const guarded = guardedIo()
  let code = 2
  run(process.argv.slice(2), guarded.io).then((c) => {
    code = c
  })
  // A pipe's EPIPE can arrive after the run resolved: the code is settled at exit. An
  // error (2) is still reported as one; a lost report turns 0 or 1 into WRITE_FAILED.
  process.on('exit', () => {
    process.exitCode = guarded.failed() && code !== 2 ? WRITE_FAILED : code
  })
}

module.exports = { run, progressText }
