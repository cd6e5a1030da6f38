//! The API manifest: every Medusa IInventoryService data method this crate serves,
//! described once (name, Medusa's parameter names, entity, kind, result entity) next
//! to the code that serves it: the type its arguments decode into (args.rs) and the
//! domain function that takes them. The addon exports it ([`manifest_json`]) and the
//! JS facade and Medusa adapter build their methods from it, so no other list exists.

use crate::args::{
    Adjustments, ArgContext, Confirmation, Creates, CycleCounts, FeedOptions, FromArgs, Ids,
    IdsWithConfig, ItemAtLocations, LevelAt, LevelLocations, LevelUpdates, LineItems, ListArgs,
    MovementQuery, ReservationLocations, RetrieveArgs, Updates, VerifyOptions,
};
use crate::entity::{
    Entity, INVENTORY_ITEM, INVENTORY_LEVEL, INVENTORY_MOVEMENT, RESERVATION_ITEM,
};
use crate::error::{Error, Result};
use crate::idempotency::{request_text, reused};
use crate::ledger::{Audit, CallOptions};
use crate::outcome::Outcome;
use crate::service::InventoryService;
use serde_json::{json, Value};
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::Ordering;

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
/// Decodes the arguments (bad ones refused before any SQL), then gives the call to run.
type Handler =
    for<'a> fn(&'a InventoryService, &[Value], &ArgContext<'_>, &'a Audit) -> Result<Served<'a>>;

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
    /// Not one of Medusa's methods: this module's own (the ledger, compare-and-set).
    pub extension: bool,
    /// The reason of the movements a write records when the caller names none.
    pub reason: &'static str,
    /// It takes the call option `expectedStockedQuantity` (for one level:
    /// levels.rs); every other method refuses it rather than ignore it.
    pub compares_stock: bool,
    serve: Handler,
}

/// A [`Handler`] from `|svc, args: Type, audit| future`: the arguments decoded
/// once into `Type` ([`FromArgs`]), the future boxed so the table can hold it.
macro_rules! serve {
    (|$s:ident, $a:ident: $t:ty| $body:expr) => {
        serve!(|$s, $a: $t, _audit| $body)
    };
    (|$s:ident, $a:ident: $t:ty, $o:ident| $body:expr) => {{
        fn serve<'a>(
            $s: &'a InventoryService,
            args: &[Value],
            call: &ArgContext<'_>,
            $o: &'a Audit,
        ) -> Result<Served<'a>> {
            let $a = <$t as FromArgs>::from_args(args, call)?;
            Ok(Box::pin(async move { $body }))
        }
        serve
    }};
}

macro_rules! method {
    ($name:literal, [$($p:literal),*], $entity:ident, $kind:ident $(($($w:tt)*))?, $result:expr, $serve:expr) => {
        method!($name, [$($p),*], None, $entity, $kind $(($($w)*))?, $result, $serve)
    };
    // A write names its movements' default reason, and whether it compares stock:
    // `Write("adjustment", compares_stock)`.
    ($name:literal, [$($p:literal),*], $array:expr, $entity:ident, $kind:ident $(($reason:literal $(, $cmp:ident)?))?, $result:expr, $serve:expr) => {
        Method {
            name: $name,
            params: &[$($p),*],
            array_params: $array,
            entity: &$entity,
            kind: Kind::$kind,
            result: $result,
            extension: false,
            reason: method!(@reason $($reason)?),
            compares_stock: method!(@compares $($($cmp)?)?),
            serve: $serve,
        }
    };
    (@reason) => { "other" };
    (@reason $reason:literal) => { $reason };
    (@compares) => { false };
    (@compares compares_stock) => { true };
}

/// An [`EXTENSIONS`] entry: as `method!`, marked as this module's own.
macro_rules! extension {
    ($($t:tt)*) => {
        Method { extension: true, ..method!($($t)*) }
    };
}

const ITEM: Option<&Entity> = Some(&INVENTORY_ITEM);
const LEVEL: Option<&Entity> = Some(&INVENTORY_LEVEL);
const RESERVATION: Option<&Entity> = Some(&RESERVATION_ITEM);

