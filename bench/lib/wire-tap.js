'use strict'
// A TCP proxy in front of Postgres that reads what clients send (the frontend
// side of the wire protocol) and forwards every byte unchanged. Used to see
// which statements our addon sends for an operation, how many round trips an
// operation takes (how many times it waits for the server's ReadyForQuery
// before it sends again: statements pipelined in one flight are one round
// trip), and to take the exact SQL and parameters of a statement for pgbench.
// Not on any timed path.
const net = require('node:net')

const SSL_REQUEST = 80877103
const GSSENC_REQUEST = 80877104
const CANCEL_REQUEST = 80877102

function cstring(buf, at) {
  const end = buf.indexOf(0, at)
  return [buf.toString('utf8', at, end), end + 1]
}

/**
 * Decodes one Bind parameter sent in binary format. tokio-postgres sends text
 * as its UTF-8 bytes and text[] as a binary array; anything else comes back as
 * { hex }. Text-format parameters are returned as strings.
 */
function decodeParam(bytes, binary) {
  if (bytes === null) return null
  if (!binary) return bytes.toString('utf8')
  if (bytes.length >= 12) {
    const ndim = bytes.readInt32BE(0)
    const flags = bytes.readInt32BE(4)
    const oid = bytes.readUInt32BE(8)
    const textual = oid === 25 || oid === 1043 || oid === 19
    if ((ndim === 0 || ndim === 1) && (flags === 0 || flags === 1) && textual) {
      if (ndim === 0) return { array: [] }
      const n = bytes.readInt32BE(12)
      let at = 20
      const out = []
      for (let i = 0; i < n; i++) {
        const len = bytes.readInt32BE(at)
        at += 4
        if (len < 0) out.push(null)
        else {
          out.push(bytes.toString('utf8', at, at + len))
          at += len
        }
      }
      if (at === bytes.length) return { array: out }
    }
  }
  const s = bytes.toString('utf8')
  // Printable text is text; otherwise keep the bytes.
  if (/^[\x20-\x7e\u00a0-\uffff]*$/.test(s)) return s
  return { hex: bytes.toString('hex') }
}

/** Parses frontend messages out of one connection's client->server stream. */
class FrontendParser {
  constructor(onMessage, onSslRequest = () => {}) {
    this.buf = Buffer.alloc(0)
    this.started = false
    this.onMessage = onMessage
    this.onSslRequest = onSslRequest
  }
  push(chunk) {
    this.buf = this.buf.length ? Buffer.concat([this.buf, chunk]) : chunk
    for (;;) {
      if (!this.started) {
        if (this.buf.length < 8) return
        const len = this.buf.readInt32BE(0)
        if (this.buf.length < len) return
        const code = this.buf.readInt32BE(4)
        this.buf = this.buf.subarray(len)
        if (code === SSL_REQUEST || code === GSSENC_REQUEST) this.onSslRequest()
        if (code === SSL_REQUEST || code === GSSENC_REQUEST || code === CANCEL_REQUEST) continue
        this.started = true // StartupMessage
        continue
      }
      if (this.buf.length < 5) return
      const type = String.fromCharCode(this.buf[0])
      const len = this.buf.readInt32BE(1)
      if (this.buf.length < 1 + len) return
      const body = this.buf.subarray(5, 1 + len)
      this.buf = this.buf.subarray(1 + len)
      this.onMessage(type, body)
    }
  }
}

/**
 * Finds the ReadyForQuery messages in one connection's server->client stream
 * (type byte and length framed, except the one-byte answer to an SSLRequest).
 */
class BackendParser {
  constructor(onReady) {
    this.buf = Buffer.alloc(0)
    this.sslAnswers = 0
    this.onReady = onReady
  }
  push(chunk) {
    this.buf = this.buf.length ? Buffer.concat([this.buf, chunk]) : chunk
    for (;;) {
      if (this.sslAnswers > 0) {
        if (this.buf.length < 1) return
        this.sslAnswers--
        this.buf = this.buf.subarray(1)
        continue
      }
      if (this.buf.length < 5) return
      const len = this.buf.readInt32BE(1)
      if (this.buf.length < 1 + len) return
      if (this.buf[0] === 0x5a) this.onReady()
      this.buf = this.buf.subarray(1 + len)
    }
  }
}

