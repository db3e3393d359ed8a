//! The `Idempotency-Key` header's value: an RFC 8941 structured-field
//! string (`"8e03978e-..."`, as the IETF draft says) or, as many clients
//! send it, a bare token. Anything else is refused.

/// The longest key accepted from a client (longer ones are refused, not
/// hashed: a key this long is a bug in the caller).
pub const MAX_KEY_BYTES: usize = 1024;

/// The key a request carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestKey(String);

impl RequestKey {
    /// Parses one header value.
    pub fn parse(value: &[u8]) -> Result<RequestKey, String> {
        let value = trim(value);
        if value.is_empty() {
            return Err("it is empty".into());
        }
        if value.len() > MAX_KEY_BYTES + 2 {
            return Err(format!("it is longer than {MAX_KEY_BYTES} bytes"));
        }
        let key = if value[0] == b'"' {
            sf_string(value)?
        } else {
            bare_token(value)?
        };
        if key.is_empty() {
            return Err("the string is empty".into());
        }
        if key.len() > MAX_KEY_BYTES {
            return Err(format!("it is longer than {MAX_KEY_BYTES} bytes"));
        }
        Ok(RequestKey(key))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

fn trim(v: &[u8]) -> &[u8] {
    let start = v
        .iter()
        .position(|b| *b != b' ' && *b != b'\t')
        .unwrap_or(v.len());
    let end = v
        .iter()
        .rposition(|b| *b != b' ' && *b != b'\t')
        .map_or(start, |e| e + 1);
    &v[start..end]
}

/// `DQUOTE *( unescaped / "\" ( DQUOTE / "\" ) ) DQUOTE`, unescaped being
/// printable ASCII but `"` and `\`. Parameters after it are refused.
fn sf_string(v: &[u8]) -> Result<String, String> {
    let mut out = String::new();
    let mut i = 1;
    while i < v.len() {
        match v[i] {
            b'\\' => match v.get(i + 1) {
                Some(&c @ (b'"' | b'\\')) => {
                    out.push(c as char);
                    i += 2;
                }
                _ => return Err("a backslash escapes only \" or \\".into()),
            },
            b'"' => {
                return if i + 1 == v.len() {
                    Ok(out)
                } else {
                    Err("there is more after the closing quote".into())
                };
            }
            c @ 0x20..=0x7e => {
                out.push(c as char);
                i += 1;
            }
            _ => return Err("a string holds printable ASCII only".into()),
        }
    }
    Err("the string has no closing quote".into())
}

/// A bare value: visible ASCII without quotes, commas, semicolons or
/// spaces (so a list or parameters are not mistaken for a key).
fn bare_token(v: &[u8]) -> Result<String, String> {
    if let Some(&c) = v
        .iter()
        .find(|&&c| !(0x21..=0x7e).contains(&c) || matches!(c, b'"' | b',' | b';' | b'\\'))
    {
        return Err(format!(
            "a bare key is visible ASCII without quotes, commas or semicolons (found byte 0x{c:02x})"
        ));
    }
    Ok(String::from_utf8_lossy(v).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(v: &str) -> String {
        RequestKey::parse(v.as_bytes()).expect(v).0
    }

    #[test]
    fn a_structured_string_and_a_bare_token_are_keys() {
        assert_eq!(ok("\"8e03978e-40d5-43e8\""), "8e03978e-40d5-43e8");
        assert_eq!(ok("  \"a b\"  "), "a b");
        assert_eq!(ok(r#""say \"hi\" \\ bye""#), r#"say "hi" \ bye"#);
        assert_eq!(ok("order-17:retry"), "order-17:retry");
    }

    #[test]
    fn anything_else_is_refused() {
        for bad in [
            "",
            "   ",
            "\"\"",
            "\"open",
            "\"a\";p=1",
            "\"a\\x\"",
            "a b",
            "a,b",
            "a;b",
            "\"caf\u{e9}\"",
        ] {
            assert!(RequestKey::parse(bad.as_bytes()).is_err(), "{bad:?}");
        }
        assert!(RequestKey::parse(&[b'"', 0x07, b'"']).is_err());
        assert!(RequestKey::parse("k".repeat(MAX_KEY_BYTES + 1).as_bytes()).is_err());
        assert!(RequestKey::parse("k".repeat(MAX_KEY_BYTES).as_bytes()).is_ok());
    }

    proptest::proptest! {
        #[test]
        fn no_input_panics_and_a_quoted_printable_key_round_trips(
            bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..64),
            key in "[ -~]{1,40}",
        ) {
            let _ = RequestKey::parse(&bytes);
            let quoted = format!("\"{}\"", key.replace('\\', "\\\\").replace('"', "\\\""));
            proptest::prop_assert_eq!(RequestKey::parse(quoted.as_bytes()).map(|k| k.0), Ok(key));
        }
    }
}
