//! An upstream answer as idem stores it, and back. The status and the
//! configured headers are stored as they are; the body as text when it is
//! UTF-8 and as base64 otherwise (marked by a header of ours), so any body
//! replays byte for byte. An answer too large to store is stored as a
//! marker with its status and size, so a retry learns it ran (and is told
//! so) instead of running again.

use std::collections::BTreeMap;

use base64::Engine as _;
use bytes::Bytes;
use http::{HeaderMap, HeaderName, HeaderValue, StatusCode};
use idem_client::StoredResponse;

/// Marks a base64 body.
pub const BODY_ENCODING_HEADER: &str = "idem-body-encoding";
/// Marks an answer that was too large to store; its value is the body's
/// size in bytes.
pub const TOO_LARGE_HEADER: &str = "idem-response-too-large";

/// What the upstream answered, read whole.
#[derive(Debug, Clone, PartialEq)]
pub struct UpstreamResponse {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Bytes,
}

/// A stored answer, ready to send again.
#[derive(Debug, Clone, PartialEq)]
pub enum Replay {
    /// The answer, as the upstream gave it (the stored headers only).
    Answer(UpstreamResponse),
    /// It ran, but its answer was too large to keep.
    TooLarge { status: u16, bytes: u64 },
    /// The record does not decode (not written by a guard, or damaged).
    Unreadable(String),
}

/// The answer to store: the configured headers, the body as text or
/// base64, or the too-large marker when the body exceeds `max_bytes`.
pub fn to_stored(
    answer: &UpstreamResponse,
    stored_headers: &[HeaderName],
    max_bytes: usize,
) -> StoredResponse {
    let status = answer.status.as_u16();
    if answer.body.len() > max_bytes {
        return too_large(status, answer.body.len());
    }
    let mut headers = BTreeMap::new();
    for name in stored_headers {
        let values: Vec<&str> = answer
            .headers
            .get_all(name)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .collect();
        if !values.is_empty() {
            headers.insert(name.as_str().to_owned(), values.join(", "));
        }
    }
    let body = match std::str::from_utf8(&answer.body) {
        Ok(text) => text.to_owned(),
        Err(_) => {
            headers.insert(BODY_ENCODING_HEADER.to_owned(), "base64".to_owned());
            base64::engine::general_purpose::STANDARD.encode(&answer.body)
        }
    };
    // Header names and values came from a parsed HTTP response and were
    // filtered to visible text, so the checks pass; if not, keep the marker.
    StoredResponse::new(status, headers, body)
        .unwrap_or_else(|_| too_large(status, answer.body.len()))
}

/// The marker for an answer of `bytes` bytes that was not stored (a status
/// idem cannot store, outside 100-599, is kept as 502).
pub fn too_large(status: u16, bytes: usize) -> StoredResponse {
    let status = if (100..=599).contains(&status) {
        status
    } else {
        502
    };
    let headers = BTreeMap::from([(TOO_LARGE_HEADER.to_owned(), bytes.to_string())]);
    StoredResponse::new(status, headers, "")
        .expect("a valid status and one token-named header with a number make a valid response")
}

/// A stored answer as it is sent again.
pub fn replay(stored: &StoredResponse) -> Replay {
    let headers_in = stored.headers();
    if let Some(size) = headers_in.get(TOO_LARGE_HEADER) {
        return Replay::TooLarge {
            status: stored.status(),
            bytes: size.parse().unwrap_or(0),
        };
    }
    let Ok(status) = StatusCode::from_u16(stored.status()) else {
        return Replay::Unreadable(format!("status {}", stored.status()));
    };
    let body = match headers_in.get(BODY_ENCODING_HEADER).map(String::as_str) {
        None => Bytes::copy_from_slice(stored.body().as_bytes()),
        Some("base64") => match base64::engine::general_purpose::STANDARD.decode(stored.body()) {
            Ok(b) => Bytes::from(b),
            Err(e) => return Replay::Unreadable(format!("base64 body: {e}")),
        },
        Some(other) => return Replay::Unreadable(format!("body encoding {other:?}")),
    };
    let mut headers = HeaderMap::new();
    for (name, value) in headers_in {
        if name == BODY_ENCODING_HEADER {
            continue;
        }
        match (
            HeaderName::try_from(name.as_str()),
            HeaderValue::try_from(value.as_str()),
        ) {
            (Ok(n), Ok(v)) => {
                headers.append(n, v);
            }
            _ => return Replay::Unreadable(format!("header {name:?}")),
        }
    }
    Replay::Answer(UpstreamResponse {
        status,
        headers,
        body,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(status: u16, headers: &[(&str, &str)], body: &[u8]) -> UpstreamResponse {
        let mut h = HeaderMap::new();
        for (n, v) in headers {
            h.append(
                HeaderName::try_from(*n).unwrap(),
                HeaderValue::try_from(*v).unwrap(),
            );
        }
        UpstreamResponse {
            status: StatusCode::from_u16(status).unwrap(),
            headers: h,
            body: Bytes::copy_from_slice(body),
        }
    }

    fn names(n: &[&'static str]) -> Vec<HeaderName> {
        n.iter().map(|s| HeaderName::from_static(s)).collect()
    }

    #[test]
    fn text_and_binary_bodies_replay_byte_for_byte_with_the_configured_headers() {
        let stored_headers = names(&["content-type", "location"]);
        for body in [
            &b"{\"charge\":\"ch_1\"}"[..],
            &[0u8, 159, 146, 150, 255][..],
            b"",
        ] {
            let a = answer(
                201,
                &[
                    ("content-type", "application/json"),
                    ("x-internal", "secret"),
                ],
                body,
            );
            let stored = to_stored(&a, &stored_headers, 1024);
            let Replay::Answer(UpstreamResponse {
                status,
                headers,
                body: replayed,
            }) = replay(&stored)
            else {
                panic!("{stored:?}")
            };
            assert_eq!(status, 201);
            assert_eq!(&replayed[..], body);
            assert_eq!(headers.get("content-type").unwrap(), "application/json");
            assert!(
                headers.get("x-internal").is_none(),
                "only configured headers"
            );
            assert!(
                headers.get(BODY_ENCODING_HEADER).is_none(),
                "our marker is not replayed"
            );
        }
    }

    #[test]
    fn an_answer_too_large_is_stored_as_a_marker() {
        let a = answer(200, &[], &[b'x'; 2000]);
        let stored = to_stored(&a, &[], 1000);
        assert_eq!(
            replay(&stored),
            Replay::TooLarge {
                status: 200,
                bytes: 2000
            }
        );
        assert!(stored.body().is_empty());
    }

    #[test]
    fn a_record_a_guard_did_not_write_is_unreadable_not_a_panic() {
        let bad = StoredResponse::new(
            200,
            BTreeMap::from([(BODY_ENCODING_HEADER.to_owned(), "base64".to_owned())]),
            "not base64 !",
        )
        .unwrap();
        assert!(matches!(replay(&bad), Replay::Unreadable(_)));
    }

    proptest::proptest! {
        #[test]
        fn any_body_round_trips(body in proptest::collection::vec(proptest::num::u8::ANY, 0..300)) {
            let a = answer(200, &[], &body);
            let stored = to_stored(&a, &[], 1 << 20);
            let Replay::Answer(UpstreamResponse { body: replayed, .. }) = replay(&stored) else {
                return Err(proptest::test_runner::TestCaseError::fail("not an answer"));
            };
            proptest::prop_assert_eq!(&replayed[..], &body[..]);
        }
    }
}
