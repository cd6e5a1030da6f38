'use strict'
// GET /otel-test: the spans and metrics instrumentation.js exported into memory (only
// with OTEL_TEST=1; 404 otherwise). DELETE /otel-test forgets the spans so far.
const hr = (t) => t[0] * 1e3 + t[1] / 1e6

function exported(res) {
  const otel = globalThis.__inventoryOtelTest
  if (!otel) res.status(404).json({ type: 'not_found', message: 'OTEL_TEST is not set' })
  return otel
}

exports.GET = async (req, res) => {
  const otel = exported(res)
  if (!otel) return
  const spans = otel.exporter.getFinishedSpans().map((s) => ({
    name: s.name,
    traceId: s.spanContext().traceId,
    spanId: s.spanContext().spanId,
    parentSpanId: s.parentSpanContext?.spanId ?? s.parentSpanId ?? null,
    scope: (s.instrumentationScope ?? s.instrumentationLibrary)?.name,
    start: hr(s.startTime),
    end: hr(s.endTime),
    status: s.status.code,
    attributes: s.attributes,
  }))
  const { resourceMetrics } = await otel.reader.collect()
  const metrics = []
  for (const sm of resourceMetrics.scopeMetrics) {
    for (const m of sm.metrics) {
      metrics.push({
        scope: sm.scope.name,
        name: m.descriptor.name,
        points: m.dataPoints.map((p) => ({ attributes: p.attributes, value: p.value })),
      })
    }
  }
  res.json({ spans, metrics })
}

exports.DELETE = async (req, res) => {
  const otel = exported(res)
  if (!otel) return
  otel.exporter.reset()
  res.json({ ok: true })
}
