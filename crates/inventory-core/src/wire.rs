//! What a call did, measured where it happens: on the wire of its Postgres
//! connection, and at the pool and the group-commit queue.
//!
//! Every pooled connection's socket (the plaintext side, under TLS) goes
//! through a [`WireStream`]: it follows the protocol's message framing in both
//! directions, so it knows each busy period of the connection (a *round trip*:
//! from the first message written while nothing was outstanding to the
//! ReadyForQuery that leaves no Sync or Query outstanding, a whole pipelined
//! flight being one) and the SQL text of the statements in it. It never reads
//! Bind's parameter values. That costs two `Instant::now()` per round trip and
//! a scan of message headers; a round trip is recorded into a call's trace only
//! when a call that asked for one holds the connection (one atomic load), and
//! reported as a slow statement when over the connect option `slowStatementMs`.
//!
//! [`Telemetry`] holds a service's counters and its bounded event queue.

use serde_json::{json, Value};
use std::collections::HashMap;
use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::task::{Context, Poll};
use std::time::{Instant, SystemTime, UNIX_EPOCH};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// Characters of SQL text kept per statement.
pub(crate) const MAX_STATEMENT_CHARS: usize = 1000;
/// Statement texts kept per round trip (a longer flight keeps its first ones).
const MAX_STATEMENTS_PER_ROUNDTRIP: usize = 64;
/// Events kept until taken; later ones are only counted.
pub(crate) const MAX_EVENTS: usize = 100;

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

fn epoch_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

fn nanos(from: Instant, to: Instant) -> u64 {
    to.saturating_duration_since(from)
        .as_nanos()
        .min(u64::MAX as u128) as u64
}

// ---- a call's trace --------------------------------------------------------

#[derive(Debug, Clone)]
enum Attrs {
    Pool {
        created: bool,
    },
    Queue {
        group: usize,
    },
    Roundtrip {
        statements: Vec<Arc<str>>,
        messages: u32,
    },
}

#[derive(Debug, Clone)]
pub(crate) struct Span {
    start: Instant,
    end: Instant,
    attrs: Attrs,
}

impl Span {
    pub(crate) fn start(&self) -> Instant {
        self.start
    }

    pub(crate) fn is_roundtrip(&self) -> bool {
        matches!(self.attrs, Attrs::Roundtrip { .. })
    }
}

/// The spans of one call that asked for a trace (call option `trace`). Spans
/// arriving after the call ended (a connection still answering) are ignored.
#[derive(Debug)]
pub struct CallTrace {
    start: Instant,
    spans: Mutex<Vec<Span>>,
    closed: AtomicBool,
    /// Connections this trace was attached to: detached when it ends.
    wires: Mutex<Vec<Arc<Wire>>>,
}

tokio::task_local! {
    static CURRENT: Arc<CallTrace>;
}

impl CallTrace {
    pub(crate) fn new() -> Arc<Self> {
        Arc::new(CallTrace {
            start: Instant::now(),
            spans: Mutex::new(Vec::new()),
            closed: AtomicBool::new(false),
            wires: Mutex::new(Vec::new()),
        })
    }

    /// The trace of the call running on this task, if it asked for one.
    pub(crate) fn current() -> Option<Arc<CallTrace>> {
        CURRENT.try_with(Arc::clone).ok()
    }

    fn push(&self, span: Span) {
        if !self.closed.load(Ordering::Relaxed) {
            lock(&self.spans).push(span);
        }
    }

    pub(crate) fn pool(&self, start: Instant, end: Instant, created: bool) {
        self.push(Span {
            start,
            end,
            attrs: Attrs::Pool { created },
        });
    }

    pub(crate) fn queue(&self, start: Instant, end: Instant, group: usize) {
        self.push(Span {
            start,
            end,
            attrs: Attrs::Queue { group },
        });
    }

    /// Copies spans recorded elsewhere (a group's transaction) into this trace.
    pub(crate) fn extend(&self, spans: &[Span]) {
        if !self.closed.load(Ordering::Relaxed) {
            lock(&self.spans).extend_from_slice(spans);
        }
    }

