//! The DIGEST-MD5 server mechanism (RFC 2831) as ZooKeeper 3.8 runs it through the JDK:
//! realm `zk-sasl-md5`, digest-uri `zookeeper/zk-sasl-md5` on the client port (the quorum
//! ports use `zk-quorum-sasl-md5` and `zookeeper-quorum/zk-quorum-sasl-md5`, see
//! [`Service`]), qop `auth` only (no integrity or confidentiality layer), `charset=utf-8`,
//! `algorithm=md5-sess`.
//!
//! Three steps: any first token (the Java client and kazoo send an empty one) gets the
//! challenge; the client's response is checked and answered with `rspauth`, which completes
//! the exchange; anything after that is an error. Like the JDK, a token over 4096 bytes is
//! refused at any step.

use md5::{Digest, Md5};

/// The realm ZooKeeper's server offers (SecurityUtils' server name for DIGEST-MD5).
pub(crate) const REALM: &str = "zk-sasl-md5";
/// `protocol/serverName` of ZooKeeper's SaslServer.
pub(crate) const DIGEST_URI: &str = "zookeeper/zk-sasl-md5";
/// The names one of ZooKeeper's SASL servers is created with (`Sasl.createSaslServer`'s
/// protocol and serverName): the JDK offers the serverName as the realm and expects
/// `protocol/serverName` as the digest-uri.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Service {
    pub(crate) realm: &'static str,
    pub(crate) digest_uri: &'static str,
}

impl Service {
    /// The client port (ZooKeeperSaslServer: `zookeeper`, `zk-sasl-md5`).
    pub(crate) const CLIENT_PORT: Service = Service {
        realm: REALM,
        digest_uri: DIGEST_URI,
    };
    /// The quorum ports (QuorumAuth: `zookeeper-quorum`, `zk-quorum-sasl-md5`).
    pub(crate) const QUORUM: Service = Service {
        realm: "zk-quorum-sasl-md5",
        digest_uri: "zookeeper-quorum/zk-quorum-sasl-md5",
    };
}

/// The JDK's DigestMD5Server refuses longer tokens ("Invalid digest response length").
pub(crate) const MAX_RESPONSE_LEN: usize = 4096;

/// The JDK's DigestMD5Client refuses longer challenges.
pub(crate) const MAX_CHALLENGE_LEN: usize = 2048;

