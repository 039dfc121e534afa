//! Kerberos (SASL GSSAPI) on the client port, configured as ZooKeeper 3.8 reads it: a JAAS
//! server section holding a `Krb5LoginModule` (`useKeyTab=true keyTab="..."
//! principal="zookeeper/host@REALM"`) makes the server speak GSSAPI instead of DIGEST-MD5
//! (SecurityUtils.createSaslServer: a login subject with principals); the krb5.conf is the
//! system property `java.security.krb5.conf`; and the identity an authenticated principal
//! gets follows SaslServerCallbackHandler.handleAuthorizeCallback: KerberosName's short name
//! (the `DEFAULT` auth_to_local rule: the first component for the default realm), then
//! `/host` unless `zookeeper.kerberos.removeHostFromPrincipal=true`, then `@REALM` unless
//! `zookeeper.kerberos.removeRealmFromPrincipal=true`.

use std::collections::BTreeMap;
use std::path::PathBuf;

use super::jaas::LoginModule;

/// The login of a `Krb5LoginModule` server section: where the service key is and whose.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KerberosLogin {
    /// `keyTab`: the service's keytab.
    pub keytab: PathBuf,
    /// `principal`, e.g. `zookeeper/localhost@EXAMPLE.COM`.
    pub principal: String,
    /// The principal's first component (`zookeeper`): the SASL protocol.
    pub service: String,
    /// The principal's host component (`localhost`): the SASL server name.
    pub host: String,
}

/// How a principal becomes a `sasl` identity.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KerberosNameRules {
    /// krb5.conf's `[libdefaults] default_realm` (empty without one, as KerberosName has it).
    pub default_realm: String,
    /// `zookeeper.kerberos.removeHostFromPrincipal=true`.
    pub remove_host: bool,
    /// `zookeeper.kerberos.removeRealmFromPrincipal=true`.
    pub remove_realm: bool,
}

/// A principal split as KerberosName does: `service[/host]@realm`, or a bare name.
struct KerberosName<'a> {
    service: &'a str,
    host: Option<&'a str>,
    realm: Option<&'a str>,
}

impl<'a> KerberosName<'a> {
    /// KerberosName's pattern `([^/@]*)(/([^/@]*))?@([^/@]*)`; a name without `@` that does
    /// not match is a bare service name; one with `@` is malformed (None).
    fn parse(name: &'a str) -> Option<Self> {
        let Some((left, realm)) = name.split_once('@') else {
            return Some(Self {
                service: name,
                host: None,
                realm: None,
            });
        };
        if realm.contains(['@', '/']) {
            return None;
        }
        let (service, host) = match left.split_once('/') {
            Some((s, h)) if !h.contains('/') => (s, Some(h)),
            Some(_) => return None,
            None => (left, None),
        };
        Some(Self {
            service,
            host,
            realm: Some(realm),
        })
    }
}

impl KerberosNameRules {
    /// The identity of a client authenticated as principal `authentication_id` that asked for
    /// `authorization_id` (what the JDK's GSSAPI server hands the callback). When the short
    /// name cannot be made (another realm than the default: no `DEFAULT` rule applies),
    /// ZooKeeper logs the error and the authorization id stays as the client sent it.
    pub fn authorized_id(&self, authentication_id: &str, authorization_id: &str) -> String {
        let Some(name) = KerberosName::parse(authentication_id) else {
            tracing::error!("Malformed Kerberos name: {authentication_id}");
            return authorization_id.to_string();
        };
        let short = match (name.host, name.realm) {
            (None, None) => name.service,
            (_, Some(realm)) if realm == self.default_realm => name.service,
            _ => {
                tracing::error!(
                    "Failed to set name based on Kerberos authentication rules: No rules applied to {authentication_id}"
                );
                return authorization_id.to_string();
            }
        };
        let mut id = short.to_string();
        if let (Some(host), false) = (name.host, self.remove_host) {
            id.push('/');
            id.push_str(host);
        }
        if let (Some(realm), false) = (name.realm, self.remove_realm) {
            id.push('@');
            id.push_str(realm);
        }
        id
    }
}

