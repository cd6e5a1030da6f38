//! Errors carrying Medusa's `MedusaError.Types` strings so the JS side can
//! rethrow them with the same `type` (and, where Medusa has one, message).

use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorType {
    NotFound,
    InvalidData,
    NotAllowed,
    Conflict,
    DbError,
    Unexpected,
}

impl ErrorType {
    pub const ALL: [ErrorType; 6] = [
        ErrorType::NotFound,
        ErrorType::InvalidData,
        ErrorType::NotAllowed,
        ErrorType::Conflict,
        ErrorType::DbError,
        ErrorType::Unexpected,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ErrorType::NotFound => "not_found",
            ErrorType::InvalidData => "invalid_data",
            ErrorType::NotAllowed => "not_allowed",
            ErrorType::Conflict => "conflict",
            ErrorType::DbError => "database_error",
            ErrorType::Unexpected => "unexpected_state",
        }
    }
}

/// Medusa's `code` of a compare-and-set refused because the level moved since it was
/// read (Shopify's name for the same refusal).
pub const COMPARE_QUANTITY_STALE: &str = "COMPARE_QUANTITY_STALE";

/// Every error the core returns. Each field has one meaning at every layer: the addon
/// rejects with `type` (from `kind`), `message`, `code`, `sqlState` and `cause`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error {
    /// Medusa's `type`.
    pub kind: ErrorType,
    pub message: String,
    /// Medusa's `code` (as in `MedusaError.Codes`): a constant refining the type
    /// that callers match on, never an SQLSTATE. Set only by [`Error::with_code`].
    code: Option<&'static str>,
    /// For logs, never shown as the message: the SQLSTATE of a database error.
    pub sql_state: Option<String>,
    /// For logs, never shown as the message: the raw database or panic text.
    pub cause: Option<String>,
}

pub type Result<T> = std::result::Result<T, Error>;

impl Error {
    pub fn new(kind: ErrorType, message: impl Into<String>) -> Self {
        Error {
            kind,
            message: message.into(),
            code: None,
            sql_state: None,
            cause: None,
        }
    }
    /// Attaches the SQLSTATE and raw cause, kept out of the message.
    pub fn with_cause(mut self, sql_state: Option<&str>, cause: impl Into<String>) -> Self {
        self.sql_state = sql_state.map(str::to_string);
        self.cause = Some(cause.into());
        self
    }
    /// Attaches Medusa's `code`, one of this module's constants.
    pub fn with_code(mut self, code: &'static str) -> Self {
        self.code = Some(code);
        self
    }
    pub fn code(&self) -> Option<&'static str> {
        self.code
    }
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(ErrorType::NotFound, message)
    }
    pub fn invalid(message: impl Into<String>) -> Self {
        Self::new(ErrorType::InvalidData, message)
    }
    pub fn not_allowed(message: impl Into<String>) -> Self {
        Self::new(ErrorType::NotAllowed, message)
    }
    pub fn unexpected(message: impl Into<String>) -> Self {
        Self::new(ErrorType::Unexpected, message)
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "[{}] {}", self.kind.as_str(), self.message)
    }
}

impl std::error::Error for Error {}

fn upper_first(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_uppercase().collect::<String>() + c.as_str(),
        None => String::new(),
    }
}

/// Splits a Postgres constraint detail such as
/// `Key (inventory_item_id, location_id)=(a, b) already exists.` into keys and values.
fn constraint_info(detail: &str) -> Option<(Vec<String>, Vec<String>)> {
    let mut groups = Vec::new();
    let mut rest = detail;
    while let Some(start) = rest.find('(') {
        let end = rest[start..].find(')')? + start;
        groups.push(rest[start + 1..end].to_string());
        rest = &rest[end + 1..];
        if groups.len() == 2 {
            break;
        }
    }
    if groups.len() < 2 {
        return None;
    }
    let split = |s: &str| s.split(',').map(|p| p.trim().to_string()).collect();
    Some((split(&groups[0]), split(&groups[1])))
}

/// `key: value` pairs of a constraint detail, joined by `separator`.
fn key_values(detail: Option<&str>, separator: &str) -> Option<String> {
    let (keys, values) = detail.and_then(constraint_info)?;
    let pairs: Vec<_> = keys
        .iter()
        .zip(values.iter())
        .map(|(k, v)| format!("{k}: {v}"))
        .collect();
    Some(pairs.join(separator))
}

