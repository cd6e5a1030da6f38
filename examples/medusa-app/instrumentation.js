'use strict'
// OpenTelemetry as a Medusa app sets it up: `medusa start` calls register() before it
// loads the modules. The inventory module needs nothing more: it finds the app's
// @opentelemetry/api and traces into the tracer and meter registered here.
//
// In this example it is on only with OTEL_TEST=1, exporting into memory for
// test/otel.test.js, which reads the spans and metrics through GET /otel-test.
exports.register = function register() {
  if (process.env.OTEL_TEST !== '1') return
  const { registerOtel } = require('@medusajs/medusa')
  const { InMemorySpanExporter } = require('@medusajs/framework/opentelemetry/sdk-trace-node')
  const { MetricReader } = require('@opentelemetry/sdk-metrics')

  // Collects when asked (the route), never on a timer.
  class OnDemandReader extends MetricReader {
    async onForceFlush() {}
    async onShutdown() {}
  }
  const exporter = new InMemorySpanExporter()
  const reader = new OnDemandReader()
  globalThis.__inventoryOtelTest = { exporter, reader }
  registerOtel({
    serviceName: 'medusa-inventory-rs-example',
    exporter,
    instrument: { http: true, workflows: true, query: true },
    metricReaders: [reader],
  })
}
