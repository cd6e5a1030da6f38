'use strict'
// A deliberately wrong v1 entry, for `npm run test:mutant`: our medusa-v1 module, except that
// every call drops the `transactionManager` Medusa hands over, so each write runs on the
// module's own pool and commits on its own whatever happens to Medusa's transaction (the
// "own pool, always" design docs/medusa-v1.md rejects). The fault tests must fail on it.
const path = require('node:path')

const base =
  process.env.V1_MUTANT_BASE ||
  require.resolve('medusa-inventory-rs/medusa-v1', { paths: [path.resolve(__dirname, '..', '..')] })
const real = require(base)
const definition = real.default

const dropTransaction = (arg) =>
  arg && typeof arg === 'object' && 'transactionManager' in arg ? { ...arg, transactionManager: undefined } : arg

class OwnPoolService extends definition.service {
  constructor(...args) {
    super(...args)
    return new Proxy(this, {
      get(target, key, receiver) {
        const value = Reflect.get(target, key, receiver)
        if (typeof value !== 'function' || key === 'constructor') return value
        return (...callArgs) => value.apply(target, callArgs.map(dropTransaction))
      },
    })
  }
}

module.exports = { ...real, __esModule: true, default: { ...definition, service: OwnPoolService } }
