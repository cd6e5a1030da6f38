//! How the pool reaches Postgres: the connection string, and TLS with libpq's
//! `sslmode` meanings on rustls (ring provider, Mozilla roots from webpki-roots),
//! so the addon stays self-contained when cross-compiled.
//!
//! tokio-postgres only knows `sslmode=disable|prefer|require` and no certificate
//! options, so the TLS parameters are taken out of the URL (or key=value string)
//! here and the rest is handed to `tokio_postgres::Config`.

use crate::error::{Error, ErrorType, Result};
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::WebPkiServerVerifier;
use rustls::crypto::{verify_tls12_signature, verify_tls13_signature, CryptoProvider};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::{
    CertificateError, ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme,
};
use serde_json::Value;
use std::fmt;
use std::str::FromStr;
use std::sync::Arc;
use tokio_postgres::config::{Host, SslMode};

/// The standalone API's `ssl` option, in node-postgres's shapes: `false`, `true`,
/// or `{ rejectUnauthorized?, ca?, cert?, key? }` (PEM text). It wins over the URL.
#[derive(Clone, PartialEq, Eq)]
pub struct SslOption(pub(crate) Option<NodeSsl>);

#[derive(Clone, PartialEq, Eq)]
pub(crate) struct NodeSsl {
    pub(crate) reject_unauthorized: bool,
    pub(crate) ca: Option<String>,
    pub(crate) cert: Option<String>,
    pub(crate) key: Option<String>,
}

// Hand-written so a private key never reaches a log through `{:?}`.
impl fmt::Debug for SslOption {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.0 {
            None => f.write_str("SslOption(false)"),
            Some(s) => f
                .debug_struct("SslOption")
                .field("reject_unauthorized", &s.reject_unauthorized)
                .field("ca", &s.ca.is_some())
                .field("cert", &s.cert.is_some())
                .field("key", &s.key.as_ref().map(|_| "<redacted>"))
                .finish(),
        }
    }
}

impl SslOption {
    /// `Ok(None)` for `null` (no option: the URL decides).
    pub fn from_json(v: &Value) -> Result<Option<Self>> {
        let obj = match v {
            Value::Null => return Ok(None),
            Value::Bool(false) => return Ok(Some(SslOption(None))),
            Value::Bool(true) => {
                return Ok(Some(SslOption(Some(NodeSsl {
                    reject_unauthorized: true,
                    ca: None,
                    cert: None,
                    key: None,
                }))))
            }
            Value::Object(o) => o,
            _ => {
                return Err(Error::invalid(
                    "connect option ssl must be true, false or an object { rejectUnauthorized, ca, cert, key }",
                ))
            }
        };
        let mut s = NodeSsl {
            reject_unauthorized: true,
            ca: None,
            cert: None,
            key: None,
        };
        for (k, val) in obj {
            let pem = |val: &Value| match val {
                Value::String(t) => Ok(Some(t.clone())),
                Value::Null => Ok(None),
                _ => Err(Error::invalid(format!(
                    "ssl option {k} must be a PEM string or Buffer"
                ))),
            };
            match k.as_str() {
                "rejectUnauthorized" => match val {
                    Value::Bool(b) => s.reject_unauthorized = *b,
                    Value::Null => {}
                    _ => {
                        return Err(Error::invalid(
                            "ssl option rejectUnauthorized must be a boolean",
                        ))
                    }
                },
                "ca" => s.ca = pem(val)?,
                "cert" => s.cert = pem(val)?,
                "key" => s.key = pem(val)?,
                _ => {
                    return Err(Error::invalid(format!(
                        "Unknown ssl option '{k}' (supported: rejectUnauthorized, ca, cert, key)"
                    )))
                }
            }
        }
        Ok(Some(SslOption(Some(s))))
    }
}

/// libpq's sslmode values (`allow` is not supported by tokio-postgres).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mode {
    Disable,
    Prefer,
    Require,
    VerifyCa,
    VerifyFull,
}

