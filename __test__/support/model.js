'use strict'
// Shared by the model-based property suites: exact quantities (BigInt hundredths),
// the quantity domain, the quantity generators, and a model of the write calls
// over concrete ids (used by the multi-process suite to check every interleaving
// it may have to explain).
const fc = require('fast-check')

const HUGE = '9999999999999999999999999999' // top of the quantity domain (10^28 - 1)
const MAX = BigInt(HUGE) * 100n // the level bound, in hundredths

/** Decimal text (at most 2 fraction digits that are not zero) -> BigInt hundredths, exactly. */
function units(s) {
  s = String(s)
  const neg = s.startsWith('-')
  if (neg) s = s.slice(1)
  const [int, frac = ''] = s.split('.')
  if (frac.length > 2 && /[^0]/.test(frac.slice(2))) throw new Error(`unexpected precision: ${s}`)
  const v = BigInt(int) * 100n + BigInt((frac + '00').slice(0, 2))
  return neg ? -v : v
}
const text = (u) => {
  const neg = u < 0n
  const a = neg ? -u : u
  const frac = (a % 100n).toString().padStart(2, '0').replace(/0+$/, '')
  return `${neg ? '-' : ''}${a / 100n}${frac ? '.' + frac : ''}`
}
const over = (u) => u > MAX || u < -MAX
// A valid input quantity: magnitude below 10^28 and at most 28 significant digits
// (a level may hold e.g. HUGE - 0.25, which is exact but not a valid input).
const inDomain = (u) =>
  !over(u) &&
  text(u < 0n ? -u : u)
    .replace('.', '')
    .replace(/^0+/, '').length <= 28

// Quantities: small ones incl. fractions, and a few extremes at and beyond the domain top.
const small = fc.constantFrom(0.25, 0.5, 1, 1.5, 2, 3, 5)
const qty = fc.oneof(
  { weight: 12, arbitrary: small },
  { weight: 1, arbitrary: fc.constantFrom(HUGE, '10000000000000000000000000000', 0, -1) },
)
const stock = fc.oneof(
  { weight: 8, arbitrary: fc.constantFrom(0, 0.5, 2, 4.25, 10) },
  { weight: 1, arbitrary: fc.constantFrom(HUGE, -1) },
)
const adj = fc.oneof(
  { weight: 8, arbitrary: fc.constantFrom(-3, -0.25, 0.5, 1, 4) },
  { weight: 1, arbitrary: fc.constantFrom(HUGE, '-' + HUGE) },
)

/** Is q an accepted reservation quantity (> 0, inside the domain)? */
const validQty = (q) => units(q) > 0n && inDomain(units(q))
/** An accepted stocked quantity (>= 0, inside the domain)? */
const validStock = (s) => units(s) >= 0n && inDomain(units(s))
/** A level may hold these only if stocked, reserved and available all stay in the domain. */
const levelInDomain = (stocked, reserved) => inDomain(stocked) && inDomain(reserved) && inDomain(stocked - reserved)

// ---------------------------------------------------------------------------
// The model over concrete ids. State: items by id ({ id, deleted }), levels by id
// ({ id, item, loc, stocked, deleted }), reservations by id ({ id, item, loc, q,
// backorder, line, deleted }). `deleted` is null/false when live, else the tag of
// the call that soft-deleted the row: the service stamps every row one call
// soft-deletes with the same deleted_at, and restores match on it (a level's
// restore brings back the reservations stamped with it, an item's its levels and
// reservations), so equal tags stand for equal deleted_at. Every call that
// soft-deletes carries a unique `tag`. An item hard-deleted is `GONE`; an item
// the state does not know is taken as live.
// States are treated as immutable: a transition copies what it changes.

const GONE = '#gone'
const emptyState = () => ({ items: new Map(), levels: new Map(), res: new Map() })

