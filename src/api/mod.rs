//! The REST API (`wfplan serve`): datasets, rules, scenarios, runs, results and
//! comparisons over HTTP, described by an OpenAPI 3 document.
//!
//! An adapter over the application layer ([`crate::app`]): handlers parse the request,
//! call the layer and present its answer; they plan, record and judge nothing themselves.
//! They do the work on tokio's blocking pool
//! (DuckDB calls) or rayon (scenario runs), so the async runtime keeps answering
//! `/health` and small requests while a large batch runs. Every error, whether from an
//! operation, from request parsing or from routing, has the one JSON shape of
//! [`error::ErrorBody`].

pub mod analysis;
pub mod auth;
pub mod calibration;
pub mod datasets;
pub mod error;
pub mod rules;
pub mod runs;
pub mod scenarios;
pub mod state;
pub mod text;
pub mod upkeep;
pub mod web;

use std::path::PathBuf;
use std::sync::Arc;

use poem::http::StatusCode;
use poem::listener::TcpAcceptor;
use poem::web::Data;
use poem::{Endpoint, EndpointExt, IntoResponse, Request, Response, Route};
use poem_openapi::payload::Json;
use poem_openapi::{Object, OpenApi, OpenApiService, Tags};

use self::auth::{ApiKeys, RequireKey};
use self::error::{json_error, ApiError};
use self::state::{lock, AppState, Limits};
use crate::app::project;
use crate::data::Store;

/// Groups of operations in the document.
#[derive(Tags)]
pub enum ApiTags {
    /// The server itself.
    Service,
    /// Workforce tables to run scenarios on.
    Datasets,
    /// The model's rhai scripts and intervention kinds.
    Rules,
    /// What-if scenarios.
    Scenarios,
    /// Running scenarios, their results and comparisons.
    Runs,
    /// Explaining a change: what each intervention contributes.
    Analysis,
}

/// The server's health.
#[derive(Debug, Clone, Object)]
pub struct Health {
    /// `ok` when the server answers.
    pub status: String,
    /// wfplan's version.
    pub version: String,
    /// Version of the model spec implemented.
    pub model_spec: String,
    /// Background runs under way.
    pub background_runs: u64,
}

pub struct ServiceApi;

#[OpenApi(tag = "ApiTags::Service")]
impl ServiceApi {
    /// Check the server
    ///
    /// Answers at once, even while runs are under way.
    #[oai(path = "/health", method = "get", operation_id = "health")]
    async fn health(&self, state: Data<&Arc<AppState>>) -> Result<Json<Health>, ApiError> {
        Ok(Json(Health {
            status: "ok".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            model_spec: "1".into(),
            background_runs: lock(&state.jobs).len() as u64,
        }))
    }
}

/// Runs blocking work (DuckDB, the engine) off the async runtime.
pub async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, ApiError> + Send + 'static,
) -> Result<T, ApiError> {
    tokio::task::spawn_blocking(work).await.unwrap_or_else(|e| {
        Err(ApiError::internal(format!(
            "the request's work stopped: {e}"
        )))
    })
}

type Api = (
    ServiceApi,
    datasets::DatasetsApi,
    rules::RulesApi,
    scenarios::ScenariosApi,
    runs::RunsApi,
    analysis::AnalysisApi,
    calibration::CalibrationApi,
);

/// The OpenAPI service: operations and their document.
pub fn service() -> OpenApiService<Api, ()> {
    OpenApiService::new(
        (
            ServiceApi,
            datasets::DatasetsApi,
            rules::RulesApi,
            scenarios::ScenariosApi,
            runs::RunsApi,
            analysis::AnalysisApi,
            calibration::CalibrationApi,
        ),
        "wfplan",
        env!("CARGO_PKG_VERSION"),
    )
    .description(
        "What-if workforce planning for health and care systems: run scenarios of training \
         placements, apprenticeships, return to practice, international recruitment, retention, \
         wellbeing, digital tools, bank staffing and skill mix against a workforce dataset, and \
         compare staff in post, vacancies, agency spend and costs by financial year.\n\n\
         When the server is started with API keys, send one as `Authorization: Bearer <key>`: \
         a read key may GET, a write key may do anything.",
    )
}

/// The OpenAPI document as JSON, as served at `/openapi.json`.
pub fn spec_json() -> String {
    service().spec()
}

/// The whole HTTP application on a state.
pub fn app(state: Arc<AppState>, keys: ApiKeys) -> impl Endpoint<Output = Response> {
    let api = service();
    let limit = state.limits.max_body_bytes;
    let (json, yaml, docs) = (
        api.spec_endpoint(),
        api.spec_endpoint_yaml(),
        api.swagger_ui(),
    );
    Route::new()
        .at("/openapi.json", json)
        .at("/openapi.yaml", yaml)
        .nest("/docs", docs)
        .nest("/", api)
        // Before routing: the API's routes, nested at the root, would answer `/` too.
        .around(web::serve_app)
        .with(RequireKey::new(keys))
        .around(move |endpoint, request| limit_body(endpoint, request, limit))
        .around(refuse_cross_origin)
        .data(state)
        .catch_all_error(|e| async move { json_error(e) })
}

