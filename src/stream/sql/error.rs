//! The one error type of the SQL front end. Every message names the clause or value at fault,
//! because the user sees it verbatim when their job file is rejected.

/// Why a job file, an option or a data field was rejected.
#[derive(Debug, thiserror::Error)]
pub(crate) enum SqlError {
    /// sqlparser could not read the text.
    #[error("SQL syntax error: {0}")]
    Syntax(String),
    /// Valid SQL that a stream job cannot run, e.g. "JOIN".
    #[error("{0} is not supported")]
    Unsupported(String),
    /// A column name that is not in the table it is resolved against.
    #[error("unknown column `{name}` in {clause}")]
    UnknownColumn {
        /// The name as written.
        name: String,
        /// Where it was written, e.g. "WHERE".
        clause: &'static str,
    },
    /// A job that is well-formed SQL but inconsistent, e.g. a missing table.
    #[error("{0}")]
    Invalid(String),
    /// A data field or option value that does not parse as its type.
    #[error("bad value `{text}`: expected {expected}")]
    BadValue {
        /// The offending text.
        text: String,
        /// What it should have been.
        expected: String,
    },
}

impl SqlError {
    pub(crate) fn unsupported(what: impl Into<String>) -> SqlError {
        SqlError::Unsupported(what.into())
    }

    pub(crate) fn invalid(what: impl Into<String>) -> SqlError {
        SqlError::Invalid(what.into())
    }

    pub(crate) fn bad_value(text: &str, expected: impl Into<String>) -> SqlError {
        SqlError::BadValue {
            text: text.to_string(),
            expected: expected.into(),
        }
    }
}
