// The inventory item page's ledger widget (zone inventory_item.details.after): the item's
// movements (newest first, paged, by location), stocked and available over time at one
// location, and the ledger check of the item's levels with a reconcile (dry run, then
// apply). Data: the plugin's routes under /admin/medusa-inventory-rs, with the admin's
// session cookie.
import { defineWidgetConfig } from '@medusajs/admin-sdk'
import type { DetailWidgetProps, HttpTypes } from '@medusajs/framework/types'
import { Badge, Button, Container, Heading, Select, Table, Text, toast } from '@medusajs/ui'
import { useCallback, useEffect, useId, useMemo, useState } from 'react'

const ROUTES = '/admin/medusa-inventory-rs/inventory-items'
const PAGE_SIZE = 10
const ALL = 'all'

type Field = 'stocked_quantity' | 'reserved_quantity' | 'incoming_quantity'
type Movement = {
  id: string
  inventory_level_id: string
  location_id: string
  field: Field
  delta: number
  resulting: number
  reason: string
  actor: string | null
  reference: string | null
  created_at: string
}
type Location = { id: string; level_id: string; name: string }
type MovementsPage = {
  movements: Movement[]
  count: number
  locations: Location[]
  location_names: Record<string, string>
  actor_names: Record<string, string>
}
type Point = { id: string; created_at: string; stocked: number; reserved: number; available: number }
type Gap = { id: string; field: Field; quantity: number; ledger_sum: number; location_id?: string | null }
type Verify = { ok: boolean; levels: Gap[]; scanned: number }
type ReservedFix = {
  id: string
  location_id: string
  reserved_quantity: number
  reservation_quantity: number
  fixed: boolean
}
type Reconcile = {
  dry_run: boolean
  levels: ReservedFix[]
  ledger: Array<Gap & { fixed: boolean }>
  scanned: number
}

/** The state of one request: loading, its data, or its error message. */
type Load<T> = { loading: boolean; data?: T; error?: string }

async function api<T>(path: string, init?: RequestInit): Promise<T> {
  const res = await fetch(path, {
    credentials: 'include',
    ...init,
    headers: { accept: 'application/json', ...(init?.body ? { 'content-type': 'application/json' } : {}) },
  })
  const text = await res.text()
  let body: any = undefined
  try {
    body = text ? JSON.parse(text) : undefined
  } catch {
    body = undefined
  }
  if (!res.ok) throw new Error(body?.message ?? `${res.status} ${res.statusText}`)
  return body as T
}

const FIELD_LABEL: Record<Field, string> = {
  stocked_quantity: 'Stocked',
  reserved_quantity: 'Reserved',
  incoming_quantity: 'Incoming',
}

const time = (iso: string) => new Date(iso).toLocaleString(undefined, { dateStyle: 'short', timeStyle: 'medium' })
const signed = (n: number) => (n > 0 ? `+${n}` : String(n))

const InventoryLedgerWidget = ({ data: item }: DetailWidgetProps<HttpTypes.AdminInventoryItem>) => {
  const [location, setLocation] = useState<string>(ALL)
  const [page, setPage] = useState(0)
  const [movements, setMovements] = useState<Load<MovementsPage>>({ loading: true })
  const [reload, setReload] = useState(0)
  const refresh = useCallback(() => setReload((n) => n + 1), [])

  useEffect(() => {
    let live = true
    setMovements((m) => ({ loading: true, data: m.data }))
    const q = new URLSearchParams({ limit: String(PAGE_SIZE), offset: String(page * PAGE_SIZE) })
    if (location !== ALL) q.set('location_id', location)
    api<MovementsPage>(`${ROUTES}/${item.id}/movements?${q}`).then(
      (data) => live && setMovements({ loading: false, data }),
      (e: Error) => live && setMovements({ loading: false, error: e.message }),
    )
    return () => {
      live = false
    }
  }, [item.id, location, page, reload])

  const locations = movements.data?.locations ?? []
  const names = movements.data?.location_names ?? {}

  return (
    <Container className="divide-y p-0" data-testid="inventory-ledger">
      <div className="flex items-center justify-between px-6 py-4">
        <div>
          <Heading level="h2">Stock movements</Heading>
          <Text size="small" className="text-ui-fg-subtle">
            Every change of this item's stocked, reserved and incoming quantities (medusa-inventory-rs ledger)
          </Text>
        </div>
        <Button size="small" variant="secondary" onClick={refresh}>
          Refresh
        </Button>
      </div>
      <MovementsSection
        state={movements}
        location={location}
        locations={locations}
        page={page}
        onLocation={(l) => {
          setLocation(l)
          setPage(0)
        }}
        onPage={setPage}
      />
      <ChartSection itemId={item.id} locations={locations} reload={reload} />
      <CheckSection itemId={item.id} names={names} onChanged={refresh} />
    </Container>
  )
}

