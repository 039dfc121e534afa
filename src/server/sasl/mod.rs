//! SASL on the client port (op 102), as ZooKeeper 3.8's `processSasl` answers it: every
//! reply has zxid 0; a token gets OK and the mechanism's answer (a SetSASLResponse); a
//! completed exchange adds `sasl:<authorization id>` to the connection's identities (and
//! `super` for `zookeeper.superUser`); a failed one gets AUTHFAILED with a null token and
//! the connection is closed. Without a JAAS server section ZooKeeper's connection has no
//! SASL server, and it answers OK with a null token. A request whose token is null closes
//! the connection unanswered.

pub(crate) mod digest_md5;
pub(crate) mod digest_md5_client;
#[cfg(feature = "kerberos")]
pub mod gssapi;
/// Without the `kerberos` feature: no GSSAPI, and a Kerberos login stops start-up.
#[cfg(not(feature = "kerberos"))]
#[path = "gssapi_off.rs"]
pub mod gssapi;

use base64::Engine;

use crate::jute::Jute;
use crate::proto::{op, ErrorCode, Id, SaslRecord};
use crate::server::core::Core;
use crate::watch::ConnId;
use digest_md5::{DigestMd5Error, DigestMd5Server, Step};
use gssapi::{GssStep, GssapiServer};

/// A connection's exchange, in the mechanism of the server's login: GSSAPI for a
/// Krb5LoginModule section, else DIGEST-MD5 (SecurityUtils.createSaslServer).
#[derive(Debug)]
pub(crate) enum SaslExchange {
    DigestMd5(DigestMd5Server),
    Gssapi(GssapiServer),
    /// GSSAPI without its credential: every token fails.
    Unavailable,
}

/// A step of either mechanism.
enum Outcome {
    Challenge(Vec<u8>),
    /// Complete: `token` answers the last one (DIGEST-MD5's rspauth; null for GSSAPI).
    Success {
        token: Option<Vec<u8>>,
        authorization_id: String,
    },
}

/// Random bytes in a nonce: the JDK's 30, which base64 makes 40 characters.
const NONCE_BYTES: usize = 30;

/// A fresh challenge nonce from the OS: it must not be guessable, and the core's own
/// generator is seeded for replays.
fn new_nonce() -> Result<String, DigestMd5Error> {
    let mut b = [0u8; NONCE_BYTES];
    getrandom::getrandom(&mut b).map_err(|e| DigestMd5Error::NoRandomness(e.to_string()))?;
    Ok(base64::engine::general_purpose::STANDARD.encode(b))
}

impl Core {
    /// AuthenticationHelper.enforceAuthentication: with schemes to enforce, a request other
    /// than auth and sasl from a connection not authenticated with one of them is answered
    /// SESSIONCLOSEDREQUIRESASLAUTH and the connection closed. True when it was refused.
    pub(crate) fn refuse_unauthenticated(&mut self, conn: ConnId, xid: i32, opcode: i32) -> bool {
        let schemes = &self.cfg.enforce_auth_schemes;
        if schemes.is_empty() || opcode == op::AUTH || opcode == op::SASL {
            return false;
        }
        let Some(c) = self.conns.get(&conn) else {
            return false;
        };
        if c.ids.iter().any(|i| schemes.contains(&i.scheme)) {
            return false;
        }
        let have: Vec<&str> = c.ids.iter().map(|i| i.scheme.as_str()).collect();
        tracing::error!(
            "Client authentication scheme(s) {have:?} does not match with any of the expected authentication scheme {schemes:?}, closing session."
        );
        let err = ErrorCode::SessionClosedRequireSaslAuth.code();
        self.reply(conn, xid, 0, err, None);
        self.close(conn);
        true
    }

