//! Method arguments: each method's positional JSON arguments, decoded once at
//! the manifest (dispatch.rs, `serve!`) into the typed values its domain
//! function takes. A manifest entry names its argument type; the domain
//! modules never see JSON. Every refusal is `invalid_data` naming the argument
//! or field, in the words the callers (and the Jest suites) know.

use crate::entity::Entity;
use crate::error::{Error, Result};
use crate::input::{get, ids_of, one_or_many, parse_input, strings_of, InputSpec, Row};
use crate::ledger::CallOptions;
use crate::quantity::{parse_quantity, Rule};
use crate::sql::{parse_config, Filter, FindConfig};
use rust_decimal::Decimal;
use serde_json::{Map, Value};

/// What a decoder knows besides the arguments: the manifest entry (its name
/// names bad values; its entity is what lists, creates and updates are of)
/// and the call's options (an expected stock joins the rows it applies to).
#[derive(Debug, Clone, Copy)]
pub(crate) struct ArgContext<'a> {
    pub(crate) method: &'static str,
    pub(crate) entity: &'static Entity,
    pub(crate) options: &'a CallOptions,
}

/// A method's arguments, decoded from its positional JSON values (a missing
/// one reads as null).
pub(crate) trait FromArgs: Sized {
    fn from_args(args: &[Value], call: &ArgContext<'_>) -> Result<Self>;
}

static NULL: Value = Value::Null;

fn arg(args: &[Value], i: usize) -> &Value {
    args.get(i).unwrap_or(&NULL)
}

fn id_arg(v: &Value, name: &str) -> Result<String> {
    v.as_str()
        .map(str::to_string)
        .ok_or_else(|| Error::invalid(format!("{name} must be a string")))
}

/// A level method's `locationIds`: one id or an array of them ([`strings_of`],
/// with the message Medusa's callers know for this argument).
fn locations_of(v: &Value) -> Result<Vec<String>> {
    strings_of(v, "locationIds")
        .map_err(|_| Error::invalid("locationIds must be an array of strings"))
}

fn lower_first(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_lowercase().collect::<String>() + c.as_str(),
        None => String::new(),
    }
}

// ---- reads ------------------------------------------------------------

/// `list…(selector, config)`, `listAndCount…(selector, config)`.
#[derive(Debug)]
pub(crate) struct ListArgs {
    pub(crate) entity: &'static Entity,
    pub(crate) filter: Filter,
    pub(crate) config: FindConfig,
}

impl FromArgs for ListArgs {
    fn from_args(args: &[Value], call: &ArgContext<'_>) -> Result<Self> {
        let config = parse_config(call.entity, arg(args, 1))?;
        Ok(ListArgs {
            entity: call.entity,
            filter: Filter::parse(call.entity, arg(args, 0))?,
            config,
        })
    }
}

/// `retrieve…(id, config)`.
#[derive(Debug)]
pub(crate) struct RetrieveArgs {
    pub(crate) entity: &'static Entity,
    pub(crate) id: String,
    pub(crate) config: FindConfig,
}

impl FromArgs for RetrieveArgs {
    fn from_args(args: &[Value], call: &ArgContext<'_>) -> Result<Self> {
        // Medusa's own wording and type (not_found) for a missing id.
        let id = arg(args, 0)
            .as_str()
            .filter(|s| !s.is_empty())
            .ok_or_else(|| {
                Error::not_found(format!(
                    "{} - id must be defined",
                    lower_first(call.entity.name)
                ))
            })?;
        Ok(RetrieveArgs {
            entity: call.entity,
            id: id.to_string(),
            config: parse_config(call.entity, arg(args, 1))?,
        })
    }
}

/// `(inventoryItemId, locationIds)` of the quantity reads.
#[derive(Debug)]
pub(crate) struct ItemAtLocations {
    pub(crate) item: String,
    pub(crate) locations: Vec<String>,
}

impl FromArgs for ItemAtLocations {
    fn from_args(args: &[Value], _: &ArgContext<'_>) -> Result<Self> {
        Ok(ItemAtLocations {
            item: id_arg(arg(args, 0), "inventoryItemId")?,
            locations: locations_of(arg(args, 1))?,
        })
    }
}

/// confirmInventory's `(inventoryItemId, locationIds, quantity)`.
#[derive(Debug)]
pub(crate) struct Confirmation {
    pub(crate) item: String,
    pub(crate) locations: Vec<String>,
    pub(crate) quantity: Decimal,
}

impl FromArgs for Confirmation {
    fn from_args(args: &[Value], _: &ArgContext<'_>) -> Result<Self> {
        // The quantity is checked first (as it always was).
        let quantity = parse_quantity(arg(args, 2), "quantity", Rule::NonNegative)?;
        Ok(Confirmation {
            item: id_arg(arg(args, 0), "inventoryItemId")?,
            locations: locations_of(arg(args, 1))?,
            quantity,
        })
    }
}

/// `(inventoryItemId, locationId)`: one level.
#[derive(Debug)]
pub(crate) struct LevelAt {
    pub(crate) item: String,
    pub(crate) location: String,
}

