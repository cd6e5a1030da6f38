//! The API manifest: every Medusa IInventoryService data method this crate serves,
//! described once (name, Medusa's parameter names, entity, kind, result entity) next
//! to the code that serves it. The addon exports it ([`manifest_json`]) and the JS
//! facade and Medusa adapter build their methods from it, so no other list exists.

use crate::entity::{Entity, INVENTORY_ITEM, INVENTORY_LEVEL, RESERVATION_ITEM};
use crate::error::{Error, Result};
use crate::outcome::Outcome;
use crate::service::InventoryService;
use serde_json::{json, Value};
use std::future::Future;
use std::pin::Pin;

/// What a method does, as the Medusa adapter needs to know it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Reads rows; changes nothing.
    Read,
    /// Changes rows; its committed changes become Medusa events.
    Write,
    /// Resolves to one quantity, which Medusa returns as a BigNumber.
    Quantity,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Read => "read",
            Kind::Write => "write",
            Kind::Quantity => "quantity",
        }
    }
}

type Served<'a> = Pin<Box<dyn Future<Output = Result<Outcome>> + Send + 'a>>;
type Handler = for<'a> fn(&'a InventoryService, &'a [Value]) -> Served<'a>;

/// One method of the API.
#[derive(Debug)]
pub struct Method {
    pub name: &'static str,
    /// Medusa's names of its positional arguments: their count is the arity (a
    /// trailing shared context is accepted and ignored), their names name bad values.
    pub params: &'static [&'static str],
    /// The parameters when the first argument is an array (adjustInventory's batch form).
    pub array_params: Option<&'static [&'static str]>,
    /// The entity the method is about.
    pub entity: &'static Entity,
    pub kind: Kind,
    /// The entity whose rows it returns (alone, in an array, or as `[rows, count]`),
    /// so the facade knows where timestamp columns are; None for scalars and id maps.
    pub result: Option<&'static Entity>,
    serve: Handler,
}

static NULL: Value = Value::Null;

fn arg(args: &[Value], i: usize) -> &Value {
    args.get(i).unwrap_or(&NULL)
}

/// A [`Handler`] from `|svc, args| future`, the future boxed so the table can hold it.
macro_rules! serve {
    (|$s:ident, $a:ident| $body:expr) => {{
        fn serve<'a>($s: &'a InventoryService, $a: &'a [Value]) -> Served<'a> {
            Box::pin(async move { $body })
        }
        serve
    }};
}

macro_rules! method {
    ($name:literal, [$($p:literal),*], $entity:ident, $kind:ident, $result:expr, $serve:expr) => {
        method!($name, [$($p),*], None, $entity, $kind, $result, $serve)
    };
    ($name:literal, [$($p:literal),*], $array:expr, $entity:ident, $kind:ident, $result:expr, $serve:expr) => {
        Method {
            name: $name,
            params: &[$($p),*],
            array_params: $array,
            entity: &$entity,
            kind: Kind::$kind,
            result: $result,
            serve: $serve,
        }
    };
}

const ITEM: Option<&Entity> = Some(&INVENTORY_ITEM);
const LEVEL: Option<&Entity> = Some(&INVENTORY_LEVEL);
const RESERVATION: Option<&Entity> = Some(&RESERVATION_ITEM);

