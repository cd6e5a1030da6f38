// Type-checked by `npm run typecheck` (tsc --noEmit), never run: every method of the
// facade called as a Medusa app calls it, its result used, and wrong calls rejected.
import { InventoryError, InventoryService, methods } from 'medusa-inventory-rs'
import type {
  CallOptions,
  InventoryItemDTO,
  InventoryLevelDTO,
  InventoryMovementDTO,
  InventoryMovementFeedEntry,
  LedgerReport,
  Reconciliation,
  ReservationItemDTO,
} from 'medusa-inventory-rs'
import definition, { InventoryModuleService, joinerConfig, runWithLedgerContext } from 'medusa-inventory-rs/medusa'
import type { IInventoryService } from '@medusajs/types'

export async function standalone(): Promise<void> {
  const inv = await InventoryService.connect({
    url: 'postgres://localhost/shop',
    schema: 'public',
    maxConnections: 5,
    ssl: { rejectUnauthorized: false },
  })
  const version: number = await inv.migrate()
  const ctx: CallOptions = {
    reason: 'received',
    actor: 'user_1',
    reference: 'po_42',
    idempotencyKey: 'po_42:line_1',
    metadata: { dock: 3 },
  }

  const item: InventoryItemDTO = await inv.createInventoryItems({
    sku: 'SHIRT-M',
    title: 'Shirt',
    requires_shipping: true,
    metadata: { color: 'blue' },
  })
  const items: InventoryItemDTO[] = await inv.createInventoryItems([{ sku: 'A' }, { sku: 'B', weight: 200 }], ctx)
  const updated: InventoryItemDTO = await inv.updateInventoryItems({ id: item.id, title: 'Shirt (M)' })
  const updatedMany: InventoryItemDTO[] = await inv.updateInventoryItems([{ id: item.id, hs_code: '6109' }])
  const listed: InventoryItemDTO[] = await inv.listInventoryItems(
    { sku: { $in: ['A', 'B'] }, q: 'shirt' },
    { take: 20, skip: 0, order: { created_at: 'DESC' }, relations: ['location_levels'] },
  )
  const [page, count]: [InventoryItemDTO[], number] = await inv.listAndCountInventoryItems(
    { $or: [{ sku: 'A' }, { title: { $ilike: '%shirt%' } }] },
    { select: ['id', 'sku', 'stocked_quantity'] },
  )
  const one: InventoryItemDTO = await inv.retrieveInventoryItem(item.id, { relations: ['location_levels'] }, ctx)
  const created: Date = one.created_at
  await inv.softDeleteInventoryItems([item.id], { returnLinkableKeys: ['inventory_item_id'] })
  await inv.restoreInventoryItems([item.id])
  await inv.deleteInventoryItems(items.map((i) => i.id))

  const level: InventoryLevelDTO = await inv.createInventoryLevels({
    inventory_item_id: item.id,
    location_id: 'sloc_1',
    stocked_quantity: 10,
    incoming_quantity: '2',
  })
  const levels: InventoryLevelDTO[] = await inv.createInventoryLevels([
    { inventory_item_id: item.id, location_id: 'sloc_2', stocked_quantity: { value: '5', precision: 20 } },
  ])
  await inv.updateInventoryLevels({ inventory_item_id: item.id, location_id: 'sloc_1', stocked_quantity: 12 })
  await inv.updateInventoryLevels([{ inventory_item_id: item.id, location_id: 'sloc_2', incoming_quantity: 1 }], ctx)
  const levelList: InventoryLevelDTO[] = await inv.listInventoryLevels({
    inventory_item_id: item.id,
    location_id: ['sloc_1', 'sloc_2'],
  })
  const [, levelCount]: [InventoryLevelDTO[], number] = await inv.listAndCountInventoryLevels(
    { stocked_quantity: { $gt: 0 } },
    { take: 10 },
  )
  await inv.retrieveInventoryLevel(level.id)
  const byPair: InventoryLevelDTO = await inv.retrieveInventoryLevelByItemAndLocation(item.id, 'sloc_1')
  const available: number = byPair.available_quantity
  const adjusted: InventoryLevelDTO = await inv.adjustInventory(item.id, 'sloc_1', -1, ctx)
  const adjustedMany: InventoryLevelDTO[] = await inv.adjustInventory([
    { inventoryItemId: item.id, locationId: 'sloc_2', adjustment: '3' },
  ])
  await inv.softDeleteInventoryLevels([levels[0].id])
  await inv.restoreInventoryLevels([levels[0].id])
  await inv.deleteInventoryLevel(item.id, 'sloc_2')
  await inv.deleteInventoryLevels([level.id])
  const [removed, cascade] = await inv.deleteInventoryItemLevelByLocationId(['sloc_9'])
  const removedIds: string[] = removed.map((l) => l.id)

  // Not a Medusa method: walks the levels page by page, `next` being the cursor.
  let cursor: string | null = null
  do {
    const page: Reconciliation = await inv.reconcile({ dryRun: true, after: cursor, limit: 500 })
    for (const drift of page.levels) void [drift.id, drift.difference, drift.reservation_quantity, drift.fixed]
    cursor = page.next
  } while (cursor !== null)
  await inv.reconcile()
  // One item's levels, the fixes naming who applied them (the admin widget's calls).
  await inv.reconcile({ inventory_item_id: item.id, actor: 'user_1' })

  // The ledger, cycle counts and compare-and-set (this module's own).
  const history: InventoryMovementDTO[] = await inv.listInventoryMovements(
    { inventory_item_id: item.id, reason: ['adjustment', 'cycle_count'] },
    { order: { id: 'DESC' }, take: 50 },
  )
  const [moves, moveCount]: [InventoryMovementDTO[], number] = await inv.listAndCountInventoryMovements({
    created_at: { $gte: '2026-01-01T00:00:00Z' },
  })
  void [history[0]?.delta, history[0]?.created_at.getTime(), moves, moveCount]
  const report: LedgerReport = await inv.verifyInventoryLedger({ limit: 1000 })
  const itemReport: LedgerReport = await inv.verifyInventoryLedger({ inventory_item_id: item.id })
  void itemReport
  const feed: InventoryMovementFeedEntry[] = await inv.listInventoryMovementFeed({ after: null, limit: 500 })
  const more: InventoryMovementFeedEntry[] = await inv.listInventoryMovementFeed({
    after: feed[feed.length - 1]?.cursor ?? null,
  })
  const feedDate: Date = more[0].created_at
  void feedDate
  void report.ok
  const counted: InventoryLevelDTO[] = await inv.setInventoryQuantities(
    [{ inventory_item_id: item.id, location_id: 'sloc_1', stocked_quantity: 42, expected_stocked_quantity: 40 }],
    { reason: 'cycle_count', actor: 'user_1' },
  )
  void counted
  await inv.adjustInventory(item.id, 'sloc_1', -1, { expectedStockedQuantity: 42, idempotencyKey: 'ret_9' })
  await inv.updateInventoryLevels({
    inventory_item_id: item.id,
    location_id: 'sloc_1',
    stocked_quantity: 40,
    expected_stocked_quantity: 41,
  })
  // @ts-expect-error a cycle count names the stock it expects
  await inv.setInventoryQuantities([{ inventory_item_id: item.id, location_id: 'sloc_1', stocked_quantity: 42 }])

  const reservation: ReservationItemDTO = await inv.createReservationItems({
    inventory_item_id: item.id,
    location_id: 'sloc_1',
    quantity: 2,
    line_item_id: 'ordli_1',
  })
  await inv.createReservationItems([
    { inventory_item_id: item.id, location_id: 'sloc_1', quantity: 1, allow_backorder: true },
  ])
  await inv.updateReservationItems({ id: reservation.id, quantity: 3 })
  await inv.updateReservationItems([{ id: reservation.id, location_id: 'sloc_2' }])
  const reservations: ReservationItemDTO[] = await inv.listReservationItems(
    { line_item_id: ['ordli_1'] },
    { relations: ['inventory_item'] },
  )
  const [, reservationCount]: [ReservationItemDTO[], number] = await inv.listAndCountReservationItems({})
  const fetched: ReservationItemDTO = await inv.retrieveReservationItem(reservation.id)
  const ordered: number = fetched.quantity
  await inv.softDeleteReservationItems([reservation.id])
  await inv.restoreReservationItems([reservation.id])
  await inv.deleteReservationItemsByLineItem(['ordli_1'])
  await inv.restoreReservationItemsByLineItem('ordli_1')
  await inv.deleteReservationItemByLocationId('sloc_2')
  await inv.deleteReservationItems(reservation.id)

  const enough: boolean = await inv.confirmInventory(item.id, ['sloc_1'], 2)
  const sums: number[] = [
    await inv.retrieveAvailableQuantity(item.id, ['sloc_1']),
    await inv.retrieveStockedQuantity(item.id, ['sloc_1', 'sloc_2']),
    await inv.retrieveReservedQuantity(item.id, ['sloc_1'], ctx),
  ]

  // @ts-expect-error the quantity methods take an array of location ids
  await inv.retrieveAvailableQuantity(item.id, 'sloc_1')
  // @ts-expect-error a reservation needs its item and location
  await inv.createReservationItems({ quantity: 1 })
  // @ts-expect-error results are typed: a level has no sku
  void level.sku
  // @ts-expect-error adjustInventory takes an item, a location and a quantity, or a batch
  await inv.adjustInventory(item.id, 5)
  // @ts-expect-error not a method of IInventoryService
  await inv.listInventoryItem({})
  // @ts-expect-error reconcile's limit is a number
  await inv.reconcile({ limit: '10' })
  // @ts-expect-error order values are ASC or DESC
  await inv.listInventoryItems({}, { order: { sku: 'up' } })

  try {
    await inv.revertMigrations()
  } catch (e) {
    if (e instanceof InventoryError) {
      const type: 'not_found' | 'invalid_data' | 'not_allowed' | 'conflict' | 'database_error' | 'unexpected_state' =
        e.type
      void type
    }
  }
  await inv.close()
  void [
    version,
    updated,
    updatedMany,
    listed,
    page,
    count,
    created,
    levelList,
    levelCount,
    available,
    adjusted,
    adjustedMany,
    cascade,
    removedIds,
    reservations,
    reservationCount,
    ordered,
    enough,
    sums,
    methods.length,
  ]
}