/** The model state of a round's start: its items, and the level DTOs it created for them. */
function startState(items, made) {
  const s = emptyState()
  for (const id of items) s.items.set(id, { id, deleted: null })
  for (const l of made) {
    const level = { id: l.id, item: l.inventory_item_id, loc: l.location_id, deleted: false }
    s.levels.set(l.id, { ...level, stocked: units(l.raw_stocked_quantity.value) })
  }
  return s
}
const key = (item, loc) => `${item}|${loc}`
const liveLevel = (s, item, loc) => {
  for (const l of s.levels.values()) if (!l.deleted && l.item === item && l.loc === loc) return l
  return undefined
}
function reservedAt(s, item, loc) {
  let sum = 0n
  for (const r of s.res.values()) if (!r.deleted && r.item === item && r.loc === loc) sum += r.q
  return sum
}
const itemState = (s, id) => (s.items.get(id) ? s.items.get(id).deleted : null)
const clone = (s) => ({ items: new Map(s.items), levels: new Map(s.levels), res: new Map(s.res) })
const tagOf = (c) => {
  if (!c.tag) throw new Error(`call ${c.op} has no tag`)
  return c.tag
}

/**
 * The rule every restore follows (reservations by id or line item, levels, items),
 * as a create is checked: each reservation brought back (`back`) needs a live level
 * at its item and location in the state after the call (`n`), else `not_found`
 * (named first); at a level where one of them has no allow_backorder, the stock
 * must cover the level's re-derived reserved (the sum of the reservations live there
 * after the call), else `not_allowed`; and the level must stay in the domain, else
 * `invalid_data`. A level names only its first problem in that order; with problems
 * at several levels the call may name any of them. Null when it passes.
 */
function restoreRefusal(n, back) {
  const demand = new Map()
  for (const r of back) {
    const d = demand.get(key(r.item, r.loc)) ?? { item: r.item, loc: r.loc, guarded: false }
    if (!r.backorder) d.guarded = true
    demand.set(key(r.item, r.loc), d)
  }
  const ds = [...demand.values()]
  if (ds.some((d) => !liveLevel(n, d.item, d.loc))) return ['not_found']
  const why = new Set()
  for (const d of ds) {
    const stocked = liveLevel(n, d.item, d.loc).stocked
    const reserved = reservedAt(n, d.item, d.loc)
    if (d.guarded && stocked < reserved) why.add('not_allowed')
    else if (!levelInDomain(stocked, reserved)) why.add('invalid_data')
  }
  return why.size ? [...why] : null
}

/** The quantities a DTO carries, read exactly from its raw_* twins. */
const levelOf = (dto) => ({
  stocked: units(dto.raw_stocked_quantity.value),
  reserved: units(dto.raw_reserved_quantity.value),
})
const qOf = (dto) => units(dto.raw_quantity.value)

/**
 * Predicts one call on state s. Returns { refuse: [types] } (any one of them is
 * right: the call names several reasons) or { accept(ret) -> { next } | { bad } },
 * which checks the value the call returned and yields the next state.
 */
