//! W3C trace context across processes: the one place that reads and writes `traceparent`,
//! on AMQP messages (header and envelope), on HTTP requests (both sides), and that links a
//! span to the spans that caused it.
//!
//! - AMQP: [`crate::messaging::OutgoingMessage::from_envelope`] copies the envelope's
//!   `traceparent` into the message's `traceparent` header, and the publisher gives a message
//!   without one the current span's; the consumer continues the header's context, else the
//!   envelope's (a push forwarded unchanged keeps the agency's).
//! - HTTP: [`crate::http`] continues a request's `traceparent` in its server span;
//!   [`inject_http`] puts a client span's into a request's headers.
//! - Links: [`Causes`] keeps the contexts of spans that made work pending (say, the batches
//!   that changed a projection), for the span that later does that work to link to them.
//!
//! Every function is a no-op when the OpenTelemetry layer is not installed (tests that start
//! no subscriber): spans then have no context, and callers fall back to
//! [`super::TraceContext`].

use std::sync::{Arc, Mutex};

use axum::http::{HeaderMap, HeaderValue};
use opentelemetry::Context;
use opentelemetry::propagation::{Extractor, TextMapPropagator};
use opentelemetry::trace::{SpanContext, TraceContextExt};
use opentelemetry_sdk::propagation::TraceContextPropagator;
use tracing::Span;
use tracing_opentelemetry::OpenTelemetrySpanExt;

/// The W3C Trace Context header (AMQP and HTTP alike).
pub const TRACEPARENT: &str = "traceparent";

/// The most links [`Causes`] keeps (a span itself may keep up to
/// [`super::otlp::MAX_LINKS_PER_SPAN`]).
pub const MAX_LINKS: usize = 128;

struct One<'a>(&'a str);

impl Extractor for One<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        (key == TRACEPARENT).then_some(self.0)
    }
    fn keys(&self) -> Vec<&str> {
        vec![TRACEPARENT]
    }
}

/// The span context a `traceparent` value names; `None` when it is not valid W3C.
pub fn remote_context(traceparent: &str) -> Option<SpanContext> {
    let cx = TraceContextPropagator::new().extract(&One(traceparent));
    let sc = cx.span().span_context().clone();
    sc.is_valid().then_some(sc)
}

/// The span context of `span` (`None` when the OpenTelemetry layer does not see it).
pub fn span_context(span: &Span) -> Option<SpanContext> {
    let cx = span.context();
    let sc = cx.span().span_context().clone();
    sc.is_valid().then_some(sc)
}

/// `span`'s context as a `traceparent` value.
pub fn traceparent(span: &Span) -> Option<String> {
    span_context(span).map(|sc| {
        format!(
            "00-{}-{}-{:02x}",
            sc.trace_id(),
            sc.span_id(),
            sc.trace_flags().to_u8()
        )
    })
}

/// Makes `span` (not yet entered) the child of the remote context in `traceparent`; true when
/// it was (a missing or invalid value leaves it a root).
pub fn set_remote_parent(span: &Span, traceparent: Option<&str>) -> bool {
    let Some(sc) = traceparent.and_then(remote_context) else {
        return false;
    };
    span.set_parent(Context::new().with_remote_span_context(sc))
        .is_ok()
}

/// Links `span` to the context in `traceparent` (ignored when invalid).
pub fn link(span: &Span, traceparent: &str) {
    if let Some(sc) = remote_context(traceparent) {
        span.add_link(sc);
    }
}

/// Links `span` to `to`.
pub fn link_span(span: &Span, to: &Span) {
    if let Some(sc) = span_context(to) {
        span.add_link(sc);
    }
}

/// Puts `span`'s `traceparent` into an HTTP request's headers (a client span's, before the
/// request is sent).
pub fn inject_http(span: &Span, headers: &mut HeaderMap) {
    if let Some(v) = traceparent(span).and_then(|t| HeaderValue::from_str(&t).ok()) {
        headers.insert(TRACEPARENT, v);
    }
}

/// The `traceparent` of an HTTP request, if it has one.
pub fn extract_http(headers: &HeaderMap) -> Option<&str> {
    headers.get(TRACEPARENT).and_then(|v| v.to_str().ok())
}

/// The contexts of the spans that caused pending work, for the span that does it to link to:
/// noted as they happen, taken all at once. At most [`MAX_LINKS`] are kept (the first ones);
/// [`Causes::take`] says how many more there were.
#[derive(Clone, Default)]
pub struct Causes {
    inner: Arc<Mutex<(Vec<SpanContext>, usize)>>,
}

impl Causes {
    pub fn new() -> Self {
        Self::default()
    }

    /// Notes the current span (the work's cause).
    pub fn note_current(&self) {
        self.note(&Span::current());
    }

    /// Notes `span`.
    pub fn note(&self, span: &Span) {
        let Some(sc) = span_context(span) else {
            return;
        };
        if let Ok(mut g) = self.inner.lock() {
            let (kept, dropped) = &mut *g;
            if kept.len() < MAX_LINKS {
                kept.push(sc);
            } else {
                *dropped += 1;
            }
        }
    }

    /// Links `span` to every cause noted since the last call, and forgets them; returns how
    /// many causes there were in all (linked or not).
    pub fn take(&self, span: &Span) -> usize {
        let (kept, dropped) = match self.inner.lock() {
            Ok(mut g) => std::mem::take(&mut *g),
            Err(_) => return 0,
        };
        let n = kept.len() + dropped;
        for sc in kept {
            span.add_link(sc);
        }
        n
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_traceparent_names_its_context() {
        let sc = remote_context("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01")
            .expect("valid");
        assert_eq!(
            sc.trace_id().to_string(),
            "0af7651916cd43dd8448eb211c80319c"
        );
        assert_eq!(sc.span_id().to_string(), "b7ad6b7169203331");
        assert!(sc.is_sampled() && sc.is_remote());
        assert!(remote_context("00-xyz-1-01").is_none());
        assert!(
            remote_context("00-00000000000000000000000000000000-b7ad6b7169203331-01").is_none()
        );
    }

    #[test]
    fn without_the_layer_spans_carry_no_context() {
        let span = tracing::info_span!("no subscriber");
        assert_eq!(traceparent(&span), None);
        assert!(!set_remote_parent(
            &span,
            Some("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01")
        ));
        let causes = Causes::new();
        causes.note(&span);
        assert_eq!(causes.take(&span), 0);
    }
}
