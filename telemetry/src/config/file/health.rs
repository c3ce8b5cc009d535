//! `telemetry.health.checks`: the dependency health checks a file can describe (TCP
//! and HTTP; a custom check is code). Durations in milliseconds, as elsewhere in the
//! file.
//!
//! ```yaml
//! telemetry:
//!   health:
//!     checks:
//!       - tcp: { name: database, address: "127.0.0.1:5432", interval: 30000,
//!                timeout: 5000, unhealthy_threshold: 3, healthy_threshold: 2 }
//!       - http: { name: cache, url: "http://127.0.0.1:8001/health", method: GET,
//!                 expect_status: [200], critical: false,
//!                 headers: [{ name: authorization, value: "Bearer ${CACHE_TOKEN}" }] }
//! ```

use super::reader::{Obj, Reader};
use super::yaml::Node;
use crate::config::Config;
use crate::HealthCheck;

const COMMON: [&str; 6] = [
    "name",
    "interval",
    "timeout",
    "unhealthy_threshold",
    "healthy_threshold",
    "critical",
];

impl Reader {
    pub(super) fn health(&mut self, node: &Node, path: &str, c: &mut Config) {
        let Some(o) = self.object(node, path, &["checks"], &[]) else {
            return;
        };
        let Some(list) = o.get("checks") else { return };
        let at = o.at("checks");
        for (i, entry) in self.list(list, &at).iter().enumerate() {
            let here = format!("{at}[{i}]");
            if let Some(check) = self.health_check(entry, &here) {
                if c.health_checks.iter().any(|h| h.name() == check.name()) {
                    self.invalid(&here, entry, "a check whose name no other check has");
                    continue;
                }
                c.health_checks.push(check);
            }
        }
    }

    fn health_check(&mut self, node: &Node, path: &str) -> Option<HealthCheck> {
        let (kind, settings) = self.plugin(node, path, &["tcp", "http"])?;
        let here = format!("{path}.{kind}");
        let mut keys: Vec<&str> = COMMON.to_vec();
        match kind {
            "tcp" => keys.push("address"),
            "http" => keys.extend(["url", "method", "headers", "expect_status"]),
            _ => {
                self.invalid(
                    &here,
                    settings,
                    "a `tcp` or `http` check (custom checks are code)",
                );
                return None;
            }
        }
        let o = self.object(settings, &here, &keys, &[])?;
        let text = |r: &mut Reader, o: &Obj<'_>, key: &str| {
            o.get(key).and_then(|n| r.string(n, &o.at(key)))
        };
        let Some(name) = text(self, &o, "name") else {
            self.invalid(&o.at("name"), settings, "the check's name (required)");
            return None;
        };
        let mut check = if kind == "tcp" {
            let Some(address) = text(self, &o, "address") else {
                self.invalid(&o.at("address"), settings, "host:port (required)");
                return None;
            };
            HealthCheck::tcp(name, address)
        } else {
            let Some(url) = text(self, &o, "url") else {
                self.invalid(&o.at("url"), settings, "the URL to request (required)");
                return None;
            };
            let mut check = HealthCheck::http(name, url);
            if let Some(method) = text(self, &o, "method") {
                check = check.method(method);
            }
            if let Some(list) = o.get("headers") {
                let at = o.at("headers");
                for (i, h) in self.list(list, &at).iter().enumerate() {
                    let here = format!("{at}[{i}]");
                    let Some(h) = self.object(h, &here, &["name", "value"], &[]) else {
                        continue;
                    };
                    if let (Some(k), Some(v)) = (text(self, &h, "name"), text(self, &h, "value")) {
                        check = check.header(k, v);
                    }
                }
            }
            if let Some(list) = o.get("expect_status") {
                let at = o.at("expect_status");
                for (i, s) in self.list(list, &at).iter().enumerate() {
                    let ok = |n: i64| (100..=599).contains(&n);
                    if let Some(s) = self.int(s, &format!("{at}[{i}]"), "an HTTP status", ok) {
                        check = check.expect_status(u16::try_from(s).unwrap_or(200));
                    }
                }
            }
            check
        };
        let ms = |r: &mut Reader, o: &Obj<'_>, key: &str| {
            o.get(key).and_then(|n| r.millis(n, &o.at(key)))
        };
        if let Some(d) = ms(self, &o, "interval") {
            check = check.interval(d);
        }
        if let Some(d) = ms(self, &o, "timeout") {
            check = check.timeout(d);
        }
        for key in ["unhealthy_threshold", "healthy_threshold"] {
            if let Some(n) = o.get(key).and_then(|n| self.positive(n, &o.at(key))) {
                let n = u32::try_from(n).unwrap_or(u32::MAX);
                check = if key == "unhealthy_threshold" {
                    check.unhealthy_threshold(n)
                } else {
                    check.healthy_threshold(n)
                };
            }
        }
        if let Some(false) = o
            .get("critical")
            .and_then(|n| self.bool(n, &o.at("critical")))
        {
            check = check.optional();
        }
        match check.validate() {
            Ok(()) => Some(check),
            Err(e) => {
                self.invalid(&here, settings, e.to_string());
                None
            }
        }
    }
}