function predict(s, c) {
  // When a call breaks several rules (too little stock, and a sum beyond the
  // domain), the product may name either: any of them is accepted.
  const refuse = (...types) => ({ refuse: types })
  const ok = (accept) => ({ accept })
  const same = ok(() => ({ next: s }))
  // A level the call leaves: its new stocked and reserved must stay in the domain.
  const lvl = (item, loc) => liveLevel(s, item, loc)
  switch (c.op) {
    case 'createLevels': {
      if (!c.levels.every((l) => validStock(l.stocked))) return refuse('invalid_data')
      const ks = c.levels.map((l) => key(l.item, l.loc))
      if (new Set(ks).size < ks.length || c.levels.some((l) => lvl(l.item, l.loc))) return refuse('invalid_data')
      // A hard-deleted item: the foreign key refuses the whole call.
      if (c.levels.some((l) => itemState(s, l.item) === GONE)) return refuse('not_found')
      return ok((ret) => {
        const n = clone(s)
        for (const [i, l] of c.levels.entries()) {
          const d = ret[i]
          if (
            !d ||
            d.inventory_item_id !== l.item ||
            d.location_id !== l.loc ||
            levelOf(d).stocked !== units(l.stocked) ||
            levelOf(d).reserved !== 0n
          ) {
            return { bad: `created level ${i} reads ${JSON.stringify(d)}` }
          }
          n.levels.set(d.id, { id: d.id, item: l.item, loc: l.loc, stocked: units(l.stocked), deleted: false })
        }
        return { next: n }
      })
    }
    case 'updateLevel': {
      if (!validStock(c.stocked)) return refuse('invalid_data')
      const l = lvl(c.item, c.loc)
      if (!l) return refuse('not_found')
      const reserved = reservedAt(s, c.item, c.loc)
      if (!levelInDomain(units(c.stocked), reserved)) return refuse('invalid_data')
      return ok((ret) => {
        const got = levelOf(ret)
        if (ret.id !== l.id || got.stocked !== units(c.stocked) || got.reserved !== reserved)
          return { bad: `returned ${text(got.stocked)}/${text(got.reserved)}` }
        const n = clone(s)
        n.levels.set(l.id, { ...l, stocked: units(c.stocked) })
        return { next: n }
      })
    }
    case 'adjust':
    case 'adjustMany': {
      const entries = c.op === 'adjust' ? [c] : c.entries
      if (entries.some((e) => !lvl(e.item, e.loc))) return refuse('not_found')
      // Applied in order, each entry sees the ones before it.
      const n = clone(s)
      const post = []
      for (const e of entries) {
        const l = liveLevel(n, e.item, e.loc)
        const stocked = l.stocked + units(e.by)
        const reserved = reservedAt(n, e.item, e.loc)
        if (!levelInDomain(stocked, reserved)) return refuse('invalid_data')
        n.levels.set(l.id, { ...l, stocked })
        post.push({ id: l.id, stocked, reserved })
      }
      return ok((ret) => {
        ret = [].concat(ret)
        for (const [i, p] of post.entries()) {
          const got = ret[i] && levelOf(ret[i])
          if (!got || ret[i].id !== p.id || got.stocked !== p.stocked || got.reserved !== p.reserved) {
            return {
              bad: `entry ${i} returned ${got ? `${text(got.stocked)}/${text(got.reserved)}` : 'nothing'}, model ${text(p.stocked)}/${text(p.reserved)}`,
            }
          }
        }
        return { next: n }
      })
    }
    case 'reserve': {
      if (!c.lines.every((l) => validQty(l.quantity))) return refuse('invalid_data')
      const demand = new Map()
      for (const l of c.lines)
        demand.set(key(l.item, l.loc), {
          item: l.item,
          loc: l.loc,
          d: (demand.get(key(l.item, l.loc))?.d ?? 0n) + units(l.quantity),
        })
      // One location's demand beyond the domain is bad input, whether or not the level exists.
      const sumBeyond = [...demand.values()].some((x) => !inDomain(x.d))
      if (c.lines.some((l) => !lvl(l.item, l.loc)))
        return sumBeyond ? refuse('not_found', 'invalid_data') : refuse('not_found')
      const why = new Set()
      for (const { item, loc, d } of demand.values()) {
        const stocked = lvl(item, loc).stocked
        const reserved = reservedAt(s, item, loc)
        if (!c.backorder && d > stocked - reserved) why.add('not_allowed')
        if (!levelInDomain(stocked, reserved + d)) why.add('invalid_data')
      }
      if (why.size) return refuse(...why)
      return ok((ret) => {
        ret = [].concat(ret)
        const n = clone(s)
        for (const [i, l] of c.lines.entries()) {
          const d = ret[i]
          if (
            !d ||
            d.inventory_item_id !== l.item ||
            d.location_id !== l.loc ||
            qOf(d) !== units(l.quantity) ||
            d.allow_backorder !== c.backorder ||
            (d.line_item_id ?? undefined) !== l.line
          ) {
            return { bad: `reservation ${i} reads ${JSON.stringify(d)}` }
          }
          n.res.set(d.id, {
            id: d.id,
            item: l.item,
            loc: l.loc,
            q: units(l.quantity),
            backorder: c.backorder,
            line: l.line,
            deleted: null,
          })
        }
        return { next: n }
      })
    }
    case 'updateQty':
    case 'move': {
      if (c.op === 'updateQty' && !validQty(c.quantity)) return refuse('invalid_data')
      const r = s.res.get(c.id)
      if (!r || r.deleted) return refuse('invalid_data', 'not_found') // "Reservation item with id X not found"
      const to = c.op === 'move' ? c.loc : r.loc
      const q = c.op === 'updateQty' ? units(c.quantity) : r.q
      const done = (n) =>
        ok((ret) => {
          if (ret.id !== r.id || ret.location_id !== to || qOf(ret) !== q)
            return { bad: `returned ${ret.location_id} ${qOf(ret)}` }
          return { next: n }
        })
      if (to === r.loc && q === r.q) return done(s)
      const target = lvl(r.item, to)
      if (!target) return refuse('not_found')
      const why = new Set()
      const stocked = target.stocked
      const reserved = reservedAt(s, r.item, to)
      const charge = to === r.loc ? q - r.q : q
      const increases = to !== r.loc || q > r.q
      if (increases && !r.backorder && charge > stocked - reserved) why.add('not_allowed')
      if (!levelInDomain(stocked, reserved + charge)) why.add('invalid_data')
      if (to !== r.loc) {
        const from = lvl(r.item, r.loc)
        if (from && !levelInDomain(from.stocked, reservedAt(s, r.item, r.loc) - r.q)) why.add('invalid_data')
      }
      if (why.size) return refuse(...why)
      const n = clone(s)
      n.res.set(r.id, { ...r, loc: to, q })
      return done(n)
    }
    case 'delete':
    case 'softDelete':
    case 'deleteByLine': {
      const hit = [...s.res.values()].filter((r) =>
        c.op === 'deleteByLine'
          ? !r.deleted && r.line === c.line
          : c.ids.includes(r.id) && (c.op === 'delete' || !r.deleted),
      )
      // Releasing must leave each level in the domain too.
      const n = clone(s)
      for (const r of hit) {
        if (c.op === 'delete') n.res.delete(r.id)
        else n.res.set(r.id, { ...r, deleted: tagOf(c) })
      }
      for (const r of hit.filter((x) => !x.deleted)) {
        const l = lvl(r.item, r.loc)
        if (l && !levelInDomain(l.stocked, reservedAt(n, r.item, r.loc))) return refuse('invalid_data')
      }
      return ok(() => ({ next: n }))
    }
    case 'restore':
    case 'restoreByLine': {
      const hit = [...s.res.values()].filter(
        (r) => r.deleted && (c.op === 'restore' ? c.ids.includes(r.id) : r.line === c.line),
      )
      if (!hit.length) return same
      const n = clone(s)
      for (const r of hit) n.res.set(r.id, { ...r, deleted: null })
      const why = restoreRefusal(n, hit)
      if (why) return refuse(...why)
      return ok(() => ({ next: n }))
    }
    case 'softDeleteLevel': {
      const l = s.levels.get(c.id)
      if (!l || l.deleted) return same
      const n = clone(s)
      n.levels.set(l.id, { ...l, deleted: tagOf(c) })
      for (const r of s.res.values())
        if (!r.deleted && r.item === l.item && r.loc === l.loc) n.res.set(r.id, { ...r, deleted: tagOf(c) })
      return ok(() => ({ next: n }))
    }
    case 'deleteLevel': {
      // A live level takes its live reservations with it (soft-deleted); a soft-deleted
      // one goes alone (its reservations keep the stamp they have).
      const l = s.levels.get(c.id)
      if (!l) return same
      const n = clone(s)
      n.levels.delete(l.id)
      if (!l.deleted)
        for (const r of s.res.values())
          if (!r.deleted && r.item === l.item && r.loc === l.loc) n.res.set(r.id, { ...r, deleted: tagOf(c) })
      return ok(() => ({ next: n }))
    }
    case 'restoreLevel': {
      const l = s.levels.get(c.id)
      if (!l || !l.deleted) return same
      // Another live level at the same item and location: refused, and nothing written.
      // The unique index says "already exists" (invalid_data) unless the stock check of
      // the reservations coming back refuses first (not_allowed, not_found): which of
      // the reasons is named is not promised.
      if (lvl(l.item, l.loc)) return refuse('invalid_data', 'not_allowed', 'not_found')
      const n = clone(s)
      n.levels.set(l.id, { ...l, deleted: false })
      const back = [...s.res.values()].filter((r) => r.deleted === l.deleted && r.item === l.item && r.loc === l.loc)
      for (const r of back) n.res.set(r.id, { ...r, deleted: null })
      const why = restoreRefusal(n, back)
      if (why) return refuse(...why)
      return ok(() => ({ next: n }))
    }
    case 'softDeleteItem': {
      if (itemState(s, c.item) !== null) return same
      const n = clone(s)
      const tag = tagOf(c)
      n.items.set(c.item, { id: c.item, deleted: tag })
      for (const l of s.levels.values()) if (!l.deleted && l.item === c.item) n.levels.set(l.id, { ...l, deleted: tag })
      for (const r of s.res.values()) if (!r.deleted && r.item === c.item) n.res.set(r.id, { ...r, deleted: tag })
      return ok(() => ({ next: n }))
    }
    case 'restoreItem': {
      const tag = itemState(s, c.item)
      if (tag === null || tag === GONE) return same
      const n = clone(s)
      n.items.set(c.item, { id: c.item, deleted: null })
      // A level stamped with the item comes back unless a live one (re-created) holds
      // its item and location: then it stays soft-deleted and its reservations count
      // at the live one.
      for (const l of s.levels.values()) {
        if (l.item === c.item && l.deleted === tag && !liveLevel(n, l.item, l.loc))
          n.levels.set(l.id, { ...l, deleted: false })
      }
      const back = [...s.res.values()].filter((r) => r.item === c.item && r.deleted === tag)
      for (const r of back) n.res.set(r.id, { ...r, deleted: null })
      const why = restoreRefusal(n, back)
      if (why) return refuse(...why)
      return ok(() => ({ next: n }))
    }
    case 'deleteItem': {
      const st = itemState(s, c.item)
      if (st === GONE) return same
      const n = clone(s)
      n.items.set(c.item, { id: c.item, deleted: GONE })
      for (const l of s.levels.values()) if (l.item === c.item) n.levels.delete(l.id)
      for (const r of s.res.values()) if (r.item === c.item) n.res.delete(r.id)
      return ok(() => ({ next: n }))
    }
    case 'read': {
      if (c.locs.length && itemState(s, c.item) !== null) return refuse('not_found')
      let sum = 0n
      for (const loc of c.locs) {
        const l = lvl(c.item, loc)
        if (l) sum += l.stocked - reservedAt(s, c.item, loc)
      }
      return ok((ret) => {
        // A JS number: exact while small, else the nearest double of the exact text.
        const want = Number(text(sum))
        const close =
          sum > -(2n ** 50n) && sum < 2n ** 50n ? ret === want : Math.abs(ret - want) <= Math.abs(want) * 1e-15
        return close ? { next: s } : { bad: `read ${ret}, model ${text(sum)}` }
      })
    }
    case 'readLevel': {
      const l = lvl(c.item, c.loc)
      if (!l) return refuse('not_found')
      const reserved = reservedAt(s, c.item, c.loc)
      return ok((ret) => {
        const got = levelOf(ret)
        return ret.id === l.id && got.stocked === l.stocked && got.reserved === reserved
          ? { next: s }
          : { bad: `read ${text(got.stocked)}/${text(got.reserved)}, model ${text(l.stocked)}/${text(reserved)}` }
      })
    }
    default:
      throw new Error(`unknown op ${c.op}`)
  }
}

