// Type-checked by `npm run typecheck`, never run: the v1 entry as Medusa v1's core calls it.
import definition, { InventoryServiceV1, type ReservationItemV1 } from 'medusa-inventory-rs/medusa-v1'

export async function v1(svc: InventoryServiceV1, transactionManager: unknown): Promise<void> {
  const [items, count]: [{ id: string }[], number] = await svc.listInventoryItems(
    { sku: { contains: 'SHIRT' } },
    { take: 20 },
  )
  const ok: boolean = await svc.confirmInventory(items[0].id, 'sloc_1', count)
  const reservations: ReservationItemV1[] = await svc.createReservationItems(
    [{ inventory_item_id: items[0].id, location_id: 'sloc_1', quantity: 1, line_item_id: 'item_1' }],
    { transactionManager },
  )
  const available: number = await svc.retrieveAvailableQuantity(items[0].id, ['sloc_1'])
  const level = await svc.adjustInventory(items[0].id, 'sloc_1', -1, { transactionManager })
  void [ok, reservations, available, level.stocked_quantity, definition.migrations.length]
  // @ts-expect-error v1 lists take a selector and a config, not v2's context first
  await svc.listInventoryLevels({ stocked_quantity: { $gte: 1 } })
}
