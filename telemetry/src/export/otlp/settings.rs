//! The settings of an OTLP exporter: endpoint, protocol, headers, timeout,
//! compression and TLS files, per signal and generic, with their
//! `OTEL_EXPORTER_OTLP_*` names and defaults, and how an endpoint is turned into the
//! URL requests go to.

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use crate::error::ConfigError;
use crate::signal::Signal;

/// `OTEL_EXPORTER_OTLP_ENDPOINT`: base URL; HTTP appends `v1/<signal>`.
pub const OTEL_EXPORTER_OTLP_ENDPOINT: &str = "OTEL_EXPORTER_OTLP_ENDPOINT";
/// `OTEL_EXPORTER_OTLP_PROTOCOL`: `grpc`, `http/protobuf` or `http/json`.
pub const OTEL_EXPORTER_OTLP_PROTOCOL: &str = "OTEL_EXPORTER_OTLP_PROTOCOL";
/// `OTEL_EXPORTER_OTLP_HEADERS`: `k=v,k2=v2`, percent-encoded.
pub const OTEL_EXPORTER_OTLP_HEADERS: &str = "OTEL_EXPORTER_OTLP_HEADERS";
/// `OTEL_EXPORTER_OTLP_TIMEOUT`: milliseconds per export request; 0 means no limit.
pub const OTEL_EXPORTER_OTLP_TIMEOUT: &str = "OTEL_EXPORTER_OTLP_TIMEOUT";
/// `OTEL_EXPORTER_OTLP_COMPRESSION`: `gzip` or `none`.
pub const OTEL_EXPORTER_OTLP_COMPRESSION: &str = "OTEL_EXPORTER_OTLP_COMPRESSION";
/// `OTEL_EXPORTER_OTLP_INSECURE`: for gRPC endpoints without a scheme.
pub const OTEL_EXPORTER_OTLP_INSECURE: &str = "OTEL_EXPORTER_OTLP_INSECURE";
/// `OTEL_EXPORTER_OTLP_CERTIFICATE`: PEM file of the CA certificates that verify the
/// collector's certificate (instead of the system's roots).
pub const OTEL_EXPORTER_OTLP_CERTIFICATE: &str = "OTEL_EXPORTER_OTLP_CERTIFICATE";
/// `OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE`: PEM file of the client's certificate chain
/// (mutual TLS).
pub const OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE: &str = "OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE";
/// `OTEL_EXPORTER_OTLP_CLIENT_KEY`: PEM file of the client's private key (mutual TLS).
pub const OTEL_EXPORTER_OTLP_CLIENT_KEY: &str = "OTEL_EXPORTER_OTLP_CLIENT_KEY";

/// The largest OTLP request sent, encoded and before compression: 4 MiB, what the
/// Collector's gRPC receiver accepts by default.
pub(crate) const DEFAULT_MAX_REQUEST_SIZE: u64 = 4 * 1024 * 1024;
/// OTLP's own bound on a request: 64 MiB.
pub(crate) const OTLP_MAX_REQUEST_SIZE: u64 = 64 * 1024 * 1024;
/// The endpoint of OTLP/HTTP when none is configured.
pub(crate) const DEFAULT_HTTP_ENDPOINT: &str = "http://localhost:4318";
/// The endpoint of OTLP/gRPC when none is configured.
pub(crate) const DEFAULT_GRPC_ENDPOINT: &str = "http://localhost:4317";
/// Default OTLP request timeout (`OTEL_EXPORTER_OTLP_TIMEOUT`).
pub(crate) const DEFAULT_OTLP_TIMEOUT: Duration = Duration::from_millis(10_000);

/// The OTLP wire protocol.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    /// OTLP/gRPC, port 4317.
    Grpc,
    /// OTLP/HTTP with protobuf bodies, port 4318 (the default).
    HttpProtobuf,
    /// OTLP/HTTP with JSON bodies, port 4318.
    HttpJson,
}

impl Protocol {
    /// The spelling used by `OTEL_EXPORTER_OTLP_PROTOCOL`.
    pub fn as_str(self) -> &'static str {
        match self {
            Protocol::Grpc => "grpc",
            Protocol::HttpProtobuf => "http/protobuf",
            Protocol::HttpJson => "http/json",
        }
    }
}

/// Request body compression.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Compression {
    /// Uncompressed (the default).
    #[default]
    None,
    /// gzip.
    Gzip,
}

/// OTLP settings of one signal. Unset fields fall back to the generic ones.
#[derive(Clone, Default, PartialEq)]
pub(crate) struct OtlpSettings {
    pub(crate) endpoint: Option<String>,
    pub(crate) protocol: Option<Protocol>,
    pub(crate) headers: Option<Vec<(String, String)>>,
    pub(crate) timeout: Option<Duration>,
    pub(crate) compression: Option<Compression>,
    pub(crate) insecure: Option<bool>,
    pub(crate) certificate: Option<PathBuf>,
    pub(crate) client_certificate: Option<PathBuf>,
    pub(crate) client_key: Option<PathBuf>,
}

