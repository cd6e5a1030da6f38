'use strict'
// One inventory module booted the way a Medusa application boots it: Medusa's own
// loader (MedusaAppMigrateUp, then MedusaApp from @medusajs/framework/modules-sdk) with
// the module's `resolve`, beside Medusa's Locking module (in-memory provider, the
// default). Shared by the bench's child processes (runner.js, rtt-child.js).
const { benchRoot } = require('./one-medusa')
const { MedusaApp, MedusaAppMigrateUp, MedusaModule } = require('@medusajs/framework/modules-sdk')
const { ContainerRegistrationKeys, Modules, ModulesSdkUtils } = require('@medusajs/framework/utils')
const { now } = require('./stats')

const IMPL_RESOLVE = {
  ours: () => require.resolve('medusa-inventory-rs/medusa'),
  peer: () => require.resolve('@medusajs/inventory'),
}

/** Medusa's modules log through the container's logger: only warnings and errors, tagged. */
function quietLogger(tag) {
  return new Proxy(
    {},
    {
      get: (_t, name) => {
        if (name === 'error' || name === 'warn')
          return (...a) => process.stderr.write(`[${tag}:medusa ${name}] ${a.map(String).join(' ')}\n`)
        if (name === 'shouldLog') return () => false
        return () => {}
      },
    },
  )
}

/**
 * Boots `impl` ('ours' | 'peer') on `url` and `schema` with a pool of `pool`; with
 * `migrate`, its migrations run first. Resolves to { app, svc, locking, knex, resolve,
 * migrateMs, loadMs, stop() }.
 */
async function bootInventory({ impl, url, schema, pool, migrate, logger, eventBus }) {
  const resolve = IMPL_RESOLVE[impl]()
  const knexes = []
  // A knex pool per MedusaApp call: the migrate step closes the one it was given.
  const newKnex = () => {
    const k = ModulesSdkUtils.createPgConnection({ clientUrl: url, schema, pool: { min: 0, max: pool } })
    knexes.push(k)
    return k
  }
  const options = (knex) => ({
    cwd: benchRoot,
    sharedResourcesConfig: { database: { clientUrl: url, schema } },
    injectedDependencies: {
      [ContainerRegistrationKeys.PG_CONNECTION]: knex,
      [ContainerRegistrationKeys.LOGGER]: logger,
      [Modules.EVENT_BUS]: eventBus,
    },
    modulesConfig: {
      [Modules.INVENTORY]: {
        resolve,
        // `connection` is what makes Medusa's own migrations land in `schema`;
        // `pool.max` sizes our pool (Medusa's module uses the knex pool it is given).
        options: { database: { clientUrl: url, schema, connection: knex, pool: { max: pool } } },
      },
      [Modules.LOCKING]: { resolve: '@medusajs/locking' },
    },
  })
  // Without @medusajs/medusa installed, MedusaApp warns that it cannot set up
  // link modules; the bench loads no module that links, so that warning is dropped.
  const warn = console.warn
  console.warn = (...a) => {
    if (typeof a[0] === 'string' && a[0].startsWith('Error initializing link modules')) return
    warn(...a)
  }
  const t0 = now()
  if (migrate) {
    // Medusa's migrator reports on stdout; keep the benchmark's output readable.
    const { log: l, info: i } = console
    console.log = console.info = () => {}
    try {
      await MedusaAppMigrateUp(options(newKnex()))
    } finally {
      console.log = l
      console.info = i
    }
    MedusaModule.clearInstances()
  }
  const t1 = now()
  const knex = newKnex()
  const app = await MedusaApp(options(knex))
  const t2 = now()
  const svc = app.modules[Modules.INVENTORY]
  if (!svc) throw new Error('the inventory module did not load')
  return {
    app,
    svc,
    locking: app.modules[Modules.LOCKING],
    knex,
    resolve,
    migrateMs: t1 - t0,
    loadMs: t2 - t1,
    async stop() {
      await app.onApplicationShutdown()
      for (const k of knexes) {
        try {
          await k.destroy()
        } catch {
          // already closed by Medusa
        }
      }
    },
  }
}

module.exports = { bootInventory, quietLogger }
