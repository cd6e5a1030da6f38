//! A caller's transaction as the connection. A host that holds a connection
//! inside an open transaction (Medusa v1 hands its TypeORM one over; any
//! node-postgres user can) lends it for one call: the core's statements run
//! on it, so they commit and roll back with the caller's transaction.
//!
//! tokio-postgres speaks to a [`RelayStream`] as to a server. The stream
//! answers the startup itself (the lent connection is already
//! authenticated), forwards every later frontend message to the host, which
//! writes it to its socket, and reads what the host feeds back from that
//! socket ([`Relay::feed`]). So statements, plans, pipelining and errors are
//! those of the native pool, byte for byte.
//!
//! The host opens a savepoint ([`SAVEPOINT`]) before lending the connection
//! and ends it after, with [`RELEASE`] when the call succeeded and
//! [`ROLLBACK`] when it failed: a refused call writes nothing and leaves the
//! caller's transaction usable. The core's own transaction control becomes
//! control of that savepoint (see [`rewrite`]): a BEGIN inside the caller's
//! transaction would only warn, and its COMMIT would commit the caller's work.
//!
//! The call is over when tokio-postgres has closed its statements and said
//! goodbye (Terminate, which is not forwarded) and every Sync or simple query
//! sent has had its ReadyForQuery: then the socket is idle and the host's
//! driver can take it back ([`Relay::settled`]).

use crate::wire::{Telemetry, Wire, WireStream, Wires};
use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::sync::{mpsc, Notify};

/// What the host runs on its connection before lending it.
pub const SAVEPOINT: &str = "SAVEPOINT medusa_inventory_rs";
/// What the host runs after a call that succeeded.
pub const RELEASE: &str = "RELEASE SAVEPOINT medusa_inventory_rs";
/// What the host runs after a call that failed: its writes are undone, the
/// caller's transaction goes on.
pub const ROLLBACK: &str =
    "ROLLBACK TO SAVEPOINT medusa_inventory_rs; RELEASE SAVEPOINT medusa_inventory_rs";

/// Sends frontend bytes to the host, in order.
pub type Forward = Box<dyn Fn(Vec<u8>) + Send + Sync>;

/// The server's answer to a startup: AuthenticationOk, then ReadyForQuery
/// (status T, in a transaction).
const STARTUP_REPLY: &[u8] = &[b'R', 0, 0, 0, 8, 0, 0, 0, 0, b'Z', 0, 0, 0, 5, b'T'];

#[derive(Debug, Default)]
struct Counts {
    /// Syncs and simple queries forwarded: each gets one ReadyForQuery.
    expected: u64,
    /// ReadyForQuery messages the server sent back.
    seen: u64,
    /// tokio-postgres said Terminate: it sends nothing more.
    terminated: bool,
    /// The host's socket ended, or a message could not be relayed.
    broken: bool,
}

#[derive(Debug, Default)]
struct Shared {
    counts: Mutex<Counts>,
    changed: Notify,
}

impl Shared {
    fn update(&self, f: impl FnOnce(&mut Counts)) {
        f(&mut self.counts.lock().unwrap_or_else(|p| p.into_inner()));
        self.changed.notify_waiters();
    }
}

/// The host's end: feeds what its socket receives, learns when the call is over.
#[derive(Debug)]
pub struct Relay {
    inbox: Mutex<Option<mpsc::UnboundedSender<Vec<u8>>>>,
    /// Counted here, not where tokio-postgres reads: after an error it may
    /// drop its connection and stop reading while answers are still coming.
    frames: Mutex<Frames>,
    shared: Arc<Shared>,
}

/// A relay and the stream tokio-postgres connects over; `send` gets every
/// frontend message the stream forwards.
pub fn relay(send: Forward) -> (Relay, RelayStream) {
    let (tx, rx) = mpsc::unbounded_channel();
    let shared = Arc::new(Shared::default());
    let stream = RelayStream {
        started: false,
        written: Vec::new(),
        outgoing: Vec::new(),
        send,
        inbox: rx,
        incoming: Vec::new(),
        read_at: 0,
        shared: shared.clone(),
    };
    let relay = Relay {
        inbox: Mutex::new(Some(tx)),
        frames: Mutex::new(Frames::default()),
        shared,
    };
    (relay, stream)
}

