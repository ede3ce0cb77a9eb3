//! Hostile and careless clients against the real service process: slowloris connections, more
//! connections than descriptors or than the cap, and fault injection asked for by a client.

mod common;

use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::os::unix::process::CommandExt;
use std::time::{Duration, Instant};

use common::*;

/// How a slowloris connection ended.
#[derive(Debug)]
struct Drip {
    /// The server closed the connection (EOF or reset) before the head was complete.
    closed_by_server: bool,
    bytes_sent: usize,
}

/// Send a request head one byte every `gap`, never finishing it, until the server closes the
/// connection or `give_up` passes.
fn slowloris(addr: SocketAddr, gap: Duration, give_up: Duration) -> Drip {
    let head = b"GET /work?ms=1 HTTP/1.1\r\nHost: slow\r\nX-Padding: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(gap)).unwrap();
    let deadline = Instant::now() + give_up;
    let mut sent = 0;
    let mut buf = [0u8; 256];
    while Instant::now() < deadline {
        if s.write_all(&head[sent % head.len()..][..1]).is_err() {
            return Drip {
                closed_by_server: true,
                bytes_sent: sent,
            };
        }
        sent += 1;
        match s.read(&mut buf) {
            Ok(0) => {
                return Drip {
                    closed_by_server: true,
                    bytes_sent: sent,
                };
            }
            Ok(_) => {} // an error response (408), then the close
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
            Err(_) => {
                return Drip {
                    closed_by_server: true,
                    bytes_sent: sent,
                };
            }
        }
    }
    Drip {
        closed_by_server: false,
        bytes_sent: sent,
    }
}

/// Connect and send nothing; true when the server closes the connection before `give_up`.
fn idle_until_closed(mut s: TcpStream, give_up: Duration) -> bool {
    s.set_read_timeout(Some(give_up)).unwrap();
    let mut buf = [0u8; 64];
    loop {
        match s.read(&mut buf) {
            Ok(0) => return true,
            Ok(_) => continue,
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                return false;
            }
            Err(_) => return true,
        }
    }
}

fn metric(addr: SocketAddr, name: &str) -> u64 {
    let body = get(addr, "/metrics").unwrap().body;
    body.lines()
        .find_map(|l| l.strip_prefix(name)?.trim().parse::<f64>().ok())
        .unwrap_or_else(|| panic!("no {name} in\n{body}")) as u64
}

/// Connections that send their head one byte at a time (and ones that send nothing) are closed
/// after the header-read timeout, while a normal client is served at once meanwhile.
#[test]
fn slowloris_connections_are_closed_after_the_header_read_timeout() {
    let svc = Svc::start(
        "slowloris",
        &[("FLEETSIM_HEADER_READ_TIMEOUT", "1s".to_string())],
    );
    svc.wait_ready(Duration::from_secs(10));
    let addr = svc.addr;
    let drips: Vec<_> = (0..20)
        .map(|_| {
            std::thread::spawn(move || {
                slowloris(addr, Duration::from_millis(200), Duration::from_secs(20))
            })
        })
        .collect();
    let idles: Vec<_> = (0..5)
        .map(|_| {
            let s = TcpStream::connect(addr).unwrap();
            std::thread::spawn(move || idle_until_closed(s, Duration::from_secs(20)))
        })
        .collect();
    // While they drip, a normal client is served.
    std::thread::sleep(Duration::from_millis(300));
    let r = get(addr, "/work?ms=1").unwrap();
    assert_eq!(r.status, 200, "{r:?}");
    let drips: Vec<Drip> = drips.into_iter().map(|h| h.join().unwrap()).collect();
    let idles: Vec<bool> = idles.into_iter().map(|h| h.join().unwrap()).collect();
    let max_sent = drips.iter().map(|d| d.bytes_sent).max().unwrap();
    println!(
        "20 slowloris (1 byte / 200 ms): closed by the server {} (at most {max_sent} bytes sent each); 5 idle: closed {}",
        drips.iter().filter(|d| d.closed_by_server).count(),
        idles.iter().filter(|c| **c).count()
    );
    assert!(
        drips.iter().all(|d| d.closed_by_server),
        "slowloris connections left open: {drips:?}\n{}",
        svc.dump()
    );
    assert!(idles.iter().all(|c| *c), "idle connections left open");
    assert!(
        metric(addr, "fleetsim_http_header_timeouts_total") >= 25,
        "{}",
        get(addr, "/metrics").unwrap().body
    );
    // And the service still serves.
    assert_eq!(get(addr, "/work?ms=1").unwrap().status, 200);
}