impl Mode {
    fn parse(s: &str, option: &str) -> Result<Self> {
        Ok(match s {
            "disable" => Mode::Disable,
            "prefer" => Mode::Prefer,
            "require" => Mode::Require,
            // node-postgres's spelling for "encrypt, don't verify".
            "no-verify" => Mode::Require,
            "verify-ca" => Mode::VerifyCa,
            "verify-full" => Mode::VerifyFull,
            _ => {
                return Err(Error::invalid(format!(
                    "{option} must be one of disable, prefer, require, verify-ca, verify-full (got '{s}')"
                )))
            }
        })
    }
}

/// How much of the server's certificate is checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Verify {
    /// Encrypt only (handshake signatures are still checked).
    None,
    /// The chain up to a trusted root, not the host name (verify-ca).
    Chain,
    /// Chain and host name or IP address (verify-full).
    Full,
}

/// PEM text from a file named by a URL parameter, or given inline by the `ssl` option.
#[derive(Clone, PartialEq, Eq)]
pub(crate) enum Pem {
    File { option: &'static str, path: String },
    Inline { option: &'static str, text: String },
}

impl fmt::Debug for Pem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Pem::File { option, path } => write!(f, "{option}={path}"),
            Pem::Inline { option, .. } => write!(f, "ssl.{option}"),
        }
    }
}

impl Pem {
    /// The option name and, for files, the path: what error messages show.
    fn describe(&self) -> String {
        format!("{self:?}")
    }

    fn bytes(&self) -> Result<Vec<u8>> {
        match self {
            Pem::Inline { text, .. } => Ok(text.as_bytes().to_vec()),
            Pem::File { option, path } => std::fs::read(path)
                .map_err(|e| Error::invalid(format!("{option}: cannot read file {path}: {e}"))),
        }
    }

    fn certificates(&self) -> Result<Vec<CertificateDer<'static>>> {
        let bytes = self.bytes()?;
        let certs = CertificateDer::pem_slice_iter(&bytes)
            .collect::<std::result::Result<Vec<_>, _>>()
            .map_err(|e| Error::invalid(format!("{} is not valid PEM: {e}", self.describe())))?;
        if certs.is_empty() {
            return Err(Error::invalid(format!(
                "{} contains no PEM certificate (-----BEGIN CERTIFICATE-----)",
                self.describe()
            )));
        }
        Ok(certs)
    }

    fn private_key(&self) -> Result<PrivateKeyDer<'static>> {
        let bytes = self.bytes()?;
        // The parser's error names the PEM section at most, never key material.
        PrivateKeyDer::from_pem_slice(&bytes).map_err(|e| {
            Error::invalid(format!(
                "{} does not hold a PEM private key (PKCS#8, PKCS#1 or SEC1; encrypted keys are not supported): {e}",
                self.describe()
            ))
        })
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct TlsPlan {
    pub(crate) mode: Mode,
    pub(crate) verify: Verify,
    /// `None`: the Mozilla roots.
    pub(crate) roots: Option<Pem>,
    pub(crate) client: Option<(Pem, Pem)>,
    /// How the plan was asked for, for error messages (`sslmode=require`, `ssl option`).
    pub(crate) origin: String,
}

const URL_PARAMS: [&str; 5] = ["sslmode", "ssl_mode", "sslrootcert", "sslcert", "sslkey"];

/// The connection string without the TLS parameters, and those parameters (last one wins).
pub(crate) fn split_tls_params(url: &str) -> Result<(String, Vec<(String, String)>)> {
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        split_url(url)
    } else {
        split_key_values(url)
    }
}