impl Relay {
    /// Bytes the host's socket received.
    pub fn feed(&self, bytes: Vec<u8>) {
        let ready = self
            .frames
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .ready_count(&bytes);
        if ready > 0 {
            self.shared.update(|c| c.seen += ready);
        }
        let inbox = self.inbox.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(tx) = inbox.as_ref() {
            let _ = tx.send(bytes);
        }
    }

    /// The host's socket closed (or errored): reads end there.
    pub fn end(&self) {
        self.inbox.lock().unwrap_or_else(|p| p.into_inner()).take();
    }

    /// Waits until tokio-postgres is done with the connection. True when the
    /// socket is idle, every request answered: the host's driver can take it
    /// back. False when the relay broke: the connection's state is unknown
    /// and the host must close it.
    pub async fn settled(&self) -> bool {
        loop {
            let notified = self.shared.changed.notified();
            {
                let c = self.shared.counts.lock().unwrap_or_else(|p| p.into_inner());
                if c.broken {
                    return false;
                }
                if c.terminated && c.seen >= c.expected {
                    return c.seen == c.expected;
                }
            }
            notified.await;
        }
    }

    /// Marks the relay broken (the call ended without tokio-postgres'
    /// goodbye, e.g. it never connected): `settled` answers false.
    pub fn abandon(&self) {
        self.shared.update(|c| c.broken = true);
    }
}

/// The core's transaction control, turned into control of the host's
/// savepoint; None: not transaction control, sent as it is.
///
/// BEGIN starts nothing (the savepoint is open); COMMIT commits nothing
/// (the host releases the savepoint when the whole call succeeded);
/// ROLLBACK goes back to the savepoint and keeps it, so a retry inside the
/// call starts from where the call started. The session setting BEGIN carries
/// on the native pool (plan_cache_mode) is left out: SET LOCAL would outlive
/// the call in the caller's transaction.
pub(crate) fn rewrite(query: &str) -> Option<Result<&'static str, ()>> {
    match query {
        // tokio-postgres' Transaction starts with START TRANSACTION, PipelinedTx with BEGIN.
        "START TRANSACTION"
        | "BEGIN"
        | "BEGIN; SET LOCAL plan_cache_mode = force_generic_plan"
        | "COMMIT" => Some(Ok("")),
        "ROLLBACK" => Some(Ok("ROLLBACK TO SAVEPOINT medusa_inventory_rs")),
        _ => {
            let first = query
                .split(|c: char| c.is_whitespace() || c == ';')
                .next()
                .unwrap_or("")
                .to_ascii_uppercase();
            let control = [
                "BEGIN",
                "START",
                "COMMIT",
                "END",
                "ROLLBACK",
                "ABORT",
                "PREPARE",
                "SAVEPOINT",
                "RELEASE",
            ];
            control.contains(&first.as_str()).then_some(Err(()))
        }
    }
}

/// Backend message boundaries, across chunks: counts ReadyForQuery.
#[derive(Debug, Default)]
struct Frames {
    header: Vec<u8>,
    /// Body bytes of the current message still to skip.
    body_left: usize,
}

impl Frames {
    /// The number of ReadyForQuery messages that start in `data`.
    fn ready_count(&mut self, mut data: &[u8]) -> u64 {
        let mut n = 0;
        while !data.is_empty() {
            if self.body_left > 0 {
                let skip = self.body_left.min(data.len());
                self.body_left -= skip;
                data = &data[skip..];
                continue;
            }
            let take = (5 - self.header.len()).min(data.len());
            self.header.extend_from_slice(&data[..take]);
            data = &data[take..];
            if self.header.len() == 5 {
                if self.header[0] == b'Z' {
                    n += 1;
                }
                let len = u32::from_be_bytes([
                    self.header[1],
                    self.header[2],
                    self.header[3],
                    self.header[4],
                ]);
                self.body_left = (len as usize).saturating_sub(4);
                self.header.clear();
            }
        }
        n
    }
}

