'use strict'
// How the bench's parents (bench.js, rtt.js) run a module in a process of its own.
const { fork } = require('node:child_process')

/**
 * Runs `script` (a child of the bench) with `config` as JSON in the environment variable
 * `envName`; resolves to the result it sends back over IPC ({ ok, result } | { error }).
 */
function forkChild(script, envName, config, execArgv = []) {
  return new Promise((resolve, reject) => {
    const child = fork(script, [], {
      execArgv,
      env: { ...process.env, [envName]: JSON.stringify(config), NODE_ENV: 'production' },
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    })
    let got = null
    child.on('message', (m) => (got = m))
    child.on('error', reject)
    child.on('exit', (code, signal) => {
      if (got && got.ok) resolve(got.result)
      else reject(new Error(got ? got.error : `${config.impl} ${config.task} exited (code ${code}, signal ${signal})`))
    })
  })
}

module.exports = { forkChild }
