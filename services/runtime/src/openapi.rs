//! OpenAPI 3.1 documents of the services' HTTP APIs, generated from the handlers' types.
//!
//! A service lists its documented routes on an [`aide::axum::ApiRouter`] (`api_route` in place
//! of axum's `route`; inputs come from the extractors, outputs from the return types and
//! `response::<N, T>()` where a handler answers a `Response`), then calls [`finish`]: it gets
//! the plain axum router, with [`OPENAPI_PATH`] added, and the document as JSON. Schemas are
//! generated as JSON Schema 2020-12 (OpenAPI 3.1's dialect) by schemars, the same derive the
//! published contracts' schemas come from; they land under `components/schemas`.
//!
//! [`OPENAPI_PATH`] sits behind the same authentication as the API it describes (the service
//! credential, or the console's login): every API authenticates, and the documents are public
//! anyway, committed under `contracts/openapi/` (kept compatible by each service's
//! `tests/openapi.rs`, with `hub_contracts::openapi`).
//!
//! Owns document generation only; no route's behaviour.

use std::sync::{Arc, Mutex};

use aide::axum::ApiRouter;
use aide::openapi::{OpenApi, SecurityScheme};
use aide::transform::{TransformOpenApi, TransformOperation};
use axum::Json;
use axum::Router;
use indexmap::IndexMap;
use schemars::JsonSchema;
use schemars::generate::{SchemaGenerator, SchemaSettings};
use serde::Serialize;

/// Where every service serves its document.
pub const OPENAPI_PATH: &str = "/api/v1/openapi.json";

/// Name of the security scheme of the internal APIs: the service credential.
pub const SERVICE_CREDENTIAL: &str = "serviceCredential";

/// The body of every error answer.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct ErrorBody {
    /// What was wrong, for a person to read.
    pub error: String,
}

/// What a document says about its API.
#[derive(Debug, Clone, Copy)]
pub struct ApiInfo {
    /// The service, e.g. `hub-reconciler`: also the document's name under
    /// `contracts/openapi/` (`<title>.json`).
    pub title: &'static str,
    /// What the API is for, and how it authenticates.
    pub description: &'static str,
}

/// A service's document and the routes it describes.
pub struct Finished<S> {
    /// The service's routes, [`OPENAPI_PATH`] included.
    pub router: Router<S>,
    /// The OpenAPI document (what [`OPENAPI_PATH`] answers).
    pub document: Arc<serde_json::Value>,
    /// Problems aide met while generating (a transform naming a parameter that does not
    /// exist, …): empty for a sound document; the services' tests assert so.
    pub problems: Vec<String>,
}

/// The service credential (`Authorization: Bearer <token>`, one of `SERVICE_TOKENS`).
pub fn service_credential_scheme() -> SecurityScheme {
    SecurityScheme::Http {
        scheme: "bearer".into(),
        bearer_format: None,
        description: Some(
            "The service credential: one of the service's SERVICE_TOKENS. The console sends \
             it, with the acting operator in X-Hub-Operator (percent-encoded UTF-8)."
                .into(),
        ),
        extensions: IndexMap::new(),
    }
}

/// The internal APIs' security: [`SERVICE_CREDENTIAL`] on every operation.
pub fn service_credential(api: TransformOpenApi<'_>) -> TransformOpenApi<'_> {
    api.security_scheme(SERVICE_CREDENTIAL, service_credential_scheme())
        .security_requirement(SERVICE_CREDENTIAL)
}

/// Documents a `text/event-stream` answer whose events carry `T` as JSON (the handler's
/// `Sse` is wrapped in `aide::UseApi<_, EventStream<T>>`).
pub struct EventStream<T>(std::marker::PhantomData<T>);

impl<T: JsonSchema> aide::OperationOutput for EventStream<T> {
    type Inner = T;

    fn operation_response(
        ctx: &mut aide::generate::GenContext,
        _operation: &mut aide::openapi::Operation,
    ) -> Option<aide::openapi::Response> {
        let schema = ctx.schema.subschema_for::<T>();
        Some(aide::openapi::Response {
            description: "Server-sent events; each event's data is one JSON value.".into(),
            content: IndexMap::from_iter([(
                "text/event-stream".into(),
                aide::openapi::MediaType {
                    schema: Some(aide::openapi::SchemaObject {
                        json_schema: schema,
                        example: None,
                        external_docs: None,
                    }),
                    ..Default::default()
                },
            )]),
            ..Default::default()
        })
    }

    fn inferred_responses(
        ctx: &mut aide::generate::GenContext,
        operation: &mut aide::openapi::Operation,
    ) -> Vec<(Option<aide::openapi::StatusCode>, aide::openapi::Response)> {
        Self::operation_response(ctx, operation)
            .map(|r| (Some(aide::openapi::StatusCode::Code(200)), r))
            .into_iter()
            .collect()
    }
}

/// Adds a path parameter described by a plain string (for routes whose handler takes
/// `Path<String>` or a tuple, whose names only the route template knows).
pub fn path_param<'a>(
    op: TransformOperation<'a>,
    name: &str,
    description: &str,
) -> TransformOperation<'a> {
    use aide::openapi::{Parameter, ParameterData, ParameterSchemaOrContent, ReferenceOr};
    let mut op = op;
    let schema = schemars::json_schema!({ "type": "string" });
    op.inner_mut()
        .parameters
        .push(ReferenceOr::Item(Parameter::Path {
            parameter_data: ParameterData {
                name: name.into(),
                description: Some(description.into()),
                required: true,
                format: ParameterSchemaOrContent::Schema(aide::openapi::SchemaObject {
                    json_schema: schema,
                    example: None,
                    external_docs: None,
                }),
                extensions: IndexMap::new(),
                deprecated: None,
                example: None,
                examples: IndexMap::new(),
                explode: None,
            },
            style: aide::openapi::PathStyle::Simple,
        }));
    op
}

