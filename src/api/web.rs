//! The planners' web app: `web/index.html` at `/` and every other file of `web/` at
//! `/app/<path>`, compiled into the binary so the server needs nothing beside it and the
//! browser loads nothing from the internet.
//!
//! The app is a client of the public API like any other (it holds no planning logic):
//! it calls the operations of [`super::service`] from the page, on the same origin.
//! Pages are hash routes of the one document (`/#/runs/7`), so every page has a URL a
//! planner can bookmark and the server needs no route per page.
//!
//! `WFPLAN_WEB_DIR=<folder>` serves the files from that folder instead, read at each
//! request, so the front end can be edited without recompiling (as the rules can).

use std::path::{Component, Path, PathBuf};
use std::sync::OnceLock;

use std::sync::Arc;

use poem::http::{header, Method, StatusCode};
use poem::{Endpoint, IntoResponse, Request, Response};
use sha2::{Digest, Sha256};

/// One file of the app.
struct Asset {
    /// Path under `web/`, as requested under `/app/`.
    path: &'static str,
    bytes: &'static [u8],
}

/// Every file of `web/`, listed by `build.rs`.
static ASSETS: &[Asset] = include!(concat!(env!("OUT_DIR"), "/web_assets.rs"));

/// The paths of the files compiled in, for the test that keeps them equal to `web/`.
pub fn embedded_paths() -> Vec<&'static str> {
    ASSETS.iter().map(|a| a.path).collect()
}

/// Scripts only from the server itself, never inline or evaluated; nothing fetched from
/// anywhere else. Styles may be inline because the chart library writes a `<style>`
/// element into each chart.
const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self'; \
     style-src 'self' 'unsafe-inline'; img-src 'self' data: blob:; connect-src 'self'; \
     object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'";

/// Answers `GET /` with the app's document and `GET /app/<path>` with its files; passes
/// every other request on to the API.
pub async fn serve_app<E: Endpoint>(endpoint: Arc<E>, request: Request) -> poem::Result<Response> {
    let path = request.uri().path();
    let file = match path {
        "/" => Some("index.html".to_string()),
        _ => path.strip_prefix("/app/").map(|p| {
            percent_encoding::percent_decode_str(p)
                .decode_utf8_lossy()
                .into_owned()
        }),
    };
    match file {
        Some(file) if matches!(*request.method(), Method::GET | Method::HEAD) => {
            Ok(serve(&file, &request))
        }
        _ => endpoint
            .call(request)
            .await
            .map(IntoResponse::into_response),
    }
}

fn serve(path: &str, request: &Request) -> Response {
    let Some(bytes) = read(path) else {
        return not_found(path);
    };
    // The content's own hash as its tag: a browser revalidates and gets 304 until the
    // binary (or, in development, the file) changes.
    let tag = format!("\"{}\"", crate::model::hex(&Sha256::digest(&bytes)));
    let fresh = request
        .headers()
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|given| given.split(',').any(|t| t.trim() == tag));
    let builder = Response::builder()
        .header(header::ETAG, tag)
        .header(header::CACHE_CONTROL, "no-cache")
        .header(header::X_CONTENT_TYPE_OPTIONS, "nosniff")
        .header(header::CONTENT_SECURITY_POLICY, CONTENT_SECURITY_POLICY)
        .header("referrer-policy", "same-origin");
    if fresh {
        return builder.status(StatusCode::NOT_MODIFIED).finish();
    }
    builder
        .header(header::CONTENT_TYPE, content_type(path))
        .body(bytes)
}

fn not_found(path: &str) -> Response {
    let body = serde_json::json!({
        "code": "not_found",
        "message": format!("the web app has no file {path}"),
        "details": [],
    });
    Response::builder()
        .status(StatusCode::NOT_FOUND)
        .content_type("application/json; charset=utf-8")
        .body(body.to_string())
}

/// The file's bytes: from `WFPLAN_WEB_DIR` when set, else compiled in.
fn read(path: &str) -> Option<Vec<u8>> {
    match development_folder() {
        Some(folder) => std::fs::read(folder.join(safe_relative(path)?)).ok(),
        None => ASSETS
            .iter()
            .find(|a| a.path == path)
            .map(|a| a.bytes.to_vec()),
    }
}

fn development_folder() -> Option<&'static PathBuf> {
    static FOLDER: OnceLock<Option<PathBuf>> = OnceLock::new();
    FOLDER
        .get_or_init(|| std::env::var_os("WFPLAN_WEB_DIR").map(PathBuf::from))
        .as_ref()
}

/// `path` when it stays inside the folder: plain names only, no `..`, no root.
fn safe_relative(path: &str) -> Option<&Path> {
    let path = Path::new(path);
    path.components()
        .all(|c| matches!(c, Component::Normal(_)))
        .then_some(path)
}

fn content_type(path: &str) -> &'static str {
    match path.rsplit_once('.').map(|(_, ext)| ext) {
        Some("html") => "text/html; charset=utf-8",
        Some("js") => "text/javascript; charset=utf-8",
        Some("css") => "text/css; charset=utf-8",
        Some("svg") => "image/svg+xml",
        Some("png") => "image/png",
        Some("json") => "application/json",
        Some("md") | Some("LICENSE") => "text/plain; charset=utf-8",
        _ => "application/octet-stream",
    }
}