    /// Ends the trace and hands its spans over, in start order.
    pub(crate) fn finish(&self) -> Vec<Span> {
        self.closed.store(true, Ordering::Relaxed);
        for wire in std::mem::take(&mut *lock(&self.wires)) {
            wire.detach(self);
        }
        let mut spans = std::mem::take(&mut *lock(&self.spans));
        spans.sort_by_key(|s| s.start);
        spans
    }

    /// `{"duration": ns, "spans": [...]}`, offsets in ns from the call's start.
    fn to_json(&self, end: Instant) -> String {
        let spans: Vec<Value> = self
            .finish()
            .into_iter()
            .map(|s| {
                let (start, end) = (nanos(self.start, s.start), nanos(self.start, s.end));
                match s.attrs {
                    Attrs::Pool { created: true } => {
                        json!({"name": "pool", "start": start, "end": end, "created": true})
                    }
                    Attrs::Pool { created: false } => {
                        json!({"name": "pool", "start": start, "end": end})
                    }
                    Attrs::Queue { group } => {
                        json!({"name": "queue", "start": start, "end": end, "group": group})
                    }
                    Attrs::Roundtrip {
                        statements,
                        messages,
                    } => {
                        let statements: Vec<&str> = statements.iter().map(|s| &**s).collect();
                        json!({"name": "roundtrip", "start": start, "end": end,
                               "statements": statements, "messages": messages})
                    }
                }
            })
            .collect();
        json!({"duration": nanos(self.start, end), "spans": spans}).to_string()
    }
}

/// Runs `fut` as a traced call: what it does on the pool, the reservation
/// queue and its connections' wires lands in its trace, returned as JSON
/// text `{"duration", "spans"}` next to its output.
pub async fn traced<F: std::future::Future>(fut: F) -> (F::Output, String) {
    let trace = CallTrace::new();
    let out = CURRENT.scope(trace.clone(), fut).await;
    let json = trace.to_json(Instant::now());
    (out, json)
}

// ---- service-wide counters and events -------------------------------------

#[derive(Debug, Default)]
struct Events {
    list: Vec<Value>,
    dropped: u64,
}

/// A service's counters since connect and its events since the last take.
#[derive(Debug, Default)]
pub struct Telemetry {
    pub(crate) calls: AtomicU64,
    pub(crate) refused: AtomicU64,
    pub(crate) replays: AtomicU64,
    pub(crate) connection_losses: AtomicU64,
    pub(crate) host_switches: AtomicU64,
    pub(crate) slow_statements: AtomicU64,
    pub(crate) groups: AtomicU64,
    pub(crate) group_members: AtomicU64,
    pub(crate) largest_group: AtomicU64,
    /// Connect option `slowStatementMs`, in ns; 0: off.
    slow_ns: AtomicU64,
    /// All connections were busy at the last checkout (one event per episode).
    exhausted: AtomicBool,
    /// The host:port the newest connection reached.
    last_host: Mutex<Option<String>>,
    pending: AtomicBool,
    events: Mutex<Events>,
}

impl Telemetry {
    pub(crate) fn new(slow_statement_ms: f64) -> Arc<Self> {
        let t = Telemetry::default();
        t.slow_ns
            .store((slow_statement_ms * 1e6).round() as u64, Ordering::Relaxed);
        Arc::new(t)
    }

    fn slow_ns(&self) -> u64 {
        self.slow_ns.load(Ordering::Relaxed)
    }

    /// Queues an event (`kind`, `at`, `message`, then `extra`'s fields).
    pub(crate) fn event(&self, kind: &str, message: String, extra: Value) {
        let mut e = json!({"kind": kind, "at": epoch_ms(), "message": message});
        if let (Some(obj), Value::Object(more)) = (e.as_object_mut(), extra) {
            obj.extend(more);
        }
        let mut events = lock(&self.events);
        if events.list.len() < MAX_EVENTS {
            events.list.push(e);
        } else {
            events.dropped += 1;
        }
        self.pending.store(true, Ordering::Release);
    }

    /// The events since the last take, as a JSON array, or None.
    pub fn take_events(&self) -> Option<String> {
        if !self.pending.swap(false, Ordering::Acquire) {
            return None;
        }
        let Events { mut list, dropped } = std::mem::take(&mut *lock(&self.events));
        if dropped > 0 {
            list.push(json!({"kind": "events_dropped", "at": epoch_ms(), "count": dropped,
                "message": format!("{dropped} events were dropped: more than {MAX_EVENTS} came between two takes")}));
        }
        (!list.is_empty()).then(|| Value::Array(list).to_string())
    }

