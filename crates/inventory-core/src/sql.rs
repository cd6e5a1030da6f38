//! Translation of Medusa's filter and find-config objects into parameterized SQL.
//! Every value is bound as text (cast to the column's type in SQL); every
//! identifier comes from the entity's allow-list.

use crate::entity::{digit_alignments, Entity, Kind, DIGIT_GRAMS_FN};
use crate::error::{Error, Result};
use crate::quantity::{parse_quantity, Rule};
use serde_json::{Map, Value};
use tokio_postgres::types::{ToSql, Type};

pub(crate) type Param = std::sync::Arc<dyn ToSql + Sync + Send>;

/// Bound values, with their Postgres type where [`wire_type`] knows it, and
/// whether the statement's best plan depends on a value ([`Params::plan_per_call`]).
#[derive(Default, Clone)]
pub(crate) struct Params(pub Vec<Param>, Vec<Option<Type>>, bool);

impl std::fmt::Debug for Params {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Params({} values)", self.0.len())
    }
}

impl Params {
    pub(crate) fn push<T: ToSql + Sync + Send + 'static>(&mut self, v: T) -> String {
        self.1.push(wire_type::<T>());
        self.0.push(std::sync::Arc::new(v));
        format!("${}", self.0.len())
    }
    /// A pattern (`q`, `$like`, `$ilike`) was bound: how many rows match, and so
    /// the best plan (a trigram index, or the primary key in page order), depends
    /// on its value.
    pub(crate) fn plan_per_call(&mut self) {
        self.2 = true;
    }
    /// The values with their types, for a statement Postgres plans with these
    /// values (an unnamed one): when a pattern was bound and every type is known.
    pub(crate) fn per_call(&self) -> Option<Vec<(&(dyn ToSql + Sync), Type)>> {
        if !self.2 {
            return None;
        }
        self.0
            .iter()
            .zip(&self.1)
            .map(|(p, t)| Some((p.as_ref() as &(dyn ToSql + Sync), t.clone()?)))
            .collect()
    }
    pub(crate) fn refs(&self) -> Vec<&(dyn ToSql + Sync)> {
        self.0
            .iter()
            .map(|p| p.as_ref() as &(dyn ToSql + Sync))
            .collect()
    }
}

/// Digit grams of a `q` the digit-gram index is asked for, at most: any of
/// them narrows soundly, and more than a few cannot narrow much further.
const MAX_Q_GRAMS: usize = 8;

/// The word of a `q` the search index is asked for: the longest run of
/// letters and digits (pg_trgm's words), preferring one with a digit on a tie
/// (in an SKU the number tells items apart, the prefix rarely does). None when
/// no word has the three characters a trigram needs.
fn search_word(q: &str) -> Option<&str> {
    q.split(|c: char| !c.is_alphanumeric())
        .filter(|w| w.chars().count() >= 3)
        .max_by_key(|w| (w.chars().count(), w.chars().any(|c| c.is_ascii_digit())))
}

/// The Postgres type a bound Rust value is sent as, for the types filters bind.
fn wire_type<T: 'static>() -> Option<Type> {
    use std::any::TypeId;
    let t = TypeId::of::<T>();
    if t == TypeId::of::<String>() {
        Some(Type::TEXT)
    } else if t == TypeId::of::<Vec<String>>() {
        Some(Type::TEXT_ARRAY)
    } else if t == TypeId::of::<i64>() {
        Some(Type::INT8)
    } else {
        None
    }
}

/// Renders a JSON scalar as the text Postgres will cast to `kind`, validating it first.
pub(crate) fn scalar_text(v: &Value, kind: Kind, field: &str) -> Result<String> {
    let wrong = |what: &str| Error::invalid(format!("{field} must be {what}"));
    match kind {
        Kind::Text => match v {
            Value::String(s) => Ok(s.clone()),
            _ => Err(wrong("a string")),
        },
        Kind::Timestamp => match v {
            Value::String(s) if crate::limits::is_timestamp(s) => Ok(s.clone()),
            _ => Err(wrong("an ISO 8601 date or timestamp")),
        },
        Kind::Int => {
            let n = match v {
                Value::Number(n) if n.is_i64() => n.as_i64(),
                // Outside i64 saturates, then fails the integer range check.
                Value::Number(n) if n.as_f64().is_some_and(|f| f.fract() == 0.0) => {
                    n.as_f64().map(|f| f as i64)
                }
                Value::Number(n) if n.is_u64() => Some(i64::MAX),
                Value::String(s) => s.trim().parse::<i64>().ok(),
                _ => None,
            }
            .ok_or_else(|| wrong("an integer"))?;
            Ok(crate::limits::check_int(field, n)?.to_string())
        }
        Kind::Bool => match v {
            Value::Bool(b) => Ok(b.to_string()),
            _ => Err(wrong("a boolean")),
        },
        Kind::Numeric => Ok(parse_quantity(v, field, Rule::Any)?.to_string()),
        Kind::Json => Ok(v.to_string()),
    }
}

/// Which fields and relations a read returns: Medusa's `select` paths
/// (`sku`, `location_levels.location_id`, `*location_levels`, `location_levels.*`)
/// and `relations`, as a tree.
#[derive(Debug, Default, Clone, PartialEq)]
pub(crate) struct Selection {
    /// None: the entity's default fields.
    pub(crate) fields: Option<Vec<String>>,
    pub(crate) star: bool,
    pub(crate) relations: Vec<(String, Selection)>,
}

const MAX_DEPTH: usize = 3;

impl Selection {
    fn child(&mut self, name: &str) -> &mut Selection {
        let pos = match self.relations.iter().position(|(r, _)| r == name) {
            Some(p) => p,
            None => {
                self.relations
                    .push((name.to_string(), Selection::default()));
                self.relations.len() - 1
            }
        };
        &mut self.relations[pos].1
    }

