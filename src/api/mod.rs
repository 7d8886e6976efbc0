//! The REST API (`wfplan serve`): datasets, rules, scenarios, runs, results and
//! comparisons over HTTP, described by an OpenAPI 3 document.
//!
//! Handlers are thin: they check the request, then do the work on tokio's blocking pool
//! (DuckDB calls) or rayon (scenario runs), so the async runtime keeps answering
//! `/health` and small requests while a large batch runs. Every error, whether from an
//! operation, from request parsing or from routing, has the one JSON shape of
//! [`error::ErrorBody`].

pub mod auth;
pub mod datasets;
pub mod error;
pub mod rules;
pub mod runs;
pub mod scenarios;
pub mod state;
pub mod upkeep;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use poem::http::StatusCode;
use poem::listener::{Acceptor, Listener, TcpListener};
use poem::web::Data;
use poem::{Endpoint, EndpointExt, IntoResponse, Request, Response, Route};
use poem_openapi::payload::Json;
use poem_openapi::{Object, OpenApi, OpenApiService, Tags};

use self::auth::{ApiKeys, RequireKey};
use self::error::{json_error, ApiError};
use self::state::{lock, AppState, Limits};
use crate::data::Store;
use crate::rules::RuleSet;

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
        .with(RequireKey::new(keys))
        .around(move |endpoint, request| limit_body(endpoint, request, limit))
        .data(state)
        .catch_all_error(|e| async move { json_error(e) })
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

/// How to start the server.
#[derive(Debug, Clone)]
pub struct ServeOptions {
    pub bind: String,
    pub db: PathBuf,
    pub rules: PathBuf,
    pub scenarios: PathBuf,
    pub keys: ApiKeys,
    pub limits: Limits,
}

/// Opens the database (with the sample data if it has no workforce table), compiles the
/// rules and loads the scenarios.
pub fn open_state(options: &ServeOptions) -> anyhow::Result<Arc<AppState>> {
    use anyhow::Context;
    let rules = RuleSet::load(&options.rules)
        .with_context(|| format!("cannot load the rules in {}", options.rules.display()))?;
    let mut store = Store::open(&options.db)
        .with_context(|| format!("cannot open {}", options.db.display()))?;
    if store.workforce()?.is_none() {
        let sample = crate::data::import::read_csv_text(
            "bundled sample workforce.csv",
            crate::data::SAMPLE_WORKFORCE_CSV,
        )?;
        store.replace_workforce(&sample)?;
        tracing::info!(
            "created the workforce table in {} from the bundled sample",
            options.db.display()
        );
    }
    let (scenarios, problems) =
        scenarios::initial_scenarios(&options.scenarios, store.saved_scenarios()?);
    for p in problems {
        tracing::warn!("scenario skipped: {p}");
    }
    Ok(Arc::new(AppState::new(
        store,
        rules,
        scenarios,
        options.limits.clone(),
    )))
}

/// Runs the server until Ctrl-C. Prints the address it listens on (useful with port 0).
pub async fn serve(options: ServeOptions) -> anyhow::Result<()> {
    let address: SocketAddr = options.bind.parse().map_err(|e| {
        anyhow::anyhow!(
            "--bind {}: {e}; give an address such as 127.0.0.1:8080",
            options.bind
        )
    })?;
    if options.keys.is_empty() && !address.ip().is_loopback() {
        anyhow::bail!(
            "refusing to listen on {address} without API keys: set WFPLAN_API_KEYS or --key-file, or bind to 127.0.0.1"
        );
    }
    let state = open_state(&options)?;
    upkeep::start(&state);
    let acceptor = TcpListener::bind(address).into_acceptor().await?;
    let local = acceptor
        .local_addr()
        .first()
        .and_then(|a| a.as_socket_addr().copied())
        .map_or_else(|| options.bind.clone(), |a| a.to_string());
    println!("wfplan listening on http://{local} (docs at http://{local}/docs)");
    use std::io::Write;
    let _ = std::io::stdout().flush();
    poem::Server::new_with_acceptor(acceptor)
        .run_with_graceful_shutdown(
            app(state, options.keys),
            async {
                let _ = tokio::signal::ctrl_c().await;
            },
            Some(std::time::Duration::from_secs(5)),
        )
        .await?;
    Ok(())
}
