//! Responses the guard sends that are not problems: an upstream answer
//! passed on, and a stored answer replayed (marked `Idempotent-Replayed`).

use bytes::Bytes;
use http::{HeaderName, HeaderValue, Response};
use idem_client::StoredResponse;

use crate::problem::GuardProblem;
use crate::stored::{replay, Replay, UpstreamResponse};

/// The header every replay carries (an industry convention; the IETF draft
/// does not name one).
pub const REPLAYED_HEADER: HeaderName = HeaderName::from_static("idempotent-replayed");

/// The upstream's answer, as it came.
pub fn pass_on(answer: UpstreamResponse) -> Response<Bytes> {
    let mut r = Response::new(answer.body);
    *r.status_mut() = answer.status;
    *r.headers_mut() = answer.headers;
    r
}

/// A stored answer sent again.
pub fn replayed(stored: &StoredResponse) -> Response<Bytes> {
    let mut r = match replay(stored) {
        Replay::Answer(answer) => pass_on(answer),
        Replay::TooLarge { status, bytes } => {
            GuardProblem::too_large_to_replay(status, bytes).into_response()
        }
        Replay::Unreadable(why) => GuardProblem::unreadable_record(why).into_response(),
    };
    r.headers_mut()
        .insert(REPLAYED_HEADER, HeaderValue::from_static("true"));
    r
}
