//! The service handle (connect options, pool, statement cache bound, id
//! generation), call outcomes with their change events, and the row helpers the
//! three entities share: input parsing, list/count/retrieve, insert, SET clauses.
//! Deletes, soft deletes and restores live with each entity (items, levels,
//! reservations).

use crate::connection::{self, Connector, SslOption};
use crate::entity::{Entity, Kind};
use crate::error::{Error, Result};
use crate::migrate::{self, quote_ident};
use crate::quantity::{parse_quantity, Rule};
use crate::sql::{self, scalar_text, FindConfig, Params};
use deadpool_postgres::{
    ClientWrapper, GenericClient, Manager, ManagerConfig, Pool, RecyclingMethod,
};
use serde_json::{Map, Value};
use std::collections::HashMap;
use std::sync::Mutex;

/// Largest pool a process may open (Postgres' own default max_connections is 100).
pub const MAX_CONNECTIONS: u64 = 1_000;

/// Prepared statements kept per connection. Filter shapes come from HTTP query
/// strings, so the cache must not grow with them: past this size it is emptied
/// (the hot statements are prepared again on their next use).
pub const MAX_CACHED_STATEMENTS: usize = 256;

#[derive(Debug, Clone)]
pub struct ConnectOptions {
    pub url: String,
    pub schema: String,
    pub max_connections: usize,
    /// Batch concurrent reservation calls of this process (group commit). Default
    /// Auto; `{ forceGroupOf: n }` is a test hook (see Grouping).
    pub group_reservations: crate::reservations::Grouping,
    /// node-postgres's `ssl` option; when set it wins over the URL's TLS parameters.
    pub ssl: Option<SslOption>,
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
            group_reservations: crate::reservations::Grouping::Auto,
            ssl: None,
        };
        for (k, val) in obj {
            match (k.as_str(), val) {
                ("url", Value::String(s)) => opts.url = s.clone(),
                ("schema", Value::String(s)) => opts.schema = s.clone(),
                ("schema", Value::Null) => {}
                ("maxConnections", Value::Number(n)) => {
                    // deadpool allocates the whole pool's slots up front: a huge value aborts Node.
                    match n.as_u64() {
                        Some(m @ 1..=MAX_CONNECTIONS) => opts.max_connections = m as usize,
                        _ => {
                            return Err(Error::invalid(format!(
                                "connect option maxConnections must be an integer from 1 to {MAX_CONNECTIONS}"
                            )))
                        }
                    }
                }
                ("maxConnections", Value::Null) => {}
                ("groupReservations", Value::Bool(b)) => {
                    opts.group_reservations = match b {
                        true => crate::reservations::Grouping::Auto,
                        false => crate::reservations::Grouping::Off,
                    }
                }
                ("groupReservations", Value::Object(o)) => {
                    opts.group_reservations = crate::reservations::Grouping::from_json(o)?
                }
                ("groupReservations", Value::Null) => {}
                ("ssl", v) => opts.ssl = SslOption::from_json(v)?,
                ("url" | "schema" | "maxConnections" | "groupReservations", _) => {
                    return Err(Error::invalid(format!(
                        "connect option {k} has the wrong type"
                    )))
                }
                _ => return Err(Error::invalid(format!("Unknown connect option '{k}'"))),
            }
        }
        if opts.url.is_empty() {
            return Err(Error::invalid("connect option url is required"));
        }
        let valid_schema = !opts.schema.is_empty()
            && opts.schema.len() <= 63
            && opts
                .schema
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_')
            && !opts.schema.starts_with(|c: char| c.is_ascii_digit());
        if !valid_schema {
            return Err(Error::invalid(
                "schema must be a plain identifier (letters, digits, underscore)",
            ));
        }
        Ok(opts)
    }
}

/// One kind of change a call made, for Medusa's events (`inventory.<object>.<action>`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    pub object: &'static str,
    pub action: &'static str,
    pub ids: Vec<String>,
}

/// What a call returns: the Medusa-shaped result, and what it changed once committed.
#[derive(Debug, Clone, PartialEq)]
pub struct Outcome {
    pub result: Value,
    pub changes: Vec<Change>,
}

impl From<Value> for Outcome {
    fn from(result: Value) -> Self {
        Outcome {
            result,
            changes: Vec::new(),
        }
    }
}

pub const ITEM: &str = "inventory_item";
pub const LEVEL: &str = "inventory_level";
pub const RESERVATION: &str = "reservation_item";