impl FromArgs for LevelAt {
    fn from_args(args: &[Value], _: &ArgContext<'_>) -> Result<Self> {
        Ok(LevelAt {
            item: id_arg(arg(args, 0), "inventoryItemId")?,
            location: id_arg(arg(args, 1), "locationId")?,
        })
    }
}

// ---- creates and updates ------------------------------------------------

/// `create…(data)`: validated rows of the method's entity, ids not yet given.
#[derive(Debug)]
pub(crate) struct Creates {
    pub(crate) rows: Vec<Row>,
    pub(crate) was_array: bool,
}

/// `update…(data)` of items and reservations: validated rows.
#[derive(Debug)]
pub(crate) struct Updates {
    pub(crate) rows: Vec<Row>,
    pub(crate) was_array: bool,
}

/// One object or an array of them, each validated by `spec` (an array's
/// refusals name the index).
fn rows_of(spec: &InputSpec, v: &Value) -> Result<(Vec<Row>, bool)> {
    let (inputs, was_array) = one_or_many(v);
    let rows = inputs
        .iter()
        .enumerate()
        .map(|(i, v)| parse_input(spec, v, was_array.then_some(i)))
        .collect::<Result<Vec<_>>>()?;
    Ok((rows, was_array))
}

impl FromArgs for Creates {
    fn from_args(args: &[Value], call: &ArgContext<'_>) -> Result<Self> {
        let (rows, was_array) = rows_of(&InputSpec::create(call.entity), arg(args, 0))?;
        Ok(Creates { rows, was_array })
    }
}

impl FromArgs for Updates {
    fn from_args(args: &[Value], call: &ArgContext<'_>) -> Result<Self> {
        let (rows, was_array) = rows_of(&InputSpec::update(call.entity), arg(args, 0))?;
        Ok(Updates { rows, was_array })
    }
}

/// The compare-and-set field of level updates and cycle counts.
const EXPECTED: &str = "expected_stocked_quantity";

/// The call option `expectedStockedQuantity` given to a call of several levels.
fn one_level_only(method: &str, what: &str, field: &str) -> Error {
    Error::invalid(format!(
        "call option expectedStockedQuantity applies to a {method} call of one {what}; \
         give each {what} its own {field}"
    ))
}

/// One expected stock from the row's own field and the call option: either, or
/// both when they agree.
fn agree(row: Option<Decimal>, option: Option<Decimal>, field: &str) -> Result<Option<Decimal>> {
    match (row, option) {
        (Some(r), Some(o)) if r != o => Err(Error::invalid(format!(
            "{field} {r} and call option expectedStockedQuantity {o} disagree"
        ))),
        (r, o) => Ok(r.or(o)),
    }
}

/// One row of a level update: the level's new values (addressed by
/// inventory_item_id and location_id) and the stock it must still hold.
#[derive(Debug)]
pub(crate) struct LevelSet {
    pub(crate) row: Row,
    pub(crate) expected: Option<Decimal>,
}

/// updateInventoryLevels' `data` (`CYCLE_COUNT` false) and
/// setInventoryQuantities' (true: every row names the stock it expects and the
/// stock it counted). The call option `expectedStockedQuantity` is the
/// expected stock of a call of one row.
#[derive(Debug)]
pub(crate) struct LevelSets<const CYCLE_COUNT: bool> {
    pub(crate) rows: Vec<LevelSet>,
    pub(crate) was_array: bool,
}

pub(crate) type LevelUpdates = LevelSets<false>;
pub(crate) type CycleCounts = LevelSets<true>;

impl<const CYCLE_COUNT: bool> FromArgs for LevelSets<CYCLE_COUNT> {
    fn from_args(args: &[Value], call: &ArgContext<'_>) -> Result<Self> {
        let (inputs, was_array) = one_or_many(arg(args, 0));
        // The call option is the expected stock of the call's one level; of several
        // it would name none in particular.
        let option = call.options.expected_stocked_quantity;
        if option.is_some() && inputs.len() != 1 {
            return Err(one_level_only(call.method, "row", EXPECTED));
        }
        let spec = InputSpec::update(call.entity);
        let rows = inputs
            .iter()
            .enumerate()
            .map(|(i, v)| level_set::<CYCLE_COUNT>(&spec, v, option, was_array.then_some(i)))
            .collect::<Result<Vec<_>>>()?;
        Ok(LevelSets { rows, was_array })
    }
}

/// One row of [`LevelSets`], `index` its place in an array.
fn level_set<const CYCLE_COUNT: bool>(
    spec: &InputSpec,
    v: &Value,
    option: Option<Decimal>,
    index: Option<usize>,
) -> Result<LevelSet> {
    let at = |m: String| match index {
        Some(i) => Error::invalid(format!("{m} (at index {i})")),
        None => Error::invalid(m),
    };
    let mut v = v.clone();
    let expected = match v.as_object_mut().and_then(|o| o.remove(EXPECTED)) {
        None | Some(Value::Null) => None,
        Some(q) => Some(parse_quantity(&q, EXPECTED, Rule::Any).map_err(|er| at(er.message))?),
    };
    let expected = agree(expected, option, EXPECTED).map_err(|er| at(er.message))?;
    if CYCLE_COUNT && expected.is_none() {
        return Err(at(format!("{EXPECTED} is required")));
    }
    let row = parse_input(spec, &v, index)?;
    // A cycle count sets the stock it counted: a row without one would
    // only compare.
    if CYCLE_COUNT && get(&row, "stocked_quantity").is_none() {
        return Err(at("stocked_quantity is required".into()));
    }
    Ok(LevelSet { row, expected })
}

