use super::*;
use crate::server::sasl::digest_md5::{DigestMd5Server, Step};

const RFC_CHALLENGE: &[u8] =
    b"realm=\"elwood.innosoft.com\",nonce=\"OA6MG9tEQGm2hh\",qop=\"auth\",algorithm=md5-sess,charset=utf-8";

fn rfc_service() -> Service {
    Service {
        realm: "elwood.innosoft.com",
        digest_uri: "imap/elwood.innosoft.com",
    }
}

fn directive(token: &[u8], name: &str) -> Option<String> {
    parse_directives(std::str::from_utf8(token).ok()?)
        .ok()?
        .into_iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v)
}

#[test]
fn rfc2831_section4_example() {
    let mut c = DigestMd5Client::new(rfc_service(), "chris", "secret").without_authzid();
    let resp = c.respond(RFC_CHALLENGE, "OA6MHXh6VqTrRk").unwrap();
    assert_eq!(
        directive(&resp, "response").as_deref(),
        Some("d388dad90d4bbd760a152321f2143af7")
    );
    assert_eq!(
        directive(&resp, "digest-uri").as_deref(),
        Some("imap/elwood.innosoft.com")
    );
    assert!(!c.is_complete());
    assert_eq!(
        c.finish(b"rspauth=00000000000000000000000000000000"),
        Err(DigestMd5Error::RspAuth)
    );
    c.finish(b"rspauth=ea40f60335c427b5527b84dbabcdfffd")
        .unwrap();
    assert!(c.is_complete());
}

fn users(u: &str) -> Option<String> {
    (u == "learner").then(|| "s3cr\"et".to_string())
}

/// The client against the server mechanism, on the quorum's names.
fn against_server(password: &str) -> Result<(), DigestMd5Error> {
    let mut s = DigestMd5Server::new(Service::QUORUM);
    let mut c = DigestMd5Client::new(Service::QUORUM, "learner", password);
    let Step::Challenge(ch) = s.evaluate(b"", || Ok("bm9uY2U=".into()), users)? else {
        panic!("no challenge");
    };
    assert_eq!(
        directive(&ch, "realm").as_deref(),
        Some("zk-quorum-sasl-md5")
    );
    let resp = c.respond(&ch, "Y25vbmNl")?;
    assert_eq!(directive(&resp, "authzid").as_deref(), Some("learner"));
    let Step::Success {
        rspauth,
        authorization_id,
    } = s.evaluate(&resp, || unreachable!(), users)?
    else {
        panic!("no success");
    };
    assert_eq!(authorization_id, "learner");
    c.finish(&rspauth)?;
    assert!(c.is_complete());
    Ok(())
}

#[test]
fn quorum_exchange_with_the_server_mechanism() {
    against_server("s3cr\"et").unwrap();
    assert!(matches!(
        against_server("wrong"),
        Err(DigestMd5Error::BadResponse(_))
    ));
}

#[test]
fn client_port_names_do_not_pass_on_the_quorum() {
    let mut s = DigestMd5Server::new(Service::QUORUM);
    let mut c = DigestMd5Client::new(Service::CLIENT_PORT, "learner", "s3cr\"et");
    let Ok(Step::Challenge(ch)) = s.evaluate(b"", || Ok("n".into()), users) else {
        panic!("no challenge");
    };
    let resp = c.respond(&ch, "c").unwrap();
    assert!(matches!(
        s.evaluate(&resp, || unreachable!(), users),
        Err(DigestMd5Error::DigestUri(..))
    ));
}

#[test]
fn bad_challenges_are_refused() {
    let c = || DigestMd5Client::new(Service::QUORUM, "u", "p");
    assert_eq!(
        c().respond(&[b'x'; 2049], "c"),
        Err(DigestMd5Error::ChallengeTooLong(2049))
    );
    assert_eq!(
        c().respond(b"realm=\"r\",algorithm=md5-sess", "c"),
        Err(DigestMd5Error::Missing("nonce"))
    );
    assert!(matches!(
        c().respond(b"nonce=\"n\",algorithm=md5", "c"),
        Err(DigestMd5Error::Algorithm(_))
    ));
    assert!(matches!(
        c().respond(b"nonce=\"n\",qop=\"auth-conf\",algorithm=md5-sess", "c"),
        Err(DigestMd5Error::Qop(_))
    ));
    assert!(matches!(
        c().finish(b"rspauth=00"),
        Err(DigestMd5Error::OutOfTurn(_))
    ));
}

/// What a Java 3.8 learner (the JDK's DigestMD5Client) answered compat-tests/quorum-sasl's
/// wire.py challenge as user zkquorum, password s3cret-quorum: the same cnonce gives the
/// same bytes.
#[test]
fn java_learner_response_golden() {
    let challenge =
        b"realm=\"zk-quorum-sasl-md5\",nonce=\"d2lyZS1jaGVjaw==\",charset=utf-8,algorithm=md5-sess";
    let java = "charset=utf-8,username=\"zkquorum\",realm=\"zk-quorum-sasl-md5\",\
nonce=\"d2lyZS1jaGVjaw==\",nc=00000001,cnonce=\"Wj1lat7TWQPZaf8tvLmuYFOYoBMIoePJw25omNWW\",\
digest-uri=\"zookeeper-quorum/zk-quorum-sasl-md5\",maxbuf=65536,\
response=e38146e3f41b349d020a709aec7cde79,qop=auth,authzid=\"zkquorum\"";
    let mut c = DigestMd5Client::new(Service::QUORUM, "zkquorum", "s3cret-quorum");
    let ours = c
        .respond(challenge, "Wj1lat7TWQPZaf8tvLmuYFOYoBMIoePJw25omNWW")
        .unwrap();
    assert_eq!(String::from_utf8(ours).unwrap(), java);
}