/// The connection tokio-postgres sees (see the module doc).
pub struct RelayStream {
    /// The startup message was answered.
    started: bool,
    /// Frontend bytes not yet a whole message.
    written: Vec<u8>,
    /// Whole messages to send on the next flush.
    outgoing: Vec<u8>,
    send: Forward,
    inbox: mpsc::UnboundedReceiver<Vec<u8>>,
    incoming: Vec<u8>,
    read_at: usize,
    shared: Arc<Shared>,
}

impl std::fmt::Debug for RelayStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RelayStream")
            .field("started", &self.started)
            .finish_non_exhaustive()
    }
}

impl RelayStream {
    /// Takes the whole messages out of `written`; an error for transaction
    /// control the core must not send inside a caller's transaction.
    fn take_messages(&mut self) -> io::Result<()> {
        loop {
            if !self.started {
                // The startup message: its length, then the protocol and parameters.
                let Some(len) = be_len(&self.written, 0) else {
                    return Ok(());
                };
                if self.written.len() < len {
                    return Ok(());
                }
                self.written.drain(..len);
                self.started = true;
                self.incoming.extend_from_slice(STARTUP_REPLY);
                continue;
            }
            let Some(len) = be_len(&self.written, 1) else {
                return Ok(());
            };
            if self.written.len() < len + 1 {
                return Ok(());
            }
            let message: Vec<u8> = self.written.drain(..len + 1).collect();
            self.forward(message)?;
        }
    }

    fn forward(&mut self, message: Vec<u8>) -> io::Result<()> {
        match message[0] {
            b'X' => {
                self.shared.update(|c| c.terminated = true);
                return Ok(());
            }
            b'S' => self.shared.update(|c| c.expected += 1),
            b'Q' => {
                self.shared.update(|c| c.expected += 1);
                let text = message[5..].strip_suffix(&[0]).unwrap_or(&message[5..]);
                let text = std::str::from_utf8(text).unwrap_or("");
                match rewrite(text) {
                    Some(Ok(sql)) => {
                        self.outgoing.push(b'Q');
                        let len = (sql.len() + 5) as u32;
                        self.outgoing.extend_from_slice(&len.to_be_bytes());
                        self.outgoing.extend_from_slice(sql.as_bytes());
                        self.outgoing.push(0);
                        return Ok(());
                    }
                    Some(Err(())) => {
                        self.shared.update(|c| c.broken = true);
                        return Err(io::Error::other(
                            "transaction control inside a lent transaction",
                        ));
                    }
                    None => {}
                }
            }
            _ => {}
        }
        self.outgoing.extend_from_slice(&message);
        Ok(())
    }
}

impl Drop for RelayStream {
    /// A stream that never connected leaves the socket as it was; one dropped
    /// with answers still to come leaves them to whoever reads the socket
    /// next, so the connection is broken.
    fn drop(&mut self) {
        self.shared.update(|c| {
            if c.seen < c.expected {
                c.broken = true;
            }
            c.terminated = true;
        });
    }
}

/// The big-endian length at `at` (it counts itself), when 4 bytes are there.
fn be_len(buf: &[u8], at: usize) -> Option<usize> {
    let b = buf.get(at..at + 4)?;
    Some(u32::from_be_bytes([b[0], b[1], b[2], b[3]]) as usize)
}

impl AsyncWrite for RelayStream {
    fn poll_write(
        mut self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.written.extend_from_slice(buf);
        Poll::Ready(self.take_messages().map(|()| buf.len()))
    }

    fn poll_flush(mut self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        if !self.outgoing.is_empty() {
            let out = std::mem::take(&mut self.outgoing);
            (self.send)(out);
        }
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.poll_flush(cx)
    }
}

impl AsyncRead for RelayStream {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        if self.read_at >= self.incoming.len() {
            self.incoming.clear();
            self.read_at = 0;
            match self.inbox.poll_recv(cx) {
                Poll::Ready(Some(chunk)) => {
                    self.incoming = chunk;
                }
                // The host's socket ended: end of stream.
                Poll::Ready(None) => {
                    self.shared.update(|c| c.broken = true);
                    return Poll::Ready(Ok(()));
                }
                Poll::Pending => return Poll::Pending,
            }
        }
        let this = &mut *self;
        let n = (this.incoming.len() - this.read_at).min(buf.remaining());
        buf.put_slice(&this.incoming[this.read_at..this.read_at + n]);
        this.read_at += n;
        Poll::Ready(Ok(()))
    }
}

