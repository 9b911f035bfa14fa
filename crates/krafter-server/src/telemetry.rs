//! Logging: the `tracing` subscriber, as `RUST_LOG` and `KRAFTER_LOG_FORMAT` say.
//!
//! Every line is written in the spans it happened in: a request's (`request_id`, `method`,
//! `route`, opened by the HTTP envelope) or a job's (`job_kind`, `report_id`, `delivery_id`,
//! opened by the worker). The text format shows them before the message
//! (`request{request_id=… method=GET route=…}: …`); the JSON format writes one object per line
//! with the spans' fields and the event's side by side, so that `request_id` is a field of every
//! line a request logs, whichever layer logs it.

use std::fmt;
use std::io::IsTerminal;

use chrono::{SecondsFormat, Utc};
use serde_json::{Map, Value};
use tracing::field::{Field, Visit};
use tracing::{Event, Subscriber};
use tracing_subscriber::fmt::format::{JsonFields, Writer};
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields, FormattedFields};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::EnvFilter;

use crate::config::LogFormat;

/// Malformed requests answered by actix itself (a bad request line, oversized headers, a client
/// gone mid-request) are logged by its HTTP/1 dispatcher at ERROR: any client could fill the
/// error log. That target is silenced unless `RUST_LOG` names `actix_http` itself.
const QUIET_DISPATCHER: &str = "actix_http::h1::dispatcher=off";

/// `RUST_LOG` (checked when the configuration was read), with the actix dispatcher silenced.
fn log_filter(spec: &str) -> Result<EnvFilter, String> {
    let filter = EnvFilter::builder()
        .parse(spec)
        .map_err(|e| format!("RUST_LOG is not a valid log filter ({e})"))?;
    if spec.contains("actix_http") {
        return Ok(filter);
    }
    Ok(filter.add_directive(QUIET_DISPATCHER.parse().expect("a valid directive")))
}

/// Sends the log to stderr, filtered by `filter` (`RUST_LOG`), as `format` says. Records of the
/// `log` crate (actix's) go the same way.
pub fn init(format: LogFormat, filter: &str) -> Result<(), String> {
    let filter = log_filter(filter)?;
    let layer = tracing_subscriber::fmt::layer().with_writer(std::io::stderr);
    let installed = match format {
        LogFormat::Text => tracing_subscriber::registry()
            .with(filter)
            .with(layer.with_ansi(std::io::stderr().is_terminal()))
            .try_init(),
        LogFormat::Json => tracing_subscriber::registry()
            .with(filter)
            .with(layer.fmt_fields(JsonFields::new()).event_format(JsonLines))
            .try_init(),
    };
    installed.map_err(|e| format!("cannot set up logging: {e}"))
}

/// One JSON object per line: `timestamp`, `level`, `target`, `spans` (their names, outermost
/// first, `request:…`), the fields of every span the event is in (inner spans win), then the
/// event's own fields and its `message`.
struct JsonLines;

impl<S, N> FormatEvent<S, N> for JsonLines
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        let metadata = event.metadata();
        let mut line = Map::new();
        line.insert(
            "timestamp".into(),
            Utc::now()
                .to_rfc3339_opts(SecondsFormat::Micros, true)
                .into(),
        );
        line.insert("level".into(), metadata.level().as_str().into());
        line.insert("target".into(), metadata.target().into());
        if let Some(scope) = ctx.event_scope() {
            let mut names = Vec::new();
            for span in scope.from_root() {
                names.push(span.name());
                let extensions = span.extensions();
                // The JSON field formatter keeps each span's fields as a JSON object.
                let Some(fields) = extensions.get::<FormattedFields<N>>() else {
                    continue;
                };
                if let Ok(Value::Object(fields)) = serde_json::from_str::<Value>(fields) {
                    line.extend(fields);
                }
            }
            line.insert("spans".into(), names.join(":").into());
        }
        event.record(&mut EventFields(&mut line));
        writeln!(writer, "{}", Value::Object(line))
    }
}