/** Runs one concrete call on the service; resolves to { ok } or { err: { type, message, sqlState } } (sqlState: when the database gave one). */
async function invoke(svc, c) {
  const run = () => {
    switch (c.op) {
      case 'createLevels':
        return svc.createInventoryLevels(
          c.levels.map((l) => ({ inventory_item_id: l.item, location_id: l.loc, stocked_quantity: l.stocked })),
        )
      case 'updateLevel':
        return svc.updateInventoryLevels({ inventory_item_id: c.item, location_id: c.loc, stocked_quantity: c.stocked })
      case 'adjust':
        return svc.adjustInventory(c.item, c.loc, c.by)
      case 'adjustMany':
        return svc.adjustInventory(
          c.entries.map((e) => ({ inventoryItemId: e.item, locationId: e.loc, adjustment: e.by })),
        )
      case 'reserve': {
        const input = c.lines.map((l) => ({
          inventory_item_id: l.item,
          location_id: l.loc,
          quantity: l.quantity,
          allow_backorder: c.backorder,
          ...(l.line ? { line_item_id: l.line } : {}),
        }))
        return svc.createReservationItems(c.array ? input : input[0])
      }
      case 'updateQty':
        return svc.updateReservationItems({ id: c.id, quantity: c.quantity })
      case 'move':
        return svc.updateReservationItems({ id: c.id, location_id: c.loc })
      case 'delete':
        return svc.deleteReservationItems(c.ids)
      case 'softDelete':
        return svc.softDeleteReservationItems(c.ids)
      case 'restore':
        return svc.restoreReservationItems(c.ids)
      case 'deleteByLine':
        return svc.deleteReservationItemsByLineItem(c.line)
      case 'restoreByLine':
        return svc.restoreReservationItemsByLineItem(c.line)
      case 'softDeleteLevel':
        return svc.softDeleteInventoryLevels([c.id])
      case 'deleteLevel':
        return svc.deleteInventoryLevels([c.id])
      case 'softDeleteItem':
        return svc.softDeleteInventoryItems([c.item])
      case 'restoreItem':
        return svc.restoreInventoryItems([c.item])
      case 'deleteItem':
        return svc.deleteInventoryItems([c.item])
      case 'restoreLevel':
        return svc.restoreInventoryLevels([c.id])
      case 'read':
        return svc.retrieveAvailableQuantity(c.item, c.locs)
      case 'readLevel':
        return svc.retrieveInventoryLevelByItemAndLocation(c.item, c.loc)
      default:
        throw new Error(`unknown op ${c.op}`)
    }
  }
  try {
    return { ok: (await run()) ?? null }
  } catch (e) {
    return {
      err: {
        type: e.type ?? 'untyped',
        message: String(e.message ?? e),
        ...(e.sqlState ? { sqlState: e.sqlState } : {}),
      },
    }
  }
}

