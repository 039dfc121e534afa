//! SASL on the client port, configured as ZooKeeper 3.8 reads it: the JAAS file of the
//! system property `java.security.auth.login.config`, its section `zookeeper.sasl.serverconfig`
//! (default `Server`) whose `user_NAME="password"` options are the DIGEST-MD5 users,
//! `authProvider.N=org.apache.zookeeper.server.auth.SASLAuthenticationProvider` (zoo.cfg, or
//! `-Dzookeeper.authProvider.N`) for the `sasl` ACL scheme, and `zookeeper.superUser`.

use std::collections::BTreeMap;
use std::path::PathBuf;

use super::error::ConfigError;
use super::jaas;
use super::kerberos::{self, KerberosLogin, KerberosNameRules};

/// The class that registers the `sasl` ACL scheme.
const SASL_PROVIDER_CLASS: &str = "org.apache.zookeeper.server.auth.SASLAuthenticationProvider";
/// The providers ZooKeeper always has; naming them changes nothing.
const BUILT_IN_PROVIDERS: [&str; 2] = [
    "org.apache.zookeeper.server.auth.DigestAuthenticationProvider",
    "org.apache.zookeeper.server.auth.IPAuthenticationProvider",
];

/// The server's SASL login: the DIGEST-MD5 users of the JAAS section and the settings that
/// decide what an authenticated identity may do.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SaslServerConfig {
    /// The JAAS file it came from.
    pub jaas_file: PathBuf,
    /// user name -> password (`user_NAME="password"` options).
    pub users: BTreeMap<String, String>,
    /// `zookeeper.SASLAuthenticationProvider.superPassword`: the password of user `super`,
    /// which wins over a `user_super` option.
    pub super_password: Option<String>,
    /// `zookeeper.superUser` and `zookeeper.superUser.*`: identities that become super.
    pub super_users: Vec<String>,
    /// `zookeeper.allowSaslFailedClients=true`: a failed authentication keeps its connection.
    pub allow_failed_clients: bool,
    /// A `Krb5LoginModule` in the section: the server speaks GSSAPI, not DIGEST-MD5.
    pub kerberos: Option<KerberosLogin>,
    /// The krb5.conf of a Kerberos login (`java.security.krb5.conf`).
    pub krb5_conf: Option<PathBuf>,
    /// How an authenticated principal becomes a `sasl` identity.
    pub kerberos_names: KerberosNameRules,
}

impl SaslServerConfig {
    /// The password a DIGEST-MD5 client must know to log in as `user`.
    pub fn password(&self, user: &str) -> Option<&str> {
        if user == "super" {
            if let Some(p) = &self.super_password {
                return Some(p);
            }
        }
        self.users.get(user).map(String::as_str)
    }

    /// Whether an authenticated `id` is a super user (isSaslSuperUser).
    pub fn is_super_user(&self, id: &str) -> bool {
        !id.is_empty() && self.super_users.iter().any(|s| s == id)
    }
}

/// Whether `authProvider.N` (or `zookeeper.authProvider.N`) names the SASL provider.
pub(crate) fn sasl_provider_registered(raw: &BTreeMap<String, String>) -> bool {
    let mut found = false;
    for (k, v) in raw {
        let k = k.strip_prefix("zookeeper.").unwrap_or(k);
        if !k.starts_with("authProvider.") {
            continue;
        }
        let class = v.trim();
        if class == SASL_PROVIDER_CLASS {
            found = true;
        } else if !BUILT_IN_PROVIDERS.contains(&class) && class != super::tls::X509_PROVIDER_CLASS {
            tracing::warn!("{k}={class}: no such authentication provider here; ignored");
        }
    }
    found
}

/// A ZooKeeper system property, given as `-Dzookeeper.NAME` or as `NAME` in zoo.cfg (which
/// ZooKeeper turns into the former).
pub(super) fn zk_property<'a>(raw: &'a BTreeMap<String, String>, name: &str) -> Option<&'a str> {
    raw.get(&format!("zookeeper.{name}"))
        .or_else(|| raw.get(name))
        .map(|v| v.trim())
}

/// The schemes a connection must have authenticated with before anything but auth and sasl
/// requests (AuthenticationHelper): `sessionRequireClientSASLAuth=true` means `sasl`, else
/// `enforce.auth.enabled=true` with `enforce.auth.schemes`. Empty when nothing is enforced.
/// As in ZooKeeper, an enforced scheme without a provider stops start-up.
pub(crate) fn enforce_auth_schemes(
    raw: &BTreeMap<String, String>,
    sasl_provider: bool,
) -> Result<Vec<String>, String> {
    let on = |name| zk_property(raw, name).is_some_and(|v| v.eq_ignore_ascii_case("true"));
    let schemes: Vec<String> = if on("sessionRequireClientSASLAuth") {
        vec!["sasl".into()]
    } else if on("enforce.auth.enabled") {
        zk_property(raw, "enforce.auth.schemes")
            .map(|v| v.split(',').map(|s| s.trim().to_string()).collect())
            .unwrap_or_default()
    } else {
        return Ok(Vec::new());
    };
    if schemes.is_empty() {
        return Err("zookeeper.enforce.auth.enabled is true zookeeper.enforce.auth.schemes must be configured.".into());
    }
    for s in &schemes {
        let available = matches!(s.as_str(), "digest" | "ip") || (s == "sasl" && sasl_provider);
        if !available {
            return Err(format!("Authentication scheme {s} is not available."));
        }
    }
    Ok(schemes)
}

