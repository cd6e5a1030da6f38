'use strict'
// Latency samples (milliseconds) and their summary.

function percentile(sorted, p) {
  if (!sorted.length) return null
  // Nearest-rank on the sorted samples.
  const rank = Math.ceil((p / 100) * sorted.length)
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1]
}

function round(x, digits = 3) {
  if (x === null || x === undefined || !Number.isFinite(x)) return null
  const f = 10 ** digits
  return Math.round(x * f) / f
}

/**
 * samples: per-call latencies in ms; wallMs: elapsed time of the whole run
 * (for sequential runs about the sum of samples; for concurrent runs less).
 */
function summarize(samples, wallMs, extra = {}) {
  const sorted = Float64Array.from(samples).sort()
  const n = sorted.length
  const sum = sorted.reduce((a, b) => a + b, 0)
  return {
    n,
    p50: round(percentile(sorted, 50)),
    p90: round(percentile(sorted, 90)),
    p99: round(percentile(sorted, 99)),
    mean: round(n ? sum / n : null),
    min: round(n ? sorted[0] : null),
    max: round(n ? sorted[n - 1] : null),
    ops_per_s: round(wallMs > 0 ? (n * 1000) / wallMs : null, 1),
    wall_ms: round(wallMs, 1),
    ...extra,
  }
}

/** High-resolution clock in ms. */
function now() {
  return Number(process.hrtime.bigint()) / 1e6
}

/** Small deterministic PRNG (mulberry32), so both modules see the same sequence. */
function rng(seed) {
  let a = seed >>> 0
  return function next() {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

module.exports = { percentile, summarize, round, now, rng }
