//! The one description of each table: its columns (type, what create and
//! update input may set, the insert default), computed fields and relations.
//! Input validation, inserts and DTOs derive from it, and every field name
//! that reaches SQL is looked up here first; anything else is rejected as
//! invalid_data. A new column is added here and in a migration (migrate.rs);
//! the Jest suite checks medusa/entities.js and lib/index.d.ts against it.

use crate::quantity::Rule;
use Input::{NotNull, Optional, Required};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Text,
    Int,
    Bool,
    Json,
    /// numeric column with a `raw_<name>` jsonb twin (Medusa's BigNumber storage).
    Numeric,
    Timestamp,
}

impl Kind {
    pub fn sql_type(self) -> &'static str {
        match self {
            Kind::Text => "text",
            Kind::Int => "integer",
            Kind::Bool => "boolean",
            Kind::Json => "jsonb",
            Kind::Numeric => "numeric",
            Kind::Timestamp => "timestamptz",
        }
    }
}

/// How a create or an update treats one column of its input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Input {
    /// Not accepted: an unknown field.
    No,
    /// May be omitted or null.
    Optional,
    /// May be omitted, never null.
    NotNull,
    /// Must be present and not null (text: not empty either).
    Required,
}

impl Input {
    pub fn as_str(self) -> &'static str {
        match self {
            Input::No => "no",
            Optional => "optional",
            NotNull => "notNull",
            Required => "required",
        }
    }
}

#[derive(Debug, Clone, Copy)]
pub struct Column {
    pub name: &'static str,
    pub kind: Kind,
    pub create: Input,
    pub update: Input,
    /// SQL an insert uses when the input leaves the column out or null.
    pub default: Option<&'static str>,
}

/// A column no input sets.
const fn col(name: &'static str, kind: Kind) -> Column {
    Column {
        name,
        kind,
        create: Input::No,
        update: Input::No,
        default: None,
    }
}

/// A column create and update input may set or null.
const fn field(name: &'static str, kind: Kind) -> Column {
    col(name, kind).input(Optional, Optional)
}

impl Column {
    const fn input(mut self, create: Input, update: Input) -> Self {
        self.create = create;
        self.update = update;
        self
    }
    const fn default(mut self, sql: &'static str) -> Self {
        self.default = Some(sql);
        self
    }
    /// Whether an insert writes it: create input sets it or it has a default.
    pub(crate) fn inserted(&self) -> bool {
        self.create != Input::No || self.default.is_some()
    }
}

#[derive(Debug, Clone, Copy)]
pub struct Relation {
    pub name: &'static str,
    pub target: &'static Entity,
    /// true: target.fk = t.id (has many); false: t.fk = target.id (belongs to).
    pub many: bool,
    pub fk: &'static str,
}

#[derive(Debug)]
pub struct Entity {
    /// Medusa's model name, used in its error messages.
    pub name: &'static str,
    pub table: &'static str,
    pub prefix: &'static str,
    pub columns: &'static [Column],
    pub searchable: &'static [&'static str],
    /// Name of this module's trigram index over the searchable fields
    /// ([`Entity::search_expr`]; created by migrate.rs, used by `q` in sql.rs).
    pub search_index: Option<&'static str>,
    /// Name of this module's index of the searchable fields' digit grams
    /// ([`DIGIT_GRAMS_FN`] of [`Entity::search_expr`]; created by migrate.rs,
    /// used by a `q` with a long number in sql.rs).
    pub digits_index: Option<&'static str>,
    /// Name of this module's table of live-row count deltas (migrate.rs keeps it
    /// with triggers; an unfiltered listAndCount sums it instead of counting).
    pub live_count: Option<&'static str>,
    pub computed: &'static [Computed],
    pub relations: &'static [Relation],
    /// Input fields accepted and dropped on purpose (Medusa strips them too).
    pub ignored: &'static [&'static str],
    /// What a quantity in create or update input may be.
    pub(crate) numeric_rule: Rule,
}

impl Entity {
    /// The searchable fields of row `alias` as one text, the expression the
    /// search index is built on. A row whose field contains a string has it
    /// in this text too, so `search_expr ILIKE '%s%'` can only narrow a `q`
    /// search down to candidates (the fields themselves are still checked).
    pub(crate) fn search_expr(&self, alias: &str) -> String {
        let dot = if alias.is_empty() {
            String::new()
        } else {
            format!("{alias}.")
        };
        self.searchable
            .iter()
            .map(|f| format!("coalesce({dot}{f}, '')"))
            .collect::<Vec<_>>()
            .join(" || ' ' || ")
    }
    pub(crate) fn column(&self, name: &str) -> Option<&'static Column> {
        self.columns.iter().find(|c| c.name == name)
    }
    pub(crate) fn relation(&self, name: &str) -> Option<&'static Relation> {
        self.relations.iter().find(|r| r.name == name)
    }
}

