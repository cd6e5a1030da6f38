'use strict'
// One copy of Medusa in the process, as in a real app.
//
// `medusa-inventory-rs` is installed here as `file:..`, a symlink to the
// repository root. Node resolves `require('@medusajs/framework/…')` inside our
// adapter from its real path, i.e. from the root's own node_modules (the
// root's devDependencies), which would give the process a second copy of
// @medusajs/framework next to the one Medusa's loader runs from. In an app
// installed from the registry there is one copy (it is a peer dependency).
// This hook makes every `@medusajs/*` request from outside bench/ resolve
// from bench/node_modules, so both modules run against the same framework.
const Module = require('node:module')
const path = require('node:path')

const benchRoot = path.resolve(__dirname, '..')
const anchor = new Module(path.join(benchRoot, 'index.js'))
anchor.filename = anchor.id
anchor.paths = Module._nodeModulePaths(benchRoot)

const original = Module._resolveFilename
Module._resolveFilename = function resolveOneMedusa(request, parent, isMain, options) {
  if (
    typeof request === 'string' &&
    request.startsWith('@medusajs/') &&
    parent &&
    typeof parent.filename === 'string' &&
    !parent.filename.startsWith(benchRoot + path.sep)
  ) {
    return original.call(this, request, anchor, isMain, options)
  }
  return original.call(this, request, parent, isMain, options)
}

module.exports = { benchRoot }
