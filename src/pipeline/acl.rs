//! ACL rules: the caller's identities, checkACL, fixupACL and the digest provider.

use std::net::IpAddr;
use std::sync::atomic::{AtomicBool, Ordering};

use base64::Engine;
use sha1::{Digest, Sha1};

use crate::proto::{Acl, ErrorCode, Id};

/// `user:base64(sha1("user:password"))`, as DigestAuthenticationProvider.generateDigest.
pub fn generate_digest(id_password: &str) -> String {
    let user = id_password.split(':').next().unwrap_or("");
    let hash = Sha1::digest(id_password.as_bytes());
    format!(
        "{user}:{}",
        base64::engine::general_purpose::STANDARD.encode(hash)
    )
}

/// A connection's identities in the order ZooKeeper iterates them: it keeps them in a
/// ConcurrentHashMap-backed set, so whoAmI and the expansion of `auth` ACLs come out in
/// hash-bin order (jute's Id.hashCode), insertion order within a bin.
pub fn java_set_order(ids: &[Id]) -> Vec<&Id> {
    use crate::tree::children::java_string_hash;
    let mut bins = 16usize;
    while ids.len() > bins * 3 / 4 {
        bins *= 2;
    }
    let mut v: Vec<(usize, usize, &Id)> = ids
        .iter()
        .enumerate()
        .map(|(i, id)| {
            let h = 17i32
                .wrapping_mul(37)
                .wrapping_add(java_string_hash(&id.scheme))
                .wrapping_mul(37)
                .wrapping_add(java_string_hash(&id.id));
            let spread = ((h ^ ((h as u32) >> 16) as i32) & 0x7fff_ffff) as usize;
            (spread & (bins - 1), i, id)
        })
        .collect();
    v.sort_unstable_by_key(|(bin, i, _)| (*bin, *i));
    v.into_iter().map(|(_, _, id)| id).collect()
}

/// Whether the `sasl` scheme has its provider (`authProvider.N=...SASLAuthenticationProvider`).
/// Process-wide, as ZooKeeper's ProviderRegistry is: set when a server with it starts.
static SASL_PROVIDER: AtomicBool = AtomicBool::new(false);

/// Registers the `sasl` scheme's provider (ACLs `sasl:<id>`, and `auth` ACLs of SASL users).
pub(crate) fn register_sasl_provider() {
    SASL_PROVIDER.store(true, Ordering::Relaxed);
}

fn sasl_registered() -> bool {
    SASL_PROVIDER.load(Ordering::Relaxed)
}

/// Whether the `x509` scheme has its provider (`authProvider.N=...X509AuthenticationProvider`),
/// and its `zookeeper.X509AuthenticationProvider.superUser`. Process-wide, like the above.
static X509_PROVIDER: std::sync::RwLock<Option<Option<String>>> = std::sync::RwLock::new(None);

/// Registers the `x509` scheme's provider with its super user, if any.
pub(crate) fn register_x509_provider(super_user: Option<String>) {
    let mut p = X509_PROVIDER.write().unwrap_or_else(|e| e.into_inner());
    *p = Some(super_user);
}

pub(crate) fn x509_registered() -> bool {
    X509_PROVIDER
        .read()
        .unwrap_or_else(|e| e.into_inner())
        .is_some()
}

/// X509AuthenticationProvider.matches: the id is the ACL's, or is the super user's.
fn x509_matches(id: &str, acl_id: &str) -> bool {
    match &*X509_PROVIDER.read().unwrap_or_else(|e| e.into_inner()) {
        None => false,
        Some(super_user) => id == acl_id || super_user.as_deref() == Some(id),
    }
}

/// SASLAuthenticationProvider.isValid: a Kerberos name; one with `@` must read
/// `service[/host]@realm`.
fn is_kerberos_name(id: &str) -> bool {
    let Some((principal, realm)) = id.split_once('@') else {
        return true;
    };
    !realm.contains(['@', '/']) && principal.matches('/').count() <= 1
}

/// Whether the authenticated scheme of `id` has a provider (ZooKeeper's fixupACL expands
/// `auth` ACLs with those; ip is not one, super has no provider).
fn is_authenticated_scheme(scheme: &str) -> bool {
    scheme == "digest"
        || (scheme == "sasl" && sasl_registered())
        || (scheme == "x509" && x509_registered())
}

