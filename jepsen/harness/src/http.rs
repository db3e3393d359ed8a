//! One client's HTTP/1.1 keep-alive connection to one node. What matters
//! for the history is whether a failed request may have reached idem: a
//! refused connection certainly did not (`NotSent`); anything after the
//! request left may have (`Indeterminate`). Over HTTPS once the run's TLS
//! is loaded ([`crate::client_tls`]).

use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::client::conn::http1::{self, SendRequest};
use hyper::header::{AUTHORIZATION, CONTENT_TYPE, HOST};
use hyper::{Method, Request};
use hyper_util::rt::TokioIo;
use rustls_pki_types::ServerName;
use tokio::net::TcpStream;

const MAX_REPLY_BYTES: usize = 1024 * 1024;

#[derive(Debug)]
pub enum RequestError {
    /// The request never left: it cannot have happened.
    NotSent(String),
    /// It may or may not have been carried out.
    Indeterminate(String),
}

pub struct Reply {
    pub status: u16,
    pub body: Bytes,
}

pub struct Connection {
    authority: String,
    timeout: Duration,
    sender: Option<SendRequest<Full<Bytes>>>,
    /// Sent as `Authorization: Bearer`.
    key: Option<String>,
}

impl Connection {
    /// A connection sending the harness's client key (once made).
    pub fn new(authority: String, timeout: Duration) -> Self {
        Connection {
            authority,
            timeout,
            sender: None,
            key: crate::client_keys::keys().map(|k| k.client.clone()),
        }
    }

    /// This connection, sending `key` instead.
    pub fn with_key(mut self, key: Option<String>) -> Self {
        self.key = key;
        self
    }

    /// Drops the connection; the next request opens a new one.
    pub fn reset(&mut self) {
        self.sender = None;
    }

    pub async fn send(
        &mut self,
        method: Method,
        path: &str,
        body: Option<Vec<u8>>,
    ) -> Result<Reply, RequestError> {
        self.send_within(method, path, body, self.timeout).await
    }

    /// [`Connection::send`], giving up (and dropping the connection) after
    /// `timeout`.
    pub async fn send_within(
        &mut self,
        method: Method,
        path: &str,
        body: Option<Vec<u8>>,
        timeout: std::time::Duration,
    ) -> Result<Reply, RequestError> {
        let result = tokio::time::timeout(timeout, self.exchange(method, path, body)).await;
        match result {
            Ok(Ok(reply)) => Ok(reply),
            Ok(Err(e)) => {
                self.sender = None;
                Err(e)
            }
            Err(_) => {
                self.sender = None;
                Err(RequestError::Indeterminate(format!(
                    "no answer within {timeout:?}"
                )))
            }
        }
    }

    async fn exchange(
        &mut self,
        method: Method,
        path: &str,
        body: Option<Vec<u8>>,
    ) -> Result<Reply, RequestError> {
        if !matches!(&self.sender, Some(s) if !s.is_closed()) {
            self.sender = Some(self.connect().await?);
        }
        let Some(sender) = self.sender.as_mut() else {
            return Err(RequestError::NotSent("no connection".into()));
        };
        let mut request = Request::builder()
            .method(method)
            .uri(path)
            .header(HOST, &self.authority);
        if body.is_some() {
            request = request.header(CONTENT_TYPE, "application/json");
        }
        if let Some(key) = &self.key {
            request = request.header(AUTHORIZATION, format!("Bearer {key}"));
        }
        let request = request
            .body(Full::new(Bytes::from(body.unwrap_or_default())))
            .map_err(|e| RequestError::NotSent(e.to_string()))?;
        // A kept-alive connection the node closed (it restarted) fails here,
        // before anything was written.
        sender
            .ready()
            .await
            .map_err(|e| RequestError::NotSent(e.to_string()))?;
        let response = sender
            .send_request(request)
            .await
            .map_err(|e| RequestError::Indeterminate(e.to_string()))?;
        let status = response.status().as_u16();
        let body = Limited::new(response.into_body(), MAX_REPLY_BYTES)
            .collect()
            .await
            .map_err(|e| RequestError::Indeterminate(e.to_string()))?
            .to_bytes();
        Ok(Reply { status, body })
    }

    async fn connect(&self) -> Result<SendRequest<Full<Bytes>>, RequestError> {
        let stream = TcpStream::connect(&self.authority)
            .await
            .map_err(|e| RequestError::NotSent(format!("connect {}: {e}", self.authority)))?;
        let _ = stream.set_nodelay(true);
        let Some(tls) = crate::client_tls::tls() else {
            return handshake(stream).await;
        };
        let host = self
            .authority
            .rsplit_once(':')
            .map_or(self.authority.as_str(), |(host, _)| host);
        let name = ServerName::try_from(host.to_owned())
            .map_err(|e| RequestError::NotSent(format!("{host}: {e}")))?;
        // Nothing of the request has left before the handshake ends.
        let stream = tls
            .connector
            .connect(name, stream)
            .await
            .map_err(|e| RequestError::NotSent(format!("TLS to {}: {e}", self.authority)))?;
        handshake(stream).await
    }
}

async fn handshake<Io>(io: Io) -> Result<SendRequest<Full<Bytes>>, RequestError>
where
    Io: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let (sender, conn) = http1::handshake(TokioIo::new(io))
        .await
        .map_err(|e| RequestError::NotSent(e.to_string()))?;
    tokio::spawn(async move {
        let _ = conn.await;
    });
    Ok(sender)
}