function MovementsSection({
  state,
  location,
  locations,
  page,
  onLocation,
  onPage,
}: {
  state: Load<MovementsPage>
  location: string
  locations: Location[]
  page: number
  onLocation: (id: string) => void
  onPage: (page: number) => void
}) {
  const data = state.data
  const count = data?.count ?? 0
  const pageCount = Math.max(1, Math.ceil(count / PAGE_SIZE))
  const labelId = useId()
  return (
    <section className="px-6 py-4" aria-labelledby={`${labelId}-movements`} data-testid="ledger-movements">
      <div className="mb-3 flex items-center justify-between gap-x-4">
        <Heading level="h3" id={`${labelId}-movements`}>
          Movements
        </Heading>
        <div className="w-56">
          <Select value={location} onValueChange={onLocation} size="small">
            <Select.Trigger aria-label="Filter movements by location">
              <Select.Value placeholder="All locations" />
            </Select.Trigger>
            <Select.Content>
              <Select.Item value={ALL}>All locations</Select.Item>
              {locations.map((l) => (
                <Select.Item key={l.id} value={l.id}>
                  {l.name}
                </Select.Item>
              ))}
            </Select.Content>
          </Select>
        </div>
      </div>
      {state.error ? (
        <Text role="alert" className="text-ui-fg-error">
          Could not load the movements: {state.error}
        </Text>
      ) : !data ? (
        <Text aria-busy="true" className="text-ui-fg-subtle">
          Loading movements…
        </Text>
      ) : data.movements.length === 0 ? (
        <Text className="text-ui-fg-subtle" data-testid="ledger-movements-empty">
          No movements {location === ALL ? 'for this item yet' : 'at this location yet'}.
        </Text>
      ) : (
        <div aria-busy={state.loading}>
          {/* The widget shares the page's main column: a wide table scrolls inside it. */}
          <div className="overflow-x-auto">
            <Table>
              <caption className="sr-only">Stock movements, newest first</caption>
              <Table.Header>
                <Table.Row>
                  <Table.HeaderCell>Time</Table.HeaderCell>
                  <Table.HeaderCell>Location</Table.HeaderCell>
                  <Table.HeaderCell>Quantity</Table.HeaderCell>
                  <Table.HeaderCell className="text-right">Change</Table.HeaderCell>
                  <Table.HeaderCell className="text-right">Resulting</Table.HeaderCell>
                  <Table.HeaderCell>Reason</Table.HeaderCell>
                  <Table.HeaderCell>Actor</Table.HeaderCell>
                  <Table.HeaderCell>Reference</Table.HeaderCell>
                </Table.Row>
              </Table.Header>
              <Table.Body>
                {data.movements.map((m) => (
                  <Table.Row key={m.id} data-testid="ledger-movement" data-movement-id={m.id}>
                    <Table.Cell className="whitespace-nowrap">
                      <time dateTime={m.created_at}>{time(m.created_at)}</time>
                    </Table.Cell>
                    <Table.Cell>{data.location_names[m.location_id] ?? m.location_id}</Table.Cell>
                    <Table.Cell data-col="field">{FIELD_LABEL[m.field] ?? m.field}</Table.Cell>
                    <Table.Cell data-col="delta" className="text-right tabular-nums">
                      {signed(m.delta)}
                    </Table.Cell>
                    <Table.Cell data-col="resulting" className="text-right tabular-nums">
                      {m.resulting}
                    </Table.Cell>
                    <Table.Cell data-col="reason">
                      <Badge size="2xsmall">{m.reason}</Badge>
                    </Table.Cell>
                    <Table.Cell data-col="actor" title={m.actor ?? undefined}>
                      {m.actor ? (data.actor_names[m.actor] ?? m.actor) : '—'}
                    </Table.Cell>
                    <Table.Cell
                      data-col="reference"
                      className="max-w-[12rem] truncate"
                      title={m.reference ?? undefined}
                    >
                      {m.reference ?? '—'}
                    </Table.Cell>
                  </Table.Row>
                ))}
              </Table.Body>
            </Table>
          </div>
          <Table.Pagination
            count={count}
            pageSize={PAGE_SIZE}
            pageIndex={page}
            pageCount={pageCount}
            canPreviousPage={page > 0}
            canNextPage={page + 1 < pageCount}
            previousPage={() => onPage(Math.max(0, page - 1))}
            nextPage={() => onPage(Math.min(pageCount - 1, page + 1))}
          />
        </div>
      )}
    </section>
  )
}

