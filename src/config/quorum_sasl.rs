//! SASL between quorum peers (DIGEST-MD5), configured as ZooKeeper 3.8's QuorumPeerConfig
//! reads it: the zoo.cfg keys `quorum.auth.enableSasl`, `quorum.auth.learnerRequireSasl`,
//! `quorum.auth.serverRequireSasl`, `quorum.auth.learner.saslLoginContext` (default
//! `QuorumLearner`), `quorum.auth.server.saslLoginContext` (default `QuorumServer`),
//! `quorum.auth.kerberos.servicePrincipal` and `quorum.cnxn.threads.size` (here also
//! spelled with `zookeeper.`, like every modelled key), and the JAAS file of
//! `java.security.auth.login.config`: the server section's DigestLoginModule
//! `user_NAME="password"` options are the learners it accepts, the learner section's
//! `username`/`password` what this server presents.

use std::collections::BTreeMap;
use std::path::PathBuf;

use super::error::ConfigError;
use super::sasl::read_jaas;
use super::tls::zk_property;

const ENABLE: &str = "quorum.auth.enableSasl";
const LEARNER_REQUIRE: &str = "quorum.auth.learnerRequireSasl";
const SERVER_REQUIRE: &str = "quorum.auth.serverRequireSasl";
const LEARNER_CONTEXT: &str = "quorum.auth.learner.saslLoginContext";
const SERVER_CONTEXT: &str = "quorum.auth.server.saslLoginContext";
const SERVICE_PRINCIPAL: &str = "quorum.auth.kerberos.servicePrincipal";
const CNXN_THREADS: &str = "quorum.cnxn.threads.size";

/// The quorum's SASL settings, when `quorum.auth.enableSasl=true`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QuorumSaslConfig {
    /// `quorum.auth.learnerRequireSasl`: this server authenticates when it dials a peer
    /// (election port) or the leader (quorum port); without it, it never tries.
    pub learner_require: bool,
    /// `quorum.auth.serverRequireSasl`: a peer that does not authenticate, or fails to,
    /// is closed; without it, it is let in either way.
    pub server_require: bool,
    /// `quorum.auth.learner.saslLoginContext`.
    pub learner_context: String,
    /// `quorum.auth.server.saslLoginContext`.
    pub server_context: String,
    /// `quorum.auth.kerberos.servicePrincipal` (read; Kerberos is not supported).
    pub service_principal: String,
    /// The learner section's DigestLoginModule `username` and `password`; `None` when
    /// it has none (a Kerberos section): authenticating then fails.
    pub login: Option<(String, String)>,
    /// The server section's DIGEST-MD5 users (`user_NAME="password"`).
    pub users: BTreeMap<String, String>,
    /// The JAAS file.
    pub jaas_file: PathBuf,
}

/// Whether [`resolve`] reads `key` (with or without `zookeeper.`).
pub(crate) fn is_quorum_sasl_key(key: &str) -> bool {
    let k = key.strip_prefix("zookeeper.").unwrap_or(key);
    k.starts_with("quorum.auth.") || k == CNXN_THREADS
}

fn flag(raw: &BTreeMap<String, String>, key: &str) -> Result<bool, String> {
    match zk_property(raw, key) {
        None => Ok(false),
        Some(v) => super::values::boolean(v).map_err(|e| format!("{key}={v}: {e}")),
    }
}

/// Why a setting is refused (QuorumPeerConfig's IllegalArgumentException / ConfigException).
fn invalid(source_name: &str, message: String) -> ConfigError {
    ConfigError::Invalid {
        source_name: source_name.to_string(),
        message,
    }
}

fn is_digest(class: &str) -> bool {
    class.ends_with(".DigestLoginModule")
}

