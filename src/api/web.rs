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

use std::borrow::Cow;
use std::path::{Component, Path, PathBuf};
use std::sync::OnceLock;

use std::sync::Arc;

use poem::http::{header, Method, StatusCode};
use poem::{Body, Endpoint, IntoResponse, Request, Response};
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
    let Some(File { bytes, tag }) = read(path) else {
        return not_found(path);
    };
    let fresh = request
        .headers()
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|given| given.split(',').any(|t| t.trim() == tag.as_ref()));
    let builder = Response::builder()
        .header(header::ETAG, tag.as_ref())
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

/// A file to send and its ETag: the content's own hash, so a browser revalidates and
/// gets 304 until the binary (or, in development, the file) changes.
struct File {
    bytes: Body,
    tag: Cow<'static, str>,
}

fn tag_of(bytes: &[u8]) -> String {
    format!("\"{}\"", crate::model::hex(&Sha256::digest(bytes)))
}

/// The file: from `WFPLAN_WEB_DIR` when set, read at each request; else compiled in,
/// sent from the binary's own bytes with a tag worked out once.
fn read(path: &str) -> Option<File> {
    if let Some(folder) = development_folder() {
        let bytes = std::fs::read(folder.join(safe_relative(path)?)).ok()?;
        let tag = Cow::Owned(tag_of(&bytes));
        return Some(File {
            bytes: Body::from(bytes),
            tag,
        });
    }
    static TAGS: OnceLock<Vec<String>> = OnceLock::new();
    let tags = TAGS.get_or_init(|| ASSETS.iter().map(|a| tag_of(a.bytes)).collect());
    let i = ASSETS.iter().position(|a| a.path == path)?;
    Some(File {
        bytes: Body::from(ASSETS[i].bytes),
        tag: Cow::Borrowed(&tags[i]),
    })
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
