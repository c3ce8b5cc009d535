//! `#[traced]`: one span per call, named after the function (`Type::method` in impl
//! blocks), with the code attributes and the arguments; every option, sync and async;
//! errors recorded as status, `error.type` and exactly one exception event, with no
//! log line unless asked.

mod macros_support;

use std::fmt;

use macros_support::{attribute, harness, harness_at, without_lines};
use opentelemetry::trace::{SpanKind, Status};
use telemetry::prelude::*;
use tracing_subscriber::filter::LevelFilter;

#[derive(Debug)]
struct Declined {
    code: u16,
}

impl fmt::Display for Declined {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "card declined ({})", self.code)
    }
}

impl std::error::Error for Declined {}

#[derive(Debug)]
#[allow(dead_code)] // `last4` is read by `fields(..)`, compiled out by `macros-disabled`
struct Card {
    last4: &'static str,
}

#[traced]
fn add(a: u64, b: u64) -> u64 {
    a + b
}

#[test]
fn a_free_function_gets_a_span_with_code_attributes_and_arguments() {
    let h = harness();
    assert_eq!(add(2, 3), 5);
    insta::assert_snapshot!(h.spans.render(), @r"
    trace
    └─ add  a=2 b=3 code.function.name=macros_traced::add
    ");
    assert_eq!(
        attribute(&h.spans, "add", "code.file.path").as_deref(),
        Some("tests/macros_traced.rs")
    );
    let line: u32 = attribute(&h.spans, "add", "code.line.number")
        .unwrap()
        .parse()
        .unwrap();
    assert!((30..40).contains(&line), "line {line}");
    // Only the current `code.*` keys: not the deprecated ones.
    for old in [
        "code.function",
        "code.namespace",
        "code.filepath",
        "code.lineno",
    ] {
        assert_eq!(attribute(&h.spans, "add", old), None, "{old}");
    }
    assert!(h.events.lines().is_empty());
}

struct Cart {
    items: Vec<u64>,
}

trait Priced {
    fn total(&self, discount: u64) -> u64;
}

impl Cart {
    #[traced]
    fn add_item(&mut self, sku: u64) -> usize {
        self.items.push(sku);
        self.items.len()
    }

    #[traced]
    fn new() -> Cart {
        Cart { items: Vec::new() }
    }
}

impl Priced for Cart {
    #[traced]
    fn total(&self, discount: u64) -> u64 {
        self.items.iter().sum::<u64>() - discount
    }
}

struct Wrapper<T>(T);

impl<T: fmt::Debug + Clone> Wrapper<T> {
    #[traced]
    fn get<U: fmt::Debug>(&self, extra: U) -> T {
        let _ = extra;
        self.0.clone()
    }
}

#[test]
fn methods_are_named_type_method_and_self_is_not_recorded() {
    let h = harness();
    let mut cart = Cart::new();
    cart.add_item(7);
    assert_eq!(cart.total(2), 5);
    assert_eq!(Wrapper("x").get(1.5_f64), "x");
    insta::assert_snapshot!(h.spans.render(), @r#"
    trace
    └─ Cart::new  code.function.name=macros_traced::Cart::new
    trace
    └─ Cart::add_item  code.function.name=macros_traced::Cart::add_item sku=7
    trace
    └─ Cart::total  code.function.name=macros_traced::Cart::total discount=2
    trace
    └─ Wrapper::get  code.function.name=macros_traced::Wrapper::get extra=1.5
    "#);
}

#[traced(
    name = "checkout",
    level = "debug",
    target = "shop::payments",
    kind = "server",
    skip(card),
    fields(card.last4 = card.last4, attempt = 1_i64, note = %"first try")
)]
fn pay(card: &Card, amount_cents: u64) -> bool {
    let _ = card;
    amount_cents > 0
}