    /// A new connection reached `host`; a different one than the last is a switch.
    pub(crate) fn connected_to(&self, host: &str) {
        let previous = lock(&self.last_host).replace(host.to_string());
        if let Some(previous) = previous.filter(|p| p != host) {
            self.host_switches.fetch_add(1, Ordering::Relaxed);
            self.event(
                "host_switched",
                format!("new database connections reach {host} (before: {previous})"),
                json!({"host": host, "previous": previous}),
            );
        }
    }

    pub(crate) fn last_host(&self) -> Option<String> {
        lock(&self.last_host).clone()
    }

    /// A checkout saw the pool's state: all busy starts an episode (reported
    /// once), an idle connection ends it.
    pub(crate) fn checkout(&self, status: &deadpool_postgres::Status) {
        if status.available == 0 && status.size >= status.max_size {
            if !self.exhausted.swap(true, Ordering::Relaxed) {
                self.event(
                    "pool_exhausted",
                    format!(
                        "all {} pooled database connections were busy: calls wait for one (connect option maxConnections)",
                        status.max_size
                    ),
                    json!({"max": status.max_size}),
                );
            }
        } else if status.available > 0 {
            self.exhausted.store(false, Ordering::Relaxed);
        }
    }

    pub(crate) fn connection_lost(&self) {
        self.connection_losses.fetch_add(1, Ordering::Relaxed);
        let host = self.last_host();
        let message = format!(
            "a call found its database connection broken, or its server gone or read-only{}; the pooled connections made until now are replaced",
            host.as_deref().map(|h| format!(" ({h})")).unwrap_or_default()
        );
        let extra = host.map_or(json!({}), |h| json!({ "host": h }));
        self.event("connection_lost", message, extra);
    }

    pub(crate) fn grouped(&self, members: usize) {
        self.groups.fetch_add(1, Ordering::Relaxed);
        self.group_members
            .fetch_add(members as u64, Ordering::Relaxed);
        self.largest_group
            .fetch_max(members as u64, Ordering::Relaxed);
    }

    /// The counters, with the pool's state: see `InventoryService::stats`.
    pub(crate) fn stats(&self, pool: &deadpool_postgres::Status) -> String {
        let n = |a: &AtomicU64| a.load(Ordering::Relaxed);
        json!({
            "pool": {"max": pool.max_size, "size": pool.size, "idle": pool.available, "waiting": pool.waiting},
            "groups": {"count": n(&self.groups), "members": n(&self.group_members), "largest": n(&self.largest_group)},
            "refused": n(&self.refused),
            "replays": n(&self.replays),
            "connectionLosses": n(&self.connection_losses),
            "hostSwitches": n(&self.host_switches),
            "slowStatements": n(&self.slow_statements),
            "calls": n(&self.calls),
        })
        .to_string()
    }
}

// ---- one connection's wire ---------------------------------------------------

/// What a connection's stream shares with its pooled client: whether it is
/// parsing yet (after the startup), the trace of the call holding it, and
/// the service's telemetry.
#[derive(Debug)]
pub struct Wire {
    active: AtomicBool,
    traced: AtomicBool,
    sink: Mutex<Option<Arc<CallTrace>>>,
    telemetry: Arc<Telemetry>,
    host: Mutex<String>,
}

impl Wire {
    pub(crate) fn new(telemetry: Arc<Telemetry>) -> Arc<Self> {
        Arc::new(Wire {
            active: AtomicBool::new(false),
            traced: AtomicBool::new(false),
            sink: Mutex::new(None),
            telemetry,
            host: Mutex::new(String::new()),
        })
    }

    /// The startup is over: from the next message on, the stream is at a
    /// message boundary and is followed.
    pub(crate) fn activate(&self, host: &str) {
        *lock(&self.host) = host.to_string();
        self.active.store(true, Ordering::Release);
    }

    /// Round trips from now on go to `trace`, until it ends or another
    /// trace takes the connection.
    pub(crate) fn attach(self: &Arc<Self>, trace: &Arc<CallTrace>) {
        lock(&trace.wires).push(self.clone());
        *lock(&self.sink) = Some(trace.clone());
        self.traced.store(true, Ordering::Relaxed);
    }