    fn relation_of(entity: &'static Entity, name: &str) -> Result<&'static Entity> {
        entity
            .relation(name)
            .map(|r| r.target)
            .ok_or_else(|| Error::invalid(format!("Unknown relation '{name}' for {}", entity.name)))
    }

    /// Adds one `select` path, relative to `entity`.
    pub(crate) fn add_select(
        &mut self,
        entity: &'static Entity,
        path: &str,
        depth: usize,
    ) -> Result<()> {
        if depth > MAX_DEPTH {
            return Err(Error::invalid(format!(
                "select path '{path}' is nested too deep"
            )));
        }
        if path == "*" {
            self.star = true;
        } else if let Some(rel) = path.strip_prefix('*') {
            Self::relation_of(entity, rel)?;
            self.child(rel).star = true;
        } else if let Some((head, rest)) = path.split_once('.') {
            let target = Self::relation_of(entity, head)?;
            self.child(head).add_select(target, rest, depth + 1)?;
        } else if entity.relation(path).is_some() {
            self.child(path).star = true;
        } else if path
            .strip_suffix("_id")
            .and_then(|r| entity.relation(r))
            .is_some_and(|r| r.many)
        {
            // Medusa's Query adds `<has-many relation>_id` to selects; there is no such column.
        } else {
            self.fields
                .get_or_insert_with(Vec::new)
                .push(path.to_string());
        }
        Ok(())
    }

    /// Adds one `relations` entry (`location_levels`, `location_levels.inventory_item`).
    pub(crate) fn add_relation(
        &mut self,
        entity: &'static Entity,
        path: &str,
        depth: usize,
    ) -> Result<()> {
        if depth > MAX_DEPTH {
            return Err(Error::invalid(format!(
                "relation '{path}' is nested too deep"
            )));
        }
        let (head, rest) = match path.split_once('.') {
            Some((h, r)) => (h, Some(r)),
            None => (path, None),
        };
        let target = Self::relation_of(entity, head)?;
        let child = self.child(head);
        match rest {
            Some(r) => child.add_relation(target, r, depth + 1),
            None => Ok(()),
        }
    }

    fn effective_fields(&self) -> Option<&[String]> {
        if self.star {
            None
        } else {
            self.fields.as_deref()
        }
    }
}

/// The DTO expression (json) for one row of `entity` aliased `alias`: the selected
/// fields (id always), computed fields, and related rows nested. Built as
/// `row_to_json` of a one-row sub-select: per row it costs the server less than
/// half of `jsonb_build_object` (5.9 against 13.5 µs over 1000 items), and a list
/// page is mostly this. Callers read it as JSON, so jsonb's key order is not kept.
pub(crate) fn dto_expr(
    entity: &'static Entity,
    alias: &str,
    sel: &Selection,
    with_deleted: bool,
    depth: usize,
) -> Result<String> {
    let select = sel.effective_fields();
    let mut parts: Vec<String> = Vec::new();
    let mut add = |name: &str, expr: String| {
        parts.push(format!("{expr} AS \"{name}\""));
    };
    let wanted = |name: &str| select.is_none_or(|s| s.iter().any(|f| f == name));
    for c in entity.columns {
        if c.name == "id" || wanted(c.name) {
            add(c.name, format!("{alias}.{}", c.name));
        }
        if c.kind == Kind::Numeric {
            let raw = format!("raw_{}", c.name);
            if wanted(&raw) || (select.is_some() && wanted(c.name)) {
                add(&raw, format!("{alias}.{raw}"));
            }
        }
    }
    for c in entity.computed {
        let on = match select {
            None => c.default,
            Some(s) => s.iter().any(|f| f == c.name),
        };
        if on {
            add(c.name, c.value.sql(alias));
        }
    }
    if let Some(fields) = select {
        for f in fields {
            let known = entity.column(f).is_some()
                || entity.computed.iter().any(|c| c.name == f)
                || f.strip_prefix("raw_")
                    .and_then(|n| entity.column(n))
                    .is_some_and(|c| c.kind == Kind::Numeric);
            if !known {
                return Err(Error::invalid(format!(
                    "Unknown field '{f}' in select for {}",
                    entity.name
                )));
            }
        }
    }
    for (rel_name, rel_sel) in &sel.relations {
        let rel = entity.relation(rel_name).ok_or_else(|| {
            Error::invalid(format!("Unknown relation '{rel_name}' for {}", entity.name))
        })?;
        let ra = format!("r{depth}");
        let inner = dto_expr(rel.target, &ra, rel_sel, with_deleted, depth + 1)?;
        let live = if with_deleted {
            String::new()
        } else {
            format!(" AND {ra}.deleted_at IS NULL")
        };
        let expr = if rel.many {
            format!(
                "coalesce((SELECT json_agg({inner} ORDER BY {ra}.id) FROM {} {ra} WHERE {ra}.{} = {alias}.id{live}), '[]'::json)",
                rel.target.table, rel.fk
            )
        } else {
            format!(
                "(SELECT {inner} FROM {} {ra} WHERE {ra}.id = {alias}.{}{live})",
                rel.target.table, rel.fk
            )
        };
        parts.push(format!("{expr} AS \"{rel_name}\""));
    }
    Ok(format!(
        "(SELECT row_to_json(d{depth}) FROM (SELECT {}) d{depth})",
        parts.join(", ")
    ))
}

fn escape_like(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_")
}

/// A value a filter binds: every filter value is bound as text (or an array
/// of texts) and cast to the column's type in SQL.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Bound {
    Text(String),
    Texts(Vec<String>),
}

impl From<String> for Bound {
    fn from(s: String) -> Self {
        Bound::Text(s)
    }
}

impl From<Vec<String>> for Bound {
    fn from(v: Vec<String>) -> Self {
        Bound::Texts(v)
    }
}

/// The values a filter binds, numbered from $1 in the order it binds them,
/// and whether one is a pattern (see [`Params::plan_per_call`]).
#[derive(Debug, Default, Clone)]
struct Binds {
    values: Vec<Bound>,
    per_call: bool,
    /// The schema may lack the digit-gram index (an older migrate): `q`
    /// does without it.
    no_digits: bool,
    /// A `q` asked the digit-gram index.
    used_digits: bool,
}

impl Binds {
    fn push(&mut self, v: impl Into<Bound>) -> String {
        self.values.push(v.into());
        format!("${}", self.values.len())
    }
    fn plan_per_call(&mut self) {
        self.per_call = true;
    }
}

/// A Medusa filter object, translated once: a SQL boolean expression over
/// alias `t` whose placeholders start at $1, and the values they bind.
#[derive(Debug, Clone)]
pub(crate) struct Filter {
    pub(crate) sql: String,
    binds: Binds,
    /// It names deleted_at: soft-deleted rows are then not left out.
    pub(crate) mentions_deleted_at: bool,
    /// Null or `{}`: every row (so a kept live count can answer a count).
    pub(crate) unconditional: bool,
    /// The same filter without the digit-gram index, when this one asks it
    /// (for a schema migrated before the index; see `Filter::for_schema`).
    pub(crate) without_digits: Option<Box<Filter>>,
}

