//! `async fn`: free, methods borrowing `self`, returning references, with `?` and
//! early `return`, stacked with the other attributes.
use telemetry::prelude::*;

struct Service {
    name: String,
}

impl Service {
    #[traced(err)]
    async fn call(&self, n: u32) -> Result<&str, std::num::ParseIntError> {
        if n == 0 {
            return Ok(&self.name);
        }
        let _: u32 = "12".parse()?;
        Ok(&self.name[..1])
    }
}

#[traced]
#[track_errors]
#[measure_performance(slow_ms = 100)]
async fn stacked(x: u8) -> Result<u8, String> {
    if x > 3 {
        return Err("too big".to_string());
    }
    Ok(x)
}

#[traced]
async fn unit() {}

#[measure_performance]
async fn generic<T: Send + std::fmt::Debug>(value: T) -> T {
    value
}

fn assert_send<T: Send>(_: &T) {}

fn main() {
    let service = Service { name: "svc".into() };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    runtime.block_on(async {
        let _ = service.call(0).await;
        let future = stacked(1);
        assert_send(&future);
        let _ = future.await;
        unit().await;
        let _ = generic(5u8).await;
    });
}