function ChartSection({ itemId, locations, reload }: { itemId: string; locations: Location[]; reload: number }) {
  const [chosen, setChosen] = useState<string | undefined>(undefined)
  const location = chosen ?? locations[0]?.id
  const [state, setState] = useState<Load<{ points: Point[] }>>({ loading: false })
  const labelId = useId()

  useEffect(() => {
    if (!location) return
    let live = true
    setState((s) => ({ loading: true, data: s.data }))
    api<{ points: Point[] }>(`${ROUTES}/${itemId}/history?location_id=${encodeURIComponent(location)}`).then(
      (data) => live && setState({ loading: false, data }),
      (e: Error) => live && setState({ loading: false, error: e.message }),
    )
    return () => {
      live = false
    }
  }, [itemId, location, reload])

  const name = locations.find((l) => l.id === location)?.name ?? location
  return (
    <section className="px-6 py-4" aria-labelledby={`${labelId}-chart`} data-testid="ledger-chart">
      <div className="mb-3 flex items-center justify-between gap-x-4">
        <Heading level="h3" id={`${labelId}-chart`}>
          Stocked and available over time
        </Heading>
        {locations.length > 0 && (
          <div className="w-56">
            <Select value={location} onValueChange={setChosen} size="small">
              <Select.Trigger aria-label="Location of the chart">
                <Select.Value placeholder="Location" />
              </Select.Trigger>
              <Select.Content>
                {locations.map((l) => (
                  <Select.Item key={l.id} value={l.id}>
                    {l.name}
                  </Select.Item>
                ))}
              </Select.Content>
            </Select>
          </div>
        )}
      </div>
      {!location ? (
        <Text className="text-ui-fg-subtle">This item is not stocked at any location yet.</Text>
      ) : state.error ? (
        <Text role="alert" className="text-ui-fg-error">
          Could not load the history: {state.error}
        </Text>
      ) : !state.data ? (
        <Text aria-busy="true" className="text-ui-fg-subtle">
          Loading the history…
        </Text>
      ) : state.data.points.length === 0 ? (
        <Text className="text-ui-fg-subtle">No movements at {name} yet.</Text>
      ) : (
        <LineChart points={state.data.points} location={name ?? ''} />
      )}
    </section>
  )
}

const W = 640
const H = 200
const PAD = { left: 36, right: 12, top: 12, bottom: 24 }