    /// Answers a sasl request of connection `conn`.
    pub(crate) fn sasl(&mut self, conn: ConnId, xid: i32, token: Option<&[u8]>) {
        let Some(token) = token else {
            // 3.8.0 takes the token's length before anything else: a null one throws, and
            // the connection is closed without a reply, SASL configured or not.
            tracing::warn!("sasl request with a null token, closing the connection");
            self.close(conn);
            return;
        };
        let cfg = std::sync::Arc::clone(&self.cfg);
        let null_token = SaslRecord { token: None }.to_bytes();
        let (Some(login), Some(c)) = (cfg.sasl.as_ref(), self.conns.get_mut(&conn)) else {
            self.reply(conn, xid, 0, 0, Some(&null_token[..]));
            return;
        };
        let session_id = c.session_id;
        let exchange = c.sasl.get_or_insert_with(|| match login.kerberos {
            None => SaslExchange::DigestMd5(DigestMd5Server::default()),
            Some(_) => GssapiServer::new().map_or(SaslExchange::Unavailable, SaslExchange::Gssapi),
        });
        let step = match exchange {
            SaslExchange::DigestMd5(d) => d
                .evaluate(token, new_nonce, |user| {
                    let p = login.password(user);
                    if p.is_none() {
                        tracing::warn!(
                            "User '{user}' not found in list of DIGEST-MD5 authenticateable users."
                        );
                    }
                    p.map(str::to_string)
                })
                .map(|s| match s {
                    Step::Challenge(t) => Outcome::Challenge(t),
                    Step::Success {
                        rspauth,
                        authorization_id,
                    } => Outcome::Success {
                        token: Some(rspauth),
                        authorization_id,
                    },
                })
                .map_err(|e| format!("DIGEST-MD5: {e}")),
            SaslExchange::Gssapi(g) => g
                .evaluate(token, &login.kerberos_names)
                .map(|s| match s {
                    GssStep::Challenge(t) => Outcome::Challenge(t),
                    GssStep::Success {
                        authorization_id, ..
                    } => Outcome::Success {
                        token: None,
                        authorization_id,
                    },
                })
                .map_err(|e| format!("GSSAPI: {e}")),
            SaslExchange::Unavailable => Err("GSSAPI: no Kerberos service credential".into()),
        };
        match step {
            Ok(Outcome::Challenge(t)) => {
                let body = SaslRecord { token: Some(t) }.to_bytes();
                self.reply(conn, xid, 0, 0, Some(&body[..]));
            }
            Ok(Outcome::Success {
                token,
                authorization_id,
            }) => {
                tracing::info!(
                    "Session 0x{session_id:x}: adding SASL authorization for authorizationID: {authorization_id}"
                );
                let mut add = vec![Id {
                    scheme: "sasl".into(),
                    id: authorization_id.clone(),
                }];
                if login.is_super_user(&authorization_id) {
                    tracing::info!(
                        "Session 0x{session_id:x}: Authenticated Id '{authorization_id}' as super user"
                    );
                    add.push(Id {
                        scheme: "super".into(),
                        id: String::new(),
                    });
                }
                for id in add {
                    if !c.ids.contains(&id) {
                        c.ids.push(id);
                    }
                }
                let body = SaslRecord { token }.to_bytes();
                self.reply(conn, xid, 0, 0, Some(&body[..]));
            }
            Err(e) => {
                let addr = c.addr;
                tracing::warn!("Client {addr} failed to SASL authenticate: {e}");
                // A server that requires SASL closes whatever allowSaslFailedClients says,
                // with the code that says why.
                let required = cfg.enforce_auth_schemes.iter().any(|s| s == "sasl");
                if login.allow_failed_clients && !required {
                    tracing::warn!(
                        "Maintaining client connection despite SASL authentication failure."
                    );
                    self.reply(conn, xid, 0, 0, Some(&null_token[..]));
                } else {
                    tracing::warn!("Closing client connection due to SASL authentication failure.");
                    let err = if required {
                        ErrorCode::SessionClosedRequireSaslAuth
                    } else {
                        ErrorCode::AuthFailed
                    };
                    self.reply(conn, xid, 0, err.code(), Some(&null_token[..]));
                    self.close(conn);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests;