fn with_nofile(mut cmd: std::process::Command, limit: u64) -> std::process::Command {
    // SAFETY: setrlimit is async-signal-safe; the closure touches nothing else.
    unsafe {
        cmd.pre_exec(move || {
            let lim = libc::rlimit {
                rlim_cur: limit as libc::rlim_t,
                rlim_max: limit as libc::rlim_t,
            };
            if libc::setrlimit(libc::RLIMIT_NOFILE, &lim) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    cmd
}

/// With its descriptor limit at 64 and 100 clients that connect and send nothing, accept(2)
/// fails with EMFILE: the accept loop backs off and logs one line per episode (not one per
/// failure), the header-read timeout frees the descriptors, and a normal request is served.
#[test]
fn descriptor_exhaustion_backs_off_and_normal_requests_are_served() {
    let env = [("FLEETSIM_HEADER_READ_TIMEOUT", "1s".to_string())];
    let svc = Svc::spawn("nofile-64", with_nofile(service_cmd("nofile-64", &env), 64));
    svc.wait_ready(Duration::from_secs(10));
    assert!(
        svc.stderr
            .find(|l| l.contains("FLEETSIM_MAX_CONNECTIONS") && l.contains("descriptor limit 64"))
            .is_some(),
        "a cap above the descriptor limit is warned about at start: {}",
        svc.dump()
    );
    let addr = svc.addr;
    let idle: Vec<TcpStream> = (0..100)
        .map(|_| TcpStream::connect(addr).unwrap())
        .collect();
    std::thread::sleep(Duration::from_millis(300));
    let t0 = Instant::now();
    let r = {
        let mut s = TcpStream::connect(addr).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
        write_request(&mut s, "GET", "/work?ms=1", true).unwrap();
        read_response(&mut s)
    };
    let waited = t0.elapsed();
    let r = r.unwrap_or_else(|e| panic!("normal request failed: {e}\n{}", svc.dump()));
    assert_eq!(r.status, 200, "{r:?}");
    drop(idle);
    // Let the last episode end.
    wait_for("accept to recover", Duration::from_secs(10), || {
        let last = svc
            .stdout
            .json()
            .into_iter()
            .rfind(|v| v["event"] == "accept_backoff" || v["event"] == "accept_recovered")?;
        (last["event"] == "accept_recovered").then_some(())
    });
    let lines = svc.stdout.json();
    let started = lines
        .iter()
        .filter(|v| v["event"] == "accept_backoff")
        .count();
    let failures: u64 = lines
        .iter()
        .filter(|v| v["event"] == "accept_recovered")
        .map(|v| v["failures"].as_u64().unwrap())
        .sum();
    println!(
        "nofile 64, 100 idle clients: normal request served after {waited:?}; {failures} accept failures logged in {started} backoff lines"
    );
    assert!(failures >= 2, "EMFILE was expected: {}", svc.dump());
    assert!(
        started <= 5,
        "one line per backoff episode, not per failure: {started}\n{}",
        svc.dump()
    );
    assert!(
        !svc.stdout
            .all()
            .iter()
            .any(|l| l.contains("\"message\":\"accept failed\"")),
        "no per-failure accept failed lines"
    );
}

/// At FLEETSIM_MAX_CONNECTIONS the service stops accepting: the waiting client is served once a
/// slot frees (here when the header-read timeout closes the idle ones), and the cap is logged
/// once, not per connection.
#[test]
fn the_connection_cap_makes_new_clients_wait_not_fail() {
    let svc = Svc::start(
        "cap-4",
        &[
            ("FLEETSIM_MAX_CONNECTIONS", "4".to_string()),
            ("FLEETSIM_HEADER_READ_TIMEOUT", "1s".to_string()),
        ],
    );
    svc.wait_ready(Duration::from_secs(10));
    let addr = svc.addr;
    let idle: Vec<TcpStream> = (0..12).map(|_| TcpStream::connect(addr).unwrap()).collect();
    std::thread::sleep(Duration::from_millis(200));
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    write_request(&mut s, "GET", "/work?ms=1", true).unwrap();
    let r = read_response(&mut s).unwrap_or_else(|e| panic!("{e}\n{}", svc.dump()));
    assert_eq!(r.status, 200, "{r:?}");
    drop(idle);
    let cap_lines = svc
        .stdout
        .json()
        .into_iter()
        .filter(|v| v["event"] == "connection_cap")
        .count();
    let waits = metric(addr, "fleetsim_http_connection_cap_waits_total");
    println!("cap 4, 12 idle clients: {waits} waits at the cap, {cap_lines} log lines");
    assert!(waits >= 2, "the cap was reached several times: {waits}");
    assert_eq!(cap_lines, 1, "{}", svc.dump());
}

/// `block=true` needs FLEETSIM_FAULT_INJECTION; `ms` is the normal service time (the live
/// driver sends `/work?ms=50`), capped by FLEETSIM_MAX_WORK, blocking or not.
#[test]
fn fault_injection_is_refused_unless_switched_on() {
    let off = Svc::start("faults-off", &[]);
    off.wait_ready(Duration::from_secs(10));
    let r = get(off.addr, "/work?ms=10&block=true").unwrap();
    assert_eq!(r.status, 403, "{r:?}");
    assert!(r.body.contains("FLEETSIM_FAULT_INJECTION"), "{r:?}");
    let r = get(off.addr, "/work?ms=60001").unwrap();
    assert_eq!(r.status, 400, "{r:?}");
    assert!(r.body.contains("FLEETSIM_MAX_WORK"), "{r:?}");
    let r = get(off.addr, "/work?ms=1&block=yes").unwrap();
    assert_eq!(r.status, 400, "{r:?}");
    assert_eq!(get(off.addr, "/work?ms=50").unwrap().status, 200);
    assert_eq!(get(off.addr, "/work?ms=1&block=false").unwrap().status, 200);
    assert!(
        off.stdout
            .find(|l| l.contains("\"event\":\"blocking\""))
            .is_none(),
        "nothing blocked"
    );

    let on = Svc::start(
        "faults-on",
        &[
            ("FLEETSIM_FAULT_INJECTION", "true".to_string()),
            ("FLEETSIM_MAX_WORK", "2s".to_string()),
        ],
    );
    on.wait_ready(Duration::from_secs(10));
    let r = get(on.addr, "/work?ms=20&block=true").unwrap();
    assert_eq!(r.status, 200, "{r:?}");
    assert!(
        on.stdout
            .find(|l| l.contains("\"event\":\"blocking\""))
            .is_some(),
        "{}",
        on.dump()
    );
    let r = get(on.addr, "/work?ms=2001&block=true").unwrap();
    assert_eq!(r.status, 400, "the cap holds for blocking calls too: {r:?}");
}
