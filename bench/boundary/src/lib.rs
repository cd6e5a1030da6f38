//! Boundary-cost experiment: the same three call shapes through JSON text (A),
//! napi's serde_json::Value conversion (B), and typed napi values (C/D).
//! The "work" inside Rust is identical across variants; only the crossing differs.
#![allow(clippy::too_many_arguments)]
use napi::bindgen_prelude::PromiseRaw;
use napi::Env;
use napi_derive::napi;
use serde_json::{json, Value};
use std::future::Future;
use std::sync::OnceLock;

const TS: &str = "2024-05-01T10:20:30.123Z";

fn level(i: usize, j: usize) -> Value {
    json!({
        "id": format!("ilev_{i:04}_{j}"), "inventory_item_id": format!("iitem_{i:04}"),
        "location_id": format!("sloc_{j:02}"), "stocked_quantity": 100 + i, "reserved_quantity": 3,
        "incoming_quantity": 0, "available_quantity": 97 + i,
        "raw_stocked_quantity": { "value": (100 + i).to_string(), "precision": 20 },
        "raw_reserved_quantity": { "value": "3", "precision": 20 },
        "raw_incoming_quantity": { "value": "0", "precision": 20 },
        "metadata": null, "created_at": TS, "updated_at": TS, "deleted_at": null,
    })
}

fn item(i: usize) -> Value {
    json!({
        "id": format!("iitem_{i:04}"), "sku": format!("SKU-{i:05}"), "origin_country": "dk",
        "hs_code": "6109.10", "mid_code": null, "material": "cotton", "weight": 250, "length": 30,
        "height": 2, "width": 20, "requires_shipping": true,
        "description": format!("Organic cotton t-shirt, size {i}"), "title": format!("T-shirt {i}"),
        "thumbnail": null, "metadata": { "color": "blue", "batch": i },
        "created_at": TS, "updated_at": TS, "deleted_at": null,
        "reserved_quantity": 6, "stocked_quantity": 200 + 2 * i,
        "location_levels": [level(i, 0), level(i, 1)],
    })
}

fn list50() -> &'static Value {
    static L: OnceLock<Value> = OnceLock::new();
    L.get_or_init(|| Value::Array((0..50).map(item).collect()))
}

/// The common "work" of each call (same for every variant that goes through Value).
fn handle(method: &str, args: Vec<Value>) -> Value {
    match method {
        "confirmInventory" => {
            let id = args[0].as_str().unwrap_or("");
            let locs = args[1].as_array().map(|a| a.len()).unwrap_or(0);
            let q = args[2].as_f64().unwrap_or(0.0);
            json!({ "result": !id.is_empty() && locs > 0 && q >= 0.0, "changes": [] })
        }
        "createReservationItems" => {
            let input = match args.into_iter().next() {
                Some(Value::Array(a)) => a,
                _ => vec![],
            };
            let mut ids = Vec::with_capacity(input.len());
            let rows: Vec<Value> = input
                .into_iter()
                .enumerate()
                .map(|(n, v)| {
                    let mut o = match v {
                        Value::Object(o) => o,
                        _ => Default::default(),
                    };
                    let id = format!("resitem_01J{n:023}");
                    let q = o.get("quantity").and_then(Value::as_f64).unwrap_or(0.0);
                    ids.push(Value::String(id.clone()));
                    o.insert("id".into(), Value::String(id));
                    o.insert("raw_quantity".into(), json!({ "value": q.to_string(), "precision": 20 }));
                    o.insert("created_at".into(), TS.into());
                    o.insert("updated_at".into(), TS.into());
                    o.insert("deleted_at".into(), Value::Null);
                    o.insert("external_id".into(), Value::Null);
                    o.insert("created_by".into(), Value::Null);
                    Value::Object(o)
                })
                .collect();
            json!({ "result": rows, "changes": [["reservation_item", "created", ids]] })
        }
        "listInventoryItems" => json!({ "result": list50().clone(), "changes": [] }),
        _ => Value::Null,
    }
}

fn args_vec(v: Value) -> Vec<Value> {
    match v {
        Value::Array(a) => a,
        other => vec![other],
    }
}

/// Like the product's `settle`: run on the tokio runtime, finish on the JS thread.
fn settle<T: Send + napi::bindgen_prelude::ToNapiValue + 'static>(
    env: &Env,
    fut: impl Future<Output = T> + Send + 'static,
) -> napi::Result<PromiseRaw<'_, T>> {
    env.spawn_future_with_callback(async move { Ok(fut.await) }, |_env, out| Ok(out))
}

