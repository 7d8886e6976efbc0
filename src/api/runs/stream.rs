//! Results answers sent as DuckDB produces them, so that neither the server's memory nor
//! the database lock depends on how large an answer is or how slowly a client reads it.
//!
//! A results query once built its whole answer before the first byte: grouping a
//! 20,000-segment run by every key, month by month, took 13 GB. Now the query is checked
//! and given a connection of its own under the store's lock (a moment), and a blocking
//! thread reads it a batch at a time (2,048 rows), encodes each batch as JSON or CSV and
//! hands it to the response through a channel of [`CHUNKS_IN_FLIGHT`] chunks: the server
//! holds a few batches per answer whatever its size. DuckDB's own memory for the grouping
//! and sorting is capped by its `memory_limit` (`serve --duckdb-memory-mb`); an answer
//! that does not fit is refused with 413 (DuckDB did not spill this query to disk when
//! tried at 64 MB). A client that takes no chunk for [`STALL_LIMIT`] is cut off, and at
//! most `Limits::result_streams` answers are sent at once.
//!
//! Parquet is written by DuckDB to a private temporary file (streamed, bounded the same
//! way) and sent from disk.

use std::time::Duration;

use futures_util::{stream, StreamExt as _};
use poem::Body;
use poem_openapi::types::ToJSON;
use tokio::sync::{mpsc, OwnedSemaphorePermit};

use super::ResultRow;
use crate::api::error::ApiError;
use crate::data::query::{ResultsReader, ResultsRow};

/// Chunks encoded ahead of the client: with a batch of 2,048 rows a chunk is at most a few
/// hundred kilobytes of JSON.
const CHUNKS_IN_FLIGHT: usize = 4;

/// How long a client may take no data before its answer is abandoned.
pub(super) const STALL_LIMIT: Duration = Duration::from_secs(60);

/// How an answer's rows are written.
pub(super) enum Encoding {
    /// `{"run": .., "complete": .., "rows": [..]}`, the shape of `ResultsView`.
    Json {
        run: i64,
        complete: bool,
    },
    Csv,
}

impl Encoding {
    fn head(&self, columns: &[String]) -> Result<Vec<u8>, String> {
        match self {
            Encoding::Json { run, complete } => {
                Ok(format!("{{\"run\":{run},\"complete\":{complete},\"rows\":[").into_bytes())
            }
            Encoding::Csv => csv_line(columns.iter().map(String::as_str)),
        }
    }

    /// A batch of rows; `first` is whether no row came before (JSON needs commas).
    fn rows(
        &self,
        columns: &[String],
        rows: Vec<ResultsRow>,
        first: bool,
    ) -> Result<Vec<u8>, String> {
        let mut out = Vec::new();
        match self {
            Encoding::Json { .. } => {
                for (i, row) in rows.into_iter().enumerate() {
                    if !(first && i == 0) {
                        out.push(b',');
                    }
                    let value = result_row(columns, row).to_json().unwrap_or_default();
                    serde_json::to_writer(&mut out, &value).map_err(|e| e.to_string())?;
                }
            }
            Encoding::Csv => {
                for row in rows {
                    let values: Vec<String> = row.values.iter().map(|v| v.to_string()).collect();
                    let fields = [row.scenario.as_str(), row.period.as_str()]
                        .into_iter()
                        .chain(row.keys.iter().map(String::as_str))
                        .chain(values.iter().map(String::as_str));
                    out.extend(csv_line(fields)?);
                }
            }
        }
        Ok(out)
    }

    fn tail(&self) -> Vec<u8> {
        match self {
            Encoding::Json { .. } => b"]}".to_vec(),
            Encoding::Csv => Vec::new(),
        }
    }
}

/// A row as the JSON answer gives it: keys and figures named by their columns
/// (`scenario`, `period`, the keys, then the metrics).
fn result_row(columns: &[String], row: ResultsRow) -> ResultRow {
    let keys = &columns[2..2 + row.keys.len()];
    let metrics = &columns[2 + row.keys.len()..];
    ResultRow {
        scenario: row.scenario,
        period: row.period,
        keys: keys.iter().cloned().zip(row.keys).collect(),
        figures: metrics.iter().cloned().zip(row.values).collect(),
    }
}

