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
use tokio::sync::{mpsc, OwnedSemaphorePermit};

use crate::api::error::ApiError;
use crate::data::export::ResultsEncoding;
use crate::data::query::ResultsReader;

/// Chunks encoded ahead of the client: with a batch of 2,048 rows a chunk is at most a few
/// hundred kilobytes of JSON.
const CHUNKS_IN_FLIGHT: usize = 4;

/// How long a client may take no data before its answer is abandoned.
pub(super) const STALL_LIMIT: Duration = Duration::from_secs(60);

/// Streams a checked results query as the body of an answer. Waits for the query's first
/// batch, so that a failing query is an error answer rather than a cut-off body; after
/// that, an error ends the body early (the client sees a truncated answer).
pub(super) async fn results_body(
    reader: ResultsReader,
    encoding: ResultsEncoding,
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
