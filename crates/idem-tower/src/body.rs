//! Reading a request body whole, up to a limit, as both faces must (the
//! fingerprint covers the body): too large is 413, unreadable is 400.

use bytes::Bytes;
use http_body::Body;
use http_body_util::{BodyExt, LengthLimitError, Limited};

use crate::error::RequestRefused;

/// The whole body, or why it is refused.
pub async fn read_body<B>(body: B, max: usize) -> Result<Bytes, RequestRefused>
where
    B: Body<Data = Bytes>,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    match Limited::new(body, max).collect().await {
        Ok(b) => Ok(b.to_bytes()),
        Err(e) if e.downcast_ref::<LengthLimitError>().is_some() => {
            Err(RequestRefused::BodyTooLarge { max })
        }
        Err(e) => Err(RequestRefused::BodyUnreadable(e.to_string())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::Full;

    #[tokio::test]
    async fn a_body_within_the_limit_is_read_and_one_beyond_it_refused() {
        let body = |n: usize| Full::new(Bytes::from(vec![b'x'; n]));
        assert_eq!(read_body(body(10), 10).await.map(|b| b.len()), Ok(10));
        assert_eq!(
            read_body(body(11), 10).await,
            Err(RequestRefused::BodyTooLarge { max: 10 })
        );
    }
}
