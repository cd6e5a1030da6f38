//! The core against a real Postgres (DATABASE_URL, else the local server),
//! each test in a schema of its own.

use inventory_core::{dispatch, ConnectOptions, ErrorType, InventoryService};
use serde_json::{json, Value};
use std::sync::Arc;

fn url() -> String {
    std::env::var("DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
}

struct Fixture {
    svc: Arc<InventoryService>,
    schema: String,
}

impl Fixture {
    async fn new(tag: &str) -> Self {
        Self::grouped(tag, inventory_core::Grouping::Auto).await
    }

    async fn grouped(tag: &str, grouping: inventory_core::Grouping) -> Self {
        let schema = format!(
            "rt_{tag}_{}_{}",
            std::process::id(),
            ulid::Ulid::new().to_string().to_lowercase()
        );
        let svc = InventoryService::connect(ConnectOptions {
            url: url(),
            schema: schema.clone(),
            max_connections: 16,
            group_reservations: grouping,
            ssl: None,
            ledger: true,
            idempotency_ttl: 60,
            acquire_timeout_ms: 15_000,
            slow_statement_ms: 1000.0,
        })
        .await
        .expect("connect");
        svc.migrate().await.expect("migrate");
        Fixture {
            svc: Arc::new(svc),
            schema,
        }
    }

    async fn call(&self, method: &str, args: Value) -> inventory_core::Result<Value> {
        let args = args.as_array().cloned().unwrap_or_default();
        dispatch::call(&self.svc, method, &args, &Value::Null)
            .await
            .map(|o| o.result().into_owned())
    }

    async fn drop_schema(self) {
        let c = self.svc.client().await.unwrap();
        c.batch_execute(&format!("DROP SCHEMA \"{}\" CASCADE", self.schema))
            .await
            .unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn reservations_never_exceed_stock_under_concurrency() {
    let f = Fixture::new("conc").await;
    let item = f
        .call("createInventoryItems", json!([{ "sku": "hot" }]))
        .await
        .unwrap();
    let id = item["id"].as_str().unwrap().to_string();
    f.call(
        "createInventoryLevels",
        json!([{ "inventory_item_id": id, "location_id": "l", "stocked_quantity": 7 }]),
    )
    .await
    .unwrap();
    let mut tasks = Vec::new();
    for i in 0..50 {
        let svc = f.svc.clone();
        let id = id.clone();
        tasks.push(tokio::spawn(async move {
            dispatch::call(
                &svc,
                "createReservationItems",
                &[json!({ "inventory_item_id": id, "location_id": "l", "quantity": 1, "line_item_id": format!("li{i}") })],
                &Value::Null,
            )
            .await
        }));
    }
    let mut ok = 0;
    for t in tasks {
        match t.await.unwrap() {
            Ok(_) => ok += 1,
            Err(e) => assert_eq!(e.kind, ErrorType::NotAllowed, "{e}"),
        }
    }
    assert_eq!(ok, 7);
    let c = f.svc.client().await.unwrap();
    let row = c
        .query_one(
            "SELECT reserved_quantity::text, raw_reserved_quantity->>'value',
                    (SELECT sum(quantity)::text FROM reservation_item WHERE deleted_at IS NULL)
             FROM inventory_level",
            &[],
        )
        .await
        .unwrap();
    let (reserved, raw, live): (String, String, String) = (row.get(0), row.get(1), row.get(2));
    assert_eq!(
        (reserved.as_str(), raw.as_str(), live.as_str()),
        ("7", "7", "7")
    );
    drop(c);
    f.drop_schema().await;
}

#[tokio::test]
async fn exact_decimals_round_trip() {
    let f = Fixture::new("dec").await;
    let item = f
        .call("createInventoryItems", json!([{ "sku": "d" }]))
        .await
        .unwrap();
    let id = item["id"].as_str().unwrap();
    f.call(
        "createInventoryLevels",
        json!([{ "inventory_item_id": id, "location_id": "l", "stocked_quantity": "0.1" }]),
    )
    .await
    .unwrap();
    for _ in 0..2 {
        f.call("adjustInventory", json!([id, "l", 0.1]))
            .await
            .unwrap();
    }
    // 0.1 + 0.1 + 0.1 is exactly 0.3 in numeric, unlike in binary floating point.
    let lvl = f
        .call("retrieveInventoryLevelByItemAndLocation", json!([id, "l"]))
        .await
        .unwrap();
    assert_eq!(lvl["raw_stocked_quantity"]["value"], json!("0.3"));
    assert_eq!(
        f.call("confirmInventory", json!([id, ["l"], "0.3"]))
            .await
            .unwrap(),
        json!(true)
    );
    f.drop_schema().await;
}

#[tokio::test]
async fn failed_batch_writes_nothing() {
    let f = Fixture::new("atomic").await;
    let items = f
        .call(
            "createInventoryItems",
            json!([[{ "sku": "a" }, { "sku": "b" }]]),
        )
        .await
        .unwrap();
    let a = items[0]["id"].as_str().unwrap();
    let b = items[1]["id"].as_str().unwrap();
    f.call(
        "createInventoryLevels",
        json!([[{ "inventory_item_id": a, "location_id": "l", "stocked_quantity": 5 },
                { "inventory_item_id": b, "location_id": "l", "stocked_quantity": 1 }]]),
    )
    .await
    .unwrap();
    let err = f
        .call(
            "createReservationItems",
            json!([[{ "inventory_item_id": a, "location_id": "l", "quantity": 5 },
                    { "inventory_item_id": b, "location_id": "l", "quantity": 2 }]]),
        )
        .await
        .unwrap_err();
    assert_eq!(err.kind, ErrorType::NotAllowed);
    assert_eq!(
        err.message,
        format!("Not enough stock available for item {b} at location l")
    );
    let reserved = f
        .call("retrieveReservedQuantity", json!([a, ["l"]]))
        .await
        .unwrap();
    assert_eq!(reserved, json!(0.0));
    let list = f.call("listReservationItems", json!([{}])).await.unwrap();
    assert_eq!(list, json!([]));
    f.drop_schema().await;
}

/// restoreInventoryItems re-derives each level's reserved_quantity from the
/// reservations live after it: one hard-deleted while the item was
/// soft-deleted is not counted again, and those restored onto a level
/// re-created meanwhile are counted there, so stock cannot be oversold.
#[tokio::test]
async fn an_item_restore_counts_what_is_live() {
    let f = Fixture::new("itemrestore").await;
    let item = f
        .call("createInventoryItems", json!([{ "sku": "r" }]))
        .await
        .unwrap();
    let i = item["id"].as_str().unwrap();
    let level = f
        .call(
            "createInventoryLevels",
            json!([{ "inventory_item_id": i, "location_id": "l", "stocked_quantity": 10 }]),
        )
        .await
        .unwrap();
    let reserve = |q: i64| {
        f.call(
            "createReservationItems",
            json!([{ "inventory_item_id": i, "location_id": "l", "quantity": q }]),
        )
    };
    reserve(3).await.unwrap();
    let gone = reserve(2).await.unwrap();
    f.call("softDeleteInventoryItems", json!([[i]]))
        .await
        .unwrap();
    f.call("deleteReservationItems", json!([[gone["id"]]]))
        .await
        .unwrap();
    // The old level goes for good and a new one comes while the item is away.
    f.call("deleteInventoryLevels", json!([[level["id"]]]))
        .await
        .unwrap();
    f.call(
        "createInventoryLevels",
        json!([{ "inventory_item_id": i, "location_id": "l", "stocked_quantity": 10 }]),
    )
    .await
    .unwrap();
    f.call("restoreInventoryItems", json!([[i]])).await.unwrap();
    let reserved = f
        .call("retrieveReservedQuantity", json!([i, ["l"]]))
        .await
        .unwrap();
    assert_eq!(reserved, json!(3.0));
    let err = reserve(10).await.unwrap_err();
    assert_eq!(err.kind, ErrorType::NotAllowed);
    assert_eq!(
        err.message,
        format!("Not enough stock available for item {i} at location l")
    );
    f.drop_schema().await;
}

#[tokio::test]
async fn unknown_method_is_invalid_data() {
    let f = Fixture::new("unk").await;
    let err = f.call("dropEverything", json!([])).await.unwrap_err();
    assert_eq!(err.kind, ErrorType::InvalidData);
    f.drop_schema().await;
}

/// Each field of an error holds one thing: Medusa's message, the SQLSTATE and raw
/// text beside it for logs, and `code` only Medusa's code.
#[tokio::test]
async fn a_database_error_keeps_its_sqlstate_apart_from_medusa_code() {
    let f = Fixture::new("errfields").await;
    let items = f
        .call("createInventoryItems", json!([[{ "sku": "dup" }]]))
        .await
        .unwrap();
    let dup = f
        .call("createInventoryItems", json!([{ "sku": "dup" }]))
        .await
        .unwrap_err();
    assert_eq!(dup.kind, ErrorType::InvalidData);
    assert_eq!(dup.message, "Inventory item with sku: dup, already exists.");
    assert_eq!(dup.sql_state.as_deref(), Some("23505"));
    assert!(dup
        .cause
        .as_deref()
        .is_some_and(|c| c.contains("duplicate key")));
    assert_eq!(dup.code(), None);

    let id = items[0]["id"].as_str().unwrap();
    let level = json!({ "inventory_item_id": id, "location_id": "l", "stocked_quantity": 1 });
    f.call("createInventoryLevels", json!([[level]]))
        .await
        .unwrap();
    let row = json!({ "inventory_item_id": id, "location_id": "l",
                      "stocked_quantity": 5, "expected_stocked_quantity": 2 });
    let stale = f
        .call("setInventoryQuantities", json!([[row]]))
        .await
        .unwrap_err();
    assert_eq!(stale.kind, ErrorType::Conflict);
    assert_eq!(
        stale.code(),
        Some(inventory_core::error::COMPARE_QUANTITY_STALE)
    );
    assert_eq!(stale.sql_state, None);
    f.drop_schema().await;
}

#[tokio::test]
async fn committed_changes_are_reported_for_events() {
    let f = Fixture::new("changes").await;
    let call = |m: &'static str, a: Value| {
        let svc = f.svc.clone();
        async move {
            dispatch::call(&svc, m, a.as_array().unwrap(), &Value::Null)
                .await
                .unwrap()
        }
    };
    let item = call("createInventoryItems", json!([{ "sku": "e" }])).await;
    let id = item.result()["id"].as_str().unwrap().to_string();
    assert_eq!(item.changes[0].object, "inventory_item");
    assert_eq!(item.changes[0].action, "created");
    assert_eq!(item.changes[0].ids, vec![id.clone()]);
    let lvl = call(
        "createInventoryLevels",
        json!([{ "inventory_item_id": id, "location_id": "l", "stocked_quantity": 3 }]),
    )
    .await;
    let level_id = lvl.result()["id"].as_str().unwrap().to_string();
    let res = call(
        "createReservationItems",
        json!([[{ "inventory_item_id": id, "location_id": "l", "quantity": 1, "line_item_id": "li" },
                { "inventory_item_id": id, "location_id": "l", "quantity": 1 }]]),
    )
    .await;
    let kinds: Vec<(&str, &str, usize)> = res
        .changes
        .iter()
        .map(|c| (c.object, c.action, c.ids.len()))
        .collect();
    assert_eq!(
        kinds,
        vec![
            ("reservation_item", "created", 2),
            ("inventory_level", "updated", 1)
        ]
    );
    assert_eq!(res.changes[1].ids, vec![level_id.clone()]);
    let del = call("deleteReservationItemsByLineItem", json!(["li"])).await;
    assert_eq!(*del.result(), Value::Null);
    assert_eq!(del.changes[0].ids, vec![level_id]);
    assert_eq!(del.changes[1].action, "deleted");
    // A failed call reports nothing because it returns an error instead.
    let nothing = call("deleteReservationItemsByLineItem", json!(["li"])).await;
    assert!(nothing.changes.is_empty());
    f.drop_schema().await;
}

/// The poisoned group of issue 9: one call whose two lines overflow the decimal
/// domain, queued with 20 innocent calls. Only the poisoned call fails.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_poisoned_call_fails_alone_in_its_group() {
    let f = Fixture::grouped("poison", inventory_core::Grouping::ForceGroupOf(21)).await;
    let item = f
        .call("createInventoryItems", json!([{ "sku": "p" }]))
        .await
        .unwrap();
    let id = item["id"].as_str().unwrap().to_string();
    f.call(
        "createInventoryLevels",
        json!([{ "inventory_item_id": id, "location_id": "loc", "stocked_quantity": 100 }]),
    )
    .await
    .unwrap();
    let huge = "9999999999999999999999999999";
    let mut calls = Vec::new();
    let line = json!({ "inventory_item_id": id, "location_id": "loc", "quantity": huge, "allow_backorder": true });
    let svc = f.svc.clone();
    calls.push(tokio::spawn(async move {
        dispatch::call(
            &svc,
            "createReservationItems",
            &[json!([line, line])],
            &Value::Null,
        )
        .await
    }));
    for _ in 0..20 {
        let svc = f.svc.clone();
        let one = json!({ "inventory_item_id": id, "location_id": "loc", "quantity": 1 });
        calls.push(tokio::spawn(async move {
            dispatch::call(&svc, "createReservationItems", &[one], &Value::Null).await
        }));
    }
    let mut ok = 0;
    let mut invalid = 0;
    for c in calls {
        match c.await.unwrap() {
            Ok(_) => ok += 1,
            Err(e) => {
                assert_eq!(e.kind, ErrorType::InvalidData, "{}", e.message);
                assert!(e.message.starts_with("quantity "), "{}", e.message);
                invalid += 1;
            }
        }
    }
    assert_eq!((ok, invalid), (20, 1));
    let reserved = f
        .call("retrieveReservedQuantity", json!([id, ["loc"]]))
        .await
        .unwrap();
    assert_eq!(reserved, json!(20.0));
    f.drop_schema().await;
}

/// Pids of `n` connections the pool hands out at once (it makes them as needed).
async fn held_pids(svc: &InventoryService, n: usize) -> Vec<i32> {
    let mut held = Vec::new();
    for _ in 0..n {
        let c = svc.client().await.unwrap();
        let pid: i32 = c
            .query_one("SELECT pg_backend_pid()", &[])
            .await
            .unwrap()
            .get(0);
        held.push((pid, c));
    }
    held.into_iter().map(|(pid, _)| pid).collect()
}

#[tokio::test]
async fn a_server_lost_to_a_failover_replaces_the_pooled_connections() {
    let f = Fixture::new("lost").await;
    let before = held_pids(&f.svc, 4).await;
    // The pool reuses them.
    assert!(held_pids(&f.svc, 4)
        .await
        .iter()
        .all(|p| before.contains(p)));
    // Make every pooled connection read-only, as a demoted primary's would be.
    {
        let mut held = Vec::new();
        for _ in 0..4 {
            let c = f.svc.client().await.unwrap();
            c.batch_execute("SET SESSION CHARACTERISTICS AS TRANSACTION READ ONLY")
                .await
                .unwrap();
            held.push(c);
        }
    }
    let e = f
        .call("createInventoryItems", json!([{ "sku": "ro" }]))
        .await
        .unwrap_err();
    assert_eq!(e.sql_state.as_deref(), Some("25006"), "{e:?}");
    assert!(e.server_lost());
    // Every connection made before the refusal is dropped at its next hand-out.
    let after = held_pids(&f.svc, 4).await;
    assert!(
        after.iter().all(|p| !before.contains(p)),
        "old {before:?}, new {after:?}"
    );
    f.call("createInventoryItems", json!([{ "sku": "rw" }]))
        .await
        .unwrap();
    f.drop_schema().await;
}

#[tokio::test]
async fn a_call_that_gets_no_connection_in_time_fails_typed_instead_of_waiting() {
    let svc = InventoryService::connect(ConnectOptions {
        url: url(),
        schema: "public".into(),
        max_connections: 1,
        group_reservations: inventory_core::Grouping::Auto,
        ssl: None,
        ledger: true,
        idempotency_ttl: 60,
        acquire_timeout_ms: 200,
        slow_statement_ms: 1000.0,
    })
    .await
    .expect("connect");
    // The pool's only connection is busy: the call waits 200 ms, not forever.
    let held = svc.client().await.unwrap();
    let e = dispatch::call(&svc, "listInventoryItems", &[json!({})], &Value::Null)
        .await
        .unwrap_err();
    assert_eq!(e.kind, ErrorType::DbError);
    assert!(e.message.contains("acquireTimeoutMs"), "{e:?}");
    // Busy is not lost: the pool keeps its connection.
    assert!(!e.server_lost());
    drop(held);
}

#[tokio::test]
async fn a_multi_host_url_connects_to_the_host_that_answers() {
    // Port 1 refuses at once; target_session_attrs=read-write (what a failover
    // setup lists) then checks the next host is a primary.
    // DATABASE_URL with a dead host (port 1) listed first.
    let base = url();
    let at = base.find('@').expect("a postgres:// URL with a user") + 1;
    let sep = if base.contains('?') { '&' } else { '?' };
    let multi = format!(
        "{}127.0.0.1:1,{}{sep}target_session_attrs=read-write",
        &base[..at],
        &base[at..]
    );
    let port: u16 = base[at..]
        .split(['/', '?'])
        .next()
        .and_then(|hp| hp.rsplit(':').next())
        .and_then(|p| p.parse().ok())
        .unwrap_or(5432);
    let svc = InventoryService::connect(ConnectOptions {
        url: multi,
        schema: "public".into(),
        max_connections: 2,
        group_reservations: inventory_core::Grouping::Auto,
        ssl: None,
        ledger: true,
        idempotency_ttl: 60,
        acquire_timeout_ms: 5_000,
        slow_statement_ms: 1000.0,
    })
    .await
    .expect("connect");
    let answered: i32 = svc
        .client()
        .await
        .unwrap()
        .query_one("SELECT inet_server_port()", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(answered, i32::from(port));
}