/// Whether `id` is valid for `scheme` (isValid of the registered providers; unknown
/// schemes have no provider).
fn is_valid(scheme: &str, id: &str) -> bool {
    match scheme {
        // Java's split(":") drops trailing empty parts, so "user:" is one part.
        "digest" => {
            let mut parts: Vec<&str> = id.split(':').collect();
            while parts.len() > 1 && parts.last() == Some(&"") {
                parts.pop();
            }
            parts.len() == 2
        }
        "ip" => parse_ip_acl(id).is_some(),
        "sasl" => sasl_registered() && is_kerberos_name(id),
        // X509AuthenticationProvider.isValid accepts any id.
        "x509" => x509_registered(),
        _ => false,
    }
}

/// Parses `addr` or `addr/bits`.
fn parse_ip_acl(expr: &str) -> Option<(IpAddr, u32)> {
    let (addr, bits) = match expr.split_once('/') {
        Some((a, b)) => (a, Some(b)),
        None => (expr, None),
    };
    let addr: IpAddr = addr.parse().ok()?;
    let max = if addr.is_ipv4() { 32 } else { 128 };
    let bits = match bits {
        Some(b) => b.parse::<u32>().ok().filter(|b| *b <= max)?,
        None => max,
    };
    Some((addr, bits))
}

fn ip_matches(caller: &str, expr: &str) -> bool {
    let (Some((net, bits)), Ok(addr)) = (parse_ip_acl(expr), caller.parse::<IpAddr>()) else {
        return false;
    };
    let (a, n, width) = match (addr, net) {
        (IpAddr::V4(a), IpAddr::V4(n)) => (u128::from(u32::from(a)), u128::from(u32::from(n)), 32),
        (IpAddr::V6(a), IpAddr::V6(n)) => (u128::from(a), u128::from(n), 128),
        _ => return false,
    };
    if bits == 0 {
        return true;
    }
    let shift = width - bits;
    (a >> shift) == (n >> shift)
}

/// checkACL: Ok if the caller holds `perm` on a node with `acl`.
pub fn check(acl: &[Acl], perm: i32, ids: &[Id]) -> Result<(), ErrorCode> {
    if acl.is_empty() || ids.iter().any(|i| i.scheme == "super") {
        return Ok(());
    }
    for a in acl {
        if a.perms & perm == 0 {
            continue;
        }
        if a.id.scheme == "world" && a.id.id == "anyone" {
            return Ok(());
        }
        for mine in ids.iter().filter(|i| i.scheme == a.id.scheme) {
            let matched = match a.id.scheme.as_str() {
                "digest" => mine.id == a.id.id,
                "ip" => ip_matches(&mine.id, &a.id.id),
                // SASLAuthenticationProvider.matches: `sasl:super` matches every sasl ACL.
                "sasl" => sasl_registered() && (mine.id == "super" || mine.id == a.id.id),
                "x509" => x509_matches(&mine.id, &a.id.id),
                _ => false,
            };
            if matched {
                return Ok(());
            }
        }
    }
    Err(ErrorCode::NoAuth)
}

/// fixupACL: drops duplicates, expands `auth`, and rejects what no provider accepts.
pub fn fixup(acl: &[Acl], ids: &[Id]) -> Result<Vec<Acl>, ErrorCode> {
    let mut uniq: Vec<&Acl> = Vec::with_capacity(acl.len());
    for a in acl {
        if !uniq.contains(&a) {
            uniq.push(a);
        }
    }
    if uniq.is_empty() {
        return Err(ErrorCode::InvalidAcl);
    }
    let mut out = Vec::with_capacity(uniq.len());
    for a in uniq {
        if a.id.scheme == "world" && a.id.id == "anyone" {
            out.push(a.clone());
        } else if a.id.scheme == "auth" {
            // Only identities of an authenticated scheme count (digest, sasl with its
            // provider; not ip, not super).
            let mut any = false;
            for i in java_set_order(ids)
                .into_iter()
                .filter(|i| is_authenticated_scheme(&i.scheme))
            {
                any = true;
                out.push(Acl {
                    perms: a.perms,
                    id: i.clone(),
                });
            }
            if !any {
                return Err(ErrorCode::InvalidAcl);
            }
        } else if is_valid(&a.id.scheme, &a.id.id) {
            out.push(a.clone());
        } else {
            return Err(ErrorCode::InvalidAcl);
        }
    }
    Ok(out)
}