    fn detach(&self, trace: &CallTrace) {
        let mut sink = lock(&self.sink);
        if sink.as_deref().is_some_and(|t| std::ptr::eq(t, trace)) {
            *sink = None;
            self.traced.store(false, Ordering::Relaxed);
        }
    }

    fn roundtrip(&self, span: Span) {
        let slow = self.telemetry.slow_ns();
        let took = nanos(span.start, span.end);
        if slow > 0 && took >= slow {
            self.slow(&span, took);
        }
        if self.traced.load(Ordering::Relaxed) {
            if let Some(t) = &*lock(&self.sink) {
                t.push(span);
            }
        }
    }

    fn slow(&self, span: &Span, took: u64) {
        let Attrs::Roundtrip { statements, .. } = &span.attrs else {
            return;
        };
        self.telemetry
            .slow_statements
            .fetch_add(1, Ordering::Relaxed);
        let statement = statements
            .iter()
            .map(|s| &**s)
            .collect::<Vec<_>>()
            .join("; ");
        let ms = took as f64 / 1e6;
        let host = lock(&self.host).clone();
        self.telemetry.event(
            "slow_statement",
            format!(
                "a round trip to {host} took {ms:.3} ms (connect option slowStatementMs): {}",
                truncate(&statement, 200)
            ),
            json!({"statement": statement, "ms": ms, "host": host}),
        );
    }
}

fn truncate(s: &str, chars: usize) -> &str {
    match s.char_indices().nth(chars) {
        Some((at, _)) => &s[..at],
        None => s,
    }
}

/// The protocol's framing, both ways, after the startup. Bounded: a message
/// header, the head of a Parse/Query/Bind/Close body, and the statement names
/// of this connection (as many as its statement cache holds, plus slack).
#[derive(Debug, Default)]
pub(crate) struct Parser {
    front: Framing,
    back: Framing,
    /// Syncs and Queries written and not yet answered by ReadyForQuery.
    outstanding: u32,
    flight: Option<Flight>,
    /// Prepared statement name -> its SQL text (from its Parse).
    names: HashMap<Box<str>, Arc<str>>,
}

#[derive(Debug)]
struct Flight {
    start: Instant,
    statements: Vec<Arc<str>>,
    /// Statements parsed in this flight: a Bind to them adds nothing.
    parsed: Vec<Box<str>>,
    messages: u32,
}

/// One direction's position: the header being read, then the body.
#[derive(Debug, Default)]
struct Framing {
    header: [u8; 5],
    have: usize,
    /// Body bytes still to come.
    left: usize,
    /// The head of the body, for the messages whose head is read.
    keep: Vec<u8>,
    keep_max: usize,
    /// C strings of the head still to keep: what follows them is not read.
    strings_left: u8,
}

/// Longest statement name kept (tokio-postgres names them `s<n>`).
const MAX_NAME: usize = 64;

impl Framing {
    /// Feeds `bytes`; calls `done(type, head)` for each complete message.
    fn feed(
        &mut self,
        mut bytes: &[u8],
        head: fn(u8) -> (u8, usize),
        done: &mut impl FnMut(u8, &[u8]),
    ) {
        while !bytes.is_empty() {
            if self.have < 5 {
                let n = (5 - self.have).min(bytes.len());
                self.header[self.have..self.have + n].copy_from_slice(&bytes[..n]);
                self.have += n;
                bytes = &bytes[n..];
                if self.have < 5 {
                    return;
                }
                let len = u32::from_be_bytes([
                    self.header[1],
                    self.header[2],
                    self.header[3],
                    self.header[4],
                ]) as usize;
                self.left = len.saturating_sub(4);
                self.keep.clear();
                (self.strings_left, self.keep_max) = head(self.header[0]);
            }
            let n = self.left.min(bytes.len());
            let room = self.keep_max.saturating_sub(self.keep.len()).min(n);
            // Up to the last C string kept: a Bind's parameter values are never copied.
            let mut end = 0;
            while end < room && self.strings_left > 0 {
                if bytes[end] == 0 {
                    self.strings_left -= 1;
                }
                end += 1;
            }
            self.keep.extend_from_slice(&bytes[..end]);
            self.left -= n;
            bytes = &bytes[n..];
            if self.left == 0 {
                done(self.header[0], &self.keep);
                self.have = 0;
            }
        }
    }
}

