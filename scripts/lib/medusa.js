'use strict'
// Handle on ./medusa-inventory-child.js: the real @medusajs/inventory
// running in its own Node process against one Postgres schema.
const { fork } = require('child_process')
const path = require('path')

const CHILD = path.join(__dirname, 'medusa-inventory-child.js')

/**
 * Starts a child process and resolves to a handle once it is ready.
 * `handle.service` proxies any IInventoryService method: `await m.service.listInventoryItems({})`.
 * `env` adds to the child's environment (MEDUSA_APP_DIR: Medusa and the modules from that app).
 */
function startMedusa(url, schema, { timeoutMs = 30000, resolve = '@medusajs/inventory', env = {} } = {}) {
  const childEnv = { ...process.env, NODE_ENV: 'test', ...env }
  const child = fork(CHILD, [url, schema, resolve], {
    // Medusa's loader resolves module names from the process's cwd (older versions ignore its `cwd` option).
    cwd: childEnv.MEDUSA_APP_DIR || path.join(__dirname, '..', '..'),
    stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
    env: childEnv,
  })
  let output = ''
  child.stdout.on('data', (d) => (output += d))
  child.stderr.on('data', (d) => (output += d))

  let nextId = 1
  const pending = new Map()
  let exited = null
  const failAll = (err) => {
    for (const { reject, timer } of pending.values()) {
      clearTimeout(timer)
      reject(err)
    }
    pending.clear()
  }
  child.on('exit', (code, signal) => {
    exited = { code, signal }
    failAll(new Error(`Medusa child exited (code ${code}, signal ${signal}). Output:\n${output.slice(-4000)}`))
  })

  let onReady
  const ready = new Promise((resolve, reject) => {
    onReady = resolve
    setTimeout(
      () => reject(new Error(`Medusa child not ready in time. Output:\n${output.slice(-4000)}`)),
      timeoutMs,
    ).unref()
  })

  child.on('message', (msg) => {
    if (msg && msg.ready) return onReady()
    const p = pending.get(msg.id)
    if (!p) return
    pending.delete(msg.id)
    clearTimeout(p.timer)
    if (msg.ok) p.resolve(msg.result)
    else {
      const e = new Error(`[medusa] ${msg.error.message}`)
      e.type = msg.error.type
      e.childStack = msg.error.stack
      p.reject(e)
    }
  })

  function request(op, params = {}) {
    if (exited) return Promise.reject(new Error(`Medusa child already exited. Output:\n${output.slice(-4000)}`))
    const id = nextId++
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        pending.delete(id)
        reject(new Error(`Medusa child: ${op} timed out. Output:\n${output.slice(-4000)}`))
      }, timeoutMs)
      pending.set(id, { resolve, reject, timer })
      child.send({ id, op, ...params })
    })
  }

  const service = new Proxy(
    {},
    {
      get:
        (_t, method) =>
        (...args) =>
          request('call', { method, args }),
    },
  )

  const handle = {
    child,
    service,
    output: () => output,
    migrate: () => request('migrate'),
    load: () => request('load'),
    events: () => request('events'),
    definition: () => request('definition'),
    callError: (method, ...args) => request('callError', { method, args }),
    resultType: (method, args, path) => request('resultType', { method, args, path }),
    graph: (args, options) => request('graph', { args, options }),
    callWithAggregator: (method, args, extra = {}) => request('callWithAggregator', { method, args, ...extra }),
    concurrent: (calls, startAt) => request('concurrent', { calls, startAt }),
    definitionOf: (resolve) => request('definitionOf', { resolve }),
    loadedJoinerConfig: () => request('loadedJoinerConfig'),
    async stop() {
      if (exited) return
      const gone = new Promise((r) => child.once('exit', r))
      try {
        await request('shutdown')
      } catch {
        // fall through to kill
      }
      const timer = setTimeout(() => child.kill('SIGKILL'), 5000)
      await gone
      clearTimeout(timer)
    },
  }
  return ready.then(() => handle)
}

module.exports = { startMedusa }
