'use strict'
// The package as users get it.
//
//   node scripts/pack.js [--glibc217]      (npm run pack:local) build the published addon when stale
//                                          (needs Rust), then `npm pack` into packed/ (emptied first):
//                                          the main package and, when the project has napi-rs platform
//                                          packages (npm/<platform>/package.json), the host's one with
//                                          that binary copied in. --glibc217: as scripts/ensure-built.js.
//   node scripts/pack.js --plugin          only the plugin step below (npm publish runs it first:
//                                          prepublishOnly). Needs no Rust.
//   node scripts/pack.js --install <dir>   `npm install --no-save` every tarball in packed/ into the
//                                          project at <dir>, all in one command so the main package's
//                                          optionalDependencies find the platform package among them.
//                                          Needs no Rust.
//
// --no-save keeps the tarballs out of <dir>'s package.json and package-lock.json: their hashes
// change on every rebuild, and a lock pinning one would break the next `npm ci`.
//
// The Medusa plugin (plugin/: the admin widget and its API routes) is built with
// `medusa plugin:build` when stale (its dependencies installed with `npm ci` when missing)
// and its .medusa/server/src copied to the root's .medusa/server/src, which the package
// ships ("files") and Medusa's plugin loader reads (package.json `exports["./admin"]`).
//
// The published addon is built without the `test-hooks` feature, in target/addon/publish, apart
// from the test build at the root (scripts/ensure-built.js). The loader and types that build
// generates must be the committed index.js and index.d.ts: those are what the package ships.
const fs = require('node:fs')
const path = require('node:path')
const { execFileSync } = require('node:child_process')
const { root, binaryName, outdated, napiBuild } = require('./ensure-built.js')

const out = path.join(root, 'packed')
const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm'

function fail(msg) {
  console.error(`[pack] ${msg}`)
  process.exit(1)
}

/** npm/<dir> names napi-rs gives this host, most specific first. */
function hostPlatformDirs() {
  const base = `${process.platform}-${process.arch}`
  if (process.platform === 'linux') {
    const glibc = process.report && process.report.getReport().header.glibcVersionRuntime
    return glibc ? [`${base}-gnu`] : [`${base}-musl`]
  }
  if (process.platform === 'win32') return [`${base}-msvc`]
  return [base]
}

/** Newest modification time (ms) of the files under `p` (a file or a directory); 0 when missing. */
function newest(p, skip = () => false) {
  let st
  try {
    st = fs.statSync(p)
  } catch {
    return 0
  }
  if (!st.isDirectory()) return st.mtimeMs
  let t = 0
  for (const e of fs.readdirSync(p)) if (!skip(e)) t = Math.max(t, newest(path.join(p, e), skip))
  return t
}

/** The plugin's build, up to date, copied into the root's .medusa/server/src. */
function pluginBuild() {
  const dir = path.join(root, 'plugin')
  const built = path.join(dir, '.medusa', 'server', 'src')
  const need = [path.join('admin', 'index.mjs'), path.join('admin', 'index.js'), path.join('api', 'middlewares.js')]
  const sources = Math.max(
    newest(path.join(dir, 'src')),
    ...['package.json', 'package-lock.json', 'tsconfig.json'].map((f) => newest(path.join(dir, f))),
  )
  const outputs = need.map((f) => newest(path.join(built, f)))
  if (outputs.some((t) => t === 0) || Math.min(...outputs) < sources) {
    if (!fs.existsSync(path.join(dir, 'node_modules', '@medusajs', 'cli'))) {
      console.log("[pack] installing the plugin's build dependencies (plugin/: npm ci)")
      execFileSync(npm, ['ci', '--no-audit', '--no-fund'], { cwd: dir, stdio: 'inherit' })
    }
    console.log('[pack] medusa plugin:build (plugin/)')
    execFileSync(process.execPath, [path.join(dir, 'node_modules', '@medusajs', 'cli', 'cli.js'), 'plugin:build'], {
      cwd: dir,
      stdio: 'inherit',
      // production: the CLI does not try to load ts-node (the build compiles with TypeScript itself).
      env: { ...process.env, NODE_ENV: 'production', MEDUSA_DISABLE_TELEMETRY: 'true' },
    })
  } else {
    console.log('[pack] plugin build is up to date (plugin/.medusa/server)')
  }
  for (const f of need)
    if (!fs.existsSync(path.join(built, f))) fail(`plugin build has no ${f} (plugin/.medusa/server/src)`)
  const into = path.join(root, '.medusa', 'server')
  fs.rmSync(into, { recursive: true, force: true })
  fs.mkdirSync(into, { recursive: true })
  fs.cpSync(built, path.join(into, 'src'), { recursive: true })
}

