//! The service handle (connect options, pool, statement cache bound, id
//! generation, the reservation group-commit queue) and the generic reads
//! (list/count/retrieve). Each entity's writes are `impl InventoryService`
//! blocks in items.rs, levels.rs and reservations.rs.

use crate::args::{ListArgs, RetrieveArgs};
use crate::connection::{self, Connector, SslOption};
use crate::entity::{Entity, Kind};
use crate::error::{Error, Result};
use crate::hosts::{HostByHost, DEFAULT_CONNECT_TIMEOUT};
use crate::input::{get, FieldValue, Row, Typed};
use crate::migrate::{self, quote_ident};
use crate::outcome::Outcome;
use crate::reserver::{Grouping, Reserver};
use crate::sql::{self, Count, Filter, FindConfig, Params};
use crate::wire::{CallTrace, Taps, Telemetry, Wires};
use deadpool_postgres::{
    ClientWrapper, GenericClient, Manager, ManagerConfig, Pool, RecyclingMethod,
};
use serde_json::Value;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicU8, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Largest pool a process may open (Postgres' own default max_connections is 100).
pub(crate) const MAX_CONNECTIONS: u64 = 1_000;

/// Prepared statements kept per connection. Filter shapes come from HTTP query
/// strings, so the cache must not grow with them: past this size it is emptied
/// (the hot statements are prepared again on their next use).
pub(crate) const MAX_CACHED_STATEMENTS: usize = 256;

/// How long a call waits for a pooled connection by default (connect option
/// `acquireTimeoutMs`): past it the call fails (08001) instead of hanging.
pub(crate) const DEFAULT_ACQUIRE_TIMEOUT_MS: u64 = 15_000;

/// Longest acquire timeout the connect options accept: ten minutes.
pub(crate) const MAX_ACQUIRE_TIMEOUT_MS: u64 = 600_000;

/// Default of connect option `slowStatementMs`: a round trip of a second.
pub(crate) const DEFAULT_SLOW_STATEMENT_MS: f64 = 1_000.0;

/// Largest `slowStatementMs`: an hour.
pub(crate) const MAX_SLOW_STATEMENT_MS: f64 = 3_600_000.0;

/// Longest idempotency key lifetime: a year.
pub(crate) const MAX_TTL_SECONDS: i64 = 366 * 24 * 60 * 60;

#[derive(Clone)]
pub struct ConnectOptions {
    pub url: String,
    pub schema: String,
    pub max_connections: usize,
    /// Batch concurrent reservation calls of this process (group commit). Default
    /// Auto; `{ forceGroupOf: n }` is a test hook (see Grouping).
    pub group_reservations: Grouping,
    /// node-postgres's `ssl` option; when set it wins over the URL's TLS parameters.
    pub ssl: Option<SslOption>,
    /// Write the movement ledger (default true; false only to measure its cost).
    pub ledger: bool,
    /// Seconds an idempotency key is kept.
    pub idempotency_ttl: i64,
    /// Milliseconds a call waits for a pooled connection.
    pub acquire_timeout_ms: u64,
    /// A round trip to Postgres at least this long (ms) is a slow_statement
    /// event; 0: none.
    pub slow_statement_ms: f64,
}

// Hand-written so the URL (and its password) never reaches a log through `{:?}`.
impl std::fmt::Debug for ConnectOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConnectOptions")
            .field("url", &"<redacted>")
            .field("schema", &self.schema)
            .field("max_connections", &self.max_connections)
            .field("group_reservations", &self.group_reservations)
            .field("ssl", &self.ssl)
            .field("ledger", &self.ledger)
            .field("idempotency_ttl", &self.idempotency_ttl)
            .field("acquire_timeout_ms", &self.acquire_timeout_ms)
            .field("slow_statement_ms", &self.slow_statement_ms)
            .finish()
    }
}

