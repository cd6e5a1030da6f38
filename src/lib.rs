//! The napi addon: converts JS values (JSON text) to core calls and core
//! errors to JS errors. No domain logic lives here.

use futures::FutureExt;
use inventory_core::relay::{self, Relay, RelayStream};
use inventory_core::wire;
use inventory_core::{
    dispatch, entity, ConnectOptions, ErrorType, InventoryService, PruneOptions, ReconcileOptions,
};
use napi::bindgen_prelude::{Buffer, JsObjectValue, JsValue, PromiseRaw, ToNapiValue};
use napi::threadsafe_function::{ThreadsafeFunction, ThreadsafeFunctionCallMode};
use napi::Env;
use napi::Status;
use napi_derive::napi;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

fn panic_message(p: Box<dyn std::any::Any + Send>) -> String {
    p.downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| p.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown panic".into())
}

/// Runs a core future, turning a panic into a typed error instead of a crashed process.
async fn guarded<T>(
    fut: impl Future<Output = inventory_core::Result<T>>,
) -> inventory_core::Result<T> {
    match AssertUnwindSafe(fut).catch_unwind().await {
        Ok(r) => r,
        Err(p) => Err(
            inventory_core::Error::unexpected("internal error in medusa-inventory-rs")
                .with_cause(None, panic_message(p)),
        ),
    }
}

/// The JS error a core error rejects with, its fields as data, each with one meaning at
/// every layer (lib/ and medusa/ keep them): `type` is Medusa's error type, `message`
/// Medusa's message, `code` (when set) Medusa's code refining the type, and for logs
/// only `sqlState` (the SQLSTATE) and `cause` (raw database or panic text). Built here
/// on the JS thread because an async `#[napi]` fn can only reject with a
/// `napi::Error<Status>`, which has a Node-API status as `code` and no other fields.
fn js_error(env: &Env, e: inventory_core::Error) -> napi::Error {
    js_error_traced(env, e, None)
}

/// [`js_error`], with the call's trace (call option `trace`) as property `trace`.
fn js_error_traced(env: &Env, e: inventory_core::Error, trace: Option<&str>) -> napi::Error {
    let build = || -> napi::Result<napi::Error> {
        let mut obj = env.create_error(napi::Error::from_reason(e.message.as_str()))?;
        // napi_create_error sets `code` to the Node-API status ("GenericFailure").
        obj.delete_named_property("code")?;
        obj.set_named_property("type", e.kind.as_str())?;
        if let Some(code) = e.code() {
            obj.set_named_property("code", code)?;
        }
        if let Some(sql_state) = &e.sql_state {
            obj.set_named_property("sqlState", sql_state.as_str())?;
        }
        if let Some(cause) = &e.cause {
            obj.set_named_property("cause", cause.as_str())?;
        }
        if let Some(trace) = trace {
            obj.set_named_property("trace", trace)?;
        }
        Ok(napi::Error::from(obj.to_unknown()))
    };
    // Only an engine that cannot allocate fails here; its error then stands in.
    build().unwrap_or_else(|err| err)
}

/// Starts a core future on the runtime; the promise settles on the JS thread, where
/// an error is built as an object with data fields (see [`js_error`]).
fn settle<T: Send + ToNapiValue + 'static>(
    env: &Env,
    fut: impl Future<Output = inventory_core::Result<T>> + Send + 'static,
) -> napi::Result<PromiseRaw<'_, T>> {
    env.spawn_future_with_callback(async move { Ok(guarded(fut).await) }, |env, out| {
        out.map_err(|e| js_error(env, e))
    })
}

/// A data call's result text, or its error, with its trace when it asked for one.
type Traced = (inventory_core::Result<String>, Option<String>);

