//! InventoryItem: every statement that writes `inventory_item`.

use crate::args::{Creates, Ids, IdsWithConfig, LinkableConfig, Updates};
use crate::entity::INVENTORY_ITEM;
use crate::error::{Error, Result};
use crate::idempotency::commit;
use crate::input::{get_text, shape};
use crate::ledger::{pivot, record, whole_levels, Audit, ALL_QUANTITIES};
use crate::outcome::{ids_in, Outcome, Table, ITEM, LEVEL, RESERVATION};
use crate::service::InventoryService;
use crate::sql::Params;
use crate::stock::{locked_removal, restore_locked, RestoreSql};
use crate::write::{dto, insert_rows_from_input, set_clause};
use serde_json::{json, Value};

impl InventoryService {
    pub(crate) async fn create_inventory_items(
        &self,
        input: Creates,
        audit: &Audit,
    ) -> Result<Outcome> {
        let Creates {
            mut rows,
            was_array,
        } = input;
        self.assign_ids(&INVENTORY_ITEM, &mut rows);
        if rows.is_empty() {
            return Ok(shape(vec![], was_array).into());
        }
        let mut c = self.client().await?;
        let outcome = |table: Table| {
            let ids = rows.iter().filter_map(|r| get_text(r, "id")).collect();
            Outcome::from(table).with(ITEM, "created", ids)
        };
        // The DTOs are built from the input: the rows' jsonb built in SQL and
        // parsed back cost more than the insert itself for a batch.
        if audit.key().is_none() {
            // Items move no quantity: one statement, nothing for the ledger.
            return Ok(outcome(
                insert_rows_from_input(&c, &INVENTORY_ITEM, &rows, was_array, None).await?,
            ));
        }
        let tx = c.transaction().await?;
        let out =
            outcome(insert_rows_from_input(&tx, &INVENTORY_ITEM, &rows, was_array, None).await?);
        commit(tx, audit, &out).await?;
        Ok(out)
    }

    pub(crate) async fn update_inventory_items(
        &self,
        input: Updates,
        audit: &Audit,
    ) -> Result<Outcome> {
        let Updates { rows, was_array } = input;
        let mut c = self.client().await?;
        let tx = c.transaction().await?;
        let mut out = Vec::with_capacity(rows.len());
        let mut missing = Vec::new();
        for r in &rows {
            let mut params = Params::default();
            let id = get_text(r, "id").unwrap_or_default();
            let p = params.push(id.clone());
            let sets = set_clause(r, &["id"], &mut params);
            let sql = format!(
                "UPDATE inventory_item AS t SET {sets} WHERE t.id = {p} AND t.deleted_at IS NULL RETURNING {}",
                dto(&INVENTORY_ITEM)
            );
            let stmt = tx.prepare_cached(&sql).await?;
            match tx.query_opt(&stmt, &params.refs()).await? {
                Some(row) => out.push(row.try_get::<_, Value>(0)?),
                None => missing.push(id),
            }
        }
        if !missing.is_empty() {
            return Err(Error::not_found(format!(
                "InventoryItem with id \"{}\" not found",
                missing.join(", ")
            )));
        }
        let ids = ids_in(&Value::Array(out.clone()));
        let outcome = Outcome::from(shape(out, was_array)).with(ITEM, "updated", ids);
        commit(tx, audit, &outcome).await?;
        Ok(outcome)
    }