export async function inMedusa(service: InventoryModuleService): Promise<void> {
  // The module service is Medusa's IInventoryService plus its own methods: assignable both ways besides them.
  const asMedusa: IInventoryService = service
  type Own =
    | 'reconcile'
    | 'prune'
    | 'stats'
    | 'listInventoryMovements'
    | 'listAndCountInventoryMovements'
    | 'listInventoryMovementFeed'
    | 'verifyInventoryLedger'
    | 'setInventoryQuantities'
  const back: Omit<InventoryModuleService, Own> = asMedusa
  const moves = await service.listInventoryMovements(
    { reference: 'wf_1' },
    { take: 10 },
    { inventory: { actor: 'admin' } },
  )
  void moves
  const { levels }: Reconciliation = await service.reconcile({ dryRun: true })
  const [item] = await service.createInventoryItems([{ sku: 'M-1' }])
  await service.adjustInventory(item.id, 'sloc_1', 4)
  const available = await service.retrieveAvailableQuantity(item.id, ['sloc_1'])
  // @ts-expect-error Medusa's IInventoryService has no such method
  await service.retrieveInventory(item.id)
  // The ambient who and why of the writes made inside (the plugin's middleware).
  const inside: Promise<number> = runWithLedgerContext({ actor: 'user_1', reason: 'admin' }, async () => 1)
  // @ts-expect-error the actor is a string
  runWithLedgerContext({ actor: 1 }, () => 0)
  void inside
  const loaders: number = definition.loaders.length
  void [back, available, loaders, joinerConfig.serviceName, levels]
}