/// Why an exchange failed; every one ends it (ZooKeeper answers AUTHFAILED and closes).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum DigestMd5Error {
    #[error("invalid digest response length: {0} bytes, at most {MAX_RESPONSE_LEN}")]
    TooLong(usize),
    #[error("digest response format violation: {0}")]
    Malformed(String),
    #[error("digest response has more than one {0} directive")]
    Duplicate(String),
    #[error("digest response lacks the {0} directive")]
    Missing(&'static str),
    #[error("nonexistent realm {0:?}")]
    Realm(String),
    #[error("mismatched nonce")]
    Nonce,
    #[error("nonce count {0:?} does not match 00000001")]
    NonceCount(String),
    #[error("unsupported qop {0:?} (only auth)")]
    Qop(String),
    #[error("unsupported charset {0:?}")]
    Charset(String),
    #[error("mismatched URI {0:?}; expecting {1}")]
    DigestUri(String, &'static str),
    #[error("cannot acquire password for {0:?} in realm {1}")]
    UnknownUser(String, &'static str),
    #[error("digest response mismatch for {0:?} (wrong password)")]
    BadResponse(String),
    #[error("authentication already complete")]
    Complete,
    #[error("no random source for a nonce: {0}")]
    NoRandomness(String),
    #[error("invalid digest-challenge length: {0} bytes, at most {MAX_CHALLENGE_LEN}")]
    ChallengeTooLong(usize),
    #[error("unsupported algorithm {0:?} (only md5-sess)")]
    Algorithm(String),
    #[error("the server's rspauth does not prove it knows the password")]
    RspAuth,
    #[error("a token out of turn: {0}")]
    OutOfTurn(&'static str),
}

/// What the server answers a token with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Step {
    /// The challenge, to the first token.
    Challenge(Vec<u8>),
    /// `rspauth=...`: the client proved its password; `authorization_id` is who it is.
    Success {
        rspauth: Vec<u8>,
        authorization_id: String,
    },
}

/// One connection's exchange.
#[derive(Debug)]
pub(crate) struct DigestMd5Server {
    service: Service,
    nonce: Option<String>,
    complete: bool,
}

impl Default for DigestMd5Server {
    /// The client port's.
    fn default() -> Self {
        DigestMd5Server::new(Service::CLIENT_PORT)
    }
}

impl DigestMd5Server {
    /// An exchange for `service`'s realm and digest-uri.
    pub(crate) fn new(service: Service) -> DigestMd5Server {
        DigestMd5Server {
            service,
            nonce: None,
            complete: false,
        }
    }

    /// Evaluates the client's `token`. `new_nonce` makes the challenge's nonce (it must be
    /// unpredictable); `password` looks a user up.
    pub(crate) fn evaluate(
        &mut self,
        token: &[u8],
        new_nonce: impl FnOnce() -> Result<String, DigestMd5Error>,
        password: impl Fn(&str) -> Option<String>,
    ) -> Result<Step, DigestMd5Error> {
        if token.len() > MAX_RESPONSE_LEN {
            return Err(DigestMd5Error::TooLong(token.len()));
        }
        if self.complete {
            return Err(DigestMd5Error::Complete);
        }
        let Some(nonce) = &self.nonce else {
            let nonce = new_nonce()?;
            let realm = self.service.realm;
            let challenge =
                format!("realm=\"{realm}\",nonce=\"{nonce}\",charset=utf-8,algorithm=md5-sess");
            self.nonce = Some(nonce);
            return Ok(Step::Challenge(challenge.into_bytes()));
        };
        let step = check_response(self.service, token, nonce, password)?;
        self.complete = true;
        Ok(step)
    }
}

/// The response directives a server reads (RFC 2831 2.1.2).
#[derive(Default)]
struct Response {
    username: Option<String>,
    realm: Option<String>,
    nonce: Option<String>,
    cnonce: Option<String>,
    nc: Option<String>,
    qop: Option<String>,
    digest_uri: Option<String>,
    response: Option<String>,
    charset: Option<String>,
    authzid: Option<String>,
}

fn check_response(
    service: Service,
    token: &[u8],
    nonce: &str,
    password: impl Fn(&str) -> Option<String>,
) -> Result<Step, DigestMd5Error> {
    // UTF-8 when the client says charset=utf-8 (and any valid UTF-8 is), else ISO-8859-1.
    let text = match std::str::from_utf8(token) {
        Ok(s) => s.to_string(),
        Err(_) => token.iter().map(|&b| char::from(b)).collect(),
    };
    let mut r = Response::default();
    for (name, value) in parse_directives(&text)? {
        let slot = match name.as_str() {
            "username" => &mut r.username,
            "realm" => &mut r.realm,
            "nonce" => &mut r.nonce,
            "cnonce" => &mut r.cnonce,
            "nc" => &mut r.nc,
            "qop" => &mut r.qop,
            "digest-uri" => &mut r.digest_uri,
            "response" => &mut r.response,
            "charset" => &mut r.charset,
            "authzid" => &mut r.authzid,
            // maxbuf, cipher and unknown directives are ignored (RFC 2831: MUST ignore).
            _ => continue,
        };
        if slot.replace(value).is_some() {
            return Err(DigestMd5Error::Duplicate(name));
        }
    }
    if let Some(cs) = &r.charset {
        if !cs.eq_ignore_ascii_case("utf-8") {
            return Err(DigestMd5Error::Charset(cs.clone()));
        }
    }
    let utf8 = r.charset.is_some();
    // RFC 2831: a missing realm is the empty string in A1; the only realm we offer is ours.
    let realm = r.realm.unwrap_or_default();
    if !realm.is_empty() && realm != service.realm {
        return Err(DigestMd5Error::Realm(realm));
    }
    if r.nonce.ok_or(DigestMd5Error::Missing("nonce"))? != nonce {
        return Err(DigestMd5Error::Nonce);
    }
    let nc = r.nc.ok_or(DigestMd5Error::Missing("nc"))?;
    if u32::from_str_radix(&nc, 16) != Ok(1) || nc.len() != 8 {
        return Err(DigestMd5Error::NonceCount(nc));
    }
    let cnonce = r.cnonce.ok_or(DigestMd5Error::Missing("cnonce"))?;
    let qop = r.qop.unwrap_or_else(|| "auth".into());
    if qop != "auth" {
        return Err(DigestMd5Error::Qop(qop));
    }
    let uri = r.digest_uri.ok_or(DigestMd5Error::Missing("digest-uri"))?;
    if !uri.eq_ignore_ascii_case(service.digest_uri) {
        return Err(DigestMd5Error::DigestUri(uri, service.digest_uri));
    }
    let username = r.username.ok_or(DigestMd5Error::Missing("username"))?;
    let given = r.response.ok_or(DigestMd5Error::Missing("response"))?;
    let pass = password(&username)
        .ok_or_else(|| DigestMd5Error::UnknownUser(username.clone(), service.realm))?;
    let a = Exchange {
        username: &username,
        realm: &realm,
        password: &pass,
        nonce,
        cnonce: &cnonce,
        nc: &nc,
        digest_uri: &uri,
        authzid: r.authzid.as_deref(),
        utf8,
    };
    if !given.eq_ignore_ascii_case(&a.response_value("AUTHENTICATE")) {
        return Err(DigestMd5Error::BadResponse(username));
    }
    Ok(Step::Success {
        rspauth: format!("rspauth={}", a.response_value("")).into_bytes(),
        // ZooKeeper authorizes the authentication id (its Kerberos short name; a
        // DIGEST-MD5 user name is its own), whatever authzid the client asked for.
        authorization_id: username,
    })
}

/// The values the response hash covers (the client mechanism computes the same).
pub(super) struct Exchange<'a> {
    pub(super) username: &'a str,
    pub(super) realm: &'a str,
    pub(super) password: &'a str,
    pub(super) nonce: &'a str,
    pub(super) cnonce: &'a str,
    pub(super) nc: &'a str,
    pub(super) digest_uri: &'a str,
    pub(super) authzid: Option<&'a str>,
    pub(super) utf8: bool,
}

impl Exchange<'_> {
    /// The `response` (method `AUTHENTICATE`) or `rspauth` (empty method) value for qop=auth.
    pub(super) fn response_value(&self, method: &str) -> String {
        let mut secret = Md5::new();
        for (i, part) in [self.username, self.realm, self.password]
            .iter()
            .enumerate()
        {
            if i > 0 {
                secret.update(b":");
            }
            secret.update(java_sasl_bytes(part, self.utf8));
        }
        let mut a1 = Md5::new();
        a1.update(secret.finalize());
        a1.update(format!(":{}:{}", self.nonce, self.cnonce));
        if let Some(z) = self.authzid {
            a1.update(b":");
            a1.update(java_sasl_bytes(z, self.utf8));
        }
        let a2 = Md5::digest(format!("{method}:{}", self.digest_uri));
        let kd = format!(
            "{}:{}:{}:{}:auth:{}",
            hex(&a1.finalize()),
            self.nonce,
            self.nc,
            self.cnonce,
            hex(&a2)
        );
        hex(&Md5::digest(kd))
    }
}

