//! The REST API through poem's test client: every operation, its error cases, access
//! keys, limits, and what survives a restart. `api_socket.rs` drives the real binary over
//! a real socket.

use std::time::Duration;

use poem::test::{TestClient, TestRequestBuilder};
use poem::{Endpoint, EndpointExt};
use serde_json::{json, Value};
use wfplan::api::auth::ApiKeys;
use wfplan::api::state::Limits;
use wfplan::api::{app, open_state, ServeOptions};

use super::common::*;

type Client = TestClient<poem::endpoint::BoxEndpoint<'static>>;

struct Server {
    client: Client,
    dir: tempfile::TempDir,
}

fn options(dir: &std::path::Path, keys: ApiKeys, limits: Limits) -> ServeOptions {
    ServeOptions {
        db: dir.join("wfplan.duckdb"),
        rules: Some(repo().join("rules")),
        scenarios: Some(repo().join("scenarios")),
        keys,
        limits,
    }
}

fn server_with(keys: ApiKeys, limits: Limits) -> Server {
    let dir = tempfile::tempdir().unwrap();
    let options = options(dir.path(), keys.clone(), limits);
    let state = open_state(&options).unwrap();
    Server {
        client: TestClient::new(app(state, keys).boxed()),
        dir,
    }
}

fn server() -> Server {
    server_with(ApiKeys::default(), Limits::default())
}

/// A response, read whole.
struct Reply {
    status: u16,
    location: Option<String>,
    content_type: String,
    bytes: Vec<u8>,
    json: Value,
}

impl Reply {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.bytes).into_owned()
    }

    /// Asserts the one error shape and returns the code.
    fn error_code(&self) -> String {
        let code = self.json["code"]
            .as_str()
            .unwrap_or_else(|| panic!("not an error body: {}", self.text()));
        assert!(self.json["message"].is_string(), "{}", self.text());
        assert!(self.json["details"].is_array(), "{}", self.text());
        code.to_string()
    }
}

async fn send<E: Endpoint>(request: TestRequestBuilder<'_, E>) -> Reply {
    let response = request.send().await.0;
    let status = response.status().as_u16();
    let header = |name: &str| {
        response
            .headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(String::from)
    };
    let location = header("location");
    let content_type = header("content-type").unwrap_or_default();
    let bytes = response.into_body().into_vec().await.unwrap();
    let json = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    Reply {
        status,
        location,
        content_type,
        bytes,
        json,
    }
}

async fn post_json(client: &Client, path: &str, body: Value) -> Reply {
    send(client.post(path).body_json(&body)).await
}

#[tokio::test]
async fn health_and_the_openapi_document() {
    let s = server();
    let r = send(s.client.get("/health")).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.json["status"], "ok");
    assert_eq!(r.json["version"], env!("CARGO_PKG_VERSION"));

    let r = send(s.client.get("/openapi.json")).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.json["openapi"].as_str().map(|v| &v[..2]), Some("3."));
    let operations: usize = r.json["paths"]
        .as_object()
        .unwrap()
        .values()
        .map(|p| p.as_object().unwrap().len())
        .sum();
    assert!(operations >= 19, "{operations} operations");
    // Every operation has a summary, a description and its error responses.
    for (path, item) in r.json["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            assert!(op["summary"].is_string(), "{method} {path} has no summary");
            assert!(
                op["description"].is_string(),
                "{method} {path} has no description"
            );
            assert!(
                op["responses"]["422"].is_object(),
                "{method} {path} lists no 422"
            );
        }
    }
    let r = send(s.client.get("/openapi.yaml")).await;
    assert_eq!(r.status, 200);
    assert!(r.text().contains("openapi:"));
    let r = send(s.client.get("/docs")).await;
    assert_eq!(r.status, 200);
    assert!(r.text().contains("swagger"), "{}", r.text());
}

/// The web app: its document at `/`, its files at `/app/`, compiled in (every file of
/// `web/`), locked down by a content security policy, cached by content hash, and open
/// without a key (the page asks for one when the API does).
#[tokio::test]
async fn the_web_app_is_served_from_the_binary() {
    let mut on_disk = Vec::new();
    let web = repo().join("web");
    let mut folders = vec![web.clone()];
    while let Some(folder) = folders.pop() {
        for entry in std::fs::read_dir(folder).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                folders.push(path);
            } else {
                let relative = path.strip_prefix(&web).unwrap();
                on_disk.push(relative.to_string_lossy().replace('\\', "/"));
            }
        }
    }
    on_disk.sort();
    let mut embedded = wfplan::api::web::embedded_paths();
    embedded.sort();
    assert_eq!(embedded, on_disk, "src/api/web.rs lists every file of web/");

    let keys = ApiKeys::parse("reader-key-0123456789:read").unwrap();
    let s = server_with(keys, Limits::default());
    let page = send(s.client.get("/")).await;
    assert_eq!(page.status, 200);
    assert!(
        page.content_type.starts_with("text/html"),
        "{}",
        page.content_type
    );
    assert!(page.text().contains("/app/app.js"), "{}", page.text());
    let response = s.client.get("/").send().await.0;
    let csp = response.headers()["content-security-policy"]
        .to_str()
        .unwrap();
    assert!(csp.contains("script-src 'self';"), "{csp}");
    let tag = response.headers()["etag"].to_str().unwrap().to_string();
    let again = s
        .client
        .get("/")
        .header("if-none-match", &tag)
        .send()
        .await
        .0;
    assert_eq!(again.status().as_u16(), 304);

    for path in &embedded {
        let r = send(s.client.get(format!("/app/{path}"))).await;
        assert_eq!(r.status, 200, "/app/{path}");
        let on_disk = std::fs::read(web.join(path)).unwrap();
        assert!(r.bytes == on_disk, "/app/{path} is not web/{path}");
    }
    let script = send(s.client.get("/app/vendor/plot-0.6.17.umd.min.js")).await;
    assert!(script.content_type.starts_with("text/javascript"));
    for missing in [
        "/app/nothing.js",
        "/app/../Cargo.toml",
        "/app/%2e%2e/Cargo.toml",
    ] {
        let r = send(s.client.get(missing)).await;
        assert_eq!(r.status, 404, "{missing}");
        assert_eq!(r.error_code(), "not_found");
    }
    // The data still needs the key.
    assert_eq!(send(s.client.get("/scenarios")).await.status, 401);
}

/// The served document is checked in, so any change to the API shows in review. Run with
/// `WFPLAN_BLESS=1` to rewrite it on purpose.
#[test]
fn the_openapi_document_matches_the_golden_copy() {
    let actual = wfplan::api::spec_json();
    let path = repo().join("tests/golden/openapi.json");
    if std::env::var_os("WFPLAN_BLESS").is_some() {
        std::fs::write(&path, &actual).unwrap();
    }
    let expected = std::fs::read_to_string(&path)
        .expect("tests/golden/openapi.json: run with WFPLAN_BLESS=1 to create it");
    assert!(
        actual == expected,
        "the OpenAPI document changed; review and run `WFPLAN_BLESS=1 cargo test --release openapi` to accept it"
    );
}

#[tokio::test]
async fn errors_outside_operations_have_the_same_shape() {
    let s = server_with(
        ApiKeys::default(),
        Limits {
            max_body_bytes: 1000,
            ..Limits::default()
        },
    );
    let r = send(s.client.get("/no/such/thing")).await;
    assert_eq!((r.status, r.error_code().as_str()), (404, "not_found"));
    let r = send(s.client.put("/health")).await;
    assert_eq!(r.status, 405);
    r.error_code();
    let r = send(
        s.client
            .post("/runs")
            .content_type("application/json")
            .body("{ not json"),
    )
    .await;
    assert_eq!(r.status, 400);
    r.error_code();
    let r = send(
        s.client
            .post("/runs")
            .content_type("text/plain")
            .body("scenario"),
    )
    .await;
    assert!(r.status == 400 || r.status == 415, "{}", r.status);
    r.error_code();
    let r = send(
        s.client
            .post("/datasets")
            .content_type("text/csv")
            .body("x".repeat(5000)),
    )
    .await;
    assert_eq!((r.status, r.error_code().as_str()), (413, "too_large"));
    let r = send(s.client.get("/runs/not-a-number")).await;
    assert_eq!(r.status, 400);
    r.error_code();
}

