//! Functions that return a future built by an async block: `impl Future` and
//! `Pin<Box<dyn Future>>`. The block is instrumented, not its construction.
use std::future::Future;
use std::pin::Pin;

use telemetry::prelude::*;

#[traced(err)]
fn later(x: u32) -> impl Future<Output = Result<u32, String>> + Send {
    async move {
        if x == 0 {
            return Err("zero".to_string());
        }
        Ok(x)
    }
}

#[traced]
#[track_errors]
fn boxed<'a>(s: &'a str) -> Pin<Box<dyn Future<Output = usize> + Send + 'a>> {
    let extra = 1;
    Box::pin(async move { s.len() + extra })
}

fn main() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    runtime.block_on(async {
        let _ = later(1).await;
        let _ = boxed("abc").await;
    });
}