/// [`settle`] for `call`: the resolved JSON text gets a top-level key `trace`
/// (`{"duration", "spans"}`, core wire.rs), a rejection a property `trace`.
fn settle_call(
    env: &Env,
    fut: impl Future<Output = Traced> + Send + 'static,
) -> napi::Result<PromiseRaw<'_, String>> {
    let fut = async move {
        match AssertUnwindSafe(fut).catch_unwind().await {
            Ok(out) => out,
            Err(p) => (guarded(async { std::panic::resume_unwind(p) }).await, None),
        }
    };
    env.spawn_future_with_callback(async move { Ok(fut.await) }, |env, (out, trace)| {
        match (out, trace) {
            (Ok(mut text), Some(trace)) if text.ends_with('}') => {
                text.pop();
                text.push_str(",\"trace\":");
                text.push_str(&trace);
                text.push('}');
                Ok(text)
            }
            (Ok(text), _) => Ok(text),
            (Err(e), trace) => Err(js_error_traced(env, e, trace.as_deref())),
        }
    })
}

/// Runs a call's core future, traced when `trace` (wire.rs).
async fn run_traced(
    trace: bool,
    fut: impl Future<Output = inventory_core::Result<String>>,
) -> Traced {
    if trace {
        let (out, trace) = wire::traced(fut).await;
        (out, Some(trace))
    } else {
        (fut.await, None)
    }
}

/// Frees a call's parsed arguments on a task of their own, off the call's path:
/// a 1000-row batch is thousands of maps, and freeing them took 0.1–0.2 ms
/// that the caller waited for.
fn free_later<T: Send + 'static>(value: T) {
    tokio::spawn(async move { drop(value) });
}

/// Parses the facade's JSON. It always sends valid JSON, so the one failure a caller
/// can cause is nesting past serde_json's recursion limit (128).
fn parse(json: &str, what: &str) -> inventory_core::Result<serde_json::Value> {
    serde_json::from_str(json).map_err(|e| {
        let message = if e.to_string().starts_with("recursion limit exceeded") {
            format!("{what} are nested too deeply")
        } else {
            format!("{what} are not valid JSON")
        };
        inventory_core::Error::invalid(message).with_cause(None, e.to_string())
    })
}

#[napi]
#[derive(Debug)]
pub struct NativeInventory {
    inner: Arc<InventoryService>,
}

/// Opens a pool. `options` is JSON: `{ url, schema?, maxConnections? }`.
#[napi]
pub fn connect(env: &Env, options: String) -> napi::Result<PromiseRaw<'_, NativeInventory>> {
    settle(env, async move {
        let opts = ConnectOptions::from_json(&parse(&options, "options")?)?;
        let svc = InventoryService::connect(opts).await?;
        Ok(NativeInventory {
            inner: Arc::new(svc),
        })
    })
}

/// The API as JSON: `{ methods: [{ name, params, arrayParams, entity, kind, result }],
/// entities: { entity: { dates: [column], relations: { relation: entity }, columns:
/// { column: { type, create, update } }, computed: [field], ignored: [field] } } }`.
/// The facade builds its methods from `methods` and revives the `dates` columns of a
/// method's `result` entity (and its relations) as Dates, nothing else.
#[napi]
pub fn api() -> String {
    let entities: serde_json::Map<_, _> = entity::ENTITIES
        .iter()
        .chain([&&entity::INVENTORY_MOVEMENT])
        .map(|e| {
            let dates: Vec<_> = e
                .columns
                .iter()
                .filter(|c| c.kind == entity::Kind::Timestamp)
                .map(|c| c.name)
                .collect();
            let relations: serde_json::Map<_, _> = e
                .relations
                .iter()
                .map(|r| (r.name.to_string(), r.target.name.into()))
                .collect();
            // The rest describes the entity for the Jest suite, which checks the JS
            // declarations (medusa/entities.js, lib/index.d.ts) against it.
            let columns: serde_json::Map<_, _> = e
                .columns
                .iter()
                .map(|c| {
                    let col = serde_json::json!({
                        "type": c.kind.sql_type(),
                        "create": c.create.as_str(),
                        "update": c.update.as_str(),
                    });
                    (c.name.to_string(), col)
                })
                .collect();
            let computed: Vec<_> = e.computed.iter().map(|c| c.name).collect();
            let shape = serde_json::json!({
                "dates": dates,
                "relations": relations,
                "columns": columns,
                "computed": computed,
                "ignored": e.ignored,
            });
            (e.name.to_string(), shape)
        })
        .collect();
    serde_json::json!({ "methods": dispatch::manifest_json(), "entities": entities }).to_string()
}

