//! Environment variable substitution in the scalar values of a configuration file, as
//! the specification's data model says: `${NAME}`, `${env:NAME}`, `${NAME:-default}`,
//! and `$$` for a literal `$`, read left to right, once (a substituted value is never
//! read again), and a `${...}` that is not a valid reference fails the whole file.

use std::collections::BTreeMap;

/// A `${...}` that matches no valid reference: the text of the reference.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct InvalidReference(pub(super) String);

/// Substitutes the references in `text`, looking names up in `vars`. An undefined
/// variable without a default becomes empty; a default is used when the variable is
/// undefined or empty.
pub(super) fn substitute(
    text: &str,
    vars: &BTreeMap<String, String>,
) -> Result<String, InvalidReference> {
    if !text.contains('$') {
        return Ok(text.to_string());
    }
    // First the escapes, left to right: the text between two of them is matched
    // against the reference grammar on its own, so an escaped `$` never starts one.
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find("$$") {
        out.push_str(&references(&rest[..at], vars)?);
        out.push('$');
        rest = &rest[at + 2..];
    }
    out.push_str(&references(rest, vars)?);
    Ok(out)
}

/// Replaces the references of one piece of text that holds no `$$`.
fn references(piece: &str, vars: &BTreeMap<String, String>) -> Result<String, InvalidReference> {
    let mut out = String::with_capacity(piece.len());
    let mut rest = piece;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let Some(end) = after.find('}') else {
            // No closing brace: no reference at all, the text stays as it is.
            out.push_str(&rest[start..]);
            return Ok(out);
        };
        let body = &after[..end];
        if body.is_empty() {
            // `${}` matches neither grammar: kept as written.
            out.push_str("${}");
        } else {
            match resolve(body, vars) {
                Some(value) => out.push_str(&value),
                None => return Err(InvalidReference(format!("${{{body}}}"))),
            }
        }
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

/// The value of one reference's body (`NAME`, `env:NAME`, `NAME:-default`), or
/// `None` when the body is not of the grammar.
fn resolve(body: &str, vars: &BTreeMap<String, String>) -> Option<String> {
    let body = body.strip_prefix("env:").unwrap_or(body);
    let name_len = body
        .char_indices()
        .find(|&(i, c)| !(c == '_' || c.is_ascii_alphabetic() || (i > 0 && c.is_ascii_digit())))
        .map_or(body.len(), |(i, _)| i);
    let (name, tail) = body.split_at(name_len);
    if name.is_empty() {
        return None;
    }
    let default = match tail {
        "" => None,
        _ => {
            let default = tail.strip_prefix(":-")?;
            if default.contains('\n') {
                return None;
            }
            Some(default)
        }
    };
    let value = vars.get(name).map(String::as_str).unwrap_or("");
    Some(match default {
        Some(d) if value.is_empty() => d.to_string(),
        _ => value.to_string(),
    })
}

/// The environment of the specification's table of substitutions, for the tests.
#[cfg(test)]
pub(super) const SPEC_VARS: &[(&str, &str)] = &[
    ("STRING_VALUE", "value"),
    ("BOOL_VALUE", "true"),
    ("INT_VALUE", "1"),
    ("FLOAT_VALUE", "1.1"),
    ("HEX_VALUE", "0xdeadbeef"),
    ("INVALID_MAP_VALUE", "value\nkey:value"),
    ("DO_NOT_REPLACE_ME", "Never use this value"),
    ("REPLACE_ME", "${DO_NOT_REPLACE_ME}"),
    ("VALUE_WITH_ESCAPE", "value$$"),
];

#[cfg(test)]
mod tests {
    use super::*;

    fn vars() -> BTreeMap<String, String> {
        SPEC_VARS
            .iter()
            .chain(&[("EMPTY", "")])
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn text_substitution_follows_each_case_of_the_specification() {
        // The text part of the data model's table (the typing part is in
        // `file::tests`, where the YAML parser is).
        let cases: &[(&str, &str)] = &[
            ("${STRING_VALUE}", "value"),
            ("${BOOL_VALUE}", "true"),
            ("${INT_VALUE}", "1"),
            ("${FLOAT_VALUE}", "1.1"),
            ("${HEX_VALUE}", "0xdeadbeef"),
            ("${env:STRING_VALUE}", "value"),
            ("${INVALID_MAP_VALUE}", "value\nkey:value"),
            ("foo ${STRING_VALUE} ${FLOAT_VALUE}", "foo value 1.1"),
            ("${UNDEFINED_KEY}", ""),
            ("${UNDEFINED_KEY:-fallback}", "fallback"),
            ("${REPLACE_ME}", "${DO_NOT_REPLACE_ME}"),
            ("${UNDEFINED_KEY:-${STRING_VALUE}}", "${STRING_VALUE}"),
            ("$${STRING_VALUE}", "${STRING_VALUE}"),
            ("$$${STRING_VALUE}", "$value"),
            ("$$$${STRING_VALUE}", "$${STRING_VALUE}"),
            ("$${STRING_VALUE:-fallback}", "${STRING_VALUE:-fallback}"),
            (
                "$${STRING_VALUE:-${STRING_VALUE}}",
                "${STRING_VALUE:-value}",
            ),
            (
                "${UNDEFINED_KEY:-$${UNDEFINED_KEY}}",
                "${UNDEFINED_KEY:-${UNDEFINED_KEY}}",
            ),
            ("${VALUE_WITH_ESCAPE}", "value$$"),
            ("a $$ b", "a $ b"),
            ("a $ b", "a $ b"),
            // Beyond the table: an empty variable takes the default; an empty
            // default is allowed; `${}` and an unclosed `${` are plain text.
            ("${EMPTY:-x}", "x"),
            ("${EMPTY}", ""),
            ("${UNDEFINED_KEY:-}", ""),
            ("${env:UNDEFINED_KEY:-d e}", "d e"),
            ("${}", "${}"),
            ("${STRING_VALUE", "${STRING_VALUE"),
            ("${A:-x} and ${STRING_VALUE}", "x and value"),
            ("$", "$"),
        ];
        for (input, expected) in cases {
            assert_eq!(
                substitute(input, &vars()).as_deref(),
                Ok(*expected),
                "input {input:?}"
            );
        }
    }

    #[test]
    fn references_outside_the_grammar_are_errors() {
        for input in [
            "${STRING_VALUE:?error}",
            "${1API_KEY}",
            "${API_$KEY}",
            "${env:}",
            "${sys:NAME}",
            "${A B}",
            "${A:-two\nlines}",
            "x ${ok} ${-}",
        ] {
            let err = substitute(input, &vars()).unwrap_err();
            assert!(input.contains(&err.0), "{input:?} -> {err:?}");
        }
    }
}