fn split_url(url: &str) -> Result<(String, Vec<(String, String)>)> {
    let Some(q) = url.find('?') else {
        return Ok((url.to_string(), Vec::new()));
    };
    let (base, query) = (&url[..q], &url[q + 1..]);
    let mut kept = Vec::new();
    let mut ours = Vec::new();
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        let key = percent_decode(k, "a URL parameter name")?;
        if URL_PARAMS.contains(&key.as_str()) {
            ours.push((
                key.clone(),
                percent_decode(v, &format!("URL parameter {key}"))?,
            ));
        } else {
            kept.push(pair);
        }
    }
    let rest = if kept.is_empty() {
        base.to_string()
    } else {
        format!("{base}?{}", kept.join("&"))
    };
    Ok((rest, ours))
}

fn percent_decode(s: &str, what: &str) -> Result<String> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let hex = b
                .get(i + 1..i + 3)
                .and_then(|h| std::str::from_utf8(h).ok())
                .and_then(|h| u8::from_str_radix(h, 16).ok())
                .ok_or_else(|| Error::invalid(format!("{what} has a bad %-escape")))?;
            out.push(hex);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8(out).map_err(|_| Error::invalid(format!("{what} is not UTF-8")))
}

/// libpq's `key=value key='quoted \' value'` form, as tokio-postgres reads it.
fn split_key_values(s: &str) -> Result<(String, Vec<(String, String)>)> {
    let mut chars = s.chars().peekable();
    let mut kept = Vec::new();
    let mut ours = Vec::new();
    loop {
        while chars.peek().is_some_and(|c| c.is_whitespace()) {
            chars.next();
        }
        if chars.peek().is_none() {
            break;
        }
        let mut key = String::new();
        while let Some(&c) = chars.peek() {
            if c.is_whitespace() || c == '=' {
                break;
            }
            key.push(c);
            chars.next();
        }
        while chars.peek().is_some_and(|c| c.is_whitespace()) {
            chars.next();
        }
        if chars.next() != Some('=') {
            return Err(Error::invalid(format!(
                "url is not a valid Postgres connection string: expected '=' after '{key}'"
            )));
        }
        while chars.peek().is_some_and(|c| c.is_whitespace()) {
            chars.next();
        }
        let mut value = String::new();
        if chars.peek() == Some(&'\'') {
            chars.next();
            loop {
                match chars.next() {
                    Some('\'') => break,
                    Some('\\') => value.extend(chars.next()),
                    Some(c) => value.push(c),
                    None => {
                        return Err(Error::invalid(format!(
                            "url is not a valid Postgres connection string: unterminated quoted value of '{key}'"
                        )))
                    }
                }
            }
        } else {
            while let Some(&c) = chars.peek() {
                if c.is_whitespace() {
                    break;
                }
                chars.next();
                if c == '\\' {
                    value.extend(chars.next());
                } else {
                    value.push(c);
                }
            }
        }
        if URL_PARAMS.contains(&key.as_str()) {
            ours.push((key, value));
        } else {
            let quoted = value.replace('\\', "\\\\").replace('\'', "\\'");
            kept.push(format!("{key}='{quoted}'"));
        }
    }
    Ok((kept.join(" "), ours))
}