// ---- A: JSON text both ways (what the product does) ----
#[napi]
pub fn a_async(env: &Env, method: String, args: String) -> napi::Result<PromiseRaw<'_, String>> {
    settle(env, async move {
        let v: Value = serde_json::from_str(&args).unwrap_or(Value::Null);
        handle(&method, args_vec(v)).to_string()
    })
}
#[napi]
pub fn a_sync(method: String, args: String) -> String {
    let v: Value = serde_json::from_str(&args).unwrap_or(Value::Null);
    handle(&method, args_vec(v)).to_string()
}

// ---- B: napi converts JS values <-> serde_json::Value ----
#[napi(ts_args_type = "method: string, args: any[]", ts_return_type = "Promise<any>")]
pub fn b_async(env: &Env, method: String, args: Value) -> napi::Result<PromiseRaw<'_, Value>> {
    settle(env, async move { handle(&method, args_vec(args)) })
}
#[napi(ts_args_type = "method: string, args: any[]", ts_return_type = "any")]
pub fn b_sync(method: String, args: Value) -> Value {
    handle(&method, args_vec(args))
}

// ---- C: confirmInventory fully typed ----
fn confirm(id: &str, locs: &[String], q: f64) -> bool {
    !id.is_empty() && !locs.is_empty() && q >= 0.0
}
#[napi]
pub fn c_confirm_async(env: &Env, id: String, locs: Vec<String>, q: f64) -> napi::Result<PromiseRaw<'_, bool>> {
    settle(env, async move { confirm(&id, &locs, q) })
}
#[napi]
pub fn c_confirm_sync(id: String, locs: Vec<String>, q: f64) -> bool {
    confirm(&id, &locs, q)
}

// ---- D: typed #[napi(object)] structs for the object-heavy calls ----
#[napi(object)]
#[derive(Clone)]
pub struct ReservationIn {
    #[napi(js_name = "inventory_item_id")]
    pub inventory_item_id: String,
    #[napi(js_name = "location_id")]
    pub location_id: String,
    pub quantity: f64,
    #[napi(js_name = "line_item_id")]
    pub line_item_id: Option<String>,
    #[napi(js_name = "allow_backorder")]
    pub allow_backorder: Option<bool>,
    pub description: Option<String>,
    pub metadata: Option<Value>,
}

#[napi(object)]
pub struct RawQuantity {
    pub value: String,
    pub precision: u32,
}

#[napi(object, use_nullable = true)]
pub struct ReservationOut {
    pub id: String,
    #[napi(js_name = "inventory_item_id")]
    pub inventory_item_id: String,
    #[napi(js_name = "location_id")]
    pub location_id: String,
    pub quantity: f64,
    #[napi(js_name = "raw_quantity")]
    pub raw_quantity: RawQuantity,
    #[napi(js_name = "line_item_id")]
    pub line_item_id: Option<String>,
    #[napi(js_name = "allow_backorder")]
    pub allow_backorder: bool,
    pub description: Option<String>,
    pub metadata: Option<Value>,
    #[napi(js_name = "external_id")]
    pub external_id: Option<String>,
    #[napi(js_name = "created_by")]
    pub created_by: Option<String>,
    #[napi(js_name = "created_at")]
    pub created_at: String,
    #[napi(js_name = "updated_at")]
    pub updated_at: String,
    #[napi(js_name = "deleted_at")]
    pub deleted_at: Option<String>,
}

fn create_typed(items: Vec<ReservationIn>) -> Vec<ReservationOut> {
    items
        .into_iter()
        .enumerate()
        .map(|(n, r)| ReservationOut {
            id: format!("resitem_01J{n:023}"),
            raw_quantity: RawQuantity { value: r.quantity.to_string(), precision: 20 },
            inventory_item_id: r.inventory_item_id,
            location_id: r.location_id,
            quantity: r.quantity,
            line_item_id: r.line_item_id,
            allow_backorder: r.allow_backorder.unwrap_or(false),
            description: r.description,
            metadata: r.metadata,
            external_id: None,
            created_by: None,
            created_at: TS.into(),
            updated_at: TS.into(),
            deleted_at: None,
        })
        .collect()
}
#[napi]
pub fn d_create_async(env: &Env, items: Vec<ReservationIn>) -> napi::Result<PromiseRaw<'_, Vec<ReservationOut>>> {
    settle(env, async move { create_typed(items) })
}
#[napi]
pub fn d_create_sync(items: Vec<ReservationIn>) -> Vec<ReservationOut> {
    create_typed(items)
}