impl Filter {
    /// Translates a Medusa filter object (null: every row).
    pub(crate) fn parse(entity: &'static Entity, filter: &Value) -> Result<Filter> {
        let mut f = Filter::parse_with(entity, filter, Binds::default())?;
        if f.binds.used_digits {
            let no_digits = Binds {
                no_digits: true,
                ..Binds::default()
            };
            f.without_digits = Some(Box::new(Filter::parse_with(entity, filter, no_digits)?));
        }
        Ok(f)
    }

    fn parse_with(entity: &'static Entity, filter: &Value, mut binds: Binds) -> Result<Filter> {
        let mut mentions = false;
        let mut walk = Walk {
            mentions: &mut mentions,
            conditions: 0,
        };
        let sql = filter_obj(entity, filter, &mut binds, &mut walk, "t", 0, 0)?;
        Ok(Filter {
            sql,
            binds,
            mentions_deleted_at: mentions,
            unconditional: filter.is_null() || filter.as_object().is_some_and(|o| o.is_empty()),
            without_digits: None,
        })
    }

    /// This filter, or its twin without the digit-gram index when the schema
    /// has none (`indexed` asks, only if this filter would use it).
    pub(crate) async fn for_schema<F: std::future::Future<Output = Result<bool>>>(
        &self,
        indexed: impl FnOnce() -> F,
    ) -> Result<&Filter> {
        match &self.without_digits {
            Some(plain) if !indexed().await? => Ok(plain),
            _ => Ok(self),
        }
    }

    /// The filter `{ column: value, ... }`: the rows whose text columns equal these.
    pub(crate) fn equal(entity: &'static Entity, pairs: &[(&str, &str)]) -> Result<Filter> {
        let obj: Map<String, Value> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), Value::String(v.to_string())))
            .collect();
        Filter::parse(entity, &Value::Object(obj))
    }

    /// Binds the filter's values as `$1`.. of a statement: `params` must be empty.
    fn bind(&self, params: &mut Params) {
        debug_assert!(params.0.is_empty(), "a filter's placeholders start at $1");
        for v in &self.binds.values {
            match v {
                Bound::Text(s) => params.push(s.clone()),
                Bound::Texts(a) => params.push(a.clone()),
            };
        }
        if self.binds.per_call {
            params.plan_per_call();
        }
    }
}

/// State of one filter translation: whether it names deleted_at, and how many
/// conditions it has so far (bounded by limits::MAX_FILTER_CONDITIONS).
struct Walk<'a> {
    mentions: &'a mut bool,
    conditions: usize,
}

impl Walk<'_> {
    fn count(&mut self) -> Result<()> {
        self.conditions += 1;
        if self.conditions > crate::limits::MAX_FILTER_CONDITIONS {
            return Err(Error::invalid(format!(
                "filters have more than {} conditions",
                crate::limits::MAX_FILTER_CONDITIONS
            )));
        }
        Ok(())
    }
}

/// Where one filter object sits: the entity it filters, its alias, its
/// relation nesting (`depth`) and its `$and`/`$or` nesting (`nest`).
#[derive(Clone, Copy)]
struct At<'s> {
    entity: &'static Entity,
    alias: &'s str,
    depth: usize,
    nest: usize,
}

fn filter_obj(
    entity: &'static Entity,
    filter: &Value,
    params: &mut Binds,
    walk: &mut Walk<'_>,
    alias: &str,
    depth: usize,
    nest: usize,
) -> Result<String> {
    let obj = match filter {
        Value::Null => return Ok("TRUE".into()),
        Value::Object(o) => o,
        _ => return Err(Error::invalid("filters must be an object")),
    };
    let at = At {
        entity,
        alias,
        depth,
        nest,
    };
    let mut conds: Vec<String> = Vec::new();
    for (key, val) in obj {
        walk.count()?;
        match key.as_str() {
            "$and" | "$or" => {
                if let Some(c) = and_or(at, key, val, params, walk)? {
                    conds.push(c);
                }
            }
            "q" => conds.push(search(at, val, params)?),
            field if entity.relation(field).is_some() && val.is_object() => {
                conds.push(relation_cond(at, field, val, params, walk)?);
            }
            field => {
                let col = entity.column(field).ok_or_else(|| {
                    Error::invalid(format!(
                        "Unknown filter field '{field}' for {}",
                        entity.name
                    ))
                })?;
                if field == "deleted_at" {
                    *walk.mentions = true;
                }
                conds.push(field_cond(alias, col.name, col.kind, val, params)?);
            }
        }
    }
    Ok(if conds.is_empty() {
        "TRUE".into()
    } else {
        conds.join(" AND ")
    })
}

/// `$and` / `$or`: an array of filter objects; None when it is empty.
fn and_or(
    at: At<'_>,
    key: &str,
    val: &Value,
    params: &mut Binds,
    walk: &mut Walk<'_>,
) -> Result<Option<String>> {
    let arr = val
        .as_array()
        .ok_or_else(|| Error::invalid(format!("{key} must be an array")))?;
    if at.nest >= crate::limits::MAX_FILTER_DEPTH {
        return Err(Error::invalid(format!(
            "filters nest $and/$or more than {} levels deep",
            crate::limits::MAX_FILTER_DEPTH
        )));
    }
    let parts = arr
        .iter()
        .map(|f| {
            walk.count()?;
            filter_obj(at.entity, f, params, walk, at.alias, at.depth, at.nest + 1)
        })
        .collect::<Result<Vec<_>>>()?;
    if parts.is_empty() {
        return Ok(None);
    }
    let joiner = if key == "$and" { " AND " } else { " OR " };
    Ok(Some(format!("({})", parts.join(joiner))))
}