/// Writes an event's fields into the line. Records of the `log` crate carry their target in
/// `log.target` (it becomes `target`) and their source location in other `log.` fields (left
/// out).
struct EventFields<'a>(&'a mut Map<String, Value>);

impl EventFields<'_> {
    fn put(&mut self, field: &Field, value: Value) {
        match field.name() {
            "log.target" => {
                self.0.insert("target".into(), value);
            }
            name if name.starts_with("log.") => {}
            name => {
                self.0.insert(name.to_owned(), value);
            }
        }
    }
}

impl Visit for EventFields<'_> {
    fn record_f64(&mut self, field: &Field, value: f64) {
        self.put(field, value.into());
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        self.put(field, value.into());
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        self.put(field, value.into());
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        self.put(field, value.into());
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        self.put(field, value.into());
    }

    fn record_error(&mut self, field: &Field, value: &(dyn std::error::Error + 'static)) {
        self.put(field, value.to_string().into());
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.put(field, format!("{value:?}").into());
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write;
    use std::sync::{Arc, Mutex};

    use tracing_subscriber::fmt::MakeWriter;

    use super::*;

    #[test]
    fn the_dispatcher_is_silenced_unless_asked_for() {
        assert_eq!(
            log_filter("info").unwrap().to_string(),
            "actix_http::h1::dispatcher=off,info"
        );
        assert_eq!(
            log_filter("info,actix_http=debug").unwrap().to_string(),
            "actix_http=debug,info"
        );
        let refused = log_filter("krafter=loud").unwrap_err();
        assert!(
            refused.starts_with("RUST_LOG is not a valid log filter"),
            "{refused}"
        );
    }

    #[derive(Clone, Default)]
    struct Lines(Arc<Mutex<Vec<u8>>>);

    impl Write for Lines {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }

        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    impl<'a> MakeWriter<'a> for Lines {
        type Writer = Lines;

        fn make_writer(&'a self) -> Self::Writer {
            self.clone()
        }
    }

    #[test]
    fn json_lines_carry_the_fields_of_every_span_they_are_in() {
        let lines = Lines::default();
        let subscriber = tracing_subscriber::registry().with(
            tracing_subscriber::fmt::layer()
                .with_writer(lines.clone())
                .fmt_fields(JsonFields::new())
                .event_format(JsonLines),
        );
        tracing::subscriber::with_default(subscriber, || {
            let request = tracing::info_span!(
                "request",
                request_id = "abcdefghijklmnopqrst",
                route = tracing::field::Empty
            );
            let _request = request.enter();
            request.record("route", "/healthz");
            tracing::info!(target: "krafter_postgres::repos", attempt = 2u64, ok = true, "first\nline");
            let job = tracing::info_span!("job", job_kind = "export", route = "inner");
            job.in_scope(|| tracing::warn!(error = %"boom", "second"));
        });
        tracing::info!("outside every span");
        let text = String::from_utf8(lines.0.lock().unwrap().clone()).unwrap();
        let lines: Vec<Value> = text
            .lines()
            .map(|line| serde_json::from_str(line).unwrap())
            .collect();
        assert_eq!(lines.len(), 2, "{text}");
        let first = lines[0].as_object().unwrap();
        assert_eq!(first["request_id"], "abcdefghijklmnopqrst");
        assert_eq!(first["route"], "/healthz");
        assert_eq!(first["spans"], "request");
        assert_eq!(first["target"], "krafter_postgres::repos");
        assert_eq!(first["level"], "INFO");
        assert_eq!(first["message"], "first\nline");
        assert_eq!(first["attempt"], 2);
        assert_eq!(first["ok"], true);
        assert!(first["timestamp"].as_str().unwrap().ends_with('Z'));
        let second = lines[1].as_object().unwrap();
        assert_eq!(second["request_id"], "abcdefghijklmnopqrst");
        assert_eq!(second["job_kind"], "export");
        assert_eq!(second["route"], "inner");
        assert_eq!(second["spans"], "request:job");
        assert_eq!(second["error"], "boom");
        assert_eq!(second["level"], "WARN");
    }
}