#[napi(object, use_nullable = true)]
pub struct LevelOut {
    pub id: String,
    #[napi(js_name = "inventory_item_id")]
    pub inventory_item_id: String,
    #[napi(js_name = "location_id")]
    pub location_id: String,
    #[napi(js_name = "stocked_quantity")]
    pub stocked_quantity: f64,
    #[napi(js_name = "reserved_quantity")]
    pub reserved_quantity: f64,
    #[napi(js_name = "incoming_quantity")]
    pub incoming_quantity: f64,
    #[napi(js_name = "available_quantity")]
    pub available_quantity: f64,
    #[napi(js_name = "raw_stocked_quantity")]
    pub raw_stocked_quantity: RawQuantity,
    #[napi(js_name = "raw_reserved_quantity")]
    pub raw_reserved_quantity: RawQuantity,
    #[napi(js_name = "raw_incoming_quantity")]
    pub raw_incoming_quantity: RawQuantity,
    pub metadata: Option<Value>,
    #[napi(js_name = "created_at")]
    pub created_at: String,
    #[napi(js_name = "updated_at")]
    pub updated_at: String,
    #[napi(js_name = "deleted_at")]
    pub deleted_at: Option<String>,
}

#[napi(object, use_nullable = true)]
pub struct ItemOut {
    pub id: String,
    pub sku: Option<String>,
    #[napi(js_name = "origin_country")]
    pub origin_country: Option<String>,
    #[napi(js_name = "hs_code")]
    pub hs_code: Option<String>,
    #[napi(js_name = "mid_code")]
    pub mid_code: Option<String>,
    pub material: Option<String>,
    pub weight: Option<f64>,
    pub length: Option<f64>,
    pub height: Option<f64>,
    pub width: Option<f64>,
    #[napi(js_name = "requires_shipping")]
    pub requires_shipping: bool,
    pub description: Option<String>,
    pub title: Option<String>,
    pub thumbnail: Option<String>,
    pub metadata: Option<Value>,
    #[napi(js_name = "created_at")]
    pub created_at: String,
    #[napi(js_name = "updated_at")]
    pub updated_at: String,
    #[napi(js_name = "deleted_at")]
    pub deleted_at: Option<String>,
    #[napi(js_name = "reserved_quantity")]
    pub reserved_quantity: f64,
    #[napi(js_name = "stocked_quantity")]
    pub stocked_quantity: f64,
    #[napi(js_name = "location_levels")]
    pub location_levels: Vec<LevelOut>,
}

fn rq(v: &Value) -> RawQuantity {
    RawQuantity {
        value: v["value"].as_str().unwrap_or("0").into(),
        precision: v["precision"].as_u64().unwrap_or(20) as u32,
    }
}
fn s(v: &Value) -> Option<String> {
    v.as_str().map(String::from)
}