/// What of a frontend message's body is read, as (C strings, at most bytes):
/// the statement name and SQL of a Parse, the SQL of a Query, the portal and
/// statement names of a Bind (never its parameter values, which follow them),
/// the target of a Close.
fn front_head(kind: u8) -> (u8, usize) {
    match kind {
        b'P' => (2, MAX_NAME + 1 + MAX_STATEMENT_CHARS * 4),
        b'Q' => (1, MAX_STATEMENT_CHARS * 4),
        b'B' => (2, 2 * (MAX_NAME + 1)),
        b'C' => (1, 1 + MAX_NAME + 1),
        _ => (0, 0),
    }
}

/// Of the backend's messages only the type is read.
fn back_head(_: u8) -> (u8, usize) {
    (0, 0)
}

/// The C string at the start of `b` and what follows it (None: unterminated).
fn cstr(b: &[u8]) -> Option<(&[u8], &[u8])> {
    let at = b.iter().position(|&c| c == 0)?;
    Some((&b[..at], &b[at + 1..]))
}

/// SQL text from a kept head: up to its terminator (or the end of what was
/// kept), at most MAX_STATEMENT_CHARS characters.
fn sql_text(b: &[u8]) -> Arc<str> {
    let b = cstr(b).map_or(b, |(s, _)| s);
    let s = String::from_utf8_lossy(b);
    Arc::from(truncate(&s, MAX_STATEMENT_CHARS))
}

impl Parser {
    /// Bytes the client wrote (the frontend's messages).
    pub(crate) fn wrote(&mut self, bytes: &[u8]) {
        let Parser {
            front,
            outstanding,
            flight,
            names,
            ..
        } = self;
        front.feed(bytes, front_head, &mut |kind, head| {
            let f = flight.get_or_insert_with(|| Flight {
                start: Instant::now(),
                statements: Vec::new(),
                parsed: Vec::new(),
                messages: 0,
            });
            let add = |f: &mut Flight, s: Arc<str>| {
                if f.statements.len() < MAX_STATEMENTS_PER_ROUNDTRIP {
                    f.statements.push(s);
                }
            };
            match kind {
                b'P' => {
                    if let Some((name, rest)) = cstr(head) {
                        let text = sql_text(rest);
                        if let Ok(name) = std::str::from_utf8(name) {
                            // Bounded: tokio-postgres closes what its cache drops.
                            if names.len() >= MAX_NAMES {
                                names.clear();
                            }
                            names.insert(name.into(), text.clone());
                            if f.parsed.len() < MAX_STATEMENTS_PER_ROUNDTRIP {
                                f.parsed.push(name.into());
                            }
                        }
                        add(f, text);
                    }
                }
                b'Q' => {
                    add(f, sql_text(head));
                    f.messages += 1;
                    *outstanding += 1;
                }
                b'B' => {
                    let stmt = cstr(head).and_then(|(_, rest)| cstr(rest)).map(|(s, _)| s);
                    if let Some(Ok(name)) = stmt.map(std::str::from_utf8) {
                        if !f.parsed.iter().any(|p| &**p == name) {
                            if let Some(text) = names.get(name) {
                                add(f, text.clone());
                            }
                        }
                    }
                }
                b'C' => {
                    if let Some((b'S', rest)) = head.split_first() {
                        if let Some(Ok(name)) = cstr(rest).map(|(n, _)| std::str::from_utf8(n)) {
                            names.remove(name);
                        }
                    }
                }
                b'S' => {
                    f.messages += 1;
                    *outstanding += 1;
                }
                _ => {}
            }
        });
    }

    /// Bytes the server sent (the backend's messages).
    pub(crate) fn read(&mut self, bytes: &[u8], wire: &Wire) {
        let Parser {
            back,
            outstanding,
            flight,
            ..
        } = self;
        back.feed(bytes, back_head, &mut |kind, _| {
            if kind == b'Z' {
                *outstanding = outstanding.saturating_sub(1);
                if *outstanding == 0 {
                    if let Some(f) = flight.take() {
                        wire.roundtrip(Span {
                            start: f.start,
                            end: Instant::now(),
                            attrs: Attrs::Roundtrip {
                                statements: f.statements,
                                messages: f.messages,
                            },
                        });
                    }
                }
            }
        });
    }
}

