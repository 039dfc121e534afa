//! The one error type of the configuration layer, and where a setting came from.

use std::fmt;
use std::path::PathBuf;

/// Where a key/value pair was read: a line of a config file, or a `-Dkey=value` override.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    /// A line of a properties file (1-based; the first line of a continued logical line).
    File {
        /// The file, as it was named.
        path: PathBuf,
        /// 1-based line number.
        line: usize,
    },
    /// A `-Dkey=value` override.
    Override {
        /// The key, as it was spelled.
        key: String,
    },
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Origin::File { path, line } => write!(f, "{}:{}", path.display(), line),
            Origin::Override { key } => write!(f, "-D{key}"),
        }
    }
}

/// Why the configuration could not be loaded. Every variant stops start-up.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// A file could not be read.
    #[error("cannot read {}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// A line of a properties file could not be parsed (e.g. a malformed `\uxxxx` escape).
    #[error("{}:{line}: {message}", path.display())]
    Syntax {
        /// The file.
        path: PathBuf,
        /// 1-based line number.
        line: usize,
        /// What is wrong.
        message: String,
    },
    /// A key has a value that cannot be used.
    #[error("{origin}: invalid value \"{value}\" for {key}: {reason}")]
    InvalidValue {
        /// Where the key/value pair was read.
        origin: Origin,
        /// The key, as it was spelled.
        key: String,
        /// The (trimmed) value.
        value: String,
        /// What was expected instead.
        reason: String,
    },
    /// A required setting is absent, or settings contradict each other
    /// (`source` names the file, or `command line` without one).
    #[error("{source_name}: {message}")]
    Invalid {
        /// The config file, or `-D overrides` when there is none.
        source_name: String,
        /// What is wrong, in ZooKeeper's words where it has some (e.g. `dataDir is not set`).
        message: String,
    },
    /// `dataDir/myid` is missing or unreadable or not a number.
    #[error("{}: {message}", path.display())]
    MyId {
        /// The myid file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// A command-line argument is not of the form `-Dkey=value`.
    #[error("invalid argument \"{arg}\": {reason}")]
    BadArgument {
        /// The argument as given.
        arg: String,
        /// What was expected.
        reason: String,
    },
}