/// Typed rows built from the same fixture (the build cost stands in for the clone A/B pay).
fn list_typed() -> Vec<ItemOut> {
    list50()
        .as_array()
        .unwrap()
        .iter()
        .map(|i| ItemOut {
            id: s(&i["id"]).unwrap(),
            sku: s(&i["sku"]),
            origin_country: s(&i["origin_country"]),
            hs_code: s(&i["hs_code"]),
            mid_code: s(&i["mid_code"]),
            material: s(&i["material"]),
            weight: i["weight"].as_f64(),
            length: i["length"].as_f64(),
            height: i["height"].as_f64(),
            width: i["width"].as_f64(),
            requires_shipping: i["requires_shipping"].as_bool().unwrap_or(true),
            description: s(&i["description"]),
            title: s(&i["title"]),
            thumbnail: s(&i["thumbnail"]),
            metadata: Some(i["metadata"].clone()).filter(|m| !m.is_null()),
            created_at: s(&i["created_at"]).unwrap(),
            updated_at: s(&i["updated_at"]).unwrap(),
            deleted_at: s(&i["deleted_at"]),
            reserved_quantity: i["reserved_quantity"].as_f64().unwrap_or(0.0),
            stocked_quantity: i["stocked_quantity"].as_f64().unwrap_or(0.0),
            location_levels: i["location_levels"]
                .as_array()
                .unwrap()
                .iter()
                .map(|l| LevelOut {
                    id: s(&l["id"]).unwrap(),
                    inventory_item_id: s(&l["inventory_item_id"]).unwrap(),
                    location_id: s(&l["location_id"]).unwrap(),
                    stocked_quantity: l["stocked_quantity"].as_f64().unwrap(),
                    reserved_quantity: l["reserved_quantity"].as_f64().unwrap(),
                    incoming_quantity: l["incoming_quantity"].as_f64().unwrap(),
                    available_quantity: l["available_quantity"].as_f64().unwrap(),
                    raw_stocked_quantity: rq(&l["raw_stocked_quantity"]),
                    raw_reserved_quantity: rq(&l["raw_reserved_quantity"]),
                    raw_incoming_quantity: rq(&l["raw_incoming_quantity"]),
                    metadata: Some(l["metadata"].clone()).filter(|m| !m.is_null()),
                    created_at: s(&l["created_at"]).unwrap(),
                    updated_at: s(&l["updated_at"]).unwrap(),
                    deleted_at: s(&l["deleted_at"]),
                })
                .collect(),
        })
        .collect()
}
#[napi]
pub fn d_list_async(env: &Env) -> napi::Result<PromiseRaw<'_, Vec<ItemOut>>> {
    settle(env, async move { list_typed() })
}
#[napi]
pub fn d_list_sync() -> Vec<ItemOut> {
    list_typed()
}

/// Baseline: an async no-op, to separate the Promise/runtime round trip from conversion.
#[napi]
pub fn noop_async(env: &Env) -> napi::Result<PromiseRaw<'_, bool>> {
    settle(env, async move { true })
}
#[napi]
pub fn noop_sync() -> bool {
    true
}

/// Rust-only split of variant A's native side, in µs per step (averaged over `iters`):
/// [from_str, handle, to_string].
#[napi]
pub fn time_parts(method: String, args: String, iters: u32) -> Vec<f64> {
    use std::time::Instant;
    let (mut p, mut h, mut s) = (0f64, 0f64, 0f64);
    for _ in 0..iters {
        let t = Instant::now();
        let v: Value = serde_json::from_str(&args).unwrap();
        let t1 = Instant::now();
        let out = handle(&method, args_vec(v));
        let t2 = Instant::now();
        let text = out.to_string();
        let t3 = Instant::now();
        std::hint::black_box(text);
        p += (t1 - t).as_secs_f64();
        h += (t2 - t1).as_secs_f64();
        s += (t3 - t2).as_secs_f64();
    }
    let k = 1e6 / iters as f64;
    vec![p * k, h * k, s * k]
}

/// Rust-only "work" of each variant (everything but the crossing), µs per call:
/// `variant` "value" times `handle` on already-parsed args (used by A and B), "typed"
/// times `create_typed` / `list_typed` (used by D). Clones of the input are not timed.
#[napi]
pub fn time_work(variant: String, method: String, args: String, iters: u32) -> f64 {
    use std::time::{Duration, Instant};
    let parsed: Value = serde_json::from_str(&args).unwrap();
    let typed_in: Vec<ReservationIn> = parsed[0]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|r| ReservationIn {
                    inventory_item_id: s(&r["inventory_item_id"]).unwrap_or_default(),
                    location_id: s(&r["location_id"]).unwrap_or_default(),
                    quantity: r["quantity"].as_f64().unwrap_or(0.0),
                    line_item_id: s(&r["line_item_id"]),
                    allow_backorder: r["allow_backorder"].as_bool(),
                    description: s(&r["description"]),
                    metadata: Some(r["metadata"].clone()),
                })
                .collect()
        })
        .unwrap_or_default();
    let mut total = Duration::ZERO;
    for _ in 0..iters {
        if variant == "value" {
            let a = args_vec(parsed.clone());
            let t = Instant::now();
            std::hint::black_box(handle(&method, a));
            total += t.elapsed();
        } else if method == "listInventoryItems" {
            let t = Instant::now();
            std::hint::black_box(list_typed());
            total += t.elapsed();
        } else {
            let a = typed_in.clone();
            let t = Instant::now();
            std::hint::black_box(create_typed(a));
            total += t.elapsed();
        }
    }
    total.as_secs_f64() * 1e6 / iters as f64
}