impl ConnectOptions {
    pub fn from_json(v: &Value) -> Result<Self> {
        let obj = v
            .as_object()
            .ok_or_else(|| Error::invalid("connect options must be an object"))?;
        let mut opts = ConnectOptions {
            url: String::new(),
            schema: "public".into(),
            max_connections: 10,
            group_reservations: Grouping::Auto,
            ssl: None,
            ledger: true,
            idempotency_ttl: crate::idempotency::DEFAULT_TTL_SECONDS,
            acquire_timeout_ms: DEFAULT_ACQUIRE_TIMEOUT_MS,
            slow_statement_ms: DEFAULT_SLOW_STATEMENT_MS,
        };
        for (k, val) in obj {
            opts.set(k, val)?;
        }
        if opts.url.is_empty() {
            return Err(Error::invalid("connect option url is required"));
        }
        if !plain_identifier(&opts.schema) {
            return Err(Error::invalid(
                "schema must be a plain identifier (letters, digits, underscore)",
            ));
        }
        Ok(opts)
    }

    /// Sets option `k` from its JSON value (null: the default).
    fn set(&mut self, k: &str, val: &Value) -> Result<()> {
        match (k, val) {
            ("url", Value::String(s)) => self.url = s.clone(),
            ("schema", Value::String(s)) => self.schema = s.clone(),
            ("schema", Value::Null) => {}
            ("maxConnections", Value::Number(n)) => {
                // deadpool allocates the whole pool's slots up front: a huge value aborts Node.
                match n.as_u64() {
                    Some(m @ 1..=MAX_CONNECTIONS) => self.max_connections = m as usize,
                    _ => {
                        return Err(Error::invalid(format!(
                            "connect option maxConnections must be an integer from 1 to {MAX_CONNECTIONS}"
                        )))
                    }
                }
            }
            ("maxConnections", Value::Null) => {}
            ("groupReservations", Value::Bool(b)) => {
                self.group_reservations = match b {
                    true => Grouping::Auto,
                    false => Grouping::Off,
                }
            }
            ("groupReservations", Value::Object(o)) => {
                self.group_reservations = Grouping::from_json(o)?
            }
            ("groupReservations", Value::Null) => {}
            ("ssl", v) => self.ssl = SslOption::from_json(v)?,
            ("ledger", Value::Bool(b)) => self.ledger = *b,
            ("ledger", Value::Null)
            | ("idempotencyKeyTtl", Value::Null)
            | ("acquireTimeoutMs", Value::Null) => {}
            ("acquireTimeoutMs", Value::Number(n)) => match n.as_u64() {
                Some(ms @ 1..=MAX_ACQUIRE_TIMEOUT_MS) => self.acquire_timeout_ms = ms,
                _ => {
                    return Err(Error::invalid(format!(
                        "connect option acquireTimeoutMs must be an integer from 1 to {MAX_ACQUIRE_TIMEOUT_MS}"
                    )))
                }
            },
            ("slowStatementMs", Value::Null) => {}
            ("slowStatementMs", Value::Number(n)) => match n.as_f64() {
                Some(ms) if (0.0..=MAX_SLOW_STATEMENT_MS).contains(&ms) => {
                    self.slow_statement_ms = ms
                }
                _ => {
                    return Err(Error::invalid(format!(
                        "connect option slowStatementMs must be a number of milliseconds from 0 (off) to {MAX_SLOW_STATEMENT_MS}"
                    )))
                }
            },
            ("idempotencyKeyTtl", Value::Number(n)) => match n.as_i64() {
                Some(s @ 1..=MAX_TTL_SECONDS) => self.idempotency_ttl = s,
                _ => {
                    return Err(Error::invalid(format!(
                        "connect option idempotencyKeyTtl must be an integer number of seconds from 1 to {MAX_TTL_SECONDS}"
                    )))
                }
            },
            ("url" | "schema" | "maxConnections" | "groupReservations" | "ledger"
            | "idempotencyKeyTtl" | "acquireTimeoutMs" | "slowStatementMs", _) => {
                return Err(Error::invalid(format!(
                    "connect option {k} has the wrong type"
                )))
            }
            _ => return Err(Error::invalid(format!("Unknown connect option '{k}'"))),
        }
        Ok(())
    }
}

