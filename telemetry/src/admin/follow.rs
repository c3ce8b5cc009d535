//! `/api/logs?follow`: the matching log records as newline-delimited JSON, first the
//! latest `limit` of them, then each new one as the recorder takes it, until the client
//! goes away or the endpoint stops. A blank line every few seconds keeps an idle stream
//! from looking like an idle connection.

use std::convert::Infallible;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};

use crate::recorder::{LogQuery, Recorder};

/// How often an idle stream sends a blank line (well inside the idle timeout).
const HEARTBEAT: Duration = Duration::from_secs(10);

/// Lines in flight between the follower task and the connection.
const BUFFERED: usize = 64;

/// A response body fed line by line by a follower task.
pub(crate) struct Streamed {
    rx: tokio::sync::mpsc::Receiver<Bytes>,
}

impl Body for Streamed {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        self.rx
            .poll_recv(cx)
            .map(|line| line.map(|l| Ok(Frame::data(l))))
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::default()
    }
}

/// Starts following `recorder`'s logs that match `query` on the endpoint's runtime;
/// the body ends when the follower does.
pub(crate) fn start(recorder: Recorder, query: LogQuery) -> Streamed {
    let (tx, rx) = tokio::sync::mpsc::channel(BUFFERED);
    tokio::task::spawn_local(follow(recorder, query, tx));
    Streamed { rx }
}

async fn follow(recorder: Recorder, query: LogQuery, tx: tokio::sync::mpsc::Sender<Bytes>) {
    let mut arrived = recorder.watch_logs();
    // Everything already taken counts as seen once the tail is written.
    arrived.mark_unchanged();
    let (tail, mut seen) = recorder.logs_after(0, &query);
    if !send(&tx, &tail).await {
        return;
    }
    let next = LogQuery {
        limit: usize::MAX,
        ..query
    };
    loop {
        tokio::select! {
            changed = arrived.changed() => {
                if changed.is_err() {
                    return;
                }
            }
            () = tokio::time::sleep(HEARTBEAT) => {
                if tx.send(Bytes::from_static(b"\n")).await.is_err() {
                    return;
                }
                continue;
            }
            () = tx.closed() => return,
        }
        let (new, last) = recorder.logs_after(seen, &next);
        seen = last;
        if !send(&tx, &new).await {
            return;
        }
    }
}

/// Writes one JSON line per record; false once the client is gone.
async fn send(
    tx: &tokio::sync::mpsc::Sender<Bytes>,
    logs: &[crate::recorder::RecordedLog],
) -> bool {
    for log in logs {
        let mut line = serde_json::to_vec(log).unwrap_or_default();
        line.push(b'\n');
        if tx.send(Bytes::from(line)).await.is_err() {
            return false;
        }
    }
    true
}