/// What to do, from the `ssl` option when given, else from the URL's parameters.
pub(crate) fn plan(params: &[(String, String)], ssl: Option<&SslOption>) -> Result<TlsPlan> {
    if let Some(SslOption(node)) = ssl {
        let origin = "ssl option".to_string();
        let Some(s) = node else {
            return Ok(TlsPlan {
                mode: Mode::Disable,
                verify: Verify::None,
                roots: None,
                client: None,
                origin,
            });
        };
        let pem =
            |option, text: &Option<String>| text.clone().map(|text| Pem::Inline { option, text });
        // As node: rejectUnauthorized (default true) checks the chain and the host name.
        let (mode, verify) = if s.reject_unauthorized {
            (Mode::VerifyFull, Verify::Full)
        } else {
            (Mode::Require, Verify::None)
        };
        return Ok(TlsPlan {
            mode,
            verify,
            roots: pem("ca", &s.ca),
            client: client_pair(
                pem("cert", &s.cert),
                pem("key", &s.key),
                "ssl.cert",
                "ssl.key",
            )?,
            origin,
        });
    }

    let get = |name: &str| {
        params
            .iter()
            .rev()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    };
    let (mode_option, mode_text) = params
        .iter()
        .rev()
        .find(|(k, _)| k == "sslmode" || k == "ssl_mode")
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .unzip();
    let root = get("sslrootcert").filter(|s| !s.is_empty());
    let file = |option: &'static str, path: Option<&str>| {
        path.filter(|p| !p.is_empty()).map(|p| Pem::File {
            option,
            path: p.to_string(),
        })
    };
    let client = client_pair(
        file("sslcert", get("sslcert")),
        file("sslkey", get("sslkey")),
        "sslcert",
        "sslkey",
    )?;
    let mode = match (mode_option, mode_text) {
        (Some(option), Some(text)) => Mode::parse(text, option)?,
        // libpq 16: sslrootcert=system defaults to verify-full.
        _ if root == Some("system") => Mode::VerifyFull,
        // Certificate options without a mode: libpq's default, prefer.
        _ if root.is_some() || client.is_some() => Mode::Prefer,
        // No TLS option at all: no TLS, as node-postgres (and so Medusa) does.
        _ => Mode::Disable,
    };
    let origin = format!(
        "sslmode={}",
        mode_text.unwrap_or(match mode {
            Mode::Disable => "disable",
            Mode::Prefer => "prefer",
            _ => "verify-full",
        })
    );
    if root == Some("system") && mode != Mode::VerifyFull && mode != Mode::Disable {
        // libpq refuses this too: the public roots prove nothing without the host name.
        return Err(Error::invalid(format!(
            "weak {origin} may not be used with sslrootcert=system (use sslmode=verify-full)"
        )));
    }
    let roots = root.filter(|r| *r != "system").map(|r| Pem::File {
        option: "sslrootcert",
        path: r.to_string(),
    });
    let verify = match mode {
        Mode::Disable => Verify::None,
        // libpq: with a root certificate, prefer and require check the chain like verify-ca.
        Mode::Prefer | Mode::Require if roots.is_some() => Verify::Chain,
        Mode::Prefer | Mode::Require => Verify::None,
        Mode::VerifyCa => Verify::Chain,
        Mode::VerifyFull => Verify::Full,
    };
    Ok(TlsPlan {
        mode,
        verify,
        roots,
        client,
        origin,
    })
}

fn client_pair(
    cert: Option<Pem>,
    key: Option<Pem>,
    cert_name: &str,
    key_name: &str,
) -> Result<Option<(Pem, Pem)>> {
    match (cert, key) {
        (Some(c), Some(k)) => Ok(Some((c, k))),
        (None, None) => Ok(None),
        (Some(_), None) => Err(Error::invalid(format!(
            "{cert_name} is given without {key_name}: a client certificate needs its private key"
        ))),
        (None, Some(_)) => Err(Error::invalid(format!(
            "{key_name} is given without {cert_name}"
        ))),
    }
}

/// The pool's connector: plain, or rustls.
pub(crate) enum Connector {
    Plain,
    Tls(tokio_postgres_rustls::MakeRustlsConnect),
}

/// Everything `InventoryService::connect` needs, and what its errors should say.
pub(crate) struct Prepared {
    pub(crate) config: tokio_postgres::Config,
    pub(crate) connector: Connector,
    pub(crate) plan: TlsPlan,
    hosts: String,
}

