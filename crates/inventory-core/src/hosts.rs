//! Connecting host by host, each attempt bounded as a whole.
//!
//! tokio-postgres's own multi-host connect applies `connect_timeout` to the TCP
//! connect only: a first host that accepts the connection and then never answers
//! (a frozen server, a half-dead proxy) holds the SSLRequest, the TLS handshake,
//! the startup or the `target_session_attrs` check until the pool gives up, and
//! the next host is never tried. Here each host gets its own single-host config,
//! and the whole attempt at it (name lookup, TCP, TLS, startup, authentication,
//! the session attribute check) runs under one `tokio::time::timeout`, libpq's
//! per-host meaning of `connect_timeout`. The addresses one host name resolves
//! to share its bound.

use crate::wire::{Telemetry, Wire, WireStream, Wires};
use deadpool_postgres::Connect;
use futures_util::future::BoxFuture;
use std::hash::{BuildHasher, Hasher};
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio::task::JoinHandle;
use tokio_postgres::config::{Host, LoadBalanceHosts, TargetSessionAttrs};
use tokio_postgres::tls::{ChannelBinding, MakeTlsConnect, NoTls, TlsConnect, TlsStream};
use tokio_postgres::{Client, Config, Error, SimpleQueryMessage};
use tokio_postgres_rustls::MakeRustlsConnect;

/// A whole connection attempt to one host, when the URL sets no `connect_timeout`
/// (or sets 0, which tokio-postgres reads as none).
pub(crate) const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// deadpool's connect step: every host of the config in turn (shuffled with
/// `load_balance_hosts=random`), each attempt bounded by `per_host`.
///
/// The socket is this module's own (not tokio-postgres's `Config::connect`),
/// so that the protocol goes through a [`WireStream`] (wire.rs), on the
/// plaintext side of TLS. What `Config::connect` did is done here: TCP or
/// Unix socket per host and port, hostaddr, TCP_NODELAY, keepalives,
/// tcp_user_timeout and the `target_session_attrs` check. Where that fails,
/// tokio-postgres's own connect to the same host is tried, so the error is
/// its own, word for word (its errors cannot be built outside it); should it
/// succeed, its connection is used, only without a wire.
pub(crate) struct HostByHost {
    /// None: sslmode=disable (connection.rs `Connector::Plain`).
    pub(crate) tls: Option<MakeRustlsConnect>,
    pub(crate) per_host: Duration,
    pub(crate) wires: Arc<Wires>,
    pub(crate) telemetry: Arc<Telemetry>,
}

impl std::fmt::Debug for HostByHost {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HostByHost")
            .field("tls", &self.tls.is_some())
            .field("per_host", &self.per_host)
            .finish_non_exhaustive()
    }
}

impl Connect for HostByHost {
    fn connect(&self, config: &Config) -> BoxFuture<'_, Result<(Client, JoinHandle<()>), Error>> {
        let attempts = one_per_host(config);
        let bound = self.per_host;
        Box::pin(async move {
            let mut last = None;
            for one in attempts {
                match tokio::time::timeout(bound, self.attempt(&one)).await {
                    Ok(Ok((client, task, wire, host))) => {
                        if let Some(wire) = wire {
                            self.wires.connected(wire);
                        }
                        self.telemetry.connected_to(&host);
                        return Ok((client, task));
                    }
                    Ok(Err(e)) => last = Some(e),
                    // tokio-postgres's own "timeout waiting for server" (error::TIMEOUT_TEXT).
                    Err(_) => last = Some(Error::__private_api_timeout()),
                }
            }
            Err(last.unwrap_or_else(Error::__private_api_timeout))
        })
    }
}

/// A connection made: its client, its task, its wire (None: made by
/// tokio-postgres's own connect) and the host:port it reached.
type Made = (Client, JoinHandle<()>, Option<Arc<Wire>>, String);

