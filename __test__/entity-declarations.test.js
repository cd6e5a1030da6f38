'use strict'
// The Rust entity description (crates/inventory-core/src/entity.rs, as the addon's
// api() reports it) is the one source of each table's columns and input
// rules. The JS declarations written by hand next to it must agree: the DML and
// GraphQL schema given to Medusa (medusa/entities.js) and the public typings
// (lib/index.d.ts). A column added to one and not the others fails here.
const fs = require('node:fs')
const path = require('node:path')
const native = require('../index.js')
const entities = require('../medusa/entities.js')

const SCHEMA = JSON.parse(native.api()).entities
const NAMES = ['InventoryItem', 'InventoryLevel', 'ReservationItem']

const sorted = (xs) => [...xs].sort()
const columnsOf = (name) => Object.entries(SCHEMA[name].columns)
const numericOf = (name) =>
  columnsOf(name)
    .filter(([, c]) => c.type === 'numeric')
    .map(([n]) => n)
/** Foreign keys of belongs-to relations: DML declares the relation, not the column. */
const fksOf = (name) => (name === 'InventoryItem' ? [] : ['inventory_item_id'])

test('the addon describes exactly the three entities, and the ledger rows it returns', () => {
  // InventoryMovement is described only for its timestamp (its rows are not Medusa's).
  expect(sorted(Object.keys(SCHEMA))).toEqual(sorted([...NAMES, 'InventoryMovement']))
  expect(SCHEMA.InventoryMovement.dates).toEqual(['created_at'])
  for (const name of NAMES) {
    expect(Object.keys(SCHEMA[name].columns)).toContain('id')
    expect(sorted(SCHEMA[name].dates)).toEqual(
      sorted(
        columnsOf(name)
          .filter(([, c]) => c.type === 'timestamptz')
          .map(([n]) => n),
      ),
    )
  }
})

describe('medusa/entities.js DML', () => {
  const DML_TYPE = {
    text: 'text',
    integer: 'number',
    boolean: 'boolean',
    jsonb: 'json',
    numeric: 'bigNumber',
    timestamptz: 'dateTime',
  }

  test.each(NAMES)('%s declares the same fields with the same types', (name) => {
    const dml = entities[name].schema
    const e = SCHEMA[name]
    const raw = numericOf(name).map((n) => `raw_${n}`)
    const expected = [
      ...Object.keys(e.columns).filter((c) => !fksOf(name).includes(c)),
      ...raw,
      ...e.computed,
      ...Object.keys(e.relations),
    ]
    expect(sorted(Object.keys(dml))).toEqual(sorted(expected))
    for (const [col, { type }] of columnsOf(name)) {
      if (fksOf(name).includes(col)) continue
      const parsed = dml[col].parse(col)
      expect([col, parsed.dataType.name]).toEqual([col, col === 'id' ? 'id' : DML_TYPE[type]])
      expect([col, parsed.computed]).toEqual([col, false])
    }
    for (const field of e.computed) expect([field, dml[field].parse(field).computed]).toEqual([field, true])
    for (const rel of Object.keys(e.relations)) expect(['hasMany', 'belongsTo']).toContain(dml[rel].type)
  })

  test.each(NAMES)('%s GraphQL type has the same fields with the same types', (name) => {
    const GQL = {
      text: 'String',
      integer: 'Int',
      boolean: 'Boolean',
      jsonb: 'JSON',
      numeric: 'Float',
      timestamptz: 'DateTime',
    }
    const block = entities.schema.match(new RegExp(`type ${name} \\{([^}]*)\\}`))
    expect(block).not.toBeNull()
    const fields = Object.fromEntries(
      block[1]
        .trim()
        .split('\n')
        .map((l) => l.trim().match(/^(\w+): \[?(\w+)\]?!?$/))
        .map((m) => [m[1], m[2]]),
    )
    const e = SCHEMA[name]
    expect(sorted(Object.keys(fields))).toEqual(
      sorted([...Object.keys(e.columns), ...e.computed, ...Object.keys(e.relations)]),
    )
    for (const [col, { type }] of columnsOf(name))
      expect([col, fields[col]]).toEqual([col, col === 'id' ? 'ID' : GQL[type]])
    for (const field of e.computed) expect([field, fields[field]]).toEqual([field, 'Float'])
    for (const [rel, target] of Object.entries(e.relations)) expect([rel, fields[rel]]).toEqual([rel, target])
  })
})

