'use strict'
// No error, CLI output or log text shows a password, whatever the connection string's shape:
// bad URLs of many shapes, TLS failures, authentication failures (a tiny fake server speaking
// the startup protocol, as the machine's Postgres trusts every login; one variant echoes the
// password it received into its error, as a buggy proxy might), SQL errors after a connect,
// the Medusa adapter and the CLI. Every string a caller could see is checked: message,
// String(err), stack, every own property (inspected, `cause` included), stdout and stderr.
const net = require('node:net')
const path = require('node:path')
const util = require('node:util')
const { spawnSync } = require('node:child_process')
const { Client } = require('pg')
const { InventoryService } = require('..')
const medusaModule = require('../medusa')
const { DATABASE_URL, uniqueSchema } = require('./helpers')

jest.setTimeout(60000)

const PW = 's3cr3t-Pa55-XYZ'
// The password, its pieces and its %-encoded forms (encodeURIComponent leaves '-' as is).
const FORMS = [
  PW,
  's3cr3t',
  'Pa55-XYZ',
  's3cr3t%2DPa55%2DXYZ',
  's3cr3t%2dPa55%2dXYZ',
  encodeURIComponent(`${PW} @:/?#`),
]

function hidden(text, what) {
  for (const form of FORMS) {
    if (String(text).includes(form)) throw new Error(`${what} shows the password (${form}):\n${text}`)
  }
}

/** Every text of an error a caller or a logger could print. */
function errorTexts(err) {
  const own = Object.getOwnPropertyNames(err).map((k) => `${k}: ${util.inspect(err[k], { depth: 10 })}`)
  return [
    err.message,
    String(err),
    err.stack,
    util.inspect(err, { showHidden: true, depth: 10 }),
    JSON.stringify(err),
    ...own,
  ].join('\n')
}

async function rejection(promise) {
  try {
    await promise
  } catch (e) {
    return e
  }
  throw new Error('expected a rejection')
}

const db = new URL(DATABASE_URL)
const HOST = db.hostname
const PORT = db.port || '5432'
const DBNAME = db.pathname.slice(1) || 'postgres'
// Roles whose passwords are PW and PW with URL delimiters in it: the machine's Postgres trusts
// every login, the embedded one of `npm test` checks passwords, so the accepted shapes below
// log in either way.
const USER = `secrets_${process.pid}`
const AT_PW = `${PW}@x`
const ODD_PW = `${PW} @:/?#'`
const ROLES = { [USER]: PW, [`${USER}_at`]: AT_PW, [`${USER}_odd`]: ODD_PW }

let admin
beforeAll(async () => {
  admin = new Client({ connectionString: DATABASE_URL })
  await admin.connect()
  for (const [role, password] of Object.entries(ROLES)) {
    await admin.query(`DROP ROLE IF EXISTS ${role}`)
    await admin.query(`CREATE ROLE ${role} LOGIN PASSWORD '${password.replace(/'/g, "''")}'`)
  }
})
afterAll(async () => {
  if (!admin) return
  for (const role of Object.keys(ROLES)) await admin.query(`DROP ROLE IF EXISTS ${role}`)
  await admin.end()
})

// Shapes that are no connection string: refused as invalid_data, never echoed.
const BAD = [
  `postgis://u:${PW}@h/db`,
  `POSTGIS://u:${PW}@h/db`,
  `mysql://u:${PW}@h/db`,
  `postgres:/u:${PW}@h/db`,
  `postgres:u:${PW}@h/db`,
  `postgres:`,
  ` postgis://u:${PW}@h/db `,
  `"postgis://u:${PW}@h/db"`,
  `'postgres:/u:${PW}@h/db'`,
  `u:${PW}@h/db`,
  PW,
  `host=h password=${PW} sslmode`,
  `host=h password=s3cr3t Pa55-XYZ`,
  `host=h password='${PW}`,
  `host=h password=${PW} port=notaport`,
  `postgres://u:${PW}@h:notaport/db`,
  `postgres://u:${PW}@[::1/db`,
  `postgres://u:${PW}@h/db?nonsense=1`,
  `postgres://u@h/db?password=${PW}&${PW}`,
  `postgres://u:${encodeURIComponent(PW)}@h/db?sslmode=${PW}`,
  `postgres://u:${PW}@h/db?sslrootcert=%zz`,
  `postgres://u:${PW}@h/db\u0000`,
  `postgres://u:${PW}@h/db?application_name=${'x'.repeat(70000)}`,
  `postgres://u:${PW}@h/db?options=%FF%FE`,
  `postgres://u:${PW}@h/db?\uD800`,
]

