// Type-checked by `npm run typecheck`, never run: medusa-inventory-rs/testing imported from an ES module.
import { createTestInventory, startTestDatabase, type TestInventory } from 'medusa-inventory-rs/testing'
import kit from 'medusa-inventory-rs/testing'

export async function esmUsage(): Promise<number> {
  await startTestDatabase()
  const k: TestInventory = await kit.createTestInventory({ schemaPrefix: 'orders' })
  const other: TestInventory = await createTestInventory()
  const { available } = await k.level('A', 'loc_1')
  await Promise.all([k.cleanup(), other.cleanup()])
  return available
}
