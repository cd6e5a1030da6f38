//! The napi addon: converts JS values (JSON text) to core calls and core
//! errors to JS errors. No domain logic lives here.

use futures::FutureExt;
use inventory_core::{dispatch, ConnectOptions, InventoryService};
use napi_derive::napi;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;

fn panic_message(p: Box<dyn std::any::Any + Send>) -> String {
    p.downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| p.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown panic".into())
}

/// Runs a core future, turning its error into a JS error whose message starts
/// with `[type]` (details for logs on a last `[details]` line), and a panic into a
/// rejected promise instead of a crashed process.
async fn guarded<T>(fut: impl Future<Output = inventory_core::Result<T>>) -> napi::Result<T> {
    match AssertUnwindSafe(fut).catch_unwind().await {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(e)) => Err(napi::Error::from_reason(e.to_wire())),
        Err(p) => Err(napi::Error::from_reason(
            inventory_core::Error::unexpected("internal error in medusa-inventory-rs")
                .with_cause(None, panic_message(p))
                .to_wire(),
        )),
    }
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
pub async fn connect(options: String) -> napi::Result<NativeInventory> {
    guarded(async move {
        let opts = ConnectOptions::from_json(&parse(&options, "options")?)?;
        let svc = InventoryService::connect(opts).await?;
        Ok(NativeInventory {
            inner: Arc::new(svc),
        })
    })
    .await
}

/// The Medusa method names `call` accepts.
#[napi]
pub fn methods() -> Vec<String> {
    dispatch::METHODS.iter().map(|s| s.to_string()).collect()
}

/// Panics inside the addon on purpose, so tests can prove a panic is a rejected promise.
#[cfg(feature = "test-hooks")]
#[napi]
pub async fn debug_panic() -> napi::Result<()> {
    guarded(async {
        let v: Vec<u8> = Vec::new();
        let i = v.len() + 3;
        let _ = v[i];
        Ok(())
    })
    .await
}

#[napi]
impl NativeInventory {
    /// Creates or upgrades the tables; returns the schema version.
    #[napi]
    pub async fn migrate(&self) -> napi::Result<i32> {
        let svc = self.inner.clone();
        guarded(async move { svc.migrate().await }).await
    }

    /// Drops the module's tables (Medusa's migration revert).
    #[napi]
    pub async fn revert_migrations(&self) -> napi::Result<()> {
        let svc = self.inner.clone();
        guarded(async move { svc.revert_migrations().await }).await
    }

    /// Calls a Medusa method by name; `args` is the JSON array of its positional arguments.
    /// Resolves to JSON `{ result, changes: [[object, action, ids], …] }`, changes being
    /// what the committed call did (the Medusa adapter turns them into events).
    #[napi]
    pub async fn call(&self, method: String, args: String) -> napi::Result<String> {
        let svc = self.inner.clone();
        guarded(async move {
            let args = match parse(&args, "arguments")? {
                serde_json::Value::Array(a) => a,
                other => vec![other],
            };
            let out = dispatch::call(&svc, &method, &args).await?;
            Ok(out.to_json().to_string())
        })
        .await
    }

    #[napi]
    pub fn close(&self) {
        self.inner.close();
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