// The machine's database in shapes libpq would refuse or misread, each holding the password:
// accepted (trust auth ignores it), and every later error keeps it out. `q` adds URL parameters.
const URL_PW = `postgres://${USER}:${PW}@${HOST}:${PORT}/${DBNAME}`
const GOOD = [
  (q) => `  ${URL_PW}${q ? `?${q}` : ''}\n`,
  (q) => `"${URL_PW}${q ? `?${q}` : ''}"`,
  (q) => `'${URL_PW}${q ? `?${q}` : ''}'`,
  (q) => `${URL_PW.replace('postgres://', 'POSTGRES://')}${q ? `?${q}` : ''}`,
  (q) => `${URL_PW.replace('postgres://', 'PostgreSQL://')}${q ? `?${q}` : ''}`,
  (q) => `postgres://${USER}_at:${AT_PW}@${HOST}:${PORT}/${DBNAME}${q ? `?${q}` : ''}`,
  (q) => `postgres://${USER}@${HOST}:${PORT}/${DBNAME}?password=${encodeURIComponent(PW)}${q ? `&${q}` : ''}`,
  (q) =>
    ` host=${HOST} port=${PORT} dbname=${DBNAME} user=${USER}_odd password='${ODD_PW.replace(/'/g, "\\'")}' ${q.replace(/&/g, ' ')}`,
]

// TLS failures: a missing CA file, an untrusted (or plain) server, missing client certificate
// files, a file that is no certificate.
const TLS_FAILURES = [
  'sslmode=verify-full&sslrootcert=/nonexistent/ca.pem',
  'sslmode=verify-full',
  'sslmode=verify-ca',
  'sslmode=require&sslcert=/nonexistent/c.pem&sslkey=/nonexistent/c.key',
  'sslmode=require&sslcert=/nonexistent/c.pem',
  `sslmode=verify-full&sslrootcert=${__filename}`,
]

test('connection strings of every shape are refused as invalid_data naming the url option, never showing the password', async () => {
  for (const url of BAD) {
    const err = await rejection(InventoryService.connect({ url, maxConnections: 1 }))
    expect([url.slice(0, 60), err.type]).toEqual([url.slice(0, 60), 'invalid_data'])
    expect(err.message).toMatch(/url|URL|sslmode|options/)
    hidden(errorTexts(err), `connect(${JSON.stringify(url.slice(0, 80))})`)
  }
})

test('shapes libpq misreads (spaces, quotes, upper-case scheme, @ in the password) connect; SQL and TLS errors then hide the password', async () => {
  for (const shape of GOOD) {
    const url = shape('')
    const schema = uniqueSchema('secrets')
    const inventory = await InventoryService.connect({ url, schema, maxConnections: 1 }).catch((e) => {
      throw new Error(`${JSON.stringify(url)} refused: ${e.message}`)
    })
    try {
      // SQL errors: no tables in this schema; an id that does not exist; invalid input.
      for (const call of [
        () => inventory.listInventoryItems({}, {}),
        () => inventory.retrieveInventoryItem('iitem_missing'),
        () => inventory.createInventoryItems({ sku: 5 }),
      ]) {
        const err = await rejection(call())
        expect(typeof err.type).toBe('string')
        hidden(errorTexts(err), `a call through ${JSON.stringify(url)}`)
      }
    } finally {
      await inventory.close()
    }
    for (const query of TLS_FAILURES) {
      const err = await rejection(InventoryService.connect({ url: shape(query), maxConnections: 1 }))
      expect(['invalid_data', 'database_error']).toContain(err.type)
      expect(err.message).toMatch(/ssl|TLS/)
      hidden(errorTexts(err), `connect with ${JSON.stringify(shape(query))}`)
    }
  }
})

/**
 * A server that speaks just enough of the protocol to ask for a password and refuse it:
 * `cleartext` echoes the password it received in its error message (a buggy proxy), `scram`
 * offers SCRAM-SHA-256 and refuses the first response, `md5` asks for an MD5 hash.
 */