/// One adjustment of adjustInventory: `delta` added to the stock of the level
/// at (item, location), if it still holds `expected` when one is given.
#[derive(Debug, Clone)]
pub(crate) struct Adjustment {
    pub(crate) item: String,
    pub(crate) location: String,
    pub(crate) delta: Decimal,
    pub(crate) expected: Option<Decimal>,
}

/// adjustInventory's arguments: `(inventoryItemId, locationId, adjustment)`,
/// or the batch form `([{ inventoryItemId, locationId, adjustment,
/// expectedStockedQuantity? }])` (`was_array`).
#[derive(Debug)]
pub(crate) struct Adjustments {
    pub(crate) entries: Vec<Adjustment>,
    pub(crate) was_array: bool,
}

const ADJUSTMENT_FIELDS: [&str; 4] = [
    "inventoryItemId",
    "locationId",
    "adjustment",
    "expectedStockedQuantity",
];

impl FromArgs for Adjustments {
    fn from_args(args: &[Value], call: &ArgContext<'_>) -> Result<Self> {
        let option = call.options.expected_stocked_quantity;
        match args.first() {
            Some(Value::Array(list)) => {
                let mut entries = list
                    .iter()
                    .enumerate()
                    .map(|(i, e)| adjustment_entry(e, i))
                    .collect::<Result<Vec<_>>>()?;
                if option.is_some() {
                    if entries.len() != 1 {
                        return Err(one_level_only(
                            call.method,
                            "entry",
                            "expectedStockedQuantity",
                        ));
                    }
                    let e = &mut entries[0];
                    e.expected = agree(e.expected, option, "expectedStockedQuantity")
                        .map_err(|er| Error::invalid(format!("{} (at index 0)", er.message)))?;
                }
                Ok(Adjustments {
                    entries,
                    was_array: true,
                })
            }
            Some(item) => {
                let adjustment = Adjustment {
                    item: id_arg(item, "inventoryItemId")?,
                    location: id_arg(arg(args, 1), "locationId")?,
                    delta: parse_quantity(arg(args, 2), "adjustment", Rule::Any)?,
                    expected: option,
                };
                Ok(Adjustments {
                    entries: vec![adjustment],
                    was_array: false,
                })
            }
            None => Err(Error::invalid("adjustInventory needs arguments")),
        }
    }
}

/// Entry `i` of adjustInventory's batch form.
fn adjustment_entry(e: &Value, i: usize) -> Result<Adjustment> {
    let at = |m: String| Error::invalid(format!("{m} (at index {i})"));
    let text = |field: &str| {
        e.get(field)
            .and_then(Value::as_str)
            .map(str::to_string)
            .ok_or_else(|| at(format!("{field} must be a string")))
    };
    let item = text("inventoryItemId")?;
    let location = text("locationId")?;
    let delta = parse_quantity(
        e.get("adjustment").unwrap_or(&NULL),
        "adjustment",
        Rule::Any,
    )
    .map_err(|er| at(er.message))?;
    let expected = match e.get("expectedStockedQuantity") {
        None | Some(Value::Null) => None,
        Some(q) => Some(
            parse_quantity(q, "expectedStockedQuantity", Rule::Any).map_err(|er| at(er.message))?,
        ),
    };
    if let Some(k) = e
        .as_object()
        .and_then(|o| o.keys().find(|k| !ADJUSTMENT_FIELDS.contains(&k.as_str())))
    {
        return Err(at(format!("Unknown field '{k}' for adjustInventory")));
    }
    Ok(Adjustment {
        item,
        location,
        delta,
        expected,
    })
}

// ---- removals ---------------------------------------------------------

/// `delete…(ids)`: Medusa's `string | string[] | { id }`.
#[derive(Debug)]
pub(crate) struct Ids {
    pub(crate) ids: Vec<String>,
}

impl FromArgs for Ids {
    fn from_args(args: &[Value], _: &ArgContext<'_>) -> Result<Self> {
        Ok(Ids {
            ids: ids_of(arg(args, 0), "ids")?,
        })
    }
}

/// The `config` of softDelete*/restore*: Medusa's `{ returnLinkableKeys?:
/// string[] }` (what its generated services and the link module's cascades
/// pass), nothing else, so call options given one position early are refused
/// rather than dropped.
#[derive(Debug, Default, Clone, PartialEq)]
pub(crate) struct LinkableConfig {
    /// None when not given (or null).
    pub(crate) return_linkable_keys: Option<Vec<String>>,
}

