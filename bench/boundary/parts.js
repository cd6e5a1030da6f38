'use strict'
// Splits variant A's cost: JS stringify (with/without the facade's replacer), the native
// call (Rust parse + work + to_string), JS parse of the result.
const n = require('./index.js')
function replacer(key, value) {
  if (typeof value === 'number' && !Number.isFinite(value)) throw new Error('non-finite')
  if (typeof value === 'bigint') return value.toString()
  return value
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
const lines100 = [Array.from({ length: 100 }, (_, i) => resv(i))]
const list = [{}, { take: 50 }]
function time(label, f, iters = 2000) {
  let best = Infinity
  for (let r = 0; r < 5; r++) {
    const t0 = process.hrtime.bigint()
    for (let i = 0; i < iters; i++) f()
    best = Math.min(best, Number(process.hrtime.bigint() - t0) / iters / 1000)
  }
  console.log(label.padEnd(44), best.toFixed(1), 'µs')
}
for (const [name, m, args] of [
  ['create100', 'createReservationItems', lines100],
  ['list50', 'listInventoryItems', list],
]) {
  const s = JSON.stringify(args),
    out = n.aSync(m, s)
  console.log(name, 'args', s.length, 'B, result', out.length, 'B')
  time('  JSON.stringify(args, replacer)', () => JSON.stringify(args, replacer))
  time('  JSON.stringify(args)', () => JSON.stringify(args))
  time('  native aSync (from_str+work+to_string)', () => n.aSync(m, s))
  time('  JSON.parse(result)', () => JSON.parse(out))
}