/// Refuses requests that change anything when a browser says they come from another
/// site's page. A page can send a form, `text/plain` or a multipart upload to any address
/// without asking first (no CORS preflight); without this, any web page a planner opened
/// could run scripts or upload data on a server started without keys. Clients that are
/// not browsers send no `Origin` and are not affected.
async fn refuse_cross_origin<E: Endpoint>(
    endpoint: Arc<E>,
    request: Request,
) -> poem::Result<Response> {
    let changes = !matches!(
        *request.method(),
        poem::http::Method::GET | poem::http::Method::HEAD | poem::http::Method::OPTIONS
    );
    if changes {
        let header = |name: &str| {
            request
                .headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_string)
        };
        if let Some(origin) = header("origin") {
            // `Origin` is `scheme://host[:port]` (or `null`); the page's own server is
            // the `Host` the request was sent to.
            let origin_host = origin.split_once("://").map(|(_, host)| host);
            let same = origin_host.is_some_and(|h| Some(h) == header("host").as_deref());
            if !same {
                return Err(poem::Error::from_string(
                    format!(
                        "requests from another site's page ({origin}) may not change anything here"
                    ),
                    StatusCode::FORBIDDEN,
                ));
            }
        }
    }
    endpoint
        .call(request)
        .await
        .map(IntoResponse::into_response)
}

/// Refuses bodies over `limit` bytes with 413: at once when `Content-Length` says so,
/// otherwise as soon as reading passes the limit.
async fn limit_body<E: Endpoint>(
    endpoint: Arc<E>,
    mut request: Request,
    limit: usize,
) -> poem::Result<Response> {
    let too_large = |size: String| {
        poem::Error::from_string(
            format!("the request body is {size} bytes; the server accepts at most {limit}"),
            StatusCode::PAYLOAD_TOO_LARGE,
        )
    };
    let declared = request
        .headers()
        .get(poem::http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    match declared {
        Some(size) if size > limit as u64 => return Err(too_large(size.to_string())),
        Some(_) => {}
        None => {
            let body = request
                .take_body()
                .into_bytes_limit(limit)
                .await
                .map_err(|_| too_large("more than that".into()))?;
            request.set_body(body);
        }
    }
    endpoint
        .call(request)
        .await
        .map(IntoResponse::into_response)
}

/// What the server opens.
#[derive(Debug, Clone)]
pub struct ServeOptions {
    /// The database file (created with the bundled sample data if absent).
    pub db: PathBuf,
    /// The folder of rule scripts (`None`: ./rules, else the built-in rules).
    pub rules: Option<PathBuf>,
    /// The folder of scenarios offered at start (`None`: ./scenarios, else the built-in
    /// scenarios).
    pub scenarios: Option<PathBuf>,
    pub keys: ApiKeys,
    pub limits: Limits,
}

/// Opens the database (with the sample data if it has no workforce table), compiles the
/// rules and loads the scenarios.
pub fn open_state(options: &ServeOptions) -> anyhow::Result<Arc<AppState>> {
    use anyhow::Context;
    let rules = project::load_rules(options.rules.as_deref()).map_err(|p| {
        anyhow::anyhow!(
            "cannot load the rules:\n{}",
            p.0.iter()
                .map(|p| format!("  {p}"))
                .collect::<Vec<_>>()
                .join("\n")
        )
    })?;
    if let Some(notice) = rules.notice("rules") {
        tracing::info!("{notice}");
    }
    let mut store = Store::open(&options.db)
        .with_context(|| format!("cannot open {}", options.db.display()))?;
    store.limit_memory(options.limits.duckdb_memory_mb)?;
    if project::default_workforce(&mut store)?.1 {
        tracing::info!(
            "created the workforce table in {} from the bundled sample",
            options.db.display()
        );
    }
    let (mut catalogue, problems) = project::scenario_catalogue(options.scenarios.as_deref());
    if let Some(notice) = catalogue.notice("scenarios") {
        tracing::info!("{notice}");
    }
    let mut skipped: Vec<String> = problems.iter().map(|p| p.to_string()).collect();
    skipped.extend(catalogue.value.apply_saved(store.saved_scenarios()?));
    for p in skipped {
        tracing::warn!("scenario skipped: {p}");
    }
    Ok(Arc::new(AppState::new(
        store,
        rules.value,
        catalogue.value,
        options.limits.clone(),
    )))
}

/// Serves the API on `listener` until `shutdown` completes, then lets requests under way
/// finish for up to five seconds. The caller chooses both (as tokio's mini-redis does):
/// `wfplan serve` binds its `--bind` address and stops on Ctrl-C; tests bind port 0 and
/// stop when they like.
pub async fn run(
    listener: tokio::net::TcpListener,
    state: Arc<AppState>,
    keys: ApiKeys,
    shutdown: impl std::future::Future<Output = ()> + Send,
) -> anyhow::Result<()> {
    upkeep::start(&state);
    let acceptor = TcpAcceptor::from_tokio(listener)?;
    poem::Server::new_with_acceptor(acceptor)
        .run_with_graceful_shutdown(
            app(state, keys),
            shutdown,
            Some(std::time::Duration::from_secs(5)),
        )
        .await?;
    Ok(())
}
