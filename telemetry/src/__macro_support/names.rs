//! The function's full path and display name. The module path and the function's
//! name are given by the expansion (`module_path!()` and the function's identifier:
//! stable); only the type of a method, which an attribute on the method cannot see,
//! is read from `type_name` of a type declared in its body, whose output the standard
//! library does not promise to keep. Anything unexpected there drops the type, never
//! the rest: the path is then `module::function`.

/// The type that owns the method whose body declared the marker, if any:
/// `<a::Foo<_> as a::Tr<_>>::go::__TelemetryHere` gives `Foo`,
/// `a::m::Foo<_>::new::__TelemetryHere` gives `Foo`, `a::m::free::__TelemetryHere` and
/// `a::m::free::{{closure}}::__TelemetryHere` give nothing.
pub(super) fn owner(here: &str, function: &str) -> Option<String> {
    let mut segments: Vec<String> = split_path(here)
        .into_iter()
        .filter(|s| !s.starts_with("{{"))
        .map(|s| strip_generics(&s))
        .collect();
    // The marker, then the function itself: otherwise the shape is not the expected one.
    if segments.pop()?.as_str() != "__TelemetryHere" || segments.pop()?.as_str() != function {
        return None;
    }
    let owner = segments.pop()?;
    let ty = match owner.strip_prefix('<') {
        // `<Type as Trait>`: the type's last segment.
        Some(inner) => {
            let ty = inner.split(" as ").next().unwrap_or(inner);
            split_path(ty).pop()?
        }
        // A type (by convention, capitalised), not a module or an enclosing function.
        None if owner.starts_with(|c: char| c.is_ascii_uppercase()) => owner,
        None => return None,
    };
    let is_identifier = ty.starts_with(|c: char| c.is_alphabetic() || c == '_')
        && ty.chars().all(|c| c.is_alphanumeric() || c == '_');
    is_identifier.then_some(ty)
}

/// `code.function.name` and the display name of `function` of `module`, owned by
/// `owner` when it is a method: `(module::Type::function, Type::function)`, else
/// `(module::function, function)`.
pub(super) fn function_names(
    module: &str,
    function: &str,
    owner: Option<&str>,
) -> (String, String) {
    match owner {
        Some(ty) => (
            format!("{module}::{ty}::{function}"),
            format!("{ty}::{function}"),
        ),
        None => (format!("{module}::{function}"), function.to_string()),
    }
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
    fn the_owner_is_read_from_the_marker_type_path() {
        let cases = [
            (
                "app::m::Foo<_>::method::__TelemetryHere",
                "method",
                Some("Foo"),
            ),
            (
                "<app::m::Foo<_> as app::Tr<_>>::go::__TelemetryHere",
                "go",
                Some("Foo"),
            ),
            ("app::m::free::__TelemetryHere", "free", None),
            ("app::m::free::{{closure}}::__TelemetryHere", "free", None),
            ("app::outer::inner::__TelemetryHere", "inner", None),
            ("app::Foo::method::inner::__TelemetryHere", "inner", None),
            ("<&str as app::Tr>::go::__TelemetryHere", "go", None),
            ("main::f::__TelemetryHere", "f", None),
        ];
        for (here, function, owner_) in cases {
            assert_eq!(owner(here, function).as_deref(), owner_, "{here}");
        }
    }

    #[test]
    fn an_unexpected_type_name_drops_only_the_type() {
        // Other spellings than today's: the module path and the name still hold.
        for here in [
            "app::m::Foo[T]::method::__TelemetryHere",
            "app::m::Foo::method::{closure#0}::__TelemetryHere",
            "method in app::m::Foo",
            "",
        ] {
            assert_eq!(owner(here, "method"), None, "{here}");
        }
        assert_eq!(
            function_names("app::m", "method", None),
            ("app::m::method".to_string(), "method".to_string())
        );
        assert_eq!(
            function_names("app::m", "method", Some("Foo")),
            ("app::m::Foo::method".to_string(), "Foo::method".to_string())
        );
    }
}
