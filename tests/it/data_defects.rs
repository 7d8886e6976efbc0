//! Defects found in `data/` and the API operations over it, each held by a test through
//! poem's test client: temporary files with names others can guess, and a dataset's
//! vacancies summed across over- and under-staffed segments.

use std::path::{Path, PathBuf};

use poem::test::TestClient;
use poem::EndpointExt;
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

fn server() -> Server {
    let dir = tempfile::tempdir().unwrap();
    let options = ServeOptions {
        db: dir.path().join("wfplan.duckdb"),
        rules: Some(repo().join("rules")),
        scenarios: Some(repo().join("scenarios")),
        keys: ApiKeys::default(),
        limits: Limits::default(),
    };
    let state = open_state(&options).unwrap();
    Server {
        client: TestClient::new(app(state, ApiKeys::default()).boxed()),
        dir,
    }
}

/// Status and body of a response.
async fn send<E: poem::Endpoint>(request: poem::test::TestRequestBuilder<'_, E>) -> (u16, Vec<u8>) {
    let response = request.send().await.0;
    let status = response.status().as_u16();
    (status, response.into_body().into_vec().await.unwrap())
}

fn json_of(bytes: &[u8]) -> Value {
    serde_json::from_slice(bytes).unwrap_or(Value::Null)
}

/// Links planted in the shared temporary folder at names wfplan once used, each pointing
/// at a file of the test's own: what another user of the machine could do. Dropping it
/// removes the links that are still there.
struct PlantedLinks {
    target: PathBuf,
    links: Vec<PathBuf>,
}

const TARGET_TEXT: &str = "not to be overwritten\n";

impl PlantedLinks {
    #[cfg(unix)]
    fn plant(dir: &Path, names: impl IntoIterator<Item = String>) -> Self {
        let target = dir.join("target.txt");
        std::fs::write(&target, TARGET_TEXT).unwrap();
        let mut links = Vec::new();
        for name in names {
            let link = std::env::temp_dir().join(name);
            // A name already taken (by another test) is left alone.
            if std::os::unix::fs::symlink(&target, &link).is_ok() {
                links.push(link);
            }
        }
        assert!(!links.is_empty(), "no link could be planted");
        Self { target, links }
    }

    /// The target is as it was and every link still points at it: the server neither
    /// wrote through a link nor removed or replaced one.
    #[track_caller]
    fn assert_untouched(&self) {
        assert_eq!(std::fs::read_to_string(&self.target).unwrap(), TARGET_TEXT);
        for link in &self.links {
            assert_eq!(
                std::fs::read_link(link).ok().as_deref(),
                Some(self.target.as_path()),
                "{} was removed or replaced",
                link.display()
            );
        }
    }
}

impl Drop for PlantedLinks {
    fn drop(&mut self) {
        for link in &self.links {
            if std::fs::symlink_metadata(link).is_ok_and(|m| m.file_type().is_symlink()) {
                let _ = std::fs::remove_file(link);
            }
        }
    }
}

/// A Parquet upload goes through a temporary file; it must not be one another user can
/// name in advance (it was `wfplan-upload-<pid>-<n>.parquet`, n counting from 0).
#[cfg(unix)]
#[tokio::test]
async fn a_parquet_upload_does_not_write_through_a_planted_link() {
    let s = server();
    let bytes = fixture_parquet(s.dir.path());
    let pid = std::process::id();
    let planted = PlantedLinks::plant(
        s.dir.path(),
        (0..64).map(|n| format!("wfplan-upload-{pid}-{n}.parquet")),
    );
    let (status, body) = send(
        s.client
            .post("/datasets")
            .content_type("application/vnd.apache.parquet")
            .body(bytes),
    )
    .await;
    assert_eq!(status, 201, "{}", String::from_utf8_lossy(&body));
    assert_eq!(json_of(&body)["segments"], 4);
    planted.assert_untouched();
}

/// Results as Parquet go through a temporary file; it must not be one another user can
/// name in advance (it was `wfplan-results-<pid>-<run>.parquet`).
#[cfg(unix)]
#[tokio::test]
async fn a_parquet_export_does_not_write_through_a_planted_link() {
    let s = server();
    let (status, body) = send(
        s.client
            .post("/runs")
            .body_json(&json!({ "scenario": "baseline" })),
    )
    .await;
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    let id = json_of(&body)["id"].as_i64().unwrap();
    let pid = std::process::id();
    let planted = PlantedLinks::plant(s.dir.path(), [format!("wfplan-results-{pid}-{id}.parquet")]);
    let (status, body) = send(
        s.client
            .get(format!("/runs/{id}/results"))
            .query("format", &"parquet"),
    )
    .await;
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    assert_eq!(&body[..4], b"PAR1");
    planted.assert_untouched();
}

/// A dataset's vacancies by group are its segments' `max(0, establishment - fte)` summed:
/// staff over establishment in one band do not fill posts vacant in another.
#[tokio::test]
async fn dataset_vacancies_do_not_net_over_staffing_against_vacant_posts() {
    let s = server();
    // simple_row has 120 posts: band 5 is 10 FTE over, band 6 has 20 posts vacant.
    let csv = format!(
        "{HEADER}\n{}\n{}\n",
        simple_row("a", "5", 130.0),
        simple_row("a", "6", 100.0)
    );
    let (status, body) = send(
        s.client
            .post("/datasets")
            .content_type("text/csv")
            .body(csv),
    )
    .await;
    assert_eq!(status, 201, "{}", String::from_utf8_lossy(&body));
    let id = json_of(&body)["id"].as_str().unwrap().to_string();
    let (status, body) = send(s.client.get(format!("/datasets/{id}"))).await;
    assert_eq!(status, 200);
    let detail = json_of(&body);
    for group in ["by_org", "by_staff_group"] {
        let total = &detail[group][0];
        assert_eq!(total["establishment"], 240.0, "{group}");
        assert_eq!(total["fte"], 230.0, "{group}");
        assert_eq!(total["vacancies"], 20.0, "{group}");
    }
}
