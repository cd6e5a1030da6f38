'use strict'
// Which directory may load which: the published code (lib/, medusa/, medusa-v1/, bin/) loads neither
// scripts/ nor __test__/; scripts/ (tools, and the harnesses they share with the tests,
// in scripts/lib/) never load from __test__/; tests may load scripts/ (they test them).
const fs = require('node:fs')
const path = require('node:path')

const ROOT = path.resolve(__dirname, '..')

function sources(dir) {
  const out = []
  for (const entry of fs.readdirSync(path.join(ROOT, dir), { withFileTypes: true })) {
    const rel = path.join(dir, entry.name)
    if (entry.isDirectory()) out.push(...sources(rel))
    else if (/\.(c|m)?js$/.test(entry.name)) out.push(rel)
  }
  return out
}

/** Every module specifier a file loads: require(), import … from, import(), and files it forks. */
function loads(file) {
  const text = fs.readFileSync(path.join(ROOT, file), 'utf8')
  const specs = [
    ...text.matchAll(
      /\brequire\(\s*['"`]([^'"`]+)['"`]\s*\)|\bfrom\s+['"]([^'"]+)['"]|\bimport\(\s*['"`]([^'"`]+)['"`]\s*\)|\bpath\.(?:join|resolve)\(\s*__dirname\s*,([^)]*)\)/g,
    ),
  ]
  return specs.map(
    (m) =>
      m[1] ??
      m[2] ??
      m[3] ??
      m[4]
        .replace(/['"`\s]/g, '')
        .split(',')
        .join('/'),
  )
}

/** Where a specifier resolves to, relative to the root ('' for a package). */
function target(file, spec) {
  if (!spec.startsWith('.')) return ''
  return path.relative(ROOT, path.resolve(ROOT, path.dirname(file), spec))
}

function offenders(dirs, forbidden) {
  const found = []
  for (const dir of dirs) {
    for (const file of sources(dir)) {
      for (const spec of loads(file)) {
        const to = target(file, spec)
        if (forbidden.some((f) => to === f || to.startsWith(`${f}${path.sep}`))) found.push(`${file} → ${spec}`)
      }
    }
  }
  return found
}

test('scripts/ loads nothing from __test__/', () => {
  expect(offenders(['scripts'], ['__test__'])).toEqual([])
})

test('the published code (lib/, medusa/, medusa-v1/, bin/) loads nothing from scripts/ or __test__/', () => {
  expect(offenders(['lib', 'medusa', 'medusa-v1', 'bin'], ['scripts', '__test__'])).toEqual([])
})

test("the two Medusa entries load only lib/ of this package: v1's never v2's, nor v2's framework", () => {
  expect(offenders(['medusa-v1'], ['medusa'])).toEqual([])
  expect(offenders(['medusa'], ['medusa-v1'])).toEqual([])
  const v1Loads = sources('medusa-v1').flatMap(loads)
  expect(v1Loads.filter((s) => s.startsWith('@medusajs/') && s !== '@medusajs/utils')).toEqual([])
})