/// Every `type` a rejection of this addon can carry (Medusa's error types).
#[napi]
pub fn error_types() -> Vec<String> {
    ErrorType::ALL
        .iter()
        .map(|t| t.as_str().to_string())
        .collect()
}

/// Panics inside the addon on purpose, so tests can prove a panic is a rejected promise.
#[cfg(feature = "test-hooks")]
#[napi(ts_return_type = "Promise<void>")]
pub fn debug_panic(env: &Env) -> napi::Result<PromiseRaw<'_, ()>> {
    settle(env, async {
        let v: Vec<u8> = Vec::new();
        let i = v.len() + 3;
        let _ = v[i];
        Ok(())
    })
}

#[napi]
impl NativeInventory {
    /// Creates or upgrades the tables; returns the schema version.
    #[napi]
    pub fn migrate<'env>(&self, env: &'env Env) -> napi::Result<PromiseRaw<'env, i32>> {
        let svc = self.inner.clone();
        settle(env, async move { svc.migrate().await })
    }

    /// Drops the module's tables (Medusa's migration revert).
    #[napi(ts_return_type = "Promise<void>")]
    pub fn revert_migrations<'env>(&self, env: &'env Env) -> napi::Result<PromiseRaw<'env, ()>> {
        let svc = self.inner.clone();
        settle(env, async move { svc.revert_migrations().await })
    }

    /// Calls a manifest method by name; `args` is the JSON array of its positional
    /// arguments, `options` JSON `{ reason?, actor?, reference?, idempotencyKey?,
    /// metadata?, expectedStockedQuantity?, trace?, columns? }` (or null). Resolves to
    /// JSON `{ result, changes: [[object, action, ids], …] }`, changes being what the
    /// committed call did (the Medusa adapter turns them into events). With `columns:
    /// true` a bulk create's DTOs come as `columns` and `rows: [[cell, …], …]` in place
    /// of `result` (docs/options.md: a column is `name`, `[name, precision]` for a
    /// BigNumber raw, or `{ name, precision?, value }` for a value all DTOs share). With
    /// `trace: true` it also has `trace: { duration, spans: [{ name, start, end, … }] }`
    /// (ns; a rejection has it, as JSON text, in its property `trace`).
    #[napi]
    pub fn call<'env>(
        &self,
        env: &'env Env,
        method: String,
        args: String,
        options: Option<String>,
    ) -> napi::Result<PromiseRaw<'env, String>> {
        let svc = self.inner.clone();
        settle_call(env, async move {
            let input = match call_input(&args, options.as_deref()) {
                Ok(input) => input,
                Err(e) => return (Err(e), None),
            };
            run_traced(input.trace, async move {
                let out = dispatch::call(&svc, &method, &input.args, &input.options).await;
                free_later(input.args);
                Ok(out?.into_answer(input.columns))
            })
            .await
        })
    }

    /// Counters since connect, as JSON text: `{ pool: { max, size, idle, waiting },
    /// groups: { count, members, largest }, refused, replays, connectionLosses,
    /// hostSwitches, slowStatements, calls }`.
    #[napi]
    pub fn stats(&self) -> String {
        self.inner.stats()
    }

    /// The events since the last take, as a JSON array of `{ kind, at, message, … }`
    /// (kinds: connection_lost, host_switched, pool_exhausted, slow_statement,
    /// events_dropped), or null when there are none.
    #[napi]
    pub fn take_events(&self) -> Option<String> {
        self.inner.take_events()
    }

    /// Finds (and unless `dryRun`, fixes) one page of levels whose reserved quantity
    /// drifted from their live reservations. `options` is JSON `{ dryRun?, after?,
    /// limit? }`; resolves to JSON `{ levels, next, scanned }`. Not a Medusa method,
    /// so not in the manifest `call` dispatches.
    #[napi]
    pub fn reconcile<'env>(
        &self,
        env: &'env Env,
        options: String,
    ) -> napi::Result<PromiseRaw<'env, String>> {
        let svc = self.inner.clone();
        settle(env, async move {
            let opts = ReconcileOptions::from_json(&parse(&options, "options")?)?;
            Ok(svc.reconcile(&opts).await?.to_string())
        })
    }

    /// Ledger retention: folds movements older than `options.movementRetentionDays`
    /// into one `carried_forward` movement per level and quantity, and drops expired
    /// idempotency keys. Resolves to JSON `{ folded, carried, keys }`.
    #[napi]
    pub fn prune<'env>(
        &self,
        env: &'env Env,
        options: String,
    ) -> napi::Result<PromiseRaw<'env, String>> {
        let svc = self.inner.clone();
        settle(env, async move {
            let opts = PruneOptions::from_json(&parse(&options, "options")?)?;
            Ok(svc.prune(&opts).await?.to_string())
        })
    }

    /// Replaces, as they are next handed out, the pooled connections made until now,
    /// as after a call that found its server gone. For medusa-inventory-rs/testing's
    /// `faults.dropConnections()`: a connection whose session the server ended is only
    /// known dead once its socket has been read, which may come after the next call.
    #[napi]
    pub fn forget_connections(&self) {
        self.inner.forget_connections();
    }

    #[napi]
    pub fn close(&self) {
        self.inner.close();
    }
}