/**
 * Deleted rows grouped by the call that deleted them (deleted_at in the database, the
 * tag in the model) and by their item: each group as its sorted ids, the groups sorted.
 * Restores match on deleted_at within one item (an item's rows, a level's reservations),
 * so two states that group differently behave differently. Across items a shared stamp
 * means nothing, and two processes' deletes can get the same microsecond.
 */
function stampGroups(rows) {
  const by = new Map()
  for (const { id, item, stamp } of rows) {
    const key = `${stamp} ${item}`
    by.set(key, [...(by.get(key) ?? []), id])
  }
  return [...by.values()].map((ids) => ids.sort().join(' ')).sort()
}

/** The database's items, levels and reservations of the given items, as plain comparable rows. */
async function dbState(db, items) {
  const its = await db.query(
    `SELECT id, deleted_at IS NOT NULL AS deleted, deleted_at::text AS stamp FROM inventory_item WHERE id = ANY($1) ORDER BY id`,
    [items],
  )
  const levels = await db.query(
    `SELECT id, inventory_item_id AS item, location_id AS loc, deleted_at IS NOT NULL AS deleted, deleted_at::text AS stamp,
            stocked_quantity::text AS stocked, reserved_quantity::text AS reserved
     FROM inventory_level WHERE inventory_item_id = ANY($1) ORDER BY id`,
    [items],
  )
  const res = await db.query(
    `SELECT id, inventory_item_id AS item, location_id AS loc, quantity::text AS q, deleted_at IS NOT NULL AS deleted,
            deleted_at::text AS stamp, coalesce(allow_backorder, false) AS backorder, line_item_id AS line
     FROM reservation_item WHERE inventory_item_id = ANY($1) ORDER BY id`,
    [items],
  )
  const byId = (a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0) // JS order, not the collation's
  its.rows.sort(byId)
  levels.rows.sort(byId)
  res.rows.sort(byId)
  const deleted = [...its.rows.map((i) => ({ ...i, item: i.id })), ...levels.rows, ...res.rows].filter((x) => x.deleted)
  return {
    items: its.rows.map((i) => `${i.id} ${i.deleted ? 'deleted' : 'live'}`),
    levels: levels.rows.map(
      (l) => `${l.id} ${l.item} ${l.loc} ${l.deleted ? `deleted ${l.stocked}` : `${l.stocked}/${l.reserved}`}`,
    ),
    res: res.rows.map(
      (r) =>
        `${r.id} ${r.item} ${r.loc} ${r.q} ${r.deleted ? 'deleted' : 'live'} ${r.backorder ? 'bo' : '-'} ${r.line ?? '-'}`,
    ),
    stamps: stampGroups(deleted),
  }
}

