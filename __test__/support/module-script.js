'use strict'
// A scripted sequence of IInventoryService calls, run the same way against two
// loaded modules (handles from ./medusa.js), and the helpers to compare what they
// returned and emitted. Ids differ between the two runs, so every id is replaced
// by a stable label ("<shirt>", "<lvl:shirt@loc_a>", ...) before comparing.

const { ITEM_FIELDS, LEVEL_FIELDS, RESERVATION_FIELDS } = require('../../scripts/lib/medusa-fields')
const FIELDS_BY_PREFIX = { iitem_: ITEM_FIELDS, ilev_: LEVEL_FIELDS, resitem_: RESERVATION_FIELDS }
const ID_RE = /\b(iitem|ilev|resitem)_[0-9A-Z]{26}\b/g

/** Labels for the ids one module handed out. */
class Labels {
  constructor() {
    this.byId = new Map()
    this.byLabel = new Map()
  }
  set(label, id) {
    if (this.byLabel.has(label) && this.byLabel.get(label) !== id) throw new Error(`label ${label} reused`)
    this.byLabel.set(label, id)
    this.byId.set(id, label)
  }
  id(label) {
    if (!this.byLabel.has(label)) throw new Error(`no id for label ${label}`)
    return this.byLabel.get(label)
  }
  /** Ids inside a string, replaced by their labels; unknown ids by their prefix. */
  text(s) {
    return s.replace(ID_RE, (id) => (this.byId.has(id) ? `<${this.byId.get(id)}>` : `<unknown ${id.split('_')[0]}>`))
  }
}

/**
 * A row or a result reduced to what both modules must agree on: for rows (objects
 * with an id of a known prefix) only the entity's DTO fields (plus any nested
 * `location_levels` / `reservation_items` / `stocked_quantity` / `reserved_quantity`
 * the step asked for through `keep`); dates as 'date' | null; ids as labels.
 */
function normalize(value, labels, keep = []) {
  if (Array.isArray(value)) return value.map((v) => normalize(v, labels, keep))
  if (typeof value === 'string') {
    if (/^\d{4}-\d\d-\d\dT/.test(value)) return '<date>'
    return labels.text(value)
  }
  if (!value || typeof value !== 'object') return value
  const prefix = typeof value.id === 'string' && Object.keys(FIELDS_BY_PREFIX).find((p) => value.id.startsWith(p))
  const keys = prefix ? [...FIELDS_BY_PREFIX[prefix], ...keep.filter((k) => k in value)] : Object.keys(value)
  const out = {}
  for (const k of keys) {
    if (!(k in value)) {
      out[k] = '<missing>'
      continue
    }
    let v = value[k]
    if (k.startsWith('raw_') && v && typeof v === 'object') v = { ...v, value: Number(v.value) }
    // Relations come in no particular order.
    out[k] = keep.includes(k) && Array.isArray(v) ? sorted(normalize(v, labels, keep)) : normalize(v, labels, keep)
  }
  return out
}

const sortKey = (v) => JSON.stringify(v)
const sorted = (arr) => [...arr].sort((a, b) => (sortKey(a) < sortKey(b) ? -1 : sortKey(a) > sortKey(b) ? 1 : 0))

/** Every array of objects inside `value` sorted (for results whose order nobody asked for). */
function sortedDeep(value) {
  if (Array.isArray(value)) {
    const items = value.map(sortedDeep)
    return items.every((v) => v && typeof v === 'object' && !Array.isArray(v)) ? sorted(items) : items
  }
  if (!value || typeof value !== 'object') return value
  return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, sortedDeep(v)]))
}

/** Events reduced to name, labelled data.id, metadata and options; as a sorted multiset. */
function normalizeEvents(events, labels) {
  return sorted(
    events.map((e) => ({
      name: e.name,
      data: { ...e.data, id: labels.text(String(e.data && e.data.id)) },
      metadata: e.metadata,
      options: e.options,
    })),
  )
}

/**
 * Runs `steps` against one handle. A step is
 *   { name, method, args: (L) => [...], save?: (result, L) => void, keep?: [...], unordered?: bool }
 * where L is this module's Labels (L.id('shirt') → this module's id). Returns
 * { labels, transcript } with one entry per step: { name, ok, result | error, events }.
 */
async function runScript(handle, steps) {
  const labels = new Labels()
  const transcript = []
  await handle.events() // start from a clean recorder
  for (const step of steps) {
    const args = step.args(labels)
    const entry = { name: step.name, method: step.method }
    const res = await handle.callError(step.method, ...args)
    if (res.threw) {
      entry.ok = false
      entry.error = { type: res.type, message: labels.text(String(res.message)), isMedusaError: res.isMedusaError }
    } else {
      entry.ok = true
      if (step.save) step.save(res.result, labels)
      entry.raw = res.result
    }
    entry.rawEvents = await handle.events()
    transcript.push(entry)
  }
  // Normalise once every label is known (events of a step may name rows created by it).
  for (const entry of transcript) {
    const step = steps.find((s) => s.name === entry.name)
    if (entry.ok) {
      const r = normalize(entry.raw, labels, step.keep || [])
      entry.result = step.unordered ? sortedDeep(r) : r
    }
    entry.events = normalizeEvents(entry.rawEvents, labels)
    delete entry.raw
    delete entry.rawEvents
  }
  return { labels, transcript }
}

module.exports = {
  Labels,
  normalize,
  normalizeEvents,
  runScript,
  sorted,
  sortedDeep,
}
