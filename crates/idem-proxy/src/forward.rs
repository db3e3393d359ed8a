//! Sending a request on to the upstream and reading its answer whole, with
//! hop-by-hop headers dropped both ways and `X-Forwarded-For` added. A
//! failure says whether the request left: a refused connection did not
//! (a retry is safe); anything after it may have.

use std::net::SocketAddr;
use std::time::Duration;

use bytes::Bytes;
use http::{header, HeaderMap, HeaderValue, Request};
use idem_tower::{UpstreamFailure, UpstreamResponse};

/// Headers that belong to one connection, never forwarded (RFC 9110 7.6.1).
const HOP_BY_HOP: [header::HeaderName; 8] = [
    header::CONNECTION,
    header::HeaderName::from_static("keep-alive"),
    header::PROXY_AUTHENTICATE,
    header::PROXY_AUTHORIZATION,
    header::TE,
    header::TRAILER,
    header::TRANSFER_ENCODING,
    header::UPGRADE,
];

#[derive(Clone)]
pub struct Forwarder {
    http: reqwest::Client,
    base: String,
}

impl Forwarder {
    /// `timeout` bounds a whole call (the guard bounds guarded ones itself).
    pub fn new(base: &str, timeout: Duration) -> Result<Forwarder, String> {
        let http = reqwest::Client::builder()
            // An idle connection the upstream may already have closed is a
            // request that fails after it was written: keep idle ones short.
            .pool_idle_timeout(Duration::from_secs(1))
            .timeout(timeout)
            .redirect(reqwest::redirect::Policy::none())
            // An https:// upstream is checked against the system's roots.
            .tls_backend_preconfigured(
                idem_client::ClientTls::default()
                    .config_for(base.starts_with("https://"))
                    .map_err(|e| e.to_string())?,
            )
            .build()
            .map_err(|e| e.to_string())?;
        Ok(Forwarder {
            http,
            base: base.to_owned(),
        })
    }

    pub async fn send(
        &self,
        req: Request<Bytes>,
        peer: Option<SocketAddr>,
    ) -> Result<UpstreamResponse, UpstreamFailure> {
        let (parts, body) = req.into_parts();
        let path = parts.uri.path_and_query().map_or("/", |p| p.as_str());
        let url = format!("{}{path}", self.base);
        let mut headers = parts.headers;
        strip_hop_by_hop(&mut headers);
        let host = headers.remove(header::HOST);
        if let Some(h) = host {
            headers.insert("x-forwarded-host", h);
        }
        if let Some(peer) = peer {
            let ip = peer.ip().to_string();
            let value = match headers.get("x-forwarded-for").and_then(|v| v.to_str().ok()) {
                Some(prior) => format!("{prior}, {ip}"),
                None => ip,
            };
            if let Ok(v) = HeaderValue::try_from(value) {
                headers.insert("x-forwarded-for", v);
            }
        }
        let sent = self
            .http
            .request(parts.method, url)
            .headers(headers)
            .body(body)
            .send()
            .await
            .map_err(classify)?;
        let status = sent.status();
        let mut headers = sent.headers().clone();
        strip_hop_by_hop(&mut headers);
        headers.remove(header::CONTENT_LENGTH);
        let body = sent
            .bytes()
            .await
            .map_err(|e| UpstreamFailure::MaybeSent(format!("reading the answer: {e}")))?;
        Ok(UpstreamResponse {
            status,
            headers,
            body,
        })
    }
}

/// Only a failure to connect certainly left the upstream untouched.
fn classify(e: reqwest::Error) -> UpstreamFailure {
    if e.is_connect() {
        UpstreamFailure::NotSent(e.to_string())
    } else if e.is_timeout() {
        UpstreamFailure::MaybeSent(format!("no answer in time: {e}"))
    } else {
        UpstreamFailure::MaybeSent(e.to_string())
    }
}

fn strip_hop_by_hop(headers: &mut HeaderMap) {
    // Headers the Connection header names are hop-by-hop too.
    let named: Vec<header::HeaderName> = headers
        .get_all(header::CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|n| header::HeaderName::try_from(n.trim()).ok())
        .collect();
    for name in HOP_BY_HOP.iter().chain(&named) {
        headers.remove(name);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hop_by_hop_headers_and_those_connection_names_are_dropped() {
        let mut h = HeaderMap::new();
        h.insert(
            header::CONNECTION,
            HeaderValue::from_static("keep-alive, x-secret-hop"),
        );
        h.insert("keep-alive", HeaderValue::from_static("timeout=5"));
        h.insert("x-secret-hop", HeaderValue::from_static("1"));
        h.insert(
            header::TRANSFER_ENCODING,
            HeaderValue::from_static("chunked"),
        );
        h.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        strip_hop_by_hop(&mut h);
        assert_eq!(h.len(), 1, "{h:?}");
        assert!(h.contains_key(header::CONTENT_TYPE));
    }
}
