//! Extractors for path names and JSON bodies. Every rejection is an
//! [`ApiError`], so it reaches the client as problem+json.

use axum::body::Bytes;
use axum::extract::rejection::RawPathParamsRejection;
use axum::extract::{FromRequest, FromRequestParts, RawPathParams, Request};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap};
use bytes::BytesMut;
use futures_util::StreamExt;
use idem_core::{ApiKeyId, IdemKey, KeyId, Namespace};
use serde::de::DeserializeOwned;

use crate::http::bodies::JsonObject;
use crate::http::error::ApiError;
use crate::http::limits::ApiLimits;

/// The `{ns}` of the path, percent-decoded and checked.
#[derive(Debug, Clone)]
pub struct NamespacePath(pub Namespace);

/// The `{ns}` and `{key}` of the path, percent-decoded and checked. A key
/// containing `/` arrives percent-encoded as `%2F` and is decoded here.
#[derive(Debug, Clone)]
pub struct KeyPath(pub KeyId);

/// A JSON request body. An empty body (with or without a Content-Type) reads
/// as `{}`; a non-empty one must be `application/json` (or `+json`).
#[derive(Debug, Clone)]
pub struct JsonBody<T>(pub T);

/// The decoded value of path parameter `name`.
pub(crate) async fn path_param<S: Send + Sync>(
    parts: &mut Parts,
    state: &S,
    name: &str,
) -> Result<String, ApiError> {
    let params = RawPathParams::from_request_parts(parts, state)
        .await
        .map_err(|rejection| match rejection {
            RawPathParamsRejection::InvalidUtf8InPathParam(_) => ApiError::InvalidPath(format!(
                "{}: namespaces and keys must be UTF-8 once percent-decoded",
                rejection.body_text()
            )),
            other => ApiError::InvalidPath(other.body_text()),
        })?;
    params
        .iter()
        .find(|(param, _)| *param == name)
        .map(|(_, value)| value.to_owned())
        .ok_or_else(|| ApiError::InvalidPath(format!("the path has no {name} segment")))
}

/// The `{id}` of a member path: a positive node id.
#[derive(Debug, Clone, Copy)]
pub struct MemberIdPath(pub u64);

impl<S: Send + Sync> FromRequestParts<S> for MemberIdPath {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        let raw = path_param(parts, state, "id").await?;
        raw.parse::<u64>()
            .ok()
            .filter(|id| *id > 0)
            .map(MemberIdPath)
            .ok_or_else(|| {
                ApiError::InvalidMember(format!("member id must be a positive number, got {raw:?}"))
            })
    }
}

/// The `{id}` of an API key path: 16 lowercase hex digits.
#[derive(Debug, Clone)]
pub struct ApiKeyIdPath(pub ApiKeyId);

impl<S: Send + Sync> FromRequestParts<S> for ApiKeyIdPath {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        let raw = path_param(parts, state, "id").await?;
        ApiKeyId::new(raw.clone()).map(ApiKeyIdPath).map_err(|_| {
            ApiError::InvalidApiKeyRequest(format!(
                "an API key id is 16 lowercase hex digits, got {raw:?}"
            ))
        })
    }
}

impl<S: Send + Sync> FromRequestParts<S> for NamespacePath {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        let ns = path_param(parts, state, "ns").await?;
        Ok(NamespacePath(Namespace::new(ns)?))
    }
}

impl<S: Send + Sync> FromRequestParts<S> for KeyPath {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        let NamespacePath(namespace) = NamespacePath::from_request_parts(parts, state).await?;
        let key = IdemKey::new(path_param(parts, state, "key").await?)?;
        Ok(KeyPath(KeyId::new(namespace, key)))
    }
}

impl<S, T> FromRequest<S> for JsonBody<T>
where
    S: Send + Sync,
    T: DeserializeOwned,
    ApiLimits: axum::extract::FromRef<S>,
{
    type Rejection = ApiError;

    async fn from_request(request: Request, _state: &S) -> Result<Self, ApiError> {
        let limits = <ApiLimits as axum::extract::FromRef<S>>::from_ref(_state);
        let headers = request.headers().clone();
        let read = read_body(request.into_body(), declared_length(&headers), &limits);
        let bytes = tokio::time::timeout(limits.body_read_timeout, read)
            .await
            .map_err(|_| ApiError::BodyTimeout {
                after: limits.body_read_timeout,
            })??;
        if bytes.is_empty() {
            return parse_json(b"{}").map(JsonBody);
        }
        check_json_content_type(&headers)?;
        parse_json(&bytes).map(JsonBody)
    }
}

/// The `Content-Length` the client declared, if it is a number: a body
/// declared over the limit is refused before it is read.
fn declared_length(headers: &HeaderMap) -> Option<u64> {
    headers
        .get(header::CONTENT_LENGTH)?
        .to_str()
        .ok()?
        .trim()
        .parse()
        .ok()
}