/** `npm pack` of `dir` into packed/; returns the tarball's path and file list. */
function pack(dir) {
  const json = execFileSync(npm, ['pack', '--json', '--pack-destination', out], {
    cwd: dir,
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
  })
  const [info] = JSON.parse(json)
  const file = path.join(out, info.filename)
  console.log(`[pack] ${path.relative(root, file)} (${info.files.length} files, ${info.size} bytes)`)
  return { file, files: info.files.map((f) => f.path) }
}

/** The published addon (no test hooks), built when stale; its generated loader checked. */
function publishedBinary(glibc217) {
  const dir = path.join(root, 'target', 'addon', 'publish')
  const binary = path.join(dir, binaryName)
  if (outdated(binary)) napiBuild({ outDir: dir, glibc217 })
  else console.log(`[pack] published addon is up to date (${path.relative(root, binary)})`)
  for (const f of ['index.js', 'index.d.ts']) {
    if (fs.readFileSync(path.join(dir, f), 'utf8') !== fs.readFileSync(path.join(root, f), 'utf8')) {
      fail(
        `${f} differs from what the build generates (${path.relative(root, path.join(dir, f))}): run \`npm run build\` and commit it`,
      )
    }
  }
  return binary
}

function packAll(glibc217) {
  const built = publishedBinary(glibc217)
  pluginBuild()
  fs.rmSync(out, { recursive: true, force: true })
  fs.mkdirSync(out)

  const main = pack(root)
  for (const f of ['.medusa/server/src/admin/index.mjs', '.medusa/server/src/api/middlewares.js']) {
    if (!main.files.includes(f)) fail(`the package lacks ${f}: check "files" in package.json`)
  }
  const tarballs = [main]
  const platformDir = hostPlatformDirs()
    .map((d) => path.join(root, 'npm', d))
    .find((d) => fs.existsSync(path.join(d, 'package.json')))
  if (platformDir) {
    const pkg = JSON.parse(fs.readFileSync(path.join(platformDir, 'package.json'), 'utf8'))
    const binary = pkg.main
    if (binary !== binaryName) {
      fail(
        `${path.relative(root, platformDir)}/package.json names "main": ${JSON.stringify(binary)}, not ${binaryName}`,
      )
    }
    fs.copyFileSync(built, path.join(platformDir, binary))
    tarballs.push(pack(platformDir))
  }
  // Whatever the layout, what a user installs must carry a native binary for this host.
  if (!tarballs.some((t) => t.files.some((f) => f.endsWith('.node')))) {
    fail('no tarball contains a *.node binary: check "files" in package.json (or the npm/<platform> package)')
  }
}

function installInto(dir) {
  const tarballs = fs.existsSync(out) ? fs.readdirSync(out).filter((f) => f.endsWith('.tgz')) : []
  if (tarballs.length === 0) {
    fail(`no tarballs in ${out}: run \`npm run pack:local\` at the repository root first (it needs Rust to build)`)
  }
  const files = tarballs.map((f) => path.join(out, f))
  console.log(`[pack] npm install --no-save into ${dir}: ${tarballs.join(' ')}`)
  execFileSync(npm, ['install', '--no-save', '--no-audit', '--no-fund', ...files], { cwd: dir, stdio: 'inherit' })
}

const args = process.argv.slice(2)
if (args[0] === '--install') {
  if (!args[1]) fail('usage: node scripts/pack.js --install <project dir>')
  installInto(path.resolve(args[1]))
} else if (args.length === 1 && args[0] === '--plugin') {
  pluginBuild()
} else if (args.length === 0 || (args.length === 1 && args[0] === '--glibc217')) {
  packAll(args[0] === '--glibc217')
} else {
  fail('usage: node scripts/pack.js [--glibc217] | --plugin | --install <project dir>')
}
