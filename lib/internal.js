'use strict'
// What lib/index.js and the Medusa adapter (medusa/index.js) share and users do not
// see (package.json exports only "." and "./medusa"): the addon, its API manifest and
// the internal call that returns a method's changes next to its result.

const native = loadNative()

// The generated loader (../index.js) picks ./medusa-inventory-rs.<platform>.node or the
// platform package npm installed from optionalDependencies. When neither is there its
// error blames an npm bug; this one names the platform and the two ways out. The platform
// package's version is this package's (`napi version` bumps them together).
function loadNative() {
  try {
    return require('../index.js')
  } catch (e) {
    const { platform, arch } = process
    let libc = ''
    if (platform === 'linux') {
      const header = process.report && process.report.getReport().header
      libc = header && header.glibcVersionRuntime ? 'gnu' : 'musl'
    } else if (platform === 'win32') libc = 'msvc'
    const key = [platform, arch, libc].filter(Boolean).join('-')
    // napi.targets holds Rust triples: x86_64-unknown-linux-gnu is published as linux-x64-gnu.
    const { napi, version } = require('../package.json')
    const prebuilt = napi.targets.some((t) => {
      const [cpu, , os, abi] = t.split('-')
      const p = { darwin: 'darwin', linux: 'linux', windows: 'win32' }[os]
      return [p, { x86_64: 'x64', aarch64: 'arm64' }[cpu], abi].filter(Boolean).join('-') === key
    })
    const err = new Error(
      `medusa-inventory-rs: no native binary loaded for ${key} ` +
        `(process.platform=${platform}, arch=${arch}${libc ? `, libc=${libc}` : ''}). ` +
        (prebuilt
          ? `Install the prebuilt one: npm install medusa-inventory-rs-${key}@${version} ` +
            '(npm skips it when optional dependencies are omitted or the lockfile was made on another platform). '
          : 'No prebuilt binary is published for this platform. ') +
        'To build from source, install Rust (https://rustup.rs) and run `npm install && npm run build` ' +
        "in a checkout of medusa-inventory-rs (the loader's errors are in `cause`).",
    )
    err.code = 'ERR_MEDUSA_INVENTORY_RS_NATIVE'
    err.cause = e
    throw err
  }
}

// The API manifest, defined once in the core (crates/inventory-core/src/dispatch.rs):
// `methods` [{ name, params, arrayParams, entity, kind, result }] and `entities`
// (timestamp columns and relations of each entity, for reviving results).
const API = JSON.parse(native.api())
API.byName = new Map(API.methods.map((m) => [m.name, m]))

/**
 * A call's positional arguments and the shared context after them, from a method's
 * `arguments` (or an array). adjustInventory's batch form (an array first) takes
 * `arrayParams`, the positional form `params`.
 */
function splitArgs(spec, args) {
  const n = spec.arrayParams && Array.isArray(args[0]) ? spec.arrayParams.length : spec.params.length
  return { args: Array.prototype.slice.call(args, 0, n), context: args[n] }
}

/** `service[CALL](spec, args)` resolves to `{ result, changes, json }`: see lib/index.js. */
const CALL = Symbol('medusa-inventory-rs call')

/**
 * `service[MIGRATE](scan?)` resolves to `{ version, drift }`: migrates, then `drift` is the
 * warning about drifted levels (null when none), for the caller to report its own way
 * (a process warning standalone, Medusa's logger in db:migrate). `scan` ({ pageSize,
 * levels }) bounds the dry run; tests make it small.
 */
const MIGRATE = Symbol('medusa-inventory-rs migrate')

module.exports = { native, API, CALL, MIGRATE, splitArgs }