impl HostByHost {
    /// One host (`one` names one): through a wire, or as tokio-postgres does.
    async fn attempt(&self, one: &Config) -> Result<Made, Error> {
        let port = one.get_ports().first().copied().unwrap_or(5432);
        let host = one.get_hosts().first();
        let label = match (one.get_hostaddrs().first(), host) {
            (_, Some(Host::Tcp(h))) => format!("{h}:{port}"),
            (Some(a), _) => format!("{a}:{port}"),
            #[cfg(unix)]
            (None, Some(Host::Unix(p))) => format!("{}:{port}", p.display()),
            (None, None) => String::new(),
        };
        match self.through_wire(one, host, port, &label).await {
            Ok(Some(made)) => return Ok(made),
            Err(e) => return Err(e),
            Ok(None) => {}
        }
        // Ours failed where only tokio-postgres can say why.
        let (client, task) = match &self.tls {
            None => spawned(one.connect(NoTls).await?),
            Some(tls) => spawned(one.connect(tls.clone()).await?),
        };
        Ok((client, task, None, label))
    }

    /// Ok(None): the socket or the session attribute check failed (the
    /// caller asks tokio-postgres for its error); Err: tokio-postgres's.
    async fn through_wire(
        &self,
        one: &Config,
        host: Option<&Host>,
        port: u16,
        label: &str,
    ) -> Result<Option<Made>, Error> {
        let Some(socket) = socket(one, host, port).await else {
            return Ok(None);
        };
        let wire = Wire::new(self.telemetry.clone());
        let stream = WireStream::new(socket, wire.clone());
        let (client, task) = match &self.tls {
            None => spawned(one.connect_raw(stream, NoTls).await?),
            Some(tls) => {
                let name = match host {
                    Some(Host::Tcp(h)) => h.as_str(),
                    _ => "",
                };
                let connect = MakeTlsConnect::<RawSocket>::make_tls_connect(&mut tls.clone(), name)
                    .unwrap_or_else(|never| match never {});
                spawned(one.connect_raw(stream, WireTls(connect)).await?)
            }
        };
        if !session_attrs_hold(&client, one.get_target_session_attrs()).await? {
            return Ok(None);
        }
        wire.activate(label);
        Ok(Some((client, task, Some(wire), label.to_string())))
    }
}

fn spawned<S, T>(
    (client, connection): (Client, tokio_postgres::Connection<S, T>),
) -> (Client, JoinHandle<()>)
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    T: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    // As deadpool's own connect: the connection runs until the client goes.
    let task = tokio::spawn(async move {
        let _ = connection.await;
    });
    (client, task)
}

/// `target_session_attrs`, as tokio-postgres checks it.
async fn session_attrs_hold(client: &Client, want: TargetSessionAttrs) -> Result<bool, Error> {
    if want == TargetSessionAttrs::Any {
        return Ok(true);
    }
    let rows = client.simple_query("SHOW transaction_read_only").await?;
    let read_only = rows.iter().find_map(|m| match m {
        SimpleQueryMessage::Row(r) => r.get(0).map(|v| v == "on"),
        _ => None,
    });
    Ok(match want {
        TargetSessionAttrs::ReadWrite => read_only != Some(true),
        TargetSessionAttrs::ReadOnly => read_only != Some(false),
        _ => true,
    })
}

/// The socket to one host, set up as tokio-postgres's connect_socket does.
async fn socket(one: &Config, host: Option<&Host>, port: u16) -> Option<RawSocket> {
    let timeout = one.get_connect_timeout().copied();
    let addrs: Vec<SocketAddr> = match (one.get_hostaddrs().first(), host) {
        (Some(ip), _) => vec![SocketAddr::new(*ip, port)],
        (None, Some(Host::Tcp(h))) => {
            let mut all: Vec<_> = tokio::net::lookup_host((h.as_str(), port))
                .await
                .ok()?
                .collect();
            if one.get_load_balance_hosts() == LoadBalanceHosts::Random {
                let mut order: Vec<usize> = (0..all.len()).collect();
                shuffle(&mut order);
                all = order.into_iter().map(|i| all[i]).collect();
            }
            all
        }
        #[cfg(unix)]
        (None, Some(Host::Unix(dir))) => {
            let path = dir.join(format!(".s.PGSQL.{port}"));
            let s = match timeout {
                Some(t) => tokio::time::timeout(t, tokio::net::UnixStream::connect(path))
                    .await
                    .ok()?
                    .ok()?,
                None => tokio::net::UnixStream::connect(path).await.ok()?,
            };
            return Some(RawSocket::Unix(s));
        }
        (None, None) => return None,
    };
    for addr in addrs {
        let stream = match timeout {
            Some(t) => tokio::time::timeout(t, TcpStream::connect(addr))
                .await
                .ok()
                .and_then(Result::ok),
            None => TcpStream::connect(addr).await.ok(),
        };
        let Some(stream) = stream else {
            continue;
        };
        if configure(&stream, one).is_ok() {
            return Some(RawSocket::Tcp(stream));
        }
    }
    None
}