/// Documents answer `status` of an operation whose handler answers a plain `Response`: the
/// media types it may have (files: CSV, XLSX, HTML, …), each of any content.
pub fn media_answer<'a>(
    op: TransformOperation<'a>,
    status: u16,
    media_types: &[&str],
    description: &str,
) -> TransformOperation<'a> {
    use aide::openapi::{MediaType, ReferenceOr, Response, StatusCode};
    let mut op = op;
    let responses = op
        .inner_mut()
        .responses
        .get_or_insert_with(Default::default);
    responses.responses.insert(
        StatusCode::Code(status),
        ReferenceOr::Item(Response {
            description: description.into(),
            content: media_types
                .iter()
                .map(|m| (m.to_string(), MediaType::default()))
                .collect(),
            ..Default::default()
        }),
    );
    op
}

/// Generates the document of the routes and adds [`OPENAPI_PATH`], answering it.
///
/// `security` sets the security schemes and requirements (e.g. [`service_credential`]).
/// Errors are `{"error": "…"}` ([`ErrorBody`]) on every operation (`default`).
/// `routes` is called once generation is set up (aide describes a route when it is added).
pub fn finish<S>(
    routes: impl FnOnce() -> ApiRouter<S>,
    info: ApiInfo,
    security: impl FnOnce(TransformOpenApi<'_>) -> TransformOpenApi<'_>,
) -> Finished<S>
where
    S: Clone + Send + Sync + 'static,
{
    finish_served_by(routes, info, security, |slot| {
        aide::axum::routing::get_with(
            move || {
                let slot = slot.clone();
                async move { Json(slot.get().map(|d| (**d).clone()).unwrap_or_default()) }
            },
            |op| op.summary("This document (OpenAPI 3.1)"),
        )
    })
}

/// The document, once generated (what a route serving it answers).
pub type DocumentSlot = Arc<std::sync::OnceLock<Arc<serde_json::Value>>>;

/// [`finish`], with [`OPENAPI_PATH`] answered by the route `serve` makes (for a service
/// whose handlers authenticate with an extractor: the console's `Caller`).
pub fn finish_served_by<S>(
    routes: impl FnOnce() -> ApiRouter<S>,
    info: ApiInfo,
    security: impl FnOnce(TransformOpenApi<'_>) -> TransformOpenApi<'_>,
    serve: impl FnOnce(DocumentSlot) -> aide::axum::routing::ApiMethodRouter<S>,
) -> Finished<S>
where
    S: Clone + Send + Sync + 'static,
{
    let problems = Arc::new(Mutex::new(Vec::new()));
    let sink = problems.clone();
    aide::generate::on_error(move |e| {
        if let Ok(mut p) = sink.lock() {
            p.push(e.to_string());
        }
    });
    aide::generate::infer_responses(true);
    aide::generate::in_context(|ctx| {
        ctx.schema = SchemaGenerator::new(SchemaSettings::draft2020_12().with(|s| {
            s.inline_subschemas = false;
            s.definitions_path = "#/components/schemas/".into();
        }));
    });
    let document_slot: DocumentSlot = Arc::default();
    let api = routes().api_route(OPENAPI_PATH, serve(document_slot.clone()));
    let mut doc = OpenApi::default();
    let router = api.finish_api_with(&mut doc, |t| {
        let t = t
            .title(info.title)
            .version(env!("CARGO_PKG_VERSION"))
            .description(info.description)
            .default_response_with::<Json<ErrorBody>, _>(|r| {
                r.description("An error: its status and `{\"error\": \"…\"}`.")
            });
        security(t)
    });
    // the security requirement applies to the whole document (aide keeps it top-level)
    let value = serde_json::to_value(&doc).unwrap_or_else(
        |e| serde_json::json!({ "error": format!("the OpenAPI document does not serialise: {e}") }),
    );
    let document = Arc::new(value);
    let _ = document_slot.set(document.clone());
    aide::generate::on_error(|_| {});
    let problems = problems.lock().map(|p| p.clone()).unwrap_or_default();
    Finished {
        router,
        document,
        problems,
    }
}
