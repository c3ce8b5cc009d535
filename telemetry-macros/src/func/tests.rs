//! Unit tests of `func.rs`.
use super::*;
use syn::parse_quote;

fn shape_of(f: ItemFn) -> &'static str {
    match shape(&f) {
        Shape::Sync => "sync",
        Shape::AsyncFn => "async fn",
        Shape::AsyncBlock { boxed: false, .. } => "async block",
        Shape::AsyncBlock { boxed: true, .. } => "boxed async block",
    }
}

#[test]
fn shapes_are_recognised() {
    assert_eq!(
        shape_of(parse_quote!(
            fn f() -> u8 {
                1
            }
        )),
        "sync"
    );
    assert_eq!(
        shape_of(parse_quote!(
            async fn f() -> u8 {
                1
            }
        )),
        "async fn"
    );
    assert_eq!(
        shape_of(parse_quote!(
            fn f() -> impl Future<Output = u8> {
                async move { 1 }
            }
        )),
        "async block"
    );
    assert_eq!(
        shape_of(parse_quote!(
            fn f<'a>(&'a self) -> Pin<Box<dyn Future<Output = u8> + Send + 'a>> {
                Box::pin(async move { 1 })
            }
        )),
        "boxed async block"
    );
}

#[test]
fn future_outputs_are_found() {
    let t: Type = parse_quote!(impl Future<Output = Result<u8, E>> + Send);
    assert_eq!(
        future_output(&t).unwrap().to_token_stream().to_string(),
        "Result < u8 , E >"
    );
    let t: Type = parse_quote!(Pin<Box<dyn Future<Output = u8> + Send + 'async_trait>>);
    assert_eq!(
        future_output(&t).unwrap().to_token_stream().to_string(),
        "u8"
    );
    let t: Type = parse_quote!(BoxFuture<'static, u8>);
    assert!(future_output(&t).is_none());
}

#[test]
fn obvious_non_results_are_named() {
    assert_eq!(not_a_result(None).unwrap(), "returns `()`");
    let t: Type = parse_quote!(u32);
    assert_eq!(not_a_result(Some(&t)).unwrap(), "returns `u32`");
    let t: Type = parse_quote!(Option<u8>);
    assert_eq!(not_a_result(Some(&t)).unwrap(), "returns `Option<u8>`");
    for ok in [
        quote!(Result<u8, E>),
        quote!(io::Result<()>),
        quote!(MyAlias),
    ] {
        let t: Type = syn::parse2(ok).unwrap();
        assert!(not_a_result(Some(&t)).is_none());
    }
}

#[test]
fn arguments_are_listed_as_tracing_records_them() {
    let f: ItemFn = parse_quote!(
        fn f(&self, id: u64, name: &str, body: Vec<u8>, (a, b): (u8, u8), _: u8, mut n: String) {}
    );
    let args: Vec<(String, bool)> = arguments(&f.sig)
        .into_iter()
        .map(|a| (a.ident.to_string(), a.as_value))
        .collect();
    assert_eq!(
        args,
        [
            ("id".into(), true),
            ("name".into(), true),
            ("body".into(), false),
            ("a".into(), false),
            ("b".into(), false),
            ("n".into(), true)
        ]
    );
}