/// Statement names a connection keeps at most, before its map is emptied:
/// twice the statement cache's bound (service.rs MAX_CACHED_STATEMENTS, which
/// it empties past that), for what one call prepares on top.
const MAX_NAMES: usize = 512;

/// The wires of a pool's connections, found from their pooled client. A
/// connection is made inside deadpool's create (the connect step, hosts.rs
/// or relay.rs) and its client wrapped after it (the post_create hook), on
/// the same task: the wire waits under the task's id in between, then is
/// kept under the address of the client's statement cache, which is the
/// client's own for its whole life.
#[derive(Debug, Default)]
pub struct Wires {
    pending: Mutex<HashMap<tokio::task::Id, Arc<Wire>>>,
    live: Mutex<HashMap<usize, Weak<Wire>>>,
}

impl Wires {
    /// A connect step made the connection of `wire`.
    pub(crate) fn connected(&self, wire: Arc<Wire>) {
        if let Some(id) = tokio::task::try_id() {
            let mut pending = lock(&self.pending);
            // Bounded: a create that timed out after connecting leaves its wire.
            if pending.len() >= 64 {
                pending.clear();
            }
            pending.insert(id, wire);
        }
    }

    /// deadpool wrapped the connection this task made in `client`.
    pub(crate) fn created(&self, client: &deadpool_postgres::ClientWrapper) {
        let Some(wire) = tokio::task::try_id().and_then(|id| lock(&self.pending).remove(&id))
        else {
            return;
        };
        let mut live = lock(&self.live);
        if live.len() >= 64 && live.len().is_power_of_two() {
            live.retain(|_, w| w.strong_count() > 0);
        }
        live.insert(key(client), Arc::downgrade(&wire));
    }

    /// The wire of a pooled client (None: made before, or without one).
    pub(crate) fn of(&self, client: &deadpool_postgres::ClientWrapper) -> Option<Arc<Wire>> {
        lock(&self.live).get(&key(client)).and_then(Weak::upgrade)
    }
}

fn key(client: &deadpool_postgres::ClientWrapper) -> usize {
    Arc::as_ptr(&client.statement_cache) as usize
}

/// What a service taps its calls with: counters and events, and the wires
/// of its pool's connections.
#[derive(Debug, Clone)]
pub(crate) struct Taps {
    pub(crate) telemetry: Arc<Telemetry>,
    pub(crate) wires: Arc<Wires>,
}

impl Taps {
    /// A pooled connection for a call: an exhausted pool is reported (once
    /// per episode), and a traced call gets its wait as a `pool` span and
    /// the connection's round trips.
    pub(crate) async fn checkout(
        &self,
        pool: &deadpool_postgres::Pool,
        trace: Option<&Arc<CallTrace>>,
    ) -> Result<deadpool_postgres::Client, deadpool_postgres::PoolError> {
        self.telemetry.checkout(&pool.status());
        let Some(trace) = trace else {
            return pool.get().await;
        };
        let start = Instant::now();
        let client = pool.get().await?;
        let end = Instant::now();
        let created = deadpool_postgres::Object::metrics(&client).created >= start;
        trace.pool(start, end, created);
        if let Some(wire) = self.wires.of(&client) {
            wire.attach(trace);
        }
        Ok(client)
    }
}

/// A connection's byte stream, followed by its [`Parser`] once the wire is
/// active. Under TLS it is the plaintext side (hosts.rs), so the parser sees
/// the protocol itself.
#[derive(Debug)]
pub struct WireStream<S> {
    inner: S,
    parser: Box<Parser>,
    wire: Arc<Wire>,
}

impl<S> WireStream<S> {
    pub(crate) fn new(inner: S, wire: Arc<Wire>) -> Self {
        WireStream {
            inner,
            parser: Box::default(),
            wire,
        }
    }

    pub(crate) fn inner(&self) -> &S {
        &self.inner
    }