impl Outcome {
    /// Records a change; empty id lists are dropped.
    pub fn with(mut self, object: &'static str, action: &'static str, ids: Vec<String>) -> Self {
        if !ids.is_empty() {
            self.changes.push(Change {
                object,
                action,
                ids,
            });
        }
        self
    }

    pub fn to_json(&self) -> Value {
        let changes: Vec<Value> = self
            .changes
            .iter()
            .map(|c| serde_json::json!([c.object, c.action, c.ids]))
            .collect();
        serde_json::json!({ "result": self.result, "changes": changes })
    }
}

/// The `id`s of a DTO or an array of DTOs.
pub fn ids_in(v: &Value) -> Vec<String> {
    match v {
        Value::Array(a) => a.iter().flat_map(ids_in).collect(),
        Value::Object(o) => o
            .get("id")
            .and_then(Value::as_str)
            .map(|s| vec![s.to_string()])
            .unwrap_or_default(),
        _ => Vec::new(),
    }
}

pub struct InventoryService {
    pub(crate) pool: Pool,
    schema: String,
    ids: Mutex<ulid::Generator>,
    pub(crate) reserver: crate::reservations::Reserver,
    cache_high_water: std::sync::Arc<std::sync::atomic::AtomicUsize>,
}

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
        let mut cfg = prepared.config.clone();
        // Unqualified SQL everywhere; the schema is chosen once per connection.
        // The URL's own `options` (e.g. `-c default_transaction_read_only=on`) are kept.
        let search_path = format!("-c search_path={}", quote_ident(&opts.schema));
        let options = match cfg.get_options() {
            Some(own) if !own.trim().is_empty() => format!("{own} {search_path}"),
            _ => search_path,
        };
        cfg.options(options);
        if cfg.get_application_name().is_none() {
            cfg.application_name("medusa-inventory-rs");
        }
        let manager_config = || ManagerConfig {
            recycling_method: RecyclingMethod::Fast,
        };
        let mgr = match &prepared.connector {
            Connector::Plain => Manager::from_config(cfg, tokio_postgres::NoTls, manager_config()),
            Connector::Tls(tls) => Manager::from_config(cfg, tls.clone(), manager_config()),
        };
        // Every hand-out of a pooled connection (all paths use the pool) bounds its
        // statement cache: at most MAX_CACHED_STATEMENTS plus what one call prepares.
        let high_water = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let seen = high_water.clone();
        let bound_cache = deadpool_postgres::Hook::sync_fn(move |c: &mut ClientWrapper, _| {
            let size = c.statement_cache.size();
            seen.fetch_max(size, std::sync::atomic::Ordering::Relaxed);
            if size >= MAX_CACHED_STATEMENTS {
                // Dropping the statements closes them on the server.
                c.statement_cache.clear();
            }
            Ok(())
        });
        let pool = Pool::builder(mgr)
            .max_size(opts.max_connections)
            .post_recycle(bound_cache)
            .build()
            .map_err(|e| Error::unexpected(e.to_string()))?;
        // Fail at connect time, not on the first call, when the server is unreachable
        // or the TLS requirements cannot be met.
        let _probe = pool.get().await.map_err(|e| prepared.connect_error(e))?;
        Ok(InventoryService {
            pool,
            schema: opts.schema.clone(),
            ids: Mutex::new(ulid::Generator::new()),
            reserver: crate::reservations::Reserver::new(opts.group_reservations),
            cache_high_water: high_water,
        })
    }

    pub async fn migrate(&self) -> Result<i32> {
        let mut client = self.client().await?;
        migrate::migrate(&mut client, &self.schema).await
    }

    pub async fn revert_migrations(&self) -> Result<()> {
        let mut client = self.client().await?;
        migrate::revert(&mut client, &self.schema).await
    }

    pub fn close(&self) {
        self.pool.close();
    }

    pub async fn client(&self) -> Result<Client> {
        Ok(self.pool.get().await?)
    }

    /// The largest statement cache a connection had when handed out (for tests).
    pub fn statement_cache_high_water(&self) -> usize {
        self.cache_high_water
            .load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Validates a create call's input (one object or an array) and gives every row
    /// without an id a new one. Returns the rows and whether the input was an array.
    pub fn parse_create(&self, spec: &InputSpec, input: &Value) -> Result<(Vec<Row>, bool)> {
        let (inputs, was_array) = one_or_many(input);
        let mut rows = inputs
            .iter()
            .enumerate()
            .map(|(i, v)| parse_input(spec, v, was_array.then_some(i)))
            .collect::<Result<Vec<_>>>()?;
        for r in rows.iter_mut() {
            if get(r, "id").is_none() {
                r.push(FieldValue {
                    name: "id",
                    kind: Kind::Text,
                    text: Some(self.new_id(spec.entity.prefix)),
                });
            }
        }
        Ok((rows, was_array))
    }

    /// Monotonic ULIDs: ids created in one call sort in input order.
    pub fn new_id(&self, prefix: &str) -> String {
        let mut g = self.ids.lock().unwrap_or_else(|p| p.into_inner());
        let id = g.generate().unwrap_or_else(|_| ulid::Ulid::new());
        format!("{prefix}_{id}")
    }

    // ---- generic reads -------------------------------------------------

    pub async fn list(
        &self,
        entity: &'static Entity,
        filter: &Value,
        config: &Value,
    ) -> Result<Value> {
        let cfg = sql::parse_config(entity, config)?;
        let c = self.client().await?;
        Ok(Value::Array(list_with(&c, entity, filter, &cfg).await?))
    }

    pub async fn list_and_count(
        &self,
        entity: &'static Entity,
        filter: &Value,
        config: &Value,
    ) -> Result<Value> {
        let cfg = sql::parse_config(entity, config)?;
        let mut params = Params::default();
        let sql = sql::select_sql(entity, filter, &cfg, true, &mut params)?;
        let c = self.client().await?;
        let stmt = c.prepare_cached(&sql).await?;
        let rows = c.query(&stmt, &params.refs()).await?;
        let mut count: i64 = rows.first().map(|r| r.get(1)).unwrap_or(0);
        if rows.is_empty() && (cfg.skip.unwrap_or(0) > 0 || cfg.take == Some(0)) {
            // Paged past the end or asked for no rows (Medusa still counts them):
            // the window count is unavailable, count directly.
            let mut cfg2 = cfg.clone();
            cfg2.skip = None;
            cfg2.take = None;
            let mut p2 = Params::default();
            let inner = sql::select_sql(entity, filter, &cfg2, false, &mut p2)?;
            let row = c
                .query_one(&format!("SELECT count(*) FROM ({inner}) s"), &p2.refs())
                .await?;
            count = row.get(0);
        }
        let list: Vec<Value> = rows.iter().map(|r| r.get::<_, Value>(0)).collect();
        Ok(Value::Array(vec![Value::Array(list), Value::from(count)]))
    }

    pub async fn retrieve(
        &self,
        entity: &'static Entity,
        id: &Value,
        config: &Value,
    ) -> Result<Value> {
        let id = id.as_str().filter(|s| !s.is_empty()).ok_or_else(|| {
            Error::not_found(format!("{} - id must be defined", lower_first(entity.name)))
        })?;
        let mut cfg = sql::parse_config(entity, config)?;
        cfg.take = Some(1);
        let c = self.client().await?;
        let rows = list_with(&c, entity, &serde_json::json!({ "id": id }), &cfg).await?;
        rows.into_iter()
            .next()
            .ok_or_else(|| Error::not_found(format!("{} with id: {id} was not found", entity.name)))
    }
}