#[test]
fn name_level_target_kind_skip_and_fields() {
    let h = harness();
    assert!(pay(&Card { last4: "4242" }, 1250));
    insta::assert_snapshot!(h.spans.render(), @r#"
    trace
    └─ checkout [server]  amount_cents=1250 attempt=1 card.last4=4242 code.function.name=macros_traced::pay note="first try"
    "#);
    let span = h.spans.span("checkout").unwrap();
    assert_eq!(span.span_kind, SpanKind::Server);
    assert_eq!(
        attribute(&h.spans, "checkout", "target").as_deref(),
        Some("shop::payments")
    );
}

#[traced(level = "debug")]
fn chatty(n: u64) -> u64 {
    n * 2
}

#[test]
fn a_span_below_the_level_filter_is_not_recorded_and_the_function_still_runs() {
    let h = harness_at(LevelFilter::INFO);
    assert_eq!(chatty(21), 42);
    assert!(h.spans.spans().is_empty());
}

#[traced(skip_all)]
fn secret(password: &str, token: String) -> usize {
    password.len() + token.len()
}

#[test]
fn skip_all_records_no_argument() {
    let h = harness();
    assert_eq!(secret("hunter2", "t".into()), 8);
    insta::assert_snapshot!(h.spans.render(), @r"
    trace
    └─ secret  code.function.name=macros_traced::secret
    ");
}

#[traced(fields(result = tracing::field::Empty))]
fn records_later(x: u64) -> u64 {
    tracing::Span::current().record("result", x * 10);
    x * 10
}

#[test]
fn empty_fields_can_be_recorded_later() {
    let h = harness();
    records_later(4);
    insta::assert_snapshot!(h.spans.render(), @r"
    trace
    └─ records_later  code.function.name=macros_traced::records_later result=40 x=4
    ");
}

#[traced(err)]
fn charge(amount: u64) -> Result<u64, Declined> {
    if amount > 100 {
        return Err(Declined { code: 51 });
    }
    Ok(amount)
}

#[test]
fn err_records_status_error_type_and_one_exception_event_without_a_log_line() {
    let h = harness();
    assert_eq!(charge(10).unwrap(), 10);
    assert!(charge(500).is_err());
    insta::assert_snapshot!(h.spans.render(), @r#"
    trace
    └─ charge  amount=10 code.function.name=macros_traced::charge
    trace
    └─ charge ERROR: card declined (51)  amount=500 code.function.name=macros_traced::charge error.type=macros_traced::Declined
       └• exception  exception.message="card declined (51)" exception.type=macros_traced::Declined
    "#);
    let failed = h
        .spans
        .spans()
        .into_iter()
        .find(|s| s.status != Status::Unset)
        .unwrap();
    assert_eq!(failed.status, Status::error("card declined (51)"));
    assert_eq!(failed.events.len(), 1);
    assert!(
        h.events.lines().is_empty(),
        "no log line: {:?}",
        h.events.lines()
    );
}

#[traced(err(Debug))]
fn charge_debug(amount: u64) -> Result<u64, Declined> {
    Err(Declined {
        code: amount as u16,
    })
}

#[test]
fn err_debug_describes_the_error_with_debug() {
    let h = harness();
    let _ = charge_debug(5);
    let span = h.spans.span("charge_debug").unwrap();
    assert_eq!(span.status, Status::error("Declined { code: 5 }"));
    insta::assert_snapshot!(h.spans.render(), @r#"
    trace
    └─ charge_debug ERROR: Declined { code: 5 }  amount=5 code.function.name=macros_traced::charge_debug error.type=macros_traced::Declined
       └• exception  exception.message="Declined { code: 5 }" exception.type=macros_traced::Declined
    "#);
}

#[traced(err(level = "warn"))]
fn charge_logged(amount: u64) -> Result<u64, Declined> {
    Err(Declined {
        code: amount as u16,
    })
}

#[test]
fn err_with_a_level_also_logs_the_error_once() {
    let h = harness();
    let _ = charge_logged(7);
    let lines = h.events.lines();
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert_eq!(lines[0].level, tracing::Level::WARN);
    assert_eq!(lines[0].target, "macros_traced");
    assert_eq!(
        lines[0].text,
        "charge_logged returned an error error=card declined (7)"
    );
    let span = h.spans.span("charge_logged").unwrap();
    let exceptions = span.events.iter().filter(|e| e.name == "exception").count();
    assert_eq!(exceptions, 1);
    assert_eq!(span.status, Status::error("card declined (7)"));
}

#[traced(ret)]
fn doubled(x: u64) -> u64 {
    x * 2
}

#[traced(ret(level = "debug"), err)]
fn parsed(s: &str) -> Result<u64, std::num::ParseIntError> {
    s.parse()
}

#[test]
fn ret_logs_the_return_value_or_the_ok_value_with_err() {
    let h = harness();
    doubled(4);
    let _ = parsed("12");
    let _ = parsed("x");
    let lines: Vec<(tracing::Level, String)> = h
        .events
        .lines()
        .into_iter()
        .map(|l| (l.level, l.text))
        .collect();
    assert_eq!(
        lines,
        [
            (tracing::Level::INFO, "return=8".to_string()),
            (tracing::Level::DEBUG, "return=12".to_string())
        ]
    );
    insta::assert_snapshot!(without_lines(&h.spans.render()), @r#"
    trace
    └─ doubled  code.function.name=macros_traced::doubled x=4
       └• INFO event tests/macros_traced.rs:N  return=8
    trace
    └─ parsed  code.function.name=macros_traced::parsed s=12
       └• DEBUG event tests/macros_traced.rs:N  return=12
    trace
    └─ parsed ERROR: invalid digit found in string  code.function.name=macros_traced::parsed error.type=core::num::error::ParseIntError s=x
       └• exception  exception.message="invalid digit found in string" exception.type=core::num::error::ParseIntError
    "#);
}

#[traced(parent = None)]
fn detached() {}

#[traced]
fn attached() {}

#[traced(skip(cause), follows_from = [cause.clone()])]
fn follower(cause: Option<tracing::Id>) {
    let _ = cause;
}

#[test]
fn parent_and_follows_from() {
    let h = harness();
    let outer = tracing::info_span!("outer");
    let cause = tracing::info_span!("cause");
    outer.in_scope(|| {
        detached();
        attached();
        follower(cause.id());
    });
    drop((outer, cause));
    insta::assert_snapshot!(h.spans.render(), @r"
    trace
    └─ outer
       ├─ attached  code.function.name=macros_traced::attached
       └─ follower  code.function.name=macros_traced::follower
          ├→ link
    trace
    └─ cause
    trace
    └─ detached  code.function.name=macros_traced::detached
    ");
}

#[traced(err)]
fn several_exits(input: &str) -> Result<u64, std::num::ParseIntError> {
    if input.is_empty() {
        return Ok(0);
    }
    let n: u64 = input.trim().parse()?;
    Ok(n + 1)
}

#[test]
fn question_mark_and_early_return_keep_working() {
    let h = harness();
    assert_eq!(several_exits(""), Ok(0));
    assert_eq!(several_exits(" 4 "), Ok(5));
    assert!(several_exits("four").is_err());
    let statuses: Vec<Status> = h.spans.spans().into_iter().map(|s| s.status).collect();
    assert_eq!(
        statuses,
        [
            Status::Unset,
            Status::Unset,
            Status::error("invalid digit found in string")
        ]
    );
}

#[traced]
async fn fetch(id: u64) -> u64 {
    tokio::task::yield_now().await;
    id + 1
}

#[tokio::test]
async fn an_async_fn_is_instrumented_when_polled_not_when_built() {
    let h = harness();
    let future = tracing::info_span!("built_here").in_scope(|| fetch(1));
    let polled = tracing::info_span!("polled_here");
    let value = tracing::Instrument::instrument(future, polled).await;
    assert_eq!(value, 2);
    insta::assert_snapshot!(h.spans.render(), @r"
    trace
    └─ built_here
    trace
    └─ polled_here
       └─ fetch  code.function.name=macros_traced::fetch id=1
    ");
}

struct Repo;

impl Repo {
    #[traced(err, ret, kind = "client")]
    async fn load(&self, id: u64) -> Result<String, Declined> {
        tokio::task::yield_now().await;
        if id == 0 {
            return Err(Declined { code: 0 });
        }
        Ok(format!("item-{id}"))
    }
}

#[tokio::test]
async fn async_err_and_ret() {
    let h = harness();
    assert_eq!(Repo.load(3).await.unwrap(), "item-3");
    assert!(Repo.load(0).await.is_err());
    insta::assert_snapshot!(without_lines(&h.spans.render()), @r#"
    trace
    └─ Repo::load [client]  code.function.name=macros_traced::Repo::load id=3
       └• INFO event tests/macros_traced.rs:N  return="\"item-3\""
    trace
    └─ Repo::load [client] ERROR: card declined (0)  code.function.name=macros_traced::Repo::load error.type=macros_traced::Declined id=0
       └• exception  exception.message="card declined (0)" exception.type=macros_traced::Declined
    "#);
    assert_eq!(h.events.lines().len(), 1, "only the `ret` event is logged");
}

#[traced(err)]
#[allow(clippy::manual_async_fn)] // the shape under test
fn later(id: u64) -> impl std::future::Future<Output = Result<u64, Declined>> {
    async move {
        tokio::task::yield_now().await;
        if id > 9 {
            Err(Declined { code: 9 })
        } else {
            Ok(id)
        }
    }
}

#[tokio::test]
async fn a_function_returning_an_async_block_instruments_the_block() {
    let h = harness();
    let future = later(10);
    assert!(
        h.spans.spans().is_empty(),
        "nothing recorded before the first poll"
    );
    assert!(future.await.is_err());
    insta::assert_snapshot!(h.spans.render(), @r#"
    trace
    └─ later ERROR: card declined (9)  code.function.name=macros_traced::later error.type=macros_traced::Declined id=10
       └• exception  exception.message="card declined (9)" exception.type=macros_traced::Declined
    "#);
}

#[async_trait::async_trait]
trait Store {
    async fn put(&self, key: &str, value: u64) -> Result<(), Declined>;
}

struct MemoryStore;

#[async_trait::async_trait]
impl Store for MemoryStore {
    #[traced(err)]
    async fn put(&self, key: &str, value: u64) -> Result<(), Declined> {
        tokio::task::yield_now().await;
        if key.is_empty() {
            return Err(Declined { code: value as u16 });
        }
        Ok(())
    }
}

#[tokio::test]
async fn async_trait_methods_are_instrumented() {
    let h = harness();
    let store: &dyn Store = &MemoryStore;
    store.put("a", 1).await.unwrap();
    assert!(store.put("", 2).await.is_err());
    insta::assert_snapshot!(h.spans.render(), @r#"
    trace
    └─ MemoryStore::put  code.function.name=macros_traced::MemoryStore::put key=a value=1
    trace
    └─ MemoryStore::put ERROR: card declined (2)  code.function.name=macros_traced::MemoryStore::put error.type=macros_traced::Declined key="" value=2
       └• exception  exception.message="card declined (2)" exception.type=macros_traced::Declined
    "#);
}

#[traced(
    name = "consume",
    level = "debug",
    target = "shop::queue",
    kind = "consumer",
    skip(payload, producer),
    fields(message.size = payload.len()),
    parent = None,
    follows_from = [producer.clone()]
)]
async fn consume(payload: Vec<u8>, producer: Option<tracing::Id>, attempt: u32) -> usize {
    tokio::task::yield_now().await;
    let _ = (producer, attempt);
    payload.len()
}

#[tokio::test]
async fn every_option_works_on_an_async_fn_too() {
    let h = harness();
    let producer = tracing::info_span!("produce");
    let outer = tracing::info_span!("outer");
    let n = tracing::Instrument::instrument(consume(vec![1, 2, 3], producer.id(), 2), outer).await;
    assert_eq!(n, 3);
    drop(producer);
    insta::assert_snapshot!(h.spans.render(), @r"
    trace
    └─ produce
    trace
    └─ outer
    trace
    └─ consume [consumer]  attempt=2 code.function.name=macros_traced::consume message.size=3
       ├→ link
    ");
    assert_eq!(
        attribute(&h.spans, "consume", "target").as_deref(),
        Some("shop::queue")
    );
}

#[tokio::test]
async fn an_async_span_below_the_level_filter_is_not_recorded() {
    let h = harness_at(LevelFilter::INFO);
    assert_eq!(consume(vec![1], None, 1).await, 1);
    assert!(h.spans.spans().is_empty());
}
