'use strict'
// DML declarations of the three entities, the same schema @medusajs/inventory
// declares. They are only declarations: Medusa derives `linkable` and the joiner
// config (what its Query and link modules read) from them. Deliberately not in a
// folder named `models/`: Medusa's loader would start a MikroORM connection for
// DML it finds there, and all data access here goes through the Rust core.
const { model } = require('@medusajs/framework/utils')

const InventoryItem = model
  .define('InventoryItem', {
    id: model.id({ prefix: 'iitem' }).primaryKey(),
    sku: model.text().searchable().nullable(),
    origin_country: model.text().nullable(),
    hs_code: model.text().searchable().nullable(),
    mid_code: model.text().searchable().nullable(),
    material: model.text().nullable(),
    unit_of_measure: model.text().nullable(),
    weight: model.number().nullable(),
    length: model.number().nullable(),
    height: model.number().nullable(),
    width: model.number().nullable(),
    requires_shipping: model.boolean().default(true),
    description: model.text().searchable().nullable(),
    title: model.text().searchable().nullable(),
    thumbnail: model.text().nullable(),
    metadata: model.json().nullable(),
    location_levels: model.hasMany(() => InventoryLevel, { mappedBy: 'inventory_item' }),
    reservation_items: model.hasMany(() => ReservationItem, { mappedBy: 'inventory_item' }),
    reserved_quantity: model.bigNumber().computed(),
    stocked_quantity: model.bigNumber().computed(),
  })
  .cascades({ delete: ['location_levels', 'reservation_items'] })
  .indexes([{ name: 'IDX_inventory_item_sku', on: ['sku'], unique: true, where: 'deleted_at IS NULL' }])

const InventoryLevel = model
  .define('InventoryLevel', {
    id: model.id({ prefix: 'ilev' }).primaryKey(),
    location_id: model.text(),
    stocked_quantity: model.bigNumber().default(0),
    reserved_quantity: model.bigNumber().default(0),
    incoming_quantity: model.bigNumber().default(0),
    metadata: model.json().nullable(),
    inventory_item: model.belongsTo(() => InventoryItem, { mappedBy: 'location_levels' }),
    available_quantity: model.bigNumber().computed(),
  })
  .indexes([
    { name: 'IDX_inventory_level_inventory_item_id', on: ['inventory_item_id'], where: 'deleted_at IS NULL' },
    { name: 'IDX_inventory_level_location_id', on: ['location_id'], where: 'deleted_at IS NULL' },
    {
      name: 'IDX_inventory_level_location_id_inventory_item_id',
      on: ['inventory_item_id', 'location_id'],
      unique: true,
      where: 'deleted_at IS NULL',
    },
  ])

const ReservationItem = model
  .define('ReservationItem', {
    id: model.id({ prefix: 'resitem' }).primaryKey(),
    line_item_id: model.text().nullable(),
    allow_backorder: model.boolean().default(false),
    location_id: model.text(),
    quantity: model.bigNumber(),
    raw_quantity: model.json(),
    external_id: model.text().nullable(),
    description: model.text().searchable().nullable(),
    created_by: model.text().nullable(),
    metadata: model.json().nullable(),
    inventory_item: model.belongsTo(() => InventoryItem, { mappedBy: 'reservation_items' }).searchable(),
  })
  .indexes([
    { name: 'IDX_reservation_item_line_item_id', on: ['line_item_id'], where: 'deleted_at IS NULL' },
    { name: 'IDX_reservation_item_location_id', on: ['location_id'], where: 'deleted_at IS NULL' },
    { name: 'IDX_reservation_item_inventory_item_id', on: ['inventory_item_id'], where: 'deleted_at IS NULL' },
  ])

// The GraphQL schema Medusa's Query resolves fields and relations with.
const schema = `
type InventoryItem {
  id: ID!
  created_at: DateTime!
  updated_at: DateTime!
  deleted_at: DateTime
  sku: String
  origin_country: String
  hs_code: String
  mid_code: String
  material: String
  unit_of_measure: String
  weight: Int
  length: Int
  height: Int
  width: Int
  requires_shipping: Boolean!
  description: String
  title: String
  thumbnail: String
  metadata: JSON
  location_levels: [InventoryLevel]
  reservation_items: [ReservationItem]
  reserved_quantity: Float!
  stocked_quantity: Float!
}

type InventoryLevel {
  id: ID!
  created_at: DateTime!
  updated_at: DateTime!
  deleted_at: DateTime
  inventory_item_id: String!
  inventory_item: InventoryItem!
  location_id: String!
  stocked_quantity: Float!
  reserved_quantity: Float!
  incoming_quantity: Float!
  metadata: JSON
  available_quantity: Float!
}

type ReservationItem {
  id: ID!
  created_at: DateTime!
  updated_at: DateTime!
  deleted_at: DateTime
  line_item_id: String
  allow_backorder: Boolean!
  inventory_item_id: String!
  inventory_item: InventoryItem!
  location_id: String!
  quantity: Float!
  external_id: String
  description: String
  created_by: String
  metadata: JSON
}
`

module.exports = { InventoryItem, InventoryLevel, ReservationItem, schema }
