use super::*;

/// RFC 2831 section 4's first example (IMAP), with our realm and digest-uri put in where
/// the server checks them; the RFC's own values are checked through `Exchange`.
fn rfc_exchange(uri: &'static str, nonce: &'static str, cnonce: &'static str) -> Exchange<'static> {
    Exchange {
        username: "chris",
        realm: "elwood.innosoft.com",
        password: "secret",
        nonce,
        cnonce,
        nc: "00000001",
        digest_uri: uri,
        authzid: None,
        utf8: true,
    }
}

#[test]
fn rfc2831_section4_vectors() {
    let imap = rfc_exchange(
        "imap/elwood.innosoft.com",
        "OA6MG9tEQGm2hh",
        "OA6MHXh6VqTrRk",
    );
    assert_eq!(
        imap.response_value("AUTHENTICATE"),
        "d388dad90d4bbd760a152321f2143af7"
    );
    assert_eq!(imap.response_value(""), "ea40f60335c427b5527b84dbabcdfffd");
    let acap = rfc_exchange(
        "acap/elwood.innosoft.com",
        "OA9BSXrbuRhWay",
        "OA9BSuZWMSpW8m",
    );
    assert_eq!(
        acap.response_value("AUTHENTICATE"),
        "6084c6db3fede7352c551284490fd0fc"
    );
    assert_eq!(acap.response_value(""), "2f0b3d7c3c2e486600ef710726aa2eae");
}

#[test]
fn directive_list_parsing() {
    let d = parse_directives(
        " username=\"bo\\\"b\" ,, realm=zk-sasl-md5,nc = 00000001 ,QOP=auth, empty=\"\",",
    )
    .expect("parses");
    let want: Vec<(String, String)> = [
        ("username", "bo\"b"),
        ("realm", "zk-sasl-md5"),
        ("nc", "00000001"),
        ("qop", "auth"),
        ("empty", ""),
    ]
    .iter()
    .map(|(a, b)| (a.to_string(), b.to_string()))
    .collect();
    assert_eq!(d, want);
    assert_eq!(parse_directives("").expect("empty"), vec![]);
    for bad in [
        "username=\"bob",
        "username",
        "=x",
        "a=b c=d",
        "a=b\"c\"",
        "a=\"b\\",
    ] {
        assert!(parse_directives(bad).is_err(), "{bad}");
    }
}

const NONCE: &str = "n0nce";
const CNONCE: &str = "cn0nce";

fn users(u: &str) -> Option<String> {
    match u {
        "bob" => Some("bobsecret".into()),
        "super" => Some("adminsecret".into()),
        _ => None,
    }
}

/// A client's response for `user`/`pass`, with `edit` applied to the directives.
fn client_response(user: &str, pass: &str, edit: impl Fn(&mut Vec<(&str, String)>)) -> Vec<u8> {
    let x = Exchange {
        username: user,
        realm: REALM,
        password: pass,
        nonce: NONCE,
        cnonce: CNONCE,
        nc: "00000001",
        digest_uri: DIGEST_URI,
        authzid: None,
        utf8: true,
    };
    let mut d: Vec<(&str, String)> = vec![
        ("charset", "utf-8".into()),
        ("username", format!("\"{user}\"")),
        ("realm", format!("\"{REALM}\"")),
        ("nonce", format!("\"{NONCE}\"")),
        ("nc", "00000001".into()),
        ("cnonce", format!("\"{CNONCE}\"")),
        ("digest-uri", format!("\"{DIGEST_URI}\"")),
        ("maxbuf", "65536".into()),
        ("response", x.response_value("AUTHENTICATE")),
        ("qop", "auth".into()),
    ];
    edit(&mut d);
    d.iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(",")
        .into_bytes()
}

fn run(second: &[u8]) -> Result<Step, DigestMd5Error> {
    let mut s = DigestMd5Server::default();
    match s.evaluate(b"", || Ok(NONCE.into()), users)? {
        Step::Challenge(c) => assert_eq!(
            String::from_utf8(c).expect("text"),
            "realm=\"zk-sasl-md5\",nonce=\"n0nce\",charset=utf-8,algorithm=md5-sess"
        ),
        other => panic!("{other:?}"),
    }
    s.evaluate(second, || unreachable!(), users)
}

fn set(d: &mut [(&str, String)], key: &str, value: &str) {
    for (k, v) in d.iter_mut() {
        if *k == key {
            *v = value.to_string();
        }
    }
}

#[test]
fn a_right_password_completes_with_rspauth() {
    let step = run(&client_response("bob", "bobsecret", |_| {})).expect("ok");
    let Step::Success {
        rspauth,
        authorization_id,
    } = step
    else {
        panic!("{step:?}")
    };
    assert_eq!(authorization_id, "bob");
    let x = Exchange {
        username: "bob",
        realm: REALM,
        password: "bobsecret",
        nonce: NONCE,
        cnonce: CNONCE,
        nc: "00000001",
        digest_uri: DIGEST_URI,
        authzid: None,
        utf8: true,
    };
    assert_eq!(
        rspauth,
        format!("rspauth={}", x.response_value("")).into_bytes()
    );
    // Nothing may follow a completed exchange.
    let mut s = DigestMd5Server::default();
    s.evaluate(b"", || Ok(NONCE.into()), users)
        .expect("challenge");
    s.evaluate(
        &client_response("bob", "bobsecret", |_| {}),
        || unreachable!(),
        users,
    )
    .expect("ok");
    assert_eq!(
        s.evaluate(b"", || unreachable!(), users),
        Err(DigestMd5Error::Complete)
    );
}

#[test]
fn failures() {
    use DigestMd5Error as E;
    let ok = |u: &str, p: &str| client_response(u, p, |_| {});
    assert!(matches!(run(&ok("bob", "wrong")), Err(E::BadResponse(_))));
    assert!(matches!(run(&ok("eve", "x")), Err(E::UnknownUser(..))));
    let full = ok("bob", "bobsecret");
    assert!(run(&full[..full.len() - 20]).is_err(), "truncated");
    assert!(matches!(run(b"garbage"), Err(E::Malformed(_))));
    let edited = |key: &'static str, value: &'static str| {
        client_response("bob", "bobsecret", move |d| set(d, key, value))
    };
    assert!(matches!(
        run(&edited("realm", "\"other\"")),
        Err(E::Realm(_))
    ));
    assert!(matches!(
        run(&edited("digest-uri", "\"zookeeper/localhost\"")),
        Err(E::DigestUri(..))
    ));
    assert!(matches!(
        run(&edited("nc", "00000002")),
        Err(E::NonceCount(_))
    ));
    assert_eq!(run(&edited("nonce", "\"other\"")), Err(E::Nonce));
    assert!(matches!(run(&edited("qop", "auth-conf")), Err(E::Qop(_))));
    assert!(matches!(
        run(&edited("charset", "latin1")),
        Err(E::Charset(_))
    ));
    let dup = client_response("bob", "bobsecret", |d| {
        d.push(("nonce", "\"n0nce\"".into()))
    });
    assert!(matches!(run(&dup), Err(E::Duplicate(_))));
    let no_cnonce = client_response("bob", "bobsecret", |d| d.retain(|(k, _)| *k != "cnonce"));
    assert_eq!(run(&no_cnonce), Err(E::Missing("cnonce")));
    // Too long at any step, as in the JDK.
    let mut s = DigestMd5Server::default();
    assert_eq!(
        s.evaluate(&[b'x'; 4097], || Ok(NONCE.into()), users),
        Err(E::TooLong(4097))
    );
    assert!(matches!(
        DigestMd5Server::default().evaluate(&[b'x'; 4096], || Ok(NONCE.into()), users),
        Ok(Step::Challenge(_))
    ));
}
