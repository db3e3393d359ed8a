//! `idem-bench-upstream`: the fastest HTTP service worth measuring a proxy
//! against. Every `POST` answers 201 with a small JSON body naming the
//! request's number; anything else 404. One hyper HTTP/1.1 server, keep-alive.
//!
//!     idem-bench-upstream --listen 127.0.0.1:9001

use std::convert::Infallible;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;

#[derive(clap::Parser)]
struct Args {
    #[arg(long, default_value = "127.0.0.1:9001")]
    listen: String,
}

async fn answer(
    count: Arc<AtomicU64>,
    req: Request<hyper::body::Incoming>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let method = req.method().clone();
    // Read the body whole, as a real service would.
    let _ = req.into_body().collect().await;
    let (status, body) = if method == Method::POST {
        let n = count.fetch_add(1, Ordering::Relaxed) + 1;
        (
            StatusCode::CREATED,
            format!("{{\"charge\":\"ch_{n}\",\"ok\":true}}"),
        )
    } else {
        (
            StatusCode::NOT_FOUND,
            "{\"error\":\"POST only\"}".to_string(),
        )
    };
    let mut r = Response::new(Full::new(Bytes::from(body)));
    *r.status_mut() = status;
    r.headers_mut().insert(
        hyper::header::CONTENT_TYPE,
        hyper::header::HeaderValue::from_static("application/json"),
    );
    Ok(r)
}

#[tokio::main]
async fn main() -> Result<(), String> {
    let args = <Args as clap::Parser>::parse();
    let listener = TcpListener::bind(&args.listen)
        .await
        .map_err(|e| format!("{}: {e}", args.listen))?;
    let count = Arc::new(AtomicU64::new(0));
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        let _ = stream.set_nodelay(true);
        let count = count.clone();
        tokio::spawn(async move {
            let service = service_fn(move |req| answer(count.clone(), req));
            let _ = http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}
