'use strict'
// The package as users get it.
//
//   node scripts/pack.js                   (npm run pack:local) build the addon when stale (needs
//                                          Rust), then `npm pack` into packed/ (emptied first): the
//                                          main package and, when the project has napi-rs platform
//                                          packages (npm/<platform>/package.json), the host's one with
//                                          the freshly built binary copied in.
//   node scripts/pack.js --install <dir>   `npm install --no-save` every tarball in packed/ into the
//                                          project at <dir>, all in one command so the main package's
//                                          optionalDependencies find the platform package among them.
//                                          Needs no Rust.
//
// --no-save keeps the tarballs out of <dir>'s package.json and package-lock.json: their hashes
// change on every rebuild, and a lock pinning one would break the next `npm ci`.
const fs = require('node:fs')
const path = require('node:path')
const { execFileSync } = require('node:child_process')

const root = path.resolve(__dirname, '..')
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

function packAll() {
  execFileSync(process.execPath, [path.join(__dirname, 'ensure-built.js')], { cwd: root, stdio: 'inherit' })
  fs.rmSync(out, { recursive: true, force: true })
  fs.mkdirSync(out)

  const main = pack(root)
  const tarballs = [main]
  const platformDir = hostPlatformDirs()
    .map((d) => path.join(root, 'npm', d))
    .find((d) => fs.existsSync(path.join(d, 'package.json')))
  if (platformDir) {
    const pkg = JSON.parse(fs.readFileSync(path.join(platformDir, 'package.json'), 'utf8'))
    const binary = pkg.main
    if (!binary || !fs.existsSync(path.join(root, binary))) {
      fail(`${path.relative(root, platformDir)}/package.json names "main": ${JSON.stringify(binary)}, not a built file at the root`)
    }
    fs.copyFileSync(path.join(root, binary), path.join(platformDir, binary))
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
} else if (args.length === 0) {
  packAll()
} else {
  fail('usage: node scripts/pack.js [--install <project dir>]')
}