pub fn lower_first(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_lowercase().collect::<String>() + c.as_str(),
        None => String::new(),
    }
}

pub async fn list_with<C: GenericClient>(
    c: &C,
    entity: &'static Entity,
    filter: &Value,
    cfg: &FindConfig,
) -> Result<Vec<Value>> {
    let mut params = Params::default();
    let sql = sql::select_sql(entity, filter, cfg, false, &mut params)?;
    let stmt = c.prepare_cached(&sql).await?;
    let rows = c.query(&stmt, &params.refs()).await?;
    Ok(rows.iter().map(|r| r.get::<_, Value>(0)).collect())
}

/// Full DTO of a row aliased `t`, with the entity's default fields (built once per entity).
pub fn dto(entity: &'static Entity) -> &'static str {
    use std::sync::OnceLock;
    static CACHE: [OnceLock<String>; 3] = [OnceLock::new(), OnceLock::new(), OnceLock::new()];
    let slot = match entity.table {
        "inventory_item" => &CACHE[0],
        "inventory_level" => &CACHE[1],
        _ => &CACHE[2],
    };
    slot.get_or_init(|| {
        sql::dto_expr(entity, "t", &sql::Selection::default(), false, 0).unwrap_or_default()
    })
}

// ---- input parsing -------------------------------------------------------

/// What a create or update may carry for one entity.
#[derive(Debug)]
pub struct InputSpec {
    pub entity: &'static Entity,
    /// Fields the caller may set.
    pub writable: &'static [&'static str],
    /// Fields accepted and dropped on purpose (e.g. reserved_quantity on levels).
    pub ignored: &'static [&'static str],
    /// Fields that must be present and not null.
    pub required: &'static [&'static str],
    /// Fields that may be omitted but never null.
    pub not_null: &'static [&'static str],
    pub numeric_rule: Rule,
}