/// The TLS files of an `https://` OTLP endpoint, read when the exporter is built.
/// Each one unset means: the system's trust roots, and no client certificate.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TlsFiles {
    /// PEM file of the CA certificates that verify the collector's certificate,
    /// instead of the system's roots (`OTEL_EXPORTER_OTLP_CERTIFICATE`).
    pub certificate: Option<PathBuf>,
    /// PEM file of the client's certificate chain, for mutual TLS
    /// (`OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE`).
    pub client_certificate: Option<PathBuf>,
    /// PEM file of the client's private key, for mutual TLS
    /// (`OTEL_EXPORTER_OTLP_CLIENT_KEY`).
    pub client_key: Option<PathBuf>,
}

/// The OTLP settings of one signal after the per-signal, generic and default values
/// have been merged. Its `Debug` output shows header names, not their values.
#[derive(Clone, PartialEq)]
pub struct OtlpTarget {
    /// The full URL requests go to (for HTTP, including `/v1/<signal>`).
    pub endpoint: String,
    /// The wire protocol.
    pub protocol: Protocol,
    /// Extra request headers (or gRPC metadata).
    pub headers: Vec<(String, String)>,
    /// Per-request timeout; `None` means no limit.
    pub timeout: Option<Duration>,
    /// Body compression.
    pub compression: Compression,
    /// The TLS files, used when the endpoint is `https://`.
    pub tls: TlsFiles,
}

pub(crate) fn check_header(name: &str, value: &str) -> Result<(), ConfigError> {
    if http::HeaderName::from_bytes(name.as_bytes()).is_err() {
        return Err(ConfigError::InvalidSetting {
            setting: "header name",
            value: name.to_string(),
            expected: HEADER_NAME.into(),
        });
    }
    if http::HeaderValue::from_str(value).is_err() {
        return Err(ConfigError::InvalidHeaderValue {
            header: name.to_string(),
            expected: HEADER_VALUE,
        });
    }
    Ok(())
}

pub(crate) const HEADER_NAME: &str = "an HTTP header name (letters, digits and `-`)";
pub(crate) const HEADER_VALUE: &str = "visible ASCII characters";

/// Header lists in `Debug` output: names, never values.
struct RedactedHeaders<'a>(&'a [(String, String)]);

impl fmt::Debug for RedactedHeaders<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map()
            .entries(self.0.iter().map(|(k, _)| (k, format_args!("<redacted>"))))
            .finish()
    }
}

impl fmt::Debug for OtlpSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OtlpSettings")
            .field("endpoint", &self.endpoint)
            .field("protocol", &self.protocol)
            .field("headers", &self.headers.as_deref().map(RedactedHeaders))
            .field("timeout", &self.timeout)
            .field("compression", &self.compression)
            .field("insecure", &self.insecure)
            .field("certificate", &self.certificate)
            .field("client_certificate", &self.client_certificate)
            .field("client_key", &self.client_key)
            .finish()
    }
}

impl fmt::Debug for OtlpTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OtlpTarget")
            .field("endpoint", &self.endpoint)
            .field("protocol", &self.protocol)
            .field("headers", &RedactedHeaders(&self.headers))
            .field("timeout", &self.timeout)
            .field("compression", &self.compression)
            .field("tls", &self.tls)
            .finish()
    }
}

/// Turns a configured endpoint into the URL requests go to.
pub(crate) fn normalise_endpoint(
    raw: &str,
    protocol: Protocol,
    insecure: bool,
    append_signal: Option<Signal>,
) -> Result<String, ConfigError> {
    let bad = |expected: &str| ConfigError::InvalidSetting {
        setting: "endpoint",
        value: raw.to_string(),
        expected: expected.to_string(),
    };
    let raw = raw.trim();
    let with_scheme = if raw.starts_with("http://") || raw.starts_with("https://") {
        raw.to_string()
    } else if protocol == Protocol::Grpc && !raw.contains("://") {
        let scheme = if insecure { "http" } else { "https" };
        format!("{scheme}://{raw}")
    } else {
        return Err(bad(
            "an http:// or https:// URL, like http://localhost:4318",
        ));
    };
    let uri: http::Uri = with_scheme
        .parse()
        .map_err(|_| bad("an http:// or https:// URL, like http://localhost:4318"))?;
    if uri.host().is_none_or(str::is_empty) {
        return Err(bad("a URL with a host, like http://localhost:4318"));
    }
    if protocol == Protocol::Grpc {
        return Ok(with_scheme);
    }
    match append_signal {
        Some(signal) => {
            let base = with_scheme.trim_end_matches('/');
            Ok(format!("{base}/v1/{}", signal.as_str()))
        }
        None => {
            if !has_path(&with_scheme) {
                Ok(format!("{}/", with_scheme.trim_end_matches('/')))
            } else {
                Ok(with_scheme)
            }
        }
    }
}

fn has_path(url: &str) -> bool {
    url.split_once("://")
        .map(|(_, rest)| rest.contains('/'))
        .unwrap_or(false)
}

