//! TLS for OTLP (feature `tls`): the PEM files of `OTEL_EXPORTER_OTLP_*CERTIFICATE`,
//! `*CLIENT_CERTIFICATE` and `*CLIENT_KEY`, read and checked at build time; the roots
//! an `https://` endpoint is verified against (the CA file when one is given, else the
//! system's, else the bundled Mozilla set); the hyper-rustls connector of both
//! protocols (HTTP/1.1 for OTLP/HTTP, HTTP/2 for OTLP/gRPC); and the words for a
//! handshake that failed.
//!
//! The crypto provider is rustls' `ring` one, unless the application installed a
//! process default, which is then used.

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};

use rustls::pki_types::pem::SectionKind;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::{ClientConfig, RootCertStore};

use super::settings::TlsFiles;
use crate::error::ConfigError;

/// What the client trusts and shows in the handshakes of one target, and whether a
/// server asked for a client certificate we do not have.
#[derive(Clone)]
pub(crate) struct ClientTls {
    roots: Arc<RootCertStore>,
    identity: Option<Identity>,
    /// Set when a server asked for a client certificate and we had none: with TLS 1.3
    /// the refusal arrives after the handshake, and an HTTP/2 connection may end
    /// with no more than "connection closed" for the request.
    asked_for_certificate: Arc<AtomicBool>,
}

/// A client certificate chain and its key (mutual TLS).
#[derive(Clone)]
pub(crate) struct Identity {
    chain: Vec<CertificateDer<'static>>,
    key: Arc<PrivateKeyDer<'static>>,
}

impl ClientTls {
    /// Reads and checks the files of `files`; without a CA file, the system's roots.
    pub(crate) fn load(files: &TlsFiles) -> Result<ClientTls, ConfigError> {
        let roots = match &files.certificate {
            Some(path) => Arc::new(ca_store(path)?),
            None => system_roots(),
        };
        let identity = identity(
            files.client_certificate.as_deref(),
            files.client_key.as_deref(),
        )?;
        Ok(ClientTls {
            roots,
            identity,
            asked_for_certificate: Arc::new(AtomicBool::new(false)),
        })
    }

    /// The connector of `https://` requests: HTTP/1.1 for OTLP/HTTP, HTTP/2 (ALPN
    /// `h2`) for OTLP/gRPC.
    pub(crate) fn connector(
        &self,
        mut http: hyper_util::client::legacy::connect::HttpConnector,
        http2: bool,
    ) -> Result<
        hyper_rustls::HttpsConnector<hyper_util::client::legacy::connect::HttpConnector>,
        rustls::Error,
    > {
        http.enforce_http(false);
        let builder = hyper_rustls::HttpsConnectorBuilder::new()
            .with_tls_config(self.rustls_config()?)
            .https_only();
        Ok(if http2 {
            builder.enable_http2().wrap_connector(http)
        } else {
            builder.enable_http1().wrap_connector(http)
        })
    }

    /// The reason in words when a failed request's error is a TLS failure: a TLS
    /// error in its chain, or a connection that broke after the server asked for a
    /// client certificate we do not have.
    pub(crate) fn explain(&self, e: &(dyn std::error::Error + 'static)) -> Option<String> {
        if let Some(tls) = find_tls(e) {
            return Some(describe(tls));
        }
        (self.identity.is_none() && self.asked_for_certificate.load(Ordering::Relaxed)).then(|| {
            format!(
                "{CERTIFICATE_REQUIRED} (the connection ended after the server asked for one: {})",
                super::reason_of(e)
            )
        })
    }

    /// The rustls configuration (no ALPN yet: the connector sets it).
    fn rustls_config(&self) -> Result<ClientConfig, rustls::Error> {
        let provider = provider();
        let key = match &self.identity {
            Some(id) => Some(Arc::new(rustls::sign::CertifiedKey::from_der(
                id.chain.clone(),
                id.key.clone_key(),
                &provider,
            )?)),
            None => None,
        };
        Ok(ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()?
            .with_root_certificates(self.roots.clone())
            .with_client_cert_resolver(Arc::new(ClientCertificate {
                key,
                asked_without: self.asked_for_certificate.clone(),
            })))
    }
}

/// Our client certificate, if any; notes when a server asks for one we lack.
#[derive(Debug)]
struct ClientCertificate {
    key: Option<Arc<rustls::sign::CertifiedKey>>,
    asked_without: Arc<AtomicBool>,
}

impl rustls::client::ResolvesClientCert for ClientCertificate {
    fn resolve(
        &self,
        _root_hint_subjects: &[&[u8]],
        _sigschemes: &[rustls::SignatureScheme],
    ) -> Option<Arc<rustls::sign::CertifiedKey>> {
        if self.key.is_none() {
            self.asked_without.store(true, Ordering::Relaxed);
        }
        self.key.clone()
    }