/// A schema name usable unquoted: letters, digits and underscores, not
/// starting with a digit, at most 63 bytes (Postgres' identifier length).
fn plain_identifier(schema: &str) -> bool {
    !schema.is_empty()
        && schema.len() <= 63
        && schema
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_')
        && !schema.starts_with(|c: char| c.is_ascii_digit())
}

pub struct InventoryService {
    pub(crate) pool: Pool,
    schema: String,
    ids: Mutex<ulid::Generator>,
    pub(crate) reserver: Reserver,
    /// Movement rows are written (connect option `ledger`).
    pub(crate) ledger: bool,
    pub(crate) idempotency_ttl: i64,
    /// Pooled connections created before this (nanoseconds after `epoch`) are
    /// dropped when next handed out: the server they reach died or became a
    /// standby (see `forget_connections`).
    lost_at: Arc<AtomicU64>,
    epoch: Instant,
    cache_high_water: Arc<std::sync::atomic::AtomicUsize>,
    /// Whether the item live count is kept (UNKNOWN until asked; see
    /// `live_count_kept`), and whether a compaction of it is running.
    live_count: AtomicU8,
    compacting: Arc<AtomicBool>,
    /// The item digit-gram index was seen (see `digits_indexed`); shared
    /// with the services of lent calls, which live for one call each.
    digits_index: Arc<AtomicBool>,
    /// A release found migrate's look function missing (reservations.rs,
    /// `release_at_once`): it takes the longer way until the next migrate.
    pub(crate) no_arrived_fn: AtomicBool,
    /// What errors about connecting must not show (the password, in its forms).
    secrets: connection::Secrets,
    /// Counters, events, and each pooled connection's wire (wire.rs).
    pub(crate) taps: Taps,
}

const UNKNOWN: u8 = 0;
const KEPT: u8 = 1;
const NOT_KEPT: u8 = 2;

/// Live-count deltas (migrate.rs) an unfiltered count sums before it has them
/// folded into one.
const COMPACT_COUNT_AFTER: i64 = 64;

impl std::fmt::Debug for InventoryService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InventoryService")
            .field("schema", &self.schema)
            .field("pool", &self.pool.status())
            .finish_non_exhaustive()
    }
}

pub type Client = deadpool_postgres::Client;

impl InventoryService {
    pub async fn connect(opts: ConnectOptions) -> Result<Self> {
        let prepared = connection::prepare(&opts.url, opts.ssl.as_ref())?;
        let cfg = pg_config(prepared.config.clone(), &opts.schema);
        let hosts = crate::hosts::host_count(&cfg) as u32;
        let connect = *cfg
            .get_connect_timeout()
            .unwrap_or(&DEFAULT_CONNECT_TIMEOUT);
        let telemetry = Telemetry::new(opts.slow_statement_ms);
        let wires = Arc::new(Wires::default());
        let mgr = manager(cfg, &prepared.connector, connect, &wires, &telemetry);
        let high_water = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let epoch = Instant::now();
        let lost_at = Arc::new(AtomicU64::new(0));
        // Last in, first out: a caller that is alone gets the connection it
        // just used, whose server process is awake, with the statements and
        // plans it already cached, instead of the pool's coldest connection
        // (the default, first in first out, rotated a lone caller through
        // every connection a burst had opened). Under load all are in use
        // either way.
        let pool = Pool::builder(mgr)
            .queue_mode(deadpool_postgres::QueueMode::Lifo)
            .max_size(opts.max_connections)
            .runtime(deadpool_postgres::Runtime::Tokio1)
            .wait_timeout(Some(Duration::from_millis(opts.acquire_timeout_ms)))
            // Every host's bound, and a second: the pool's wait for a new connection.
            // (Saturating: connect_timeout is the caller's number.)
            .create_timeout(Some(
                connect
                    .checked_mul(hosts)
                    .and_then(|d| d.checked_add(Duration::from_secs(1)))
                    .unwrap_or(Duration::MAX),
            ))
            .recycle_timeout(Some(Duration::from_secs(5)))
            .pre_recycle(forget_lost(epoch, lost_at.clone()))
            .post_recycle(bound_cache(high_water.clone()))
            .post_create(keep_wire(wires.clone()))
            .build()
            .map_err(|e| Error::unexpected(e.to_string()))?;
        // Fail at connect time, not on the first call, when the server is unreachable
        // or the TLS requirements cannot be met.
        let _probe = pool.get().await.map_err(|e| prepared.connect_error(e))?;
        let taps = Taps { telemetry, wires };
        Ok(InventoryService {
            pool,
            schema: opts.schema.clone(),
            ids: Mutex::new(ulid::Generator::new()),
            reserver: Reserver::new(opts.group_reservations, taps.clone()),
            ledger: opts.ledger,
            idempotency_ttl: opts.idempotency_ttl,
            lost_at,
            epoch,
            cache_high_water: high_water,
            live_count: AtomicU8::new(UNKNOWN),
            digits_index: Arc::new(AtomicBool::new(false)),
            compacting: Arc::new(AtomicBool::new(false)),
            no_arrived_fn: AtomicBool::new(false),
            secrets: prepared.secrets.clone(),
            taps,
        })
    }

