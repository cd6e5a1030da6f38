'use strict'
// The fields of Medusa's inventory DTOs, in Medusa's order: what the module suite and the
// version matrix (scripts/medusa-versions.js) compare between two modules' results.

const ITEM_FIELDS = [
  'id',
  'sku',
  'title',
  'description',
  'thumbnail',
  'origin_country',
  'hs_code',
  'mid_code',
  'material',
  'unit_of_measure',
  'weight',
  'length',
  'height',
  'width',
  'requires_shipping',
  'metadata',
  'created_at',
  'updated_at',
  'deleted_at',
]
const LEVEL_FIELDS = [
  'id',
  'inventory_item_id',
  'location_id',
  'stocked_quantity',
  'reserved_quantity',
  'incoming_quantity',
  'available_quantity',
  'raw_stocked_quantity',
  'raw_reserved_quantity',
  'raw_incoming_quantity',
  'metadata',
  'created_at',
  'updated_at',
  'deleted_at',
]
const RESERVATION_FIELDS = [
  'id',
  'inventory_item_id',
  'location_id',
  'line_item_id',
  'quantity',
  'raw_quantity',
  'allow_backorder',
  'external_id',
  'description',
  'created_by',
  'metadata',
  'created_at',
  'updated_at',
  'deleted_at',
]

module.exports = { ITEM_FIELDS, LEVEL_FIELDS, RESERVATION_FIELDS }