/// Every data method of Medusa's IInventoryService served by this crate.
#[rustfmt::skip]
pub static API: &[Method] = &[
    method!("listInventoryItems", ["selector", "config"], INVENTORY_ITEM, Read, ITEM,
        serve!(|s, a: ListArgs| s.list(a).await)),
    method!("listAndCountInventoryItems", ["selector", "config"], INVENTORY_ITEM, Read, ITEM,
        serve!(|s, a: ListArgs| s.list_and_count(a).await)),
    method!("retrieveInventoryItem", ["id", "config"], INVENTORY_ITEM, Read, ITEM,
        serve!(|s, a: RetrieveArgs| s.retrieve(a).await)),
    method!("createInventoryItems", ["data"], INVENTORY_ITEM, Write("other"), ITEM,
        serve!(|s, a: Creates, o| s.create_inventory_items(a, o).await)),
    method!("updateInventoryItems", ["data"], INVENTORY_ITEM, Write("other"), ITEM,
        serve!(|s, a: Updates, o| s.update_inventory_items(a, o).await)),
    method!("deleteInventoryItems", ["ids"], INVENTORY_ITEM, Write("level_deleted"), None,
        serve!(|s, a: Ids, o| s.delete_inventory_items(a, o).await)),
    method!("softDeleteInventoryItems", ["ids", "config"], INVENTORY_ITEM, Write("other"), None,
        serve!(|s, a: IdsWithConfig, o| s.soft_delete_inventory_items(a, o).await)),
    method!("restoreInventoryItems", ["ids", "config"], INVENTORY_ITEM, Write("level_restored"), None,
        serve!(|s, a: IdsWithConfig, o| s.restore_inventory_items(a, o).await)),

    method!("listInventoryLevels", ["selector", "config"], INVENTORY_LEVEL, Read, LEVEL,
        serve!(|s, a: ListArgs| s.list(a).await)),
    method!("listAndCountInventoryLevels", ["selector", "config"], INVENTORY_LEVEL, Read, LEVEL,
        serve!(|s, a: ListArgs| s.list_and_count(a).await)),
    method!("retrieveInventoryLevel", ["id", "config"], INVENTORY_LEVEL, Read, LEVEL,
        serve!(|s, a: RetrieveArgs| s.retrieve(a).await)),
    method!("retrieveInventoryLevelByItemAndLocation", ["inventoryItemId", "locationId"], INVENTORY_LEVEL, Read, LEVEL,
        serve!(|s, a: LevelAt| s.retrieve_inventory_level_by_item_and_location(a).await)),
    method!("createInventoryLevels", ["data"], INVENTORY_LEVEL, Write("level_created"), LEVEL,
        serve!(|s, a: Creates, o| s.create_inventory_levels(a, o).await)),
    method!("updateInventoryLevels", ["data"], INVENTORY_LEVEL, Write("level_updated", compares_stock), LEVEL,
        serve!(|s, a: LevelUpdates, o| s.update_inventory_levels(a, o).await)),
    method!("deleteInventoryLevel", ["inventoryItemId", "locationId"], INVENTORY_LEVEL, Write("level_deleted"), None,
        serve!(|s, a: LevelAt, o| s.delete_inventory_level(a, o).await)),
    method!("deleteInventoryLevels", ["ids"], INVENTORY_LEVEL, Write("level_deleted"), None,
        serve!(|s, a: Ids, o| s.delete_inventory_levels(a, o).await)),
    method!("softDeleteInventoryLevels", ["ids", "config"], INVENTORY_LEVEL, Write("other"), None,
        serve!(|s, a: IdsWithConfig, o| s.soft_delete_inventory_levels(a, o).await)),
    method!("restoreInventoryLevels", ["ids", "config"], INVENTORY_LEVEL, Write("level_restored"), None,
        serve!(|s, a: IdsWithConfig, o| s.restore_inventory_levels(a, o).await)),
    // Resolves to [levels, { InventoryLevel: levels }].
    method!("deleteInventoryItemLevelByLocationId", ["locationId"], INVENTORY_LEVEL, Write("other"), LEVEL,
        serve!(|s, a: LevelLocations, o| s.delete_inventory_item_level_by_location_id(a, o).await)),
    method!("adjustInventory", ["inventoryItemId", "locationId", "adjustment"], Some(&["data"]), INVENTORY_LEVEL, Write("adjustment", compares_stock), LEVEL,
        serve!(|s, a: Adjustments, o| s.adjust_inventory(a, o).await)),

    method!("listReservationItems", ["selector", "config"], RESERVATION_ITEM, Read, RESERVATION,
        serve!(|s, a: ListArgs| s.list(a).await)),
    method!("listAndCountReservationItems", ["selector", "config"], RESERVATION_ITEM, Read, RESERVATION,
        serve!(|s, a: ListArgs| s.list_and_count(a).await)),
    method!("retrieveReservationItem", ["id", "config"], RESERVATION_ITEM, Read, RESERVATION,
        serve!(|s, a: RetrieveArgs| s.retrieve(a).await)),
    method!("createReservationItems", ["data"], RESERVATION_ITEM, Write("reservation_created"), RESERVATION,
        serve!(|s, a: Creates, o| s.create_reservation_items(a, o).await)),
    method!("updateReservationItems", ["data"], RESERVATION_ITEM, Write("reservation_updated"), RESERVATION,
        serve!(|s, a: Updates, o| s.update_reservation_items(a, o).await)),
    method!("deleteReservationItems", ["ids"], RESERVATION_ITEM, Write("reservation_deleted"), None,
        serve!(|s, a: Ids, o| s.delete_reservation_items(a, o).await)),
    method!("softDeleteReservationItems", ["ids", "config"], RESERVATION_ITEM, Write("reservation_deleted"), None,
        serve!(|s, a: IdsWithConfig, o| s.soft_delete_reservation_items(a, o).await)),
    method!("restoreReservationItems", ["ids", "config"], RESERVATION_ITEM, Write("reservation_restored"), None,
        serve!(|s, a: IdsWithConfig, o| s.restore_reservation_items(a, o).await)),
    method!("deleteReservationItemsByLineItem", ["lineItemId"], RESERVATION_ITEM, Write("reservation_deleted"), None,
        serve!(|s, a: LineItems, o| s.delete_reservation_items_by_line_item(a, o).await)),
    method!("restoreReservationItemsByLineItem", ["lineItemId"], RESERVATION_ITEM, Write("reservation_restored"), None,
        serve!(|s, a: LineItems, o| s.restore_reservation_items_by_line_item(a, o).await)),
    method!("deleteReservationItemByLocationId", ["locationId"], RESERVATION_ITEM, Write("reservation_deleted"), None,
        serve!(|s, a: ReservationLocations, o| s.delete_reservation_item_by_location_id(a, o).await)),

    method!("confirmInventory", ["inventoryItemId", "locationIds", "quantity"], INVENTORY_LEVEL, Read, None,
        serve!(|s, a: Confirmation| s.confirm_inventory(a).await.map(Outcome::from))),
    method!("retrieveAvailableQuantity", ["inventoryItemId", "locationIds"], INVENTORY_LEVEL, Quantity, None,
        serve!(|s, a: ItemAtLocations| s.retrieve_available_quantity(a).await.map(Outcome::from))),
    method!("retrieveStockedQuantity", ["inventoryItemId", "locationIds"], INVENTORY_LEVEL, Quantity, None,
        serve!(|s, a: ItemAtLocations| s.retrieve_stocked_quantity(a).await.map(Outcome::from))),
    method!("retrieveReservedQuantity", ["inventoryItemId", "locationIds"], INVENTORY_LEVEL, Quantity, None,
        serve!(|s, a: ItemAtLocations| s.retrieve_reserved_quantity(a).await.map(Outcome::from))),
];