    fn has_certs(&self) -> bool {
        self.key.is_some()
    }
}

const CERTIFICATE_REQUIRED: &str = "the server requires a client certificate (set \
     OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE and OTEL_EXPORTER_OTLP_CLIENT_KEY)";

fn bad(setting: &'static str, path: &Path, what: &str, why: String) -> ConfigError {
    ConfigError::InvalidSetting {
        setting,
        value: path.display().to_string(),
        expected: format!("{what}: {why}"),
    }
}

/// The trust roots of a CA file (the builder's `certificate`).
pub(crate) fn ca_store(path: &Path) -> Result<RootCertStore, ConfigError> {
    let certs = ca_certificates(path).map_err(|why| bad("certificate", path, CA_FILE, why))?;
    let mut store = RootCertStore::empty();
    store.add_parsable_certificates(certs);
    Ok(store)
}

/// The client identity of a certificate file and a key file that belong together
/// (the builder's `client_certificate`).
pub(crate) fn identity(
    cert: Option<&Path>,
    key: Option<&Path>,
) -> Result<Option<Identity>, ConfigError> {
    match (cert, key) {
        (None, None) => Ok(None),
        (Some(cert), Some(key)) => {
            let (chain, _) = client_chain(cert)
                .map_err(|why| bad("client_certificate", cert, CLIENT_CERT_FILE, why))?;
            let (key_der, _) =
                client_key(key).map_err(|why| bad("client_key", key, KEY_FILE, why))?;
            check_pair(&chain, &key_der).map_err(|why| {
                bad(
                    "client_key",
                    key,
                    "the private key of the client certificate",
                    format!("{why} in {}", cert.display()),
                )
            })?;
            Ok(Some(Identity {
                chain,
                key: Arc::new(key_der),
            }))
        }
        (Some(cert), None) => Err(bad(
            "client_certificate",
            cert,
            "usable without its key",
            "set the client key too".into(),
        )),
        (None, Some(key)) => Err(bad(
            "client_key",
            key,
            "usable without its certificate",
            "set the client certificate too".into(),
        )),
    }
}

/// What each file must be, in messages.
pub(crate) const CA_FILE: &str = "a PEM file of CA certificates";
pub(crate) const CLIENT_CERT_FILE: &str = "a PEM file of the client's certificate chain";
pub(crate) const KEY_FILE: &str = "a PEM file of the client's private key";

/// The provider of every TLS configuration made here.
fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    rustls::crypto::CryptoProvider::get_default()
        .cloned()
        .unwrap_or_else(|| Arc::new(rustls::crypto::ring::default_provider()))
}

/// The system's trust roots (`SSL_CERT_FILE` and `SSL_CERT_DIR` are honoured), read
/// once per process; Mozilla's bundled set where the system has none.
fn system_roots() -> Arc<RootCertStore> {
    static ROOTS: OnceLock<Arc<RootCertStore>> = OnceLock::new();
    ROOTS
        .get_or_init(|| {
            let mut store = RootCertStore::empty();
            let found = rustls_native_certs::load_native_certs();
            store.add_parsable_certificates(found.certs);
            if store.is_empty() {
                store.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
            }
            Arc::new(store)
        })
        .clone()
}

/// The PEM sections of a file, or what is wrong with it.
/// The sections of a PEM file, each with its DER bytes.
type Sections = Vec<(SectionKind, Vec<u8>)>;