/** Two step lines (stocked, available) over the movements, in plain SVG. */
function LineChart({ points, location }: { points: Point[]; location: string }) {
  const titleId = useId()
  const descId = useId()
  const { stocked, available, ticks, y0, first, last } = useMemo(() => {
    const values = points.flatMap((p) => [p.stocked, p.available])
    // Axis from a multiple of `step` at or below the lowest value (0 at most) to one at or
    // above the highest, about four steps apart.
    const step = Math.max(1, Math.ceil((Math.max(1, ...values) - Math.min(0, ...values)) / 4))
    const top = Math.ceil(Math.max(1, ...values) / step) * step
    const bottom = Math.floor(Math.min(0, ...values) / step) * step
    // Movement i holds from slot i to slot i + 1: the last value is drawn too.
    const x = (i: number) => PAD.left + (i / points.length) * (W - PAD.left - PAD.right)
    const y = (v: number) => PAD.top + ((top - v) / (top - bottom)) * (H - PAD.top - PAD.bottom)
    const line = (pick: (p: Point) => number) =>
      points
        .map((p, i) => {
          const py = y(pick(p)).toFixed(1)
          return `${i === 0 ? `M${x(0)}` : 'V'} ${py} H${x(i + 1).toFixed(1)}`
        })
        .join(' ')
    const ticks: Array<{ v: number; y: number }> = []
    for (let v = bottom; v <= top; v += step) ticks.push({ v, y: y(v) })
    return {
      stocked: line((p) => p.stocked),
      available: line((p) => p.available),
      ticks,
      y0: y(0),
      first: points[0],
      last: points[points.length - 1],
    }
  }, [points])
  return (
    <figure className="m-0">
      <svg
        role="img"
        aria-labelledby={`${titleId} ${descId}`}
        viewBox={`0 0 ${W} ${H}`}
        className="h-auto w-full"
        data-testid="ledger-chart-svg"
      >
        <title id={titleId}>Stocked and available quantity at {location}</title>
        <desc id={descId}>
          {points.length} changes from {time(first.created_at)} to {time(last.created_at)}; now stocked {last.stocked},
          reserved {last.reserved}, available {last.available}.
        </desc>
        {ticks.map((t) => (
          <g key={t.v}>
            <line
              x1={PAD.left}
              x2={W - PAD.right}
              y1={t.y}
              y2={t.y}
              className="stroke-ui-border-base"
              strokeWidth={1}
            />
            <text x={PAD.left - 6} y={t.y + 4} textAnchor="end" className="fill-ui-fg-muted" fontSize={10}>
              {t.v}
            </text>
          </g>
        ))}
        <line x1={PAD.left} x2={W - PAD.right} y1={y0} y2={y0} className="stroke-ui-border-strong" strokeWidth={1} />
        <path d={stocked} fill="none" className="stroke-ui-fg-interactive" strokeWidth={2} data-series="stocked" />
        <path
          d={available}
          fill="none"
          className="stroke-ui-tag-green-icon"
          strokeWidth={2}
          strokeDasharray="5 3"
          data-series="available"
        />
      </svg>
      <figcaption className="mt-2 flex gap-x-4">
        <Text size="small" className="flex items-center gap-x-1">
          <span aria-hidden className="inline-block h-0.5 w-4 bg-ui-fg-interactive" /> Stocked ({last.stocked})
        </Text>
        <Text size="small" className="flex items-center gap-x-1">
          <span aria-hidden className="inline-block h-0.5 w-4 border-t-2 border-dashed border-ui-tag-green-icon" />{' '}
          Available ({last.available})
        </Text>
      </figcaption>
    </figure>
  )
}

