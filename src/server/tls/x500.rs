//! A certificate subject as Java's `X500Principal.getName()` writes it (RFC 2253 form):
//! X509AuthenticationProvider makes that string the `x509:` identity, so ACLs written for
//! ZooKeeper name clients exactly this way.
//!
//! Java's rules (sun.security.x509.AVA.toRFC2253String): the RDNs last to first, joined by
//! `,`, multi-valued ones joined by `+`; the RFC 2253 keywords for their OIDs, the dotted
//! OID otherwise; a string value with `,=+<>#;"\` escaped by a backslash, NUL as `\00`,
//! leading and trailing spaces escaped; an OID attribute or a non-string value as `#` and
//! the lowercase hex of its DER encoding.

use x509_parser::asn1_rs::{Any, Class, Tag};
use x509_parser::x509::{AttributeTypeAndValue, X509Name};

/// The RFC 2253 keywords Java knows (X500Name's RFC2253 map).
const KEYWORDS: [(&str, &str); 9] = [
    ("2.5.4.3", "CN"),
    ("2.5.4.6", "C"),
    ("2.5.4.7", "L"),
    ("2.5.4.8", "ST"),
    ("2.5.4.10", "O"),
    ("2.5.4.11", "OU"),
    ("2.5.4.9", "STREET"),
    ("0.9.2342.19200300.100.1.25", "DC"),
    ("0.9.2342.19200300.100.1.1", "UID"),
];

/// What Java escapes in an RFC 2253 value.
const ESCAPEES: &str = ",=+<>#;\"\\";

/// The subject (or any name) in Java's RFC 2253 form.
pub(crate) fn rfc2253(name: &X509Name<'_>) -> String {
    let rdns: Vec<String> = name
        .iter()
        .map(|rdn| rdn.iter().map(ava).collect::<Vec<_>>().join("+"))
        .collect();
    rdns.into_iter().rev().collect::<Vec<_>>().join(",")
}

fn ava(a: &AttributeTypeAndValue<'_>) -> String {
    let oid = a.attr_type().to_id_string();
    let keyword = KEYWORDS.iter().find(|(o, _)| *o == oid).map(|(_, k)| *k);
    let value = a.attr_value();
    match (keyword, string_value(value)) {
        (Some(k), Some(s)) => format!("{k}={}", escape(&s)),
        (k, _) => format!("{}=#{}", k.unwrap_or(&oid), hex(&der(value))),
    }
}

/// The text of a string-typed value (the DER string types Java's isDerString accepts).
fn string_value(v: &Any<'_>) -> Option<String> {
    if v.header.class() != Class::Universal || v.header.is_constructed() {
        return None;
    }
    match v.header.tag() {
        Tag::Utf8String | Tag::PrintableString | Tag::Ia5String | Tag::GeneralString => {
            String::from_utf8(v.data.to_vec()).ok()
        }
        // T61 as Latin-1, as Java reads it.
        Tag::T61String => Some(v.data.iter().map(|b| char::from(*b)).collect()),
        Tag::BmpString => {
            if !v.data.len().is_multiple_of(2) {
                return None;
            }
            let units: Vec<u16> = v
                .data
                .chunks_exact(2)
                .map(|c| u16::from_be_bytes([c[0], c[1]]))
                .collect();
            String::from_utf16(&units).ok()
        }
        _ => None,
    }
}

fn escape(value: &str) -> String {
    let mut out = String::with_capacity(value.len() + 4);
    for c in value.chars() {
        if c == '\0' {
            out.push_str("\\00");
            continue;
        }
        if ESCAPEES.contains(c) {
            out.push('\\');
        }
        out.push(c);
    }
    // Leading and trailing blanks (space, CR) are escaped one by one.
    let chars: Vec<char> = out.chars().collect();
    let blank = |c: &char| *c == ' ' || *c == '\r';
    let lead = chars.iter().take_while(|c| blank(c)).count();
    let trail = chars.iter().rev().take_while(|c| blank(c)).count();
    if lead == 0 && trail == 0 {
        return out;
    }
    let mut escaped = String::with_capacity(out.len() + lead + trail);
    for (i, c) in chars.iter().enumerate() {
        if i < lead || i >= chars.len().saturating_sub(trail) {
            escaped.push('\\');
        }
        escaped.push(*c);
    }
    escaped
}