/// The statements a host runs around a call on its lent connection (see
/// `NativeInventory::lend`): before, after success, after failure.
#[napi(object)]
#[derive(Debug)]
pub struct LentSql {
    pub savepoint: String,
    pub release: String,
    pub rollback: String,
}

#[napi]
pub fn lent_sql() -> LentSql {
    LentSql {
        savepoint: relay::SAVEPOINT.into(),
        release: relay::RELEASE.into(),
        rollback: relay::ROLLBACK.into(),
    }
}

/// Bytes to write on the lent connection's socket, in order.
type Write = ThreadsafeFunction<Buffer, (), Buffer, Status, false, true>;

/// One call on a connection the host lends inside its transaction (core
/// relay.rs): the host feeds what its socket receives, writes what `write`
/// gets, and ends its savepoint when `call` settles.
#[napi]
#[derive(Debug)]
pub struct NativeLent {
    svc: Arc<InventoryService>,
    relay: Arc<Relay>,
    stream: Mutex<Option<RelayStream>>,
    broken: Arc<AtomicBool>,
}

#[napi]
impl NativeInventory {
    /// Starts a lent call; `write` is called with each chunk to send.
    #[napi(ts_args_type = "write: (chunk: Buffer) => void")]
    pub fn lend(&self, write: Write) -> NativeLent {
        let (relay, stream) = relay::relay(Box::new(move |bytes| {
            write.call(Buffer::from(bytes), ThreadsafeFunctionCallMode::NonBlocking);
        }));
        NativeLent {
            svc: self.inner.clone(),
            relay: Arc::new(relay),
            stream: Mutex::new(Some(stream)),
            broken: Arc::new(AtomicBool::new(false)),
        }
    }
}

#[napi]
impl NativeLent {
    /// Bytes the lent socket received.
    #[napi]
    pub fn feed(&self, chunk: Buffer) {
        self.relay.feed(chunk.to_vec());
    }

    /// The lent socket closed.
    #[napi]
    pub fn end(&self) {
        self.relay.end();
    }

    /// Whether the connection is left in an unknown state (after `call`
    /// settled): the host must close it rather than use it again.
    #[napi(getter)]
    pub fn broken(&self) -> bool {
        self.broken.load(Ordering::Relaxed)
    }

    /// As `NativeInventory.call`, once per lent connection; settles when the
    /// socket is idle again (or broken).
    #[napi]
    pub fn call<'env>(
        &self,
        env: &'env Env,
        method: String,
        args: String,
        options: Option<String>,
    ) -> napi::Result<PromiseRaw<'env, String>> {
        let (svc, relay, broken) = (self.svc.clone(), self.relay.clone(), self.broken.clone());
        let stream = self.stream.lock().unwrap_or_else(|p| p.into_inner()).take();
        settle_call(env, async move {
            let Some(stream) = stream else {
                let e = inventory_core::Error::invalid("a lent connection serves one call");
                return (Err(e), None);
            };
            let input = match call_input(&args, options.as_deref()) {
                Ok(input) => input,
                Err(e) => return (Err(e), None),
            };
            run_traced(input.trace, async move {
                let (args, options) = (input.args, input.options);
                let lent =
                    dispatch::call_lent(&svc, stream, &relay, &method, &args, &options).await;
                free_later(args);
                broken.store(!lent.settled, Ordering::Relaxed);
                Ok(lent.out?.into_answer(input.columns))
            })
            .await
        })
    }
}