/// The Kerberos login of a server section's `Krb5LoginModule`, if it has one. As the JDK's
/// login would, a module without a keytab or principal stops start-up; so does a principal
/// that is not `service/host@REALM` (SecurityUtils splits it at `/` and `@`).
pub(crate) fn login(modules: &[LoginModule]) -> Result<Option<KerberosLogin>, String> {
    let Some(m) = modules
        .iter()
        .find(|m| m.class.ends_with(".Krb5LoginModule"))
    else {
        return Ok(None);
    };
    let opt = |k: &str| {
        m.options
            .iter()
            .find(|(n, _)| n == k)
            .map(|(_, v)| v.trim().to_string())
    };
    if opt("useKeyTab").as_deref() != Some("true") {
        return Err(
            "Krb5LoginModule without useKeyTab=true: a server needs its key from a keytab".into(),
        );
    }
    let keytab = opt("keyTab").ok_or("Krb5LoginModule has no keyTab")?;
    let principal = opt("principal").ok_or("Krb5LoginModule has no principal")?;
    let (service, host) = principal
        .split_once('@')
        .and_then(|(left, _)| left.split_once('/'))
        .filter(|(s, h)| !s.is_empty() && !h.is_empty())
        .ok_or_else(|| format!("Kerberos principal {principal:?} is not service/host@REALM"))?;
    Ok(Some(KerberosLogin {
        keytab: PathBuf::from(keytab),
        service: service.to_string(),
        host: host.to_string(),
        principal,
    }))
}

/// The krb5.conf the server uses: `java.security.krb5.conf`, else what MIT krb5 reads
/// (`KRB5_CONFIG`'s first file, else /etc/krb5.conf).
pub(crate) fn krb5_conf(raw: &BTreeMap<String, String>) -> PathBuf {
    if let Some(p) = raw.get("java.security.krb5.conf") {
        return PathBuf::from(p.trim());
    }
    std::env::var("KRB5_CONFIG")
        .ok()
        .and_then(|v| v.split(':').next().map(PathBuf::from))
        .unwrap_or_else(|| PathBuf::from("/etc/krb5.conf"))
}

/// `[libdefaults] default_realm` of a krb5.conf's text.
pub(crate) fn default_realm(text: &str) -> Option<String> {
    let mut in_libdefaults = false;
    for line in text.lines() {
        let line = line.trim();
        if line.starts_with('#') || line.starts_with(';') {
            continue;
        }
        if let Some(section) = line.strip_prefix('[') {
            in_libdefaults = section.trim_end_matches(']').trim() == "libdefaults";
            continue;
        }
        if !in_libdefaults {
            continue;
        }
        if let Some((k, v)) = line.split_once('=') {
            if k.trim() == "default_realm" {
                return Some(v.trim().to_string());
            }
        }
    }
    None
}