function CheckSection({
  itemId,
  names,
  onChanged,
}: {
  itemId: string
  names: Record<string, string>
  onChanged: () => void
}) {
  const [verify, setVerify] = useState<Load<Verify>>({ loading: false })
  const [plan, setPlan] = useState<Load<Reconcile>>({ loading: false })
  const [applying, setApplying] = useState(false)
  const labelId = useId()

  const runVerify = useCallback(async () => {
    setVerify({ loading: true })
    try {
      setVerify({ loading: false, data: await api<Verify>(`${ROUTES}/${itemId}/verify`) })
    } catch (e) {
      setVerify({ loading: false, error: (e as Error).message })
    }
  }, [itemId])

  const reconcile = async (dryRun: boolean) => {
    if (dryRun) setPlan({ loading: true })
    else setApplying(true)
    try {
      const out = await api<Reconcile>(`${ROUTES}/${itemId}/reconcile`, {
        method: 'POST',
        body: JSON.stringify({ dry_run: dryRun }),
      })
      if (dryRun) setPlan({ loading: false, data: out })
      else {
        const fixed = out.levels.filter((l) => l.fixed).length + out.ledger.filter((g) => g.fixed).length
        toast.success('Reconciled', { description: `${fixed} fix${fixed === 1 ? '' : 'es'} written to the ledger` })
        setPlan({ loading: false })
        onChanged()
        await runVerify()
      }
    } catch (e) {
      if (dryRun) setPlan({ loading: false, error: (e as Error).message })
      else toast.error('Reconcile failed', { description: (e as Error).message })
    } finally {
      setApplying(false)
    }
  }

  const where = (id: string, locationId?: string | null) => (locationId ? (names[locationId] ?? locationId) : id)
  const planned = plan.data ? plan.data.levels.length + plan.data.ledger.length : 0

  return (
    <section className="px-6 py-4" aria-labelledby={`${labelId}-check`} data-testid="ledger-check">
      <div className="mb-3 flex items-center justify-between gap-x-4">
        <Heading level="h3" id={`${labelId}-check`}>
          Ledger check
        </Heading>
        <div className="flex gap-x-2">
          <Button size="small" variant="secondary" onClick={runVerify} isLoading={verify.loading}>
            Verify ledger
          </Button>
          <Button size="small" variant="secondary" onClick={() => reconcile(true)} isLoading={plan.loading}>
            Reconcile (dry run)
          </Button>
        </div>
      </div>
      <div aria-live="polite">
        {verify.error ? (
          <Text role="alert" className="text-ui-fg-error">
            Could not verify: {verify.error}
          </Text>
        ) : verify.data ? (
          verify.data.ok ? (
            <div className="flex items-center gap-x-2" data-testid="ledger-verify-result" data-ok="true">
              <Badge color="green" size="small">
                OK
              </Badge>
              <Text size="small">
                Every quantity of the {verify.data.scanned} level{verify.data.scanned === 1 ? '' : 's'} checked equals
                the sum of its movements.
              </Text>
            </div>
          ) : (
            <div data-testid="ledger-verify-result" data-ok="false">
              <div className="mb-2 flex items-center gap-x-2">
                <Badge color="red" size="small">
                  Drift
                </Badge>
                <Text size="small">
                  {verify.data.levels.length} quantit{verify.data.levels.length === 1 ? 'y differs' : 'ies differ'} from
                  the sum of {verify.data.levels.length === 1 ? 'its' : 'their'} movements.
                </Text>
              </div>
              <Table>
                <caption className="sr-only">Levels whose quantity differs from the ledger</caption>
                <Table.Header>
                  <Table.Row>
                    <Table.HeaderCell>Location</Table.HeaderCell>
                    <Table.HeaderCell>Quantity</Table.HeaderCell>
                    <Table.HeaderCell className="text-right">Level says</Table.HeaderCell>
                    <Table.HeaderCell className="text-right">Ledger sum</Table.HeaderCell>
                  </Table.Row>
                </Table.Header>
                <Table.Body>
                  {verify.data.levels.map((g) => (
                    <Table.Row key={`${g.id}-${g.field}`} data-testid="ledger-drift">
                      <Table.Cell title={g.id}>{where(g.id, g.location_id)}</Table.Cell>
                      <Table.Cell>{FIELD_LABEL[g.field] ?? g.field}</Table.Cell>
                      <Table.Cell className="text-right tabular-nums">{g.quantity}</Table.Cell>
                      <Table.Cell className="text-right tabular-nums">{g.ledger_sum}</Table.Cell>
                    </Table.Row>
                  ))}
                </Table.Body>
              </Table>
            </div>
          )
        ) : (
          <Text size="small" className="text-ui-fg-subtle">
            Verify checks that each of this item's quantities equals the sum of its movements.
          </Text>
        )}
        {plan.error && (
          <Text role="alert" className="mt-3 text-ui-fg-error">
            Could not run the dry run: {plan.error}
          </Text>
        )}
        {plan.data && (
          <div className="mt-4 rounded-md border border-ui-border-base p-3" data-testid="ledger-reconcile-plan">
            {planned === 0 ? (
              <Text size="small">Dry run: nothing to reconcile.</Text>
            ) : (
              <>
                <Text size="small" weight="plus">
                  Dry run: reconcile would write {planned} fix{planned === 1 ? '' : 'es'}:
                </Text>
                <ul className="my-2 list-disc pl-5">
                  {plan.data.ledger.map((g) => (
                    <li key={`gap-${g.id}-${g.field}`}>
                      <Text size="small">
                        {where(g.id, plan.data?.levels.find((l) => l.id === g.id)?.location_id)}:{' '}
                        {FIELD_LABEL[g.field] ?? g.field} {g.quantity} recorded in the ledger (sum was {g.ledger_sum})
                      </Text>
                    </li>
                  ))}
                  {plan.data.levels.map((l) => (
                    <li key={`res-${l.id}`}>
                      <Text size="small">
                        {where(l.id, l.location_id)}: reserved {l.reserved_quantity} set to the live reservations,{' '}
                        {l.reservation_quantity}
                      </Text>
                    </li>
                  ))}
                </ul>
                <div className="flex gap-x-2">
                  <Button size="small" variant="primary" onClick={() => reconcile(false)} isLoading={applying}>
                    Apply reconcile
                  </Button>
                  <Button size="small" variant="transparent" onClick={() => setPlan({ loading: false })}>
                    Cancel
                  </Button>
                </div>
              </>
            )}
          </div>
        )}
      </div>
    </section>
  )
}

export const config = defineWidgetConfig({
  zone: 'inventory_item.details.after',
})

export default InventoryLedgerWidget