/// The SQL function (migrate.rs) that makes the digit grams of a text for
/// [`Entity::digits_index`]; [`digit_grams`] is its twin in Rust.
pub(crate) const DIGIT_GRAMS_FN: &str = "medusa_inventory_rs_digit_grams";

/// Digits in a gram. A trigram of digits has 1000 values, so at ten million
/// items each one's posting list holds about half a percent of them, and a
/// search for a number reads several such lists (7 ms at 10M). A gram of five
/// digits has 100 000 values: lists a hundred times shorter.
pub(crate) const DIGIT_GRAM: usize = 5;

/// Grams are taken every this many digits of a run, not at every digit: half
/// the index entries (each costs a write about 1.5 µs), and a number that
/// starts at an odd place in a run still has all its grams at odd places of
/// its own, so a search asks both ways ([`digit_alignments`]).
pub(crate) const DIGIT_STEP: usize = 2;

/// The shortest run of digits that has grams: each of the [`DIGIT_STEP`]
/// ways to align a number of this length holds one.
pub(crate) const DIGIT_RUN: usize = DIGIT_GRAM + DIGIT_STEP - 1;

/// The runs of ASCII digits of `text`, [`DIGIT_RUN`] long or longer.
fn digit_runs(text: &str) -> impl Iterator<Item = &str> {
    text.split(|c: char| !c.is_ascii_digit())
        .filter(|run| run.len() >= DIGIT_RUN)
}

/// The grams of `run` from offset `from`, every [`DIGIT_STEP`] digits.
/// ASCII digits only: every index is a char boundary.
fn grams_from(run: &str, from: usize) -> impl Iterator<Item = &str> {
    (from..(run.len() + 1).saturating_sub(DIGIT_GRAM))
        .step_by(DIGIT_STEP)
        .map(move |at| &run[at..at + DIGIT_GRAM])
}

/// The digit grams of `text` as [`DIGIT_GRAMS_FN`] makes them in SQL (for
/// tests): each run's grams from its first digit on, every [`DIGIT_STEP`].
#[cfg(test)]
pub(crate) fn digit_grams(text: &str) -> Vec<&str> {
    digit_runs(text)
        .flat_map(|run| grams_from(run, 0))
        .collect()
}

/// What a search for `q` asks the digit-gram index: for its longest run of
/// digits (None without one [`DIGIT_RUN`] long), one set of grams per way the
/// run can sit in a text's run (from an even or an odd place), each at most
/// `max`, without repeats. A text whose fields contain `q` has every gram of
/// one of the sets.
pub(crate) fn digit_alignments(q: &str, max: usize) -> Option<Vec<Vec<&str>>> {
    let run = digit_runs(q).max_by_key(|run| run.len())?;
    Some(
        (0..DIGIT_STEP)
            .map(|from| {
                let mut set: Vec<&str> = Vec::new();
                for gram in grams_from(run, from) {
                    if set.len() < max && !set.contains(&gram) {
                        set.push(gram);
                    }
                }
                set
            })
            .collect(),
    )
}

/// A field computed in SQL rather than stored.
#[derive(Debug, Clone, Copy)]
pub struct Computed {
    pub name: &'static str,
    pub value: Derived,
    /// Part of the DTO when no select is given.
    pub default: bool,
}