/// The value's DER encoding again (tag, length, content), for the `#hex` form.
fn der(v: &Any<'_>) -> Vec<u8> {
    let mut out = Vec::with_capacity(v.data.len() + 6);
    let class_bits = (v.header.class() as u8) << 6;
    let constructed = if v.header.is_constructed() { 0x20 } else { 0 };
    let tag = v.header.tag().0;
    if tag < 31 {
        out.push(class_bits | constructed | tag as u8);
    } else {
        out.push(class_bits | constructed | 0x1f);
        let mut groups = Vec::new();
        let mut t = tag;
        loop {
            groups.push((t & 0x7f) as u8);
            t >>= 7;
            if t == 0 {
                break;
            }
        }
        for (i, g) in groups.iter().enumerate().rev() {
            out.push(if i > 0 { g | 0x80 } else { *g });
        }
    }
    let len = v.data.len();
    if len < 0x80 {
        out.push(len as u8);
    } else {
        let bytes: Vec<u8> = len
            .to_be_bytes()
            .into_iter()
            .skip_while(|b| *b == 0)
            .collect();
        out.push(0x80 | bytes.len() as u8);
        out.extend_from_slice(&bytes);
    }
    out.extend_from_slice(v.data);
    out
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use x509_parser::prelude::FromDer;

    /// A DER Name from (oid bytes, tag, value) RDNs, each RDN one AVA.
    fn name(rdns: &[(&[u8], u8, &[u8])]) -> Vec<u8> {
        fn tlv(tag: u8, content: &[u8]) -> Vec<u8> {
            assert!(content.len() < 0x80);
            let mut v = vec![tag, content.len() as u8];
            v.extend_from_slice(content);
            v
        }
        let mut seq = Vec::new();
        for (oid, tag, value) in rdns {
            let mut atv = tlv(0x06, oid);
            atv.extend(tlv(*tag, value));
            seq.extend(tlv(0x31, &tlv(0x30, &atv)));
        }
        tlv(0x30, &seq)
    }

    const CN: &[u8] = &[0x55, 0x04, 0x03];
    const O: &[u8] = &[0x55, 0x04, 0x0a];
    const C: &[u8] = &[0x55, 0x04, 0x06];
    const EMAIL: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x09, 0x01];

    fn render(der: &[u8]) -> String {
        let (_, n) = X509Name::from_der(der).unwrap();
        rfc2253(&n)
    }

    #[test]
    fn last_rdn_first_with_keywords() {
        let der = name(&[
            (C, 0x13, b"US"),
            (O, 0x0c, b"Ferrokeeper"),
            (CN, 0x0c, b"alice"),
        ]);
        assert_eq!(render(&der), "CN=alice,O=Ferrokeeper,C=US");
    }

    #[test]
    fn special_characters_are_escaped_as_java_does() {
        let der = name(&[(O, 0x0c, b"Acme, Inc. <a=b+c>#1;\"\\"), (CN, 0x0c, b" x ")]);
        assert_eq!(
            render(&der),
            "CN=\\ x\\ ,O=Acme\\, Inc. \\<a\\=b\\+c\\>\\#1\\;\\\"\\\\"
        );
    }

    #[test]
    fn unknown_oids_as_hex_der() {
        // emailAddress has no RFC 2253 keyword: Java writes the OID and the IA5String's DER.
        let der = name(&[(EMAIL, 0x16, b"a@b.c"), (CN, 0x0c, b"bob")]);
        assert_eq!(render(&der), "CN=bob,1.2.840.113549.1.9.1=#16056140622e63");
    }

    #[test]
    fn bmp_and_non_ascii_values() {
        let der = name(&[(CN, 0x1e, &[0x00, 0x4a, 0x00, 0xe9])]);
        assert_eq!(render(&der), "CN=Jé");
        let der = name(&[(CN, 0x0c, "Zoë".as_bytes())]);
        assert_eq!(render(&der), "CN=Zoë");
    }

    #[test]
    fn a_certificate_subject_as_zookeeper_reports_it() {
        use rustls_pki_types::pem::PemObject;
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/tls_stores/alice.pem");
        let der = rustls_pki_types::CertificateDer::from_pem_file(path).unwrap();
        let (_, cert) = x509_parser::prelude::X509Certificate::from_der(&der).unwrap();
        // The x509 id Apache ZooKeeper 3.8 gave this certificate's session (whoAmI).
        assert_eq!(
            rfc2253(cert.subject()),
            "1.2.840.113549.1.9.1=#1611616c696365406578616d706c652e636f6d,\
             CN=alice,OU=clients,O=Ferrokeeper\\, Inc.,ST=Test State,C=US"
        );
    }
}
