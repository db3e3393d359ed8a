//! The proxy's HTTP servers: every request on the main address goes
//! through the guard to the upstream; the optional metrics address serves
//! `/metrics` (the guard's counters) and `/health`.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::extract::{ConnectInfo, Request, State};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use bytes::Bytes;
use idem_client::{Client, ClientConfig};
use idem_tower::{read_body, Guard};
use tokio::net::TcpListener;

use crate::error::ProxyError;
use crate::forward::Forwarder;
use crate::settings::ProxySettings;

/// The largest body of a request the guard does not protect (it is read
/// whole too).
pub const MAX_UNGUARDED_BYTES: usize = 16 << 20;

#[derive(Clone)]
struct App {
    guard: Guard,
    forwarder: Forwarder,
}

/// Binds both addresses, then serves until `shutdown` resolves.
pub async fn serve(
    settings: ProxySettings,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), ProxyError> {
    let config = ClientConfig {
        api_key: settings.api_key.clone(),
        tls: settings.tls.clone(),
        ..ClientConfig::default()
    };
    let client = Client::with_config(settings.nodes.clone(), config)
        .map_err(|e| ProxyError::Config(e.to_string()))?;
    let max_run = settings.guard.max_run_time;
    let guard = Guard::new(client.clone(), settings.guard.clone())
        .map_err(|e| ProxyError::Config(e.to_string()))?;
    let forwarder = Forwarder::new(&settings.upstream, max_run + Duration::from_secs(1))
        .map_err(ProxyError::Config)?;
    let listener =
        TcpListener::bind(settings.listen)
            .await
            .map_err(|source| ProxyError::Listen {
                addr: settings.listen,
                source,
            })?;
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let metrics_task = match settings.metrics_listen {
        Some(addr) => {
            let l = TcpListener::bind(addr)
                .await
                .map_err(|source| ProxyError::Listen { addr, source })?;
            let metrics = guard.metrics();
            let app = Router::new()
                .route("/metrics", get(move || async move { metrics.render() }))
                .route("/health", get(|| async { "ok\n" }));
            let mut rx = stop_rx.clone();
            Some(tokio::spawn(async move {
                axum::serve(l, app)
                    .with_graceful_shutdown(async move {
                        let _ = rx.wait_for(|stop| *stop).await;
                    })
                    .await
            }))
        }
        None => None,
    };
    tracing::info!(
        listen = %settings.listen,
        upstream = %settings.upstream,
        namespace = %settings.guard.namespace,
        "idem proxy serving"
    );
    let app = Router::new()
        .fallback(proxy)
        .with_state(Arc::new(App { guard, forwarder }));
    let served = axum::serve(
        listener,
        app.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown)
    .await;
    let _ = stop_tx.send(true);
    if let Some(task) = metrics_task {
        let _ = task.await;
    }
    // Leases dropped on the way out release their keys.
    client.close().await;
    served.map_err(ProxyError::Serve)
}

async fn proxy(
    State(app): State<Arc<App>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    req: Request,
) -> Response {
    let guarded = app.guard.config().guards(req.method());
    let limit = if guarded {
        app.guard.config().max_request_bytes
    } else {
        MAX_UNGUARDED_BYTES
    };
    let (parts, body) = req.into_parts();
    let body = match read_body(body, limit).await {
        Ok(b) => b,
        Err(why) => return into_axum(app.guard.refuse(&why)),
    };
    let req = http::Request::from_parts(parts, body);
    let forwarder = app.forwarder.clone();
    let answer = app
        .guard
        .handle(
            req,
            move |r| async move { forwarder.send(r, Some(peer)).await },
        )
        .await;
    into_axum(answer)
}

fn into_axum(r: http::Response<Bytes>) -> Response {
    r.map(Body::from).into_response()
}
