//! The TLS files of an OTLP exporter in the file (`tls.ca_file`, `cert_file`,
//! `key_file`): each read and checked where the file names it, and the client
//! certificate and key checked as the pair they must be. A bad file is an issue at its
//! path and is not used (the system's roots, or no client certificate).

use super::reader::{Obj, Reader};
use super::yaml::Node;
use crate::export::otlp::OtlpSettings;

/// A file's path as written, and the node that holds it.
type Named<'n> = Option<(String, &'n Node)>;

#[cfg(feature = "tls")]
pub(super) fn check(
    r: &mut Reader,
    o: &Obj<'_>,
    ca: Named<'_>,
    cert: Named<'_>,
    key: Named<'_>,
    s: &mut OtlpSettings,
) {
    use crate::export::otlp::tls;
    use std::path::Path;

    if let Some((path, node)) = ca {
        match tls::ca_certificates(Path::new(&path)) {
            Ok(_) => s.certificate = Some(path.into()),
            Err(why) => r.invalid(&o.at("ca_file"), node, format!("{}: {why}", tls::CA_FILE)),
        }
    }
    let chain = cert.and_then(|(path, node)| match tls::client_chain(Path::new(&path)) {
        Ok((chain, _)) => Some((path, node, chain)),
        Err(why) => {
            let expected = format!("{}: {why}", tls::CLIENT_CERT_FILE);
            r.invalid(&o.at("cert_file"), node, expected);
            None
        }
    });
    let private = key.and_then(|(path, node)| match tls::client_key(Path::new(&path)) {
        Ok((key, _)) => Some((path, node, key)),
        Err(why) => {
            r.invalid(&o.at("key_file"), node, format!("{}: {why}", tls::KEY_FILE));
            None
        }
    });
    match (chain, private) {
        (None, None) => {}
        (Some((_, node, _)), None) => {
            r.invalid(
                &o.at("cert_file"),
                node,
                format!("usable without a client key: set {} too", o.at("key_file")),
            );
        }
        (None, Some((_, node, _))) => {
            r.invalid(
                &o.at("key_file"),
                node,
                format!(
                    "usable without a client certificate: set {} too",
                    o.at("cert_file")
                ),
            );
        }
        (Some((cert_path, _, chain)), Some((key_path, node, key))) => {
            match tls::check_pair(&chain, &key) {
                Ok(()) => {
                    s.client_certificate = Some(cert_path.into());
                    s.client_key = Some(key_path.into());
                }
                Err(why) => r.invalid(
                    &o.at("key_file"),
                    node,
                    format!("the private key of the client certificate in {cert_path}: {why}"),
                ),
            }
        }
    }
}

/// Without TLS built in, an `https://` endpoint is refused when the exporter is built;
/// the files are kept as written and not read.
#[cfg(not(feature = "tls"))]
pub(super) fn check(
    _r: &mut Reader,
    _o: &Obj<'_>,
    ca: Named<'_>,
    cert: Named<'_>,
    key: Named<'_>,
    s: &mut OtlpSettings,
) {
    s.certificate = ca.map(|(p, _)| p.into());
    s.client_certificate = cert.map(|(p, _)| p.into());
    s.client_key = key.map(|(p, _)| p.into());
}
