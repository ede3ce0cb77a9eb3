//! Outcome classification: an HTTP status (plus whether `Retry-After` was present), or an error
//! whose `source()` chain is walked down to the `io::ErrorKind` / raw OS error.
//!
//! Errors caused by the generator's own machine (out of file descriptors, out of local ports,
//! buffer space) are not the deploy's fault: they classify as `other` AND flag a generator fault,
//! which invalidates the run instead of being blamed on the rollout.

use measure::Outcome;
use std::error::Error as StdError;
use std::io;

/// Outcome of a complete HTTP response.
pub fn classify_status(status: u16, has_retry_after: bool) -> Outcome {
    Outcome::from_status(status, has_retry_after)
}

/// Result of classifying a transport error.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ErrorClass {
    /// The outcome class the error counts as (`refused`, `reset`, `timeout`, `other`).
    pub outcome: Outcome,
    /// The failure is the generator's own (fd/port exhaustion...), not the system under test's.
    pub generator_fault: bool,
}

impl ErrorClass {
    fn of(outcome: Outcome) -> Self {
        ErrorClass {
            outcome,
            generator_fault: false,
        }
    }
}

/// Classify a raw OS errno, if it is one we know.
pub fn classify_errno(code: i32) -> Option<ErrorClass> {
    Some(match code {
        libc::ECONNREFUSED => ErrorClass::of(Outcome::Refused),
        libc::ECONNRESET | libc::EPIPE | libc::ECONNABORTED => ErrorClass::of(Outcome::Reset),
        libc::ETIMEDOUT => ErrorClass::of(Outcome::Timeout),
        libc::EMFILE
        | libc::ENFILE
        | libc::EADDRNOTAVAIL
        | libc::EADDRINUSE
        | libc::ENOBUFS
        | libc::ENOMEM => ErrorClass {
            outcome: Outcome::Other,
            generator_fault: true,
        },
        _ => return None,
    })
}

/// Classify an `io::ErrorKind` (used when no raw OS error is attached).
pub(crate) fn classify_kind(kind: io::ErrorKind) -> Option<ErrorClass> {
    use io::ErrorKind::*;
    Some(match kind {
        ConnectionRefused => ErrorClass::of(Outcome::Refused),
        ConnectionReset | ConnectionAborted | BrokenPipe | UnexpectedEof | NotConnected => {
            ErrorClass::of(Outcome::Reset)
        }
        TimedOut => ErrorClass::of(Outcome::Timeout),
        AddrNotAvailable | AddrInUse | OutOfMemory => ErrorClass {
            outcome: Outcome::Other,
            generator_fault: true,
        },
        _ => return None,
    })
}

/// Walk the error chain. The deepest io error decides; a hyper error with no io cause is mapped by
/// its own predicates: an incomplete message (the connection closed before a full response, e.g. the
/// server closed an idle keep-alive as the request went out) and a canceled request (the connection
/// went away before the request was dispatched) are `reset`; a hyper timeout is `timeout`.
pub fn classify_error(err: &(dyn StdError + 'static)) -> ErrorClass {
    let mut found: Option<ErrorClass> = None;
    let mut hyper_class: Option<ErrorClass> = None;
    let mut cur: Option<&(dyn StdError + 'static)> = Some(err);
    while let Some(e) = cur {
        if let Some(ioe) = e.downcast_ref::<io::Error>() {
            let c = ioe
                .raw_os_error()
                .and_then(classify_errno)
                .or_else(|| classify_kind(ioe.kind()));
            if c.is_some() {
                found = c; // keep walking: a deeper io error wins
            }
        } else if let Some(he) = e.downcast_ref::<hyper::Error>() {
            if hyper_class.is_none() {
                hyper_class = if he.is_incomplete_message() || he.is_canceled() || he.is_closed() {
                    Some(ErrorClass::of(Outcome::Reset))
                } else if he.is_timeout() {
                    Some(ErrorClass::of(Outcome::Timeout))
                } else {
                    None
                };
            }
        } else if e.is::<tokio::time::error::Elapsed>() {
            found = Some(ErrorClass::of(Outcome::Timeout));
        }
        cur = e.source();
    }
    found
        .or(hyper_class)
        .unwrap_or(ErrorClass::of(Outcome::Other))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug)]
    struct Wrap(Box<dyn StdError + Send + Sync>);
    impl std::fmt::Display for Wrap {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            write!(f, "wrapped")
        }
    }
    impl StdError for Wrap {
        fn source(&self) -> Option<&(dyn StdError + 'static)> {
            Some(&*self.0)
        }
    }

    #[test]
    fn status_classes() {
        assert_eq!(classify_status(200, false), Outcome::Ok);
        assert_eq!(classify_status(204, true), Outcome::Ok);
        assert_eq!(classify_status(502, false), Outcome::Http502);
        assert_eq!(classify_status(503, false), Outcome::Http503);
        assert_eq!(classify_status(503, true), Outcome::Shed);
        assert_eq!(classify_status(504, false), Outcome::Http504);
        assert_eq!(classify_status(500, false), Outcome::Http5xxOther);
        assert_eq!(classify_status(404, false), Outcome::Other);
        assert_eq!(classify_status(302, false), Outcome::Other);
    }

    #[test]
    fn chain_walks_to_os_error() {
        let e = Wrap(Box::new(Wrap(Box::new(io::Error::from_raw_os_error(
            libc::ECONNREFUSED,
        )))));
        assert_eq!(classify_error(&e).outcome, Outcome::Refused);
        let e = Wrap(Box::new(io::Error::from_raw_os_error(libc::ECONNRESET)));
        assert_eq!(classify_error(&e).outcome, Outcome::Reset);
        let e = Wrap(Box::new(io::Error::from_raw_os_error(libc::EPIPE)));
        assert_eq!(classify_error(&e).outcome, Outcome::Reset);
        let e = Wrap(Box::new(io::Error::from_raw_os_error(libc::EMFILE)));
        let c = classify_error(&e);
        assert_eq!(c.outcome, Outcome::Other);
        assert!(c.generator_fault);
        let e = io::Error::new(io::ErrorKind::TimedOut, "t");
        assert_eq!(classify_error(&e).outcome, Outcome::Timeout);
        let e = io::Error::other("weird");
        assert_eq!(
            classify_error(&e),
            ErrorClass {
                outcome: Outcome::Other,
                generator_fault: false
            }
        );
    }
}
