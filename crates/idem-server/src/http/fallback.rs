//! Answers for requests no route takes: 404 and 405, as problem+json.

use axum::http::{Method, Uri};
use idem_core::IdemKey;

use crate::http::error::ApiError;

/// The actions on one key, as the last path segment.
const KEY_ACTIONS: [&str; 4] = ["reserve", "heartbeat", "complete", "release"];

/// Unknown route: 404, or 400 when the path is a key route with an empty
/// key (`/v1/ns/{ns}/keys//reserve`), which no route can match.
pub async fn not_found(method: Method, uri: Uri) -> ApiError {
    let path = uri.path();
    if is_empty_key_route(&method, path) {
        if let Err(empty) = IdemKey::new("") {
            return ApiError::Input(empty);
        }
    }
    let hint = if path.starts_with("/v1/ns/") {
        " (a key containing '/' must be sent percent-encoded as %2F)"
    } else {
        ""
    };
    ApiError::RouteNotFound {
        method: method.to_string(),
        path: path.to_owned(),
        hint,
    }
}

/// Known route, wrong method: 405 (axum adds the `Allow` header).
pub async fn method_not_allowed(method: Method, uri: Uri) -> ApiError {
    ApiError::MethodNotAllowed {
        method: method.to_string(),
        path: uri.path().to_owned(),
    }
}

/// `/v1/ns/{ns}/keys//{action}` or `GET /v1/ns/{ns}/keys/`.
fn is_empty_key_route(method: &Method, path: &str) -> bool {
    let segments: Vec<&str> = path.split('/').collect();
    match segments.as_slice() {
        ["", "v1", "ns", ns, "keys", "", action] => !ns.is_empty() && KEY_ACTIONS.contains(action),
        ["", "v1", "ns", ns, "keys", ""] => !ns.is_empty() && method == Method::GET,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_key_routes_are_recognised() {
        assert!(is_empty_key_route(&Method::POST, "/v1/ns/a/keys//reserve"));
        assert!(is_empty_key_route(&Method::GET, "/v1/ns/a/keys/"));
        assert!(!is_empty_key_route(&Method::POST, "/v1/ns/a/keys/"));
        assert!(!is_empty_key_route(
            &Method::POST,
            "/v1/ns/a/keys//frobnicate"
        ));
        assert!(!is_empty_key_route(&Method::POST, "/v1/ns//keys//reserve"));
    }
}
