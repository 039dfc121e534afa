//! The GSSAPI server mechanism (RFC 4752, Kerberos V5) as ZooKeeper 3.8 runs it through the
//! JDK's GssKrb5Server, over MIT krb5's GSS-API:
//!
//! 1. the client's tokens go to accept_sec_context until the context is established; the
//!    last output token (the AP-REP of mutual authentication) is answered, or an empty one;
//! 2. the client then sends an empty token, and gets the wrapped security-layer offer:
//!    one octet of layers (only "no security layer": ZooKeeper's qop is `auth`) and the
//!    3-octet maximum buffer size (the JDK's 65536);
//! 3. the client answers a wrapped 4 octets (its layer and size) and its authorization id;
//!    the exchange is complete and answered with a null token.
//!
//! The acceptor credential comes from the JAAS section's keytab for `service@host` (the
//! principal's components), acquired once at start-up. accept_sec_context only reads the
//! keytab and checks the ticket locally (no KDC round trip), so it runs on the core's turn.

use std::sync::OnceLock;

use libgssapi::context::{SecurityContext, ServerCtx};
use libgssapi::credential::{Cred, CredUsage};
use libgssapi::name::Name;
use libgssapi::oid::{OidSet, GSS_MECH_KRB5, GSS_NT_HOSTBASED_SERVICE};

use crate::config::{KerberosLogin, KerberosNameRules, SaslServerConfig};

/// The only security layer offered: none (RFC 4752's bit 1).
const NO_SECURITY_LAYER: u8 = 1;
/// The JDK's default receive buffer size, offered with the layers.
const MAX_BUFFER: u32 = 65536;
/// Tokens beyond this are refused: a Kerberos AP-REQ with a large PAC stays well under it.
pub(crate) const MAX_TOKEN_LEN: usize = 64 * 1024;

/// The service credential acquired at start-up.
static ACCEPTOR: OnceLock<Cred> = OnceLock::new();

extern "C" {
    /// MIT krb5's way to name the acceptor's keytab for this process (the keytab is
    /// copied), instead of the `KRB5_KTNAME` environment variable.
    fn krb5_gss_register_acceptor_identity(keytab: *const std::ffi::c_char) -> u32;
}

/// Why an exchange failed; every one ends it (AUTHFAILED and the connection closed).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum GssapiError {
    #[error("token of {0} bytes, at most {MAX_TOKEN_LEN}")]
    TooLong(usize),
    #[error("no Kerberos service credential (GSSAPI is not set up)")]
    NoCredential,
    #[error("GSS-API: {0}")]
    Gss(String),
    #[error("handshake expecting no response data from the client")]
    UnexpectedData,
    #[error("security layer response of {0} bytes, at least 4 expected")]
    ShortLayerResponse(usize),
    #[error("client selected unsupported protection: {0:#04x}")]
    UnsupportedLayer(u8),
    #[error("authentication already complete")]
    Complete,
}

/// Why the service credential could not be had; it stops start-up, as the Java server's
/// failed Kerberos login does.
#[derive(Debug, thiserror::Error)]
pub enum KerberosSetupError {
    /// The keytab's path cannot be handed to C.
    #[error("keytab path {0:?} contains a NUL byte")]
    KeytabPath(String),
    /// krb5_gss_register_acceptor_identity refused the keytab.
    #[error("cannot register the keytab {0}: GSS-API major status {1:#x}")]
    Register(String, u32),
    /// gss_acquire_cred failed (no key for the principal in the keytab, no krb5.conf...).
    #[error("cannot acquire the service credential for {principal} from {keytab}: {why}")]
    Acquire {
        /// The JAAS section's principal.
        principal: String,
        /// The JAAS section's keytab.
        keytab: String,
        /// GSS-API's message.
        why: String,
    },
}

fn gss(e: libgssapi::error::Error) -> GssapiError {
    GssapiError::Gss(e.to_string())
}

/// Acquires the service credential of a Kerberos login, once, before the runtime's threads
/// start (`KRB5_CONFIG` is set from `java.security.krb5.conf` here, where no other thread
/// can read the environment). Without a Kerberos login it does nothing.
pub fn init(sasl: Option<&SaslServerConfig>) -> Result<(), KerberosSetupError> {
    let Some(cfg) = sasl else { return Ok(()) };
    let Some(login) = &cfg.kerberos else {
        return Ok(());
    };
    if let Some(conf) = &cfg.krb5_conf {
        std::env::set_var("KRB5_CONFIG", conf);
    }
    let cred = acquire(login)?;
    tracing::info!(
        "SASL GSSAPI: accepting clients for {} with the keys of {}",
        login.principal,
        login.keytab.display()
    );
    // A second init (tests) keeps the first credential.
    let _ = ACCEPTOR.set(cred);
    Ok(())
}

fn acquire(login: &KerberosLogin) -> Result<Cred, KerberosSetupError> {
    let keytab = login.keytab.display().to_string();
    let c_keytab = std::ffi::CString::new(keytab.clone())
        .map_err(|_| KerberosSetupError::KeytabPath(keytab.clone()))?;
    // SAFETY: a valid NUL-terminated string that MIT copies before returning.
    let major = unsafe { krb5_gss_register_acceptor_identity(c_keytab.as_ptr()) };
    if major != 0 {
        return Err(KerberosSetupError::Register(keytab, major));
    }
    let failed = |e: libgssapi::error::Error| KerberosSetupError::Acquire {
        principal: login.principal.clone(),
        keytab: keytab.clone(),
        why: e.to_string(),
    };
    // The JDK's acceptor name: `protocol@serverName`, a host-based service.
    let service = format!("{}@{}", login.service, login.host);
    let name = Name::new(service.as_bytes(), Some(GSS_NT_HOSTBASED_SERVICE)).map_err(failed)?;
    let mut mechs = OidSet::new();
    mechs.add(GSS_MECH_KRB5).map_err(failed)?;
    Cred::acquire(Some(&name), None, CredUsage::Accept, Some(&mechs)).map_err(failed)
}