const MOVEMENT: Option<&Entity> = Some(&INVENTORY_MOVEMENT);

/// This module's methods beyond Medusa's, served and described the same way.
#[rustfmt::skip]
pub static EXTENSIONS: &[Method] = &[
    extension!("listInventoryMovements", ["filters", "config"], INVENTORY_LEVEL, Read, MOVEMENT,
        serve!(|s, a: MovementQuery| s.list_inventory_movements(a, false).await.map(Outcome::from))),
    extension!("listAndCountInventoryMovements", ["filters", "config"], INVENTORY_LEVEL, Read, MOVEMENT,
        serve!(|s, a: MovementQuery| s.list_inventory_movements(a, true).await.map(Outcome::from))),
    extension!("listInventoryMovementFeed", ["options"], INVENTORY_LEVEL, Read, MOVEMENT,
        serve!(|s, a: FeedOptions| s.list_inventory_movement_feed(a).await.map(Outcome::from))),
    extension!("verifyInventoryLedger", ["options"], INVENTORY_LEVEL, Read, None,
        serve!(|s, a: VerifyOptions| s.verify_inventory_ledger(a).await.map(Outcome::from))),
    extension!("setInventoryQuantities", ["data"], INVENTORY_LEVEL, Write("cycle_count", compares_stock), LEVEL,
        serve!(|s, a: CycleCounts, o| s.set_inventory_quantities(a, o).await)),
];