impl LinkableConfig {
    fn decode(v: &Value, method: &str) -> Result<Self> {
        let o = match v {
            Value::Null => return Ok(LinkableConfig::default()),
            Value::Object(o) => o,
            _ => return Err(Error::invalid(format!("{method} config must be an object"))),
        };
        let mut config = LinkableConfig::default();
        for (k, v) in o {
            match (k.as_str(), v) {
                ("returnLinkableKeys", Value::Null) => {}
                ("returnLinkableKeys", Value::Array(a)) if a.iter().all(Value::is_string) => {
                    config.return_linkable_keys =
                        Some(a.iter().filter_map(Value::as_str).map(String::from).collect())
                }
                ("returnLinkableKeys", _) => {
                    return Err(Error::invalid(format!(
                        "{method} config returnLinkableKeys must be an array of strings"
                    )))
                }
                _ => {
                    return Err(Error::invalid(format!(
                        "Unknown {method} config option '{k}' (only returnLinkableKeys; call options such as idempotencyKey go in the argument after config)"
                    )))
                }
            }
        }
        Ok(config)
    }
}

/// `softDelete…(ids, config)`, `restore…(ids, config)`.
#[derive(Debug)]
pub(crate) struct IdsWithConfig {
    pub(crate) ids: Vec<String>,
    pub(crate) config: LinkableConfig,
}

impl FromArgs for IdsWithConfig {
    fn from_args(args: &[Value], call: &ArgContext<'_>) -> Result<Self> {
        // The config is checked first (as it always was).
        let config = LinkableConfig::decode(arg(args, 1), call.method)?;
        Ok(IdsWithConfig {
            ids: ids_of(arg(args, 0), "ids")?,
            config,
        })
    }
}

/// deleteInventoryItemLevelByLocationId's `locationId`: one or several.
#[derive(Debug)]
pub(crate) struct LevelLocations {
    pub(crate) locations: Vec<String>,
}

impl FromArgs for LevelLocations {
    fn from_args(args: &[Value], _: &ArgContext<'_>) -> Result<Self> {
        Ok(LevelLocations {
            locations: locations_of(arg(args, 0))?,
        })
    }
}

/// deleteReservationItemByLocationId's `locationId`: one or several.
#[derive(Debug)]
pub(crate) struct ReservationLocations {
    pub(crate) locations: Vec<String>,
}

impl FromArgs for ReservationLocations {
    fn from_args(args: &[Value], _: &ArgContext<'_>) -> Result<Self> {
        Ok(ReservationLocations {
            locations: strings_of(arg(args, 0), "locationId")?,
        })
    }
}

/// `…ByLineItem(lineItemId)`: one or several.
#[derive(Debug)]
pub(crate) struct LineItems {
    pub(crate) line_items: Vec<String>,
}

impl FromArgs for LineItems {
    fn from_args(args: &[Value], _: &ArgContext<'_>) -> Result<Self> {
        Ok(LineItems {
            line_items: strings_of(arg(args, 0), "lineItemId")?,
        })
    }
}

// ---- the ledger -------------------------------------------------------

/// Levels one verifyInventoryLedger call checks (a page; `next` continues).
pub const MAX_VERIFY: i64 = 100_000;

/// Largest page of movements one call returns.
pub const MAX_TAKE: i64 = 10_000;

/// Movement filters accepted by listInventoryMovements: text columns, each a
/// string or an array of strings.
const TEXT_FILTERS: [&str; 10] = [
    "inventory_level_id",
    "inventory_item_id",
    "location_id",
    "field",
    "reason",
    "actor",
    "reference",
    "reservation_item_id",
    "line_item_id",
    "idempotency_key",
];

/// One condition of a movement filter, in the order given.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum MovementCond {
    /// A text column equal to one of `values`.
    In {
        column: &'static str,
        values: Vec<String>,
    },
    /// `id` (a bigint) or `created_at` (a timestamp) compared with `op`
    /// (`>`, `>=`, `<`, `<=`) to `value`.
    Bound {
        column: &'static str,
        op: &'static str,
        value: String,
    },
}

/// One ORDER BY column of a movement list (`m.id` or `m.created_at`).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct MovementOrder {
    pub(crate) column: &'static str,
    pub(crate) descending: bool,
}

/// listInventoryMovements' `(filters, config)`.
#[derive(Debug)]
pub(crate) struct MovementQuery {
    pub(crate) filter: Vec<MovementCond>,
    pub(crate) order: Vec<MovementOrder>,
    pub(crate) skip: i64,
    pub(crate) take: i64,
}

impl FromArgs for MovementQuery {
    fn from_args(args: &[Value], _: &ArgContext<'_>) -> Result<Self> {
        let filter = movement_filter(arg(args, 0))?;
        let mut q = MovementQuery {
            filter,
            order: Vec::new(),
            skip: 0,
            take: 100,
        };
        movement_page(arg(args, 1), &mut q)?;
        Ok(q)
    }
}

