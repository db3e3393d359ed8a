//! The request a key stands for, as one digest: SHA-256 over the method,
//! the path and query, the configured headers and the body, each part
//! length-prefixed so that no two different requests share an encoding.
//! A key reused with a different request is refused with 422.

use http::{HeaderMap, HeaderName, Method};
use sha2::{Digest, Sha256};

use crate::scope::hex;

/// `sha256:<hex>`.
pub fn request_fingerprint(
    method: &Method,
    path_and_query: &str,
    headers: &HeaderMap,
    fingerprinted: &[HeaderName],
    body: &[u8],
) -> String {
    let mut h = Sha256::new();
    let mut part = |bytes: &[u8]| {
        h.update((bytes.len() as u64).to_be_bytes());
        h.update(bytes);
    };
    part(b"idem request v1");
    part(method.as_str().as_bytes());
    part(path_and_query.as_bytes());
    for name in fingerprinted {
        part(name.as_str().as_bytes());
        let values: Vec<&[u8]> = headers.get_all(name).iter().map(|v| v.as_bytes()).collect();
        part(&(values.len() as u64).to_be_bytes());
        for v in values {
            part(v);
        }
    }
    part(body);
    format!("sha256:{}", hex(&h.finalize()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    fn fp(
        method: Method,
        pq: &str,
        headers: &HeaderMap,
        names: &[HeaderName],
        body: &[u8],
    ) -> String {
        request_fingerprint(&method, pq, headers, names, body)
    }

    #[test]
    fn every_part_of_the_request_counts() {
        let none = HeaderMap::new();
        let base = fp(Method::POST, "/charge?x=1", &none, &[], b"{\"amount\":5}");
        assert_eq!(
            base,
            fp(Method::POST, "/charge?x=1", &none, &[], b"{\"amount\":5}")
        );
        assert!(base.starts_with("sha256:") && base.len() == 71);
        assert_ne!(
            base,
            fp(Method::PATCH, "/charge?x=1", &none, &[], b"{\"amount\":5}")
        );
        assert_ne!(
            base,
            fp(Method::POST, "/charge?x=2", &none, &[], b"{\"amount\":5}")
        );
        assert_ne!(
            base,
            fp(Method::POST, "/charge?x=1", &none, &[], b"{\"amount\":6}")
        );
        // Parts cannot bleed into each other.
        assert_ne!(
            fp(Method::POST, "/a", &none, &[], b"b"),
            fp(Method::POST, "/ab", &none, &[], b"")
        );
    }

    #[test]
    fn only_configured_headers_count() {
        let name = HeaderName::from_static("x-currency");
        let mut eur = HeaderMap::new();
        eur.insert(&name, HeaderValue::from_static("EUR"));
        eur.insert("x-trace", HeaderValue::from_static("1"));
        let mut usd = HeaderMap::new();
        usd.insert(&name, HeaderValue::from_static("USD"));
        let names = [name];
        assert_ne!(
            fp(Method::POST, "/c", &eur, &names, b""),
            fp(Method::POST, "/c", &usd, &names, b"")
        );
        assert_eq!(
            fp(Method::POST, "/c", &eur, &[], b""),
            fp(Method::POST, "/c", &usd, &[], b""),
            "unconfigured headers do not count"
        );
        assert_ne!(
            fp(Method::POST, "/c", &eur, &names, b""),
            fp(Method::POST, "/c", &HeaderMap::new(), &names, b""),
            "a missing header differs from a present one"
        );
    }
}