#[tokio::test]
async fn datasets_upload_check_show_and_delete() {
    let s = server();
    let r = send(s.client.get("/datasets")).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.json.as_array().unwrap().len(), 1);
    assert_eq!(r.json[0]["id"], "default");
    assert_eq!(r.json[0]["segments"], 183);

    let csv = std::fs::read_to_string(repo().join("benches/peers/fixtures/workforce.csv")).unwrap();
    let r = send(
        s.client
            .post("/datasets")
            .query("name", &"four segments")
            .content_type("text/csv")
            .body(csv.clone()),
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.text());
    let id = r.json["id"].as_str().unwrap().to_string();
    assert_eq!(
        r.location.as_deref(),
        Some(format!("/datasets/{id}").as_str())
    );
    assert_eq!(r.json["name"], "four segments");

    let r = send(s.client.get(format!("/datasets/{id}"))).await;
    assert_eq!(r.status, 200);
    let by_group = r.json["by_staff_group"].as_array().unwrap();
    let fte: f64 = by_group.iter().map(|g| g["fte"].as_f64().unwrap()).sum();
    assert!((fte - r.json["summary"]["fte"].as_f64().unwrap()).abs() < 1e-9);

    // Two bad values: every one is reported with row and column, and nothing is stored.
    let mut lines: Vec<String> = csv.lines().map(String::from).collect();
    let header: Vec<&str> = lines[0].split(',').collect();
    let fte_column = header.iter().position(|c| *c == "fte").unwrap();
    let leaver_column = header.iter().position(|c| *c == "leaver_rate").unwrap();
    let mut cells: Vec<String> = lines[2].split(',').map(String::from).collect();
    cells[fte_column] = "-3".into();
    cells[leaver_column] = "lots".into();
    lines[2] = cells.join(",");
    let r = send(
        s.client
            .post("/datasets")
            .content_type("text/csv")
            .body(lines.join("\n")),
    )
    .await;
    assert_eq!(
        (r.status, r.error_code().as_str()),
        (422, "invalid_data"),
        "{}",
        r.text()
    );
    let details = r.json["details"].as_array().unwrap();
    assert!(
        details
            .iter()
            .any(|d| d["row"] == 3 && d["column"] == "fte"),
        "{details:?}"
    );
    assert!(
        details
            .iter()
            .any(|d| d["row"] == 3 && d["column"] == "leaver_rate"),
        "{details:?}"
    );
    let r = send(s.client.get("/datasets")).await;
    assert_eq!(
        r.json.as_array().unwrap().len(),
        2,
        "the bad upload stored nothing"
    );

    // Parquet, written by DuckDB from the same CSV.
    let bytes = fixture_parquet(s.dir.path());
    let r = send(
        s.client
            .post("/datasets")
            .content_type("application/vnd.apache.parquet")
            .body(bytes),
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.text());
    assert_eq!(r.json["segments"], 4);
    let r = send(
        s.client
            .post("/datasets")
            .content_type("application/vnd.apache.parquet")
            .body("not parquet"),
    )
    .await;
    assert_eq!(r.status, 422);

    let r = send(s.client.delete(format!("/datasets/{id}"))).await;
    assert_eq!(r.status, 204);
    let r = send(s.client.get(format!("/datasets/{id}"))).await;
    assert_eq!((r.status, r.error_code().as_str()), (404, "not_found"));
    let r = send(s.client.delete("/datasets/default")).await;
    assert_eq!((r.status, r.error_code().as_str()), (409, "conflict"));
}

#[tokio::test]
async fn rules_are_listed_shown_and_checked() {
    let s = server();
    let r = send(s.client.get("/rules")).await;
    assert_eq!(r.status, 200);
    let kinds = r.json["kinds"].as_array().unwrap();
    assert!(kinds.len() >= 10);
    let apprenticeships = kinds
        .iter()
        .find(|k| k["name"] == "apprenticeships")
        .unwrap();
    let starts = apprenticeships["fields"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["name"] == "starts_per_year")
        .unwrap();
    assert_eq!(starts["required"], true);

    let r = send(s.client.get("/rules/scripts/flows")).await;
    assert_eq!(r.status, 200);
    assert!(r.text().contains("fte_next"));
    let r = send(s.client.get("/rules/scripts/nothing")).await;
    assert_eq!(r.status, 404);

    let good =
        std::fs::read_to_string(repo().join("rules/interventions/work_experience.rhai")).unwrap();
    let r = send(
        s.client
            .post("/rules/check")
            .content_type("text/plain")
            .body(good),
    )
    .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.json["ok"], true, "{}", r.text());
    assert_eq!(r.json["kind"]["stage"], "rates");

    let broken =
        "fn kind() { #{ summary: \"x\", stage: \"rates\", fields: #{} } }\n\nleaver = leaver * ;\n";
    let r = send(
        s.client
            .post("/rules/check")
            .content_type("text/plain")
            .body(broken),
    )
    .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.json["ok"], false);
    assert_eq!(r.json["diagnostics"][0]["line"], 3, "{}", r.text());

    let r = send(
        s.client
            .post("/rules/check")
            .query("role", &"flows")
            .content_type("text/plain")
            .body("let x = 1;"),
    )
    .await;
    assert_eq!(r.json["ok"], true, "{}", r.text());
    let r = send(
        s.client
            .post("/rules/check")
            .query("role", &"other")
            .content_type("text/plain")
            .body("1"),
    )
    .await;
    assert_eq!(r.status, 422);
}

