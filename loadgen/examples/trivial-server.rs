//! A trivial HTTP server for benchmarking the generator: answers every request `200 ok` on one
//! thread. `cargo run --release -p loadgen --example trivial-server -- 127.0.0.1:18080`
//! (the default address).

fn main() -> std::io::Result<()> {
    let addr = match std::env::args().nth(1) {
        Some(a) => a.parse().map_err(std::io::Error::other)?,
        None => std::net::SocketAddr::from(([127, 0, 0, 1], 18080)),
    };
    loadgen::trivial::serve_blocking(addr)
}
