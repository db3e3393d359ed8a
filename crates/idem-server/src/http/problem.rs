//! RFC 9457 problem details: the one shape every error response has.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde_json::{Map, Value};

/// The media type of every error response.
pub const PROBLEM_JSON: &str = "application/problem+json";

/// Prefix of every problem `type`: a URN that names the problem (it is not
/// meant to be dereferenced). The kinds are listed in docs/API.md.
pub const PROBLEM_TYPE_PREFIX: &str = "urn:idem:problem:";

/// An `application/problem+json` body, plus the headers that go with it.
#[derive(Debug, Clone, Serialize)]
pub struct Problem {
    /// `urn:idem:problem:<kind>`.
    #[serde(rename = "type")]
    pub problem_type: String,
    /// Short, fixed summary of the kind of problem.
    pub title: &'static str,
    pub status: u16,
    /// What went wrong with this request, and which rule it broke.
    pub detail: String,
    /// The request path, where it helps (unknown routes).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub instance: Option<String>,
    /// Machine-readable extras (for example `reason` and `current_token` of
    /// a lost key).
    #[serde(flatten)]
    pub extensions: Map<String, Value>,
    /// Sent as the `Retry-After` header (whole seconds) when set.
    #[serde(skip)]
    pub retry_after_secs: Option<u64>,
    /// A 401: sent with `WWW-Authenticate: Bearer` (RFC 6750).
    #[serde(skip)]
    pub www_authenticate: bool,
}

impl Problem {
    pub fn new(status: StatusCode, kind: &str, title: &'static str, detail: String) -> Self {
        Problem {
            problem_type: format!("{PROBLEM_TYPE_PREFIX}{kind}"),
            title,
            status: status.as_u16(),
            detail,
            instance: None,
            extensions: Map::new(),
            retry_after_secs: None,
            www_authenticate: false,
        }
    }

    pub fn with_extension(mut self, name: &str, value: impl Into<Value>) -> Self {
        self.extensions.insert(name.to_owned(), value.into());
        self
    }
}

impl IntoResponse for Problem {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let body = match serde_json::to_vec(&self) {
            Ok(body) => body,
            // Serialising strings, numbers and a JSON map cannot fail; keep a
            // valid body anyway.
            Err(_) => {
                br#"{"type":"about:blank","title":"Internal Server Error","status":500}"#.to_vec()
            }
        };
        let mut response = (
            status,
            [(header::CONTENT_TYPE, HeaderValue::from_static(PROBLEM_JSON))],
            body,
        )
            .into_response();
        if let Some(secs) = self.retry_after_secs {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        if self.www_authenticate {
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"idem\""),
            );
        }
        response
    }
}