/** The model state in dbState's terms (a deleted level's reserved column is not compared;
 * its stocked is: a restore brings it back, so states differing only there must stay apart).
 * Items the state does not know are left out (`items` lists them to compare with). */
function modelRows(s) {
  const byId = (a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0)
  const items = [...s.items.values()]
    .filter((i) => i.deleted !== GONE)
    .sort(byId)
    .map((i) => `${i.id} ${i.deleted ? 'deleted' : 'live'}`)
  const levels = [...s.levels.values()]
    .sort(byId)
    .map(
      (l) =>
        `${l.id} ${l.item} ${l.loc} ${l.deleted ? `deleted ${text(l.stocked)}` : `${text(l.stocked)}/${text(reservedAt(s, l.item, l.loc))}`}`,
    )
  const res = [...s.res.values()]
    .sort(byId)
    .map(
      (r) =>
        `${r.id} ${r.item} ${r.loc} ${text(r.q)} ${r.deleted ? 'deleted' : 'live'} ${r.backorder ? 'bo' : '-'} ${r.line ?? '-'}`,
    )
  const deleted = [
    ...[...s.items.values()]
      .filter((i) => i.deleted && i.deleted !== GONE)
      .map((i) => ({ id: i.id, item: i.id, stamp: i.deleted })),
    ...[...s.levels.values()].filter((l) => l.deleted).map((l) => ({ id: l.id, item: l.item, stamp: l.deleted })),
    ...[...s.res.values()].filter((r) => r.deleted).map((r) => ({ id: r.id, item: r.item, stamp: r.deleted })),
  ]
  return { items, levels, res, stamps: stampGroups(deleted) }
}
/** dbState rows with the numbers normalised (Postgres keeps a scale, e.g. 2.50). */
const normalRows = (rows) => ({
  items: rows.items,
  levels: rows.levels.map((l) =>
    l
      .replace(/(-?[\d.]+)\/(-?[\d.]+)$/, (_, a, b) => `${text(units(a))}/${text(units(b))}`)
      .replace(/deleted (-?[\d.]+)$/, (_, a) => `deleted ${text(units(a))}`),
  ),
  res: rows.res.map((r) => r.replace(/^(\S+ \S+ \S+ )(\S+)/, (_, p, q) => p + text(units(q)))),
  stamps: rows.stamps,
})
/** A state's identity for de-duplication: its rows and which deleted rows share a stamp. */
const stateKey = (s) => {
  const rows = modelRows(s)
  return [...rows.items, ...rows.levels, ...rows.res, ...rows.stamps].join('\n')
}