#[tokio::test]
async fn scenarios_are_created_read_replaced_and_deleted() {
    let s = server();
    let r = send(s.client.get("/scenarios")).await;
    assert!(r
        .json
        .as_array()
        .unwrap()
        .iter()
        .any(|s| s["name"] == "baseline" && s["origin"] == "file"));

    let document = json!({
        "name": "more-retention",
        "extends": "baseline",
        "description": "Stay conversations",
        "interventions": [{ "kind": "retention", "where": { "staff_group": "physiotherapy" }, "start": "2025-06", "reduction": 0.1 }]
    });
    let r = post_json(&s.client, "/scenarios", document.clone()).await;
    assert_eq!(r.status, 201, "{}", r.text());
    assert_eq!(r.location.as_deref(), Some("/scenarios/more-retention"));
    let r = post_json(&s.client, "/scenarios", document.clone()).await;
    assert_eq!((r.status, r.error_code().as_str()), (409, "conflict"));
    let r = send(s.client.get("/scenarios/more-retention")).await;
    assert_eq!(r.json["interventions"][0]["reduction"], 0.1);

    let mut replaced = document.clone();
    replaced["interventions"][0]["reduction"] = json!(0.2);
    let r = send(
        s.client
            .put("/scenarios/more-retention")
            .body_json(&replaced),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let r = send(s.client.get("/scenarios/more-retention")).await;
    assert_eq!(r.json["interventions"][0]["reduction"], 0.2);

    // Every problem, each with its field.
    let bad = json!({
        "name": "bad",
        "start": "2025-13",
        "months": 0,
        "interventions": [
            { "kind": "no_such_kind" },
            { "kind": "retention", "where": { "no_such_column": "x" }, "reduction": 2 }
        ]
    });
    let r = post_json(&s.client, "/scenarios", bad).await;
    assert_eq!(
        (r.status, r.error_code().as_str()),
        (422, "invalid_scenario"),
        "{}",
        r.text()
    );
    let fields: Vec<&str> = r.json["details"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|d| d["field"].as_str())
        .collect();
    for expected in [
        "start",
        "months",
        "interventions[0].kind",
        "interventions[1].reduction",
    ] {
        assert!(fields.contains(&expected), "{expected} not in {fields:?}");
    }
    assert!(
        fields
            .iter()
            .any(|f| f.starts_with("interventions[1].where")),
        "{fields:?}"
    );
    let r = post_json(
        &s.client,
        "/scenarios",
        json!({ "name": "x", "surprise": 1 }),
    )
    .await;
    assert_eq!(r.status, 400, "unknown fields are refused: {}", r.text());
    let r = post_json(
        &s.client,
        "/scenarios",
        json!({ "name": "orphan", "extends": "missing" }),
    )
    .await;
    assert_eq!(r.status, 422);
    assert_eq!(r.json["details"][0]["field"], "extends");

    // A cycle through extends.
    let r = send(
        s.client
            .put("/scenarios/a")
            .body_json(&json!({ "extends": "baseline" })),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let r = send(
        s.client
            .put("/scenarios/baseline")
            .body_json(&json!({ "extends": "a", "start": "2025-04", "months": 12 })),
    )
    .await;
    assert_eq!(r.status, 422, "{}", r.text());
    assert!(
        r.json["details"][0]["message"]
            .as_str()
            .unwrap()
            .contains("cycle"),
        "{}",
        r.text()
    );

    let r = send(s.client.delete("/scenarios/baseline")).await;
    assert_eq!(r.status, 409, "others extend it: {}", r.text());
    let r = send(s.client.delete("/scenarios/more-retention")).await;
    assert_eq!(r.status, 204);
    let r = send(s.client.get("/scenarios/more-retention")).await;
    assert_eq!(r.status, 404);
}

#[tokio::test]
async fn a_small_run_answers_with_its_results() {
    let s = server();
    let r = post_json(&s.client, "/runs", json!({ "scenario": "baseline" })).await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json["status"], "succeeded");
    let id = r.json["id"].as_i64().unwrap();
    let summary = r.json["summary"].as_array().unwrap();
    assert_eq!(summary.len(), 5, "five financial years");
    assert_eq!(summary[0]["period"], "2025/26");

    // The answer, built from what was stored, is the view `GET /runs/{id}` reads back.
    let stored = send(s.client.get(format!("/runs/{id}"))).await;
    assert_eq!(stored.status, 200);
    let mut answered = r.json.clone();
    answered.as_object_mut().unwrap().remove("summary");
    let mut read_back = stored.json.clone();
    read_back.as_object_mut().unwrap().remove("summary");
    assert_eq!(answered, read_back);

    // The same figures as the engine run directly.
    let workforce =
        wfplan::data::import::read_csv_text("sample", wfplan::data::SAMPLE_WORKFORCE_CSV).unwrap();
    let years = wfplan::report::by_financial_year(&run(
        &std::fs::read_to_string(repo().join("scenarios/baseline.toml")).unwrap(),
        &workforce,
    ));
    for (row, year) in summary.iter().zip(&years) {
        let fte = row["figures"]["fte"].as_f64().unwrap();
        assert!(
            (fte - year.values[0]).abs() <= 1e-9 * fte.abs(),
            "{fte} vs {}",
            year.values[0]
        );
        let rate = row["figures"]["vacancy_rate"].as_f64().unwrap();
        assert!((rate - year.vacancy_rate()).abs() < 1e-12);
    }

    // Results cut by staff group, filtered and by month; rates from sums.
    let r = send(
        s.client
            .get(format!("/runs/{id}/results"))
            .query("group_by", &"staff_group")
            .query("metrics", &"fte,vacancies,required_fte,vacancy_rate")
            .query("filter", &"staff_group=physiotherapy")
            .query("period", &"month"),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let rows = r.json["rows"].as_array().unwrap();
    assert_eq!(rows.len(), 60);
    assert_eq!(rows[0]["keys"]["staff_group"], "physiotherapy");
    let f = &rows[0]["figures"];
    let expected = f["vacancies"].as_f64().unwrap() / f["required_fte"].as_f64().unwrap();
    assert!((f["vacancy_rate"].as_f64().unwrap() - expected).abs() < 1e-12);

    // Financial-year totals from the database equal the summary.
    let r = send(
        s.client
            .get(format!("/runs/{id}/results"))
            .query("metrics", &"fte,leavers,leaver_rate,turnover,agency_share"),
    )
    .await;
    let rows = r.json["rows"].as_array().unwrap();
    for (row, year) in rows.iter().zip(&years) {
        // The rates from SQL equal the report's, computed in Rust from the same sums.
        let rate = |name: &str| row["figures"][name].as_f64().unwrap();
        assert!((rate("turnover") - year.turnover()).abs() < 1e-9);
        assert!(rate("turnover") >= rate("leaver_rate"));
        assert!((rate("agency_share") - year.agency_share()).abs() < 1e-9);
        let leavers = row["figures"]["leavers"].as_f64().unwrap();
        assert!(
            (leavers - year.get(wfplan::model::results::Metric::Leavers)).abs()
                <= 1e-9 * leavers.abs()
        );
        assert!(
            (row["figures"]["leaver_rate"].as_f64().unwrap() - year.leaver_rate()).abs() < 1e-9
        );
    }

    let r = send(
        s.client
            .get(format!("/runs/{id}/results"))
            .query("format", &"csv")
            .query("group_by", &"org"),
    )
    .await;
    assert_eq!(r.status, 200);
    assert!(r.content_type.starts_with("text/csv"), "{}", r.content_type);
    assert!(
        r.text().starts_with("scenario,period,org,fte,"),
        "{}",
        r.text()
    );
    let r = send(
        s.client
            .get(format!("/runs/{id}/results"))
            .query("format", &"parquet"),
    )
    .await;
    assert_eq!(r.status, 200);
    assert_eq!(&r.bytes[..4], b"PAR1");

    for (name, value) in [
        ("group_by", "no_such_key"),
        ("metrics", "happiness"),
        ("period", "week"),
        ("filter", "org"),
        ("format", "xml"),
    ] {
        let r = send(
            s.client
                .get(format!("/runs/{id}/results"))
                .query(name, &value),
        )
        .await;
        assert_eq!(r.status, 422, "{name}={value}: {}", r.text());
        assert_eq!(r.json["details"][0]["field"], name);
    }
    let r = send(s.client.get("/runs/99999/results")).await;
    assert_eq!(r.status, 404);
    let r = send(s.client.get("/runs")).await;
    assert_eq!(r.json[0]["id"], id);
    let r = send(s.client.delete(format!("/runs/{id}"))).await;
    assert_eq!(r.status, 409, "a finished run cannot be cancelled");
}

/// Small runs arriving together are stored together (a group commit) and each still gets
/// its own run, with its own results and row in the runs table.
#[tokio::test]
async fn concurrent_small_runs_each_get_their_own_stored_run() {
    let s = server_with(
        ApiKeys::default(),
        Limits {
            group_wait: Duration::from_millis(50),
            ..Limits::default()
        },
    );
    let body = || json!({ "scenario": "baseline", "detail": "staff_group" });
    let (a, b, c, d) = tokio::join!(
        post_json(&s.client, "/runs", body()),
        post_json(&s.client, "/runs", body()),
        post_json(
            &s.client,
            "/runs",
            json!({ "scenario": "faculty-plan", "detail": "total" })
        ),
        post_json(&s.client, "/runs", body()),
    );
    let mut ids = Vec::new();
    for r in [&a, &b, &c, &d] {
        assert_eq!(r.status, 200, "{}", r.text());
        assert_eq!(r.json["status"], "succeeded");
        ids.push(r.json["id"].as_i64().unwrap());
    }
    let mut distinct = ids.clone();
    distinct.sort_unstable();
    distinct.dedup();
    assert_eq!(distinct.len(), 4, "{ids:?}");
    for (r, id) in [&a, &b, &c, &d].iter().zip(&ids) {
        let stored = send(s.client.get(format!("/runs/{id}"))).await;
        assert_eq!(stored.json["scenarios"], r.json["scenarios"]);
        let results = send(
            s.client
                .get(format!("/runs/{id}/results"))
                .query("period", &"financial_year"),
        )
        .await;
        assert_eq!(results.status, 200, "{}", results.text());
        let rows = results.json["rows"].as_array().unwrap();
        assert_eq!(
            rows.len(),
            5,
            "one row per financial year: {}",
            results.text()
        );
        // Each run's results are its own: the first year's FTE, as the answer summarised it.
        let stored = rows[0]["figures"]["fte"].as_f64().unwrap();
        let answered = r.json["summary"][0]["figures"]["fte"].as_f64().unwrap();
        assert!(
            (stored - answered).abs() <= 1e-9 * answered,
            "run {id}: {stored} vs {answered}"
        );
    }
}

#[tokio::test]
async fn bad_run_requests_name_the_field() {
    let s = server();
    let cases = [
        (json!({}), "scenario"),
        (
            json!({ "scenario": "baseline", "scenario_document": { "start": "2025-04", "months": 1 } }),
            "scenario",
        ),
        (json!({ "scenario": "no-such" }), "scenario"),
        (
            json!({ "scenario": "baseline", "detail": "no_such_key" }),
            "detail",
        ),
    ];
    for (body, field) in cases {
        let r = post_json(&s.client, "/runs", body.clone()).await;
        assert_eq!(r.status, 422, "{body}: {}", r.text());
        assert_eq!(r.json["details"][0]["field"], field, "{body}: {}", r.text());
    }
    let r = post_json(
        &s.client,
        "/runs",
        json!({ "scenario": "baseline", "dataset": "nope" }),
    )
    .await;
    assert_eq!(r.status, 404);
    // An override that makes an input invalid.
    let r = post_json(
        &s.client,
        "/runs",
        json!({ "scenario_document": { "start": "2025-04", "months": 12, "overrides": [{ "set": { "headroom": 1.5 } }] } }),
    )
    .await;
    assert_eq!(r.status, 422, "{}", r.text());
    // Seasonality and transfers through the API: refused naming the field, or run.
    for (document, field) in [
        (
            json!({ "start": "2025-04", "months": 12, "seasonality": { "sickness": [1, 1, 1] } }),
            "seasonality.sickness",
        ),
        (
            json!({ "start": "2025-04", "months": 12, "interventions": [{ "kind": "transfer", "where": { "band": "5" }, "to": { "band": "Six" }, "rate": 0.1 }] }),
            "interventions[0].to.band",
        ),
    ] {
        let r = post_json(&s.client, "/runs", json!({ "scenario_document": document })).await;
        assert_eq!(r.status, 422, "{}", r.text());
        assert_eq!(r.json["details"][0]["field"], field, "{}", r.text());
    }
    let r = post_json(
        &s.client,
        "/runs",
        json!({ "scenario_document": {
            "start": "2025-04", "months": 12,
            "seasonality": { "annual_leave": [0.9, 0.9, 0.9, 0.9, 0.9, 0.9, 0.9, 1.6, 0.9, 0.9, 0.9, 1.3] },
            "interventions": [{ "kind": "transfer", "where": { "band": "5" }, "to": { "band": "6" }, "rate": 0.1 }]
        }, "detail": "total" }),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let first_year = &r.json["summary"][0]["figures"];
    let (moved_in, moved_out) = (
        first_year["transfers_in"].as_f64().unwrap(),
        first_year["transfers_out"].as_f64().unwrap(),
    );
    assert!(moved_out > 0.0 && (moved_in - moved_out).abs() < 1e-9 * moved_out);
    // A sweep too large for one request.
    let values: Vec<i64> = (0..2000).collect();
    let r = post_json(
        &s.client,
        "/runs",
        json!({ "scenario_document": {
            "start": "2025-04", "months": 12,
            "interventions": [{ "kind": "wellbeing", "sickness_reduction": 0.01 }],
            "sweep": { "interventions.0.cost_per_month": values }
        } }),
    )
    .await;
    assert_eq!(
        (r.status, r.error_code().as_str()),
        (422, "too_many_runs"),
        "{}",
        r.text()
    );
}

async fn wait_for(client: &Client, id: i64, done: impl Fn(&Value) -> bool) -> Value {
    for _ in 0..600 {
        let r = send(client.get(format!("/runs/{id}"))).await;
        assert_eq!(r.status, 200);
        if done(&r.json) {
            return r.json;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("run {id} did not finish");
}

#[tokio::test]
async fn sweeps_run_in_the_background_and_can_be_cancelled() {
    let s = server_with(
        ApiKeys::default(),
        Limits {
            background_slots: 1,
            ..Limits::default()
        },
    );
    let sweep = |months: i64, values: Vec<f64>| {
        json!({ "scenario_document": {
            "name": "wellbeing-sweep", "start": "2025-04", "months": months,
            "interventions": [{ "kind": "wellbeing", "sickness_reduction": 0.01 }],
            "sweep": { "interventions.0.sickness_reduction": values }
        }, "detail": "staff_group" })
    };
    let r = post_json(&s.client, "/runs", sweep(12, vec![0.0, 0.01, 0.02])).await;
    assert_eq!(r.status, 202, "{}", r.text());
    let id = r.json["id"].as_i64().unwrap();
    assert_eq!(r.location.as_deref(), Some(format!("/runs/{id}").as_str()));
    let done = wait_for(&s.client, id, |v| v["status"] != "running").await;
    assert_eq!(done["status"], "succeeded", "{done}");
    assert_eq!(
        (done["done"].as_u64(), done["total"].as_u64()),
        (Some(3), Some(3))
    );
    let r = send(
        s.client
            .get(format!("/runs/{id}/results"))
            .query("group_by", &"staff_group"),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let scenarios: std::collections::BTreeSet<&str> = r.json["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|row| row["scenario"].as_str().unwrap())
        .collect();
    assert_eq!(scenarios.len(), 3, "{scenarios:?}");
    let r = send(
        s.client
            .get(format!("/runs/{id}/results"))
            .query("group_by", &"org"),
    )
    .await;
    assert_eq!(
        r.status,
        422,
        "stored by staff group, so not by org: {}",
        r.text()
    );

    // A long sweep takes the only background slot: a second is refused, the first cancelled.
    let long = sweep(600, (0..200).map(|i| i as f64 / 1000.0).collect());
    let r = post_json(&s.client, "/runs", long.clone()).await;
    assert_eq!(r.status, 202, "{}", r.text());
    let id = r.json["id"].as_i64().unwrap();
    let r = post_json(&s.client, "/runs", long).await;
    assert_eq!(
        (r.status, r.error_code().as_str()),
        (429, "busy"),
        "{}",
        r.text()
    );
    let health = send(s.client.get("/health")).await;
    assert_eq!(health.json["background_runs"], 1);
    let r = send(s.client.delete(format!("/runs/{id}"))).await;
    assert_eq!(r.status, 202, "{}", r.text());
    let cancelled = wait_for(&s.client, id, |v| v["status"] != "running").await;
    assert_eq!(cancelled["status"], "cancelled", "{cancelled}");
    let not_run = cancelled["scenarios"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["status"] == "cancelled" && r["error"].is_null())
        .count();
    assert!(not_run > 100, "{not_run} of 200 were not run");
}

/// A Monte Carlo run is one scenario run however many draws it makes: its progress is
/// counted in draws, and cancelling it stops it between blocks of draws, keeping none.
#[tokio::test]
async fn monte_carlo_runs_report_draws_and_can_be_cancelled() {
    let s = server();
    let request =
        |draws: u64| json!({ "scenario": "retention", "draws": draws, "detail": "total" });
    let r = post_json(&s.client, "/runs", request(30)).await;
    assert_eq!(r.status, 202, "{}", r.text());
    let id = r.json["id"].as_i64().unwrap();
    let done = wait_for(&s.client, id, |v| v["status"] != "running").await;
    assert_eq!(done["status"], "succeeded", "{done}");
    assert!(done["draws_done"].is_null(), "only while running: {done}");

    // About half a minute of draws if it were not stopped.
    let r = post_json(&s.client, "/runs", request(100_000)).await;
    assert_eq!(r.status, 202, "{}", r.text());
    let id = r.json["id"].as_i64().unwrap();
    let going = wait_for(&s.client, id, |v| v["draws_done"].as_u64() > Some(0)).await;
    assert_eq!(going["draws_total"], 100_001, "{going}");
    assert_eq!(
        (going["done"].as_u64(), going["total"].as_u64()),
        (Some(0), Some(1))
    );
    let r = send(s.client.delete(format!("/runs/{id}"))).await;
    assert_eq!(r.status, 202, "{}", r.text());
    let stopped = wait_for(&s.client, id, |v| v["status"] != "running").await;
    assert_eq!(stopped["status"], "cancelled", "{stopped}");
    assert_eq!(stopped["scenarios"][0]["status"], "cancelled", "{stopped}");
    let r = send(s.client.get(format!("/runs/{id}/results"))).await;
    assert!(
        r.json["rows"].as_array().is_none_or(|rows| rows.is_empty()),
        "a cancelled run keeps no draws: {}",
        r.text()
    );
}

#[tokio::test]
async fn comparisons_give_differences_and_break_even() {
    let s = server();
    let r = post_json(
        &s.client,
        "/compare",
        json!({ "baseline": { "scenario": "baseline" }, "others": [{ "scenario": "retention" }] }),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let c = &r.json[0];
    assert_eq!(c["scenario"], "retention");
    assert_eq!(c["years"].as_array().unwrap().len(), 5);
    assert!(
        c["whole_run"]["change"]["leavers"].as_f64().unwrap() < 0.0,
        "retention means fewer leavers"
    );
    let b = &c["break_even"];
    let expected =
        b["intervention_cost_per_year"].as_f64().unwrap() / b["pay_per_fte_year"].as_f64().unwrap();
    assert!((b["fte_if_unfilled"].as_f64().unwrap() - expected).abs() < 1e-9);
    assert_eq!(b["vacancy_value_basis"], "mean annual pay");

    // A planner may value a vacancy otherwise: the break-even follows the stated value.
    let r = post_json(
        &s.client,
        "/compare",
        json!({ "baseline": { "scenario": "baseline" }, "others": [{ "scenario": "retention" }], "vacancy_value": 80000 }),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let stated = &r.json[0]["break_even"];
    assert_eq!(stated["vacancy_value_basis"], "stated");
    assert_eq!(stated["vacancy_value_per_fte_year"], 80000.0);
    let expected = stated["intervention_cost_per_year"].as_f64().unwrap() / 80000.0;
    assert!((stated["fte_if_unfilled"].as_f64().unwrap() - expected).abs() < 1e-9);
    let r = post_json(
        &s.client,
        "/compare",
        json!({ "baseline": { "scenario": "baseline" }, "others": [{ "scenario": "retention" }], "vacancy_value": -1 }),
    )
    .await;
    assert_eq!(
        (r.status, r.json["details"][0]["field"].as_str()),
        (422, Some("vacancy_value")),
        "{}",
        r.text()
    );

    // Stored runs compare the same as scenarios run afresh.
    let base = post_json(&s.client, "/runs", json!({ "scenario": "baseline" })).await;
    let other = post_json(
        &s.client,
        "/runs",
        json!({ "scenario": "retention", "detail": "total" }),
    )
    .await;
    let run_id = |r: &Reply| r.json["scenarios"][0]["run_id"].as_i64().unwrap();
    let r = post_json(
        &s.client,
        "/compare",
        json!({ "baseline": { "run_id": run_id(&base) }, "others": [{ "run_id": run_id(&other) }] }),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let stored = r.json[0]["whole_run"]["change"]["fte"].as_f64().unwrap();
    let fresh = c["whole_run"]["change"]["fte"].as_f64().unwrap();
    assert!(
        (stored - fresh).abs() <= 1e-9 * fresh.abs().max(1.0),
        "{stored} vs {fresh}"
    );

    let r = post_json(
        &s.client,
        "/compare",
        json!({ "baseline": { "scenario": "baseline" }, "others": [] }),
    )
    .await;
    assert_eq!(r.status, 422);
    let r = post_json(
        &s.client,
        "/compare",
        json!({ "baseline": { "run_id": 424242 }, "others": [{ "scenario": "retention" }] }),
    )
    .await;
    assert_eq!(
        (r.status, r.json["details"][0]["field"].as_str()),
        (422, Some("baseline")),
        "{}",
        r.text()
    );
}

#[tokio::test]
async fn api_keys_allow_reading_or_writing() {
    let keys = ApiKeys::parse("reader-key-0123456789:read,writer-key-0123456789:write").unwrap();
    let s = server_with(keys, Limits::default());
    assert_eq!(
        send(s.client.get("/health")).await.status,
        200,
        "health needs no key"
    );
    assert_eq!(send(s.client.get("/openapi.json")).await.status, 200);
    let r = send(s.client.get("/scenarios")).await;
    assert_eq!((r.status, r.error_code().as_str()), (401, "unauthorized"));
    let r = send(
        s.client
            .get("/scenarios")
            .header("authorization", "Bearer wrong-key-0123456789"),
    )
    .await;
    assert_eq!(r.status, 401);
    let r = send(
        s.client
            .get("/scenarios")
            .header("authorization", "Bearer reader-key-0123456789"),
    )
    .await;
    assert_eq!(r.status, 200);
    // Auth schemes are case-insensitive (RFC 9110).
    let r = send(
        s.client
            .get("/scenarios")
            .header("authorization", "bearer reader-key-0123456789"),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let r = send(
        s.client
            .post("/runs")
            .header("authorization", "Bearer reader-key-0123456789")
            .body_json(&json!({ "scenario": "baseline" })),
    )
    .await;
    assert_eq!((r.status, r.error_code().as_str()), (403, "forbidden"));
    let r = send(
        s.client
            .post("/runs")
            .header("authorization", "Bearer writer-key-0123456789")
            .body_json(&json!({ "scenario": "baseline", "detail": "total" })),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert!(ApiKeys::parse("short:read").is_err());
    assert!(ApiKeys::parse("long-enough-key-123456:admin").is_err());
}

#[tokio::test]
async fn runs_and_scenarios_survive_a_restart_and_interrupted_runs_read_as_failed() {
    let dir = tempfile::tempdir().unwrap();
    let first = open_state(&options(dir.path(), ApiKeys::default(), Limits::default())).unwrap();
    let client = TestClient::new(app(first.clone(), ApiKeys::default()).boxed());
    let r = post_json(
        &client,
        "/runs",
        json!({ "scenario": "baseline", "detail": "total" }),
    )
    .await;
    let id = r.json["id"].as_i64().unwrap();
    let r = send(
        client
            .put("/scenarios/kept")
            .body_json(&json!({ "extends": "baseline" })),
    )
    .await;
    assert_eq!(r.status, 200);
    let r = send(client.delete("/scenarios/wellbeing")).await;
    assert_eq!(r.status, 204);
    // A run that was under way when the server stopped.
    let interrupted = first
        .store()
        .begin_runs(&[wfplan::data::RunRecord {
            batch_id: 9999,
            scenario: "killed".into(),
            scenario_hash: String::new(),
            rules_hash: String::new(),
            data_hash: String::new(),
            detail: "total".into(),
            start_month: "2025-04".into(),
            months: 12,
            dataset: "default".into(),
            draws: 0,
            seed: 0,
        }])
        .unwrap()[0];
    drop(client);
    drop(first);

    let second = open_state(&options(dir.path(), ApiKeys::default(), Limits::default())).unwrap();
    let client = TestClient::new(app(second, ApiKeys::default()).boxed());
    let r = send(client.get(format!("/runs/{id}"))).await;
    assert_eq!(r.json["status"], "succeeded");
    let r = send(client.get(format!("/runs/{id}/results"))).await;
    assert_eq!(
        r.json["rows"].as_array().unwrap().len(),
        5,
        "five years of totals"
    );
    let r = send(client.get("/runs/9999")).await;
    assert_eq!(r.json["status"], "failed");
    assert_eq!(r.json["scenarios"][0]["run_id"], interrupted);
    assert!(r.json["scenarios"][0]["error"]
        .as_str()
        .unwrap()
        .contains("interrupted"));
    assert_eq!(send(client.get("/scenarios/kept")).await.status, 200);
    assert_eq!(
        send(client.get("/scenarios/wellbeing")).await.status,
        404,
        "the deletion lasts"
    );
}

#[tokio::test]
async fn an_idle_server_folds_the_database_log_between_runs() {
    let dir = tempfile::tempdir().unwrap();
    let limits = Limits {
        checkpoint_log_bytes: 1,
        ..Limits::default()
    };
    let state = open_state(&options(dir.path(), ApiKeys::default(), limits)).unwrap();
    let client = TestClient::new(app(state.clone(), ApiKeys::default()).boxed());
    let log = dir.path().join("wfplan.duckdb.wal");
    let log_bytes = || std::fs::metadata(&log).map_or(0, |m| m.len());
    let r = post_json(&client, "/runs", json!({ "scenario": "baseline" })).await;
    assert_eq!(r.status, 200, "{}", r.text());
    let id = r.json["id"].as_i64().unwrap();
    let written = log_bytes();
    assert!(written > 0, "a stored run is in the log until a checkpoint");

    let mut checkpoints = wfplan::api::upkeep::IdleCheckpoints::default();
    assert!(
        !checkpoints.look(&state),
        "the first look only notes the log's length"
    );
    assert_eq!(log_bytes(), written);
    // Something written between two looks: not idle.
    let r = post_json(&client, "/runs", json!({ "scenario": "retention" })).await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert!(!checkpoints.look(&state));
    assert!(log_bytes() > written);
    // Nothing written since the last look: the log is folded into the database.
    assert!(checkpoints.look(&state));
    assert!(log_bytes() < written, "{} bytes left", log_bytes());
    // Held database: not idle.
    {
        let _held = state.store();
        assert!(!checkpoints.look(&state));
    }
    let r = send(client.get(format!("/runs/{id}/results?metrics=fte"))).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.json["rows"].as_array().unwrap().len(), 5, "{}", r.text());
}

/// The document says what `fte_if_unfilled` is, and the answer does it: with no extra
/// intervention cost the figure is present (zero: nothing to recover) and the verdict is
/// that the scenario pays back; it is absent only when a vacancy has no value.
#[tokio::test]
async fn break_even_figures_are_as_the_document_says() {
    let s = server();
    let r = post_json(
        &s.client,
        "/compare",
        json!({ "baseline": { "scenario": "baseline" }, "others": [{ "scenario": "baseline" }] }),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let b = &r.json[0]["break_even"];
    assert_eq!(b["fte_if_unfilled"].as_f64(), Some(0.0), "{b}");
    assert_eq!(b["pays_back_if_unfilled"], true, "{b}");
    let document = wfplan::api::spec_json();
    assert!(
        document.contains("Absent when\\na vacancy has no value")
            || document.contains("Absent when a vacancy has no value"),
        "the document describes when the figure is absent"
    );
    assert!(!document.contains("absent: no cost to recover"));
}

/// A number where a name is expected is a malformed request, not the name "5"; names with
/// control characters are refused; `Location` headers are percent-encoded.
#[tokio::test]
async fn names_are_text_and_locations_are_encoded() {
    let s = server();
    for body in [
        json!({ "scenario": 5 }),
        json!({ "scenario": true }),
        json!({ "scenario": "baseline", "dataset": 7 }),
    ] {
        let r = post_json(&s.client, "/runs", body.clone()).await;
        assert_eq!(r.status, 400, "{body}: {}", r.text());
    }
    let r = post_json(
        &s.client,
        "/compare",
        json!({ "baseline": { "scenario": 1 }, "others": [{ "scenario": "retention" }] }),
    )
    .await;
    assert_eq!(r.status, 400, "{}", r.text());

    let r = post_json(
        &s.client,
        "/scenarios",
        json!({ "name": "plan\u{7}bell", "extends": "baseline" }),
    )
    .await;
    assert_eq!(r.status, 422, "{}", r.text());
    assert_eq!(r.json["details"][0]["field"], "name");
    let r = send(
        s.client
            .put("/scenarios/a%0Ab")
            .body_json(&json!({ "extends": "baseline" })),
    )
    .await;
    assert_eq!(r.status, 422, "{}", r.text());

    let response = s
        .client
        .post("/scenarios")
        .body_json(&json!({ "name": "a b/c?", "extends": "baseline" }))
        .send()
        .await;
    response.assert_status(poem::http::StatusCode::CREATED);
    response.assert_header("location", "/scenarios/a%20b%2Fc%3F");
}

/// Column names are compared as DuckDB compares them, ignoring case: an upload's `FTE` is
/// the input `fte`; a key `Leavers` or `Month` is refused, naming it; a key `Setting`
/// shares the results' `setting` column, so runs on every dataset still read back; more
/// than 64 key columns, or a column that is neither numbers nor text, is refused.
#[tokio::test]
async fn column_names_are_compared_ignoring_case_and_types_are_checked() {
    let s = server();
    let fixture =
        std::fs::read_to_string(repo().join("benches/peers/fixtures/workforce.csv")).unwrap();
    let (header, rows) = fixture.split_once('\n').unwrap();
    let upload = |header: String, rows: &str| format!("{header}\n{rows}");
    let post_csv = |body: String| {
        let client = &s.client;
        async move { send(client.post("/datasets").content_type("text/csv").body(body)).await }
    };

    for (clash, renamed) in [
        ("Leavers", "setting"),
        ("Month", "setting"),
        ("RUN_ID", "setting"),
    ] {
        let r = post_csv(upload(header.replacen(renamed, clash, 1), rows)).await;
        assert_eq!(r.status, 422, "{clash}: {}", r.text());
        assert_eq!(r.json["details"][0]["column"], clash, "{}", r.text());
    }
    let r = post_csv(upload(
        header
            .replacen("setting", "fte_", 1)
            .replacen(",fte,", ",FTE,", 1),
        rows,
    ))
    .await;
    assert_eq!(r.status, 201, "FTE is fte: {}", r.text());

    let r = post_csv(upload(header.replacen("setting", "Setting", 1), rows)).await;
    assert_eq!(r.status, 201, "{}", r.text());
    let dataset = r.json["id"].as_str().unwrap().to_string();
    let mut runs = Vec::new();
    // The shipped baseline names the sample's staff groups, which this dataset lacks, so
    // both runs use a scenario with no filters.
    let plain = json!({ "name": "plain", "start": "2025-04", "months": 60 });
    for body in [
        json!({ "scenario_document": plain, "detail": "segment", "dataset": dataset }),
        json!({ "scenario_document": plain, "detail": "segment" }),
    ] {
        let r = post_json(&s.client, "/runs", body).await;
        assert_eq!(r.status, 200, "{}", r.text());
        runs.push(r.json["id"].as_i64().unwrap());
    }
    for id in runs {
        let r = send(
            s.client
                .get(format!("/runs/{id}/results"))
                .query("group_by", &"setting"),
        )
        .await;
        assert_eq!(r.status, 200, "run {id}: {}", r.text());
        assert!(!r.json["rows"].as_array().unwrap().is_empty());
    }

    // 65 key columns: the four required, `setting`, and 60 more.
    let extra: String = (0..60).map(|i| format!(",k{i}")).collect();
    let wide_rows: String = rows
        .lines()
        .map(|l| format!("{l}{}", ",x".repeat(60)))
        .collect::<Vec<_>>()
        .join("\n");
    let r = post_csv(upload(format!("{header}{extra}"), &wide_rows)).await;
    assert_eq!(r.status, 422, "{}", r.text());
    assert!(r.text().contains("at most 64"), "{}", r.text());

    // A Parquet list column.
    let parquet = s.dir.path().join("listed.parquet");
    duckdb::Connection::open_in_memory()
        .unwrap()
        .execute_batch(&format!(
            "COPY (SELECT *, [1, 2] AS tags FROM read_csv('{}', all_varchar = true)) TO '{}' (FORMAT parquet)",
            repo().join("benches/peers/fixtures/workforce.csv").display(),
            parquet.display()
        ))
        .unwrap();
    let r = send(
        s.client
            .post("/datasets")
            .content_type("application/vnd.apache.parquet")
            .body(std::fs::read(&parquet).unwrap()),
    )
    .await;
    assert_eq!(r.status, 422, "{}", r.text());
    assert_eq!(r.json["details"][0]["column"], "tags", "{}", r.text());
}

/// `POST /rules/check` evaluates the script's declaration under a deadline (a script that
/// copies an array in a loop once ran for minutes), takes JSON as generated clients send
/// it, and no web page of another site may make the server run it.
#[tokio::test]
async fn rule_checks_are_bounded_and_refused_cross_origin() {
    let s = server();
    let runaway = "fn kind() { let a = []; a.pad(50000, 0); loop { let b = a; } }";
    let started = std::time::Instant::now();
    let r = post_json(
        &s.client,
        "/rules/check",
        json!({ "source": runaway, "role": "kind" }),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json["ok"], false, "{}", r.text());
    assert!(r.text().contains("time budget"), "{}", r.text());
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "stopped by its deadline, not after minutes: {:?}",
        started.elapsed()
    );

    let retention =
        std::fs::read_to_string(repo().join("rules/interventions/retention.rhai")).unwrap();
    let r = post_json(&s.client, "/rules/check", json!({ "source": retention })).await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json["ok"], true, "{}", r.text());

    let r = send(
        s.client
            .post("/rules/check")
            .header("origin", "http://evil.example")
            .content_type("text/plain")
            .body(retention.clone()),
    )
    .await;
    assert_eq!(
        (r.status, r.error_code().as_str()),
        (403, "forbidden"),
        "{}",
        r.text()
    );
    let r = send(
        s.client
            .post("/rules/check")
            .header("origin", "http://127.0.0.1:8080")
            .header("host", "127.0.0.1:8080")
            .content_type("text/plain")
            .body(retention),
    )
    .await;
    assert_eq!(r.status, 200, "the server's own page may: {}", r.text());
}

/// Datasets may be uploaded as a multipart form's file, as browsers and generated clients
/// send them, CSV or Parquet alike.
#[tokio::test]
async fn datasets_upload_as_multipart_forms() {
    use poem::test::{TestForm, TestFormField};
    let s = server();
    let csv = std::fs::read(repo().join("benches/peers/fixtures/workforce.csv")).unwrap();
    let parquet = fixture_parquet(s.dir.path());
    for (bytes, file) in [(csv, "workforce.csv"), (parquet, "workforce.parquet")] {
        let form = TestForm::new()
            .text("name", "from a form")
            .field(TestFormField::bytes(bytes).name("file").filename(file));
        let r = send(s.client.post("/datasets").multipart(form)).await;
        assert_eq!(r.status, 201, "{file}: {}", r.text());
        assert_eq!(r.json["name"], "from a form");
        assert_eq!(r.json["segments"], 4, "{file}: {}", r.text());
    }
}

/// A request whose runs would store more result rows than the server allows is refused
/// with 422, naming the estimate and the limit, before any run is recorded.
#[tokio::test]
async fn requests_too_large_to_store_are_refused() {
    let s = server_with(
        ApiKeys::default(),
        Limits {
            max_result_rows: 10_000,
            ..Limits::default()
        },
    );
    let r = post_json(&s.client, "/runs", json!({ "scenario": "baseline" })).await;
    assert_eq!(
        (r.status, r.error_code().as_str()),
        (422, "too_many_rows"),
        "{}",
        r.text()
    );
    assert!(
        r.text().contains("10980") && r.text().contains("10000"),
        "{}",
        r.text()
    );
    let r = send(s.client.get("/runs")).await;
    assert_eq!(r.json.as_array().unwrap().len(), 0, "nothing recorded");
    let r = post_json(
        &s.client,
        "/runs",
        json!({ "scenario": "baseline", "detail": "total" }),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text());
}

#[tokio::test]
async fn attribution_through_the_api() {
    let s = server();
    let r = post_json(
        &s.client,
        "/attribution",
        json!({ "scenario": "retention", "metric": "leavers", "year": "2026/27", "method": "shapley" }),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let factors = r.json["factors"].as_array().unwrap();
    assert_eq!(factors.len(), 1);
    assert!(factors[0].get("sequential").is_none());
    let shapley = factors[0]["shapley"].as_f64().unwrap();
    assert!((shapley - r.json["total_change"].as_f64().unwrap()).abs() < 1e-9);
    assert!(shapley < 0.0, "retention means fewer leavers");

    let r = post_json(
        &s.client,
        "/attribution",
        json!({ "scenario": "retention", "baseline": "wellbeing", "metric": "leavers" }),
    )
    .await;
    assert_eq!(r.status, 422, "{}", r.text());
    let r = post_json(
        &s.client,
        "/attribution",
        json!({ "scenario": "retention", "metric": "leavers", "method": "guess" }),
    )
    .await;
    assert_eq!(
        (r.status, r.json["details"][0]["field"].as_str()),
        (422, Some("method"))
    );
}

#[tokio::test]
async fn goal_seek_through_the_api() {
    let s = server();
    let body = |target: f64| {
        json!({
            "scenario": "apprenticeships", "field": "interventions.3.starts_per_year",
            "lo": 0, "hi": 500, "metric": "apprentices_qualified", "year": "2029/30",
            "target": target, "tolerance": 0.5
        })
    };
    let r = post_json(&s.client, "/seek", body(20.0)).await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json["reached"], true);
    assert!(r.json["metric_value"].as_f64().unwrap() >= 20.0);
    let r = post_json(&s.client, "/seek", body(1e9)).await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json["reached"], false);
    assert!(r.json["value"].is_null());
    let mut bad = body(20.0);
    bad["field"] = json!("interventions.3.kind");
    let r = post_json(&s.client, "/seek", bad).await;
    assert_eq!(
        (r.status, r.json["details"][0]["field"].as_str()),
        (422, Some("field")),
        "{}",
        r.text()
    );
}

#[tokio::test]
async fn a_run_s_figure_is_traced() {
    let s = server();
    let r = post_json(&s.client, "/runs", json!({ "scenario": "wellbeing" })).await;
    assert_eq!(r.status, 200, "{}", r.text());
    let id = r.json["scenarios"][0]["run_id"].as_i64().unwrap();
    let segment = "org=riverside_council,staff_group=personal_care,band=care_worker";
    let trace = |id: i64, segment: &str, figure: &str| {
        s.client
            .get(format!("/runs/{id}/trace"))
            .query("segment", &segment.to_string())
            .query("month", &"2027-01")
            .query("figure", &figure.to_string())
    };
    let r = send(trace(id, segment, "agency_cost")).await;
    assert_eq!(r.status, 200, "{}", r.text());
    let q = &r.json["quantities"];
    assert!(q["gap"]["rule"]
        .as_str()
        .unwrap()
        .ends_with("rules/flows.rhai"));
    assert!(q["gap"]["line"].as_u64().is_some());
    let (hours, pay, premium) = (
        q["agency_hours"]["value"].as_f64().unwrap(),
        q["hourly_pay"]["value"].as_f64().unwrap(),
        q["seg.agency_premium"]["value"].as_f64().unwrap(),
    );
    assert!((q["agency_cost"]["value"].as_f64().unwrap() - hours * pay * premium).abs() < 1e-6);
    assert_eq!(
        r.json["depends_on"]["agency_cost"],
        json!(["agency_hours", "hourly_pay", "seg.agency_premium"])
    );

    let r = send(trace(id, "org=riverside_council", "agency_cost")).await;
    assert_eq!(
        (r.status, r.json["details"][0]["field"].as_str()),
        (422, Some("segment")),
        "{}",
        r.text()
    );
    let r = send(trace(424242, segment, "agency_cost")).await;
    assert_eq!(r.status, 404);
}

#[tokio::test]
async fn analyses_larger_than_a_request_may_take_are_refused_naming_the_limit() {
    let s = server_with(
        ApiKeys::default(),
        Limits {
            // Two runs of the sample (183 segments x 60 months) and no more.
            max_analysis_segment_months: 2 * 183 * 60,
            ..Limits::default()
        },
    );
    let r = post_json(
        &s.client,
        "/attribution",
        json!({ "scenario": "faculty-plan", "metric": "vacancies" }),
    )
    .await;
    assert_eq!(
        (r.status, r.error_code().as_str()),
        (413, "too_large"),
        "{}",
        r.text()
    );
    assert!(
        r.text().contains("--max-analysis-segment-months"),
        "{}",
        r.text()
    );
    // One factor, two runs: within the limit.
    let r = post_json(
        &s.client,
        "/attribution",
        json!({ "scenario": "retention", "metric": "vacancies" }),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let r = post_json(
        &s.client,
        "/seek",
        json!({
            "scenario": "apprenticeships", "field": "interventions.3.starts_per_year",
            "lo": 0, "hi": 500, "metric": "apprentices_qualified", "year": "2029/30", "target": 20
        }),
    )
    .await;
    assert_eq!(
        (r.status, r.error_code().as_str()),
        (413, "too_large"),
        "{}",
        r.text()
    );
}

#[tokio::test]
async fn monte_carlo_runs_give_bands_and_compare_under_the_same_draws() {
    let s = server();
    let document = |name: &str, extra: Value| {
        let mut doc = json!({
            "name": name, "start": "2025-04", "months": 24,
            "monte_carlo": { "draws": 50, "seed": 3 },
            "uncertain": [
                { "what": "leaver_rate", "per": "org", "p10": 0.8, "p90": 1.2 },
                { "what": "sickness_rate", "where": { "staff_group": "physiotherapy" }, "p10": 0.9, "p90": 1.3 }
            ]
        });
        if let (Some(doc), Some(extra)) = (doc.as_object_mut(), extra.as_object()) {
            doc.extend(extra.clone());
        }
        doc
    };
    let r = post_json(
        &s.client,
        "/runs",
        json!({ "scenario_document": document("mc", json!({})) }),
    )
    .await;
    assert_eq!(
        r.status,
        202,
        "a Monte Carlo run runs in the background: {}",
        r.text()
    );
    let id = r.json["id"].as_i64().unwrap();
    let done = wait_for(&s.client, id, |v| v["status"] != "running").await;
    assert_eq!(done["status"], "succeeded", "{done}");
    let r = send(
        s.client
            .get(format!("/runs/{id}/results"))
            .query("group_by", &"staff_group")
            .query("metrics", &"vacancies,vacancy_rate")
            .query("stats", &"central,p10,p90"),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let rows = r.json["rows"].as_array().unwrap();
    assert_eq!(rows.len(), 2 * 16, "two financial years by 16 staff groups");
    for row in rows {
        let f = &row["figures"];
        let (p10, p90) = (
            f["vacancies_p10"].as_f64().unwrap(),
            f["vacancies_p90"].as_f64().unwrap(),
        );
        assert!(p10 <= p90, "{row}");
        assert!(f["vacancy_rate_central"].is_number(), "{row}");
    }
    // Each draw's figures, by draw.
    let r = send(
        s.client
            .get(format!("/runs/{id}/results"))
            .query("group_by", &"draw")
            .query("metrics", &"fte"),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json["rows"].as_array().unwrap().len(), 2 * 51);
    let r = send(
        s.client
            .get(format!("/runs/{id}/results"))
            .query("stats", &"p99"),
    )
    .await;
    assert_eq!(
        (r.status, r.error_code().as_str()),
        (422, "invalid_request"),
        "{}",
        r.text()
    );

    // An option under the same draws: the baseline's entries come first in both.
    let option = document(
        "retain",
        json!({ "interventions": [{ "kind": "retention", "reduction": 0.2 }] }),
    );
    for doc in [document("mc", json!({})), option] {
        let r = post_json(&s.client, "/scenarios", doc).await;
        assert_eq!(r.status, 201, "{}", r.text());
    }
    let r = post_json(
        &s.client,
        "/compare",
        json!({ "baseline": { "scenario": "mc" }, "others": [{ "scenario": "retain" }] }),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let u = &r.json[0]["uncertainty"];
    assert_eq!(u["draws"], 50, "{}", r.text());
    let fte = u["changes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["period"] == "whole run" && c["metric"] == "fte")
        .unwrap();
    assert_eq!(fte["probability_better"], 1.0, "{fte}");

    // A bad entry: 422 naming the field, and nothing stored.
    let mut bad = document("bad", json!({}));
    bad["uncertain"][0]["p10"] = json!(2.0);
    let r = post_json(&s.client, "/runs", json!({ "scenario_document": bad })).await;
    assert_eq!(r.status, 422, "{}", r.text());
    assert!(r.text().contains("uncertain[0].p10"), "{}", r.text());
    let r = post_json(
        &s.client,
        "/runs",
        json!({ "scenario_document": document("zero", json!({})), "draws": 0 }),
    )
    .await;
    assert_eq!(r.status, 422, "{}", r.text());
    let r = send(s.client.get(format!("/runs/{}", id + 1))).await;
    assert_eq!(
        r.status,
        404,
        "nothing stored for refused runs: {}",
        r.text()
    );
}

/// `POST /calibrations` and `POST /backtests`: the extracts as CSV text, the same figures
/// as `wfplan calibrate`, bad rows located in the request's terms, and a calibrated table
/// kept as a dataset to run on.
#[tokio::test]
async fn calibrations_and_backtests() {
    let s = server();
    let fixture = |name: &str| {
        std::fs::read_to_string(repo().join("tests/fixtures/extracts/small").join(name)).unwrap()
    };
    let extracts = json!({
        "staff": fixture("staff.csv"),
        "absence": fixture("absence.csv"),
        "establishment": fixture("establishment.csv"),
        "roster": fixture("roster.csv"),
        "orgs": fixture("orgs.csv"),
    });
    let r = post_json(
        &s.client,
        "/calibrations",
        json!({ "as_of": "2025-04-01", "extracts": extracts, "dataset": "calibrated" }),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let segments = r.json["segments"].as_array().unwrap();
    assert_eq!(segments.len(), 4);
    assert_eq!(segments[0]["org"], "R1");
    assert!((segments[0]["fte"].as_f64().unwrap() - 1.6).abs() < 1e-12);
    assert!(r.json["workforce_csv"]
        .as_str()
        .unwrap()
        .starts_with("org,system,setting"));
    let dataset = r.json["dataset"].as_str().unwrap().to_string();
    let run = post_json(
        &s.client,
        "/runs",
        json!({ "scenario_document": { "name": "calibrated", "start": "2025-04", "months": 12 },
                "dataset": dataset, "detail": "total" }),
    )
    .await;
    assert_eq!(run.status, 200, "{}", run.text());

    // A bad row is named by the request's field, row and column; nothing is stored.
    let mut bad = extracts.clone();
    bad["staff"] = json!(fixture("staff.csv").replacen("1990-06-15", "15/06/1990", 1));
    let r = post_json(
        &s.client,
        "/calibrations",
        json!({ "as_of": "2025-04-01", "extracts": bad, "dataset": "bad" }),
    )
    .await;
    assert_eq!(
        (r.status, r.error_code().as_str()),
        (422, "invalid_data"),
        "{}",
        r.text()
    );
    let detail = &r.json["details"][0];
    assert_eq!(detail["file"], "extracts.staff", "{}", r.text());
    assert_eq!(detail["row"], 1, "{}", r.text());
    assert_eq!(detail["column"], "DATE_OF_BIRTH", "{}", r.text());
    let datasets = send(s.client.get("/datasets")).await;
    assert_eq!(
        datasets.json.as_array().unwrap().len(),
        2,
        "{}",
        datasets.text()
    );

    for (body, field) in [
        (
            json!({ "as_of": "2025-13-01", "extracts": extracts }),
            "as_of",
        ),
        (
            json!({ "as_of": "2025-04-01", "window_months": 0, "extracts": extracts }),
            "window_months",
        ),
        (
            json!({ "as_of": "2025-04-01", "extracts": extracts, "map": { "staff": { "NOPE": "x" } } }),
            "map",
        ),
        (
            json!({ "as_of": "2025-04-01", "extracts": extracts, "defaults": { "nope": 1 } }),
            "defaults",
        ),
    ] {
        let r = post_json(&s.client, "/calibrations", body).await;
        assert_eq!(r.status, 422, "{}", r.text());
        assert_eq!(r.json["details"][0]["field"], field, "{}", r.text());
    }

    let r = post_json(
        &s.client,
        "/backtests",
        json!({ "from": "2025-01-01", "to": "2025-04-01", "extracts": extracts }),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json["months"], 3);
    assert!(
        !r.json["errors"].as_array().unwrap().is_empty(),
        "{}",
        r.text()
    );
    let r = post_json(
        &s.client,
        "/backtests",
        json!({ "from": "2025-01-15", "to": "2025-04-01", "extracts": extracts }),
    )
    .await;
    assert_eq!(r.status, 422, "{}", r.text());
}