fn read_pem(path: &Path) -> Result<(Vec<u8>, Sections), String> {
    let bytes = std::fs::read(path).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => "there is no such file".to_string(),
        std::io::ErrorKind::IsADirectory => "it is a directory".to_string(),
        std::io::ErrorKind::PermissionDenied => "it cannot be read: permission denied".into(),
        kind => format!("it cannot be read: {kind}"),
    })?;
    let mut sections = Vec::new();
    let mut rest: &[u8] = &bytes;
    loop {
        match rustls::pki_types::pem::from_buf(&mut rest) {
            Ok(Some(section)) => sections.push(section),
            Ok(None) => break,
            Err(e) => return Err(format!("it is not valid PEM: {e}")),
        }
    }
    if sections.is_empty() {
        return Err("it is not a PEM file (no -----BEGIN ...----- section)".into());
    }
    Ok((bytes, sections))
}

/// Names the kinds of sections a file holds, for "there is no X in it".
fn holds(sections: &[(SectionKind, Vec<u8>)]) -> String {
    let mut kinds: Vec<&str> = sections
        .iter()
        .map(|(kind, _)| match kind {
            SectionKind::Certificate => "a certificate",
            SectionKind::PublicKey => "a public key",
            SectionKind::RsaPrivateKey | SectionKind::PrivateKey | SectionKind::EcPrivateKey => {
                "a private key"
            }
            SectionKind::Crl => "a revocation list",
            SectionKind::Csr => "a certificate request",
            _ => "another PEM section",
        })
        .collect();
    kinds.dedup();
    kinds.join(" and ")
}

fn certificates(
    sections: &[(SectionKind, Vec<u8>)],
) -> Result<Vec<CertificateDer<'static>>, String> {
    let certs: Vec<CertificateDer<'static>> = sections
        .iter()
        .filter(|(kind, _)| *kind == SectionKind::Certificate)
        .map(|(_, der)| CertificateDer::from(der.clone()))
        .collect();
    if certs.is_empty() {
        return Err(format!(
            "there is no certificate in it (it holds {})",
            holds(sections)
        ));
    }
    Ok(certs)
}

/// The CA certificates of a file, each one parsed.
pub(crate) fn ca_certificates(path: &Path) -> Result<Vec<CertificateDer<'static>>, String> {
    let (_, sections) = read_pem(path)?;
    let certs = certificates(&sections)?;
    for (i, cert) in certs.iter().enumerate() {
        RootCertStore::empty()
            .add(cert.clone())
            .map_err(|e| format!("certificate {} in it cannot be used: {e}", i + 1))?;
    }
    Ok(certs)
}

/// A client certificate chain, and the file's text.
pub(crate) fn client_chain(path: &Path) -> Result<(Vec<CertificateDer<'static>>, Vec<u8>), String> {
    let (bytes, sections) = read_pem(path)?;
    Ok((certificates(&sections)?, bytes))
}

/// A client private key, and the file's text.
pub(crate) fn client_key(path: &Path) -> Result<(PrivateKeyDer<'static>, Vec<u8>), String> {
    let (bytes, sections) = read_pem(path)?;
    let key = sections.iter().find_map(|(kind, der)| match kind {
        SectionKind::PrivateKey => Some(PrivateKeyDer::Pkcs8(der.clone().into())),
        SectionKind::RsaPrivateKey => Some(PrivateKeyDer::Pkcs1(der.clone().into())),
        SectionKind::EcPrivateKey => Some(PrivateKeyDer::Sec1(der.clone().into())),
        _ => None,
    });
    match key {
        Some(key) => Ok((key, bytes)),
        None => Err(format!(
            "there is no private key in it (it holds {})",
            holds(&sections)
        )),
    }
}