/// The whole body, if it is within the limit. A body over it is still
/// read to its end and thrown away, up to [`ApiLimits::MAX_DRAINED_BYTES`],
/// before the 413 is answered: a client that writes its whole body before
/// it reads (most do) then reads its 413, where closing at once would
/// reset the connection under it. A body declared or found larger than
/// that is not read further (the connection closes after the 413).
async fn read_body(
    body: axum::body::Body,
    declared: Option<u64>,
    limits: &ApiLimits,
) -> Result<Bytes, ApiError> {
    let limit = limits.max_request_body_bytes;
    let too_large = ApiError::BodyTooLarge { limit };
    let drain_until = (limit as u64).saturating_add(ApiLimits::MAX_DRAINED_BYTES);
    if declared.is_some_and(|n| n > drain_until) {
        return Err(too_large);
    }
    let mut stream = body.into_data_stream();
    let mut kept = BytesMut::new();
    let mut seen: u64 = 0;
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|e| ApiError::UnreadableBody(e.to_string()))?;
        seen = seen.saturating_add(chunk.len() as u64);
        if seen > drain_until {
            return Err(too_large);
        }
        if seen <= limit as u64 {
            kept.extend_from_slice(&chunk);
        }
    }
    if seen > limit as u64 || declared.is_some_and(|n| n > limit as u64) {
        return Err(too_large);
    }
    Ok(kept.freeze())
}

/// Accepts `application/json` and `application/<anything>+json`, with any
/// parameters (such as `charset=utf-8`).
fn check_json_content_type(headers: &HeaderMap) -> Result<(), ApiError> {
    let Some(value) = headers.get(header::CONTENT_TYPE) else {
        return Err(ApiError::UnsupportedMediaType {
            got: "no Content-Type".to_owned(),
        });
    };
    let text = value.to_str().unwrap_or("");
    let essence = text
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    let is_json = essence == "application/json"
        || (essence.starts_with("application/") && essence.ends_with("+json"));
    if is_json {
        Ok(())
    } else {
        Err(ApiError::UnsupportedMediaType {
            got: format!(
                "Content-Type {:?}",
                String::from_utf8_lossy(value.as_bytes())
            ),
        })
    }
}

/// Parses a whole body (a JSON object), naming the field where its shape is
/// wrong.
fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let mut deserializer = serde_json::Deserializer::from_slice(bytes);
    let JsonObject(value) =
        serde_path_to_error::deserialize(&mut deserializer).map_err(|error| {
            let path = error.path().to_string();
            let inner = error.into_inner();
            json_error(&path, &inner)
        })?;
    deserializer
        .end()
        .map_err(|error| json_error(".", &error))?;
    Ok(value)
}

fn json_error(path: &str, error: &serde_json::Error) -> ApiError {
    use serde_json::error::Category;
    match error.classify() {
        Category::Data if path == "." => ApiError::BodyShape(error.to_string()),
        Category::Data => ApiError::BodyShape(format!("{path}: {error}")),
        Category::Syntax | Category::Eof | Category::Io => {
            ApiError::MalformedJson(error.to_string())
        }
    }
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;

    use super::*;

    fn with_content_type(value: &'static str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(value));
        headers
    }

    #[test]
    fn json_content_types_are_accepted() {
        for ok in [
            "application/json",
            "application/json; charset=utf-8",
            "Application/JSON",
            "application/merge-patch+json",
        ] {
            assert!(
                check_json_content_type(&with_content_type(ok)).is_ok(),
                "{ok}"
            );
        }
    }

    #[test]
    fn other_content_types_are_refused() {
        for bad in [
            "text/plain",
            "application/x-www-form-urlencoded",
            "json",
            "application/jsonx",
        ] {
            assert!(
                check_json_content_type(&with_content_type(bad)).is_err(),
                "{bad}"
            );
        }
        assert!(check_json_content_type(&HeaderMap::new()).is_err());
    }

    /// Every request body the API parses, from any bytes: a value or a 4xx
    /// error, never a panic.
    fn parse_every_body(bytes: &[u8]) {
        use crate::http::api_keys::{CreateKeyRequest, RotateKeyRequest};
        use crate::http::bodies::*;
        fn is_4xx<T>(r: Result<T, ApiError>) {
            if let Err(e) = r {
                let status = e.to_problem().status;
                assert!((400..500).contains(&status), "{e}: {status}");
            }
        }
        is_4xx(parse_json::<ReserveRequest>(bytes));
        is_4xx(parse_json::<HeartbeatRequest>(bytes));
        is_4xx(parse_json::<CompleteRequest>(bytes));
        is_4xx(parse_json::<ReleaseRequest>(bytes));
        is_4xx(parse_json::<PolicyRequest>(bytes));
        is_4xx(parse_json::<MintRequest>(bytes));
        is_4xx(parse_json::<DeriveRequest>(bytes));
        is_4xx(parse_json::<AddMemberRequest>(bytes));
        is_4xx(parse_json::<CreateKeyRequest>(bytes));
        is_4xx(parse_json::<RotateKeyRequest>(bytes));
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(2_000))]

        #[test]
        fn random_bytes_never_panic_a_body_parser(
            bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..256),
        ) {
            parse_every_body(&bytes);
        }

        #[test]
        fn json_like_text_never_panics_a_body_parser(
            text in "\\{[\"a-z_:0-9,\\[\\]{}. -]{0,80}\\}",
        ) {
            parse_every_body(text.as_bytes());
        }
    }
}
