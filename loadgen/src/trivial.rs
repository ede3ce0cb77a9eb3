//! A trivial HTTP/1.1 server (single-threaded runtime, keep-alive, `200 ok` with an
//! `x-fleetsim-pod: trivial` header), for the generator's tests and benchmarks (the
//! `trivial-server` example that `scripts/bench-loadgen` runs).

use bytes::Bytes;
use http::{Request, Response};
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use std::convert::Infallible;
use std::net::SocketAddr;

/// Serves `listener` until the task is dropped.
pub async fn serve(listener: tokio::net::TcpListener) -> std::io::Result<()> {
    loop {
        let (stream, _) = match listener.accept().await {
            Ok(x) => x,
            Err(e) => {
                // EMFILE and friends: back off instead of dying.
                eprintln!("trivial server: accept: {e}");
                tokio::time::sleep(std::time::Duration::from_millis(10)).await;
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        tokio::spawn(async move {
            let svc = service_fn(|_req: Request<Incoming>| async {
                Ok::<_, Infallible>(
                    Response::builder()
                        .header("x-fleetsim-pod", "trivial")
                        .body(Full::new(Bytes::from_static(b"ok\n")))
                        .expect("response"),
                )
            });
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), svc)
                .await;
        });
    }
}

/// Binds `addr` and serves on a runtime of its own, forever.
pub fn serve_blocking(addr: SocketAddr) -> std::io::Result<()> {
    let l = std::net::TcpListener::bind(addr)?;
    eprintln!("trivial server on {}", l.local_addr()?);
    serve_std_blocking(l)
}

/// Serves an already bound listener on a runtime of its own, forever (tests bind port 0 and
/// read the address first).
pub fn serve_std_blocking(listener: std::net::TcpListener) -> std::io::Result<()> {
    listener.set_nonblocking(true)?;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    rt.block_on(async { serve(tokio::net::TcpListener::from_std(listener)?).await })
}
