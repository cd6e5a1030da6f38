'use strict'
// Rust-side work per call (not the crossing), best of 5, to subtract from bench.js totals.
const n = require('./index.js')
const resv = (i) => ({
  inventory_item_id: `iitem_${i}`,
  location_id: 'sloc_01',
  quantity: 2,
  line_item_id: `ordli_${i}`,
  allow_backorder: false,
  description: 'reservation for order',
  metadata: { a: 1 },
})
const cases = {
  confirm: ['confirmInventory', ['iitem_1', ['sloc_01', 'sloc_02', 'sloc_03'], 2], 100000],
  create1: ['createReservationItems', [[resv(0)]], 50000],
  create100: ['createReservationItems', [Array.from({ length: 100 }, (_, i) => resv(i))], 2000],
  list50: ['listInventoryItems', [{}, { take: 50 }], 2000],
}
for (const [name, [m, args, iters]] of Object.entries(cases)) {
  const row = { case: name }
  for (const v of ['value', 'typed']) {
    if (v === 'typed' && name === 'confirm') continue
    row[v] = Math.min(...Array.from({ length: 5 }, () => n.timeWork(v, m, JSON.stringify(args), iters))).toFixed(2)
  }
  console.log(JSON.stringify(row))
}