/// One validated field value, rendered as text for a `::type` cast in SQL.
#[derive(Debug, Clone)]
pub struct FieldValue {
    pub name: &'static str,
    pub kind: Kind,
    pub text: Option<String>,
}

pub type Row = Vec<FieldValue>;

pub fn get<'a>(row: &'a Row, name: &str) -> Option<&'a FieldValue> {
    row.iter().find(|f| f.name == name)
}

pub fn get_text(row: &Row, name: &str) -> Option<String> {
    get(row, name).and_then(|f| f.text.clone())
}

/// Validates one input object: unknown fields, wrong types, bad quantities and
/// missing required fields are rejected naming the field.
pub fn parse_input(spec: &InputSpec, v: &Value, index: Option<usize>) -> Result<Row> {
    let ctx = |msg: String| match index {
        Some(i) => Error::invalid(format!("{msg} (at index {i})")),
        None => Error::invalid(msg),
    };
    let obj: &Map<String, Value> = v
        .as_object()
        .ok_or_else(|| ctx(format!("{} input must be an object", spec.entity.name)))?;
    let mut row = Row::new();
    for (k, val) in obj {
        if spec.ignored.contains(&k.as_str()) {
            continue;
        }
        if !spec.writable.contains(&k.as_str()) {
            return Err(ctx(format!("Unknown field '{k}' for {}", spec.entity.name)));
        }
        let col = spec
            .entity
            .column(k)
            .ok_or_else(|| Error::unexpected(format!("no column {k}")))?;
        let text = match (col.kind, val) {
            (_, Value::Null) => {
                if spec.required.contains(&col.name) || spec.not_null.contains(&col.name) {
                    return Err(ctx(format!("{k} must not be null")));
                }
                None
            }
            (Kind::Numeric, _) => Some(
                parse_quantity(val, k, spec.numeric_rule)
                    .map_err(|e| ctx(e.message))?
                    .to_string(),
            ),
            (Kind::Json, Value::Object(_)) => {
                let text = val.to_string();
                crate::limits::check_metadata(k, &text).map_err(|e| ctx(e.message))?;
                Some(text)
            }
            (Kind::Json, _) => return Err(ctx(format!("{k} must be an object"))),
            (Kind::Text, Value::String(s)) if spec.required.contains(&col.name) && s.is_empty() => {
                return Err(ctx(format!("{k} must not be empty")))
            }
            (Kind::Text, Value::String(s)) => {
                crate::limits::check_text(k, s).map_err(|e| ctx(e.message))?;
                Some(s.clone())
            }
            (kind, _) => Some(scalar_text(val, kind, k).map_err(|e| ctx(e.message))?),
        };
        row.push(FieldValue {
            name: col.name,
            kind: col.kind,
            text,
        });
    }
    for r in spec.required {
        if get(&row, r).is_none() {
            return Err(ctx(format!("{r} is required")));
        }
    }
    Ok(row)
}

/// Accepts one object or an array of them; reports whether the input was an array.
pub fn one_or_many(v: &Value) -> (Vec<&Value>, bool) {
    match v {
        Value::Array(a) => (a.iter().collect(), true),
        other => (vec![other], false),
    }
}

pub fn shape(values: Vec<Value>, was_array: bool) -> Value {
    if was_array {
        Value::Array(values)
    } else {
        values.into_iter().next().unwrap_or(Value::Null)
    }
}

/// SQL that turns the text column `u.<name>` into the column's type.
fn cast(name: &str, kind: Kind) -> String {
    match kind {
        Kind::Text => format!("u.{name}"),
        Kind::Numeric => format!("trim_scale(u.{name}::numeric)"),
        k => format!("u.{name}::{}", k.sql_type()),
    }
}

