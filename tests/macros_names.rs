//! `code.function.name` is `module_path!()`, then `Type::` for a method, then the
//! function's name, as the semantic conventions describe: the same form in inherent
//! impls, trait impls and `#[async_trait]` impls, in nested modules, and in the metrics
//! as on the span.

mod macros_support;

use macros_support::{attribute, harness};
use telemetry::prelude::*;

trait Priced {
    fn price(&self) -> u64;
}

struct Book;

impl Priced for Book {
    #[traced]
    fn price(&self) -> u64 {
        12
    }
}

struct Shelf<T>(T);

trait Count<U> {
    fn count(&self, extra: U) -> usize;
}

impl<T, U> Count<U> for Shelf<Vec<T>> {
    #[traced(skip(extra))]
    #[measure_performance]
    fn count(&self, extra: U) -> usize {
        let _ = extra;
        self.0.len()
    }
}

mod inner {
    pub mod deeper {
        use telemetry::prelude::*;

        #[traced]
        pub fn nested() -> u8 {
            1
        }
    }
}

#[async_trait::async_trait]
trait Fetch {
    async fn fetch(&self) -> u8;
}

#[async_trait::async_trait]
impl Fetch for Book {
    #[traced]
    async fn fetch(&self) -> u8 {
        2
    }
}

#[tokio::test]
async fn names_are_module_type_and_function() {
    let h = harness();
    assert_eq!(Book.price(), 12);
    assert_eq!(Shelf(vec![1, 2]).count("x"), 2);
    assert_eq!(inner::deeper::nested(), 1);
    assert_eq!(Book.fetch().await, 2);
    let name = |span: &str| attribute(&h.spans, span, "code.function.name");
    assert_eq!(
        name("Book::price").as_deref(),
        Some("macros_names::Book::price")
    );
    assert_eq!(
        name("Shelf::count").as_deref(),
        Some("macros_names::Shelf::count")
    );
    assert_eq!(
        name("nested").as_deref(),
        Some(concat!(module_path!(), "::inner::deeper::nested"))
    );
    assert_eq!(
        name("Book::fetch").as_deref(),
        Some("macros_names::Book::fetch")
    );
    // The metric carries the same name.
    let point = h.metrics.histogram(
        "function.duration",
        &[
            ("code.function.name", "macros_names::Shelf::count"),
            ("outcome", "ok"),
        ],
    );
    assert_eq!(point.map(|p| p.count), Some(1));
}