/// Every data method of Medusa's IInventoryService served by this crate.
#[rustfmt::skip]
pub static API: &[Method] = &[
    method!("listInventoryItems", ["selector", "config"], INVENTORY_ITEM, Read, ITEM,
        serve!(|s, a| s.list(&INVENTORY_ITEM, arg(a, 0), arg(a, 1)).await.map(Outcome::from))),
    method!("listAndCountInventoryItems", ["selector", "config"], INVENTORY_ITEM, Read, ITEM,
        serve!(|s, a| s.list_and_count(&INVENTORY_ITEM, arg(a, 0), arg(a, 1)).await.map(Outcome::from))),
    method!("retrieveInventoryItem", ["id", "config"], INVENTORY_ITEM, Read, ITEM,
        serve!(|s, a| s.retrieve(&INVENTORY_ITEM, arg(a, 0), arg(a, 1)).await.map(Outcome::from))),
    method!("createInventoryItems", ["data"], INVENTORY_ITEM, Write, ITEM,
        serve!(|s, a| s.create_inventory_items(arg(a, 0)).await)),
    method!("updateInventoryItems", ["data"], INVENTORY_ITEM, Write, ITEM,
        serve!(|s, a| s.update_inventory_items(arg(a, 0)).await)),
    method!("deleteInventoryItems", ["ids"], INVENTORY_ITEM, Write, None,
        serve!(|s, a| s.delete_inventory_items(arg(a, 0)).await)),
    method!("softDeleteInventoryItems", ["ids", "config"], INVENTORY_ITEM, Write, None,
        serve!(|s, a| s.soft_delete_inventory_items(arg(a, 0), arg(a, 1)).await)),
    method!("restoreInventoryItems", ["ids", "config"], INVENTORY_ITEM, Write, None,
        serve!(|s, a| s.restore_inventory_items(arg(a, 0), arg(a, 1)).await)),

    method!("listInventoryLevels", ["selector", "config"], INVENTORY_LEVEL, Read, LEVEL,
        serve!(|s, a| s.list(&INVENTORY_LEVEL, arg(a, 0), arg(a, 1)).await.map(Outcome::from))),
    method!("listAndCountInventoryLevels", ["selector", "config"], INVENTORY_LEVEL, Read, LEVEL,
        serve!(|s, a| s.list_and_count(&INVENTORY_LEVEL, arg(a, 0), arg(a, 1)).await.map(Outcome::from))),
    method!("retrieveInventoryLevel", ["id", "config"], INVENTORY_LEVEL, Read, LEVEL,
        serve!(|s, a| s.retrieve(&INVENTORY_LEVEL, arg(a, 0), arg(a, 1)).await.map(Outcome::from))),
    method!("retrieveInventoryLevelByItemAndLocation", ["inventoryItemId", "locationId"], INVENTORY_LEVEL, Read, LEVEL,
        serve!(|s, a| s.retrieve_inventory_level_by_item_and_location(arg(a, 0), arg(a, 1)).await.map(Outcome::from))),
    method!("createInventoryLevels", ["data"], INVENTORY_LEVEL, Write, LEVEL,
        serve!(|s, a| s.create_inventory_levels(arg(a, 0)).await)),
    method!("updateInventoryLevels", ["data"], INVENTORY_LEVEL, Write, LEVEL,
        serve!(|s, a| s.update_inventory_levels(arg(a, 0)).await)),
    method!("deleteInventoryLevel", ["inventoryItemId", "locationId"], INVENTORY_LEVEL, Write, None,
        serve!(|s, a| s.delete_inventory_level(arg(a, 0), arg(a, 1)).await)),
    method!("deleteInventoryLevels", ["ids"], INVENTORY_LEVEL, Write, None,
        serve!(|s, a| s.delete_inventory_levels(arg(a, 0)).await)),
    method!("softDeleteInventoryLevels", ["ids", "config"], INVENTORY_LEVEL, Write, None,
        serve!(|s, a| s.soft_delete_inventory_levels(arg(a, 0), arg(a, 1)).await)),
    method!("restoreInventoryLevels", ["ids", "config"], INVENTORY_LEVEL, Write, None,
        serve!(|s, a| s.restore_inventory_levels(arg(a, 0), arg(a, 1)).await)),
    // Resolves to [levels, { InventoryLevel: levels }].
    method!("deleteInventoryItemLevelByLocationId", ["locationId"], INVENTORY_LEVEL, Write, LEVEL,
        serve!(|s, a| s.delete_inventory_item_level_by_location_id(arg(a, 0)).await)),
    method!("adjustInventory", ["inventoryItemId", "locationId", "adjustment"], Some(&["data"]), INVENTORY_LEVEL, Write, LEVEL,
        serve!(|s, a| s.adjust_inventory(a).await)),

    method!("listReservationItems", ["selector", "config"], RESERVATION_ITEM, Read, RESERVATION,
        serve!(|s, a| s.list(&RESERVATION_ITEM, arg(a, 0), arg(a, 1)).await.map(Outcome::from))),
    method!("listAndCountReservationItems", ["selector", "config"], RESERVATION_ITEM, Read, RESERVATION,
        serve!(|s, a| s.list_and_count(&RESERVATION_ITEM, arg(a, 0), arg(a, 1)).await.map(Outcome::from))),
    method!("retrieveReservationItem", ["id", "config"], RESERVATION_ITEM, Read, RESERVATION,
        serve!(|s, a| s.retrieve(&RESERVATION_ITEM, arg(a, 0), arg(a, 1)).await.map(Outcome::from))),
    method!("createReservationItems", ["data"], RESERVATION_ITEM, Write, RESERVATION,
        serve!(|s, a| s.create_reservation_items(arg(a, 0)).await)),
    method!("updateReservationItems", ["data"], RESERVATION_ITEM, Write, RESERVATION,
        serve!(|s, a| s.update_reservation_items(arg(a, 0)).await)),
    method!("deleteReservationItems", ["ids"], RESERVATION_ITEM, Write, None,
        serve!(|s, a| s.delete_reservation_items(arg(a, 0)).await)),
    method!("softDeleteReservationItems", ["ids", "config"], RESERVATION_ITEM, Write, None,
        serve!(|s, a| s.soft_delete_reservation_items(arg(a, 0), arg(a, 1)).await)),
    method!("restoreReservationItems", ["ids", "config"], RESERVATION_ITEM, Write, None,
        serve!(|s, a| s.restore_reservation_items(arg(a, 0), arg(a, 1)).await)),
    method!("deleteReservationItemsByLineItem", ["lineItemId"], RESERVATION_ITEM, Write, None,
        serve!(|s, a| s.delete_reservation_items_by_line_item(arg(a, 0)).await)),
    method!("restoreReservationItemsByLineItem", ["lineItemId"], RESERVATION_ITEM, Write, None,
        serve!(|s, a| s.restore_reservation_items_by_line_item(arg(a, 0)).await)),
    method!("deleteReservationItemByLocationId", ["locationId"], RESERVATION_ITEM, Write, None,
        serve!(|s, a| s.delete_reservation_item_by_location_id(arg(a, 0)).await)),

    method!("confirmInventory", ["inventoryItemId", "locationIds", "quantity"], INVENTORY_LEVEL, Read, None,
        serve!(|s, a| s.confirm_inventory(arg(a, 0), arg(a, 1), arg(a, 2)).await.map(Outcome::from))),
    method!("retrieveAvailableQuantity", ["inventoryItemId", "locationIds"], INVENTORY_LEVEL, Quantity, None,
        serve!(|s, a| s.retrieve_available_quantity(arg(a, 0), arg(a, 1)).await.map(Outcome::from))),
    method!("retrieveStockedQuantity", ["inventoryItemId", "locationIds"], INVENTORY_LEVEL, Quantity, None,
        serve!(|s, a| s.retrieve_stocked_quantity(arg(a, 0), arg(a, 1)).await.map(Outcome::from))),
    method!("retrieveReservedQuantity", ["inventoryItemId", "locationIds"], INVENTORY_LEVEL, Quantity, None,
        serve!(|s, a| s.retrieve_reserved_quantity(arg(a, 0), arg(a, 1)).await.map(Outcome::from))),
];