/// What the server answers a token with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum GssStep {
    /// A token for the client (possibly empty).
    Challenge(Vec<u8>),
    /// The client is authenticated: `authentication_id` is its principal, `authorization_id`
    /// the identity it gets.
    Success {
        authentication_id: String,
        authorization_id: String,
    },
}

enum Stage {
    /// accept_sec_context over the client's tokens.
    Accepting(ServerCtx),
    /// Established: the client's empty token gets the security-layer offer.
    Established(ServerCtx),
    /// Offered: the client's wrapped choice and authorization id complete the exchange.
    Offered(ServerCtx),
    Complete,
}

/// One connection's exchange.
pub(crate) struct GssapiServer {
    stage: Stage,
}

impl std::fmt::Debug for GssapiServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let stage = match self.stage {
            Stage::Accepting(_) => "accepting",
            Stage::Established(_) => "established",
            Stage::Offered(_) => "offered",
            Stage::Complete => "complete",
        };
        f.debug_struct("GssapiServer")
            .field("stage", &stage)
            .finish()
    }
}

impl GssapiServer {
    /// A new exchange with the service credential; an error without one.
    pub(crate) fn new() -> Result<Self, GssapiError> {
        let cred = ACCEPTOR.get().ok_or(GssapiError::NoCredential)?;
        Ok(Self {
            stage: Stage::Accepting(ServerCtx::new(Some(cred.clone()))),
        })
    }

    /// Evaluates the client's `token`; `names` makes the identity of its principal.
    pub(crate) fn evaluate(
        &mut self,
        token: &[u8],
        names: &KerberosNameRules,
    ) -> Result<GssStep, GssapiError> {
        if token.len() > MAX_TOKEN_LEN {
            return Err(GssapiError::TooLong(token.len()));
        }
        // A failed step leaves the exchange complete: nothing more is accepted.
        let stage = std::mem::replace(&mut self.stage, Stage::Complete);
        match stage {
            Stage::Accepting(mut ctx) => {
                let out = ctx.step(token, None).map_err(gss)?;
                let out = out.map(|b| b.to_vec()).unwrap_or_default();
                self.stage = if ctx.is_complete() {
                    Stage::Established(ctx)
                } else {
                    Stage::Accepting(ctx)
                };
                Ok(GssStep::Challenge(out))
            }
            Stage::Established(mut ctx) => {
                if !token.is_empty() {
                    return Err(GssapiError::UnexpectedData);
                }
                let size = MAX_BUFFER.to_be_bytes();
                let offer = [NO_SECURITY_LAYER, size[1], size[2], size[3]];
                let wrapped = ctx.wrap(false, &offer).map_err(gss)?;
                self.stage = Stage::Offered(ctx);
                Ok(GssStep::Challenge(wrapped.to_vec()))
            }
            Stage::Offered(mut ctx) => {
                let plain = ctx.unwrap(token).map_err(gss)?;
                if plain.len() < 4 {
                    return Err(GssapiError::ShortLayerResponse(plain.len()));
                }
                if plain[0] & NO_SECURITY_LAYER == 0 {
                    return Err(GssapiError::UnsupportedLayer(plain[0]));
                }
                let peer = ctx.source_name().map_err(gss)?;
                let peer = peer.display_name().map_err(gss)?;
                let peer = String::from_utf8_lossy(&peer).into_owned();
                let authzid = match &plain[4..] {
                    [] => peer.clone(),
                    id => String::from_utf8_lossy(id).into_owned(),
                };
                tracing::info!(
                    "Successfully authenticated client: authenticationID={peer};  authorizationID={authzid}."
                );
                let authorization_id = names.authorized_id(&peer, &authzid);
                tracing::info!("Setting authorizedID: {authorization_id}");
                Ok(GssStep::Success {
                    authentication_id: peer,
                    authorization_id,
                })
            }
            Stage::Complete => Err(GssapiError::Complete),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn oversized_and_late_tokens_fail() {
        let mut s = GssapiServer {
            stage: Stage::Complete,
        };
        let names = KerberosNameRules::default();
        assert_eq!(
            s.evaluate(&vec![0; MAX_TOKEN_LEN + 1], &names),
            Err(GssapiError::TooLong(MAX_TOKEN_LEN + 1))
        );
        assert_eq!(s.evaluate(b"", &names), Err(GssapiError::Complete));
    }

    #[test]
    fn garbage_fails_the_context() {
        // Without a keytab the context cannot accept anything; garbage fails first either way.
        let mut s = GssapiServer {
            stage: Stage::Accepting(ServerCtx::new(None)),
        };
        let names = KerberosNameRules::default();
        assert!(matches!(
            s.evaluate(b"\x60\x03garbage", &names),
            Err(GssapiError::Gss(_))
        ));
        assert_eq!(s.evaluate(b"", &names), Err(GssapiError::Complete));
    }
}
