'use strict'
// The API manifest (crates/inventory-core/src/dispatch.rs) is the one list of methods:
// each is served by the addon, the standalone facade and the Medusa module service, with
// Medusa's parameters, and nothing else is exposed; the typings list the same methods.
// Beyond Medusa's methods the manifest marks this module's own (`extension`: the ledger,
// cycle counts); reconcile and prune (operations tools, not manifest methods) are allowed by name.
const fs = require('node:fs')
const path = require('node:path')
const { spawnSync } = require('node:child_process')
const ts = require('typescript')
const native = require('../index.js')
const lib = require('..')
const { InventoryModuleService } = require('../medusa')
const { freshService } = require('./helpers')

const API = JSON.parse(native.api())
const NAMES = API.methods.map((m) => m.name)
const MEDUSA_NAMES = API.methods.filter((m) => !m.extension).map((m) => m.name)
const EXTENSIONS = [
  'listInventoryMovements',
  'listAndCountInventoryMovements',
  'listInventoryMovementFeed',
  'verifyInventoryLedger',
  'setInventoryQuantities',
]

let t
beforeAll(async () => {
  t = await freshService('api')
})
afterAll(() => t.cleanup())

/** The methods of IInventoryService, read from @medusajs/types itself. */
function interfaceMethods() {
  const file = path.resolve(__dirname, '../node_modules/@medusajs/types/dist/inventory/service.d.ts')
  const text = fs.readFileSync(file, 'utf8')
  return [...new Set([...text.matchAll(/^ {4}([a-zA-Z]+)(?:<[^>]*>)?\(/gm)].map((m) => m[1]))].sort()
}

/** Own prototype members of a class, other than those listed. */
function ownMethods(cls, besides) {
  return Object.getOwnPropertyNames(cls.prototype)
    .filter((n) => !besides.includes(n))
    .sort()
}

/** Arguments for `spec` with NaN at `at` (a parameter, or the context slot after them). */
function withNaN(spec, at) {
  const args = spec.params.map(() => 'x')
  args[at] = NaN
  return args
}

test('the manifest lists exactly the data methods of Medusa’s IInventoryService, each described', () => {
  expect([...MEDUSA_NAMES].sort()).toEqual(interfaceMethods())
  expect(MEDUSA_NAMES).toHaveLength(35)
  expect(API.methods.filter((m) => m.extension).map((m) => m.name)).toEqual(EXTENSIONS)
  const entities = Object.keys(API.entities)
  for (const m of API.methods) {
    expect(m.params.length).toBeGreaterThan(0)
    expect(['read', 'write', 'quantity']).toContain(m.kind)
    expect(entities).toContain(m.entity)
    if (m.result !== null) expect(entities).toContain(m.result)
  }
  expect(lib.methods).toEqual(NAMES)
  for (const m of API.methods) expect(lib.arityOf(m.name)).toBe(m.params.length)
})

test('the addon dispatches every manifest method and no other name', async () => {
  for (const name of NAMES) {
    const outcome = await t.inventory._native.call(name, '[]').then(
      (out) => ({ out: JSON.parse(out) }),
      (error) => ({ error }),
    )
    // Served: it resolved, or the core rejected its (missing) arguments.
    if (outcome.error)
      expect([name, outcome.error.message]).not.toEqual([name, expect.stringMatching(/Unknown method/)])
    else expect(outcome.out).toHaveProperty('changes')
  }
  for (const name of ['listInventoryItem', 'constructor', 'migrate', 'reconcile', 'prune', '']) {
    await expect(t.inventory._native.call(name, '[]')).rejects.toMatchObject({
      type: 'invalid_data',
      message: `Unknown method '${name}'`,
    })
  }
})

test('the facade has every manifest method, with Medusa’s parameters, and nothing else', async () => {
  expect(
    ownMethods(lib.InventoryService, [
      'constructor',
      'migrate',
      'revertMigrations',
      'close',
      'reconcile',
      'prune',
      'stats',
    ]),
  ).toEqual([...NAMES].sort())
  expect(typeof lib.InventoryService.prototype.reconcile).toBe('function')
  expect(
    Object.getOwnPropertyNames(lib.InventoryService).filter((n) => typeof lib.InventoryService[n] === 'function'),
  ).toEqual(['connect'])
  expect(Object.keys(lib).sort()).toEqual(['InventoryError', 'InventoryService', 'arityOf', 'methods'])
  for (const spec of API.methods) {
    // A bad value in parameter i is named by Medusa's name for it: the arguments are positional as Medusa's.
    for (let i = 0; i < spec.params.length; i++) {
      await expect(t.inventory[spec.name](...withNaN(spec, i))).rejects.toMatchObject({
        type: 'invalid_data',
        message: `${spec.params[i]} must be a finite number, received NaN`,
      })
    }
    // The argument after them is the call's options, checked by the core and named as options.
    const after = await t.inventory[spec.name](...spec.params.map(() => 'x'), { reasn: 'typo' }).catch((e) => e)
    expect([spec.name, after && after.message]).toEqual([spec.name, "Unknown call option 'reasn'"])
  }
  // adjustInventory's batch form takes one argument: what follows is the options.
  const level = await t.inventory.createInventoryLevels({
    inventory_item_id: (await t.inventory.createInventoryItems({})).id,
    location_id: 'sloc_api',
  })
  const adjusted = await t.inventory.adjustInventory(
    [{ inventoryItemId: level.inventory_item_id, locationId: 'sloc_api', adjustment: 2 }],
    { reason: 'received' },
  )
  expect(adjusted).toEqual([expect.objectContaining({ stocked_quantity: 2 })])
  expect(
    (await t.inventory.listInventoryMovements({ inventory_level_id: level.id }, { order: { id: 'DESC' }, take: 1 }))[0]
      .reason,
  ).toBe('received')
})

test('the Medusa module service has every manifest method, with Medusa’s parameters, and nothing else', async () => {
  expect(
    ownMethods(InventoryModuleService, [
      'constructor',
      '__joinerConfig',
      'emitChanges_',
      'reconcile',
      'prune',
      'stats',
    ]),
  ).toEqual([...NAMES].sort())
  expect(typeof InventoryModuleService.prototype.reconcile).toBe('function')
  const service = new InventoryModuleService({ medusaInventoryRsConnection: t.inventory }, {})
  for (const spec of API.methods) {
    for (let i = 0; i < spec.params.length; i++) {
      await expect(service[spec.name](...withNaN(spec, i))).rejects.toMatchObject({
        type: 'invalid_data',
        message: `${spec.params[i]} must be a finite number, received NaN`,
      })
    }
    // The argument after them is Medusa's shared context: only its `inventory` reaches the core.
    const after = await service[spec.name](...withNaN(spec, spec.params.length)).catch((e) => e)
    expect(String(after && after.message)).not.toMatch(/finite number/)
  }
  const [level] = await service.listInventoryLevels({ location_id: 'sloc_api' })
  expect((await service.retrieveStockedQuantity(level.inventory_item_id, ['sloc_api'])).numeric).toBe(2)
})

/** Method signatures of `InventoryService` in lib/index.d.ts: name → parameter counts without the context, per overload. */
function typedMethods() {
  const file = path.resolve(__dirname, '../lib/index.d.ts')
  const source = ts.createSourceFile(file, fs.readFileSync(file, 'utf8'), ts.ScriptTarget.Latest)
  const cls = source.statements.find((s) => ts.isClassDeclaration(s) && s.name && s.name.text === 'InventoryService')
  const out = {}
  for (const member of cls.members) {
    if (!ts.isMethodDeclaration(member) || member.modifiers?.some((m) => m.kind === ts.SyntaxKind.StaticKeyword))
      continue
    const params = member.parameters.map((p) => p.name.text)
    const name = member.name.text
    ;(out[name] ??= []).push(params.at(-1) === 'context' ? params.length - 1 : params.length)
  }
  return out
}

test('lib/index.d.ts types exactly the manifest methods, with their arity', () => {
  const typed = typedMethods()
  const lifecycle = ['migrate', 'revertMigrations', 'close', 'reconcile', 'prune', 'stats']
  expect(
    Object.keys(typed)
      .filter((n) => !lifecycle.includes(n))
      .sort(),
  ).toEqual([...NAMES].sort())
  for (const spec of API.methods) {
    const arities = [spec.params.length, ...(spec.arrayParams ? [spec.arrayParams.length] : [])]
    for (const n of typed[spec.name]) expect([spec.name, arities]).toEqual([spec.name, expect.arrayContaining([n])])
  }
})

test('each method of the facade and of the module service is a named method, and stack traces name it', async () => {
  for (const cls of [lib.InventoryService, InventoryModuleService]) {
    for (const spec of API.methods) {
      const fn = cls.prototype[spec.name]
      // Named for what it is (a loop's `value: async function` was named "value"), with Medusa's parameters.
      expect([cls.name, fn.name]).toEqual([cls.name, spec.name])
      expect([cls.name, spec.name, fn.length]).toEqual([cls.name, spec.name, spec.params.length + 1])
    }
  }
  // Stacks as V8 writes them (Jest rewrites the frames it prints): in a plain Node process.
  const probe = `
    const { InventoryService } = require('.')
    const { InventoryModuleService } = require('./medusa')
    ;(async () => {
      const inventory = await InventoryService.connect({ url: process.env.DATABASE_URL, schema: ${JSON.stringify(t.schema)} })
      const service = new InventoryModuleService({ medusaInventoryRsConnection: inventory }, {})
      const out = []
      for (const target of [inventory, service]) {
        // Rejected by the core, after an await; and before it (the arguments).
        const missing = await target.retrieveInventoryItem('iitem_missing').catch((e) => e)
        const bad = await target.adjustInventory('iitem_x', 'sloc_x', NaN).catch((e) => e)
        out.push([missing.type, missing.stack], [bad.type, bad.stack])
      }
      await inventory.close()
      console.log(JSON.stringify(out))
    })()`
  const run = spawnSync(process.execPath, ['-e', probe], { cwd: path.resolve(__dirname, '..'), encoding: 'utf8' })
  expect(run.stderr).toBe('')
  const [libMissing, libBad, medusaMissing, medusaBad] = JSON.parse(run.stdout)
  expect(libMissing).toEqual([
    'not_found',
    expect.stringMatching(/\n {4}at async InventoryService\.retrieveInventoryItem \(.*lib[\\/]index\.js:/),
  ])
  expect(libBad).toEqual([
    'invalid_data',
    expect.stringMatching(/\n {4}at InventoryService\.adjustInventory \(.*lib[\\/]index\.js:/),
  ])
  expect(medusaMissing).toEqual([
    'not_found',
    expect.stringMatching(/\n {4}at async InventoryModuleService\.retrieveInventoryItem \(.*medusa[\\/]index\.js:/),
  ])
  expect(medusaBad).toEqual([
    'invalid_data',
    expect.stringMatching(/\n {4}at InventoryModuleService\.adjustInventory \(.*medusa[\\/]index\.js:/),
  ])
})

test('the generated methods are what the manifest generates (node scripts/gen-methods.js)', () => {
  const { generate } = require('../scripts/gen-methods.js')
  for (const file of ['lib/index.js', 'medusa/index.js']) {
    const text = fs.readFileSync(path.resolve(__dirname, '..', file), 'utf8')
    expect([file, generate(text, file, API, 'invoke') === text]).toEqual([file, true])
  }
})