/// The manifest entry of `name`.
pub fn method(name: &str) -> Option<&'static Method> {
    API.iter().chain(EXTENSIONS).find(|m| m.name == name)
}

/// The manifest as the JS side reads it: `[{ name, params, arrayParams, entity, kind,
/// result }]`, entities by Medusa model name.
pub fn manifest_json() -> Value {
    Value::Array(
        API.iter()
            .chain(EXTENSIONS)
            .map(|m| {
                json!({
                    "name": m.name,
                    "params": m.params,
                    "arrayParams": m.array_params,
                    "entity": m.entity.name,
                    "kind": m.kind.as_str(),
                    "result": m.result.map(|e| e.name),
                    "extension": m.extension,
                })
            })
            .collect(),
    )
}

/// The methods that compare a level's stock: Medusa's (by name), then this module's.
fn comparing_stock() -> Vec<&'static str> {
    let mut names: Vec<(bool, &str)> = API
        .iter()
        .chain(EXTENSIONS)
        .filter(|m| m.compares_stock)
        .map(|m| (m.extension, m.name))
        .collect();
    names.sort();
    names.into_iter().map(|(_, name)| name).collect()
}

/// Calls `method_name` with its positional `args` and the caller's `options`
/// (reason, actor, reference, idempotency key: see ledger.rs). A write with an
/// idempotency key answers a repeat with its first committed result.
pub async fn call(
    svc: &InventoryService,
    method_name: &str,
    args: &[Value],
    options: &Value,
) -> Result<Outcome> {
    svc.taps.telemetry.calls.fetch_add(1, Ordering::Relaxed);
    let out = serve(svc, method_name, args, options).await;
    if !out.as_ref().is_err_and(Error::server_lost) {
        return out;
    }
    svc.forget_connections();
    // A read changes nothing, so it is asked once more, on a new connection: a server
    // that ended its sessions (a restart, a failover, an operator) fails a read only
    // when the new connection fails too. A write is not: whether it committed is
    // unknown, and only its idempotency key can make asking again safe (the caller's).
    if method(method_name).is_none_or(|m| m.kind == Kind::Write) {
        return out;
    }
    let again = serve(svc, method_name, args, options).await;
    if again.as_ref().is_err_and(Error::server_lost) {
        svc.forget_connections();
    }
    again
}

/// `call`, with the call's statements on a lent connection (relay.rs):
/// `stream` is its tokio-postgres side, `relay` its host side. Resolves once
/// the connection is idle again. The host then ends its savepoint: released
/// on Ok, rolled back on Err; an Err whose relay broke (`Lent::settled`
/// false) leaves the connection in an unknown state, and the host closes it.
pub async fn call_lent(
    svc: &InventoryService,
    stream: crate::relay::RelayStream,
    relay: &crate::relay::Relay,
    method_name: &str,
    args: &[Value],
    options: &Value,
) -> Lent {
    svc.taps.telemetry.calls.fetch_add(1, Ordering::Relaxed);
    let out = match svc.over_relay(stream) {
        Ok(unit) => {
            let out = serve(&unit, method_name, args, options).await;
            unit.end_relay().await;
            out
        }
        Err(e) => {
            relay.abandon();
            Err(e)
        }
    };
    let settled = relay.settled().await;
    Lent { out, settled }
}

/// A lent call's result, and whether the lent connection is idle and usable.
#[derive(Debug)]
pub struct Lent {
    pub out: Result<Outcome>,
    pub settled: bool,
}