    /// A service for one call on a lent connection (relay.rs): its one
    /// connection is the relay, it keeps this service's settings, and it
    /// runs alone, as the caller's transaction does: no group commit (a group
    /// would share one transaction across requests), no background compaction.
    pub fn over_relay(&self, stream: crate::relay::RelayStream) -> Result<InventoryService> {
        let wires = Arc::new(Wires::default());
        let mgr = Manager::from_connect(
            crate::relay::relay_config(),
            crate::relay::RelayConnect::new(stream, wires.clone(), self.taps.telemetry.clone()),
            ManagerConfig {
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let pool = Pool::builder(mgr)
            .post_create(keep_wire(wires.clone()))
            .max_size(1)
            .runtime(deadpool_postgres::Runtime::Tokio1)
            .wait_timeout(Some(Duration::from_millis(DEFAULT_ACQUIRE_TIMEOUT_MS)))
            .build()
            .map_err(|e| Error::unexpected(e.to_string()))?;
        let taps = Taps {
            telemetry: self.taps.telemetry.clone(),
            wires,
        };
        Ok(InventoryService {
            pool,
            schema: self.schema.clone(),
            ids: Mutex::new(ulid::Generator::new()),
            reserver: Reserver::new(Grouping::Off, taps.clone()),
            ledger: self.ledger,
            idempotency_ttl: self.idempotency_ttl,
            lost_at: Arc::new(AtomicU64::new(0)),
            epoch: Instant::now(),
            cache_high_water: Arc::new(std::sync::atomic::AtomicUsize::new(0)),
            live_count: AtomicU8::new(UNKNOWN),
            digits_index: self.digits_index.clone(),
            // Never compacts: that would write on the lent connection after the call.
            compacting: Arc::new(AtomicBool::new(true)),
            no_arrived_fn: AtomicBool::new(false),
            secrets: self.secrets.clone(),
            taps,
        })
    }

    /// Ends a relay service's connection: its prepared statements are closed
    /// on the server (they would outlive the call in the lender's session).
    /// A closed statement only queues its Close, and deadpool stops a
    /// connection's task when the client goes: one more round trip behind the
    /// Closes sees them done before the connection is dropped.
    pub async fn end_relay(self) {
        for c in self.pool.retain(|_, _| false).removed {
            c.statement_cache.clear();
            let _ = c.batch_execute("").await;
        }
        self.pool.close();
    }

    pub async fn migrate(&self) -> Result<i32> {
        let mut client = self.client().await?;
        let version = migrate::migrate(&mut client, &self.schema).await?;
        self.live_count.store(UNKNOWN, Ordering::Relaxed);
        self.digits_index.store(false, Ordering::Relaxed);
        self.no_arrived_fn.store(false, Ordering::Relaxed);
        Ok(version)
    }

    pub async fn revert_migrations(&self) -> Result<()> {
        let mut client = self.client().await?;
        self.digits_index.store(false, Ordering::Relaxed);
        migrate::revert(&mut client, &self.schema).await
    }

    pub fn close(&self) {
        self.pool.close();
    }

    /// Drops, as they are next handed out, the pooled connections made until
    /// now: a call found their server gone or read-only (a failover).
    pub fn forget_connections(&self) {
        self.taps.telemetry.connection_lost();
        let now = self.epoch.elapsed().as_nanos().min(u64::MAX as u128) as u64;
        self.lost_at.fetch_max(now, Ordering::Relaxed);
    }

    pub async fn client(&self) -> Result<Client> {
        // A new connection's error (the pool reconnecting after a failover) may
        // quote what the connection string held: it is scrubbed like connect's.
        self.taps
            .checkout(&self.pool, CallTrace::current().as_ref())
            .await
            .map_err(|e| self.secrets.scrub(e.into()))
    }

    /// Counters since connect, with the pool's state, as JSON text:
    /// `{pool: {max, size, idle, waiting}, groups: {count, members, largest},
    /// refused, replays, connectionLosses, hostSwitches, slowStatements, calls}`.
    pub fn stats(&self) -> String {
        self.taps.telemetry.stats(&self.pool.status())
    }

    /// The events since the last take, as a JSON array (None: none).
    pub fn take_events(&self) -> Option<String> {
        self.taps.telemetry.take_events()
    }

    /// The largest statement cache a connection had when handed out (for tests).
    pub fn statement_cache_high_water(&self) -> usize {
        self.cache_high_water.load(Ordering::Relaxed)
    }

    /// Gives every row of a create without an id a new one (of `entity`):
    /// monotonic ULIDs, so ids created in one call sort in input order (one
    /// lock and one clock reading for the batch).
    pub(crate) fn assign_ids(&self, entity: &Entity, rows: &mut [Row]) {
        let mut g = self.ids.lock().unwrap_or_else(|p| p.into_inner());
        let now = std::time::SystemTime::now();
        let mut buf = [0u8; ulid::ULID_LEN];
        for r in rows.iter_mut() {
            if get(r, "id").is_none() {
                let id = g
                    .generate_from_datetime(now)
                    .unwrap_or_else(|_| ulid::Ulid::new());
                let mut text = String::with_capacity(entity.prefix.len() + 1 + ulid::ULID_LEN);
                text.push_str(entity.prefix);
                text.push('_');
                text.push_str(id.array_to_str(&mut buf));
                r.push(FieldValue {
                    name: "id",
                    kind: Kind::Text,
                    text: Some(text),
                    typed: Typed::Untyped,
                });
            }
        }
    }

    // ---- generic reads -------------------------------------------------

    pub(crate) async fn list(&self, args: ListArgs) -> Result<Outcome> {
        let c = self.client().await?;
        let filter = (args.filter)
            .for_schema(|| self.digits_indexed(&c, args.entity))
            .await?;
        let rows = list_rows(&c, args.entity, filter, &args.config).await?;
        let mut text = String::new();
        push_json_array(&mut text, &rows)?;
        Ok(Outcome::from_json_text(text))
    }

    pub(crate) async fn list_and_count(&self, args: ListArgs) -> Result<Outcome> {
        let ListArgs {
            entity,
            filter,
            config: cfg,
        } = args;
        let c = self.client().await?;
        let filter = filter
            .for_schema(|| self.digits_indexed(&c, entity))
            .await?;
        let kept = match sql::live_count_table(entity, filter, &cfg) {
            Some(table) if self.live_count_kept(&c, table).await? => Some(table),
            _ => None,
        };
        let count_by = kept.map_or(Count::Scan, Count::Kept);
        let mut params = Params::default();
        let sql = sql::select_sql(entity, filter, &cfg, count_by, &mut params)?;
        let rows = query_list(&c, &sql, &params).await?;
        let mut count: i64 = rows.first().map(|r| r.get(1)).unwrap_or(0);
        let mut parts: i64 = rows
            .first()
            .filter(|_| kept.is_some())
            .map_or(0, |r| r.get(2));
        if rows.is_empty() && (cfg.skip.unwrap_or(0) > 0 || cfg.take == Some(0)) {
            // Paged past the end or asked for no rows (Medusa still counts them):
            // the window count is unavailable, count directly.
            let row = match kept {
                Some(table) => {
                    c.query_one(
                        &format!("SELECT coalesce(sum(delta), 0)::bigint, count(*) FROM {table}"),
                        &[],
                    )
                    .await?
                }
                None => {
                    let mut cfg2 = cfg.clone();
                    cfg2.skip = None;
                    cfg2.take = None;
                    let mut p2 = Params::default();
                    let inner = sql::select_sql(entity, filter, &cfg2, Count::No, &mut p2)?;
                    c.query_one(
                        &format!("SELECT count(*), 0::bigint FROM ({inner}) s"),
                        &p2.refs(),
                    )
                    .await?
                }
            };
            count = row.get(0);
            parts = row.get(1);
        }
        if let (Some(table), true) = (kept, parts > COMPACT_COUNT_AFTER) {
            self.compact_live_count(table);
        }
        let mut text = String::from("[");
        push_json_array(&mut text, &rows)?;
        text.push_str(&format!(",{count}]"));
        Ok(Outcome::from_json_text(text))
    }

    /// Whether this schema keeps the live count in `table` (its triggers all in
    /// place and enabled; migrate installs them). Asked once, and again after
    /// each migrate.
    async fn live_count_kept(&self, c: &ClientWrapper, table: &str) -> Result<bool> {
        match self.live_count.load(Ordering::Relaxed) {
            KEPT => return Ok(true),
            NOT_KEPT => return Ok(false),
            _ => {}
        }
        let kept: bool = c
            .query_one(
                "SELECT to_regclass($1) IS NOT NULL AND (
                   SELECT count(*) FROM pg_trigger
                   WHERE tgrelid = to_regclass('inventory_item') AND tgname LIKE $1 || '\\_%'
                     AND tgenabled IN ('O', 'A')) = 4",
                &[&table],
            )
            .await?
            .get(0);
        self.live_count
            .store(if kept { KEPT } else { NOT_KEPT }, Ordering::Relaxed);
        Ok(kept)
    }

    /// Whether this schema has `entity`'s digit-gram index (migrate makes it,
    /// with the function a `q` with a long number calls). Once seen, it is
    /// taken as there until the next migrate or revert. Until then each such
    /// search asks (a catalog lookup): a server started before the migrate
    /// that adds it uses it from the migrate on, without a restart.
    async fn digits_indexed(&self, c: &ClientWrapper, entity: &Entity) -> Result<bool> {
        if self.digits_index.load(Ordering::Relaxed) {
            return Ok(true);
        }
        let there: bool = c
            .query_one(
                "SELECT to_regclass($1) IS NOT NULL",
                &[&entity.digits_index.unwrap_or_default()],
            )
            .await?
            .get(0);
        self.digits_index.store(there, Ordering::Relaxed);
        Ok(there)
    }

    /// Folds the live-count deltas (migrate.rs) on a connection of its own,
    /// after the call that saw them pile up has returned; one at a time per
    /// process, and a failure only leaves them for the next time.
    fn compact_live_count(&self, table: &'static str) {
        if self.compacting.swap(true, Ordering::Relaxed) {
            return;
        }
        let (pool, busy) = (self.pool.clone(), self.compacting.clone());
        tokio::spawn(async move {
            if let Ok(c) = pool.get().await {
                let _ = c.batch_execute(&migrate::compact_count_sql(table)).await;
            }
            busy.store(false, Ordering::Relaxed);
        });
    }

    pub(crate) async fn retrieve(&self, args: RetrieveArgs) -> Result<Outcome> {
        let RetrieveArgs { entity, id, config } = args;
        let filter = Filter::equal(entity, &[("id", &id)])?;
        let c = self.client().await?;
        first_dto(&c, entity, &filter, config)
            .await?
            .ok_or_else(|| Error::not_found(format!("{} with id: {id} was not found", entity.name)))
    }
}

/// The connection settings of every pooled connection: the URL's, with the
/// schema as search_path and bounded waits unless the URL sets its own.
fn pg_config(mut cfg: tokio_postgres::Config, schema: &str) -> tokio_postgres::Config {
    // Unqualified SQL everywhere; the schema is chosen once per connection.
    // The URL's own `options` (e.g. `-c default_transaction_read_only=on`) are kept.
    let search_path = format!("-c search_path={}", quote_ident(schema));
    let options = match cfg.get_options() {
        Some(own) if !own.trim().is_empty() => format!("{own} {search_path}"),
        _ => search_path,
    };
    cfg.options(options);
    if cfg.get_application_name().is_none() {
        cfg.application_name("medusa-inventory-rs");
    }
    // Bounded waits (a dead host must not hang a call): each host's connect
    // attempt, and TCP keepalives that notice a peer gone silent within
    // about 25 s, unless the URL sets its own.
    if cfg.get_connect_timeout().is_none() {
        cfg.connect_timeout(DEFAULT_CONNECT_TIMEOUT);
    }
    if cfg.get_keepalives_idle() == Duration::from_secs(2 * 60 * 60) {
        cfg.keepalives_idle(Duration::from_secs(10));
    }
    if cfg.get_keepalives_interval().is_none() {
        cfg.keepalives_interval(Duration::from_secs(5));
        cfg.keepalives_retries(3);
    }
    cfg
}

/// The pool's connection manager: host by host, each whole attempt (TCP,
/// TLS, startup, authentication, target_session_attrs) within `per_host`, so
/// a host that accepts and then stays silent costs one bound, then the next
/// host is tried.
fn manager(
    cfg: tokio_postgres::Config,
    connector: &Connector,
    per_host: Duration,
    wires: &Arc<Wires>,
    telemetry: &Arc<Telemetry>,
) -> Manager {
    let tls = match connector {
        Connector::Plain => None,
        Connector::Tls(tls) => Some(tls.clone()),
    };
    Manager::from_connect(
        cfg,
        HostByHost {
            tls,
            per_host,
            wires: wires.clone(),
            telemetry: telemetry.clone(),
        },
        ManagerConfig {
            recycling_method: RecyclingMethod::Fast,
        },
    )
}

/// A new pooled connection is found again by its wire (wire.rs `Wires`).
fn keep_wire(wires: Arc<Wires>) -> deadpool_postgres::Hook {
    deadpool_postgres::Hook::sync_fn(move |c: &mut ClientWrapper, _| {
        wires.created(c);
        Ok(())
    })
}

/// Every hand-out of a pooled connection (all paths use the pool) bounds its
/// statement cache: at most MAX_CACHED_STATEMENTS plus what one call prepares.
/// `seen` keeps the largest size seen (for tests).
fn bound_cache(seen: Arc<std::sync::atomic::AtomicUsize>) -> deadpool_postgres::Hook {
    deadpool_postgres::Hook::sync_fn(move |c: &mut ClientWrapper, _| {
        let size = c.statement_cache.size();
        seen.fetch_max(size, Ordering::Relaxed);
        if size >= MAX_CACHED_STATEMENTS {
            // Dropping the statements closes them on the server.
            c.statement_cache.clear();
        }
        Ok(())
    })
}

/// After a failover the pool's connections reach a dead server or a
/// standby: once a call saw that (`lost`, nanoseconds after `epoch`), every
/// connection made before it is dropped at its next hand-out and a new one
/// (target_session_attrs picks the primary of a multi-host URL) takes its place.
fn forget_lost(epoch: Instant, lost: Arc<AtomicU64>) -> deadpool_postgres::Hook {
    deadpool_postgres::Hook::sync_fn(move |_: &mut ClientWrapper, metrics| {
        let at = epoch + Duration::from_nanos(lost.load(Ordering::Relaxed));
        if metrics.created <= at {
            return Err(deadpool_postgres::HookError::message(
                "made before its server was lost",
            ));
        }
        Ok(())
    })
}

/// The rows (DTO in column 0) of one list page.
async fn list_rows(
    c: &ClientWrapper,
    entity: &'static Entity,
    filter: &Filter,
    cfg: &FindConfig,
) -> Result<Vec<tokio_postgres::Row>> {
    let mut params = Params::default();
    let sql = sql::select_sql(entity, filter, cfg, Count::No, &mut params)?;
    query_list(c, &sql, &params).await
}

/// The first DTO matching `filter` (a page of one), as a result of Postgres' text.
pub(crate) async fn first_dto(
    c: &ClientWrapper,
    entity: &'static Entity,
    filter: &Filter,
    mut cfg: FindConfig,
) -> Result<Option<Outcome>> {
    cfg.take = Some(1);
    let rows = list_rows(c, entity, filter, &cfg).await?;
    match rows.first() {
        Some(r) => Ok(Some(Outcome::from_json_text(
            r.try_get::<_, JsonText<'_>>(0)?.0.to_string(),
        ))),
        None => Ok(None),
    }
}

/// Appends the DTOs of `rows` (column 0, json) to `out` as one JSON array,
/// in the text Postgres wrote them: a list page is passed on, not parsed.
fn push_json_array(out: &mut String, rows: &[tokio_postgres::Row]) -> Result<()> {
    out.push('[');
    for (i, r) in rows.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(r.try_get::<_, JsonText<'_>>(0)?.0);
    }
    out.push(']');
    Ok(())
}

/// A json or jsonb value as the text Postgres sent, unparsed (always valid
/// JSON: Postgres checks json and writes jsonb itself).
struct JsonText<'a>(&'a str);