async function fakeAuthServer(mode) {
  const sockets = new Set()
  const server = net.createServer((socket) => {
    sockets.add(socket)
    socket.on('error', () => {})
    socket.on('close', () => sockets.delete(socket))
    let buf = Buffer.alloc(0)
    let started = false
    const send = (type, body) => {
      const head = Buffer.alloc(5)
      head.write(type, 0)
      head.writeInt32BE(body.length + 4, 1)
      socket.write(Buffer.concat([head, body]))
    }
    const int32 = (n) => {
      const b = Buffer.alloc(4)
      b.writeInt32BE(n)
      return b
    }
    const fail = (message) => {
      const fields = [
        ['S', 'FATAL'],
        ['V', 'FATAL'],
        ['C', '28P01'],
        ['M', message],
      ]
      send('E', Buffer.concat([...fields.map(([k, v]) => Buffer.from(`${k}${v}\0`)), Buffer.from([0])]))
      socket.end()
    }
    socket.on('data', (d) => {
      buf = Buffer.concat([buf, d])
      for (;;) {
        if (!started) {
          if (buf.length < 8) return
          const len = buf.readInt32BE(0)
          if (buf.length < len) return
          const code = buf.readInt32BE(4)
          buf = buf.subarray(len)
          if (code === 80877103) {
            socket.write('N') // no TLS
            continue
          }
          started = true
          if (mode === 'cleartext') send('R', int32(3))
          else if (mode === 'md5') send('R', Buffer.concat([int32(5), Buffer.from([1, 2, 3, 4])]))
          else send('R', Buffer.concat([int32(10), Buffer.from('SCRAM-SHA-256\0\0')]))
          continue
        }
        if (buf.length < 5) return
        const len = buf.readInt32BE(1)
        if (buf.length < len + 1) return
        const body = buf.subarray(5, len + 1)
        buf = buf.subarray(len + 1)
        if (mode === 'cleartext')
          fail(
            `password authentication failed for user "u": got "${body.subarray(0, body.length - 1)}" (${encodeURIComponent(body.subarray(0, body.length - 1))})`,
          )
        else fail('password authentication failed for user "u"')
      }
    })
  })
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve))
  return {
    port: server.address().port,
    close() {
      for (const s of sockets) s.destroy()
      return new Promise((resolve) => server.close(resolve))
    },
  }
}

test('authentication failures (cleartext echoed back by the server, MD5, SCRAM) hide the password', async () => {
  for (const mode of ['cleartext', 'md5', 'scram']) {
    const fake = await fakeAuthServer(mode)
    try {
      for (const url of [
        `postgres://u:${PW}@127.0.0.1:${fake.port}/db`,
        `postgres://u:${encodeURIComponent(PW)}@127.0.0.1:${fake.port}/db`,
        `host=127.0.0.1 port=${fake.port} user=u dbname=db password='${PW}'`,
        `postgres://u@127.0.0.1:${fake.port}/db?password=${PW}`,
      ]) {
        const err = await rejection(InventoryService.connect({ url, maxConnections: 1 }))
        expect(err.type).toBe('database_error')
        expect(err.message).toMatch(/password authentication failed/)
        hidden(errorTexts(err), `${mode} auth via ${url}`)
      }
    } finally {
      await fake.close()
    }
  }
})

test('the Medusa adapter (migrations and loader) hides the password of a bad or refused URL', async () => {
  const fake = await fakeAuthServer('cleartext')
  try {
    for (const clientUrl of [
      `postgis://u:${PW}@h/db`,
      ` POSTGRES:/u:${PW}@h/db`,
      `postgres://u:${PW}@127.0.0.1:${fake.port}/db`,
    ]) {
      const options = { database: { clientUrl } }
      const migrate = await rejection(medusaModule.runMigrations({ options }))
      expect(['invalid_data', 'database_error']).toContain(migrate.type)
      hidden(errorTexts(migrate), `runMigrations(${clientUrl})`)
      const load = await rejection(medusaModule.loaders[0]({ container: { register() {} }, options }))
      expect(load.type).toBe(migrate.type)
      hidden(errorTexts(load), `loader(${clientUrl})`)
    }
  } finally {
    await fake.close()
  }
})

test('the CLI hides the password: --url, DATABASE_URL, a URL given without --url, a refused login', async () => {
  const fake = await fakeAuthServer('cleartext')
  const bin = path.join(__dirname, '..', 'bin', 'medusa-inventory-rs.js')
  const cli = (args, env = {}) => {
    const r = spawnSync(process.execPath, [bin, ...args], {
      env: { ...process.env, ...env },
      encoding: 'utf8',
      timeout: 30000,
    })
    return { code: r.status, out: `${r.stdout}\n${r.stderr}` }
  }
  try {
    const bad = `postgis://u:${PW}@h/db`
    const refused = `postgres://u:${PW}@127.0.0.1:${fake.port}/db`
    const runs = [
      cli(['reconcile', '--dry-run', '--url', bad]),
      cli(['verify', `--url=${bad}`]),
      cli(['prune', '--days', '1', '--url', ` "${bad.toUpperCase()}" `]),
      cli(['reconcile', '--dry-run'], { DATABASE_URL: bad }),
      cli(['verify'], { DATABASE_URL: `POSTGRES:/u:${PW}@h/db` }),
      cli(['reconcile', refused]),
      cli([refused]),
      cli(['verify', `--${PW}`]),
      cli(['verify', '--url', refused]),
      cli(['reconcile'], { DATABASE_URL: refused }),
    ]
    for (const [i, r] of runs.entries()) {
      expect([i, r.code]).toEqual([i, 2])
      hidden(r.out, `CLI run ${i}`)
    }
  } finally {
    await fake.close()
  }
})