    /// The stream underneath, and the wire, to follow on another stream (the
    /// TLS session over this one).
    pub(crate) fn into_parts(self) -> (S, Arc<Wire>) {
        (self.inner, self.wire)
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for WireStream<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let this = &mut *self;
        let r = Pin::new(&mut this.inner).poll_read(cx, buf);
        if this.wire.active.load(Ordering::Acquire) {
            if let Poll::Ready(Ok(())) = r {
                this.parser.read(&buf.filled()[before..], &this.wire);
            }
        }
        r
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for WireStream<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = &mut *self;
        let r = Pin::new(&mut this.inner).poll_write(cx, buf);
        if this.wire.active.load(Ordering::Acquire) {
            if let Poll::Ready(Ok(n)) = r {
                this.parser.wrote(&buf[..n]);
            }
        }
        r
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn msg(kind: u8, body: &[u8]) -> Vec<u8> {
        let mut m = vec![kind];
        m.extend_from_slice(&(body.len() as u32 + 4).to_be_bytes());
        m.extend_from_slice(body);
        m
    }

    fn cstrs(parts: &[&[u8]]) -> Vec<u8> {
        parts
            .iter()
            .flat_map(|p| p.iter().copied().chain([0]))
            .collect()
    }

    fn parse(name: &str, sql: &str) -> Vec<u8> {
        let mut b = cstrs(&[name.as_bytes(), sql.as_bytes()]);
        b.extend_from_slice(&0u16.to_be_bytes());
        msg(b'P', &b)
    }

    /// A Bind of `name` with one text parameter `value`.
    fn bind(name: &str, value: &str) -> Vec<u8> {
        let mut b = cstrs(&[b"", name.as_bytes()]);
        b.extend_from_slice(&0u16.to_be_bytes());
        b.extend_from_slice(&1u16.to_be_bytes());
        b.extend_from_slice(&(value.len() as u32).to_be_bytes());
        b.extend_from_slice(value.as_bytes());
        b.extend_from_slice(&0u16.to_be_bytes());
        msg(b'B', &b)
    }

    fn execute() -> Vec<u8> {
        let mut b = cstrs(&[b""]);
        b.extend_from_slice(&0u32.to_be_bytes());
        msg(b'E', &b)
    }

    fn sync() -> Vec<u8> {
        msg(b'S', b"")
    }

    fn ready() -> Vec<u8> {
        msg(b'Z', b"I")
    }

    /// A wire whose round trips all go to a trace, and that trace.
    fn traced() -> (Arc<Wire>, Arc<CallTrace>) {
        let wire = Wire::new(Telemetry::new(0.0));
        wire.activate("h:1");
        let trace = CallTrace::new();
        wire.attach(&trace);
        (wire, trace)
    }

    fn roundtrips(trace: &CallTrace) -> Vec<(Vec<String>, u32)> {
        trace
            .finish()
            .into_iter()
            .filter_map(|s| match s.attrs {
                Attrs::Roundtrip {
                    statements,
                    messages,
                } => Some((statements.iter().map(|s| s.to_string()).collect(), messages)),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn a_pipelined_flight_is_one_roundtrip() {
        let (wire, trace) = traced();
        let mut p = Parser::default();
        let mut out = Vec::new();
        out.extend(msg(b'Q', b"BEGIN\0"));
        out.extend(parse("", "UPDATE t SET a = $1"));
        out.extend(bind("", "secret-value"));
        out.extend(execute());
        out.extend(sync());
        out.extend(msg(b'Q', b"COMMIT\0"));
        p.wrote(&out);
        // Answers to the first two, then the last: still one busy period.
        p.read(
            &[ready(), msg(b'1', b""), msg(b'C', b"UPDATE 1\0"), ready()].concat(),
            &wire,
        );
        assert!(p.flight.is_some());
        p.read(&ready(), &wire);
        assert!(p.flight.is_none());
        let rts = roundtrips(&trace);
        assert_eq!(
            rts,
            vec![(
                vec![
                    "BEGIN".into(),
                    "UPDATE t SET a = $1".into(),
                    "COMMIT".into()
                ],
                3
            )]
        );
        assert!(!format!("{rts:?}").contains("secret-value"));
    }

    #[test]
    fn a_bind_is_read_up_to_its_statement_name() {
        let mut p = Parser::default();
        let b = bind("s1", "secret-value");
        p.wrote(&b[..b.len() - 3]);
        // Mid-message: what is kept is the portal and the statement name.
        assert_eq!(p.front.keep, b"\0s1\0");
        p.wrote(&b[b.len() - 3..]);
        assert_eq!(p.front.have, 0);
    }

    #[test]
    fn headers_split_across_reads_and_writes() {
        let (wire, trace) = traced();
        let mut p = Parser::default();
        let out = [parse("s1", "SELECT 1"), sync()].concat();
        for b in out.chunks(1) {
            p.wrote(b);
        }
        let back = [msg(b'1', b""), ready()].concat();
        for b in back.chunks(3) {
            p.read(b, &wire);
        }
        // Bind to the named statement: its text comes from the earlier Parse.
        let out = [bind("s1", "4242-value"), execute(), sync()].concat();
        let (a, b) = out.split_at(2);
        p.wrote(a);
        p.wrote(b);
        let back = ready();
        p.read(&back[..4], &wire);
        p.read(&back[4..], &wire);
        assert_eq!(
            roundtrips(&trace),
            vec![
                (vec!["SELECT 1".to_string()], 1),
                (vec!["SELECT 1".to_string()], 1)
            ]
        );
    }

    #[test]
    fn a_simple_query_and_a_closed_statement() {
        let (wire, trace) = traced();
        let mut p = Parser::default();
        p.wrote(&parse("s7", "SELECT 7"));
        p.wrote(&sync());
        p.read(&ready(), &wire);
        assert_eq!(p.names.len(), 1);
        p.wrote(&[msg(b'C', b"Ss7\0"), sync()].concat());
        p.read(&[msg(b'3', b""), ready()].concat(), &wire);
        assert!(p.names.is_empty());
        p.wrote(&msg(b'Q', b"SELECT 'x'\0"));
        p.read(
            &[msg(b'T', &[0, 0]), msg(b'C', b"SELECT 1\0"), ready()].concat(),
            &wire,
        );
        let rts = roundtrips(&trace);
        assert_eq!(rts.len(), 3);
        assert_eq!(rts[2], (vec!["SELECT 'x'".to_string()], 1));
        // Bind to an unknown (closed) statement adds no text.
        let (wire, trace) = traced();
        p.wrote(&[bind("s7", "v"), execute(), sync()].concat());
        p.read(&ready(), &wire);
        assert_eq!(roundtrips(&trace), vec![(vec![], 1)]);
    }

    #[test]
    fn long_statements_are_cut_and_the_parser_stays_bounded() {
        let (wire, trace) = traced();
        let mut p = Parser::default();
        let long = format!("SELECT '{}'", "é".repeat(5000));
        p.wrote(&[parse("", &long), sync()].concat());
        p.read(&ready(), &wire);
        let rts = roundtrips(&trace);
        assert_eq!(rts[0].0[0].chars().count(), MAX_STATEMENT_CHARS);
        assert!(p.front.keep.capacity() <= 2 * front_head(b'P').1);
        for i in 0..2000 {
            p.wrote(&[parse(&format!("s{i}"), "SELECT 1"), sync()].concat());
            p.read(&ready(), &wire);
        }
        assert!(p.names.len() <= MAX_NAMES);
    }

    #[test]
    fn slow_roundtrips_are_events_without_values() {
        let t = Telemetry::new(0.000_001);
        let wire = Wire::new(t.clone());
        wire.activate("db:5432");
        let mut p = Parser::default();
        p.wrote(
            &[
                parse("", "SELECT $1"),
                bind("", "hidden-value"),
                execute(),
                sync(),
            ]
            .concat(),
        );
        p.read(&ready(), &wire);
        let events = t.take_events().unwrap();
        assert!(events.contains("slow_statement") && events.contains("SELECT $1"));
        assert!(!events.contains("hidden-value"));
        assert_eq!(t.slow_statements.load(Ordering::Relaxed), 1);
        assert!(t.take_events().is_none());
    }

    #[test]
    fn events_are_bounded() {
        let t = Telemetry::new(0.0);
        for _ in 0..150 {
            t.connection_lost();
        }
        let events: Vec<Value> = serde_json::from_str(&t.take_events().unwrap()).unwrap();
        assert_eq!(events.len(), MAX_EVENTS + 1);
        assert_eq!(events[MAX_EVENTS]["kind"], "events_dropped");
        assert_eq!(events[MAX_EVENTS]["count"], 50);
    }
}