impl<'a> tokio_postgres::types::FromSql<'a> for JsonText<'a> {
    fn from_sql(
        ty: &tokio_postgres::types::Type,
        raw: &'a [u8],
    ) -> std::result::Result<Self, Box<dyn std::error::Error + Sync + Send>> {
        // Binary jsonb is a version byte (1) before the text.
        let raw = match (*ty == tokio_postgres::types::Type::JSONB, raw.split_first()) {
            (false, _) => raw,
            (true, Some((1, text))) => text,
            (true, _) => return Err("unsupported jsonb format version".into()),
        };
        Ok(JsonText(std::str::from_utf8(raw)?))
    }

    fn accepts(ty: &tokio_postgres::types::Type) -> bool {
        matches!(
            *ty,
            tokio_postgres::types::Type::JSON | tokio_postgres::types::Type::JSONB
        )
    }
}

/// Runs a list statement. One with a pattern (`q`, `$like`) goes unnamed, so
/// Postgres plans it with the pattern in hand: a rare one through the trigram
/// index, a common one in page order. A cached statement would settle after
/// five runs on a generic plan, blind to the pattern, and walk every item for
/// a rare one. Still one round trip; the rest stay prepared and cached.
async fn query_list(
    c: &ClientWrapper,
    sql: &str,
    params: &Params,
) -> Result<Vec<tokio_postgres::Row>> {
    if let Some(typed) = params.per_call() {
        return Ok(c.query_typed(sql, &typed).await?);
    }
    let stmt = c.prepare_cached(sql).await?;
    Ok(c.query(&stmt, &params.refs()).await?)
}