/// The krb5.conf of a Kerberos login and the identity rules (its default realm, the
/// `kerberos.remove*FromPrincipal` properties). A krb5.conf that cannot be read leaves the
/// default realm empty, as KerberosName does without a Kerberos configuration.
pub(crate) fn name_rules(raw: &BTreeMap<String, String>) -> (Option<PathBuf>, KerberosNameRules) {
    // ZooKeeper compares with "true" exactly (isSystemPropertyTrue).
    let on = |name| super::sasl::zk_property(raw, name) == Some("true");
    if super::sasl::zk_property(raw, "security.auth_to_local").is_some_and(|v| v != "DEFAULT") {
        tracing::warn!(
            "zookeeper.security.auth_to_local: only the DEFAULT rule is supported here; other rules are ignored"
        );
    }
    let conf = krb5_conf(raw);
    let default_realm = match std::fs::read_to_string(&conf) {
        Ok(text) => default_realm(&text).unwrap_or_default(),
        Err(e) => {
            tracing::warn!(
                "cannot read the Kerberos configuration {}: {e}",
                conf.display()
            );
            String::new()
        }
    };
    let explicit = raw.contains_key("java.security.krb5.conf");
    (
        explicit.then_some(conf),
        KerberosNameRules {
            default_realm,
            remove_host: on("kerberos.removeHostFromPrincipal"),
            remove_realm: on("kerberos.removeRealmFromPrincipal"),
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn module(class: &str, opts: &[(&str, &str)]) -> LoginModule {
        LoginModule {
            class: class.into(),
            flag: "required".into(),
            options: opts
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        }
    }

    const KRB5: &str = "com.sun.security.auth.module.Krb5LoginModule";

    #[test]
    fn a_krb5_login_module_section() {
        let m = module(
            KRB5,
            &[
                ("useKeyTab", "true"),
                ("keyTab", "/k/zk.keytab"),
                ("storeKey", "true"),
                ("principal", "zookeeper/localhost@EXAMPLE.COM"),
            ],
        );
        let l = login(std::slice::from_ref(&m)).unwrap().unwrap();
        assert_eq!(l.keytab, PathBuf::from("/k/zk.keytab"));
        assert_eq!(
            (l.service.as_str(), l.host.as_str()),
            ("zookeeper", "localhost")
        );
        let digest = module("org.apache.zookeeper.server.auth.DigestLoginModule", &[]);
        assert_eq!(login(&[digest]).unwrap(), None);
        let no_host = module(
            KRB5,
            &[
                ("useKeyTab", "true"),
                ("keyTab", "/k"),
                ("principal", "zk@R"),
            ],
        );
        assert!(login(&[no_host]).is_err());
        let no_keytab = module(KRB5, &[("principal", "zookeeper/h@R")]);
        assert!(login(&[no_keytab]).is_err());
    }

    #[test]
    fn identities_from_principals() {
        let mut r = KerberosNameRules {
            default_realm: "EXAMPLE.COM".into(),
            ..Default::default()
        };
        let id = |r: &KerberosNameRules, p: &str| r.authorized_id(p, p);
        assert_eq!(id(&r, "alice@EXAMPLE.COM"), "alice@EXAMPLE.COM");
        assert_eq!(id(&r, "svc/host1@EXAMPLE.COM"), "svc/host1@EXAMPLE.COM");
        r.remove_host = true;
        assert_eq!(id(&r, "svc/host1@EXAMPLE.COM"), "svc@EXAMPLE.COM");
        r.remove_realm = true;
        assert_eq!(id(&r, "svc/host1@EXAMPLE.COM"), "svc");
        assert_eq!(id(&r, "alice@EXAMPLE.COM"), "alice");
        r.remove_host = false;
        assert_eq!(id(&r, "svc/host1@EXAMPLE.COM"), "svc/host1");
        // Another realm: no DEFAULT rule applies, the client's authorization id stays.
        assert_eq!(
            r.authorized_id("eve@OTHER.ORG", "eve@OTHER.ORG"),
            "eve@OTHER.ORG"
        );
        assert_eq!(r.authorized_id("eve@OTHER.ORG", "x"), "x");
        assert_eq!(id(&r, "bare"), "bare");
        assert_eq!(r.authorized_id("a/b/c@EXAMPLE.COM", "z"), "z");
    }

    #[test]
    fn default_realm_of_a_krb5_conf() {
        let text = "# c\n[realms]\n default_realm = NO\n[libdefaults]\n  dns_lookup_kdc = false\n  default_realm = EXAMPLE.COM\n";
        assert_eq!(default_realm(text).as_deref(), Some("EXAMPLE.COM"));
        assert_eq!(default_realm("[realms]\ndefault_realm = X\n"), None);
    }

    #[test]
    fn a_jaas_server_section_with_krb5_login_module_selects_kerberos() {
        let dir = std::env::temp_dir().join(format!("fk-krb-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let (jaas, krb5) = (dir.join("jaas.conf"), dir.join("krb5.conf"));
        std::fs::write(
            &jaas,
            "Server { com.sun.security.auth.module.Krb5LoginModule required useKeyTab=true \
             keyTab=\"/k/zk.keytab\" storeKey=true principal=\"zookeeper/localhost@R.ORG\"; };",
        )
        .unwrap();
        std::fs::write(&krb5, "[libdefaults]\n default_realm = R.ORG\n").unwrap();
        let raw: BTreeMap<String, String> = [
            (
                "java.security.auth.login.config",
                jaas.display().to_string(),
            ),
            ("java.security.krb5.conf", krb5.display().to_string()),
            ("zookeeper.kerberos.removeRealmFromPrincipal", "true".into()),
            ("kerberos.removeHostFromPrincipal", "TRUE".into()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
        let c = super::super::sasl::resolve(&raw, &BTreeMap::new())
            .unwrap()
            .unwrap();
        let login = c.kerberos.expect("kerberos");
        assert_eq!(login.principal, "zookeeper/localhost@R.ORG");
        assert_eq!(c.krb5_conf, Some(krb5.clone()));
        // ZooKeeper takes only "true" as true.
        let want = KerberosNameRules {
            default_realm: "R.ORG".into(),
            remove_host: false,
            remove_realm: true,
        };
        assert_eq!(c.kerberos_names, want);
        assert_eq!(
            c.kerberos_names.authorized_id("s/h@R.ORG", "s/h@R.ORG"),
            "s/h"
        );
        std::fs::remove_dir_all(&dir).ok();
    }
}
