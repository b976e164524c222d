//! The metric names the dashboards and alert rules (`dashboards/`) may use: the contract
//! between `/metrics` and what central IT's Grafana and Prometheus read. The dashboards
//! test checks every `xgate_*` name in them is here; the registry test checks every name
//! here is exported. Histograms appear as the `_bucket` series the panels query.

pub const METRIC_NAMES: &[&str] = &[
    "xgate_http_requests_total",
    "xgate_http_request_duration_seconds_bucket",
    "xgate_bot_calls_total",
    "xgate_bot_call_duration_seconds_bucket",
    "xgate_bot_up",
    "xgate_directory_calls_total",
    "xgate_directory_up",
    "xgate_meetings_total",
    "xgate_client_events_total",
    "xgate_db_pool_connections",
    "xgate_db_pool_waits_total",
    "xgate_config_reloads_total",
    "xgate_config_last_reload_successful",
    "xgate_config_last_reload_success_timestamp_seconds",
    "xgate_tenants",
    "xgate_tenant_config_errors",
    "xgate_config_version",
    "xgate_build_info",
];
