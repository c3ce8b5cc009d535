//! `#[async_trait]` methods, which arrive as `fn .. -> Pin<Box<dyn Future>>` with a
//! `Box::pin(async move { .. })` body.
use telemetry::prelude::*;

#[async_trait::async_trait]
trait Repository {
    async fn find(&self, id: u64) -> Result<String, String>;
    async fn count(&self) -> usize;
}

struct Memory {
    items: Vec<String>,
}

#[async_trait::async_trait]
impl Repository for Memory {
    #[traced(err, kind = "client", fields(items = self.items.len()))]
    #[track_errors]
    async fn find(&self, id: u64) -> Result<String, String> {
        self.items
            .get(id as usize)
            .cloned()
            .ok_or_else(|| format!("no item {id}"))
    }

    #[measure_performance]
    async fn count(&self) -> usize {
        self.items.len()
    }
}

fn main() {
    let repo = Memory {
        items: vec!["a".into()],
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    runtime.block_on(async {
        let _ = repo.find(0).await;
        let _ = repo.count().await;
    });
}