/// Reads the SASL login, if `java.security.auth.login.config` names a JAAS file. As in
/// ZooKeeper, an unreadable or malformed file stops start-up, and a file without the
/// server section leaves SASL off.
pub(crate) fn resolve(
    raw: &BTreeMap<String, String>,
    sysprops: &BTreeMap<String, String>,
) -> Result<Option<SaslServerConfig>, ConfigError> {
    let Some(file) = raw.get("java.security.auth.login.config") else {
        return Ok(None);
    };
    let (path, sections) = read_jaas(file, sysprops)?;
    let path = path.as_path();
    let section = raw
        .get("zookeeper.sasl.serverconfig")
        .map_or("Server", |s| s.trim());
    let Some(modules) = sections.get(section) else {
        tracing::warn!(
            "no JAAS section named '{section}' in {}: SASL authentication is off",
            path.display()
        );
        return Ok(None);
    };
    let kerberos = kerberos::login(modules).map_err(|message| ConfigError::Invalid {
        source_name: path.display().to_string(),
        message,
    })?;
    for m in modules {
        let known =
            m.class.ends_with(".DigestLoginModule") || m.class.ends_with(".Krb5LoginModule");
        if !known {
            tracing::warn!(
                "{}: login module {} is not supported, only DigestLoginModule (DIGEST-MD5) and Krb5LoginModule (GSSAPI) are",
                path.display(),
                m.class
            );
        }
    }
    let (krb5_conf, kerberos_names) = match &kerberos {
        Some(_) => kerberos::name_rules(raw),
        None => (None, KerberosNameRules::default()),
    };
    let users = modules
        .iter()
        .flat_map(|m| m.options.iter())
        .filter_map(|(k, v)| Some((k.strip_prefix("user_")?.to_string(), v.clone())))
        .collect();
    let super_users = raw
        .iter()
        .filter(|(k, _)| {
            k.strip_prefix("zookeeper.superUser")
                .is_some_and(|rest| rest.is_empty() || rest.starts_with('.'))
        })
        .map(|(_, v)| v.clone())
        .collect();
    Ok(Some(SaslServerConfig {
        jaas_file: path.to_path_buf(),
        users,
        super_password: raw
            .get("zookeeper.SASLAuthenticationProvider.superPassword")
            .cloned(),
        super_users,
        allow_failed_clients: raw
            .get("zookeeper.allowSaslFailedClients")
            .is_some_and(|v| v.trim() == "true"),
        kerberos,
        krb5_conf,
        kerberos_names,
    }))
}

/// The JAAS file `java.security.auth.login.config` names, parsed into its sections, its
/// `${prop}` values expanded from `sysprops`.
pub(super) fn read_jaas(
    file: &str,
    sysprops: &BTreeMap<String, String>,
) -> Result<(PathBuf, BTreeMap<String, Vec<jaas::LoginModule>>), ConfigError> {
    let path = PathBuf::from(file.trim());
    let bytes = std::fs::read(&path).map_err(|source| ConfigError::Io {
        path: path.clone(),
        source,
    })?;
    let sections = jaas::parse(&String::from_utf8_lossy(&bytes), &path, sysprops)?;
    Ok((path, sections))
}

