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

use deadpool_postgres::Connect;
use futures_util::future::BoxFuture;
use std::hash::{BuildHasher, Hasher};
use std::time::Duration;
use tokio::task::JoinHandle;
use tokio_postgres::config::{Host, LoadBalanceHosts};
use tokio_postgres::tls::{MakeTlsConnect, TlsConnect};
use tokio_postgres::{Client, Config, Error, Socket};

/// A whole connection attempt to one host, when the URL sets no `connect_timeout`
/// (or sets 0, which tokio-postgres reads as none).
pub(crate) const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// deadpool's connect step: every host of the config in turn (shuffled with
/// `load_balance_hosts=random`), each attempt bounded by `per_host`.
#[derive(Debug)]
pub(crate) struct HostByHost<T> {
    pub(crate) tls: T,
    pub(crate) per_host: Duration,
}

impl<T> Connect for HostByHost<T>
where
    T: MakeTlsConnect<Socket> + Clone + Sync + Send + 'static,
    T::Stream: Sync + Send,
    T::TlsConnect: Sync + Send,
    <T::TlsConnect as TlsConnect<Socket>>::Future: Send,
{
    fn connect(&self, config: &Config) -> BoxFuture<'_, Result<(Client, JoinHandle<()>), Error>> {
        let tls = self.tls.clone();
        let attempts = one_per_host(config);
        let bound = self.per_host;
        Box::pin(async move {
            let mut last = None;
            for one in attempts {
                match tokio::time::timeout(bound, one.connect(tls.clone())).await {
                    Ok(Ok((client, connection))) => {
                        // As deadpool's own connect: the connection runs until the client goes.
                        let task = tokio::spawn(async move {
                            let _ = connection.await;
                        });
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
