//! The function's full path and display name, read from `type_name` of a type
//! declared in its body.

/// Splits `type_name` of a type declared in a function into the function's full path
/// and its display name: `<a::Foo<_> as a::Tr>::go::__TelemetryHere` gives
/// `(<a::Foo as a::Tr>::go, Foo::go)`; `a::m::Foo<_>::new::__TelemetryHere` gives
/// `(a::m::Foo::new, Foo::new)`; `a::m::free::{{closure}}::__TelemetryHere` gives
/// `(a::m::free, free)`.
pub(super) fn function_names(here: &str) -> (String, String) {
    let segments = split_path(here);
    // Drop the marker type and the compiler's `{{closure}}`-like segments.
    let mut segments: Vec<String> = segments
        .into_iter()
        .filter(|s| !s.starts_with("{{"))
        .map(|s| strip_generics(&s))
        .collect();
    segments.pop();
    let Some(function) = segments.last().cloned() else {
        return (String::new(), String::new());
    };
    let path = segments.join("::");
    let owner = segments.len().checked_sub(2).and_then(|i| segments.get(i));
    let display = match owner {
        // `<Type as Trait>`: the type's last segment.
        Some(owner) if owner.starts_with('<') => {
            let inner = owner.trim_start_matches('<');
            let ty = inner.split(" as ").next().unwrap_or(inner);
            let ty = split_path(ty).pop().unwrap_or_default();
            format!("{ty}::{function}")
        }
        // A type (by convention, capitalised), not a module or an enclosing function.
        Some(owner) if owner.starts_with(|c: char| c.is_ascii_uppercase()) => {
            format!("{owner}::{function}")
        }
        _ => function,
    };
    (path, display)
}

/// Splits at `::` outside `<..>`.
fn split_path(path: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut depth = 0usize;
    let mut current = String::new();
    let mut chars = path.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '<' => depth += 1,
            '>' => depth = depth.saturating_sub(1),
            ':' if depth == 0 && chars.peek() == Some(&':') => {
                chars.next();
                out.push(std::mem::take(&mut current));
                continue;
            }
            _ => {}
        }
        current.push(c);
    }
    out.push(current);
    out
}

/// Removes generic arguments (`Foo<_>` to `Foo`) but keeps a qualified path's own
/// angle brackets (`<Foo<_> as Tr<_>>` to `<Foo as Tr>`).
fn strip_generics(segment: &str) -> String {
    let mut out = String::with_capacity(segment.len());
    let mut skipping = 0usize;
    let mut prev: Option<char> = None;
    for c in segment.chars() {
        if skipping > 0 {
            match c {
                '<' => skipping += 1,
                '>' => skipping -= 1,
                _ => {}
            }
            continue;
        }
        if c == '<' && prev.is_some_and(|p| p.is_alphanumeric() || p == '_') {
            skipping = 1;
            continue;
        }
        out.push(c);
        prev = Some(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_come_from_the_marker_type_path() {
        let cases = [
            (
                "app::m::Foo<_>::method::__TelemetryHere",
                "app::m::Foo::method",
                "Foo::method",
            ),
            (
                "<app::m::Foo<_> as app::Tr<_>>::go::__TelemetryHere",
                "<app::m::Foo as app::Tr>::go",
                "Foo::go",
            ),
            ("app::m::free::__TelemetryHere", "app::m::free", "free"),
            (
                "app::m::free::{{closure}}::__TelemetryHere",
                "app::m::free",
                "free",
            ),
            (
                "app::outer::inner::__TelemetryHere",
                "app::outer::inner",
                "inner",
            ),
            (
                "app::Foo::method::inner::__TelemetryHere",
                "app::Foo::method::inner",
                "inner",
            ),
            (
                "<&str as app::Tr>::go::__TelemetryHere",
                "<&str as app::Tr>::go",
                "&str::go",
            ),
            ("main::f::__TelemetryHere", "main::f", "f"),
        ];
        for (here, path, display) in cases {
            assert_eq!(
                function_names(here),
                (path.to_string(), display.to_string()),
                "{here}"
            );
        }
    }
}