impl From<tokio_postgres::Error> for Error {
    fn from(err: tokio_postgres::Error) -> Self {
        match err.as_db_error() {
            Some(db) => from_db_error(db),
            // Lost connections, unreadable responses: the client library's text is
            // for logs; the caller learns the database call failed.
            None => Error::new(
                ErrorType::DbError,
                "the database connection failed or returned an unreadable response",
            )
            .with_cause(Some(CONNECTION_FAILURE), err.to_string()),
        }
    }
}

/// An error the server answered with: Medusa's type and message, and for logs its
/// SQLSTATE and raw text (which may hold row values, so never the message).
fn from_db_error(db: &tokio_postgres::error::DbError) -> Error {
    let sql_state = db.code().code();
    let table = upper_first(&db.table().unwrap_or("").replace('_', " "));
    let error = match sql_state {
        // Same wording as Medusa's dbErrorMapper, so callers matching on it keep working.
        "23505" => match key_values(db.detail(), ", ") {
            Some(pairs) => Error::invalid(format!("{table} with {pairs}, already exists.")),
            None => Error::invalid(format!("{table} already exists")),
        },
        "23503" => {
            let pairs = key_values(db.detail(), ",").unwrap_or_default();
            Error::not_found(format!(
                "You tried to set relationship {pairs}, but such entity does not exist"
            ))
        }
        "23502" => Error::invalid(format!(
            "Cannot set field '{}' of {table} to null",
            db.column().unwrap_or("?"),
        )),
        // Input validation should have caught these; the message stays generic.
        c if c.starts_with("22") => Error::invalid(format!(
            "a value was rejected by the database (SQLSTATE {c})"
        )),
        "40P01" | "40001" => Error::new(
            ErrorType::Conflict,
            "the call conflicted with a concurrent one; retry it",
        ),
        c => Error::new(
            ErrorType::DbError,
            format!("the database refused the call (SQLSTATE {c})"),
        ),
    };
    error.with_cause(Some(sql_state), db.message())
}

impl From<deadpool_postgres::PoolError> for Error {
    fn from(err: deadpool_postgres::PoolError) -> Self {
        match err {
            // Every host of the URL let its connect_timeout pass (hosts.rs): no
            // connection could be made in time, as when the pool's own wait ends.
            deadpool_postgres::PoolError::Backend(e) if e.to_string() == TIMEOUT_TEXT => {
                Error::new(
                    ErrorType::DbError,
                    "no database connection could be made in time (the server, or any primary, is unreachable); retry",
                )
                .with_cause(Some(UNABLE_TO_CONNECT), e.to_string())
            }
            deadpool_postgres::PoolError::Backend(e) => e.into(),
            // Every pooled connection stayed busy (load, not a lost server).
            deadpool_postgres::PoolError::Timeout(deadpool_postgres::TimeoutType::Wait) => {
                Error::new(
                    ErrorType::DbError,
                    "no pooled database connection became free in time (connect option acquireTimeoutMs); retry",
                )
            }
            deadpool_postgres::PoolError::Timeout(_) => Error::new(
                ErrorType::DbError,
                "no database connection could be made in time (the server, or any primary, is unreachable); retry",
            )
            .with_cause(Some(UNABLE_TO_CONNECT), err.to_string()),
            other => Error::new(ErrorType::DbError, other.to_string()),
        }
    }
}

/// How tokio-postgres's timeout error reads (`Error::__private_api_timeout`, what
/// a host that let its connect_timeout pass gives; hosts.rs).
pub(crate) const TIMEOUT_TEXT: &str = "timeout waiting for server";

/// SQLSTATE given to a connection that failed mid-call (libpq's class 08).
pub const CONNECTION_FAILURE: &str = "08006";
/// SQLSTATE given to a call that got no connection in time.
pub const UNABLE_TO_CONNECT: &str = "08001";

impl Error {
    /// The call found its server gone, restarting, or no longer the primary
    /// (read-only after a failover): the connections to it are of no more use.
    /// Such calls are retryable (with an idempotency key, exactly once).
    pub fn server_lost(&self) -> bool {
        self.sql_state.as_deref().is_some_and(|c| {
            c.starts_with("08") || matches!(c, "25006" | "57P01" | "57P02" | "57P03")
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_constraint_detail() {
        let (k, v) = constraint_info(
            "Key (inventory_item_id, location_id)=(iitem_1, loc_1) already exists.",
        )
        .unwrap();
        assert_eq!(k, vec!["inventory_item_id", "location_id"]);
        assert_eq!(v, vec!["iitem_1", "loc_1"]);
    }

    #[test]
    fn display_prefixes_type() {
        assert_eq!(
            Error::not_found("x").to_string(),
            "[not_found] x".to_string()
        );
    }
}
