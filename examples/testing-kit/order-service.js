'use strict'
// The code under test: a tiny order service that reserves stock for an order and fulfils it,
// on a medusa-inventory-rs InventoryService (or Medusa's inventory module: same methods).

class OutOfStockError extends Error {
  constructor(orderId, cause) {
    super(`order ${orderId}: not enough stock (${cause.message})`)
    this.name = 'OutOfStockError'
    this.orderId = orderId
  }
}

class OrderService {
  /** @param {import('medusa-inventory-rs').InventoryService} inventory */
  constructor(inventory) {
    this.inventory = inventory
  }

  /**
   * Reserves every line of `order` ({ id, location, lines: [{ id, itemId, quantity }] }) at its
   * location: all lines or none (one call, one transaction).
   */
  async reserve(order) {
    try {
      return await this.inventory.createReservationItems(
        order.lines.map((line) => ({
          inventory_item_id: line.itemId,
          location_id: order.location,
          quantity: line.quantity,
          line_item_id: line.id,
        })),
      )
    } catch (e) {
      if (e.type === 'not_allowed') throw new OutOfStockError(order.id, e)
      throw e
    }
  }

  /** Ships the order: its reserved units leave the stock, and its reservations go. */
  async fulfil(order) {
    const reservations = await this.inventory.listReservationItems({ line_item_id: order.lines.map((l) => l.id) })
    if (reservations.length === 0) throw new Error(`order ${order.id} has no reservations`)
    await this.inventory.adjustInventory(
      reservations.map((r) => ({
        inventoryItemId: r.inventory_item_id,
        locationId: r.location_id,
        adjustment: -r.quantity,
      })),
    )
    await this.inventory.deleteReservationItems(reservations.map((r) => r.id))
  }

  /** Releases the order's reservations. */
  async cancel(order) {
    await this.inventory.deleteReservationItemsByLineItem(order.lines.map((l) => l.id))
  }
}

module.exports = { OrderService, OutOfStockError }