pub(crate) fn prepare(url: &str, ssl: Option<&SslOption>) -> Result<Prepared> {
    let (rest, params) = split_tls_params(url)?;
    let plan = plan(&params, ssl)?;
    let mut config = tokio_postgres::Config::from_str(&rest)
        .map_err(|e| Error::invalid(format!("url is not a valid Postgres URL: {e}")))?;
    config.ssl_mode(match plan.mode {
        Mode::Disable => SslMode::Disable,
        Mode::Prefer => SslMode::Prefer,
        _ => SslMode::Require,
    });
    let hosts = config
        .get_hosts()
        .iter()
        .filter_map(|h| match h {
            Host::Tcp(name) => Some(name.clone()),
            #[allow(unreachable_patterns)]
            _ => None,
        })
        .collect::<Vec<_>>()
        .join(",");
    let connector = match plan.mode {
        Mode::Disable => Connector::Plain,
        _ => Connector::Tls(tokio_postgres_rustls::MakeRustlsConnect::new(
            client_config(&plan)?,
        )),
    };
    Ok(Prepared {
        config,
        connector,
        plan,
        hosts,
    })
}

fn client_config(plan: &TlsPlan) -> Result<ClientConfig> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| Error::unexpected(format!("TLS setup failed: {e}")))?;
    let verifier: Arc<dyn ServerCertVerifier> = match plan.verify {
        Verify::None => Arc::new(EncryptOnly(provider.clone())),
        Verify::Chain => Arc::new(ChainOnly(webpki_verifier(plan, provider.clone())?)),
        Verify::Full => webpki_verifier(plan, provider.clone())?,
    };
    let builder = builder
        .dangerous()
        .with_custom_certificate_verifier(verifier);
    let mut config = match &plan.client {
        None => builder.with_no_client_auth(),
        Some((cert, key)) => builder
            .with_client_auth_cert(cert.certificates()?, key.private_key()?)
            .map_err(|e| {
                Error::invalid(format!(
                    "client certificate {} with key {} cannot be used: {e}",
                    cert.describe(),
                    key.describe()
                ))
            })?,
    };
    // What libpq 17 offers; servers before 17 ignore it.
    config.alpn_protocols = vec![b"postgresql".to_vec()];
    Ok(config)
}

fn webpki_verifier(
    plan: &TlsPlan,
    provider: Arc<CryptoProvider>,
) -> Result<Arc<WebPkiServerVerifier>> {
    let mut roots = RootCertStore::empty();
    match &plan.roots {
        None => roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned()),
        Some(pem) => {
            for cert in pem.certificates()? {
                roots.add(cert).map_err(|e| {
                    Error::invalid(format!(
                        "{} holds a certificate that cannot be a trust root: {e}",
                        pem.describe()
                    ))
                })?;
            }
        }
    }
    WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider)
        .build()
        .map_err(|e| Error::invalid(format!("TLS trust roots are unusable: {e}")))
}

/// sslmode=require without a root certificate: encrypt, trust any certificate.
#[derive(Debug)]
struct EncryptOnly(Arc<CryptoProvider>);

impl ServerCertVerifier for EncryptOnly {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp: &[u8],
        _now: UnixTime,
    ) -> std::result::Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// sslmode=verify-ca: the chain must lead to a trusted root; the name is not checked.
#[derive(Debug)]
struct ChainOnly(Arc<WebPkiServerVerifier>);

impl ServerCertVerifier for ChainOnly {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp: &[u8],
        now: UnixTime,
    ) -> std::result::Result<ServerCertVerified, rustls::Error> {
        // webpki checks the chain first and the name only once the chain is good,
        // so a name mismatch here means the chain passed.
        match self
            .0
            .verify_server_cert(end_entity, intermediates, server_name, ocsp, now)
        {
            Err(rustls::Error::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
            )) => Ok(ServerCertVerified::assertion()),
            other => other,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.supported_verify_schemes()
    }
}

