//! `OTEL_{TRACES,METRICS,LOGS}_EXPORTER`: one exporter per signal, and the console
//! beside it (`otlp,console`).

use super::EnvReader;
use crate::export::ExporterKind;
use crate::signal::Signal;

impl EnvReader {
    /// The exporter of `signal`, and whether the console shows it too: the
    /// specification allows a list (`otlp,console`); one exporter besides the console.
    pub(super) fn exporter(
        &mut self,
        var: &'static str,
        signal: Signal,
    ) -> Option<(ExporterKind, bool)> {
        let v = self.get(var)?;
        let setting = match signal {
            Signal::Traces => "traces.exporter",
            Signal::Metrics => "metrics.exporter",
            Signal::Logs => "logs.exporter",
        };
        let names = if signal == Signal::Metrics {
            "otlp, prometheus, statsd, dogstatsd, console, none"
        } else {
            "otlp, console, none"
        };
        let mut kinds: Vec<ExporterKind> = Vec::new();
        for part in v.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let kind = match part.to_ascii_lowercase().as_str() {
                "otlp" => ExporterKind::Otlp,
                "console" | "logging" => ExporterKind::Console,
                "none" => ExporterKind::None,
                "prometheus" if signal == Signal::Metrics => ExporterKind::Prometheus,
                "statsd" | "dogstatsd" if signal == Signal::Metrics => ExporterKind::Statsd,
                _ => {
                    let expected = if v.contains(',') {
                        format!("a list of {names} (`{part}` is unknown)")
                    } else {
                        format!("one of {names}")
                    };
                    self.issue(var, &v, expected, setting);
                    continue;
                }
            };
            if !kinds.contains(&kind) {
                kinds.push(kind);
            }
        }
        let console = kinds.contains(&ExporterKind::Console);
        let others: Vec<ExporterKind> = kinds
            .iter()
            .copied()
            .filter(|k| !matches!(k, ExporterKind::Console | ExporterKind::None))
            .collect();
        match others.as_slice() {
            [] if console => Some((ExporterKind::Console, false)),
            [] if kinds.contains(&ExporterKind::None) => Some((ExporterKind::None, false)),
            [] => None,
            [one] => Some((*one, console)),
            [first, ..] => {
                self.issue(
                    var,
                    &v,
                    "at most one of otlp and prometheus (the console may come beside it)",
                    setting,
                );
                Some((*first, console))
            }
        }
    }
}