impl OtlpSettings {
    /// Merges a signal's own settings over the generic ones and the defaults, joining
    /// the endpoint as the specification says: a generic HTTP endpoint gets
    /// `v1/<signal>` appended, a per-signal one is used as is (an empty path becomes
    /// `/`), gRPC appends nothing.
    pub(crate) fn resolve(
        specific: &OtlpSettings,
        generic: &OtlpSettings,
        signal: Signal,
    ) -> Result<OtlpTarget, ConfigError> {
        let protocol = specific
            .protocol
            .or(generic.protocol)
            .unwrap_or(Protocol::HttpProtobuf);
        let insecure = specific.insecure.or(generic.insecure).unwrap_or(false);
        let endpoint = match (&specific.endpoint, &generic.endpoint) {
            (Some(ep), _) => normalise_endpoint(ep, protocol, insecure, None)?,
            (None, Some(ep)) => normalise_endpoint(ep, protocol, insecure, Some(signal))?,
            (None, None) => match protocol {
                Protocol::Grpc => DEFAULT_GRPC_ENDPOINT.to_string(),
                _ => format!("{DEFAULT_HTTP_ENDPOINT}/v1/{}", signal.as_str()),
            },
        };
        let mut headers = generic.headers.clone().unwrap_or_default();
        if let Some(extra) = &specific.headers {
            for (k, v) in extra {
                headers.retain(|(name, _)| !name.eq_ignore_ascii_case(k));
                headers.push((k.clone(), v.clone()));
            }
        }
        let timeout = specific
            .timeout
            .or(generic.timeout)
            .unwrap_or(DEFAULT_OTLP_TIMEOUT);
        Ok(OtlpTarget {
            endpoint,
            protocol,
            headers,
            timeout: (!timeout.is_zero()).then_some(timeout),
            compression: specific
                .compression
                .or(generic.compression)
                .unwrap_or_default(),
            tls: TlsFiles {
                certificate: specific.certificate.clone().or(generic.certificate.clone()),
                client_certificate: specific
                    .client_certificate
                    .clone()
                    .or(generic.client_certificate.clone()),
                client_key: specific.client_key.clone().or(generic.client_key.clone()),
            },
        })
    }
}

/// The `OTEL_EXPORTER_OTLP_*` variables of one signal, or the generic ones.
#[derive(Debug, Clone, Copy)]
pub(crate) struct OtlpVars {
    pub(crate) endpoint: &'static str,
    pub(crate) protocol: &'static str,
    pub(crate) headers: &'static str,
    pub(crate) timeout: &'static str,
    pub(crate) compression: &'static str,
    pub(crate) insecure: &'static str,
    pub(crate) certificate: &'static str,
    pub(crate) client_certificate: &'static str,
    pub(crate) client_key: &'static str,
}

impl OtlpVars {
    /// The generic variables (`OTEL_EXPORTER_OTLP_ENDPOINT`, ...).
    pub(crate) const GENERIC: OtlpVars = OtlpVars {
        endpoint: OTEL_EXPORTER_OTLP_ENDPOINT,
        protocol: OTEL_EXPORTER_OTLP_PROTOCOL,
        headers: OTEL_EXPORTER_OTLP_HEADERS,
        timeout: OTEL_EXPORTER_OTLP_TIMEOUT,
        compression: OTEL_EXPORTER_OTLP_COMPRESSION,
        insecure: OTEL_EXPORTER_OTLP_INSECURE,
        certificate: OTEL_EXPORTER_OTLP_CERTIFICATE,
        client_certificate: OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE,
        client_key: OTEL_EXPORTER_OTLP_CLIENT_KEY,
    };

    /// The variables of `signal` (`OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`, ...), or the
    /// generic ones for `None`.
    pub(crate) const fn of(signal: Option<Signal>) -> OtlpVars {
        macro_rules! vars {
            ($s:literal) => {
                OtlpVars {
                    endpoint: concat!("OTEL_EXPORTER_OTLP_", $s, "_ENDPOINT"),
                    protocol: concat!("OTEL_EXPORTER_OTLP_", $s, "_PROTOCOL"),
                    headers: concat!("OTEL_EXPORTER_OTLP_", $s, "_HEADERS"),
                    timeout: concat!("OTEL_EXPORTER_OTLP_", $s, "_TIMEOUT"),
                    compression: concat!("OTEL_EXPORTER_OTLP_", $s, "_COMPRESSION"),
                    insecure: concat!("OTEL_EXPORTER_OTLP_", $s, "_INSECURE"),
                    certificate: concat!("OTEL_EXPORTER_OTLP_", $s, "_CERTIFICATE"),
                    client_certificate: concat!("OTEL_EXPORTER_OTLP_", $s, "_CLIENT_CERTIFICATE"),
                    client_key: concat!("OTEL_EXPORTER_OTLP_", $s, "_CLIENT_KEY"),
                }
            };
        }
        match signal {
            None => OtlpVars::GENERIC,
            Some(Signal::Traces) => vars!("TRACES"),
            Some(Signal::Metrics) => vars!("METRICS"),
            Some(Signal::Logs) => vars!("LOGS"),
        }
    }
}