/// deadpool's connect step for a unit's pool: connects once, over the stream,
/// followed by a wire (wire.rs) as the pool's connections are.
pub(crate) struct RelayConnect {
    stream: Mutex<Option<RelayStream>>,
    wires: Arc<Wires>,
    telemetry: Arc<Telemetry>,
}

impl std::fmt::Debug for RelayConnect {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RelayConnect")
    }
}

impl RelayConnect {
    pub(crate) fn new(stream: RelayStream, wires: Arc<Wires>, telemetry: Arc<Telemetry>) -> Self {
        RelayConnect {
            stream: Mutex::new(Some(stream)),
            wires,
            telemetry,
        }
    }
}

impl deadpool_postgres::Connect for RelayConnect {
    fn connect(
        &self,
        config: &tokio_postgres::Config,
    ) -> futures_util::future::BoxFuture<
        '_,
        Result<(tokio_postgres::Client, tokio::task::JoinHandle<()>), tokio_postgres::Error>,
    > {
        let config = config.clone();
        // A second connection cannot be lent: a stream whose host is gone
        // fails the startup with tokio-postgres' own "connection closed".
        let stream = self
            .stream
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take()
            .unwrap_or_else(|| relay(Box::new(|_| {})).1);
        let wire = Wire::new(self.telemetry.clone());
        let stream = WireStream::new(stream, wire.clone());
        Box::pin(async move {
            let (client, connection) = config.connect_raw(stream, tokio_postgres::NoTls).await?;
            let task = tokio::spawn(async move {
                let _ = connection.await;
            });
            // The startup was answered here; what follows is the lender's server.
            wire.activate("lent connection");
            self.wires.connected(wire);
            Ok((client, task))
        })
    }
}

/// The config a unit connects with: the startup it sends is answered by the
/// stream, so only what tokio-postgres requires is set.
pub(crate) fn relay_config() -> tokio_postgres::Config {
    let mut cfg = tokio_postgres::Config::new();
    cfg.user("medusa-inventory-rs");
    cfg.ssl_mode(tokio_postgres::config::SslMode::Disable);
    cfg
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transaction_control_becomes_savepoint_control() {
        assert_eq!(rewrite("BEGIN"), Some(Ok("")));
        assert_eq!(rewrite("START TRANSACTION"), Some(Ok("")));
        assert_eq!(
            rewrite("BEGIN; SET LOCAL plan_cache_mode = force_generic_plan"),
            Some(Ok(""))
        );
        assert_eq!(rewrite("COMMIT"), Some(Ok("")));
        assert_eq!(
            rewrite("ROLLBACK"),
            Some(Ok("ROLLBACK TO SAVEPOINT medusa_inventory_rs"))
        );
        for refused in [
            "begin isolation level serializable",
            "END",
            "commit;",
            "PREPARE TRANSACTION 'x'",
            "ROLLBACK TO SAVEPOINT a",
        ] {
            assert_eq!(rewrite(refused), Some(Err(())), "{refused}");
        }
        for kept in [
            "SELECT 1",
            "WITH x AS (SELECT 1) SELECT * FROM x",
            "",
            "SET LOCAL lock_timeout = 1",
        ] {
            assert_eq!(rewrite(kept), None, "{kept}");
        }
    }

    #[test]
    fn ready_for_query_is_counted_across_chunks() {
        let mut f = Frames::default();
        // CommandComplete "SELECT 1", then ReadyForQuery, split at every byte.
        let mut msgs = vec![b'C', 0, 0, 0, 13];
        msgs.extend_from_slice(b"SELECT 1\0");
        msgs.extend_from_slice(&[b'Z', 0, 0, 0, 5, b'T']);
        let whole: u64 = msgs.iter().map(|b| f.ready_count(&[*b])).sum();
        assert_eq!(whole, 1);
        // A body that holds a 'Z' byte is not a message start.
        let mut g = Frames::default();
        let body = [b'D', 0, 0, 0, 6, 0, b'Z'];
        assert_eq!(g.ready_count(&body), 0);
        assert_eq!(g.ready_count(&[b'Z', 0, 0, 0, 5, b'I']), 1);
    }
}
