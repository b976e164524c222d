//! A log folder per tenant: `<dir>/<tenant>/xgate.<date>.log`, JSON lines, rotated daily.
//!
//! Central IT used to find a CTS's logs in its own IIS log folder; this keeps that habit
//! without a process per tenant. A line goes to a tenant's files when the event, or a
//! span it happens in (the request span, once the tenant is known), carries `tenant`.
//! It only copies what the main log stream has: no secret is ever a field there.

use std::collections::HashMap;
use std::io::Write;
use std::path::PathBuf;
use std::sync::Mutex;

use serde_json::{Map, Value};
use tracing::field::{Field, Visit};
use tracing::{Event, Subscriber, span};
use tracing_appender::rolling::{RollingFileAppender, Rotation};
use tracing_subscriber::layer::{Context, Layer};
use tracing_subscriber::registry::LookupSpan;

pub struct TenantFiles {
    dir: PathBuf,
    days: usize,
    writers: Mutex<HashMap<String, RollingFileAppender>>,
}

impl TenantFiles {
    pub fn new(dir: PathBuf, days: usize) -> TenantFiles {
        TenantFiles {
            dir,
            days: days.max(1),
            writers: Mutex::new(HashMap::new()),
        }
    }

    fn write(&self, tenant: &str, line: &[u8]) {
        // Tenant ids are validated by the config, but this name becomes a path: check again.
        if tenant.is_empty()
            || !tenant
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        {
            return;
        }
        let mut writers = self.writers.lock().unwrap_or_else(|p| p.into_inner());
        if !writers.contains_key(tenant) {
            let built = RollingFileAppender::builder()
                .rotation(Rotation::DAILY)
                .filename_prefix("xgate")
                .filename_suffix("log")
                .max_log_files(self.days)
                .build(self.dir.join(tenant));
            match built {
                Ok(w) => {
                    writers.insert(tenant.to_string(), w);
                }
                // Logging must never take a request down; the main stream still has it.
                Err(_) => return,
            }
        }
        if let Some(w) = writers.get_mut(tenant) {
            let _ = w.write_all(line);
        }
    }
}

/// The fields of a span, kept in its extensions as they are recorded.
struct SpanFields(Map<String, Value>);

struct Fields<'a>(&'a mut Map<String, Value>);

impl Visit for Fields<'_> {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.insert(field.name().to_string(), Value::from(value));
    }
    fn record_u64(&mut self, field: &Field, value: u64) {
        self.0.insert(field.name().to_string(), Value::from(value));
    }
    fn record_i64(&mut self, field: &Field, value: i64) {
        self.0.insert(field.name().to_string(), Value::from(value));
    }
    fn record_f64(&mut self, field: &Field, value: f64) {
        self.0.insert(field.name().to_string(), Value::from(value));
    }
    fn record_bool(&mut self, field: &Field, value: bool) {
        self.0.insert(field.name().to_string(), Value::from(value));
    }
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        self.0
            .insert(field.name().to_string(), Value::from(format!("{value:?}")));
    }
}

impl<S> Layer<S> for TenantFiles
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    fn on_new_span(&self, attrs: &span::Attributes<'_>, id: &span::Id, ctx: Context<'_, S>) {
        let mut map = Map::new();
        attrs.record(&mut Fields(&mut map));
        if let Some(span) = ctx.span(id) {
            span.extensions_mut().insert(SpanFields(map));
        }
    }

    fn on_record(&self, id: &span::Id, values: &span::Record<'_>, ctx: Context<'_, S>) {
        if let Some(span) = ctx.span(id)
            && let Some(fields) = span.extensions_mut().get_mut::<SpanFields>()
        {
            values.record(&mut Fields(&mut fields.0));
        }
    }

    fn on_event(&self, event: &Event<'_>, ctx: Context<'_, S>) {
        let mut fields = Map::new();
        event.record(&mut Fields(&mut fields));
        if let Some(scope) = ctx.event_scope(event) {
            for span in scope {
                if let Some(f) = span.extensions().get::<SpanFields>() {
                    for (k, v) in &f.0 {
                        fields.entry(k.clone()).or_insert_with(|| v.clone());
                    }
                }
            }
        }
        let Some(tenant) = fields
            .get("tenant")
            .and_then(Value::as_str)
            .map(str::to_string)
        else {
            return;
        };
        let meta = event.metadata();
        fields.insert(
            "timestamp".into(),
            Value::from(chrono::Utc::now().to_rfc3339()),
        );
        fields.insert("level".into(), Value::from(meta.level().as_str()));
        fields.insert("target".into(), Value::from(meta.target()));
        let mut line = serde_json::to_vec(&Value::Object(fields)).unwrap_or_default();
        line.push(b'\n');
        self.write(&tenant, &line);
    }
}