/// `q`: a free-text search over the entity's searchable fields.
fn search(at: At<'_>, val: &Value, params: &mut Binds) -> Result<String> {
    let (entity, alias) = (at.entity, at.alias);
    let q = val
        .as_str()
        .ok_or_else(|| Error::invalid("q must be a string"))?;
    if entity.searchable.is_empty() {
        return Err(Error::invalid(format!(
            "{} has no searchable fields for q",
            entity.name
        )));
    }
    let p = params.push(format!("%{}%", escape_like(q)));
    params.plan_per_call();
    let ors: Vec<String> = entity
        .searchable
        .iter()
        .map(|f| format!("{alias}.{f} ILIKE {p}"))
        .collect();
    let exact = format!("({})", ors.join(" OR "));
    let sets = digit_alignments(q, MAX_Q_GRAMS);
    if let (Some(_), false, Some(sets)) = (entity.digits_index, params.no_digits, sets) {
        // A number of DIGIT_RUN digits or more: candidates are the rows
        // whose text has all its grams one way or the other (a handful,
        // where its trigrams would make the trigram index walk lists of
        // every two-hundredth row), then the fields decide. Not matched
        // against the indexed text: the planner would add the trigram
        // index's scan for that pattern.
        params.used_digits = true;
        let grams = format!("{DIGIT_GRAMS_FN}({})", entity.search_expr(alias));
        let either: Vec<String> = sets
            .into_iter()
            .map(|set| {
                let g = params.push(set.into_iter().map(str::to_owned).collect::<Vec<_>>());
                format!("{grams} @> {g}::text[]")
            })
            .collect();
        return Ok(format!("(({}) AND {exact})", either.join(" OR ")));
    }
    Ok(match (entity.search_index, search_word(q)) {
        // q is one word (no space, nothing around it): its match in the
        // indexed text is the whole answer, as a q without a space cannot
        // span the text's separators (' '). One pattern a row instead of
        // one a field: a common word's count scans every row, and the five
        // ILIKEs nearly doubled it.
        (Some(_), Some(word)) if word == q => {
            format!("(({}) ILIKE {p})", entity.search_expr(alias))
        }
        // Candidates through the trigram index (migrate.rs), then the
        // fields themselves. One word only: with every word of q in the
        // index condition, a word most items share ("SCALE" of
        // "SCALE-0223459") makes the index read its whole posting tree. So
        // such a q is never matched against the indexed text either: the
        // planner would put that pattern in the index condition too.
        (Some(_), Some(word)) => {
            let w = params.push(format!("%{}%", escape_like(word)));
            format!("(({}) ILIKE {w} AND {exact})", entity.search_expr(alias))
        }
        _ => exact,
    })
}

/// A filter on a relation: keep rows that have a live related row matching it.
fn relation_cond(
    at: At<'_>,
    field: &str,
    val: &Value,
    params: &mut Binds,
    walk: &mut Walk<'_>,
) -> Result<String> {
    let rel = at.entity.relation(field).expect("checked by the caller");
    if at.depth > 1 {
        return Err(Error::invalid(
            "Relation filters may be nested one level deep",
        ));
    }
    let ra = format!("f{}", at.depth);
    let mut ignored = false;
    let mut inner_walk = Walk {
        mentions: &mut ignored,
        conditions: walk.conditions,
    };
    let inner = filter_obj(
        rel.target,
        val,
        params,
        &mut inner_walk,
        &ra,
        at.depth + 1,
        at.nest,
    )?;
    walk.conditions = inner_walk.conditions;
    let alias = at.alias;
    let join = if rel.many {
        format!("{ra}.{} = {alias}.id", rel.fk)
    } else {
        format!("{ra}.id = {alias}.{}", rel.fk)
    };
    Ok(format!(
        "EXISTS (SELECT 1 FROM {} {ra} WHERE {join} AND {ra}.deleted_at IS NULL AND ({inner}))",
        rel.target.table
    ))
}

fn array_texts(arr: &[Value], kind: Kind, field: &str) -> Result<Vec<String>> {
    arr.iter()
        .filter(|v| !v.is_null())
        .map(|v| scalar_text(v, kind, field))
        .collect()
}

fn field_cond(
    alias: &str,
    field: &str,
    kind: Kind,
    val: &Value,
    params: &mut Binds,
) -> Result<String> {
    let ty = kind.sql_type();
    let col = format!("{alias}.{field}");
    match val {
        Value::Null => Ok(format!("{col} IS NULL")),
        Value::Array(arr) => {
            let has_null = arr.iter().any(Value::is_null);
            let p = params.push(array_texts(arr, kind, field)?);
            let base = format!("{col} = ANY({p}::text[]::{ty}[])");
            Ok(if has_null {
                format!("({base} OR {col} IS NULL)")
            } else {
                base
            })
        }
        Value::Object(ops) if ops.keys().any(|k| k.starts_with('$')) => {
            let mut conds = Vec::new();
            for (op, v) in ops {
                conds.push(op_cond(alias, &col, field, kind, op, v, params)?);
            }
            Ok(conds.join(" AND "))
        }
        Value::Object(_) if kind == Kind::Json => {
            let p = params.push(val.to_string());
            Ok(format!("{col} @> {p}::text::jsonb"))
        }
        v => {
            let p = params.push(scalar_text(v, kind, field)?);
            Ok(format!("{col} = {p}::text::{ty}"))
        }
    }
}

fn op_cond(
    alias: &str,
    col: &str,
    field: &str,
    kind: Kind,
    op: &str,
    v: &Value,
    params: &mut Binds,
) -> Result<String> {
    let ty = kind.sql_type();
    let scalar = |params: &mut Binds, v: &Value| -> Result<String> {
        let p = params.push(scalar_text(v, kind, field)?);
        Ok(format!("{p}::text::{ty}"))
    };
    Ok(match (op, v) {
        ("$eq", _) => field_cond(alias, field, kind, v, params)?,
        ("$ne", Value::Null) => format!("{col} IS NOT NULL"),
        ("$ne", _) => format!("{col} <> {}", scalar(params, v)?),
        ("$in" | "$nin", Value::Array(arr)) => {
            let p = params.push(array_texts(arr, kind, field)?);
            if op == "$in" {
                format!("{col} = ANY({p}::text[]::{ty}[])")
            } else {
                format!("NOT ({col} = ANY({p}::text[]::{ty}[]))")
            }
        }
        ("$in" | "$nin", _) => return Err(Error::invalid(format!("{field}: {op} takes an array"))),
        ("$lt" | "$lte" | "$gt" | "$gte", _) => {
            let sym = match op {
                "$lt" => "<",
                "$lte" => "<=",
                "$gt" => ">",
                _ => ">=",
            };
            format!("{col} {sym} {}", scalar(params, v)?)
        }
        ("$like" | "$ilike", Value::String(s)) if kind == Kind::Text => {
            // Backslash escapes the next character: a pattern ending in an odd run of
            // them fails in Postgres on the first row it is matched against.
            if s.bytes().rev().take_while(|b| *b == b'\\').count() % 2 == 1 {
                return Err(Error::invalid(format!(
                    "{field}: the {op} pattern ends with an escape character (\\); write \\\\ for a backslash"
                )));
            }
            let p = params.push(s.clone());
            params.plan_per_call();
            let word = if op == "$like" { "LIKE" } else { "ILIKE" };
            format!("{col} {word} {p}")
        }
        ("$like" | "$ilike", _) => {
            return Err(Error::invalid(format!(
                "{field}: {op} takes a string on a text field"
            )))
        }
        _ => {
            return Err(Error::invalid(format!(
                "Unknown operator '{op}' on field '{field}'"
            )))
        }
    })
}

