//! `<dataDir>/myid`: this server's id in the ensemble.

use std::path::Path;

use super::error::ConfigError;

/// Read `<data_dir>/myid`: an ASCII number on the first line, surrounding whitespace ignored.
pub fn read(data_dir: &Path) -> Result<u64, ConfigError> {
    let path = data_dir.join("myid");
    let bytes = match std::fs::read(&path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(ConfigError::MyId {
                path,
                message: "myid file is missing (it is required when server.N lines are present)"
                    .into(),
            })
        }
        Err(source) => return Err(ConfigError::Io { path, source }),
    };
    let text = String::from_utf8_lossy(&bytes);
    let first = text.trim().lines().next().unwrap_or("").trim();
    if !first.is_empty() && first.bytes().all(|b| b.is_ascii_digit()) {
        if let Ok(id) = first.parse() {
            return Ok(id);
        }
    }
    Err(ConfigError::MyId {
        path,
        message: format!("invalid myid \"{first}\": expected a number"),
    })
}