impl Prepared {
    /// A failed connection attempt as an error that says what went wrong with TLS.
    /// Server errors (authentication, pg_hba) keep the server's own message.
    pub(crate) fn connect_error(&self, err: deadpool_postgres::PoolError) -> Error {
        let deadpool_postgres::PoolError::Backend(pg) = &err else {
            return err.into();
        };
        // At connect time the server's and client's own words (authentication,
        // pg_hba, refused connection) are what the operator needs.
        if let Some(db) = pg.as_db_error() {
            return Error::new(ErrorType::DbError, db.message().to_string());
        }
        let origin = &self.plan.origin;
        // tokio-postgres's Display leaves out the cause; its source holds it.
        let cause = std::error::Error::source(pg).map(|s| s.to_string());
        if cause.is_some_and(|c| c.contains("server does not support TLS")) {
            return Error::new(
                ErrorType::DbError,
                format!("the server does not support TLS ({origin})"),
            );
        }
        let tls = std::error::Error::source(pg)
            .and_then(|s| s.downcast_ref::<std::io::Error>())
            .and_then(|io| io.get_ref())
            .and_then(|e| e.downcast_ref::<rustls::Error>());
        let Some(tls) = tls else {
            return Error::new(ErrorType::DbError, pg.to_string());
        };
        let roots = match &self.plan.roots {
            None => "the Mozilla root certificates".to_string(),
            Some(pem) => pem.describe(),
        };
        let message = match tls {
            rustls::Error::InvalidCertificate(c) => match c {
                CertificateError::UnknownIssuer => format!(
                    "the server's TLS certificate is not trusted: it is not issued by a CA in {roots} ({origin})"
                ),
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. } => format!(
                    "the server's TLS certificate does not match the host name '{}' ({origin}; sslmode=verify-ca checks the chain only)",
                    self.hosts
                ),
                CertificateError::Expired | CertificateError::ExpiredContext { .. } => {
                    format!("the server's TLS certificate has expired ({origin})")
                }
                other => format!("the server's TLS certificate was rejected: {other:?} ({origin})"),
            },
            rustls::Error::AlertReceived(alert) => format!(
                "the server ended the TLS handshake ({alert:?}); if it checks client certificates, check sslcert/sslkey ({origin})"
            ),
            other => format!("TLS handshake with the server failed: {other} ({origin})"),
        };
        Error::new(ErrorType::DbError, message)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn split(url: &str) -> (String, Vec<(String, String)>) {
        split_tls_params(url).unwrap()
    }

    fn plan_of(url: &str) -> TlsPlan {
        plan(&split(url).1, None).unwrap()
    }