/// Medusa's find config: `{ skip, take, order, withDeleted, select, relations }`.
#[derive(Debug, Default, Clone)]
pub(crate) struct FindConfig {
    pub(crate) skip: Option<i64>,
    pub(crate) take: Option<i64>,
    pub(crate) order: Vec<(String, bool)>,
    pub(crate) with_deleted: bool,
    pub(crate) selection: Selection,
}

fn non_negative_int(v: &Value, field: &str) -> Result<Option<i64>> {
    match v {
        Value::Null => Ok(None),
        Value::Number(n) => match n.as_i64() {
            Some(i) if i >= 0 => Ok(Some(i)),
            _ => Err(Error::invalid(format!(
                "{field} must be a non-negative integer"
            ))),
        },
        _ => Err(Error::invalid(format!(
            "{field} must be a non-negative integer"
        ))),
    }
}

/// Medusa's find config (`null` or an object): paging, order, soft-deleted
/// rows, and the selection (`select` and `relations`).
pub(crate) fn parse_config(entity: &'static Entity, v: &Value) -> Result<FindConfig> {
    let mut cfg = FindConfig::default();
    let obj = match v {
        Value::Null => return Ok(cfg),
        Value::Object(o) => o,
        _ => return Err(Error::invalid("config must be an object")),
    };
    let mut selection = Selection::default();
    let mut relations: Vec<String> = Vec::new();
    for (k, val) in obj {
        match k.as_str() {
            "skip" => cfg.skip = non_negative_int(val, "skip")?,
            "take" => cfg.take = non_negative_int(val, "take")?,
            "withDeleted" => {
                cfg.with_deleted = match val {
                    Value::Bool(b) => *b,
                    Value::Null => false,
                    _ => return Err(Error::invalid("withDeleted must be a boolean")),
                }
            }
            "order" => parse_order(entity, val, &mut cfg.order)?,
            "select" => parse_select(entity, val, &mut selection)?,
            "relations" => parse_relations(val, &mut relations)?,
            other => {
                return Err(Error::invalid(format!("Unknown config option '{other}'")));
            }
        }
    }
    for r in &relations {
        selection.add_relation(entity, r, 0)?;
    }
    cfg.selection = selection;
    Ok(cfg)
}

/// `order`: `{ field: "ASC" | "DESC" }` over columns and computed fields.
fn parse_order(
    entity: &'static Entity,
    val: &Value,
    order: &mut Vec<(String, bool)>,
) -> Result<()> {
    if val.is_null() {
        return Ok(());
    }
    let o: &Map<String, Value> = val
        .as_object()
        .ok_or_else(|| Error::invalid("order must be an object"))?;
    for (f, dir) in o {
        let known = entity.column(f).is_some() || entity.computed.iter().any(|c| c.name == f);
        if !known {
            return Err(Error::invalid(format!(
                "Unknown order field '{f}' for {}",
                entity.name
            )));
        }
        let desc = match dir.as_str().map(str::to_ascii_uppercase).as_deref() {
            Some("ASC") => false,
            Some("DESC") => true,
            _ => return Err(Error::invalid(format!("order.{f} must be ASC or DESC"))),
        };
        order.push((f.clone(), desc));
    }
    Ok(())
}

/// `select`: field paths, added to `selection`.
fn parse_select(entity: &'static Entity, val: &Value, selection: &mut Selection) -> Result<()> {
    // Medusa treats an empty select like none: default fields.
    if val.is_null() || val.as_array().is_some_and(|a| a.is_empty()) {
        return Ok(());
    }
    let arr = val
        .as_array()
        .ok_or_else(|| Error::invalid("select must be an array of field names"))?;
    // An explicit select replaces the default fields, even when it names only relations.
    selection.fields.get_or_insert_with(Vec::new);
    for f in arr {
        let f = f
            .as_str()
            .ok_or_else(|| Error::invalid("select must be an array of field names"))?;
        selection.add_select(entity, f, 0)?;
    }
    Ok(())
}

/// `relations`: names, checked once every option is read (parse_config).
fn parse_relations(val: &Value, relations: &mut Vec<String>) -> Result<()> {
    if val.is_null() {
        return Ok(());
    }
    let arr = val
        .as_array()
        .ok_or_else(|| Error::invalid("relations must be an array"))?;
    for r in arr {
        let r = r
            .as_str()
            .ok_or_else(|| Error::invalid("relations must be an array of names"))?;
        relations.push(r.to_string());
    }
    Ok(())
}

/// Whether and how a list counts the rows its filter matches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Count {
    No,
    /// `count(*)` over the filtered rows.
    Scan,
    /// The sum of the live-count table (migrate.rs) and how many rows it has:
    /// for a filter that matches every live row ([`live_count_table`]).
    Kept(&'static str),
}

/// The entity's live-count table when `filter` and `cfg` ask for every live
/// row (no condition, deleted rows left out), so that the kept count is the
/// count.
pub(crate) fn live_count_table(
    entity: &'static Entity,
    filter: &Filter,
    cfg: &FindConfig,
) -> Option<&'static str> {
    entity
        .live_count
        .filter(|_| filter.unconditional && !cfg.with_deleted)
}

