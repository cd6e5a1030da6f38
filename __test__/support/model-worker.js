'use strict'
// One Node process of the multi-process model test (model.multiprocess.test.js).
// It holds its own InventoryService on the shared schema and, per epoch, runs the
// abstract ops the parent sends, in order, turning each into a concrete call
// (ids resolved here, since they depend on what earlier calls returned) and
// logging call and outcome for the parent's linearizability check.
//
// It also keeps a model of the objects it alone may change: the quantity and
// location of the reservations it created (only their creator updates or moves
// them; others may only delete, soft-delete or restore them), checked against
// every value its own calls return and, by the parent, against the database.
const { InventoryService } = require('../..')
const { invoke, units } = require('./model')
const { concrete } = require('./model-ops')

const me = Number(process.env.MODEL_WORKER_INDEX)
let round = 0 // line items are per round, so reservations of earlier rounds are out of reach
const lineOf = (l) => (l === 'shared' ? `r${round}-S` : l ? `r${round}-p${me}-${l}` : undefined)
let svc
const own = new Map() // reservation id -> { q, loc } (units), in creation order
let ctx // per epoch: { items, levels: [{ id, item, loc }] newest first, res: [ids] newest first } (model-ops context)

let seq = 0 // tags: unique per call across processes and rounds
function concreteCall(o) {
  const ownIds = () => [...own.keys()].reverse()
  const mine = (i) => ownIds()[i] ?? 'resitem_unknown'
  const any = (i) => [...ownIds(), ...ctx.res.filter((id) => !own.has(id))][i] ?? 'resitem_unknown'
  return concrete(o, { ctx, mine, any, lineOf, tag: `p${me}.${seq++}` })
}

/** Checks an acknowledged call against the worker's own model and advances it; returns a complaint or null. */
function ownCheck(c, ok) {
  if (c.op === 'reserve') {
    for (const d of [].concat(ok)) own.set(d.id, { q: units(d.raw_quantity.value), loc: d.location_id })
  } else if ((c.op === 'updateQty' || c.op === 'move') && own.has(c.id)) {
    const mine = own.get(c.id)
    const want = c.op === 'updateQty' ? { q: units(c.quantity), loc: mine.loc } : { q: mine.q, loc: c.loc }
    const got = { q: units(ok.raw_quantity.value), loc: ok.location_id }
    if (got.q !== want.q || got.loc !== want.loc) {
      return `own reservation ${c.id}: returned ${got.loc} ${got.q}, own model ${want.loc} ${want.q}`
    }
    own.set(c.id, want)
  } else if (c.op === 'delete') {
    for (const id of c.ids) own.delete(id)
  }
  return null
}

process.on('message', async (m) => {
  try {
    if (m.cmd === 'connect') {
      svc = await InventoryService.connect({ url: m.url, schema: m.schema, maxConnections: 2 })
      process.send({ ready: true })
    } else if (m.cmd === 'round') {
      own.clear()
      round = m.round
      process.send({ ready: true })
    } else if (m.cmd === 'epoch') {
      ctx = m.ctx
      const log = []
      for (const o of m.ops) {
        const c = concreteCall(o)
        if (!c) continue
        const outcome = await invoke(svc, c)
        const complaint = outcome.ok !== undefined ? ownCheck(c, outcome.ok) : null
        log.push({ c, outcome, ...(complaint ? { complaint } : {}) })
      }
      const mine = [...own].map(([id, v]) => ({ id, q: v.q.toString(), loc: v.loc }))
      process.send({ log, own: mine })
    } else if (m.cmd === 'close') {
      await svc.close()
      process.exit(0)
    }
  } catch (e) {
    process.send({ crash: String(e && e.stack) })
  }
})
