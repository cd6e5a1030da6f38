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
            // The value is quoted only when it reads like a misspelt mode, never
            // when it could be something else (a password pasted in the wrong place).
            _ if s.len() <= 12 && s.chars().all(|c| c.is_ascii_lowercase() || c == '-') => {
                return Err(Error::invalid(format!(
                    "{option} must be one of disable, prefer, require, verify-ca, verify-full (got '{s}')"
                )))
            }
            _ => {
                return Err(Error::invalid(format!(
                    "{option} must be one of disable, prefer, require, verify-ca, verify-full"
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

/// Longest connection string accepted (libpq has no limit; 64 KiB is far past any real one).
pub(crate) const MAX_URL_BYTES: usize = 64 * 1024;

/// The keywords an error about the connection string may name: libpq's that
/// tokio-postgres reads, and the TLS ones read here. Any other word of the input
/// may be a piece of a password (`password=a b` has a keyword `b`), so errors
/// never show it.
const KNOWN_KEYS: [&str; 23] = [
    "user",
    "password",
    "dbname",
    "options",
    "application_name",
    "sslmode",
    "ssl_mode",
    "sslnegotiation",
    "sslrootcert",
    "sslcert",
    "sslkey",
    "host",
    "hostaddr",
    "port",
    "connect_timeout",
    "tcp_user_timeout",
    "keepalives",
    "keepalives_idle",
    "keepalives_interval",
    "keepalives_retries",
    "target_session_attrs",
    "channel_binding",
    "load_balance_hosts",
];

/// `'key'` when it is a known keyword, else words that do not repeat the input.
fn keyword(key: &str) -> String {
    if KNOWN_KEYS.contains(&key) {
        format!("'{key}'")
    } else {
        "a word that is not a known keyword (not shown: it may be part of a password)".into()
    }
}

const NOT_SHOWN: &str = "the text is not shown, as it may hold a password";

/// The connection string in the shape tokio-postgres reads, or `invalid_data`
/// that names the option and never repeats the text. Surrounding white space is
/// dropped, and so are quotes around a URL (as a `.env` file may leave them); the
/// scheme is read case-insensitively (RFC 3986) and must be `postgres` or
/// `postgresql`, followed by `//`. In a URL's user info, every `@` but the last
/// (before the query) is part of the password: it is %-encoded so tokio-postgres,
/// which splits at the first `@`, does not take the rest of the password for the
/// host. Anything without a scheme is libpq's `key=value` form.
pub(crate) fn normalize(url: &str) -> Result<String> {
    if url.len() > MAX_URL_BYTES {
        return Err(Error::invalid(format!(
            "connect option url is longer than {MAX_URL_BYTES} bytes ({NOT_SHOWN})"
        )));
    }
    if url.contains('\0') {
        return Err(Error::invalid(format!(
            "connect option url contains a NUL character ({NOT_SHOWN})"
        )));
    }
    let mut s = url.trim();
    for q in ['"', '\''] {
        if s.len() >= 2 && s.starts_with(q) && s.ends_with(q) {
            let inner = s[1..s.len() - 1].trim();
            if scheme_of(inner).is_some() {
                s = inner;
            }
        }
    }
    if s.is_empty() {
        return Err(Error::invalid("connect option url is empty"));
    }
    let Some(colon) = scheme_of(s) else {
        return Ok(s.to_string());
    };
    let scheme = s[..colon].to_ascii_lowercase();
    if scheme != "postgres" && scheme != "postgresql" {
        return Err(Error::invalid(format!(
            "connect option url must be a postgres:// or postgresql:// URL or libpq key=value pairs; its scheme is neither ({NOT_SHOWN})"
        )));
    }
    let Some(rest) = s[colon + 1..].strip_prefix("//") else {
        return Err(Error::invalid(format!(
            "connect option url must start with {scheme}:// (two slashes after the scheme; {NOT_SHOWN})"
        )));
    };
    let query = rest.find('?').unwrap_or(rest.len());
    let rest = match rest[..query].rfind('@') {
        Some(at) => format!("{}{}", rest[..at].replace('@', "%40"), &rest[at..]),
        None => rest.to_string(),
    };
    Ok(format!("{scheme}://{rest}"))
}

/// Where a URL's scheme ends (its `:`), when `s` starts with one: a letter, then
/// letters, digits, `+`, `-` or `.` (so `host=h` and `password=a:b` are not URLs).
fn scheme_of(s: &str) -> Option<usize> {
    let colon = s.find(':')?;
    let scheme = &s[..colon];
    let mut chars = scheme.chars();
    let first = chars.next()?;
    (first.is_ascii_alphabetic()
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.')))
    .then_some(colon)
}

/// The connection string without the TLS parameters, and those parameters (last one wins).
pub(crate) fn split_tls_params(url: &str) -> Result<(String, Vec<(String, String)>)> {
    let url = normalize(url)?;
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        split_url(&url)
    } else {
        split_key_values(&url)
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
        skip_whitespace(&mut chars);
        if chars.peek().is_none() {
            break;
        }
        let mut key = String::new();
        while let Some(c) = chars.next_if(|c| !c.is_whitespace() && *c != '=') {
            key.push(c);
        }
        skip_whitespace(&mut chars);
        if chars.next() != Some('=') {
            return Err(Error::invalid(format!(
                "connect option url is not a valid Postgres connection string: expected '=' after {}",
                keyword(&key)
            )));
        }
        skip_whitespace(&mut chars);
        let value = if chars.next_if_eq(&'\'').is_some() {
            quoted_value(&mut chars, &key)?
        } else {
            bare_value(&mut chars)
        };
        if URL_PARAMS.contains(&key.as_str()) {
            ours.push((key, value));
        } else {
            let quoted = value.replace('\\', "\\\\").replace('\'', "\\'");
            kept.push(format!("{key}='{quoted}'"));
        }
    }
    Ok((kept.join(" "), ours))
}

type KeyValueChars<'a> = std::iter::Peekable<std::str::Chars<'a>>;

fn skip_whitespace(chars: &mut KeyValueChars<'_>) {
    while chars.next_if(|c| c.is_whitespace()).is_some() {}
}

/// A value after its opening quote, up to the closing one; `\` escapes the next character.
fn quoted_value(chars: &mut KeyValueChars<'_>, key: &str) -> Result<String> {
    let mut value = String::new();
    loop {
        match chars.next() {
            Some('\'') => return Ok(value),
            Some('\\') => value.extend(chars.next()),
            Some(c) => value.push(c),
            None => {
                return Err(Error::invalid(format!(
                    "connect option url is not a valid Postgres connection string: the quoted value of {} has no closing quote",
                    keyword(key)
                )))
            }
        }
    }
}

/// An unquoted value, up to whitespace; `\` escapes the next character.
fn bare_value(chars: &mut KeyValueChars<'_>) -> String {
    let mut value = String::new();
    while let Some(c) = chars.next_if(|c| !c.is_whitespace()) {
        if c == '\\' {
            value.extend(chars.next());
        } else {
            value.push(c);
        }
    }
    value
}

/// What to do, from the `ssl` option when given, else from the URL's parameters.
pub(crate) fn plan(params: &[(String, String)], ssl: Option<&SslOption>) -> Result<TlsPlan> {
    match ssl {
        Some(SslOption(node)) => plan_from_option(node.as_ref()),
        None => plan_from_url(params),
    }
}

/// The `ssl` option as node-postgres reads it: `false` is no TLS; an object is TLS,
/// checked unless `rejectUnauthorized: false`.
fn plan_from_option(node: Option<&NodeSsl>) -> Result<TlsPlan> {
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
    let pem = |option, text: &Option<String>| text.clone().map(|text| Pem::Inline { option, text });
    // As node: rejectUnauthorized (default true) checks the chain and the host name.
    let (mode, verify) = if s.reject_unauthorized {
        (Mode::VerifyFull, Verify::Full)
    } else {
        (Mode::Require, Verify::None)
    };
    Ok(TlsPlan {
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
    })
}

/// The URL's `sslmode` (or `ssl_mode`), `sslrootcert`, `sslcert` and `sslkey`, as libpq
/// reads them; the last of a repeated parameter counts.
fn plan_from_url(params: &[(String, String)]) -> Result<TlsPlan> {
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
    /// What connect errors must not show.
    pub(crate) secrets: Secrets,
}

pub(crate) fn prepare(url: &str, ssl: Option<&SslOption>) -> Result<Prepared> {
    let secrets = Secrets::of(url);
    let mut prepared = prepare_unscrubbed(url, ssl).map_err(|e| secrets.scrub(e))?;
    if let Some(p) = prepared.config.get_password() {
        prepared.secrets.add(&String::from_utf8_lossy(p));
    }
    prepared.secrets.extend(secrets);
    Ok(prepared)
}

/// The user for a connection string that names none, on macOS. Elsewhere tokio-postgres
/// asks the OS (whoami), as libpq does; on macOS whoami is its stub (Cargo.toml: the real one
/// needs Apple's frameworks), which knows no user. There it is what libpq users set and shells
/// export: `PGUSER`, then `USER`, then `LOGNAME` (none set: the stub's "anonymous").
fn default_user(env: impl Fn(&str) -> Option<String>) -> Option<String> {
    ["PGUSER", "USER", "LOGNAME"]
        .into_iter()
        .filter_map(env)
        .find(|u| !u.is_empty())
}

/// tokio-postgres's parse error in words that never repeat the input: its
/// "invalid value for option `port`" names a keyword of its own; an unknown
/// option's name comes from the input, so it is not shown.
fn config_error(e: &tokio_postgres::Error) -> Error {
    let cause = std::error::Error::source(e)
        .map(|c| c.to_string())
        .unwrap_or_default();
    let named = KNOWN_KEYS
        .iter()
        .find(|k| cause == format!("invalid value for option `{k}`"));
    let what = match named {
        Some(k) => format!("the value of '{k}' is invalid"),
        None if cause.starts_with("unknown option") => format!(
            "it has an option that is not one of {} ({NOT_SHOWN})",
            KNOWN_KEYS.join(", ")
        ),
        None => format!("it cannot be parsed ({NOT_SHOWN})"),
    };
    Error::invalid(format!(
        "connect option url is not a valid Postgres connection string: {what}"
    ))
}

fn prepare_unscrubbed(url: &str, ssl: Option<&SslOption>) -> Result<Prepared> {
    let (rest, params) = split_tls_params(url)?;
    let plan = plan(&params, ssl)?;
    let mut config = tokio_postgres::Config::from_str(&rest).map_err(|e| config_error(&e))?;
    if cfg!(target_vendor = "apple") && config.get_user().is_none() {
        if let Some(user) = default_user(|k| std::env::var(k).ok()) {
            config.user(user);
        }
    }
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
        secrets: Secrets::default(),
    })
}

/// What a message about a connection must never contain: the password as
/// parsed, and whatever in the text may be one (the user info of anything
/// URL-like, up to each of its `@`s; every `password=` value), raw, %-decoded and
/// %-encoded. Errors are built not to repeat the text; this is the net under that.
#[derive(Default, Clone)]
pub(crate) struct Secrets(Vec<String>);

impl fmt::Debug for Secrets {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Secrets({} redacted)", self.0.len())
    }
}

/// Shorter candidates are not redacted: a message would lose its words to them.
const MIN_SECRET_CHARS: usize = 3;
/// Candidates kept from one connection string (each form counts).
const MAX_SECRETS: usize = 64;
/// `@`s and `password=`s looked at in one connection string (work stays linear).
const MAX_CANDIDATES: usize = 8;

impl Secrets {
    pub(crate) fn of(text: &str) -> Self {
        let mut s = Secrets::default();
        if text.len() > MAX_URL_BYTES {
            // Refused by `normalize` without a word of it: nothing to look for.
            return s;
        }
        // URL-like user info: from the first ':' after "//" to each '@' after it.
        if let Some(start) = text.find("//").map(|i| i + 2) {
            let after = &text[start..];
            if let Some(colon) = after.find(':') {
                for (at, _) in after
                    .match_indices('@')
                    .filter(|(at, _)| *at > colon)
                    .take(MAX_CANDIDATES)
                {
                    s.add(&after[colon + 1..at]);
                    s.add(&after[..at]);
                }
            }
        }
        // `password=` values, URL parameter or key=value, quoted or not.
        let lower = text.to_ascii_lowercase();
        for (i, m) in lower.match_indices("password").take(MAX_CANDIDATES) {
            let rest = text[i + m.len()..].trim_start();
            let Some(rest) = rest.strip_prefix('=') else {
                continue;
            };
            let rest = rest.trim_start();
            let value = match rest.strip_prefix('\'') {
                Some(q) => q.split('\'').next().unwrap_or(q),
                None => rest
                    .split(|c: char| c == '&' || c.is_whitespace())
                    .next()
                    .unwrap_or(rest),
            };
            s.add(value);
        }
        s
    }

    pub(crate) fn add(&mut self, secret: &str) {
        let decoded = percent_decode(secret, "").ok();
        let encoded: String = secret
            .bytes()
            .map(|b| match b {
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                    (b as char).to_string()
                }
                _ => format!("%{b:02X}"),
            })
            .collect();
        for form in [Some(secret.to_string()), decoded, Some(encoded)]
            .into_iter()
            .flatten()
        {
            if form.chars().count() >= MIN_SECRET_CHARS
                && self.0.len() < MAX_SECRETS
                && !self.0.contains(&form)
            {
                self.0.push(form);
            }
        }
        // Longest first, so a secret inside another is not left half-shown.
        self.0.sort_by_key(|s| std::cmp::Reverse(s.len()));
    }

    fn extend(&mut self, other: Secrets) {
        for s in other.0 {
            if self.0.len() < MAX_SECRETS && !self.0.contains(&s) {
                self.0.push(s);
            }
        }
        self.0.sort_by_key(|s| std::cmp::Reverse(s.len()));
    }

    fn clean(&self, text: &str) -> String {
        let mut out = text.to_string();
        for s in &self.0 {
            if out.contains(s.as_str()) {
                out = out.replace(s.as_str(), "<redacted>");
            }
        }
        out
    }

    /// The error with every secret taken out of its message and cause.
    pub(crate) fn scrub(&self, mut e: Error) -> Error {
        if self.0.is_empty() {
            return e;
        }
        e.message = self.clean(&e.message);
        e.cause = e.cause.map(|c| self.clean(&c));
        e
    }
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
        self.secrets.scrub(self.connect_error_unscrubbed(err))
    }

    fn connect_error_unscrubbed(&self, err: deadpool_postgres::PoolError) -> Error {
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
        match tls {
            Some(tls) => Error::new(ErrorType::DbError, self.tls_failure(tls)),
            None if pg.to_string() == crate::error::TIMEOUT_TEXT => self.timed_out(pg),
            None => Error::new(ErrorType::DbError, pg.to_string()),
        }
    }

    /// Every host let its connect_timeout pass.
    fn timed_out(&self, pg: &tokio_postgres::Error) -> Error {
        let bound = self
            .config
            .get_connect_timeout()
            .unwrap_or(&crate::hosts::DEFAULT_CONNECT_TIMEOUT)
            .as_secs();
        Error::new(
            ErrorType::DbError,
            format!(
                "no database server answered in time: each host ({}) was given {bound} s to connect, set up TLS, authenticate and pass target_session_attrs (URL parameter connect_timeout, default {} s)",
                self.hosts,
                crate::hosts::DEFAULT_CONNECT_TIMEOUT.as_secs()
            ),
        )
        .with_cause(Some(crate::error::UNABLE_TO_CONNECT), pg.to_string())
    }

    /// A failed TLS handshake, said as what to check and where the setting came from.
    fn tls_failure(&self, tls: &rustls::Error) -> String {
        let origin = &self.plan.origin;
        let roots = match &self.plan.roots {
            None => "the Mozilla root certificates".to_string(),
            Some(pem) => pem.describe(),
        };
        match tls {
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
        }
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
    fn default_user_is_pguser_then_user_then_logname() {
        fn env<'a>(vars: &'a [(&str, &str)]) -> impl Fn(&str) -> Option<String> + 'a {
            move |k| {
                vars.iter()
                    .find(|(n, _)| *n == k)
                    .map(|(_, v)| v.to_string())
            }
        }
        let all = [("PGUSER", "pg"), ("USER", "u"), ("LOGNAME", "l")];
        assert_eq!(default_user(env(&all)).as_deref(), Some("pg"));
        assert_eq!(default_user(env(&all[1..])).as_deref(), Some("u"));
        assert_eq!(default_user(env(&all[2..])).as_deref(), Some("l"));
        assert_eq!(
            default_user(env(&[("PGUSER", ""), ("LOGNAME", "l")])).as_deref(),
            Some("l")
        );
        assert_eq!(default_user(env(&[])), None);
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

    const PW: &str = "s3cr3t-Pa55-XYZ";

    /// `text` must not hold the password in any of its usual forms.
    fn assert_hidden(text: &str) {
        for form in [PW, "s3cr3t", "Pa55-XYZ", "s3cr3t%2DPa55"] {
            assert!(!text.contains(form), "{text}");
        }
    }

    #[test]
    fn connection_strings_of_every_shape_are_refused_without_their_text() {
        let bad = [
            format!("postgis://u:{PW}@h/db"),
            format!("mysql://u:{PW}@h/db"),
            format!("postgres:/u:{PW}@h/db"),
            format!("postgres:u:{PW}@h/db"),
            "postgres:".to_string(),
            format!("pg+x.y-z://u:{PW}@h/db"),
            format!("\"postgis://u:{PW}@h/db\""),
            format!("u:{PW}@h/db"),
            PW.to_string(),
            format!("host=h password={PW} sslmode"),
            "host=h password=s3cr3t Pa55-XYZ".to_string(),
            format!("host=h password='{PW}"),
            format!("host=h password={PW} port=notaport"),
            format!("host=h p{PW}=x"),
            format!("postgres://u:{PW}@h/db?nonsense={PW}"),
            format!("postgres://u:{PW}@h:notaport/db"),
            format!("postgres://u:{PW}@[::1/db"),
            format!("postgres://u:{PW}@h/db?sslmode=bogus"),
            format!("host=h sslmode={PW}"),
            format!("postgres://u:{PW}@h/db?{PW}"),
            format!("postgres://u:{PW}@h/db?sslrootcert=%zz{PW}"),
            format!("postgres://u:{PW}@h/db\0"),
            format!(
                "postgres://u:{PW}@h/db?application_name={}",
                "x".repeat(MAX_URL_BYTES)
            ),
            format!("postgres://u:{PW}@h/db?options=%FF%FE{PW}"),
            "   ".to_string(),
            String::new(),
        ];
        for url in &bad {
            let e = prepare(url, None)
                .err()
                .unwrap_or_else(|| panic!("accepted {url:?}"));
            assert_eq!(e.kind, ErrorType::InvalidData, "{url:?}: {}", e.message);
            assert!(
                e.message.to_lowercase().contains("url") || e.message.starts_with("sslmode"),
                "{url:?}: {}",
                e.message
            );
            assert_hidden(&e.message);
            assert_hidden(&format!("{e:?}"));
        }
        let e = prepare(&format!("POSTGIS://u:{PW}@h/db"), None)
            .err()
            .unwrap();
        assert!(
            e.message.contains("postgres:// or postgresql://"),
            "{}",
            e.message
        );
        let e = prepare(&format!("postgres:/u:{PW}@h/db"), None)
            .err()
            .unwrap();
        assert!(e.message.contains("postgres://"), "{}", e.message);
        let e = prepare(&format!("host=h port=x password={PW}"), None)
            .err()
            .unwrap();
        assert!(e.message.contains("'port'"), "{}", e.message);
        let e = prepare(&format!("host=h password='{PW}"), None)
            .err()
            .unwrap();
        assert!(
            e.message.contains("'password' has no closing quote"),
            "{}",
            e.message
        );
    }

    #[test]
    fn connection_strings_of_every_usable_shape_are_read() {
        let pw = |url: &str| {
            let p = prepare(url, None).unwrap_or_else(|e| panic!("{url:?}: {}", e.message));
            let got = p
                .config
                .get_password()
                .map(|b| String::from_utf8_lossy(b).to_string());
            (got, p.config.get_hosts().to_vec())
        };
        let host = vec![Host::Tcp("h".into())];
        for url in [
            format!("postgres://u:{PW}@h/db"),
            format!("  postgres://u:{PW}@h/db \n"),
            format!("\"postgres://u:{PW}@h/db\""),
            format!("'postgresql://u:{PW}@h/db'"),
            format!("POSTGRES://u:{PW}@h/db"),
            format!("PostgreSQL://u:{PW}@h/db"),
            "postgres://u:s3cr3t%2DPa55%2DXYZ@h/db".to_string(),
            format!("postgres://u@h/db?password={PW}"),
            format!("host=h user=u password={PW}"),
            format!(" host=h password='{PW}' "),
        ] {
            assert_eq!(pw(&url), (Some(PW.to_string()), host.clone()), "{url:?}");
        }
        // Characters that end or split a URL's parts, unencoded in the password.
        for secret in ["p@ss@word", "p:a/s?s#w=o'r d", "a@b:c"] {
            let (got, hosts) = pw(&format!("postgres://u:{secret}@h/db?application_name=x"));
            assert_eq!(
                (got.as_deref(), hosts),
                (Some(secret), host.clone()),
                "{secret}"
            );
        }
        let (got, _) = pw("host=h password='it\\'s a \"@:/?#%=\" pass'");
        assert_eq!(got.as_deref(), Some("it's a \"@:/?#%=\" pass"));
    }

    #[test]
    fn secrets_are_scrubbed_in_every_form() {
        let mut s = Secrets::of("postgres://u:s3cr3t%2DPa55%2DXYZ@h/db");
        s.add("x");
        let e = s.scrub(
            Error::invalid(format!("a {PW} b s3cr3t%2DPa55%2DXYZ c x"))
                .with_cause(None, format!("cause {PW}")),
        );
        assert_eq!(e.message, "a <redacted> b <redacted> c x");
        assert_eq!(e.cause.as_deref(), Some("cause <redacted>"));
        let s = Secrets::of(&format!("host=h password = '{PW}' user=u"));
        assert_eq!(s.clean(PW), "<redacted>");
        let s = Secrets::of(&format!("postgres://u@h/db?Password={PW}&x=1"));
        assert_eq!(s.clean(PW), "<redacted>");
        // A string of '@'s or 'password='s costs linear work, and one too long none.
        let many = format!("postgres://u:{}", "ab@".repeat(20_000));
        assert!(Secrets::of(&many).0.len() <= MAX_SECRETS);
        let many = format!("host=h {}", "password=abc ".repeat(5_000));
        assert!(Secrets::of(&many).0.len() <= MAX_SECRETS);
        assert!(Secrets::of(&"@:".repeat(MAX_URL_BYTES)).0.is_empty());
        // The user info up to each '@': whichever one a parser took.
        let s = Secrets::of("postgres://u:abc@cd@h/db");
        assert_eq!(s.clean("abc@cd abc"), "<redacted> <redacted>");
        assert!(!format!("{s:?}").contains("abc"));
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
