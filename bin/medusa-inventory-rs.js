#!/usr/bin/env node
'use strict'
// Operations CLI. `reconcile` walks every live inventory level page by page and
// reports (and unless --dry-run, fixes) levels whose reserved quantity is not the
// sum of their live reservations. Exit codes, for CI jobs: 0 nothing drifted or
// everything was fixed, 1 drift found (dry run) or left unfixed, 2 error.

const USAGE = `Usage: medusa-inventory-rs reconcile [--dry-run] --url <postgres url> [--schema <schema>] [--limit <levels per page>]

  --dry-run   report drift without writing (exit 1 when any is found)
  --url       Postgres connection string (default: $DATABASE_URL)
  --schema    schema holding the inventory tables (default: public)
  --limit     levels scanned per page, 1 to 10000 (default: 1000)`

class UsageError extends Error {}

function parseArgs(argv) {
  const [command, ...rest] = argv
  if (command === '--help' || command === '-h') return { help: true }
  if (command !== 'reconcile') throw new UsageError(command ? `unknown command '${command}'` : 'no command given')
  const opts = { dryRun: false, url: process.env.DATABASE_URL, schema: undefined, limit: undefined }
  for (let i = 0; i < rest.length; i++) {
    const arg = rest[i]
    const [flag, inline] = arg.startsWith('--') && arg.includes('=') ? [arg.slice(0, arg.indexOf('=')), arg.slice(arg.indexOf('=') + 1)] : [arg, undefined]
    const value = () => {
      if (inline !== undefined) return inline
      if (i + 1 >= rest.length) throw new UsageError(`${flag} needs a value`)
      return rest[++i]
    }
    if (flag === '--dry-run' && inline === undefined) opts.dryRun = true
    else if (flag === '--url') opts.url = value()
    else if (flag === '--schema') opts.schema = value()
    else if (flag === '--limit') {
      const text = value()
      if (!/^\d+$/.test(text)) throw new UsageError('--limit must be a positive integer')
      opts.limit = Number(text)
    } else if (flag === '--help' || flag === '-h') return { help: true }
    else throw new UsageError(`unknown option '${arg}'`)
  }
  if (!opts.url) throw new UsageError('--url is required (or set DATABASE_URL)')
  return opts
}

/** A progress line on stderr: rewritten in place on a terminal, one line per page otherwise. */
function progress(text, done) {
  if (process.stderr.isTTY) process.stderr.write(`\r\x1b[K${text}${done ? '\n' : ''}`)
  else process.stderr.write(`${text}\n`)
}

function table(rows) {
  const head = ['level', 'item', 'location', 'reserved', 'raw', 'reservations', 'difference', 'fixed']
  const cells = rows.map((l) => [l.id, l.inventory_item_id, l.location_id, l.reserved_quantity, l.raw_reserved_quantity, l.reservation_quantity, l.difference, l.fixed ? 'yes' : 'no'].map((v) => String(v ?? '-')))
  const widths = head.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i].length)))
  const line = (c) => c.map((v, i) => v.padEnd(widths[i])).join('  ').trimEnd()
  return [line(head), line(widths.map((w) => '-'.repeat(w))), ...cells.map(line)].join('\n')
}

async function reconcile(opts) {
  const { InventoryService } = require('../lib')
  const inventory = await InventoryService.connect({ url: opts.url, schema: opts.schema, maxConnections: 1 })
  const drifted = []
  let scanned = 0
  try {
    let after = null
    do {
      const page = await inventory.reconcile({ dryRun: opts.dryRun, after, limit: opts.limit })
      scanned += page.scanned
      drifted.push(...page.levels)
      after = page.next
      const fixed = drifted.filter((l) => l.fixed).length
      progress(`reconcile${opts.dryRun ? ' (dry run)' : ''}: ${scanned} levels scanned, ${drifted.length} drifted, ${fixed} fixed`, after === null)
    } while (after !== null)
  } finally {
    await inventory.close()
  }
  const fixed = drifted.filter((l) => l.fixed).length
  if (drifted.length) process.stdout.write(`${table(drifted)}\n\n`)
  process.stdout.write(`${scanned} levels scanned, ${drifted.length} drifted, ${fixed} fixed${opts.dryRun ? ' (dry run: nothing written)' : ''}\n`)
  return fixed === drifted.length ? 0 : 1
}

async function main() {
  let opts
  try {
    opts = parseArgs(process.argv.slice(2))
  } catch (e) {
    if (!(e instanceof UsageError)) throw e
    process.stderr.write(`medusa-inventory-rs: ${e.message}\n\n${USAGE}\n`)
    return 2
  }
  if (opts.help) {
    process.stdout.write(`${USAGE}\n`)
    return 0
  }
  return reconcile(opts)
}

main().then(
  (code) => {
    process.exitCode = code
  },
  (e) => {
    // A typed message, no stack: InventoryError carries Medusa's error type.
    const type = e && e.type ? `${e.type}: ` : ''
    process.stderr.write(`\nmedusa-inventory-rs: ${type}${e && e.message ? e.message : String(e)}\n`)
    process.exitCode = 2
  }
)
