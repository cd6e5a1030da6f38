'use strict'
// A TCP proxy in front of Postgres for the fault test: when armed, it cuts the connection right
// after the server has ended a transaction, dropping the reply instead of forwarding it.
// The client then sees its connection die with the transaction durably committed: the one
// failure whose outcome only the database knows, made deterministic.
const net = require('node:net')

const SSL_REQUEST = 80877103

/**
 * Resolves to { port, arm(n, skip), cuts, close() }; arm(n, skip) lets the next `skip` transaction
 * ends through (e.g. a keyed call's look-up of its key, which is one), then cuts the n after them.
 */
function commitCutter(upstreamPort) {
  let armed = 0
  let skips = 0
  let cuts = 0
  const sockets = new Set()
  const srv = net.createServer((client) => {
    const upstream = net.connect(upstreamPort, '127.0.0.1')
    sockets.add(client).add(upstream)
    const end = () => {
      client.destroy()
      upstream.destroy()
    }
    let first = true
    let sslAnswer = false // the answer to an SSLRequest is one unframed byte
    let buf = Buffer.alloc(0)
    let cut = false
    client.on('data', (d) => {
      if (first && d.length >= 8 && d.readInt32BE(0) === 8 && d.readInt32BE(4) === SSL_REQUEST) sslAnswer = true
      first = false
      upstream.write(d)
    })
    // Server messages are framed (type byte, int32 length). While armed, from a statement's
    // CommandComplete on they are held back until the ReadyForQuery: status 'I' (idle) there means
    // the transaction that statement ran in has ended, committed (the module's writes are a single
    // autocommit statement or a transaction ending in COMMIT; a failed one answers ROLLBACK, which
    // the test sees as the write missing). That reply is what an armed cutter drops.
    let held = -1 // offset in buf where held-back messages start
    upstream.on('data', (d) => {
      if (cut) return
      buf = Buffer.concat([buf, d])
      if (sslAnswer && buf.length) {
        client.write(buf.subarray(0, 1))
        buf = buf.subarray(1)
        sslAnswer = false
      }
      let at = 0
      while (buf.length - at >= 5) {
        const len = buf.readInt32BE(at + 1)
        if (buf.length - at < 1 + len) break
        const type = String.fromCharCode(buf[at])
        if (armed && held < 0 && type === 'C') held = at
        if (type === 'Z' && held >= 0) {
          if (String.fromCharCode(buf[at + 5]) === 'I' && skips > 0) skips--
          else if (String.fromCharCode(buf[at + 5]) === 'I') {
            armed--
            cuts++
            cut = true
            client.write(buf.subarray(0, held), end)
            return
          }
          held = -1
        }
        at += 1 + len
      }
      const upTo = held >= 0 ? held : at
      client.write(buf.subarray(0, upTo))
      buf = buf.subarray(upTo)
      if (held >= 0) held = 0
    })
    for (const s of [client, upstream]) {
      s.on('error', end)
      s.on('close', () => {
        sockets.delete(s)
        end()
      })
    }
  })
  return new Promise((resolve, reject) => {
    srv.on('error', reject)
    srv.listen(0, '127.0.0.1', () =>
      resolve({
        port: srv.address().port,
        arm(n = 1, skip = 0) {
          armed += n
          skips += skip
        },
        get cuts() {
          return cuts
        },
        close() {
          for (const s of sockets) s.destroy()
          return new Promise((r) => srv.close(r))
        },
      }),
    )
  })
}

module.exports = { commitCutter }