/**
 * The SQL invariants over every level and reservation of the schema: reserved = sum of
 * the live reservations, raw_* columns agree, reserved >= 0, stocked, reserved and
 * available inside the quantity domain, available < 0 only where a backorder
 * reservation is live or the stock was lowered (`lowered`: item|loc keys), every live
 * reservation at a live level, and every quantity the sum of its ledger movements.
 * `items`: only these items' rows (else every row of the schema).
 */
async function invariants(db, lowered, ledgerGaps, items = null) {
  const mine = (col) => `($1::text[] IS NULL OR ${col} = ANY($1::text[]))`
  const problems = []
  const { rows } = await db.query(
    `
    SELECT l.id, l.inventory_item_id AS item, l.location_id AS loc, l.stocked_quantity::text AS s, l.reserved_quantity::text AS r,
           l.raw_stocked_quantity->>'value' AS rs, l.raw_reserved_quantity->>'value' AS rr,
           coalesce((SELECT sum(x.quantity) FROM reservation_item x WHERE x.inventory_item_id = l.inventory_item_id
                       AND x.location_id = l.location_id AND x.deleted_at IS NULL), 0)::text AS live,
           EXISTS (SELECT 1 FROM reservation_item x WHERE x.inventory_item_id = l.inventory_item_id
                     AND x.location_id = l.location_id AND x.deleted_at IS NULL AND x.allow_backorder) AS bo
    FROM inventory_level l WHERE l.deleted_at IS NULL AND ${mine('l.inventory_item_id')}`,
    [items],
  )
  for (const l of rows) {
    const [s, r, rs, rr, live] = [l.s, l.r, l.rs, l.rr, l.live].map(units)
    if (r !== live) problems.push(`level ${l.id}: reserved ${l.r}, live reservations ${l.live}`)
    if (rs !== s || rr !== r) problems.push(`level ${l.id}: raw ${l.rs}/${l.rr}, columns ${l.s}/${l.r}`)
    if (r < 0n) problems.push(`level ${l.id}: reserved ${l.r} < 0`)
    for (const [name, v] of [
      ['stocked', s],
      ['reserved', r],
      ['available', s - r],
    ]) {
      if (!inDomain(v)) problems.push(`level ${l.id}: ${name} ${text(v)} outside the quantity domain`)
    }
    if (s - r < 0n && !l.bo && !lowered.has(key(l.item, l.loc))) {
      problems.push(`level ${l.id}: reserved ${l.r} > stocked ${l.s} with no live backorder and no lowered stock`)
    }
  }
  const res = await db.query(
    `SELECT id, quantity::text AS q, raw_quantity->>'value' AS rq FROM reservation_item WHERE ${mine('inventory_item_id')}`,
    [items],
  )
  for (const x of res.rows) {
    if (units(x.q) !== units(x.rq) || units(x.q) <= 0n || !inDomain(units(x.q)))
      problems.push(`reservation ${x.id}: quantity ${x.q}, raw ${x.rq}`)
  }
  const orphans = await db.query(
    `
    SELECT r.id, r.inventory_item_id AS item, r.location_id AS loc FROM reservation_item r
    WHERE r.deleted_at IS NULL AND ${mine('r.inventory_item_id')}
      AND NOT EXISTS (SELECT 1 FROM inventory_level l WHERE l.inventory_item_id = r.inventory_item_id
                        AND l.location_id = r.location_id AND l.deleted_at IS NULL)`,
    [items],
  )
  for (const x of orphans.rows) problems.push(`reservation ${x.id}: live with no live level at ${x.item} ${x.loc}`)
  const levelIds =
    items &&
    new Set(
      (
        await db.query(
          `SELECT id FROM inventory_level WHERE inventory_item_id = ANY($1) UNION SELECT inventory_level_id FROM inventory_movement WHERE inventory_item_id = ANY($1)`,
          [items],
        )
      ).rows.map((r) => r.id),
    )
  for (const g of (await ledgerGaps(db)).filter((x) => !levelIds || levelIds.has(x.id)))
    problems.push(`level ${g.id}: ${g.field} ${g.quantity}, ledger sum ${g.ledger_sum}`)
  return problems
}

module.exports = {
  HUGE,
  MAX,
  units,
  text,
  over,
  inDomain,
  small,
  qty,
  stock,
  adj,
  validQty,
  validStock,
  levelInDomain,
  GONE,
  emptyState,
  startState,
  key,
  liveLevel,
  reservedAt,
  predict,
  invoke,
  dbState,
  modelRows,
  normalRows,
  stateKey,
  invariants,
}
