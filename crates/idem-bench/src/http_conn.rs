//! One HTTP/1.1 keep-alive connection with one request in flight, over TLS
//! for an `https://` endpoint. A broken or timed-out connection is dropped
//! and the next request opens a new one.

use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::client::conn::http1::{self, SendRequest};
use hyper::header::{AUTHORIZATION, CONTENT_TYPE, HOST};
use hyper::{Method, Request};
use hyper_util::rt::TokioIo;
use rustls_pki_types::ServerName;
use tokio::net::TcpStream;

use crate::error::OpError;
use crate::https::HttpsConnector;
use crate::plan::Endpoint;

/// Replies larger than this are refused (the workloads' replies are small).
const MAX_REPLY_BYTES: usize = 4 * 1024 * 1024;

/// A status and the whole body.
#[derive(Debug, Clone)]
pub struct HttpReply {
    pub status: u16,
    pub body: Bytes,
}

/// A keep-alive connection to one endpoint.
pub struct HttpConnection {
    endpoint: Endpoint,
    timeout: Duration,
    sender: Option<SendRequest<Full<Bytes>>>,
    /// `Authorization` sent with every request.
    authorization: Option<String>,
    tls: Option<HttpsConnector>,
}

impl HttpConnection {
    pub fn new(endpoint: Endpoint, timeout: Duration) -> HttpConnection {
        HttpConnection {
            endpoint,
            timeout,
            sender: None,
            authorization: None,
            tls: None,
        }
    }

    /// This connection, speaking TLS with `tls` if its endpoint is https.
    pub fn with_tls(mut self, tls: Option<HttpsConnector>) -> HttpConnection {
        self.tls = tls;
        self
    }

    /// This connection, sending `key` as a bearer token with every request.
    pub fn with_api_key(mut self, key: Option<&str>) -> HttpConnection {
        self.authorization = key.map(|k| format!("Bearer {k}"));
        self
    }

    /// `POST path` with a JSON body; the whole exchange (connecting if need
    /// be) is bounded by the timeout.
    pub async fn post_json(&mut self, path: &str, body: Vec<u8>) -> Result<HttpReply, OpError> {
        self.post_json_with(path, &[], body).await
    }

    /// [`HttpConnection::post_json`] with extra request headers.
    pub async fn post_json_with(
        &mut self,
        path: &str,
        headers: &[(&str, &str)],
        body: Vec<u8>,
    ) -> Result<HttpReply, OpError> {
        match tokio::time::timeout(self.timeout, self.exchange(path, headers, body)).await {
            Ok(Ok(reply)) => Ok(reply),
            Ok(Err(error)) => {
                self.sender = None;
                Err(error)
            }
            Err(_elapsed) => {
                self.sender = None;
                Err(OpError::Timeout)
            }
        }
    }

    async fn exchange(
        &mut self,
        path: &str,
        headers: &[(&str, &str)],
        body: Vec<u8>,
    ) -> Result<HttpReply, OpError> {
        let open = matches!(&self.sender, Some(sender) if !sender.is_closed());
        if !open {
            let tls = self.tls.as_ref().filter(|_| self.endpoint.https);
            self.sender = Some(connect(&self.endpoint.authority, tls).await?);
        }
        let sender = self
            .sender
            .as_mut()
            .ok_or_else(|| OpError::transport("no connection"))?;
        let mut request = Request::builder()
            .method(Method::POST)
            .uri(path)
            .header(HOST, &self.endpoint.authority)
            .header(CONTENT_TYPE, "application/json");
        if let Some(value) = &self.authorization {
            request = request.header(AUTHORIZATION, value);
        }
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let request = request
            .body(Full::new(Bytes::from(body)))
            .map_err(OpError::protocol)?;
        sender.ready().await.map_err(OpError::transport)?;
        let response = sender
            .send_request(request)
            .await
            .map_err(OpError::transport)?;
        let status = response.status().as_u16();
        let body = Limited::new(response.into_body(), MAX_REPLY_BYTES)
            .collect()
            .await
            .map_err(OpError::transport)?
            .to_bytes();
        Ok(HttpReply { status, body })
    }
}

async fn connect(
    authority: &str,
    tls: Option<&HttpsConnector>,
) -> Result<SendRequest<Full<Bytes>>, OpError> {
    let stream = TcpStream::connect(authority)
        .await
        .map_err(|e| OpError::transport(format!("connect {authority}: {e}")))?;
    stream.set_nodelay(true).map_err(OpError::transport)?;
    let Some(HttpsConnector(tls)) = tls else {
        return handshake(stream).await;
    };
    let host = authority
        .rsplit_once(':')
        .map_or(authority, |(host, _)| host);
    let name = ServerName::try_from(host.to_owned())
        .map_err(|e| OpError::transport(format!("{host}: {e}")))?;
    let stream = tls
        .connect(name, stream)
        .await
        .map_err(|e| OpError::transport(format!("TLS to {authority}: {e}")))?;
    handshake(stream).await
}

async fn handshake<Io>(io: Io) -> Result<SendRequest<Full<Bytes>>, OpError>
where
    Io: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let (sender, connection) = http1::handshake(TokioIo::new(io))
        .await
        .map_err(OpError::transport)?;
    // Drives the connection; ends when the sender is dropped or the peer closes.
    tokio::spawn(async move {
        let _ = connection.await;
    });
    Ok(sender)
}