/// A complete SELECT for list / listAndCount / retrieve; `params` starts
/// empty (the filter's values are its first placeholders).
pub(crate) fn select_sql(
    entity: &'static Entity,
    f: &Filter,
    cfg: &FindConfig,
    count: Count,
    params: &mut Params,
) -> Result<String> {
    f.bind(params);
    let dto = dto_expr(entity, "t", &cfg.selection, cfg.with_deleted, 0)?;
    let live = if cfg.with_deleted || f.mentions_deleted_at {
        ""
    } else {
        " AND t.deleted_at IS NULL"
    };
    let mut order: Vec<String> = cfg
        .order
        .iter()
        .map(|(f, desc)| {
            let expr = entity
                .computed
                .iter()
                .find(|c| c.name == f)
                .map(|c| c.value.sql("t"))
                .unwrap_or_else(|| format!("t.{f}"));
            format!("{expr} {}", if *desc { "DESC" } else { "ASC" })
        })
        .collect();
    if !cfg.order.iter().any(|(f, _)| f == "id") {
        order.push("t.id ASC".into());
    }
    let order = order.join(", ");
    let filtered = format!("FROM {} t WHERE ({}){live}", entity.table, f.sql);
    // `take` stays a parameter, and that keeps Postgres planning a cached list
    // statement on every call (it never expects a generic plan, which assumes a tenth
    // of the rows, to win). Planning costs about 0.2 ms, and written into the text
    // the limit would save that. It is not, because the plan has to fit each value:
    // measured on 200 000 items, for a location with 10 of them, the generic plan
    // (merge join walking every item in id order) took 124 ms and the custom plan
    // 0.08 ms.
    let take = cfg.take.map(|t| params.push(t));
    let skip = cfg.skip.map(|s| params.push(s));
    let mut page = String::new();
    if let Some(take) = &take {
        page.push_str(&format!(" LIMIT {take}"));
    }
    if let Some(skip) = &skip {
        page.push_str(&format!(" OFFSET {skip}"));
    }
    let sql = match count {
        Count::Scan if page.is_empty() => {
            format!("SELECT {dto} AS dto, count(*) OVER () AS total {filtered} ORDER BY {order}")
        }
        // A page that comes back short is the end of the matches: the count is the
        // rows skipped and returned, and the scan that would count them again is left
        // out (an InitPlan in a CASE branch runs only if reached). So a search with a
        // few matches walks its index once, not twice. With no row returned the caller
        // counts on its own (past the end, or take 0).
        Count::Scan => {
            let skipped = skip.as_deref().unwrap_or("0");
            let here = format!("{skipped} + (SELECT count(*) FROM p)");
            let total = match &take {
                Some(take) => format!(
                    "CASE WHEN (SELECT count(*) FROM p) < {take} THEN {here} ELSE (SELECT count(*) {filtered}) END"
                ),
                None => here,
            };
            format!(
                "WITH p AS (SELECT t.* {filtered} ORDER BY {order}{page}) SELECT {dto} AS dto, {total} AS total FROM p t ORDER BY {order}"
            )
        }
        Count::No | Count::Kept(_) => {
            let count = match count {
                Count::Kept(table) => format!(
                    ", (SELECT coalesce(sum(delta), 0)::bigint FROM {table}) AS total, (SELECT count(*) FROM {table}) AS parts"
                ),
                _ => String::new(),
            };
            if page.is_empty() {
                format!("SELECT {dto} AS dto{count} {filtered} ORDER BY {order}")
            } else {
                // Pick the page first, then build DTOs for its rows only.
                format!(
                    "SELECT {dto} AS dto{count} FROM (SELECT t.* {filtered} ORDER BY {order}{page}) t ORDER BY {order}"
                )
            }
        }
    };
    Ok(sql)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::entity::{INVENTORY_ITEM, INVENTORY_LEVEL, RESERVATION_ITEM};
    use serde_json::json;

    /// The filter translated and bound into `p` (whatever `p` held is dropped).
    fn parsed(entity: &'static Entity, f: &Value, p: &mut Params) -> Result<Filter> {
        let out = Filter::parse(entity, f)?;
        *p = Params::default();
        out.bind(p);
        Ok(out)
    }

    fn everything(entity: &'static Entity) -> Filter {
        Filter::parse(entity, &json!({})).unwrap()
    }

    fn where_of(entity: &'static Entity, f: Value) -> (String, usize) {
        let out = Filter::parse(entity, &f).unwrap();
        (out.sql, out.binds.values.len())
    }

    #[test]
    fn scalar_array_and_null_filters() {
        let (sql, n) = where_of(
            &INVENTORY_ITEM,
            json!({"sku": "a", "id": ["x", "y"], "title": null}),
        );
        assert_eq!(n, 2);
        assert!(sql.contains("t.sku = $2::text::text"), "{sql}");
        assert!(sql.contains("t.id = ANY($1::text[]::text[])"), "{sql}");
        assert!(sql.contains("t.title IS NULL"), "{sql}");
    }

    #[test]
    fn operators_and_logic() {
        let (sql, n) = where_of(
            &INVENTORY_LEVEL,
            json!({"$or": [{"stocked_quantity": {"$gte": 5, "$lt": "10.5"}}, {"location_id": {"$nin": ["a"]}}]}),
        );
        assert_eq!(n, 3);
        assert!(sql.starts_with("(t.stocked_quantity >= $1::text::numeric AND t.stocked_quantity < $2::text::numeric OR NOT (t.location_id = ANY($3::text[]::text[])))"), "{sql}");
    }

    #[test]
    fn q_searches_searchable_fields_with_escaped_pattern() {
        let mut p = Params::default();
        let out = parsed(&INVENTORY_ITEM, &json!({"q": "50%"}), &mut p).unwrap();
        for f in ["sku", "hs_code", "mid_code", "description", "title"] {
            assert!(out.sql.contains(&format!("t.{f} ILIKE $1")));
        }
        // "50" is too short for a trigram: no index condition.
        assert_eq!(p.0.len(), 1);
        assert!(!out.sql.contains("coalesce("));
        assert!(p.per_call().is_some());
    }

    #[test]
    fn q_narrows_through_the_search_index_by_its_longest_word() {
        let mut p = Params::default();
        let out = parsed(&INVENTORY_ITEM, &json!({"q": "SCALE-0223"}), &mut p).unwrap();
        let expr = INVENTORY_ITEM.search_expr("t");
        assert!(out
            .sql
            .contains(&format!("(({expr}) ILIKE $2 AND (t.sku ILIKE $1")));
        assert_eq!(p.0.len(), 2);
        // q is one word: the indexed text alone, one pattern.
        let mut one = Params::default();
        let out = parsed(&INVENTORY_ITEM, &json!({"q": "shirt"}), &mut one).unwrap();
        assert!(
            out.sql.contains(&format!("(({expr}) ILIKE $1)")),
            "{}",
            out.sql
        );
        assert!(!out.sql.contains("t.sku ILIKE"));
        assert_eq!(one.0.len(), 1);
        // A space could match across two fields in the indexed text: the fields decide.
        let mut spaced = Params::default();
        let out = parsed(&INVENTORY_ITEM, &json!({"q": "red shirt"}), &mut spaced).unwrap();
        assert!(out
            .sql
            .contains(&format!("(({expr}) ILIKE $2 AND (t.sku ILIKE $1")));
        // Bound with their types, so the statement can go unnamed (planned per call).
        let typed = p.per_call().unwrap();
        assert_eq!(typed.len(), 2);
        assert!(typed.iter().all(|(_, t)| *t == Type::TEXT));
        // Entities without a search index search their fields only.
        let mut p = Params::default();
        let out = parsed(&RESERVATION_ITEM, &json!({"q": "SCALE-0223459"}), &mut p).unwrap();
        assert!(!out.sql.contains("coalesce(") && p.0.len() == 1);
        // No pattern: nothing to plan per call.
        let mut p = Params::default();
        parsed(&INVENTORY_ITEM, &json!({"sku": "a"}), &mut p).unwrap();
        assert!(p.per_call().is_none());
    }

    #[test]
    fn q_with_a_long_number_narrows_through_its_digit_grams_alone() {
        let mut p = Params::default();
        let f = Filter::parse(&INVENTORY_ITEM, &json!({"q": "SCALE-0223459"})).unwrap();
        let grams = format!(
            "medusa_inventory_rs_digit_grams({})",
            INVENTORY_ITEM.search_expr("t")
        );
        assert!(
            f.sql.contains(&format!(
                "(({grams} @> $2::text[] OR {grams} @> $3::text[]) AND (t.sku ILIKE $1"
            )),
            "{}",
            f.sql
        );
        // Not against the indexed text: that would bring in the trigram index.
        let expr = INVENTORY_ITEM.search_expr("t");
        assert!(!f.sql.contains(&format!("({expr}) ILIKE")));
        f.bind(&mut p);
        assert_eq!(p.0.len(), 3);
        assert!(p.per_call().is_some());
        // Its twin for a schema without the index narrows by the trigram index.
        let plain = f.without_digits.as_deref().unwrap();
        assert!(plain
            .sql
            .contains(&format!("(({expr}) ILIKE $2 AND (t.sku ILIKE $1")));
        assert!(plain.without_digits.is_none() && !plain.sql.contains("digit_grams"));
        // Nested, too (any q in the filter).
        let f = Filter::parse(
            &INVENTORY_ITEM,
            &json!({"$or": [{"sku": "a"}, {"q": "123456"}]}),
        )
        .unwrap();
        assert!(f.sql.contains("digit_grams") && f.without_digits.is_some());
        // Five digits, or none: no twin, nothing asked of the digit index.
        for q in ["12345", "SCALE-0223", "shirt", "123 456"] {
            let f = Filter::parse(&INVENTORY_ITEM, &json!({ "q": q })).unwrap();
            assert!(
                !f.sql.contains("digit_grams") && f.without_digits.is_none(),
                "{q}"
            );
        }
        // Entities without the index search their fields only.
        let f = Filter::parse(&RESERVATION_ITEM, &json!({"q": "SCALE-0223459"})).unwrap();
        assert!(!f.sql.contains("digit_grams") && f.without_digits.is_none());
    }

    #[test]
    fn digit_grams_are_five_digits_every_second_place_of_runs_of_six_or_more() {
        use crate::entity::{digit_alignments, digit_grams};
        assert_eq!(digit_grams("SCALE-0223459"), ["02234", "23459"]);
        assert_eq!(digit_grams("12345 678901 1234"), ["67890"]);
        assert_eq!(digit_grams("0123456789"), ["01234", "23456", "45678"]);
        // Five digits or fewer, other scripts' digits, letters between: none.
        assert!(digit_grams("12345 ١٢٣٤٥٦ ３４５６７８ 123a456").is_empty());
        // A search asks both ways a number can sit in a run, for its longest number.
        assert_eq!(
            digit_alignments("A-12 0123456789", 8),
            Some(vec![
                vec!["01234", "23456", "45678"],
                vec!["12345", "34567", "56789"]
            ])
        );
        assert_eq!(
            digit_alignments("111111111", 8),
            Some(vec![vec!["11111"], vec!["11111"]])
        );
        assert_eq!(
            digit_alignments("0123456789012345678901", 2),
            Some(vec![vec!["01234", "23456"], vec!["12345", "34567"]])
        );
        assert_eq!(digit_alignments("12345 abc", 8), None);
        // Wherever a number sits in a text's run, one of its sets is all in the
        // text's grams.
        let text = "x 98765432101234567 y";
        for from in 0..12 {
            for len in 6..=(17 - from) {
                let q = &text[2 + from..2 + from + len];
                let have = digit_grams(text);
                let sets = digit_alignments(q, 8).unwrap();
                assert!(
                    sets.iter().any(|set| set.iter().all(|g| have.contains(g))),
                    "{q}"
                );
            }
        }
    }

    #[test]
    fn search_word_is_the_longest_run_of_letters_and_digits() {
        assert_eq!(search_word("SCALE-0223459"), Some("0223459"));
        assert_eq!(search_word("shirt"), Some("shirt"));
        assert_eq!(search_word("red shirt"), Some("shirt"));
        // A tie goes to the word with a digit.
        assert_eq!(search_word("ABC-123"), Some("123"));
        assert_eq!(search_word("bløde æbler"), Some("æbler"));
        assert_eq!(search_word("a-b_c%d"), None);
        assert_eq!(search_word(""), None);
    }

    #[test]
    fn unknown_fields_and_operators_are_invalid_data() {
        let mut p = Params::default();
        for f in [
            json!({"sku; DROP TABLE x": 1}),
            json!({"sku": {"$regex": "a"}}),
            json!({"weight": {"$gt": "heavy"}}),
            json!({"requires_shipping": "yes"}),
            json!({"sku": {"$in": "a"}}),
        ] {
            let e = parsed(&INVENTORY_ITEM, &f, &mut p).err().unwrap();
            assert_eq!(e.kind, crate::error::ErrorType::InvalidData, "{f}");
        }
    }

    #[test]
    fn filters_are_bounded_in_depth_and_width() {
        let mut deep = json!({"sku": "x"});
        for _ in 0..crate::limits::MAX_FILTER_DEPTH {
            deep = json!({ "$or": [deep] });
        }
        let mut p = Params::default();
        assert!(parsed(&INVENTORY_ITEM, &deep, &mut p).is_ok());
        let e = parsed(&INVENTORY_ITEM, &json!({ "$or": [deep] }), &mut p).unwrap_err();
        assert!(
            e.message.contains("more than 16 levels deep"),
            "{}",
            e.message
        );
        let wide: Vec<Value> = (0..2000).map(|_| json!({"sku": "x"})).collect();
        let e = parsed(&INVENTORY_ITEM, &json!({ "$or": wide }), &mut p).unwrap_err();
        assert!(
            e.message.contains("more than 1000 conditions"),
            "{}",
            e.message
        );
        for (f, want) in [
            (
                json!({"created_at": "garbage"}),
                "created_at must be an ISO 8601",
            ),
            (
                json!({"weight": {"$gt": 1e10}}),
                "weight must be an integer between",
            ),
        ] {
            let e = parsed(&INVENTORY_ITEM, &f, &mut p).unwrap_err();
            assert!(e.message.starts_with(want), "{}", e.message);
        }
    }

    #[test]
    fn relation_filters_become_exists() {
        let (sql, n) = where_of(
            &INVENTORY_ITEM,
            json!({"location_levels": {"location_id": ["a", "b"], "stocked_quantity": {"$gt": 0}}}),
        );
        assert_eq!(n, 2);
        assert!(sql.starts_with("EXISTS (SELECT 1 FROM inventory_level f0 WHERE f0.inventory_item_id = t.id AND f0.deleted_at IS NULL AND (f0.location_id = ANY($1"), "{sql}");
        let (sql, _) = where_of(&INVENTORY_LEVEL, json!({"inventory_item": {"sku": "x"}}));
        assert!(sql.contains("f0.id = t.inventory_item_id"), "{sql}");
    }

    #[test]
    fn soft_deleted_rows_hidden_unless_asked() {
        let cfg = parse_config(
            &INVENTORY_ITEM,
            &json!({"take": 5, "order": {"sku": "desc"}}),
        )
        .unwrap();
        let sql = select_sql(
            &INVENTORY_ITEM,
            &everything(&INVENTORY_ITEM),
            &cfg,
            Count::No,
            &mut Params::default(),
        )
        .unwrap();
        assert!(sql.contains("AND t.deleted_at IS NULL"));
        assert!(
            sql.contains("ORDER BY t.sku DESC, t.id ASC LIMIT $1) t ORDER BY t.sku DESC"),
            "{sql}"
        );
        let cfg = parse_config(&INVENTORY_ITEM, &json!({"withDeleted": true})).unwrap();
        let sql = select_sql(
            &INVENTORY_ITEM,
            &everything(&INVENTORY_ITEM),
            &cfg,
            Count::No,
            &mut Params::default(),
        )
        .unwrap();
        assert!(!sql.contains("deleted_at IS NULL"));
    }

    #[test]
    fn select_and_relations_are_allow_listed() {
        assert!(parse_config(&INVENTORY_ITEM, &json!({"relations": ["nope"]})).is_err());
        assert!(parse_config(&INVENTORY_ITEM, &json!({"order": {"x; --": "ASC"}})).is_err());
        assert!(parse_config(&INVENTORY_ITEM, &json!({"bogus": 1})).is_err());
        let cfg = parse_config(
            &INVENTORY_ITEM,
            &json!({"select": ["sku", "stocked_quantity", "location_levels.location_id"]}),
        )
        .unwrap();
        let sql = select_sql(
            &INVENTORY_ITEM,
            &everything(&INVENTORY_ITEM),
            &cfg,
            Count::No,
            &mut Params::default(),
        )
        .unwrap();
        assert!(sql.contains(r#"t.sku AS "sku""#), "{sql}");
        assert!(sql.contains(r#"AS "location_levels""#), "{sql}");
        assert!(!sql.contains("title"), "{sql}");
        let bad = parse_config(&INVENTORY_ITEM, &json!({"select": ["password"]})).unwrap();
        assert!(select_sql(
            &INVENTORY_ITEM,
            &everything(&INVENTORY_ITEM),
            &bad,
            Count::No,
            &mut Params::default()
        )
        .is_err());
        assert!(parse_config(
            &INVENTORY_ITEM,
            &json!({"select": ["location_levels.nope.x"]})
        )
        .is_err());
    }

    #[test]
    fn nested_select_paths_build_a_tree() {
        let cfg = parse_config(
            &INVENTORY_LEVEL,
            &json!({"select": ["id", "inventory_item.sku", "inventory_item.location_levels.*"], "relations": ["inventory_item"]}),
        )
        .unwrap();
        let item = &cfg.selection.relations[0];
        assert_eq!(item.0, "inventory_item");
        assert_eq!(item.1.fields, Some(vec!["sku".to_string()]));
        assert!(item.1.relations[0].1.star);
        let sql = select_sql(
            &INVENTORY_LEVEL,
            &everything(&INVENTORY_LEVEL),
            &cfg,
            Count::No,
            &mut Params::default(),
        )
        .unwrap();
        assert!(
            sql.contains("FROM inventory_level r1 WHERE r1.inventory_item_id = r0.id"),
            "{sql}"
        );
    }

    #[test]
    fn a_filter_binds_its_values_from_the_first_placeholder() {
        let f = Filter::equal(
            &INVENTORY_LEVEL,
            &[("location_id", "l"), ("inventory_item_id", "i")],
        )
        .unwrap();
        assert_eq!(
            f.sql,
            "t.inventory_item_id = $1::text::text AND t.location_id = $2::text::text"
        );
        assert_eq!(
            f.binds.values,
            [Bound::Text("i".into()), Bound::Text("l".into())]
        );
        assert!(!f.unconditional && !f.mentions_deleted_at);
        // take and skip are bound (see select_sql: a plan per call).
        let cfg = FindConfig {
            take: Some(1),
            skip: Some(7),
            ..Default::default()
        };
        let mut p = Params::default();
        let sql = select_sql(&INVENTORY_LEVEL, &f, &cfg, Count::No, &mut p).unwrap();
        assert!(sql.contains("LIMIT $3 OFFSET $4)"), "{sql}");
        assert_eq!(p.0.len(), 4);
        assert!(
            Filter::parse(&INVENTORY_ITEM, &Value::Null)
                .unwrap()
                .unconditional
        );
        // Conditions that happen to be none still are not "every row" to the count.
        assert!(
            !Filter::parse(&INVENTORY_ITEM, &json!({"$and": []}))
                .unwrap()
                .unconditional
        );
    }
}