fn movement_filter(filter: &Value) -> Result<Vec<MovementCond>> {
    let obj = match filter {
        Value::Null => return Ok(Vec::new()),
        Value::Object(o) => o,
        _ => return Err(Error::invalid("filters must be an object")),
    };
    let mut conds = Vec::new();
    for (k, v) in obj {
        if let Some(column) = TEXT_FILTERS.iter().find(|c| **c == k) {
            conds.push(MovementCond::In {
                column,
                values: strings_of(v, k)?,
            });
        } else if let Some(column) = ["created_at", "id"].into_iter().find(|c| c == k) {
            movement_bounds(column, v, &mut conds)?;
        } else {
            return Err(Error::invalid(format!(
                "Unknown filter '{k}' for inventory movements"
            )));
        }
    }
    Ok(conds)
}

/// `{ $gt, $gte, $lt, $lte }` of `id` or `created_at`.
fn movement_bounds(k: &'static str, v: &Value, conds: &mut Vec<MovementCond>) -> Result<()> {
    let ops = v.as_object().ok_or_else(|| {
        Error::invalid(format!(
            "{k} filter must be an object of $gt, $gte, $lt, $lte"
        ))
    })?;
    for (op, bound) in ops {
        let sql_op = match op.as_str() {
            "$gt" => ">",
            "$gte" => ">=",
            "$lt" => "<",
            "$lte" => "<=",
            _ => return Err(Error::invalid(format!("Unknown operator '{op}' for {k}"))),
        };
        let text = bound
            .as_str()
            .map(str::to_string)
            .or_else(|| bound.as_i64().filter(|_| k == "id").map(|n| n.to_string()))
            .ok_or_else(|| Error::invalid(format!("{k} bounds must be strings")))?;
        if k == "created_at" && !crate::limits::is_timestamp(&text) {
            return Err(Error::invalid(format!("{k} {op} must be a timestamp")));
        }
        // Movement ids are bigint: digits only, at most i64::MAX.
        if k == "id" && (!text.bytes().all(|b| b.is_ascii_digit()) || text.parse::<i64>().is_err())
        {
            return Err(Error::invalid(format!("{k} {op} must be a movement id")));
        }
        conds.push(MovementCond::Bound {
            column: k,
            op: sql_op,
            value: text,
        });
    }
    Ok(())
}

/// The find config of a movement list: `skip`, `take`, `order`.
fn movement_page(config: &Value, q: &mut MovementQuery) -> Result<()> {
    let obj = match config {
        Value::Object(o) => o,
        Value::Null => return Ok(()),
        _ => return Err(Error::invalid("config must be an object")),
    };
    for (k, v) in obj {
        match k.as_str() {
            "skip" => {
                q.skip = v
                    .as_i64()
                    .filter(|n| *n >= 0)
                    .ok_or_else(|| Error::invalid("skip must be a non-negative integer"))?
            }
            "take" => {
                q.take = v
                    .as_i64()
                    .filter(|n| (0..=MAX_TAKE).contains(n))
                    .ok_or_else(|| {
                        Error::invalid(format!("take must be an integer from 0 to {MAX_TAKE}"))
                    })?
            }
            "order" => movement_order(v, &mut q.order)?,
            _ => {
                return Err(Error::invalid(format!(
                    "Unknown find option '{k}' for inventory movements"
                )))
            }
        }
    }
    Ok(())
}

fn movement_order(v: &Value, order: &mut Vec<MovementOrder>) -> Result<()> {
    let o = v
        .as_object()
        .ok_or_else(|| Error::invalid("order must be an object"))?;
    for (field, dir) in o {
        let column = match field.as_str() {
            "id" => "m.id",
            "created_at" => "m.created_at",
            _ => {
                return Err(Error::invalid(format!(
                    "Cannot order movements by '{field}'"
                )))
            }
        };
        let descending = match dir.as_str().map(str::to_ascii_uppercase).as_deref() {
            Some("ASC") => false,
            Some("DESC") => true,
            _ => return Err(Error::invalid("order direction must be ASC or DESC")),
        };
        order.push(MovementOrder { column, descending });
    }
    Ok(())
}

/// A position in the movement feed: the (transaction id, movement id) of the
/// last movement delivered; `"<xid>:<id>"`, opaque to callers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct FeedCursor {
    pub(crate) xid: u64,
    pub(crate) id: i64,
}

impl FeedCursor {
    fn parse(text: &str) -> Option<Self> {
        let (xid, id) = text.split_once(':')?;
        let digits = |s: &str, max: usize| {
            !s.is_empty() && s.len() <= max && s.bytes().all(|b| b.is_ascii_digit())
        };
        if !digits(xid, 20) || !digits(id, 19) {
            return None;
        }
        Some(FeedCursor {
            xid: xid.parse().ok()?,
            id: id.parse().ok()?,
        })
    }
}

/// listInventoryMovementFeed's `{ after?: cursor | null, limit?: 1..MAX_TAKE }`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct FeedOptions {
    /// From the start when none was given.
    pub(crate) after: FeedCursor,
    pub(crate) limit: i64,
}