pub fn raw_of(expr: &str) -> String {
    format!("jsonb_build_object('value', ({expr})::text, 'precision', 20)")
}

/// Inserts `rows` (each already validated, each with an `id`) in one statement
/// through UNNEST, and returns their DTOs in input order.
pub async fn insert_rows<C: GenericClient>(
    c: &C,
    entity: &'static Entity,
    cols: &[&'static str],
    defaults: &[(&str, &str)],
    rows: &[Row],
) -> Result<Vec<Value>> {
    let mut params = Params::default();
    let mut names = Vec::new();
    let mut exprs = Vec::new();
    let mut unnest = Vec::new();
    let mut aliases = Vec::new();
    for name in cols {
        let col = entity
            .column(name)
            .ok_or_else(|| Error::unexpected(format!("no column {name}")))?;
        let values: Vec<Option<String>> = rows.iter().map(|r| get_text(r, name)).collect();
        unnest.push(format!("{}::text[]", params.push(values)));
        aliases.push(col.name.to_string());
        let mut expr = cast(col.name, col.kind);
        if let Some((_, d)) = defaults.iter().find(|(n, _)| n == name) {
            expr = format!("coalesce({expr}, {d})");
        }
        names.push(col.name.to_string());
        if col.kind == Kind::Numeric {
            names.push(format!("raw_{}", col.name));
            exprs.push(expr.clone());
            exprs.push(raw_of(&expr));
        } else {
            exprs.push(expr);
        }
    }
    let sql = format!(
        "INSERT INTO {table} AS t ({names}) SELECT {exprs} FROM unnest({unnest}) AS u({aliases}) RETURNING {dto}",
        table = entity.table,
        names = names.join(", "),
        exprs = exprs.join(", "),
        unnest = unnest.join(", "),
        aliases = aliases.join(", "),
        dto = dto(entity)
    );
    let stmt = c.prepare_cached(&sql).await?;
    let out = c.query(&stmt, &params.refs()).await?;
    let mut by_id: HashMap<String, Value> = out
        .iter()
        .map(|r| {
            let v: Value = r.get(0);
            (v["id"].as_str().unwrap_or_default().to_string(), v)
        })
        .collect();
    rows.iter()
        .map(|r| {
            let id = get_text(r, "id").unwrap_or_default();
            by_id
                .remove(&id)
                .ok_or_else(|| Error::unexpected(format!("row {id} was not returned")))
        })
        .collect()
}

/// SET clause for an update of the given fields, metadata merged as Medusa does
/// (keys set to "" are removed). Returns None when nothing is to be set.
pub fn set_clause(row: &Row, skip: &[&str], params: &mut Params) -> String {
    let mut sets = Vec::new();
    for f in row {
        if skip.contains(&f.name) {
            continue;
        }
        let p = params.push(f.text.clone());
        let expr = match f.kind {
            Kind::Text => format!("{p}::text"),
            Kind::Numeric => format!("trim_scale({p}::text::numeric)"),
            Kind::Json if f.name == "metadata" => format!(
                "CASE WHEN {p}::text IS NULL THEN NULL ELSE coalesce((SELECT jsonb_object_agg(e.key, e.value) FROM jsonb_each(coalesce(t.metadata, '{{}}'::jsonb) || {p}::text::jsonb) e WHERE e.value <> '\"\"'::jsonb), '{{}}'::jsonb) END"
            ),
            k => format!("{p}::text::{}", k.sql_type()),
        };
        sets.push(format!("{} = {expr}", f.name));
        if f.kind == Kind::Numeric {
            sets.push(format!("raw_{} = {}", f.name, raw_of(&expr)));
        }
    }
    sets.push("updated_at = now()".into());
    sets.join(", ")
}

/// Ids from Medusa's `string | string[] | { id: ... }` selector shapes.
pub fn ids_of(v: &Value, what: &str) -> Result<Vec<String>> {
    let bad = || Error::invalid(format!("{what} must be an id or an array of ids"));
    match v {
        Value::String(s) => Ok(vec![s.clone()]),
        Value::Array(a) => a
            .iter()
            .map(|x| x.as_str().map(str::to_string).ok_or_else(bad))
            .collect(),
        Value::Object(o) if o.len() == 1 && o.contains_key("id") => ids_of(&o["id"], what),
        _ => Err(bad()),
    }
}
