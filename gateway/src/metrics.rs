//! The one metric registry. Names are `xgate_*`, in base units. The `tenant` label goes
//! on counters and gauges only; histograms are labelled by route/operation so their
//! series stay bounded with thousands of tenants.

use std::time::Duration;

use prometheus::{
    Encoder, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge, IntGaugeVec, Opts,
    Registry, TextEncoder,
};

pub struct Metrics {
    registry: Registry,
    http_requests: IntCounterVec,
    http_duration: HistogramVec,
    bot_calls: IntCounterVec,
    bot_duration: HistogramVec,
    meetings: IntCounterVec,
    client_events: IntCounterVec,
    directory_calls: IntCounterVec,
    pub tenants: IntGauge,
    pub config_version: IntGauge,
    db_pool: IntGaugeVec,
    /// Caught up from the store's own count at each scrape; the lock keeps two concurrent
    /// scrapes from adding the same waits twice.
    db_pool_waits: std::sync::Mutex<IntCounter>,
    bot_up: IntGaugeVec,
    directory_up: IntGaugeVec,
    reloads: IntCounterVec,
    last_reload_ok: IntGauge,
    last_reload_success_ts: prometheus::Gauge,
    tenant_config_errors: IntGauge,
}

const LATENCY_BUCKETS: &[f64] = &[
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

impl Metrics {
    pub fn new() -> Metrics {
        let registry = Registry::new();
        let counter = |name: &str, help: &str, labels: &[&str]| {
            let c = IntCounterVec::new(Opts::new(name, help), labels).expect("metric definition");
            registry
                .register(Box::new(c.clone()))
                .expect("unique metric");
            c
        };
        let histogram = |name: &str, help: &str, labels: &[&str]| {
            let h = HistogramVec::new(
                HistogramOpts::new(name, help).buckets(LATENCY_BUCKETS.to_vec()),
                labels,
            )
            .expect("metric definition");
            registry
                .register(Box::new(h.clone()))
                .expect("unique metric");
            h
        };
        let m = Metrics {
            http_requests: counter(
                "xgate_http_requests_total",
                "Add-in API requests by tenant, route and status class.",
                &["tenant", "route", "status_class"],
            ),
            http_duration: histogram(
                "xgate_http_request_duration_seconds",
                "Add-in API request duration by route.",
                &["route"],
            ),
            bot_calls: counter(
                "xgate_bot_calls_total",
                "Conference Bot calls by tenant, operation and outcome (ok, a bot reason, timeout, auth_failed...).",
                &["tenant", "operation", "outcome"],
            ),
            bot_duration: histogram(
                "xgate_bot_call_duration_seconds",
                "Conference Bot call duration by operation.",
                &["operation"],
            ),
            meetings: counter(
                "xgate_meetings_total",
                "Meetings created, updated and cancelled, by tenant.",
                &["tenant", "action"],
            ),
            client_events: counter(
                "xgate_client_events_total",
                "Client telemetry events received, by tenant and level.",
                &["tenant", "level"],
            ),
            directory_calls: counter(
                "xgate_directory_calls_total",
                "Directory (LDAP/Kerberos) calls by tenant and outcome.",
                &["tenant", "outcome"],
            ),
            tenants: IntGauge::new("xgate_tenants", "Tenants loaded and serving.").expect("metric"),
            config_version: IntGauge::new(
                "xgate_config_version",
                "Version of the config snapshot in force.",
            )
            .expect("metric"),
            db_pool: IntGaugeVec::new(
                Opts::new(
                    "xgate_db_pool_connections",
                    "Database pool connections by state.",
                ),
                &["state"],
            )
            .expect("metric"),
            db_pool_waits: std::sync::Mutex::new(
                IntCounter::new(
                    "xgate_db_pool_waits_total",
                    "Database statements that found every pooled connection in use and had to wait.",
                )
                .expect("metric"),
            ),
            directory_up: IntGaugeVec::new(
                Opts::new("xgate_directory_up", "1 if the tenant's directory answered the last probe and took the service account's bind."),
                &["tenant"],
            )
            .expect("metric"),
            bot_up: IntGaugeVec::new(
                Opts::new("xgate_bot_up", "1 if the tenant's Conference Bot answered the last probe and took the credentials."),
                &["tenant"],
            )
            .expect("metric"),
            reloads: counter(
                "xgate_config_reloads_total",
                "Config reload attempts by result (success, partial, failure).",
                &["result"],
            ),
            last_reload_ok: IntGauge::new(
                "xgate_config_last_reload_successful",
                "1 if the last reload applied every tenant's new definition, else 0.",
            )
            .expect("metric"),
            last_reload_success_ts: prometheus::Gauge::new(
                "xgate_config_last_reload_success_timestamp_seconds",
                "Unix time of the last fully successful reload (or of the start).",
            )
            .expect("metric"),
            tenant_config_errors: IntGauge::new(
                "xgate_tenant_config_errors",
                "Tenants running on a stale definition because their new one is invalid.",
            )
            .expect("metric"),
            registry,
        };
        m.registry
            .register(Box::new(m.last_reload_ok.clone()))
            .expect("unique metric");
        m.registry
            .register(Box::new(m.last_reload_success_ts.clone()))
            .expect("unique metric");
        m.registry
            .register(Box::new(m.tenant_config_errors.clone()))
            .expect("unique metric");
        m.registry
            .register(Box::new(m.tenants.clone()))
            .expect("unique metric");
        m.registry
            .register(Box::new(m.config_version.clone()))
            .expect("unique metric");
        m.registry
            .register(Box::new(m.db_pool.clone()))
            .expect("unique metric");
        m.registry
            .register(Box::new(
                m.db_pool_waits
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .clone(),
            ))
            .expect("unique metric");
        let build = IntGaugeVec::new(
            Opts::new("xgate_build_info", "Build information; always 1."),
            &["version"],
        )
        .expect("metric");
        build.with_label_values(&[env!("CARGO_PKG_VERSION")]).set(1);
        m.registry.register(Box::new(build)).expect("unique metric");
        m.registry
            .register(Box::new(m.bot_up.clone()))
            .expect("unique metric");
        m.registry
            .register(Box::new(m.directory_up.clone()))
            .expect("unique metric");
        m
    }

    pub fn observe_request(
        &self,
        tenant: Option<&str>,
        route: &str,
        status: u16,
        elapsed: Duration,
    ) {
        let class = match status {
            100..=199 => "1xx",
            200..=299 => "2xx",
            300..=399 => "3xx",
            400..=499 => "4xx",
            _ => "5xx",
        };
        self.http_requests
            .with_label_values(&[tenant.unwrap_or(""), route, class])
            .inc();
        self.http_duration
            .with_label_values(&[route])
            .observe(elapsed.as_secs_f64());
    }

    pub fn observe_bot(&self, tenant: &str, operation: &str, outcome: &str, elapsed: Duration) {
        self.bot_calls
            .with_label_values(&[tenant, operation, outcome])
            .inc();
        self.bot_duration
            .with_label_values(&[operation])
            .observe(elapsed.as_secs_f64());
    }

    pub fn meeting(&self, tenant: &str, action: &str) {
        self.meetings.with_label_values(&[tenant, action]).inc();
    }

    pub fn client_event(&self, tenant: &str, level: &str) {
        self.client_events.with_label_values(&[tenant, level]).inc();
    }

    pub fn directory_call(&self, tenant: &str, outcome: &str) {
        self.directory_calls
            .with_label_values(&[tenant, outcome])
            .inc();
    }

    pub fn set_pool(&self, size: u32, idle: u32, waits: u64) {
        let counter = self.db_pool_waits.lock().unwrap_or_else(|p| p.into_inner());
        let counted = counter.get();
        if waits > counted {
            counter.inc_by(waits - counted);
        }
        drop(counter);
        self.db_pool
            .with_label_values(&["open"])
            .set(i64::from(size));
        self.db_pool
            .with_label_values(&["idle"])
            .set(i64::from(idle));
    }

    pub fn reload_finished(&self, report: &crate::reload::ReloadReport, stale: usize) {
        use crate::reload::ReloadResult;
        if report.trigger != "startup" {
            self.reloads
                .with_label_values(&[report.result.as_str()])
                .inc();
        } else {
            // Every result label exists from the start, so rate() and alerts see zeros.
            for r in [
                ReloadResult::Success,
                ReloadResult::Partial,
                ReloadResult::Failure,
            ] {
                self.reloads.with_label_values(&[r.as_str()]);
            }
        }
        let ok = report.result == ReloadResult::Success;
        self.last_reload_ok.set(i64::from(ok));
        if ok {
            self.last_reload_success_ts
                .set(report.at.timestamp_millis() as f64 / 1000.0);
        }
        self.tenant_config_errors.set(stale as i64);
    }

    /// Replaces the whole set, so tenants removed by a reload drop out of the metric.
    pub fn set_bot_up(&self, results: &[(String, bool)]) {
        set_up(&self.bot_up, results);
    }

    /// Tenants without a directory (`auth.mode = "none"`) have no series.
    pub fn set_directory_up(&self, results: &[(String, bool)]) {
        set_up(&self.directory_up, results);
    }

    pub fn render(&self) -> String {
        let mut buf = Vec::new();
        TextEncoder::new()
            .encode(&self.registry.gather(), &mut buf)
            .expect("text encoding never fails");
        String::from_utf8(buf).expect("prometheus text is UTF-8")
    }
}

/// A probe's verdicts, one series per tenant probed: reset first, so a tenant removed
/// since the last probe leaves no stale series behind.
fn set_up(gauge: &IntGaugeVec, results: &[(String, bool)]) {
    gauge.reset();
    for (tenant, up) in results {
        gauge
            .with_label_values(&[tenant.as_str()])
            .set(i64::from(*up));
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metric_names::METRIC_NAMES;

    /// Every name the dashboards and alert rules use is one this registry exports.
    #[test]
    fn the_registry_exports_every_name_the_dashboards_use() {
        let m = Metrics::new();
        m.observe_request(Some("acme"), "/api/meetings", 201, Duration::from_millis(3));
        m.observe_bot("acme", "create", "ok", Duration::from_millis(2));
        m.meeting("acme", "created");
        m.client_event("acme", "error");
        m.directory_call("acme", "ok");
        m.set_pool(2, 1, 3);
        m.set_bot_up(&[("acme".into(), true)]);
        m.set_directory_up(&[("acme".into(), true)]);
        m.reload_finished(&crate::reload::ReloadReport::startup(1, 1), 0);
        let text = m.render();
        for name in METRIC_NAMES {
            assert!(
                text.lines()
                    .any(|l| l.starts_with(&format!("{name} "))
                        || l.starts_with(&format!("{name}{{"))),
                "{name} is not exported"
            );
        }
    }

    /// The waits counter follows the store's count, and never goes back.
    #[test]
    fn pool_waits_follow_the_store_count() {
        let m = Metrics::new();
        let waits = |m: &Metrics| {
            m.render()
                .lines()
                .find_map(|l| l.strip_prefix("xgate_db_pool_waits_total "))
                .map(str::to_string)
        };
        m.set_pool(1, 0, 3);
        assert_eq!(waits(&m).as_deref(), Some("3"));
        m.set_pool(1, 0, 5);
        assert_eq!(waits(&m).as_deref(), Some("5"));
        m.set_pool(1, 1, 5);
        assert_eq!(waits(&m).as_deref(), Some("5"));
    }
}