/// getACL without ADMIN shows digest ids as `user:x`.
pub fn mask_digests(acl: &[Acl]) -> Vec<Acl> {
    acl.iter()
        .map(|a| {
            if a.id.scheme == "digest" {
                let user = a.id.id.split(':').next().unwrap_or("");
                Acl {
                    perms: a.perms,
                    id: Id {
                        scheme: "digest".into(),
                        id: format!("{user}:x"),
                    },
                }
            } else {
                a.clone()
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::perms;

    fn id(s: &str, i: &str) -> Id {
        Id {
            scheme: s.into(),
            id: i.into(),
        }
    }

    #[test]
    fn digest_matches_zookeeper_docs() {
        // The super:test digest from ZooKeeper's administrator guide.
        assert_eq!(
            generate_digest("super:test"),
            "super:D/InIHSb7yEEbrWz8b9l71RjZJU="
        );
    }

    #[test]
    fn identities_in_java_set_order() {
        // Printed by Java 17 for a ConcurrentHashMap-backed Set<Id>.
        let ids = [
            id("ip", "127.0.0.1"),
            id("super", ""),
            id("digest", "super:D/InIHSb7yEEbrWz8b9l71RjZJU="),
        ];
        let order: Vec<&str> = java_set_order(&ids)
            .iter()
            .map(|i| i.scheme.as_str())
            .collect();
        assert_eq!(order, ["super", "ip", "digest"]);
        let ids = [
            id("ip", "127.0.0.1"),
            id("digest", "u:Jq7wMyA/w2Vd5WIDAKdu4OIIFEQ="),
        ];
        let order: Vec<&str> = java_set_order(&ids)
            .iter()
            .map(|i| i.scheme.as_str())
            .collect();
        assert_eq!(order, ["ip", "digest"]);
    }

    #[test]
    fn ip_ranges() {
        assert!(ip_matches("127.0.0.1", "127.0.0.0/8"));
        assert!(ip_matches("127.0.0.1", "127.0.0.1"));
        assert!(!ip_matches("10.0.0.1", "127.0.0.0/8"));
        assert!(!is_valid("ip", "127.0.0.1/33"));
    }

    #[test]
    fn check_passes_on_any_bit() {
        let acl = vec![Acl {
            perms: perms::READ,
            id: id("digest", "u:h"),
        }];
        assert_eq!(
            check(&acl, perms::READ | perms::ADMIN, &[id("digest", "u:h")]),
            Ok(())
        );
        assert_eq!(
            check(&acl, perms::WRITE, &[id("digest", "u:h")]),
            Err(ErrorCode::NoAuth)
        );
        assert_eq!(check(&acl, perms::WRITE, &[id("super", "")]), Ok(()));
    }

    #[test]
    fn fixup_rules() {
        let auth = Acl {
            perms: perms::ALL,
            id: id("auth", ""),
        };
        assert_eq!(
            fixup(std::slice::from_ref(&auth), &[id("ip", "127.0.0.1")]),
            Err(ErrorCode::InvalidAcl)
        );
        let got = fixup(
            &[auth.clone(), auth],
            &[id("ip", "1.2.3.4"), id("digest", "u:h")],
        )
        .unwrap();
        assert_eq!(
            got,
            vec![Acl {
                perms: perms::ALL,
                id: id("digest", "u:h")
            }]
        );
        assert_eq!(fixup(&[], &[]), Err(ErrorCode::InvalidAcl));
        let bad = Acl {
            perms: 1,
            id: id("world", "someone"),
        };
        assert_eq!(fixup(&[bad], &[]), Err(ErrorCode::InvalidAcl));
        assert!(is_valid("digest", ":x"));
        assert!(!is_valid("digest", "user:"));
        assert!(!is_valid("digest", "a:b:c"));
    }
}