function parseMessage(type, body) {
  switch (type) {
    case 'Q':
      return { type, sql: cstring(body, 0)[0] }
    case 'P': {
      const [name, at] = cstring(body, 0)
      const [sql] = cstring(body, at)
      return { type, name, sql }
    }
    case 'B': {
      let [portal, at] = cstring(body, 0)
      let statement
      ;[statement, at] = cstring(body, at)
      const nFormats = body.readInt16BE(at)
      at += 2
      const formats = []
      for (let i = 0; i < nFormats; i++, at += 2) formats.push(body.readInt16BE(at))
      const nParams = body.readInt16BE(at)
      at += 2
      const params = []
      for (let i = 0; i < nParams; i++) {
        const len = body.readInt32BE(at)
        at += 4
        const bytes = len < 0 ? null : body.subarray(at, at + len)
        if (len > 0) at += len
        const fmt = nFormats === 0 ? 0 : nFormats === 1 ? formats[0] : formats[i]
        params.push(decodeParam(bytes, fmt === 1))
      }
      return { type, portal, statement, params }
    }
    default:
      return { type }
  }
}

/**
 * Starts the proxy. Resolves to { port, url(base), events, mark(), since(mark), close() }.
 * events: every frontend message seen, in order, as { type, sql?, name?, statement?, params? },
 * and each ReadyForQuery the server sent, as { type: 'Z', server: true }.
 */
async function startTap(targetUrl) {
  const target = new URL(targetUrl)
  const host = target.hostname || '127.0.0.1'
  const targetPort = Number(target.port || 5432)
  const events = []
  const sockets = new Set()
  let connections = 0
  const server = net.createServer((client) => {
    const upstream = net.connect(targetPort, host)
    const conn = ++connections
    const statements = new Map() // this connection's prepared statements: name -> sql
    sockets.add(client)
    sockets.add(upstream)
    const backend = new BackendParser(() => events.push({ type: 'Z', server: true, conn }))
    const parser = new FrontendParser(
      (type, body) => {
        const m = parseMessage(type, body)
        m.conn = conn
        // The unnamed statement ('') is the last one parsed without a name (per connection).
        if (m.type === 'P') statements.set(m.name || '', m.sql)
        if (m.type === 'B') m.sql = statements.get(m.statement || '')
        events.push(m)
      },
      () => backend.sslAnswers++,
    )
    client.on('data', (d) => {
      try {
        parser.push(d)
      } catch (e) {
        events.push({ type: '!', error: String(e) })
      }
      upstream.write(d)
    })
    upstream.on('data', (d) => {
      try {
        backend.push(d)
      } catch (e) {
        events.push({ type: '!', error: String(e) })
      }
      client.write(d)
    })
    const end = () => {
      client.destroy()
      upstream.destroy()
      sockets.delete(client)
      sockets.delete(upstream)
    }
    client.on('error', end)
    upstream.on('error', end)
    client.on('close', end)
    upstream.on('close', end)
  })
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address()
  const proxied = new URL(targetUrl)
  proxied.hostname = '127.0.0.1'
  proxied.port = String(port)
  return {
    port,
    url: proxied.toString(),
    events,
    mark: () => events.length,
    since: (mark) => events.slice(mark),
    async close() {
      for (const s of sockets) s.destroy()
      await new Promise((resolve) => server.close(resolve))
    },
  }
}

/**
 * What one operation sent: round trips (each Sync or simple Query is answered
 * by one ReadyForQuery; one sent while none is outstanding on its connection
 * starts a round trip, one sent before the answers to those before it travels
 * with them), counted per connection and added up; `sequentialRoundTrips`:
 * the same counted across all connections at once (a round trip on one
 * connection while another is waiting on a second one overlaps it in time, so
 * this is the number of RTTs on the operation's critical path, <= roundTrips);
 * `connections` used, the Syncs and simple Queries in all (`messages`), and the
 * statements in order (simple queries and executed prepared statements).
 */
function describeTraffic(events) {
  const outstanding = new Map()
  let anyOutstanding = 0
  let roundTrips = 0
  let sequentialRoundTrips = 0
  let messages = 0
  for (const e of events) {
    const k = e.conn || 0
    const o = outstanding.get(k) || 0
    if (e.type === 'Z' && e.server) {
      if (o > 0) {
        outstanding.set(k, o - 1)
        anyOutstanding--
      }
    } else if (e.type === 'S' || e.type === 'Q') {
      if (o === 0) roundTrips++
      if (anyOutstanding === 0) sequentialRoundTrips++
      outstanding.set(k, o + 1)
      anyOutstanding++
      messages++
    }
  }
  const parses = events.filter((e) => e.type === 'P').length
  const statements = events
    .filter((e) => e.type === 'Q' || e.type === 'B')
    .map((e) => (e.sql || '?').replace(/\s+/g, ' ').trim())
  const connections = new Set(events.filter((e) => e.type === 'S' || e.type === 'Q').map((e) => e.conn || 0)).size
  return { roundTrips, sequentialRoundTrips, connections, messages, parses, statements }
}

module.exports = { startTap, describeTraffic, decodeParam }