/// One CSV record, quoted as the `csv` crate quotes.
fn csv_line<'a>(fields: impl Iterator<Item = &'a str>) -> Result<Vec<u8>, String> {
    let mut writer = csv::Writer::from_writer(Vec::new());
    writer
        .write_record(fields)
        .map_err(|e| format!("cannot write CSV: {e}"))?;
    writer.into_inner().map_err(|e| e.to_string())
}

/// Streams a checked results query as the body of an answer. Waits for the query's first
/// batch, so that a failing query is an error answer rather than a cut-off body; after
/// that, an error ends the body early (the client sees a truncated answer).
pub(super) async fn results_body(
    reader: ResultsReader,
    encoding: Encoding,
    permit: OwnedSemaphorePermit,
) -> Result<Body, ApiError> {
    let (sender, mut receiver) = mpsc::channel::<Result<Vec<u8>, String>>(CHUNKS_IN_FLIGHT);
    let runtime = tokio::runtime::Handle::current();
    tokio::task::spawn_blocking(move || {
        // Held until the last chunk is handed over: the answers sent at once are bounded.
        let _permit = permit;
        // Sends a chunk, waiting at most STALL_LIMIT for the client to take one; false
        // when the client has gone or stalled, which stops the query.
        let send = |chunk: Result<Vec<u8>, String>| -> bool {
            matches!(
                runtime.block_on(tokio::time::timeout(STALL_LIMIT, sender.send(chunk))),
                Ok(Ok(()))
            )
        };
        let columns = reader.columns().to_vec();
        let mut pending = match encoding.head(&columns) {
            Ok(head) => Some(head),
            Err(e) => {
                send(Err(e));
                return;
            }
        };
        let mut first = true;
        let outcome = reader.read(|rows| {
            let count = rows.len();
            let chunk = encoding.rows(&columns, rows, first).map(|mut body| {
                // The head goes with the first batch, once the query has run.
                let mut chunk = pending.take().unwrap_or_default();
                chunk.append(&mut body);
                chunk
            });
            first &= count == 0;
            let ok = chunk.is_ok();
            send(chunk) && ok
        });
        let last = match outcome {
            Ok(()) => {
                let mut chunk = pending.take().unwrap_or_default();
                chunk.extend(encoding.tail());
                Ok(chunk)
            }
            Err(e) => Err(e.to_string()),
        };
        send(last);
    });
    let first = match receiver.recv().await {
        Some(Ok(chunk)) => chunk,
        // DuckDB could not group or sort the answer within its memory limit.
        Some(Err(e)) if e.contains("Out of Memory") => {
            return Err(ApiError::make(
                poem::http::StatusCode::PAYLOAD_TOO_LARGE,
                "too_large",
                format!(
                    "the answer needs more memory than the database may use (serve --duckdb-memory-mb): group by fewer keys, cut by financial year or filter; {e}"
                ),
                Vec::new(),
            ))
        }
        Some(Err(e)) => return Err(ApiError::internal(format!("cannot read results: {e}"))),
        None => return Err(ApiError::internal("the results query stopped")),
    };
    let rest = stream::unfold(receiver, |mut receiver| async move {
        let chunk = receiver.recv().await?;
        Some((chunk.map_err(std::io::Error::other), receiver))
    });
    let chunks = stream::iter([Ok::<_, std::io::Error>(first)]).chain(rest);
    Ok(Body::from_bytes_stream(chunks))
}

/// A Parquet file's bytes streamed from disk. The file is opened and then its private
/// folder removed: the open file stays readable until the answer is sent, and nothing is
/// left behind whatever becomes of the request.
pub(super) async fn file_body(
    path: std::path::PathBuf,
    folder: tempfile::TempDir,
) -> Result<Body, ApiError> {
    let file = tokio::fs::File::open(&path)
        .await
        .map_err(|e| ApiError::internal(format!("cannot read {}: {e}", path.display())))?;
    drop(folder);
    Ok(Body::from_async_read(file))
}