/// The settings, or `None` when `quorum.auth.enableSasl` is off (quorum connections are
/// not authenticated, as in ZooKeeper). As in ZooKeeper, start-up stops when a require
/// flag is set without `enableSasl`, `serverRequireSasl` without `learnerRequireSasl`,
/// or the JAAS file lacks either section.
pub(crate) fn resolve(
    raw: &BTreeMap<String, String>,
    sysprops: &BTreeMap<String, String>,
    source_name: &str,
) -> Result<Option<QuorumSaslConfig>, ConfigError> {
    let bad = |m: String| invalid(source_name, m);
    let enable = flag(raw, ENABLE).map_err(bad)?;
    let server_require = flag(raw, SERVER_REQUIRE).map_err(bad)?;
    let learner_require = flag(raw, LEARNER_REQUIRE).map_err(bad)?;
    // Integer.parseInt: a bad number stops start-up; the value itself sizes Java's
    // connection-receiving thread pool, which tokio's tasks make moot.
    if let Some(v) = zk_property(raw, CNXN_THREADS) {
        v.parse::<i32>()
            .map_err(|e| bad(format!("{CNXN_THREADS}={v}: {e}")))?;
    }
    if !enable && server_require {
        return Err(bad(format!(
            "{ENABLE} is disabled, so cannot enable {SERVER_REQUIRE}"
        )));
    }
    if !enable && learner_require {
        return Err(bad(format!(
            "{ENABLE} is disabled, so cannot enable {LEARNER_REQUIRE}"
        )));
    }
    // A server that requires SASL of learners could not itself join as a learner.
    if !learner_require && server_require {
        return Err(bad(format!(
            "{LEARNER_REQUIRE} is disabled, so cannot enable {SERVER_REQUIRE}"
        )));
    }
    if !enable {
        return Ok(None);
    }
    let context = |key: &str, default: &str| {
        zk_property(raw, key)
            .filter(|v| !v.is_empty())
            .unwrap_or(default)
            .to_string()
    };
    let learner_context = context(LEARNER_CONTEXT, "QuorumLearner");
    let server_context = context(SERVER_CONTEXT, "QuorumServer");
    let service_principal = context(SERVICE_PRINCIPAL, "zkquorum/localhost");
    let file = raw.get("java.security.auth.login.config").ok_or_else(|| {
        bad(format!(
            "{ENABLE}=true needs a JAAS file (java.security.auth.login.config) with sections \
                 {learner_context} and {server_context}"
        ))
    })?;
    let (path, sections) = read_jaas(file, sysprops)?;
    let section = |name: &str| {
        sections.get(name).filter(|m| !m.is_empty()).ok_or_else(|| {
            bad(format!(
                "SASL-authentication failed because the specified JAAS configuration section \
                 '{name}' could not be found in {}",
                path.display()
            ))
        })
    };
    let server = section(&server_context)?;
    let learner = section(&learner_context)?;
    for m in server.iter().chain(learner.iter()) {
        if !is_digest(&m.class) {
            tracing::warn!(
                "{}: login module {} (GSSAPI quorum authentication, principal {service_principal}) \
                 is not supported; only DIGEST-MD5 (DigestLoginModule) is",
                path.display(),
                m.class
            );
        }
    }
    // SaslQuorumServerCallbackHandler: a section with any other module is not DIGEST-MD5
    // at all, and has no users.
    let users = if server.iter().all(|m| is_digest(&m.class)) {
        server
            .iter()
            .flat_map(|m| m.options.iter())
            .filter_map(|(k, v)| Some((k.strip_prefix("user_")?.to_string(), v.clone())))
            .collect()
    } else {
        BTreeMap::new()
    };
    let login = learner
        .iter()
        .filter(|m| is_digest(&m.class))
        .find_map(|m| {
            let opt = |k: &str| {
                m.options
                    .iter()
                    .find(|(n, _)| n == k)
                    .map(|(_, v)| v.clone())
            };
            Some((opt("username")?, opt("password")?))
        });
    Ok(Some(QuorumSaslConfig {
        learner_require,
        server_require,
        learner_context,
        server_context,
        service_principal,
        login,
        users,
        jaas_file: path,
    }))
}

#[cfg(test)]
#[path = "quorum_sasl_tests.rs"]
mod tests;