/// The manifest entry of `name`.
pub fn method(name: &str) -> Option<&'static Method> {
    API.iter().find(|m| m.name == name)
}

/// The manifest as the JS side reads it: `[{ name, params, arrayParams, entity, kind,
/// result }]`, entities by Medusa model name.
pub fn manifest_json() -> Value {
    Value::Array(
        API.iter()
            .map(|m| {
                json!({
                    "name": m.name,
                    "params": m.params,
                    "arrayParams": m.array_params,
                    "entity": m.entity.name,
                    "kind": m.kind.as_str(),
                    "result": m.result.map(|e| e.name),
                })
            })
            .collect(),
    )
}

pub async fn call(svc: &InventoryService, method_name: &str, args: &[Value]) -> Result<Outcome> {
    crate::limits::check_args(args)?;
    let m = method(method_name)
        .ok_or_else(|| Error::invalid(format!("Unknown method '{method_name}'")))?;
    (m.serve)(svc, args).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn names_are_unique_and_params_named() {
        let names: HashSet<_> = API.iter().map(|m| m.name).collect();
        assert_eq!(names.len(), API.len());
        assert_eq!(API.len(), 35);
        for m in API {
            assert!(!m.params.is_empty(), "{} has no parameters", m.name);
            // Reads and quantities change nothing, so they have no events to report.
            let reads = ["list", "retrieve", "confirm"]
                .iter()
                .any(|p| m.name.starts_with(p));
            assert_eq!(m.kind == Kind::Write, !reads, "{}", m.name);
            assert_eq!(
                m.kind == Kind::Quantity,
                m.name.ends_with("Quantity"),
                "{}",
                m.name
            );
        }
        assert!(method("nope").is_none());
    }
}
