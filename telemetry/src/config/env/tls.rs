//! The TLS files of the OTLP exporters: each file read and checked where a variable
//! names it (`OTEL_EXPORTER_OTLP_[{SIGNAL}_]CERTIFICATE`, `..._CLIENT_CERTIFICATE`,
//! `..._CLIENT_KEY`), then each signal's client certificate and key checked as the
//! pair it will present. A bad file is an issue naming the variable, the path and what
//! is wrong, and the file is not used: the system's roots, or no client certificate.

use super::{Config, EnvReader};

#[cfg(feature = "tls")]
impl EnvReader {
    pub(super) fn check_tls_files(&mut self, c: &mut Config) {
        use crate::export::otlp::tls;
        use crate::export::otlp::OtlpVars;
        use crate::signal::Signal;

        /// Where a setting comes from: the generic variables (`None`) or a signal's.
        type Level = Option<Signal>;
        const LEVELS: [Level; 4] = [
            None,
            Some(Signal::Traces),
            Some(Signal::Metrics),
            Some(Signal::Logs),
        ];
        fn settings(c: &mut Config, level: Level) -> &mut crate::export::otlp::OtlpSettings {
            match level {
                None => &mut c.otlp_generic,
                Some(s) => &mut c.otlp_signal[s.index()],
            }
        }
        fn setting(level: Level, field: &str) -> &'static str {
            match (field, level) {
                ("certificate", None) => "otlp.certificate",
                ("certificate", Some(Signal::Traces)) => "otlp.certificate.traces",
                ("certificate", Some(Signal::Metrics)) => "otlp.certificate.metrics",
                ("certificate", Some(Signal::Logs)) => "otlp.certificate.logs",
                ("client_certificate", None) => "otlp.client_certificate",
                ("client_certificate", Some(Signal::Traces)) => "otlp.client_certificate.traces",
                ("client_certificate", Some(Signal::Metrics)) => "otlp.client_certificate.metrics",
                ("client_certificate", Some(Signal::Logs)) => "otlp.client_certificate.logs",
                (_, None) => "otlp.client_key",
                (_, Some(Signal::Traces)) => "otlp.client_key.traces",
                (_, Some(Signal::Metrics)) => "otlp.client_key.metrics",
                (_, Some(Signal::Logs)) => "otlp.client_key.logs",
            }
        }

        // Each file on its own.
        let mut chains = [None, None, None, None];
        let mut keys = [None, None, None, None];
        for (i, level) in LEVELS.into_iter().enumerate() {
            let vars = OtlpVars::of(level);
            if let Some(path) = settings(c, level).certificate.clone() {
                if let Err(why) = tls::ca_certificates(&path) {
                    let value = path.display().to_string();
                    let expected = format!("{}: {why}", tls::CA_FILE);
                    self.issue(
                        vars.certificate,
                        &value,
                        expected,
                        setting(level, "certificate"),
                    );
                    settings(c, level).certificate = None;
                }
            }
            if let Some(path) = settings(c, level).client_certificate.clone() {
                match tls::client_chain(&path) {
                    Ok((chain, _)) => chains[i] = Some(chain),
                    Err(why) => {
                        let value = path.display().to_string();
                        let expected = format!("{}: {why}", tls::CLIENT_CERT_FILE);
                        let name = setting(level, "client_certificate");
                        self.issue(vars.client_certificate, &value, expected, name);
                        settings(c, level).client_certificate = None;
                    }
                }
            }
            if let Some(path) = settings(c, level).client_key.clone() {
                match tls::client_key(&path) {
                    Ok((key, _)) => keys[i] = Some(key),
                    Err(why) => {
                        let value = path.display().to_string();
                        let expected = format!("{}: {why}", tls::KEY_FILE);
                        self.issue(
                            vars.client_key,
                            &value,
                            expected,
                            setting(level, "client_key"),
                        );
                        settings(c, level).client_key = None;
                    }
                }
            }
        }

        // The pair each signal will present: its own file, else the generic one.
        let mut drop_chain = [false; 4];
        let mut drop_key = [false; 4];
        for signal in Signal::ALL {
            let own = 1 + signal.index();
            let from = |set: [bool; 2]| match set {
                [_, true] => Some(own),
                [true, false] => Some(0),
                _ => None,
            };
            let chain_at = from([chains[0].is_some(), chains[own].is_some()]);
            let key_at = from([keys[0].is_some(), keys[own].is_some()]);
            let var =
                |at: usize, field: fn(&OtlpVars) -> &'static str| field(&OtlpVars::of(LEVELS[at]));
            let path = |c: &mut Config, at: usize, key: bool| {
                let s = settings(c, LEVELS[at]);
                let p = if key {
                    &s.client_key
                } else {
                    &s.client_certificate
                };
                p.as_ref()
                    .map(|p| p.display().to_string())
                    .unwrap_or_default()
            };
            let problem = match (chain_at, key_at) {
                (None, None) => None,
                (Some(at), None) => {
                    let other = OtlpVars::of(Some(signal)).client_key;
                    Some((
                        at,
                        false,
                        format!("usable without a client key: set {other} too"),
                    ))
                }
                (None, Some(at)) => {
                    let other = OtlpVars::of(Some(signal)).client_certificate;
                    Some((
                        at,
                        true,
                        format!("usable without a client certificate: set {other} too"),
                    ))
                }
                (Some(ca), Some(ka)) => match (&chains[ca], &keys[ka]) {
                    (Some(chain), Some(key)) => tls::check_pair(chain, key).err().map(|why| {
                        let cert_var = var(ca, |v| v.client_certificate);
                        let cert_path = path(c, ca, false);
                        (
                            ka,
                            true,
                            format!(
                                "the private key of the client certificate in {cert_path} \
                                 ({cert_var}): {why}"
                            ),
                        )
                    }),
                    _ => None,
                },
            };
            if let Some((at, is_key, expected)) = problem {
                let (v, field) = if is_key {
                    (var(at, |v| v.client_key), "client_key")
                } else {
                    (var(at, |v| v.client_certificate), "client_certificate")
                };
                if !self.issues.iter().any(|i| i.var == v) {
                    let value = path(c, at, is_key);
                    self.issue(v, &value, expected, setting(LEVELS[at], field));
                }
                // The signal presents no client certificate: neither file is used.
                if let Some(ca) = chain_at {
                    drop_chain[ca] = true;
                }
                if let Some(ka) = key_at {
                    drop_key[ka] = true;
                }
            }
        }
        for (i, level) in LEVELS.into_iter().enumerate() {
            if drop_chain[i] {
                settings(c, level).client_certificate = None;
            }
            if drop_key[i] {
                settings(c, level).client_key = None;
            }
        }
    }
}

#[cfg(not(feature = "tls"))]
impl EnvReader {
    /// Without TLS built in, an `https://` endpoint is refused when the exporter is
    /// built; its files are not read.
    pub(super) fn check_tls_files(&mut self, _c: &mut Config) {}
}