async fn serve(
    svc: &InventoryService,
    method_name: &str,
    args: &[Value],
    options: &Value,
) -> Result<Outcome> {
    crate::limits::check_args(args)?;
    let m = method(method_name)
        .ok_or_else(|| Error::invalid(format!("Unknown method '{method_name}'")))?;
    let options = CallOptions::from_json(options)?;
    if options.expected_stocked_quantity.is_some() && !m.compares_stock {
        return Err(Error::invalid(format!(
            "call option expectedStockedQuantity is not accepted by {}: only {} compare a level's stock",
            m.name,
            comparing_stock().join(", ")
        )));
    }
    let mut audit = Audit::new(m.name, m.reason, options, svc.ledger, svc.idempotency_ttl);
    // Reads change nothing: a key means nothing to them.
    let keyed = m.kind == Kind::Write && audit.key().is_some();
    if keyed {
        audit.request = Some(request_text(m.name, args, &audit.options));
    }
    let audit = &audit;
    let call = ArgContext {
        method: m.name,
        entity: m.entity,
        options: &audit.options,
    };
    let run = (m.serve)(svc, args, &call, audit)?;
    if !keyed {
        return run.await;
    }
    idempotent(svc, audit, || run).await
}

/// The committed response of the call's key when the same request made it;
/// an error when another request did; None when the key is free (or expired).
async fn replay(
    svc: &InventoryService,
    key: &str,
    audit: &Audit,
    request: &str,
) -> Result<Option<Outcome>> {
    let c = svc.client().await?;
    let stmt = c
        .prepare_cached(
            "SELECT request_hash = md5($2::text::jsonb::text), response -> 'result'
             FROM inventory_idempotency_key WHERE key = $1 AND expires_at > now()",
        )
        .await?;
    match c.query_opt(&stmt, &[&key, &request]).await? {
        None => Ok(None),
        Some(row) if row.get::<_, bool>(0) => {
            let out = Outcome::from(row.try_get::<_, Value>(1)?);
            svc.taps.telemetry.replays.fetch_add(1, Ordering::Relaxed);
            Ok(Some(out))
        }
        Some(_) => Err(reused(key, audit.method)),
    }
}

/// Runs a keyed write: a repeat answers with the first committed result (and
/// no changes, so no events are emitted twice); otherwise `run` applies it and
/// stores the key in its transaction (idempotency.rs). When `run` fails, a
/// twin with the key may have committed meanwhile (our key insert was refused,
/// or the twin's write left ours nothing to do): its result is the answer.
async fn idempotent<F, Fut>(svc: &InventoryService, audit: &Audit, run: F) -> Result<Outcome>
where
    F: FnOnce() -> Fut,
    Fut: Future<Output = Result<Outcome>>,
{
    let (Some(key), Some(request)) = (audit.key(), audit.request.as_deref()) else {
        return run().await;
    };
    if let Some(out) = replay(svc, key, audit, request).await? {
        return Ok(out);
    }
    match run().await {
        Ok(out) => Ok(out),
        Err(e) => match replay(svc, key, audit, request).await {
            Ok(Some(out)) => Ok(out),
            Err(other_request) if other_request.kind == crate::ErrorType::InvalidData => {
                Err(other_request)
            }
            _ => Err(e),
        },
    }
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

    #[test]
    fn writes_name_their_reason_and_three_compare_stock() {
        assert_eq!(
            comparing_stock(),
            [
                "adjustInventory",
                "updateInventoryLevels",
                "setInventoryQuantities"
            ]
        );
        let reason = |name| method(name).unwrap().reason;
        assert_eq!(
            reason("deleteReservationItemsByLineItem"),
            "reservation_deleted"
        );
        assert_eq!(reason("softDeleteReservationItems"), "reservation_deleted");
        assert_eq!(reason("restoreReservationItems"), "reservation_restored");
        assert_eq!(reason("adjustInventory"), "adjustment");
        assert_eq!(reason("setInventoryQuantities"), "cycle_count");
    }

    #[test]
    fn medusa_methods_return_the_entity_their_arguments_decode_as() {
        // ListArgs, RetrieveArgs, Creates, Updates and the level sets read
        // filters and rows of the manifest entry's entity (args.rs, ArgContext).
        for m in API {
            if let Some(r) = m.result {
                assert_eq!(r.name, m.entity.name, "{}", m.name);
            }
        }
    }
}
