//! The GSSAPI mechanism of a build without the `kerberos` feature: a server whose JAAS
//! section asks for Kerberos does not start, as a Java server whose Kerberos login fails.

use crate::config::{KerberosNameRules, SaslServerConfig};

/// Why an exchange failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum GssapiError {
    #[error("this build has no Kerberos support (the kerberos feature)")]
    NotBuilt,
}

/// Why start-up stops.
#[derive(Debug, thiserror::Error)]
pub enum KerberosSetupError {
    /// A Krb5LoginModule section in a build without Kerberos.
    #[error("the JAAS server section has a Krb5LoginModule, and this build has no Kerberos support (the kerberos feature)")]
    NotBuilt,
}

/// Refuses a Kerberos login.
pub fn init(sasl: Option<&SaslServerConfig>) -> Result<(), KerberosSetupError> {
    match sasl.and_then(|c| c.kerberos.as_ref()) {
        Some(_) => Err(KerberosSetupError::NotBuilt),
        None => Ok(()),
    }
}

/// What the server answers a token with (never built here: the core matches on it).
#[allow(dead_code)]
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum GssStep {
    Challenge(Vec<u8>),
    Success {
        authentication_id: String,
        authorization_id: String,
    },
}

/// An exchange that cannot start.
#[derive(Debug)]
pub(crate) enum GssapiServer {}

impl GssapiServer {
    pub(crate) fn new() -> Result<Self, GssapiError> {
        Err(GssapiError::NotBuilt)
    }

    pub(crate) fn evaluate(
        &mut self,
        _token: &[u8],
        _names: &KerberosNameRules,
    ) -> Result<GssStep, GssapiError> {
        match *self {}
    }
}