    pub(crate) async fn delete_inventory_items(&self, ids: Ids, audit: &Audit) -> Result<Outcome> {
        let mut lock_params = Params::default();
        let p = lock_params.push(ids.ids);
        let mut params = lock_params.clone();
        let mut c = self.client().await?;
        // Levels and reservations go with the item through the ON DELETE CASCADE
        // foreign keys. Its reservations, soft-deleted ones too, then its levels are
        // locked first (the crate's order); every
        // level, soft-deleted ones too, closes in the ledger with what it held.
        // (`deleted_at IS NULL OR IS NOT NULL`: every level, said so that each
        // half has its index; Medusa's indexes are partial on deleted_at.)
        let gone = format!("SELECT {} FROM lv l", whole_levels("l", false));
        let sql = format!(
            "WITH lv AS MATERIALIZED (SELECT * FROM inventory_level WHERE inventory_item_id = ANY({p})
                    AND (deleted_at IS NULL OR deleted_at IS NOT NULL) ORDER BY id FOR UPDATE),
                  i AS (DELETE FROM inventory_item WHERE id = ANY({p}) RETURNING id),
                  mv AS ({})
             SELECT ARRAY(SELECT id FROM i)",
            record(&pivot(&gone, &ALL_QUANTITIES), &mut params, audit)
        );
        locked_removal(
            &mut c,
            &format!("t.inventory_item_id = ANY({p}::text[])"),
            Some(p.as_str()),
            &lock_params,
            &sql,
            &params,
            audit,
            |row| Ok(Outcome::from(Value::Null).with(ITEM, "deleted", row.get(0))),
        )
        .await
    }

    /// Soft-deletes items with their levels and reservations, all stamped with the
    /// same deleted_at so that restore brings back exactly what went with them.
    pub(crate) async fn soft_delete_inventory_items(
        &self,
        args: IdsWithConfig,
        audit: &Audit,
    ) -> Result<Outcome> {
        let IdsWithConfig { ids, config } = args;
        let mut params = Params::default();
        let p = params.push(ids);
        let mut c = self.client().await?;
        // Reservations, then levels, locked first (the crate's order), so no
        // reservation arrives at a level while it is being taken away.
        locked_removal(
            &mut c,
            &format!("t.inventory_item_id = ANY({p}::text[])"),
            None,
            &params,
            &format!(
                "WITH i AS (UPDATE inventory_item SET deleted_at = now(), updated_at = now()
                            WHERE id = ANY({p}) AND deleted_at IS NULL RETURNING id),
                      l AS (UPDATE inventory_level SET deleted_at = now(), updated_at = now()
                            WHERE inventory_item_id IN (SELECT id FROM i) AND deleted_at IS NULL RETURNING id),
                      r AS (UPDATE reservation_item SET deleted_at = now(), updated_at = now()
                            WHERE inventory_item_id IN (SELECT id FROM i) AND deleted_at IS NULL RETURNING id)
                 SELECT ARRAY(SELECT id FROM i), ARRAY(SELECT id FROM l), ARRAY(SELECT id FROM r)"
            ),
            &params,
            audit,
            |row| {
                let ids: [Vec<String>; 3] = [row.get(0), row.get(1), row.get(2)];
                Ok(Outcome::from(linkable_result(&config, &[&ids[0], &ids[1], &ids[2]]))
                    .with(ITEM, "deleted", row.get(0))
                    .with(LEVEL, "deleted", row.get(1))
                    .with(RESERVATION, "deleted", row.get(2)))
            },
        )
        .await
    }

    pub(crate) async fn restore_inventory_items(
        &self,
        args: IdsWithConfig,
        audit: &Audit,
    ) -> Result<Outcome> {
        let IdsWithConfig { ids, config } = args;
        // The reservations that went with the items come back with them, onto
        // their old levels, or onto the live level at the same item and
        // location when one was created meanwhile (the old one then stays
        // soft-deleted: two live levels cannot share an item and location).
        // Every level of the items is locked (live and soft-deleted: each half
        // through its own index); one that arrived after is late.
        let restore = RestoreSql {
            pre: "src AS (SELECT id, deleted_at FROM inventory_item WHERE id = ANY($1) AND deleted_at IS NOT NULL),
             rs AS (SELECT t.id, t.inventory_item_id AS item, t.location_id AS loc, t.quantity AS q,
                           coalesce(t.allow_backorder, false) AS bo, t.line_item_id AS line
                    FROM reservation_item t JOIN src
                      ON t.inventory_item_id = src.id AND t.deleted_at = src.deleted_at),
             back AS (SELECT l.id FROM inventory_level l JOIN src
                        ON l.inventory_item_id = src.id AND l.deleted_at = src.deleted_at
                      WHERE NOT EXISTS (SELECT 1 FROM inventory_level x WHERE x.deleted_at IS NULL
                              AND x.inventory_item_id = l.inventory_item_id AND x.location_id = l.location_id)),",
            late_levels: "EXISTS (SELECT 1 FROM inventory_level WHERE inventory_item_id = ANY($1)
               AND (deleted_at IS NULL OR deleted_at IS NOT NULL) AND id <> ALL($2::text[]))",
            extra: ",
             i AS (UPDATE inventory_item t SET deleted_at = NULL, updated_at = now()
                   FROM src, ok WHERE ok.ok AND t.id = src.id RETURNING t.id)",
            extra_cols: ", ARRAY(SELECT id FROM i)",
        };
        let mut c = self.client().await?;
        restore_locked(
            &mut c,
            &ids,
            "SELECT r.id FROM reservation_item r JOIN inventory_item i ON i.id = r.inventory_item_id
             WHERE i.id = ANY($1) AND i.deleted_at IS NOT NULL AND r.deleted_at = i.deleted_at
             ORDER BY r.id FOR UPDATE OF r",
            "SELECT id FROM inventory_level WHERE inventory_item_id = ANY($1)
               AND (deleted_at IS NULL OR deleted_at IS NOT NULL) ORDER BY id FOR UPDATE",
            &restore,
            true,
            audit,
            |row| {
                let items: Vec<String> = row.get(7);
                let levels: Vec<String> = row.get(0);
                let reservations: Vec<String> = row.get(2);
                let result = linkable_result(&config, &[&items, &levels, &reservations]);
                Outcome::from(result)
                    .with(ITEM, "restored", items)
                    .with(LEVEL, "restored", levels)
                    .with(LEVEL, "updated", row.get(1))
                    .with(RESERVATION, "restored", reservations)
            },
        )
        .await
    }
}

/// As Medusa's generated softDelete/restore: the ids of every row the call
/// touched, keyed by linkable key, narrowed to `returnLinkableKeys` when given
/// (Medusa's link cascade acts on every key it gets back).
pub(crate) fn linkable_result(config: &LinkableConfig, ids: &[&Vec<String>; 3]) -> Value {
    let pick: &[String] = config.return_linkable_keys.as_deref().unwrap_or_default();
    let keys = [
        "inventory_item_id",
        "inventory_level_id",
        "reservation_item_id",
    ];
    let mut map = serde_json::Map::new();
    for (i, k) in keys.iter().enumerate() {
        if !ids[i].is_empty() && (pick.is_empty() || pick.iter().any(|p| p == k)) {
            map.insert(k.to_string(), json!(ids[i]));
        }
    }
    Value::Object(map)
}