    fn pairs(v: &[(&str, &str)]) -> Vec<(String, String)> {
        v.iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn url_tls_params_are_taken_out() {
        let (rest, ours) = split(
            "postgres://u:p%40ss@db.example:5432/app?sslmode=verify-full&application_name=x&sslrootcert=%2Fetc%2Fca.pem&connect_timeout=5",
        );
        assert_eq!(
            rest,
            "postgres://u:p%40ss@db.example:5432/app?application_name=x&connect_timeout=5"
        );
        assert_eq!(
            ours,
            pairs(&[("sslmode", "verify-full"), ("sslrootcert", "/etc/ca.pem")])
        );
        let (rest, ours) = split("postgresql://h/db?ssl_mode=require");
        assert_eq!(rest, "postgresql://h/db");
        assert_eq!(ours, pairs(&[("ssl_mode", "require")]));
        assert_eq!(split("postgres://h/db").0, "postgres://h/db");
        assert!(split_tls_params("postgres://h/db?sslrootcert=%zz").is_err());
    }

    #[test]
    fn key_value_tls_params_are_taken_out() {
        let (rest, ours) = split(
            "host=localhost  sslmode = verify-ca user=postgres sslrootcert='/tmp/my ca.pem' password='it\\'s'",
        );
        assert_eq!(rest, "host='localhost' user='postgres' password='it\\'s'");
        assert_eq!(
            ours,
            pairs(&[("sslmode", "verify-ca"), ("sslrootcert", "/tmp/my ca.pem")])
        );
        // What is left parses, and the escaped password survives.
        let cfg = tokio_postgres::Config::from_str(&rest).unwrap();
        assert_eq!(cfg.get_password(), Some(&b"it's"[..]));
        assert!(split_tls_params("host=x sslmode").is_err());
        assert!(split_tls_params("host='x").is_err());
    }

    #[test]
    fn sslmode_meanings_follow_libpq() {
        let p = plan_of("postgres://h/db");
        assert_eq!((p.mode, p.verify), (Mode::Disable, Verify::None));
        let p = plan_of("postgres://h/db?sslmode=prefer");
        assert_eq!((p.mode, p.verify), (Mode::Prefer, Verify::None));
        let p = plan_of("postgres://h/db?sslmode=require");
        assert_eq!((p.mode, p.verify), (Mode::Require, Verify::None));
        assert_eq!(p.origin, "sslmode=require");
        // require with a root certificate behaves like verify-ca.
        let p = plan_of("postgres://h/db?sslmode=require&sslrootcert=/ca.pem");
        assert_eq!((p.mode, p.verify), (Mode::Require, Verify::Chain));
        let p = plan_of("postgres://h/db?sslmode=verify-ca");
        assert_eq!(
            (p.mode, p.verify, p.roots),
            (Mode::VerifyCa, Verify::Chain, None)
        );
        let p = plan_of("postgres://h/db?ssl_mode=verify-full&sslrootcert=/ca.pem");
        assert_eq!((p.mode, p.verify), (Mode::VerifyFull, Verify::Full));
        assert_eq!(p.roots.unwrap().describe(), "sslrootcert=/ca.pem");
        let p = plan_of("postgres://h/db?sslmode=verify-full&sslrootcert=system");
        assert_eq!((p.verify, p.roots), (Verify::Full, None));
        let p = plan_of("postgres://h/db?sslrootcert=system");
        assert_eq!(p.mode, Mode::VerifyFull);
        let p = plan_of("postgres://h/db?sslrootcert=/ca.pem");
        assert_eq!((p.mode, p.verify), (Mode::Prefer, Verify::Chain));
        let p = plan_of("sslmode=disable host=h sslrootcert=/ca.pem");
        assert_eq!(p.mode, Mode::Disable);
        let p = plan_of("postgres://h/db?sslmode=no-verify");
        assert_eq!((p.mode, p.verify), (Mode::Require, Verify::None));
        // The last occurrence wins, whichever spelling.
        let p = plan_of("postgres://h/db?sslmode=disable&ssl_mode=verify-ca");
        assert_eq!(p.mode, Mode::VerifyCa);
    }

    #[test]
    fn bad_url_tls_params_are_invalid_data() {
        let err = |url: &str| plan(&split(url).1, None).unwrap_err();
        let e = err("postgres://h/db?sslmode=allow");
        assert_eq!(e.kind, ErrorType::InvalidData);
        assert!(
            e.message.contains("sslmode must be one of"),
            "{}",
            e.message
        );
        assert!(err("postgres://h/db?ssl_mode=on")
            .message
            .starts_with("ssl_mode"));
        let e = err("postgres://h/db?sslmode=require&sslrootcert=system");
        assert!(e.message.contains("sslrootcert=system"), "{}", e.message);
        let e = err("postgres://h/db?sslmode=require&sslcert=/c.pem");
        assert!(
            e.message.contains("sslcert is given without sslkey"),
            "{}",
            e.message
        );
    }

    #[test]
    fn ssl_option_shapes_follow_node_postgres() {
        let opt = |v: Value| SslOption::from_json(&v).unwrap();
        let params = pairs(&[("sslmode", "verify-full")]);
        assert_eq!(opt(Value::Null), None);
        // An explicit option wins over the URL.
        let p = plan(&params, opt(json!(false)).as_ref()).unwrap();
        assert_eq!(p.mode, Mode::Disable);
        let p = plan(&[], opt(json!(true)).as_ref()).unwrap();
        assert_eq!(
            (p.mode, p.verify, p.roots),
            (Mode::VerifyFull, Verify::Full, None)
        );
        let p = plan(
            &params,
            opt(json!({ "rejectUnauthorized": false })).as_ref(),
        )
        .unwrap();
        assert_eq!((p.mode, p.verify), (Mode::Require, Verify::None));
        let p = plan(
            &[],
            opt(json!({ "ca": "PEM", "cert": "C", "key": "K" })).as_ref(),
        )
        .unwrap();
        assert_eq!(p.verify, Verify::Full);
        assert_eq!(p.roots.unwrap().describe(), "ssl.ca");
        assert!(p.client.is_some());
        let p = plan(
            &[],
            opt(json!({ "ca": "PEM", "rejectUnauthorized": false })).as_ref(),
        )
        .unwrap();
        assert_eq!(p.verify, Verify::None);
    }

    #[test]
    fn bad_ssl_options_name_the_option_and_hide_keys() {
        let err = |v: Value| SslOption::from_json(&v).unwrap_err();
        let e = err(json!({ "servername": "x" }));
        assert_eq!(e.kind, ErrorType::InvalidData);
        assert!(e.message.contains("'servername'"), "{}", e.message);
        assert!(err(json!({ "ca": 5 })).message.contains("ca must be a PEM"));
        assert!(err(json!({ "rejectUnauthorized": "no" }))
            .message
            .contains("rejectUnauthorized"));
        assert!(err(json!("require")).message.contains("ssl must be"));
        let key = SslOption::from_json(&json!({ "cert": "C", "key": "SECRET-KEY" }))
            .unwrap()
            .unwrap();
        assert!(!format!("{key:?}").contains("SECRET"));
        let e = plan(
            &[],
            Some(
                &SslOption::from_json(&json!({ "cert": "C" }))
                    .unwrap()
                    .unwrap(),
            ),
        )
        .unwrap_err();
        assert!(e.message.contains("ssl.cert is given without ssl.key"));
    }

    #[test]
    fn unreadable_and_bad_pem_files_are_named() {
        let e = prepare(
            "postgres://h/db?sslmode=verify-full&sslrootcert=/nonexistent/ca.pem",
            None,
        )
        .err()
        .unwrap();
        assert_eq!(e.kind, ErrorType::InvalidData);
        assert!(
            e.message
                .starts_with("sslrootcert: cannot read file /nonexistent/ca.pem"),
            "{}",
            e.message
        );
        let ssl = SslOption::from_json(&json!({ "ca": "not a certificate" }))
            .unwrap()
            .unwrap();
        let e = prepare("postgres://h/db", Some(&ssl)).err().unwrap();
        assert!(
            e.message.contains("ssl.ca contains no PEM certificate"),
            "{}",
            e.message
        );
        let ssl = SslOption::from_json(
            &json!({ "rejectUnauthorized": false, "cert": "x", "key": "SECRET" }),
        )
        .unwrap()
        .unwrap();
        let e = prepare("postgres://h/db", Some(&ssl)).err().unwrap();
        assert!(
            e.message.contains("ssl.cert contains no PEM certificate"),
            "{}",
            e.message
        );
        assert!(!e.message.contains("SECRET"));
    }

    #[test]
    fn plain_connections_set_sslmode_disable() {
        // tokio-postgres defaults to prefer; without TLS options the pool must stay plain.
        let p = prepare("postgres://h/db?sslmode=disable", None).unwrap();
        assert_eq!(p.config.get_ssl_mode(), SslMode::Disable);
        assert!(matches!(p.connector, Connector::Plain));
        let p = prepare("postgres://h/db", None).unwrap();
        assert_eq!(p.config.get_ssl_mode(), SslMode::Disable);
        let p = prepare("postgres://h/db?sslmode=prefer", None).unwrap();
        assert_eq!(p.config.get_ssl_mode(), SslMode::Prefer);
        assert!(matches!(p.connector, Connector::Tls(_)));
        let p = prepare("postgres://h/db?sslmode=verify-full", None).unwrap();
        assert_eq!(p.config.get_ssl_mode(), SslMode::Require);
    }
}