/// Whether a key can sign for the first certificate of a chain.
pub(crate) fn check_pair(
    chain: &[CertificateDer<'static>],
    key: &PrivateKeyDer<'static>,
) -> Result<(), String> {
    use rustls::{Error, InconsistentKeys};
    match rustls::sign::CertifiedKey::from_der(chain.to_vec(), key.clone_key(), &provider()) {
        Ok(_) => Ok(()),
        Err(Error::InconsistentKeys(InconsistentKeys::KeyMismatch)) => {
            Err("the key does not match the certificate".into())
        }
        Err(e) => Err(format!("the key cannot be used with the certificate: {e}")),
    }
}

/// The TLS error in a chain. An I/O error is looked into (its `source()` skips the
/// error it wraps, which is where rustls' error sits, often two I/O errors deep).
fn find_tls<'a>(e: &'a (dyn std::error::Error + 'static)) -> Option<&'a rustls::Error> {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(s) = source {
        if let Some(tls) = s.downcast_ref::<rustls::Error>() {
            return Some(tls);
        }
        if let Some(inner) = s
            .downcast_ref::<std::io::Error>()
            .and_then(|io| io.get_ref())
        {
            let inner: &(dyn std::error::Error + 'static) = inner;
            if let Some(tls) = find_tls(inner) {
                return Some(tls);
            }
        }
        source = s.source();
    }
    None
}

/// Words for a TLS error, with what to do where there is something to do, and
/// rustls' own message.
fn describe(e: &rustls::Error) -> String {
    use rustls::{AlertDescription as Alert, CertificateError as Cert, Error};
    let words = match e {
        Error::InvalidCertificate(cert) => match cert {
            Cert::UnknownIssuer => {
                "the server's certificate is not signed by a CA we trust (set \
                 OTEL_EXPORTER_OTLP_CERTIFICATE to the CA file that signed it)"
            }
            Cert::NotValidForName | Cert::NotValidForNameContext { .. } => {
                "the server's certificate is not for the endpoint's host name"
            }
            Cert::Expired | Cert::ExpiredContext { .. } => "the server's certificate has expired",
            Cert::NotValidYet | Cert::NotValidYetContext { .. } => {
                "the server's certificate is not valid yet"
            }
            Cert::Revoked => "the server's certificate is revoked",
            _ => "the server's certificate was refused",
        },
        Error::AlertReceived(Alert::CertificateRequired) => CERTIFICATE_REQUIRED,
        Error::AlertReceived(
            Alert::BadCertificate
            | Alert::UnknownCA
            | Alert::CertificateUnknown
            | Alert::CertificateExpired
            | Alert::CertificateRevoked
            | Alert::UnsupportedCertificate
            | Alert::AccessDenied,
        ) => "the server refused our client certificate",
        Error::AlertReceived(Alert::HandshakeFailure) => {
            "the server refused the handshake (no common protocol version or cipher, or a \
             client certificate it requires)"
        }
        Error::AlertReceived(_) => "the server ended the handshake",
        _ => "the handshake failed",
    };
    format!("{words} ({e})")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tls_error_inside_an_io_error_is_found_and_put_in_words() {
        // As hyper-rustls hands it over: rustls' error in an I/O error in another.
        let io = std::io::Error::other(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            rustls::Error::InvalidCertificate(rustls::CertificateError::UnknownIssuer),
        ));
        let tls = ClientTls::load(&TlsFiles::default()).unwrap();
        let words = tls.explain(&io).expect("a TLS error");
        assert!(
            words.starts_with("the server's certificate is not signed by a CA we trust"),
            "{words}"
        );
        let plain = std::io::Error::from(std::io::ErrorKind::ConnectionRefused);
        assert_eq!(tls.explain(&plain), None);
        // After a server asked for a client certificate we lack, a broken connection
        // is that refusal.
        tls.asked_for_certificate.store(true, Ordering::Relaxed);
        let words = tls.explain(&plain).expect("the refusal");
        assert!(
            words.starts_with("the server requires a client certificate"),
            "{words}"
        );
    }

    #[test]
    fn files_that_are_not_pem_or_hold_the_wrong_thing_say_so() {
        let dir = std::env::temp_dir().join(format!("telemetry-tls-unit-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let text = dir.join("text.pem");
        std::fs::write(&text, "hello\n").unwrap();
        assert_eq!(
            ca_certificates(&text).unwrap_err(),
            "it is not a PEM file (no -----BEGIN ...----- section)"
        );
        let key_only = dir.join("key.pem");
        std::fs::write(
            &key_only,
            "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n",
        )
        .unwrap();
        assert_eq!(
            ca_certificates(&key_only).unwrap_err(),
            "there is no certificate in it (it holds a private key)"
        );
        assert_eq!(
            ca_certificates(&dir.join("missing.pem")).unwrap_err(),
            "there is no such file"
        );
        assert_eq!(ca_certificates(&dir).unwrap_err(), "it is a directory");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
