//! Column allow-lists for the three tables. Every field name that reaches SQL
//! is looked up here first; anything else is rejected as invalid_data.

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

#[derive(Debug, Clone, Copy)]
pub struct Column {
    pub name: &'static str,
    pub kind: Kind,
}

const fn col(name: &'static str, kind: Kind) -> Column {
    Column { name, kind }
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
    pub computed: &'static [Computed],
    pub relations: &'static [Relation],
}

impl Entity {
    pub fn column(&self, name: &str) -> Option<&'static Column> {
        self.columns.iter().find(|c| c.name == name)
    }
    pub fn relation(&self, name: &str) -> Option<&'static Relation> {
        self.relations.iter().find(|r| r.name == name)
    }
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
    pub fn sql(self, alias: &str) -> String {
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

const TS: [Column; 4] = [
    col("id", Kind::Text),
    col("created_at", Kind::Timestamp),
    col("updated_at", Kind::Timestamp),
    col("deleted_at", Kind::Timestamp),
];

pub static INVENTORY_ITEM: Entity = Entity {
    name: "InventoryItem",
    table: "inventory_item",
    prefix: "iitem",
    columns: &[
        TS[0],
        TS[1],
        TS[2],
        TS[3],
        col("sku", Kind::Text),
        col("origin_country", Kind::Text),
        col("hs_code", Kind::Text),
        col("mid_code", Kind::Text),
        col("material", Kind::Text),
        col("unit_of_measure", Kind::Text),
        col("weight", Kind::Int),
        col("length", Kind::Int),
        col("height", Kind::Int),
        col("width", Kind::Int),
        col("requires_shipping", Kind::Bool),
        col("description", Kind::Text),
        col("title", Kind::Text),
        col("thumbnail", Kind::Text),
        col("metadata", Kind::Json),
    ],
    searchable: &["sku", "hs_code", "mid_code", "description", "title"],
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
};

pub static INVENTORY_LEVEL: Entity = Entity {
    name: "InventoryLevel",
    table: "inventory_level",
    prefix: "ilev",
    columns: &[
        TS[0],
        TS[1],
        TS[2],
        TS[3],
        col("inventory_item_id", Kind::Text),
        col("location_id", Kind::Text),
        col("stocked_quantity", Kind::Numeric),
        col("reserved_quantity", Kind::Numeric),
        col("incoming_quantity", Kind::Numeric),
        col("metadata", Kind::Json),
    ],
    searchable: &[],
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
};

pub static RESERVATION_ITEM: Entity = Entity {
    name: "ReservationItem",
    table: "reservation_item",
    prefix: "resitem",
    columns: &[
        TS[0],
        TS[1],
        TS[2],
        TS[3],
        col("line_item_id", Kind::Text),
        col("allow_backorder", Kind::Bool),
        col("location_id", Kind::Text),
        col("quantity", Kind::Numeric),
        col("external_id", Kind::Text),
        col("description", Kind::Text),
        col("created_by", Kind::Text),
        col("metadata", Kind::Json),
        col("inventory_item_id", Kind::Text),
    ],
    searchable: &["description"],
    computed: &[],
    relations: &[Relation {
        name: "inventory_item",
        target: &INVENTORY_ITEM,
        many: false,
        fk: "inventory_item_id",
    }],
};