/// TCP_NODELAY, keepalives and tcp_user_timeout, as the URL sets them.
fn configure(stream: &TcpStream, one: &Config) -> io::Result<()> {
    stream.set_nodelay(true)?;
    let sock = socket2::SockRef::from(stream);
    #[cfg(target_os = "linux")]
    if let Some(t) = one.get_tcp_user_timeout() {
        sock.set_tcp_user_timeout(Some(*t))?;
    }
    if one.get_keepalives() {
        #[allow(unused_mut)]
        let mut ka = socket2::TcpKeepalive::new().with_time(one.get_keepalives_idle());
        #[cfg(any(target_os = "linux", target_vendor = "apple", windows))]
        if let Some(i) = one.get_keepalives_interval() {
            ka = ka.with_interval(i);
        }
        #[cfg(any(target_os = "linux", target_vendor = "apple"))]
        if let Some(r) = one.get_keepalives_retries() {
            ka = ka.with_retries(r);
        }
        sock.set_tcp_keepalive(&ka)?;
    }
    Ok(())
}

/// A TCP or Unix socket.
#[derive(Debug)]
pub(crate) enum RawSocket {
    Tcp(TcpStream),
    #[cfg(unix)]
    Unix(tokio::net::UnixStream),
}

macro_rules! each {
    ($self:ident, $s:ident => $e:expr) => {
        match $self.get_mut() {
            RawSocket::Tcp($s) => $e,
            #[cfg(unix)]
            RawSocket::Unix($s) => $e,
        }
    };
}

impl AsyncRead for RawSocket {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        each!(self, s => Pin::new(s).poll_read(cx, buf))
    }
}

impl AsyncWrite for RawSocket {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        each!(self, s => Pin::new(s).poll_write(cx, buf))
    }
    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        each!(self, s => Pin::new(s).poll_flush(cx))
    }
    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        each!(self, s => Pin::new(s).poll_shutdown(cx))
    }
}

/// TLS under the wire: the handshake runs on the bare socket, and the wire
/// follows the session's plaintext.
struct WireTls<C>(C);

impl<C> TlsConnect<WireStream<RawSocket>> for WireTls<C>
where
    C: TlsConnect<RawSocket> + Send + 'static,
    C::Future: Send,
    C::Stream: Send,
{
    type Stream = WireStream<C::Stream>;
    type Error = C::Error;
    type Future = BoxFuture<'static, Result<Self::Stream, C::Error>>;

    fn connect(self, stream: WireStream<RawSocket>) -> Self::Future {
        let (raw, wire) = stream.into_parts();
        let handshake = self.0.connect(raw);
        Box::pin(async move { Ok(WireStream::new(handshake.await?, wire)) })
    }
}

impl<S: TlsStream + Unpin> TlsStream for WireStream<S> {
    fn channel_binding(&self) -> ChannelBinding {
        self.inner().channel_binding()
    }
}

/// How many hosts the config names (hosts or hostaddrs; at least one attempt).
pub(crate) fn host_count(config: &Config) -> usize {
    config
        .get_hosts()
        .len()
        .max(config.get_hostaddrs().len())
        .max(1)
}

/// One config per host, in the order to try them. A config with one host (or
/// none: tokio-postgres then says what is missing) is tried as it is.
pub(crate) fn one_per_host(config: &Config) -> Vec<Config> {
    let n = host_count(config);
    if n == 1 {
        return vec![config.clone()];
    }
    let mut order: Vec<usize> = (0..n).collect();
    if config.get_load_balance_hosts() == LoadBalanceHosts::Random {
        shuffle(&mut order);
    }
    order.into_iter().map(|i| single_host(config, i)).collect()
}