/// How a computed field is derived from its row.
#[derive(Debug, Clone, Copy)]
pub enum Derived {
    /// Sum of this column over the item's live levels (0 without any).
    LevelSum(&'static str),
    /// stocked_quantity - reserved_quantity of the level itself.
    Available,
}

impl Derived {
    /// The SQL for the row aliased `alias`.
    pub(crate) fn sql(self, alias: &str) -> String {
        match self {
            Derived::LevelSum(column) => format!(
                "coalesce((SELECT sum(il.{column}) FROM inventory_level il WHERE il.inventory_item_id = {alias}.id AND il.deleted_at IS NULL), 0)"
            ),
            Derived::Available => {
                format!("({alias}.stocked_quantity - {alias}.reserved_quantity)")
            }
        }
    }
}

/// The three entities, for code that describes all of them (the facade's date revival).
pub static ENTITIES: [&Entity; 3] = [&INVENTORY_ITEM, &INVENTORY_LEVEL, &RESERVATION_ITEM];

const TS: [Column; 3] = [
    col("created_at", Kind::Timestamp),
    col("updated_at", Kind::Timestamp),
    col("deleted_at", Kind::Timestamp),
];

pub static INVENTORY_ITEM: Entity = Entity {
    name: "InventoryItem",
    table: "inventory_item",
    prefix: "iitem",
    columns: &[
        col("id", Kind::Text).input(NotNull, Required),
        TS[0],
        TS[1],
        TS[2],
        field("sku", Kind::Text),
        field("origin_country", Kind::Text),
        field("hs_code", Kind::Text),
        field("mid_code", Kind::Text),
        field("material", Kind::Text),
        field("unit_of_measure", Kind::Text),
        field("weight", Kind::Int),
        field("length", Kind::Int),
        field("height", Kind::Int),
        field("width", Kind::Int),
        col("requires_shipping", Kind::Bool)
            .input(NotNull, NotNull)
            .default("true"),
        field("description", Kind::Text),
        field("title", Kind::Text),
        field("thumbnail", Kind::Text),
        field("metadata", Kind::Json),
    ],
    searchable: &["sku", "hs_code", "mid_code", "description", "title"],
    search_index: Some("medusa_inventory_rs_item_search_trgm"),
    digits_index: Some("medusa_inventory_rs_item_search_digits"),
    live_count: Some("medusa_inventory_rs_item_count"),
    computed: &[
        Computed {
            name: "stocked_quantity",
            value: Derived::LevelSum("stocked_quantity"),
            default: false,
        },
        Computed {
            name: "reserved_quantity",
            value: Derived::LevelSum("reserved_quantity"),
            default: false,
        },
    ],
    relations: &[
        Relation {
            name: "location_levels",
            target: &INVENTORY_LEVEL,
            many: true,
            fk: "inventory_item_id",
        },
        Relation {
            name: "reservation_items",
            target: &RESERVATION_ITEM,
            many: true,
            fk: "inventory_item_id",
        },
    ],
    // Medusa drops location_levels from item input; levels have their own calls.
    ignored: &["location_levels"],
    numeric_rule: Rule::NonNegative,
};

pub static INVENTORY_LEVEL: Entity = Entity {
    name: "InventoryLevel",
    table: "inventory_level",
    prefix: "ilev",
    columns: &[
        col("id", Kind::Text).input(NotNull, NotNull),
        TS[0],
        TS[1],
        TS[2],
        col("inventory_item_id", Kind::Text).input(Required, Required),
        col("location_id", Kind::Text).input(Required, Required),
        col("stocked_quantity", Kind::Numeric)
            .input(NotNull, NotNull)
            .default("0"),
        // Only reservations move it.
        col("reserved_quantity", Kind::Numeric).default("0"),
        col("incoming_quantity", Kind::Numeric)
            .input(NotNull, NotNull)
            .default("0"),
        field("metadata", Kind::Json),
    ],
    searchable: &[],
    search_index: None,
    digits_index: None,
    live_count: None,
    computed: &[Computed {
        name: "available_quantity",
        value: Derived::Available,
        default: true,
    }],
    relations: &[Relation {
        name: "inventory_item",
        target: &INVENTORY_ITEM,
        many: false,
        fk: "inventory_item_id",
    }],
    // Only reservations move reserved_quantity; Medusa strips it from level input too.
    ignored: &["reserved_quantity", "available_quantity"],
    numeric_rule: Rule::NonNegative,
};

pub static RESERVATION_ITEM: Entity = Entity {
    name: "ReservationItem",
    table: "reservation_item",
    prefix: "resitem",
    columns: &[
        col("id", Kind::Text).input(NotNull, Required),
        TS[0],
        TS[1],
        TS[2],
        // Before location_id and quantity: a create missing several required
        // fields names the first in this order.
        col("inventory_item_id", Kind::Text).input(Required, Input::No),
        field("line_item_id", Kind::Text),
        col("allow_backorder", Kind::Bool)
            .input(NotNull, NotNull)
            .default("false"),
        col("location_id", Kind::Text).input(Required, NotNull),
        col("quantity", Kind::Numeric).input(Required, NotNull),
        field("external_id", Kind::Text),
        field("description", Kind::Text),
        field("created_by", Kind::Text),
        field("metadata", Kind::Json),
    ],
    searchable: &["description"],
    search_index: None,
    digits_index: None,
    live_count: None,
    computed: &[],
    relations: &[Relation {
        name: "inventory_item",
        target: &INVENTORY_ITEM,
        many: false,
        fk: "inventory_item_id",
    }],
    ignored: &[],
    numeric_rule: Rule::Positive,
};

/// The movement ledger's rows, described only for what the facade revives
/// (their timestamp); the ledger's SQL, filters and DTO are in ledger.rs. Not
/// one of Medusa's entities, so not in [`ENTITIES`].
pub static INVENTORY_MOVEMENT: Entity = Entity {
    name: "InventoryMovement",
    table: "inventory_movement",
    prefix: "",
    columns: &[col("id", Kind::Text), col("created_at", Kind::Timestamp)],
    searchable: &[],
    search_index: None,
    digits_index: None,
    live_count: None,
    computed: &[],
    relations: &[],
    ignored: &[],
    numeric_rule: Rule::Any,
};