/// A client's DIGEST-MD5 login as ZooKeeper's Java client finds it: the JAAS file named by
/// `java.security.auth.login.config`, its section `zookeeper.sasl.clientconfig` (default
/// `Client`) with a DigestLoginModule's `username` and `password`; off when
/// `zookeeper.sasl.client` is false. None: no SASL (as the Java client, with a warning when
/// the file lacks the section or holds another module).
pub fn client_login(
    props: &BTreeMap<String, String>,
) -> Result<Option<(String, String)>, ConfigError> {
    let Some(file) = props.get("java.security.auth.login.config") else {
        return Ok(None);
    };
    if props
        .get("zookeeper.sasl.client")
        .is_some_and(|v| v.trim() == "false")
    {
        return Ok(None);
    }
    let (path, sections) = read_jaas(file, props)?;
    let section = props
        .get("zookeeper.sasl.clientconfig")
        .map_or("Client", |s| s.trim());
    let Some(modules) = sections.get(section) else {
        tracing::warn!(
            "no JAAS section named '{section}' in {}: no SASL login",
            path.display()
        );
        return Ok(None);
    };
    for m in modules {
        let opt = |k: &str| {
            m.options
                .iter()
                .find(|(n, _)| n == k)
                .map(|(_, v)| v.clone())
        };
        if m.class.ends_with(".DigestLoginModule") {
            if let (Some(user), Some(password)) = (opt("username"), opt("password")) {
                return Ok(Some((user, password)));
            }
        }
    }
    tracing::warn!(
        "JAAS section '{section}' in {} has no DigestLoginModule with username and password \
         (Kerberos is not supported by this client): no SASL login",
        path.display()
    );
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn a_client_login_from_the_jaas_client_section() {
        let path = std::env::temp_dir().join(format!("fk-jaas-client-{}", std::process::id()));
        std::fs::write(
            &path,
            "Client { org.apache.zookeeper.server.auth.DigestLoginModule required \
             username=\"bob\" password=\"bobsecret\"; };\n\
             Krb { com.sun.security.auth.module.Krb5LoginModule required useKeyTab=true; };",
        )
        .unwrap();
        let file = path.display().to_string();
        let login = |extra: &[(&str, &str)]| {
            let mut pairs = vec![("java.security.auth.login.config", file.as_str())];
            pairs.extend_from_slice(extra);
            client_login(&raw(&pairs)).unwrap()
        };
        assert_eq!(login(&[]), Some(("bob".into(), "bobsecret".into())));
        assert_eq!(login(&[("zookeeper.sasl.client", "false")]), None);
        assert_eq!(login(&[("zookeeper.sasl.clientconfig", "Krb")]), None);
        assert_eq!(login(&[("zookeeper.sasl.clientconfig", "Nope")]), None);
        assert_eq!(client_login(&raw(&[])).unwrap(), None);
        let _ = std::fs::remove_file(&path);
    }

    #[test]
    fn users_super_and_provider() {
        let dir = std::env::temp_dir().join(format!("fk-jaas-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let file = dir.join("jaas.conf");
        std::fs::write(
            &file,
            "Server { org.apache.zookeeper.server.auth.DigestLoginModule required user_super=\"s\" user_bob=\"b\" debug=\"true\"; };\nZk { x.Y required user_eve=\"e\"; };\n",
        )
        .expect("write");
        let path = file.display().to_string();
        let r = raw(&[
            ("java.security.auth.login.config", &path),
            ("zookeeper.superUser", "bob"),
            ("zookeeper.superUser.2", "carol"),
            ("zookeeper.superUserX", "mallory"),
            ("authProvider.1", SASL_PROVIDER_CLASS),
        ]);
        let c = resolve(&r, &BTreeMap::new()).expect("loads").expect("on");
        assert_eq!(c.password("bob"), Some("b"));
        assert_eq!(c.password("super"), Some("s"));
        assert_eq!(c.password("debug"), None);
        assert!(c.is_super_user("bob") && c.is_super_user("carol"));
        assert!(!c.is_super_user("mallory"));
        assert!(sasl_provider_registered(&r));
        // Another section: only its users.
        let mut r2 = r.clone();
        r2.insert("zookeeper.sasl.serverconfig".into(), "Zk".into());
        let c2 = resolve(&r2, &BTreeMap::new()).expect("loads").expect("on");
        assert_eq!(c2.password("eve"), Some("e"));
        assert_eq!(c2.password("bob"), None);
        // A missing section leaves SASL off; a missing file stops start-up.
        r2.insert("zookeeper.sasl.serverconfig".into(), "Nope".into());
        assert_eq!(resolve(&r2, &BTreeMap::new()).expect("loads"), None);
        let missing = raw(&[("java.security.auth.login.config", "/nonexistent/jaas")]);
        assert!(resolve(&missing, &BTreeMap::new()).is_err());
        assert!(!sasl_provider_registered(&raw(&[])));
        // What must be authenticated first.
        assert_eq!(enforce_auth_schemes(&r, true), Ok(vec![]));
        let req = raw(&[("zookeeper.sessionRequireClientSASLAuth", "TRUE")]);
        assert_eq!(
            enforce_auth_schemes(&req, true),
            Ok(vec!["sasl".to_string()])
        );
        assert!(enforce_auth_schemes(&req, false).is_err());
        let en = raw(&[
            ("enforce.auth.enabled", "true"),
            ("enforce.auth.schemes", "digest, ip"),
        ]);
        assert_eq!(
            enforce_auth_schemes(&en, false),
            Ok(vec!["digest".to_string(), "ip".to_string()])
        );
        assert!(enforce_auth_schemes(&raw(&[("enforce.auth.enabled", "true")]), true).is_err());
        std::fs::remove_dir_all(&dir).ok();
    }
}