/// The JDK's conversion of user, realm and password: ISO-8859-1 when every character fits
/// (always, without charset=utf-8), else UTF-8.
fn java_sasl_bytes(s: &str, utf8: bool) -> Vec<u8> {
    if s.chars().all(|c| (c as u32) < 0x100) || !utf8 {
        s.chars().map(|c| c as u32 as u8).collect()
    } else {
        s.as_bytes().to_vec()
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Parses a directive list `name=value, name="quoted \" value", ...` (RFC 2831 1.2's #rule:
/// empty elements allowed, linear white space around elements and `=`); names lower-cased.
pub(crate) fn parse_directives(s: &str) -> Result<Vec<(String, String)>, DigestMd5Error> {
    let bad = |why: &str| DigestMd5Error::Malformed(why.to_string());
    let mut out = Vec::new();
    let mut it = s.chars().peekable();
    loop {
        while it
            .peek()
            .is_some_and(|c| c.is_ascii_whitespace() || *c == ',')
        {
            it.next();
        }
        if it.peek().is_none() {
            return Ok(out);
        }
        let mut name = String::new();
        while let Some(&c) = it.peek() {
            if c == '=' || c.is_ascii_whitespace() {
                break;
            }
            if c == ',' || c == '"' || c.is_ascii_control() {
                return Err(bad("directive without a value"));
            }
            name.push(c.to_ascii_lowercase());
            it.next();
        }
        while it.peek().is_some_and(|c| c.is_ascii_whitespace()) {
            it.next();
        }
        if name.is_empty() || it.next() != Some('=') {
            return Err(bad("directive without a name or '='"));
        }
        while it.peek().is_some_and(|c| c.is_ascii_whitespace()) {
            it.next();
        }
        let mut value = String::new();
        if it.peek() == Some(&'"') {
            it.next();
            loop {
                match it.next() {
                    None => return Err(bad("unterminated quoted string")),
                    Some('"') => break,
                    Some('\\') => value.push(it.next().ok_or_else(|| bad("dangling escape"))?),
                    Some(c) => value.push(c),
                }
            }
        } else {
            while let Some(&c) = it.peek() {
                if c == ',' || c.is_ascii_whitespace() {
                    break;
                }
                if c == '"' {
                    return Err(bad("quote inside a token"));
                }
                value.push(c);
                it.next();
            }
        }
        while it.peek().is_some_and(|c| c.is_ascii_whitespace()) {
            it.next();
        }
        match it.peek() {
            None | Some(',') => out.push((name, value)),
            Some(_) => return Err(bad("expected ',' after a directive")),
        }
    }
}

/// A client's response to `nonce` as user `user` with `password` (the core's tests).
#[cfg(test)]
pub(crate) fn client_response(user: &str, password: &str, nonce: &str) -> Vec<u8> {
    let x = Exchange {
        username: user,
        realm: REALM,
        password,
        nonce,
        cnonce: "c0ffee",
        nc: "00000001",
        digest_uri: DIGEST_URI,
        authzid: None,
        utf8: true,
    };
    format!(
        "charset=utf-8,username=\"{user}\",realm=\"{REALM}\",nonce=\"{nonce}\",nc=00000001,cnonce=\"c0ffee\",digest-uri=\"{DIGEST_URI}\",response={},qop=auth",
        x.response_value("AUTHENTICATE")
    )
    .into_bytes()
}

#[cfg(test)]
#[path = "digest_md5_tests.rs"]
mod tests;
