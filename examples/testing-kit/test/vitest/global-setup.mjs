// Vitest globalSetup: one database for the run, before the workers start (they inherit
// MEDUSA_INVENTORY_RS_TEST_URL). DATABASE_URL when set; else an embedded Postgres.
import { startTestDatabase, stopTestDatabase } from 'medusa-inventory-rs/testing'

export const setup = () => startTestDatabase()
export const teardown = () => stopTestDatabase()
