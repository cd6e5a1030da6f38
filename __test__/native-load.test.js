'use strict'
// A platform without a binary gets an error naming the platform and the way out,
// not the generated loader's "npm has a bug" message. A child process fakes the
// CPU architecture before the package loads, so the real loader runs unchanged.
const { spawnSync } = require('node:child_process')
const path = require('node:path')

function loadAs(arch) {
  const fake = `Object.defineProperty(process, 'arch', { value: ${JSON.stringify(arch)} })`
  const probe = `try { require(${JSON.stringify(path.join(__dirname, '..'))}); console.log('loaded') }
    catch (e) { console.log(JSON.stringify({ code: e.code, message: e.message, cause: !!e.cause })) }`
  const r = spawnSync(process.execPath, ['-e', `${fake}; ${probe}`], { encoding: 'utf8' })
  expect(r.status).toBe(0)
  return r.stdout.trim()
}

test('an unsupported platform is named and told to build from source', () => {
  const out = JSON.parse(loadAs('riscv64'))
  expect(out.code).toBe('ERR_MEDUSA_INVENTORY_RS_NATIVE')
  expect(out.message).toContain(`process.platform=${process.platform}, arch=riscv64`)
  expect(out.message).toContain('No prebuilt binary is published for this platform')
  expect(out.message).toContain('npm run build')
  expect(out.cause).toBe(true)
})

test('a published platform whose package is missing is told which package to install', () => {
  // A published arch that is not this machine's: its binary is neither here nor installed.
  const other = process.arch === 'arm64' ? 'x64' : 'arm64'
  const out = loadAs(other)
  if (out === 'loaded') throw new Error(`a ${other} binary loaded on ${process.arch}`)
  const { message } = JSON.parse(out)
  const libc =
    process.platform === 'linux'
      ? process.report.getReport().header.glibcVersionRuntime
        ? '-gnu'
        : '-musl'
      : process.platform === 'win32'
        ? '-msvc'
        : ''
  const { version } = require('../package.json')
  expect(message).toContain(`npm install medusa-inventory-rs-${process.platform}-${other}${libc}@${version} `)
})

test('this machine loads its binary', () => {
  expect(loadAs(process.arch)).toBe('loaded')
})
