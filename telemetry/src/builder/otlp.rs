//! The builder's OTLP transport settings: where requests go, their headers, their
//! size, and TLS.

use super::TelemetryBuilder;
use crate::error::ConfigError;
use crate::export::Protocol;

impl TelemetryBuilder {
    /// The largest OTLP request, in encoded bytes before compression (the
    /// configuration schema's `max_request_size` of its OTLP exporters). A batch
    /// larger than this is cut into several requests, a request a collector refuses
    /// for its size (HTTP 413, gRPC "message larger than max") is split and sent
    /// again, and only an item larger than the limit on its own is dropped (counted as
    /// `too_large`). Default: 4 MiB, what the Collector's gRPC receiver accepts.
    /// `build()` fails unless it is between 1 byte and OTLP's 64 MiB.
    ///
    /// ```
    /// let telemetry = telemetry::Telemetry::builder()
    ///     .max_request_size(1024 * 1024)
    ///     .build()?;
    /// # Ok::<(), telemetry::Error>(())
    /// ```
    pub fn max_request_size(self, bytes: u64) -> Self {
        let check = if (1..=crate::export::otlp::OTLP_MAX_REQUEST_SIZE).contains(&bytes) {
            Ok(())
        } else {
            Err(ConfigError::InvalidSetting {
                setting: "max_request_size",
                value: bytes.to_string(),
                expected: format!(
                    "a number of bytes from 1 to {} (OTLP's 64 MiB)",
                    crate::export::otlp::OTLP_MAX_REQUEST_SIZE
                ),
            })
        };
        self.checked(check, |o| o.max_request_size = Some(bytes))
    }

    /// The OTLP endpoint of every signal, e.g. `http://collector:4318` (HTTP appends
    /// `/v1/<signal>`) or `http://collector:4317` for gRPC. Beats every
    /// `OTEL_EXPORTER_OTLP_*ENDPOINT` variable. Default: none (the console is used).
    pub fn endpoint(self, endpoint: impl Into<String>) -> Self {
        let endpoint = endpoint.into();
        let check = crate::export::otlp::normalise_endpoint(&endpoint, Protocol::Grpc, true, None)
            .map(|_| ());
        self.checked(check, |o| o.endpoint = Some(endpoint))
    }

    /// The OTLP endpoint of spans only, used as is (no path is appended).
    pub fn traces_endpoint(self, endpoint: impl Into<String>) -> Self {
        let endpoint = endpoint.into();
        let check = crate::export::otlp::normalise_endpoint(&endpoint, Protocol::Grpc, true, None)
            .map(|_| ());
        self.checked(check, |o| o.traces_endpoint = Some(endpoint))
    }

    /// The PEM file of the CA certificates that verify the collector's certificate on
    /// an `https://` endpoint, instead of the system's roots. Beats every
    /// `OTEL_EXPORTER_OTLP_*CERTIFICATE` variable. `build()` fails, saying what is
    /// wrong, when the file is missing, not PEM, or holds no certificate.
    ///
    /// ```no_run
    /// let telemetry = telemetry::Telemetry::builder()
    ///     .endpoint("https://collector.internal:4318")
    ///     .certificate("/etc/otel/ca.pem")
    ///     .build()?;
    /// # Ok::<(), telemetry::Error>(())
    /// ```
    pub fn certificate(self, path: impl Into<std::path::PathBuf>) -> Self {
        let path = path.into();
        #[cfg(feature = "tls")]
        let check = crate::export::otlp::tls::ca_store(&path).map(|_| ());
        #[cfg(not(feature = "tls"))]
        let check = Ok(());
        self.checked(check, |o| o.certificate = Some(path))
    }

    /// The client certificate chain and private key (PEM files) shown to a collector
    /// that asks for one (mutual TLS). Beats every `OTEL_EXPORTER_OTLP_*CLIENT_CERTIFICATE`
    /// and `*CLIENT_KEY` variable. `build()` fails, saying what is wrong, when a file
    /// is missing or not PEM, or the key does not belong to the certificate.
    pub fn client_certificate(
        self,
        certificate: impl Into<std::path::PathBuf>,
        key: impl Into<std::path::PathBuf>,
    ) -> Self {
        let (certificate, key) = (certificate.into(), key.into());
        #[cfg(feature = "tls")]
        let check = crate::export::otlp::tls::identity(Some(&certificate), Some(&key)).map(|_| ());
        #[cfg(not(feature = "tls"))]
        let check = Ok(());
        self.checked(check, |o| o.client_identity = Some((certificate, key)))
    }

    /// Adds a header (gRPC metadata) to every OTLP request, e.g. an API key.
    pub fn header(self, name: impl Into<String>, value: impl Into<String>) -> Self {
        let (name, value) = (name.into(), value.into());
        let check = crate::export::otlp::check_header(&name, &value);
        self.checked(check, |o| o.headers.push((name, value)))
    }

    /// Sends metrics to StatsD or DogStatsD over UDP instead of the configured
    /// exporter (it beats `OTEL_METRICS_EXPORTER`), through the same pipeline and
    /// accounting. `build()` fails on an address without a port or a packet size
    /// outside 64 to 65507 bytes.
    ///
    /// ```no_run
    /// use telemetry::export::{StatsdConfig, StatsdFlavor};
    /// let telemetry = telemetry::Telemetry::builder()
    ///     .statsd(StatsdConfig {
    ///         prefix: Some("checkout".into()),
    ///         flavor: StatsdFlavor::DogStatsd,
    ///         ..StatsdConfig::default()
    ///     })
    ///     .build()?;
    /// # Ok::<(), telemetry::Error>(())
    /// ```
    pub fn statsd(mut self, config: crate::export::StatsdConfig) -> Self {
        if let Err(e) = config.validate() {
            self.errors.push(e);
            return self;
        }
        self.overrides.statsd = Some(config);
        self.overrides.exporters[crate::signal::Signal::Metrics.index()] =
            Some(crate::export::ExporterKind::Statsd);
        self
    }

    /// Sends metrics to a Prometheus remote-write receiver (protocol 1.0) instead of
    /// the configured exporter; 5xx and 429 answers are retried, other 4xx are not.
    ///
    /// ```no_run
    /// use telemetry::export::RemoteWriteConfig;
    /// let telemetry = telemetry::Telemetry::builder()
    ///     .prometheus_remote_write(RemoteWriteConfig::new("http://127.0.0.1:9090/api/v1/write"))
    ///     .build()?;
    /// # Ok::<(), telemetry::Error>(())
    /// ```
    pub fn prometheus_remote_write(mut self, config: crate::export::RemoteWriteConfig) -> Self {
        if let Err(e) = config.validate() {
            self.errors.push(e);
            return self;
        }
        self.overrides.remote_write = Some(config);
        self.overrides.exporters[crate::signal::Signal::Metrics.index()] =
            Some(crate::export::ExporterKind::RemoteWrite);
        self
    }
}
