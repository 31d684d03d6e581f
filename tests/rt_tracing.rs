//! What a `tracing` subscriber sees: a span per task (the `task-spans`
//! feature, which the tests build with) around the task's events, and
//! violations as events with structured fields.

use perf_runtime::runtime::Builder;
use perf_runtime::sync::Mutex;
use perf_runtime::task::Qos;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex as StdMutex};
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id};
use tracing::{Event, Subscriber};
use tracing_subscriber::layer::{Context, Layer, SubscriberExt};
use tracing_subscriber::registry::LookupSpan;

type Fields = BTreeMap<String, String>;

#[derive(Default)]
struct FieldVisitor(Fields);

impl Visit for FieldVisitor {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        self.0.insert(field.name().to_owned(), format!("{value:?}"));
    }
    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.insert(field.name().to_owned(), value.to_owned());
    }
}

/// One event: its target, its fields (`message` included), and the name
/// and fields of the span it happened in.
#[derive(Clone, Debug)]
struct Seen {
    target: String,
    fields: Fields,
    span: Option<(String, Fields)>,
}

#[derive(Clone, Default)]
struct Recorder(Arc<StdMutex<Vec<Seen>>>);

struct SpanFields(Fields);

impl<S: Subscriber + for<'a> LookupSpan<'a>> Layer<S> for Recorder {
    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        let mut v = FieldVisitor::default();
        attrs.record(&mut v);
        if let Some(span) = ctx.span(id) {
            span.extensions_mut().insert(SpanFields(v.0));
        }
    }

    fn on_event(&self, event: &Event<'_>, ctx: Context<'_, S>) {
        let mut v = FieldVisitor::default();
        event.record(&mut v);
        let span = ctx.event_span(event).map(|s| {
            let fields = s
                .extensions()
                .get::<SpanFields>()
                .map(|f| f.0.clone())
                .unwrap_or_default();
            (s.name().to_owned(), fields)
        });
        self.0.lock().unwrap().push(Seen {
            target: event.metadata().target().to_owned(),
            fields: v.0,
            span,
        });
    }
}

/// Runs `f` on a current_thread runtime (its tasks run on this thread, so
/// a thread-local subscriber sees them) and returns every event.
fn record(f: impl std::future::Future<Output = ()>) -> Vec<Seen> {
    let rec = Recorder::default();
    let subscriber = tracing_subscriber::registry().with(rec.clone());
    tracing::subscriber::with_default(subscriber, || {
        let rt = Builder::new_current_thread().enable_all().build().unwrap();
        rt.block_on(f);
    });
    let seen = rec.0.lock().unwrap().clone();
    seen
}

#[test]
fn a_task_s_events_are_inside_its_span() {
    let id = Arc::new(StdMutex::new(None));
    let id2 = id.clone();
    let seen = record(async move {
        let h = perf_runtime::task::Builder::new()
            .name("probe-task")
            .qos(Qos::Critical)
            .spawn(async {
                perf_runtime::task::yield_now().await;
                tracing::info!(target: "probe", step = 2, "inside the task");
            })
            .unwrap();
        *id2.lock().unwrap() = Some(h.id().to_string());
        h.await.unwrap();
        tracing::info!(target: "probe", "outside any task");
    });
    let probe: Vec<_> = seen.iter().filter(|s| s.target == "probe").collect();
    assert_eq!(probe.len(), 2, "{seen:#?}");
    let (name, fields) = probe[0].span.as_ref().expect("the task's span");
    assert_eq!(name, "runtime.spawn");
    assert_eq!(fields["task.name"], "probe-task");
    assert_eq!(fields["task.qos"], "critical");
    assert_eq!(
        Some(&fields["task.id"]),
        id.lock().unwrap().as_ref(),
        "{fields:?}"
    );
    assert_eq!(fields["loc.file"], file!());
    assert_eq!(probe[0].fields["step"], "2");
    assert!(
        probe[1].span.is_none(),
        "block_on's own future is not a task: {:?}",
        probe[1]
    );
}

#[test]
fn a_violation_is_an_event_with_its_kind_and_json() {
    let seen = record(async {
        let a = Mutex::new(());
        let b = Mutex::new(());
        {
            let _a = a.lock().await;
            let _b = b.lock().await;
        }
        // The opposite order: an inversion, reported (and taken below so
        // the process's report sink stays clean).
        let _b = b.lock().await;
        let _a = a.lock().await;
    });
    let reports = perf_runtime::validation::take_reports();
    assert!(
        reports
            .iter()
            .any(|r| r.kind() == perf_runtime::validation::ViolationKind::LockOrderInversion),
        "{reports:?}"
    );
    let v = seen
        .iter()
        .find(|s| s.target == "perf_validation")
        .expect("a violation event");
    assert_eq!(v.fields["kind"], "LockOrderInversion", "{v:?}");
    assert!(v.fields["json"].starts_with('{'), "{v:?}");
}
