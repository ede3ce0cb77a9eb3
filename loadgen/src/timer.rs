//! A sub-millisecond sleep for the open-loop scheduler.
//!
//! tokio's timer wheel has 1 ms resolution, so `sleep_until` can wake a request up to ~1 ms late:
//! a built-in send lag that would hide under the "p99 send lag < 1 ms" bar. A Linux `timerfd`
//! registered with the runtime's reactor wakes within microseconds, without spinning a core.

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::time::Instant;
use tokio::io::unix::AsyncFd;

pub(crate) struct PreciseTimer {
    fd: AsyncFd<OwnedFd>,
}

/// Deadlines closer than this are not worth a syscall round trip.
const MIN_SLEEP_NS: u128 = 3_000;

impl PreciseTimer {
    pub(crate) fn new() -> io::Result<Self> {
        // SAFETY: plain syscall; the returned fd is owned by OwnedFd below.
        let fd = unsafe {
            libc::timerfd_create(
                libc::CLOCK_MONOTONIC,
                libc::TFD_NONBLOCK | libc::TFD_CLOEXEC,
            )
        };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: fd is a fresh, valid descriptor we own.
        let owned = unsafe { OwnedFd::from_raw_fd(fd) };
        // SAFETY: `owned` is a valid open timerfd, owned by the AsyncFd for its whole lifetime.
        let fd = unsafe { AsyncFd::register_with_interest(owned, tokio::io::Interest::READABLE) }
            .map_err(io::Error::from)?;
        Ok(PreciseTimer { fd })
    }

    /// Sleep until `deadline` (returns at once if it is already near or past).
    pub(crate) async fn sleep_until(&self, deadline: Instant) -> io::Result<()> {
        let now = Instant::now();
        if deadline <= now {
            return Ok(());
        }
        let d = deadline - now;
        if d.as_nanos() < MIN_SLEEP_NS {
            // Too close for a syscall: spin the last microseconds so we never wake early.
            while Instant::now() < deadline {
                std::hint::spin_loop();
            }
            return Ok(());
        }
        let spec = libc::itimerspec {
            it_interval: libc::timespec {
                tv_sec: 0,
                tv_nsec: 0,
            },
            it_value: libc::timespec {
                tv_sec: d.as_secs() as libc::time_t,
                tv_nsec: d.subsec_nanos() as libc::c_long,
            },
        };
        // SAFETY: valid fd and pointers to stack values.
        let rc = unsafe {
            libc::timerfd_settime(
                self.fd.get_ref().as_raw_fd(),
                0,
                &spec,
                std::ptr::null_mut(),
            )
        };
        if rc < 0 {
            return Err(io::Error::last_os_error());
        }
        loop {
            let mut guard = self.fd.readable().await?;
            let res = guard.try_io(|inner| {
                let mut buf = [0u8; 8];
                // SAFETY: reading 8 bytes into a stack buffer from our own fd.
                let n =
                    unsafe { libc::read(inner.get_ref().as_raw_fd(), buf.as_mut_ptr().cast(), 8) };
                if n < 0 {
                    Err(io::Error::last_os_error())
                } else {
                    Ok(())
                }
            });
            match res {
                Ok(Ok(())) => {
                    // The read consumed the expiration: nothing more to read until the next
                    // one, so drop the readiness now rather than pay an EAGAIN read on the
                    // next sleep to learn it.
                    guard.clear_ready();
                    return Ok(());
                }
                Ok(Err(e)) if e.kind() == io::ErrorKind::WouldBlock => continue,
                Ok(Err(e)) => return Err(e),
                Err(_would_block) => continue,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[tokio::test(flavor = "current_thread")]
    async fn wakes_close_to_deadline() {
        let t = PreciseTimer::new().unwrap();
        let mut late = Vec::new();
        for k in 0..100u64 {
            let deadline = Instant::now() + Duration::from_micros(200 + 37 * k);
            t.sleep_until(deadline).await.unwrap();
            let now = Instant::now();
            assert!(now >= deadline, "woke early at k={k}");
            late.push(now - deadline);
        }
        late.sort();
        // tokio's 1 ms timer wheel would put the median near half a millisecond or more; the
        // timerfd wakes within tens of microseconds (a loaded machine adds scheduling noise, so
        // only the median is checked, not the worst case).
        let median = late[late.len() / 2];
        assert!(
            median < Duration::from_micros(400),
            "median lateness {median:?}, all {late:?}"
        );
    }
}
