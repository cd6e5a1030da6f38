// Type-checked by `npm run typecheck` (tsc --noEmit), never run: medusa-inventory-rs/testing as
// a user's test calls it, and wrong calls rejected.
import {
  createTestInventory,
  InvariantError,
  maskUrl,
  medusaModuleRunnerOptions,
  sweepTestSchemas,
  startTestDatabase,
  stopTestDatabase,
  TestKitError,
} from 'medusa-inventory-rs/testing'
import type { LevelQuantities, SeededItem, TestInventory } from 'medusa-inventory-rs/testing'

export async function kitUsage(): Promise<void> {
  const { url, embedded }: { url: string; embedded: boolean } = await startTestDatabase({ log: console.log })
  const kit: TestInventory = await createTestInventory({ groupReservations: { forceGroupOf: 2 }, maxConnections: 4 })
  const ids: Record<string, SeededItem> = await kit.seed([
    { sku: 'A', location: 'loc_1', stocked: 10, reserved: 2 },
    { sku: 'B', location: 'loc_1', stocked: 1, reserved: [1, 2], backorder: true },
    { sku: 'C' },
  ])
  const itemId: string = ids.A!.id
  const levelId: string | undefined = ids.A!.levels['loc_1']
  const q: LevelQuantities = await kit.level(itemId, 'loc_1')
  const available: number = q.available
  const reservation = await kit.inventory.createReservationItems({
    inventory_item_id: itemId,
    location_id: 'loc_1',
    quantity: 1,
  })
  const rows = await kit.sql<{ n: number }>('SELECT count(*)::int AS n FROM reservation_item WHERE id = $1', [
    reservation.id,
  ])
  const n: number = rows[0]!.n
  const other = await kit.connect({ groupReservations: false })
  await other.listInventoryItems({})
  const cut: number = await kit.faults.dropConnections()
  try {
    await kit.assertInvariants({ allowNegativeStock: true })
  } catch (e) {
    if (e instanceof InvariantError) console.log(e.violations.map((v) => `${v.kind} ${v.level}: ${v.message}`))
    if (e instanceof TestKitError) console.log(e.code === 'LEVEL_NOT_FOUND')
  }
  console.log(url, embedded, levelId, available, n, cut, maskUrl(kit.url), kit.schema)
  await kit.cleanup()
  await stopTestDatabase()

  // @ts-expect-error schema is the kit's to choose
  await createTestInventory({ schema: 'public' })
  // @ts-expect-error seed rows need a sku
  await kit.seed([{ location: 'loc_1', stocked: 1 }])
  // @ts-expect-error quantities are numbers
  await kit.seed([{ sku: 'A', location: 'loc_1', stocked: '1' }])

  // Spread into @medusajs/test-utils' moduleIntegrationTestRunner.
  const runner = medusaModuleRunnerOptions({
    schemaPrefix: 'shop',
    moduleOptions: { maxConnections: 2 },
    hooks: { afterModuleInit: async (_app, service) => console.log(service) },
  })
  const resolve: 'medusa-inventory-rs/medusa' = runner.resolve
  const schema: string = runner.moduleOptions.database.schema
  await runner.hooks.beforeModuleInit()
  await runner.resetSchema()
  console.log(resolve, schema)
  // @ts-expect-error hooks take functions
  medusaModuleRunnerOptions({ hooks: { beforeModuleInit: 1 } })
  const dropped: string[] = await sweepTestSchemas({ url: 'postgres://localhost/db', olderThanMs: 60_000 })
  console.log(dropped)
  // @ts-expect-error the age is a number of milliseconds
  await sweepTestSchemas({ olderThanMs: '1h' })
}
