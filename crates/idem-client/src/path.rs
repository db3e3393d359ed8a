//! Paths of the API, with namespaces and keys percent-encoded.

/// Percent-encodes everything but RFC 3986's unreserved characters, so a
/// key with `/`, `?` or spaces is one path segment.
pub fn encode_segment(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

pub(crate) fn key_path(ns: &str, key: &str, action: &str) -> String {
    let (ns, key) = (encode_segment(ns), encode_segment(key));
    if action.is_empty() {
        format!("/v1/ns/{ns}/keys/{key}")
    } else {
        format!("/v1/ns/{ns}/keys/{key}/{action}")
    }
}

pub(crate) fn namespace_path(ns: &str, rest: &str) -> String {
    format!("/v1/ns/{}{rest}", encode_segment(ns))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reserved_characters_are_encoded() {
        assert_eq!(
            key_path("payments", "a/b c?ü", "reserve"),
            "/v1/ns/payments/keys/a%2Fb%20c%3F%C3%BC/reserve"
        );
        assert_eq!(key_path("n", "k-1_.~", ""), "/v1/ns/n/keys/k-1_.~");
    }
}
