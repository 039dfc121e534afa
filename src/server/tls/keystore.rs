//! The operator's keystores and truststores, read as ZooKeeper's FileKeyStoreLoaders read
//! them: PKCS12 (p12-keystore), JKS (jks) and PEM, each with the store's one password
//! (X509Util uses the store password for the keys too).

use std::path::Path;

use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};

use super::TlsError;
use crate::config::{StoreSpec, StoreType};

/// A server's key and the certificate chain that goes with it, leaf first.
pub(crate) struct KeyMaterial {
    pub(crate) chain: Vec<CertificateDer<'static>>,
    pub(crate) key: PrivateKeyDer<'static>,
}

fn bad(path: &Path, reason: impl Into<String>) -> TlsError {
    TlsError::Store {
        path: path.to_path_buf(),
        reason: reason.into(),
    }
}

fn read(path: &Path) -> Result<Vec<u8>, TlsError> {
    std::fs::read(path).map_err(|e| bad(path, e.to_string()))
}

/// The first key entry of a keystore, with its chain.
pub(crate) fn load_key_store(spec: &StoreSpec) -> Result<KeyMaterial, TlsError> {
    let path = spec.location.as_path();
    let bytes = read(path)?;
    let (chain, key) = match spec.store_type {
        StoreType::Pkcs12 => {
            let ks = pkcs12(path, &bytes, &spec.password)?;
            let (_, chain) = ks
                .private_key_chain()
                .ok_or_else(|| bad(path, "no private key entry"))?;
            let certs: Vec<Vec<u8>> = chain.certs().iter().map(|c| c.as_der().to_vec()).collect();
            (certs, chain.key().as_der().to_vec())
        }
        StoreType::Jks => {
            let ks = jks_store(path, &bytes, &spec.password)?;
            let alias = ks
                .aliases()
                .into_iter()
                .find(|a| ks.is_private_key_entry(a))
                .ok_or_else(|| bad(path, "no private key entry"))?;
            let entry = ks
                .get_private_key_entry(&alias, spec.password.as_bytes())
                .map_err(|e| bad(path, format!("key {alias}: {e}")))?;
            let certs = entry
                .certificate_chain
                .iter()
                .map(|c| c.content.clone())
                .collect();
            (certs, entry.private_key)
        }
        StoreType::Pem => {
            let certs = pem_certs(path, &bytes)?;
            let key = PrivateKeyDer::from_pem_slice(&bytes)
                .map_err(|e| bad(path, format!("no unencrypted private key: {e}")))?;
            return non_empty(path, certs).map(|chain| KeyMaterial { chain, key });
        }
    };
    let chain = non_empty(path, chain.into_iter().map(CertificateDer::from).collect())?;
    Ok(KeyMaterial {
        chain,
        key: PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key)),
    })
}

/// The trusted certificates of a truststore (Java's trusted-certificate entries).
pub(crate) fn load_trust_store(spec: &StoreSpec) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let path = spec.location.as_path();
    let bytes = read(path)?;
    let certs: Vec<CertificateDer<'static>> = match spec.store_type {
        StoreType::Pkcs12 => pkcs12(path, &bytes, &spec.password)?
            .entries()
            .filter_map(|(_, e)| match e {
                p12_keystore::KeyStoreEntry::Certificate(c) => Some(c.as_der().to_vec().into()),
                _ => None,
            })
            .collect(),
        StoreType::Jks => {
            let ks = jks_store(path, &bytes, &spec.password)?;
            ks.aliases()
                .into_iter()
                .filter_map(|a| ks.get_trusted_certificate_entry(&a).ok())
                .map(|e| e.certificate.content.into())
                .collect()
        }
        StoreType::Pem => pem_certs(path, &bytes)?,
    };
    non_empty(path, certs)
}

fn pkcs12(path: &Path, bytes: &[u8], password: &str) -> Result<p12_keystore::KeyStore, TlsError> {
    p12_keystore::KeyStore::from_pkcs12(bytes, password, p12_keystore::Pkcs12ImportPolicy::Strict)
        .map_err(|e| bad(path, format!("not a PKCS12 store this password opens: {e}")))
}

fn jks_store(path: &Path, bytes: &[u8], password: &str) -> Result<jks::KeyStore, TlsError> {
    let mut ks = jks::KeyStore::new();
    ks.load(bytes, password.as_bytes())
        .map_err(|e| bad(path, format!("not a JKS store this password opens: {e}")))?;
    Ok(ks)
}

fn pem_certs(path: &Path, bytes: &[u8]) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    CertificateDer::pem_slice_iter(bytes)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| bad(path, format!("bad PEM: {e}")))
}

fn non_empty<T>(path: &Path, v: Vec<T>) -> Result<Vec<T>, TlsError> {
    if v.is_empty() {
        return Err(bad(path, "no certificate"));
    }
    Ok(v)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    fn spec(file: &str, store_type: StoreType, password: &str) -> StoreSpec {
        StoreSpec {
            location: PathBuf::from(env!("CARGO_MANIFEST_DIR"))
                .join("tests/tls_stores")
                .join(file),
            password: password.into(),
            store_type,
        }
    }

    #[test]
    fn the_same_key_and_chain_from_every_format() {
        let p12 =
            load_key_store(&spec("server-store.p12", StoreType::Pkcs12, "storepass")).unwrap();
        let jks = load_key_store(&spec("server-store.jks", StoreType::Jks, "storepass")).unwrap();
        let pem = load_key_store(&spec("server-store.pem", StoreType::Pem, "")).unwrap();
        // Leaf first, then the CA, in all three.
        assert_eq!(p12.chain.len(), 2);
        assert_eq!(p12.chain, jks.chain);
        assert_eq!(p12.chain, pem.chain);
        // rustls takes each as the server's key.
        for k in [p12, jks, pem] {
            assert!(rustls::crypto::ring::sign::any_supported_type(&k.key).is_ok());
        }
    }

    #[test]
    fn truststores_hold_the_ca() {
        let ca = pem_certs(
            Path::new("ca.pem"),
            &std::fs::read(spec("ca.pem", StoreType::Pem, "").location).unwrap(),
        )
        .unwrap();
        for (f, t) in [
            ("trust.p12", StoreType::Pkcs12),
            ("trust.jks", StoreType::Jks),
            ("trust.pem", StoreType::Pem),
        ] {
            assert_eq!(
                load_trust_store(&spec(f, t, "storepass")).unwrap(),
                ca,
                "{f}"
            );
        }
    }

    #[test]
    fn wrong_password_wrong_type_and_missing_files_fail() {
        for (f, t) in [
            ("server-store.p12", StoreType::Pkcs12),
            ("server-store.jks", StoreType::Jks),
        ] {
            let e = load_key_store(&spec(f, t, "nope")).err().unwrap();
            assert!(matches!(e, TlsError::Store { .. }), "{f}: {e}");
        }
        assert!(load_key_store(&spec("server-store.pem", StoreType::Jks, "storepass")).is_err());
        assert!(load_key_store(&spec("trust.pem", StoreType::Pem, "")).is_err());
        assert!(load_trust_store(&spec("missing.p12", StoreType::Pkcs12, "")).is_err());
    }
}
