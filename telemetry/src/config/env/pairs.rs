//! `k=v,k2=v2` lists with percent-encoded keys and values, as
//! `OTEL_RESOURCE_ATTRIBUTES` and the `*_HEADERS` variables hold them.

/// Parses `k=v,k2=v2` with percent-encoded keys and values. Any malformed member makes
/// the whole value invalid, as the specification asks for resource attributes. With
/// `secret` values (request headers), a complaint names an entry by its position or
/// its key, never by its text.
pub(crate) fn parse_pairs(raw: &str, secret: bool) -> Result<Vec<(String, String)>, String> {
    let mut out = Vec::new();
    for (i, member) in raw.split(',').enumerate() {
        let member = member.trim();
        if member.is_empty() {
            continue;
        }
        let entry = i + 1;
        let shown = |what: &str| -> String {
            if secret {
                format!("entry {entry} {what}")
            } else {
                format!("`{member}` {what}")
            }
        };
        let Some((k, v)) = member.split_once('=') else {
            return Err(format!(
                "a list of key=value pairs ({})",
                shown("has no `=`")
            ));
        };
        let Some(k) = decode(k.trim()) else {
            let what = if secret {
                format!("the key of entry {entry}")
            } else {
                format!("`{}`", k.trim())
            };
            return Err(format!(
                "percent-encoded key=value pairs ({what} has a bad % escape)"
            ));
        };
        let Some(v) = decode(v.trim()) else {
            let what = if secret {
                format!("the value of `{k}`")
            } else {
                format!("`{}`", v.trim())
            };
            return Err(format!(
                "percent-encoded key=value pairs ({what} has a bad % escape)"
            ));
        };
        if k.is_empty() {
            return Err(format!(
                "a list of key=value pairs ({})",
                shown("has an empty key")
            ));
        }
        out.push((k, v));
    }
    Ok(out)
}

fn decode(s: &str) -> Option<String> {
    // Reject malformed escapes explicitly: percent_decode passes them through.
    let bytes = s.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let ok = bytes.len() > i + 2
                && bytes[i + 1].is_ascii_hexdigit()
                && bytes[i + 2].is_ascii_hexdigit();
            if !ok {
                return None;
            }
            i += 3;
        } else {
            i += 1;
        }
    }
    percent_encoding::percent_decode_str(s)
        .decode_utf8()
        .ok()
        .map(|c| c.into_owned())
}