describe('lib/index.d.ts', () => {
  const source = fs.readFileSync(path.join(__dirname, '..', 'lib', 'index.d.ts'), 'utf8')
  /** interface name -> { field: { optional, type } }, `extends Omit<X, 'f'>` resolved. */
  const interfaces = {}
  for (const m of source.matchAll(/^export interface (\w+)(?: extends Omit<(\w+), '(\w+)'>)? \{\n([\s\S]*?)^\}/gm)) {
    const [, name, base, omitted, body] = m
    const fields = {}
    if (base) {
      for (const [f, v] of Object.entries(interfaces[base])) if (f !== omitted) fields[f] = v
    }
    for (const line of body.split('\n')) {
      const f = line.match(/^ {2}(\w+)(\?)?: (.+)$/)
      if (f) fields[f[1]] = { optional: f[2] === '?', type: f[3] }
    }
    interfaces[name] = fields
  }

  test.each(NAMES)('%sDTO has every column, raw twin, computed field and relation, typed', (name) => {
    const TS = {
      text: 'string',
      integer: 'number',
      boolean: 'boolean',
      jsonb: 'Metadata',
      numeric: 'number',
      timestamptz: 'Date',
    }
    const dto = interfaces[`${name}DTO`]
    const e = SCHEMA[name]
    const raw = numericOf(name).map((n) => `raw_${n}`)
    expect(sorted(Object.keys(dto))).toEqual(
      sorted([...Object.keys(e.columns), ...raw, ...e.computed, ...Object.keys(e.relations)]),
    )
    for (const [col, { type }] of columnsOf(name)) {
      expect([col, dto[col].type.replace(/ \| null$/, '')]).toEqual([col, TS[type]])
      expect([col, dto[col].optional]).toEqual([col, false])
    }
    for (const r of raw) expect([r, dto[r].type]).toEqual([r, 'RawQuantity'])
    for (const field of e.computed) expect([field, dto[field].type]).toEqual([field, 'number'])
    for (const [rel, target] of Object.entries(e.relations)) {
      expect([rel, dto[rel].optional, dto[rel].type.replace(/\[\]$/, '')]).toEqual([rel, true, `${target}DTO`])
    }
  })

  // Accepted by the core and deliberately left out of the typings: a level update
  // finds its level by item and location, so its id is not part of Medusa's type.
  const UNTYPED = { UpdateInventoryLevelInput: ['id'] }
  // Typed, not columns: the compare-and-set expectation a level update may carry (levels.rs).
  const COMPARE = { UpdateInventoryLevelInput: ['expected_stocked_quantity'] }

  const cases = NAMES.flatMap((name) => [
    [`Create${name}Input`, name, 'create'],
    [`Update${name}Input`, name, 'update'],
  ])
  test.each(cases)('%s matches the %s %s rules', (iface, name, op) => {
    const TS = { text: 'string', integer: 'number', boolean: 'boolean', jsonb: 'Metadata', numeric: 'QuantityInput' }
    const typed = interfaces[iface]
    expect(typed).toBeDefined()
    const e = SCHEMA[name]
    const accepted = columnsOf(name).filter(([, c]) => c[op] !== 'no')
    const expected = accepted.map(([n]) => n).filter((n) => !(UNTYPED[iface] ?? []).includes(n))
    // Ignored fields may be typed (documented as dropped); nothing else may.
    const extra = Object.keys(typed).filter((f) => !expected.includes(f) && !(COMPARE[iface] ?? []).includes(f))
    for (const f of extra) expect([f, e.ignored.includes(f)]).toEqual([f, true])
    for (const col of expected) expect([col, col in typed]).toEqual([col, true])
    for (const [col, c] of accepted) {
      if (!(col in typed)) continue
      const rule = c[op]
      expect([col, typed[col].optional]).toEqual([col, rule !== 'required'])
      expect([col, typed[col].type.endsWith(' | null')]).toEqual([col, rule === 'optional'])
      expect([col, typed[col].type.replace(/ \| null$/, '')]).toEqual([col, TS[c.type]])
    }
  })
})