/// A call's arguments and options as the core takes them, and the addon's own
/// options, taken out of them (the core refuses options it does not know).
struct CallInput {
    /// The positional arguments (JSON: an array of them; a bare value is one).
    args: Vec<serde_json::Value>,
    /// The caller's options, null when absent.
    options: serde_json::Value,
    /// `trace: true`: the answer carries the call's spans.
    trace: bool,
    /// `columns: true`: DTOs a create returns as a table come as `columns` and
    /// `rows` in place of `result` (see `Outcome::into_answer`).
    columns: bool,
}

fn call_input(args: &str, options: Option<&str>) -> inventory_core::Result<CallInput> {
    let args = match parse(args, "arguments")? {
        serde_json::Value::Array(a) => a,
        other => vec![other],
    };
    let mut options = match options {
        Some(o) => parse(o, "options")?,
        None => serde_json::Value::Null,
    };
    let trace = take_flag(&mut options, "trace")?;
    let columns = take_flag(&mut options, "columns")?;
    Ok(CallInput {
        args,
        options,
        trace,
        columns,
    })
}

/// Takes the boolean call option `name` out of `options` (absent or null: false).
fn take_flag(options: &mut serde_json::Value, name: &str) -> inventory_core::Result<bool> {
    let Some(obj) = options.as_object_mut() else {
        return Ok(false);
    };
    match obj.remove(name) {
        None | Some(serde_json::Value::Null) => Ok(false),
        Some(serde_json::Value::Bool(b)) => Ok(b),
        Some(_) => Err(inventory_core::Error::invalid(format!(
            "call option {name} must be a boolean"
        ))),
    }
}

#[cfg(feature = "test-hooks")]
#[napi]
impl NativeInventory {
    /// The largest prepared-statement cache a pooled connection had when handed
    /// out; tests use it to prove the cache stays bounded.
    #[napi]
    pub fn debug_statement_cache_high_water(&self) -> u32 {
        self.inner.statement_cache_high_water() as u32
    }
}

/// Worker threads of the addon's Tokio runtime, unless the environment variable
/// MEDUSA_INVENTORY_RS_WORKER_THREADS names another number (1 to 64).
///
/// One by default: the addon's work is waiting on Postgres, and with one worker a
/// call's future and its connection's task run on the same thread, so no message
/// to or from Postgres waits for another worker thread to wake up. Measured on this
/// project's bench (2 cores): single calls about 30 µs faster, and 32 concurrent
/// callers reserving about 20% more per second than with a worker per core.
const DEFAULT_WORKER_THREADS: usize = 1;

fn worker_threads(var: Option<&str>) -> usize {
    var.and_then(|v| v.trim().parse::<usize>().ok())
        .filter(|n| (1..=64).contains(n))
        .unwrap_or(DEFAULT_WORKER_THREADS)
}

#[napi_derive::module_init]
fn init_runtime() {
    let var = std::env::var("MEDUSA_INVENTORY_RS_WORKER_THREADS").ok();
    // If the runtime cannot be built here, napi-rs builds its default one.
    if let Ok(rt) = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(worker_threads(var.as_deref()))
        .thread_name("medusa-inventory-rs")
        .enable_all()
        .build()
    {
        napi::bindgen_prelude::create_custom_tokio_runtime(rt);
    }
}

#[cfg(test)]
mod tests {
    use super::worker_threads;

    #[test]
    fn worker_threads_come_from_the_variable_within_bounds() {
        assert_eq!(worker_threads(None), 1);
        assert_eq!(worker_threads(Some("4")), 4);
        assert_eq!(worker_threads(Some(" 2 ")), 2);
        for bad in ["0", "65", "-1", "two", ""] {
            assert_eq!(worker_threads(Some(bad)), 1, "{bad}");
        }
    }
}
