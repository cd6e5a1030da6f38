'use strict'
// A TCP proxy that delays every chunk by `oneWayMs` in each direction,
// keeping the order of each direction's bytes: a round-trip time of
// 2 × oneWayMs added between a client and Postgres. The fallback of the
// latency bench (rtt.js) where `tc netem` is not available, and what the
// smoke uses (no root, no kernel modules).
//
// Node's timers have a 1 ms granularity, too coarse for 0.25 ms: a chunk due
// in more than 2 ms waits on a timer, and the last stretch is waited for by
// polling the event loop (setImmediate), which keeps one core busy while any
// chunk is in flight. So run it in a process of its own (rtt.js does), not in
// the process being timed. The delay actually added is measured (rtt.js
// times SELECT 1 through it and straight to Postgres) and reported beside the
// target.
const net = require('node:net')

function clock() {
  return Number(process.hrtime.bigint()) / 1e6
}

/** One direction: chunks written to `dest` in order, each `delay()` ms after it arrived. */
function delayedPipe(src, dest, delay) {
  const queue = []
  let pumping = false
  let timer = null
  const pump = () => {
    timer = null
    const t = clock()
    while (queue.length && queue[0].due <= t) {
      if (!dest.destroyed) dest.write(queue.shift().buf)
      else queue.shift()
    }
    if (!queue.length) {
      pumping = false
      return
    }
    const wait = queue[0].due - t
    if (wait > 2) timer = setTimeout(pump, wait - 1.5)
    else setImmediate(pump)
  }
  src.on('data', (buf) => {
    const d = delay()
    if (d <= 0 && !queue.length) {
      dest.write(buf)
      return
    }
    queue.push({ due: clock() + d, buf })
    if (!pumping) {
      pumping = true
      setImmediate(pump)
    }
  })
  return () => {
    if (timer) clearTimeout(timer)
    queue.length = 0
  }
}

/**
 * Starts the proxy on 127.0.0.1 (a free port) in front of targetHost:targetPort.
 * Resolves to { port, setOneWayMs(ms), close() }.
 */
async function startDelayProxy({ targetHost = '127.0.0.1', targetPort = 5432, oneWayMs = 0 } = {}) {
  let oneWay = oneWayMs
  const delay = () => oneWay
  const sockets = new Set()
  const server = net.createServer((client) => {
    client.setNoDelay(true)
    const upstream = net.connect(targetPort, targetHost)
    upstream.setNoDelay(true)
    sockets.add(client)
    sockets.add(upstream)
    const stops = [delayedPipe(client, upstream, delay), delayedPipe(upstream, client, delay)]
    const end = () => {
      for (const s of stops) s()
      client.destroy()
      upstream.destroy()
      sockets.delete(client)
      sockets.delete(upstream)
    }
    for (const s of [client, upstream]) {
      s.on('error', end)
      s.on('close', end)
    }
  })
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve))
  return {
    port: server.address().port,
    setOneWayMs(ms) {
      oneWay = ms
    },
    async close() {
      for (const s of sockets) s.destroy()
      await new Promise((resolve) => server.close(resolve))
    },
  }
}

module.exports = { startDelayProxy }