impl FromArgs for FeedOptions {
    fn from_args(args: &[Value], _: &ArgContext<'_>) -> Result<Self> {
        const NAME: &str = "listInventoryMovementFeed";
        let mut opts = FeedOptions {
            after: FeedCursor::default(),
            limit: 100,
        };
        let obj = match arg(args, 0) {
            Value::Null => return Ok(opts),
            Value::Object(o) => o,
            _ => return Err(Error::invalid(format!("{NAME} options must be an object"))),
        };
        for (k, val) in obj {
            match (k.as_str(), val) {
                ("after" | "limit", Value::Null) => {}
                ("after", Value::String(s)) => {
                    opts.after = FeedCursor::parse(s).ok_or_else(|| {
                        Error::invalid(format!(
                            "{NAME} option after must be the cursor of a movement this method returned"
                        ))
                    })?
                }
                ("limit", Value::Number(n)) => match n.as_i64() {
                    Some(l @ 1..=MAX_TAKE) => opts.limit = l,
                    _ => {
                        return Err(Error::invalid(format!(
                            "{NAME} option limit must be an integer from 1 to {MAX_TAKE}"
                        )))
                    }
                },
                ("after" | "limit", _) => {
                    return Err(Error::invalid(format!(
                        "{NAME} option {k} has the wrong type"
                    )))
                }
                _ => return Err(Error::invalid(format!("Unknown {NAME} option '{k}'"))),
            }
        }
        Ok(opts)
    }
}

/// verifyInventoryLedger's `{ after?: string, limit?: 1..MAX_VERIFY, inventory_item_id?: string }`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct VerifyOptions {
    /// Check levels with an id after this one (the `next` of the previous page).
    pub(crate) after: Option<String>,
    pub(crate) limit: i64,
    /// Check only this item's levels (an item page's check, not a full scan).
    pub(crate) inventory_item_id: Option<String>,
}