/// `config` with only its `i`th host, hostaddr and port (tokio-postgres's pairing:
/// one port for all hosts, or one per host). Every other setting is copied.
fn single_host(config: &Config, i: usize) -> Config {
    let mut c = Config::new();
    if let Some(v) = config.get_user() {
        c.user(v);
    }
    if let Some(v) = config.get_password() {
        c.password(v);
    }
    if let Some(v) = config.get_dbname() {
        c.dbname(v);
    }
    if let Some(v) = config.get_options() {
        c.options(v);
    }
    if let Some(v) = config.get_application_name() {
        c.application_name(v);
    }
    c.ssl_mode(config.get_ssl_mode());
    c.ssl_negotiation(config.get_ssl_negotiation());
    if let Some(v) = config.get_connect_timeout() {
        c.connect_timeout(*v);
    }
    if let Some(v) = config.get_tcp_user_timeout() {
        c.tcp_user_timeout(*v);
    }
    c.keepalives(config.get_keepalives());
    c.keepalives_idle(config.get_keepalives_idle());
    if let Some(v) = config.get_keepalives_interval() {
        c.keepalives_interval(v);
    }
    if let Some(v) = config.get_keepalives_retries() {
        c.keepalives_retries(v);
    }
    c.target_session_attrs(config.get_target_session_attrs());
    c.channel_binding(config.get_channel_binding());
    // Random also shuffles the addresses one host name resolves to, as tokio-postgres does.
    c.load_balance_hosts(config.get_load_balance_hosts());
    match config.get_hosts().get(i) {
        Some(Host::Tcp(h)) => {
            c.host(h);
        }
        #[cfg(unix)]
        Some(Host::Unix(p)) => {
            c.host_path(p);
        }
        None => {}
    }
    if let Some(a) = config.get_hostaddrs().get(i) {
        c.hostaddr(*a);
    }
    let ports = config.get_ports();
    if let Some(p) = ports.get(i).or_else(|| ports.first()) {
        c.port(*p);
    }
    c
}

/// Fisher-Yates with a seed from the standard library's per-process random keys.
fn shuffle(v: &mut [usize]) {
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_usize(v.len());
    let mut x = h.finish() | 1;
    for i in (1..v.len()).rev() {
        // xorshift64
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        v.swap(i, (x % (i as u64 + 1)) as usize);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::str::FromStr;
    use tokio_postgres::config::TargetSessionAttrs;

    #[test]
    fn each_host_keeps_every_other_setting() {
        let cfg = Config::from_str(
            "postgres://u:pw@a:1,b:2,c/db?target_session_attrs=read-write&connect_timeout=3&application_name=x&options=-c%20a%3Db&keepalives_idle=7",
        )
        .unwrap();
        let all = one_per_host(&cfg);
        assert_eq!(all.len(), 3);
        let hosts: Vec<_> = all.iter().map(|c| c.get_hosts().to_vec()).collect();
        assert_eq!(
            hosts,
            vec![
                vec![Host::Tcp("a".into())],
                vec![Host::Tcp("b".into())],
                vec![Host::Tcp("c".into())]
            ]
        );
        assert_eq!(all[0].get_ports(), &[1]);
        assert_eq!(all[1].get_ports(), &[2]);
        assert_eq!(all[2].get_ports(), &[5432]);
        for c in &all {
            assert_eq!(c.get_user(), Some("u"));
            assert_eq!(c.get_password(), Some(&b"pw"[..]));
            assert_eq!(c.get_dbname(), Some("db"));
            assert_eq!(c.get_options(), Some("-c a=b"));
            assert_eq!(c.get_application_name(), Some("x"));
            assert_eq!(c.get_connect_timeout(), Some(&Duration::from_secs(3)));
            assert_eq!(c.get_keepalives_idle(), Duration::from_secs(7));
            assert_eq!(c.get_target_session_attrs(), TargetSessionAttrs::ReadWrite);
        }
        // One port for every host.
        let cfg = Config::from_str("host=a,b port=7 user=u").unwrap();
        let all = one_per_host(&cfg);
        assert_eq!(all[1].get_ports(), &[7]);
        assert_eq!(all[1].get_hosts(), &[Host::Tcp("b".into())]);
    }

    #[test]
    fn random_load_balancing_tries_every_host_once() {
        let cfg = Config::from_str("host=a,b,c,d,e load_balance_hosts=random").unwrap();
        let mut hosts: Vec<_> = one_per_host(&cfg)
            .iter()
            .map(|c| match &c.get_hosts()[0] {
                Host::Tcp(h) => h.clone(),
                #[allow(unreachable_patterns)]
                _ => unreachable!(),
            })
            .collect();
        hosts.sort();
        assert_eq!(hosts, ["a", "b", "c", "d", "e"]);
        assert!(one_per_host(&cfg)
            .iter()
            .all(|c| c.get_load_balance_hosts() == LoadBalanceHosts::Random));
    }
}
