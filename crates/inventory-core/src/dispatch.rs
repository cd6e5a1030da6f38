//! The one entry point the addon calls: a Medusa method name and its
//! positional arguments, as JSON. Keeping the table here leaves the addon a
//! pure value converter.

use crate::entity::{Entity, INVENTORY_ITEM, INVENTORY_LEVEL, RESERVATION_ITEM};
use crate::error::{Error, Result};
use crate::outcome::Outcome;
use crate::service::InventoryService;
use serde_json::Value;

/// Every data method of Medusa's IInventoryService served by this crate.
pub const METHODS: &[&str] = &[
    "listInventoryItems",
    "listAndCountInventoryItems",
    "retrieveInventoryItem",
    "createInventoryItems",
    "updateInventoryItems",
    "deleteInventoryItems",
    "softDeleteInventoryItems",
    "restoreInventoryItems",
    "listInventoryLevels",
    "listAndCountInventoryLevels",
    "retrieveInventoryLevel",
    "retrieveInventoryLevelByItemAndLocation",
    "createInventoryLevels",
    "updateInventoryLevels",
    "deleteInventoryLevel",
    "deleteInventoryLevels",
    "softDeleteInventoryLevels",
    "restoreInventoryLevels",
    "deleteInventoryItemLevelByLocationId",
    "adjustInventory",
    "listReservationItems",
    "listAndCountReservationItems",
    "retrieveReservationItem",
    "createReservationItems",
    "updateReservationItems",
    "deleteReservationItems",
    "softDeleteReservationItems",
    "restoreReservationItems",
    "deleteReservationItemsByLineItem",
    "restoreReservationItemsByLineItem",
    "deleteReservationItemByLocationId",
    "confirmInventory",
    "retrieveAvailableQuantity",
    "retrieveStockedQuantity",
    "retrieveReservedQuantity",
];

/// The entity whose rows a method returns (alone, in an array, or as `[rows, count]`),
/// so the facade knows where timestamp columns are; None for scalars and id maps.
pub fn result_entity(method: &str) -> Option<&'static Entity> {
    match method {
        "listInventoryItems"
        | "listAndCountInventoryItems"
        | "retrieveInventoryItem"
        | "createInventoryItems"
        | "updateInventoryItems" => Some(&INVENTORY_ITEM),
        "listInventoryLevels"
        | "listAndCountInventoryLevels"
        | "retrieveInventoryLevel"
        | "retrieveInventoryLevelByItemAndLocation"
        | "createInventoryLevels"
        | "updateInventoryLevels"
        | "adjustInventory"
        // [levels, { InventoryLevel: levels }]
        | "deleteInventoryItemLevelByLocationId" => Some(&INVENTORY_LEVEL),
        "listReservationItems"
        | "listAndCountReservationItems"
        | "retrieveReservationItem"
        | "createReservationItems"
        | "updateReservationItems" => Some(&RESERVATION_ITEM),
        _ => None,
    }
}

pub async fn call(svc: &InventoryService, method: &str, args: &[Value]) -> Result<Outcome> {
    crate::limits::check_args(args)?;
    let null = Value::Null;
    let a = |i: usize| args.get(i).unwrap_or(&null);
    match method {
        "listInventoryItems" => svc
            .list(&INVENTORY_ITEM, a(0), a(1))
            .await
            .map(Outcome::from),
        "listAndCountInventoryItems" => svc
            .list_and_count(&INVENTORY_ITEM, a(0), a(1))
            .await
            .map(Outcome::from),
        "retrieveInventoryItem" => svc
            .retrieve(&INVENTORY_ITEM, a(0), a(1))
            .await
            .map(Outcome::from),
        "createInventoryItems" => svc.create_inventory_items(a(0)).await,
        "updateInventoryItems" => svc.update_inventory_items(a(0)).await,
        "deleteInventoryItems" => svc.delete_inventory_items(a(0)).await,
        "softDeleteInventoryItems" => svc.soft_delete_inventory_items(a(0), a(1)).await,
        "restoreInventoryItems" => svc.restore_inventory_items(a(0), a(1)).await,

        "listInventoryLevels" => svc
            .list(&INVENTORY_LEVEL, a(0), a(1))
            .await
            .map(Outcome::from),
        "listAndCountInventoryLevels" => svc
            .list_and_count(&INVENTORY_LEVEL, a(0), a(1))
            .await
            .map(Outcome::from),
        "retrieveInventoryLevel" => svc
            .retrieve(&INVENTORY_LEVEL, a(0), a(1))
            .await
            .map(Outcome::from),
        "retrieveInventoryLevelByItemAndLocation" => svc
            .retrieve_inventory_level_by_item_and_location(a(0), a(1))
            .await
            .map(Outcome::from),
        "createInventoryLevels" => svc.create_inventory_levels(a(0)).await,
        "updateInventoryLevels" => svc.update_inventory_levels(a(0)).await,
        "deleteInventoryLevel" => svc.delete_inventory_level(a(0), a(1)).await,
        "deleteInventoryLevels" => svc.delete_inventory_levels(a(0)).await,
        "softDeleteInventoryLevels" => svc.soft_delete_inventory_levels(a(0), a(1)).await,
        "restoreInventoryLevels" => svc.restore_inventory_levels(a(0), a(1)).await,
        "deleteInventoryItemLevelByLocationId" => {
            svc.delete_inventory_item_level_by_location_id(a(0)).await
        }
        "adjustInventory" => svc.adjust_inventory(args).await,

        "listReservationItems" => svc
            .list(&RESERVATION_ITEM, a(0), a(1))
            .await
            .map(Outcome::from),
        "listAndCountReservationItems" => svc
            .list_and_count(&RESERVATION_ITEM, a(0), a(1))
            .await
            .map(Outcome::from),
        "retrieveReservationItem" => svc
            .retrieve(&RESERVATION_ITEM, a(0), a(1))
            .await
            .map(Outcome::from),
        "createReservationItems" => svc.create_reservation_items(a(0)).await,
        "updateReservationItems" => svc.update_reservation_items(a(0)).await,
        "deleteReservationItems" => svc.delete_reservation_items(a(0)).await,
        "softDeleteReservationItems" => svc.soft_delete_reservation_items(a(0), a(1)).await,
        "restoreReservationItems" => svc.restore_reservation_items(a(0), a(1)).await,
        "deleteReservationItemsByLineItem" => svc.delete_reservation_items_by_line_item(a(0)).await,
        "restoreReservationItemsByLineItem" => {
            svc.restore_reservation_items_by_line_item(a(0)).await
        }
        "deleteReservationItemByLocationId" => {
            svc.delete_reservation_item_by_location_id(a(0)).await
        }

        "confirmInventory" => svc
            .confirm_inventory(a(0), a(1), a(2))
            .await
            .map(Outcome::from),
        "retrieveAvailableQuantity" => svc
            .retrieve_available_quantity(a(0), a(1))
            .await
            .map(Outcome::from),
        "retrieveStockedQuantity" => svc
            .retrieve_stocked_quantity(a(0), a(1))
            .await
            .map(Outcome::from),
        "retrieveReservedQuantity" => svc
            .retrieve_reserved_quantity(a(0), a(1))
            .await
            .map(Outcome::from),
        other => Err(Error::invalid(format!("Unknown method '{other}'"))),
    }
}