impl FromArgs for VerifyOptions {
    fn from_args(args: &[Value], _: &ArgContext<'_>) -> Result<Self> {
        const NAME: &str = "verifyInventoryLedger";
        let mut opts = VerifyOptions {
            after: None,
            limit: MAX_VERIFY,
            inventory_item_id: None,
        };
        let obj: &Map<String, Value> = match arg(args, 0) {
            Value::Null => return Ok(opts),
            Value::Object(o) => o,
            _ => return Err(Error::invalid(format!("{NAME} options must be an object"))),
        };
        for (k, val) in obj {
            match (k.as_str(), val) {
                ("after" | "limit" | "inventory_item_id", Value::Null) => {}
                ("after", Value::String(s)) => opts.after = Some(s.clone()),
                ("inventory_item_id", Value::String(s)) if !s.is_empty() && !s.contains('\0') => {
                    opts.inventory_item_id = Some(s.clone())
                }
                ("inventory_item_id", _) => {
                    return Err(Error::invalid(format!(
                        "{NAME} option inventory_item_id must be a non-empty string without NUL characters"
                    )))
                }
                ("limit", Value::Number(n)) => match n.as_i64() {
                    Some(l @ 1..=MAX_VERIFY) => opts.limit = l,
                    _ => {
                        return Err(Error::invalid(format!(
                            "{NAME} option limit must be an integer from 1 to {MAX_VERIFY}"
                        )))
                    }
                },
                ("after" | "limit", _) => {
                    return Err(Error::invalid(format!(
                        "{NAME} option {k} has the wrong type"
                    )))
                }
                _ => return Err(Error::invalid(format!("Unknown {NAME} option '{k}'"))),
            }
        }
        Ok(opts)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::entity::{INVENTORY_ITEM, INVENTORY_LEVEL};
    use serde_json::json;

    fn decode<T: FromArgs>(method: &'static str, args: Value, options: Value) -> Result<T> {
        let options = CallOptions::from_json(&options).unwrap();
        let call = ArgContext {
            method,
            entity: &INVENTORY_LEVEL,
            options: &options,
        };
        T::from_args(args.as_array().unwrap(), &call)
    }

    fn message<T: FromArgs + std::fmt::Debug>(
        method: &'static str,
        args: Value,
        options: Value,
    ) -> String {
        let e = decode::<T>(method, args, options).unwrap_err();
        assert_eq!(e.kind, crate::ErrorType::InvalidData, "{}", e.message);
        e.message
    }

    #[test]
    fn soft_delete_configs_decode_before_their_ids() {
        let m = "softDeleteInventoryLevels";
        let ok = decode::<IdsWithConfig>(
            m,
            json!([{ "id": ["a", "b"] }, { "returnLinkableKeys": ["inventory_level_id"] }]),
            Value::Null,
        )
        .unwrap();
        assert_eq!(ok.ids, ["a", "b"]);
        assert_eq!(
            ok.config.return_linkable_keys,
            Some(vec!["inventory_level_id".to_string()])
        );
        let none =
            decode::<IdsWithConfig>(m, json!(["a", { "returnLinkableKeys": null }]), Value::Null)
                .unwrap();
        assert_eq!(none.config, LinkableConfig::default());
        // Bad ids and a bad config: the config is named.
        assert_eq!(
            message::<IdsWithConfig>(m, json!([5, { "idempotencyKey": "k" }]), Value::Null),
            "Unknown softDeleteInventoryLevels config option 'idempotencyKey' (only returnLinkableKeys; call options such as idempotencyKey go in the argument after config)"
        );
        assert_eq!(
            message::<IdsWithConfig>(m, json!(["a", { "returnLinkableKeys": [1] }]), Value::Null),
            "softDeleteInventoryLevels config returnLinkableKeys must be an array of strings"
        );
        assert_eq!(
            message::<IdsWithConfig>(m, json!(["a", 1]), Value::Null),
            "softDeleteInventoryLevels config must be an object"
        );
        assert_eq!(
            message::<IdsWithConfig>(m, json!([5]), Value::Null),
            "ids must be an id or an array of ids"
        );
    }

    #[test]
    fn adjustments_take_the_expected_stock_of_one_level_only() {
        let m = "adjustInventory";
        let one = decode::<Adjustments>(
            m,
            json!(["i", "l", "-2.5"]),
            json!({ "expectedStockedQuantity": 7 }),
        )
        .unwrap();
        assert!(!one.was_array);
        let a = &one.entries[0];
        assert_eq!((a.item.as_str(), a.location.as_str()), ("i", "l"));
        assert_eq!(
            (a.delta, a.expected),
            (Decimal::new(-25, 1), Some(Decimal::from(7)))
        );
        let batch = json!([[
            { "inventoryItemId": "i", "locationId": "l", "adjustment": 1 },
            { "inventoryItemId": "i", "locationId": "m", "adjustment": 2, "expectedStockedQuantity": 3 },
        ]]);
        let two = decode::<Adjustments>(m, batch.clone(), Value::Null).unwrap();
        assert!(two.was_array);
        assert_eq!(two.entries[1].expected, Some(Decimal::from(3)));
        assert_eq!(
            message::<Adjustments>(m, batch, json!({ "expectedStockedQuantity": 3 })),
            "call option expectedStockedQuantity applies to a adjustInventory call of one entry; give each entry its own expectedStockedQuantity"
        );
        assert_eq!(
            message::<Adjustments>(
                m,
                json!([[{ "inventoryItemId": "i", "locationId": "l", "adjustment": 1, "x": 1 }]]),
                Value::Null
            ),
            "Unknown field 'x' for adjustInventory (at index 0)"
        );
        assert_eq!(
            message::<Adjustments>(m, json!([[{ "inventoryItemId": "i", "locationId": "l", "adjustment": 1, "expectedStockedQuantity": 2 }]]), json!({ "expectedStockedQuantity": 3 })),
            "expectedStockedQuantity 2 and call option expectedStockedQuantity 3 disagree (at index 0)"
        );
        assert_eq!(
            message::<Adjustments>(m, json!([]), Value::Null),
            "adjustInventory needs arguments"
        );
        assert_eq!(
            message::<Adjustments>(m, json!(["i", 3, 1]), Value::Null),
            "locationId must be a string"
        );
    }

    #[test]
    fn cycle_counts_need_an_expected_and_a_counted_stock() {
        let m = "setInventoryQuantities";
        let row = json!({ "inventory_item_id": "i", "location_id": "l", "stocked_quantity": 4, "expected_stocked_quantity": "3" });
        let ok = decode::<CycleCounts>(m, json!([[row]]), Value::Null).unwrap();
        assert!(ok.was_array);
        assert_eq!(ok.rows[0].expected, Some(Decimal::from(3)));
        // The expected stock is not a column: it is taken out of the row.
        assert!(get(&ok.rows[0].row, EXPECTED).is_none());
        assert_eq!(
            message::<CycleCounts>(
                m,
                json!([[{ "inventory_item_id": "i", "location_id": "l", "stocked_quantity": 4 }]]),
                Value::Null
            ),
            "expected_stocked_quantity is required (at index 0)"
        );
        assert_eq!(
            message::<CycleCounts>(
                m,
                json!([{ "inventory_item_id": "i", "location_id": "l" }]),
                json!({ "expectedStockedQuantity": 1 })
            ),
            "stocked_quantity is required"
        );
        // An update needs neither; the option is refused for several rows before any row is read.
        let upd = decode::<LevelUpdates>(
            "updateInventoryLevels",
            json!([{ "inventory_item_id": "i", "location_id": "l" }]),
            Value::Null,
        )
        .unwrap();
        assert_eq!(upd.rows[0].expected, None);
        assert_eq!(
            message::<LevelUpdates>("updateInventoryLevels", json!([[1, 2]]), json!({ "expectedStockedQuantity": 1 })),
            "call option expectedStockedQuantity applies to a updateInventoryLevels call of one row; give each row its own expected_stocked_quantity"
        );
    }

    #[test]
    fn reads_decode_in_their_old_order() {
        // confirmInventory names its quantity before its item.
        assert_eq!(
            message::<Confirmation>("confirmInventory", json!([1, 2, -1]), Value::Null),
            "quantity must not be negative"
        );
        let c = decode::<Confirmation>("confirmInventory", json!(["i", "l", "2"]), Value::Null)
            .unwrap();
        assert_eq!(
            (c.item.as_str(), c.locations.as_slice(), c.quantity),
            ("i", &["l".to_string()][..], Decimal::from(2))
        );
        assert_eq!(
            message::<ItemAtLocations>("retrieveStockedQuantity", json!(["i", [1]]), Value::Null),
            "locationIds must be an array of strings"
        );
        // A list's config is read before its filter.
        let options = CallOptions::default();
        let call = ArgContext {
            method: "listInventoryItems",
            entity: &INVENTORY_ITEM,
            options: &options,
        };
        let e =
            ListArgs::from_args(&[json!({ "nope": 1 }), json!({ "bogus": 1 })], &call).unwrap_err();
        assert_eq!(e.message, "Unknown config option 'bogus'");
        let l = ListArgs::from_args(&[json!({ "sku": "a" })], &call).unwrap();
        assert!(l.filter.sql.contains("t.sku = $1") && !l.filter.unconditional);
        let e = RetrieveArgs::from_args(&[json!("")], &call).unwrap_err();
        assert_eq!(
            (e.kind, e.message.as_str()),
            (
                crate::ErrorType::NotFound,
                "inventoryItem - id must be defined"
            )
        );
    }

    #[test]
    fn movement_queries_keep_their_conditions_in_order() {
        let q = decode::<MovementQuery>(
            "listInventoryMovements",
            json!([{ "id": { "$gt": 5 }, "reason": "sale" }, { "take": 3, "order": { "created_at": "desc" } }]),
            Value::Null,
        )
        .unwrap();
        assert_eq!(
            q.filter,
            [
                MovementCond::Bound {
                    column: "id",
                    op: ">",
                    value: "5".into()
                },
                MovementCond::In {
                    column: "reason",
                    values: vec!["sale".into()]
                },
            ]
        );
        assert_eq!((q.skip, q.take), (0, 3));
        assert_eq!(
            q.order,
            [MovementOrder {
                column: "m.created_at",
                descending: true
            }]
        );
        for (args, want) in [
            (
                json!([{ "id": { "$gt": "x" } }]),
                "id $gt must be a movement id",
            ),
            (
                json!([{ "weight": 1 }]),
                "Unknown filter 'weight' for inventory movements",
            ),
            (
                json!([null, { "take": MAX_TAKE + 1 }]),
                "take must be an integer from 0 to 10000",
            ),
            (json!([null, 1]), "config must be an object"),
        ] {
            assert_eq!(
                message::<MovementQuery>("listInventoryMovements", args, Value::Null),
                want
            );
        }
        let v = decode::<VerifyOptions>(
            "verifyInventoryLedger",
            json!([{ "after": "lvl_1" }]),
            Value::Null,
        )
        .unwrap();
        assert_eq!(
            v,
            VerifyOptions {
                after: Some("lvl_1".into()),
                limit: MAX_VERIFY,
                inventory_item_id: None,
            }
        );
        let v = decode::<VerifyOptions>(
            "verifyInventoryLedger",
            json!([{ "inventory_item_id": "iitem_1", "limit": 5 }]),
            Value::Null,
        )
        .unwrap();
        assert_eq!(v.inventory_item_id.as_deref(), Some("iitem_1"));
        assert_eq!(v.limit, 5);
        for bad in [json!(""), json!(3), json!(["iitem_1"]), json!("a\0b")] {
            assert_eq!(
                message::<VerifyOptions>(
                    "verifyInventoryLedger",
                    json!([{ "inventory_item_id": bad }]),
                    Value::Null
                ),
                "verifyInventoryLedger option inventory_item_id must be a non-empty string without NUL characters"
            );
        }
        assert_eq!(
            message::<VerifyOptions>(
                "verifyInventoryLedger",
                json!([{ "limit": 0 }]),
                Value::Null
            ),
            "verifyInventoryLedger option limit must be an integer from 1 to 100000"
        );
    }

    #[test]
    fn feed_cursors_parse_or_are_refused() {
        assert_eq!(
            FeedCursor::parse("18446744073709551615:9223372036854775807"),
            Some(FeedCursor {
                xid: u64::MAX,
                id: i64::MAX
            })
        );
        for bad in [
            "",
            ":",
            "1:",
            ":1",
            "1",
            "a:1",
            "1:-1",
            "-1:1",
            "1:2:3",
            " 1:2",
            "18446744073709551616:1",
            "1:9223372036854775808",
        ] {
            assert_eq!(FeedCursor::parse(bad), None, "{bad}");
        }
        let feed =
            |v: Value| decode::<FeedOptions>("listInventoryMovementFeed", json!([v]), Value::Null);
        assert_eq!(
            feed(Value::Null).unwrap(),
            FeedOptions {
                after: FeedCursor::default(),
                limit: 100
            }
        );
        for (bad, name) in [
            (json!({ "after": "x" }), "after"),
            (json!({ "after": 1 }), "after"),
            (json!({ "limit": 0 }), "limit"),
            (json!({ "limit": MAX_TAKE + 1 }), "limit"),
            (json!({ "from": "1:1" }), "from"),
        ] {
            let e = feed(bad).unwrap_err();
            assert_eq!(e.kind, crate::ErrorType::InvalidData);
            assert!(e.message.contains(name), "{}", e.message);
        }
    }
}
