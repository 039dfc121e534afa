//! The DIGEST-MD5 client mechanism (RFC 2831) as the JDK's DigestMD5Client runs it for
//! ZooKeeper's quorum learner (SaslQuorumAuthLearner): no initial response, then one
//! response to the server's challenge (qop `auth`, `nc=00000001`, `authzid` = the user,
//! as SecurityUtils.createSaslClient passes the user as authorization id), then the
//! server's `rspauth` is checked, which completes the exchange.

use super::digest_md5::{parse_directives, DigestMd5Error, Exchange, Service, MAX_CHALLENGE_LEN};

/// Where the client is.
#[derive(Debug, Clone, PartialEq, Eq)]
enum State {
    /// Waiting for the challenge.
    Challenged,
    /// Sent the response; `rspauth` is the value the server must send back.
    Responded { rspauth: String },
    /// The server proved itself.
    Complete,
}

/// One exchange as user `username`.
#[derive(Debug)]
pub(crate) struct DigestMd5Client {
    service: Service,
    username: String,
    password: String,
    /// Sent as `authzid` and hashed into A1; the user's own name, as the JDK is given it.
    authzid: Option<String>,
    state: State,
}

/// `"value"` with `"` and `\` escaped (RFC 2831's quoted-string).
fn quoted(v: &str) -> String {
    let mut out = String::with_capacity(v.len() + 2);
    out.push('"');
    for c in v.chars() {
        if c == '"' || c == '\\' {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('"');
    out
}

impl DigestMd5Client {
    /// An exchange against `service`'s digest-uri.
    pub(crate) fn new(service: Service, username: &str, password: &str) -> DigestMd5Client {
        DigestMd5Client {
            service,
            username: username.to_string(),
            password: password.to_string(),
            authzid: Some(username.to_string()),
            state: State::Challenged,
        }
    }

    /// The same exchange without an `authzid` (RFC 2831's own examples have none).
    #[cfg(test)]
    pub(crate) fn without_authzid(mut self) -> DigestMd5Client {
        self.authzid = None;
        self
    }

    /// Whether the server's `rspauth` was checked.
    pub(crate) fn is_complete(&self) -> bool {
        self.state == State::Complete
    }

    /// The response to the server's `challenge`, with client nonce `cnonce` (it must be
    /// unpredictable; the caller draws it so tests can pin it).
    pub(crate) fn respond(
        &mut self,
        challenge: &[u8],
        cnonce: &str,
    ) -> Result<Vec<u8>, DigestMd5Error> {
        if self.state != State::Challenged {
            return Err(DigestMd5Error::OutOfTurn("a second challenge"));
        }
        if challenge.len() > MAX_CHALLENGE_LEN {
            return Err(DigestMd5Error::ChallengeTooLong(challenge.len()));
        }
        let text = String::from_utf8_lossy(challenge);
        let mut realm = None;
        let mut nonce = None;
        let mut qop = None;
        let mut charset = None;
        let mut algorithm = None;
        for (name, value) in parse_directives(&text)? {
            let slot = match name.as_str() {
                // Several realms may be offered; the JDK's callback takes the first.
                "realm" => {
                    realm.get_or_insert(value);
                    continue;
                }
                "nonce" => &mut nonce,
                "qop" => &mut qop,
                "charset" => &mut charset,
                "algorithm" => &mut algorithm,
                // stale, maxbuf, cipher and unknown ones do not matter for qop=auth.
                _ => continue,
            };
            if slot.replace(value).is_some() {
                return Err(DigestMd5Error::Duplicate(name));
            }
        }
        let nonce = nonce.ok_or(DigestMd5Error::Missing("nonce"))?;
        match algorithm {
            Some(a) if a.eq_ignore_ascii_case("md5-sess") => {}
            Some(a) => return Err(DigestMd5Error::Algorithm(a)),
            None => return Err(DigestMd5Error::Missing("algorithm")),
        }
        // qop is a comma list inside quotes: auth must be among the offered ones.
        if let Some(q) = &qop {
            if !q.split(',').any(|o| o.trim().eq_ignore_ascii_case("auth")) {
                return Err(DigestMd5Error::Qop(q.clone()));
            }
        }
        let utf8 = match &charset {
            Some(cs) if cs.eq_ignore_ascii_case("utf-8") => true,
            Some(cs) => return Err(DigestMd5Error::Charset(cs.clone())),
            None => false,
        };
        let realm = realm.unwrap_or_default();
        let x = Exchange {
            username: &self.username,
            realm: &realm,
            password: &self.password,
            nonce: &nonce,
            cnonce,
            nc: "00000001",
            digest_uri: self.service.digest_uri,
            authzid: self.authzid.as_deref(),
            utf8,
        };
        let mut out = String::new();
        if utf8 {
            out.push_str("charset=utf-8,");
        }
        out.push_str(&format!(
            "username={},realm={},nonce={},nc=00000001,cnonce={},digest-uri={},maxbuf=65536,response={},qop=auth",
            quoted(&self.username),
            quoted(&realm),
            quoted(&nonce),
            quoted(cnonce),
            quoted(self.service.digest_uri),
            x.response_value("AUTHENTICATE"),
        ));
        if let Some(z) = &self.authzid {
            out.push_str(&format!(",authzid={}", quoted(z)));
        }
        self.state = State::Responded {
            rspauth: x.response_value(""),
        };
        Ok(out.into_bytes())
    }

    /// Checks the server's final `rspauth=...` token.
    pub(crate) fn finish(&mut self, token: &[u8]) -> Result<(), DigestMd5Error> {
        let State::Responded { rspauth } = &self.state else {
            return Err(DigestMd5Error::OutOfTurn("rspauth before the response"));
        };
        if token.len() > MAX_CHALLENGE_LEN {
            return Err(DigestMd5Error::ChallengeTooLong(token.len()));
        }
        let text = String::from_utf8_lossy(token);
        let given = parse_directives(&text)?
            .into_iter()
            .find(|(n, _)| n == "rspauth")
            .map(|(_, v)| v)
            .ok_or(DigestMd5Error::Missing("rspauth"))?;
        if !given.eq_ignore_ascii_case(rspauth) {
            return Err(DigestMd5Error::RspAuth);
        }
        self.state = State::Complete;
        Ok(())
    }
}

#[cfg(test)]
#[path = "digest_md5_client_tests.rs"]
mod tests;
