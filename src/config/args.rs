//! `-Dkey=value` command-line arguments.

use super::error::ConfigError;

/// Turn `-Dkey=value` arguments into `(key, value)` overrides for [`Config::load`](super::Config::load).
/// The value runs from the first `=` and may be empty; `-Dkey` without `=`, an empty key, or
/// an argument not starting with `-D` is an error.
pub fn parse_system_property_args(args: &[String]) -> Result<Vec<(String, String)>, ConfigError> {
    args.iter()
        .map(|arg| {
            let bad = |reason: &str| ConfigError::BadArgument {
                arg: arg.clone(),
                reason: reason.into(),
            };
            let body = arg
                .strip_prefix("-D")
                .ok_or_else(|| bad("expected -Dkey=value"))?;
            let (key, value) = body
                .split_once('=')
                .ok_or_else(|| bad("expected -Dkey=value (no = found)"))?;
            if key.trim().is_empty() {
                return Err(bad("expected -Dkey=value (empty key)"));
            }
            Ok((key.to_string(), value.to_string()))
        })
        .collect()
}
