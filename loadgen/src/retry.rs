//! Retries of shed requests (`--shed-retries`): whether a 503 that carries `Retry-After` (the
//! outcome `shed`) is sent again, and when.
//!
//! A server that sheds work on purpose (a draining pod refusing an operation it could not finish
//! within its remaining budget) says when to come back. With retries on, the generator reads the
//! header as RFC 9110 §10.2.3 defines it, delay-seconds or an HTTP-date, and sends the request
//! again at the shed response's arrival plus that delay, outside the open-loop schedule. It gives
//! up, and says why ([`GiveUp`]), when the value cannot be read, when the wait is above
//! `--shed-retry-max-wait`, when the retry would fall after the run's end plus its timeout, or
//! when the request has had its `--shed-retries` retries. This module decides; the request tasks
//! (`load`) wait and send.

use std::collections::BTreeMap;
use std::time::{Duration, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

use crate::plan::ShedRetryPlan;

/// Why the generator stopped retrying a shed request (`why` of an `rg` record line).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GiveUp {
    /// `Retry-After` asked for a longer wait than `--shed-retry-max-wait`.
    TooLong,
    /// `Retry-After` is neither delay-seconds nor an HTTP-date.
    Unparseable,
    /// The retry would be due after the run's end plus its timeout, or the run was stopped
    /// while it waited: never sent.
    Abandoned,
    /// The request was shed again after its last allowed retry (`--shed-retries`).
    OutOfRetries,
}

impl GiveUp {
    /// Every reason, in the order the summary lists them.
    pub const ALL: [GiveUp; 4] = [
        GiveUp::TooLong,
        GiveUp::Unparseable,
        GiveUp::Abandoned,
        GiveUp::OutOfRetries,
    ];

    /// The name on the record line and in the summary.
    pub fn as_str(self) -> &'static str {
        match self {
            GiveUp::TooLong => "too_long",
            GiveUp::Unparseable => "unparseable",
            GiveUp::Abandoned => "abandoned",
            GiveUp::OutOfRetries => "out_of_retries",
        }
    }
}

/// The wait a `Retry-After` value asks for (RFC 9110 §10.2.3): delay-seconds (`1*DIGIT`, a
/// number of seconds), or an HTTP-date (any of the three forms RFC 9110 §5.6.7 has a recipient
/// accept: IMF-fixdate, RFC 850, asctime), read against `received_epoch_ns`, the wall clock when
/// the response arrived (a date already past asks for no wait). Surrounding whitespace is
/// allowed; anything else (a sign, a fraction, an empty value, a malformed date) is `None`.
pub fn parse_retry_after(value: &[u8], received_epoch_ns: i64) -> Option<Duration> {
    let s = std::str::from_utf8(value).ok()?.trim_matches([' ', '\t']);
    if s.is_empty() {
        return None;
    }
    if s.bytes().all(|b| b.is_ascii_digit()) {
        // Too many digits for u64 is still a number of seconds: far above any maximum wait.
        return Some(Duration::from_secs(s.parse::<u64>().unwrap_or(u64::MAX)));
    }
    let date = httpdate::parse_http_date(s).ok()?;
    let received = if received_epoch_ns >= 0 {
        UNIX_EPOCH + Duration::from_nanos(received_epoch_ns as u64)
    } else {
        UNIX_EPOCH
    };
    Some(date.duration_since(received).unwrap_or(Duration::ZERO))
}

/// The generator's answer to one shed response.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Next {
    /// Send the retry at `due`.
    Retry {
        /// When the retry is due, ns on the run's clock.
        due: i64,
    },
    /// Stop retrying; the wait asked for, when the header could be read.
    GiveUp(GiveUp, Option<Duration>),
}

impl ShedRetryPlan {
    /// What to do after a shed response: `attempt` is the retry that would follow (1 = the
    /// first), `retry_after` the header's bytes, `received_ns` the response's end on the run's
    /// clock (whose origin is `origin_epoch_ns` on the wall clock), `cutoff_ns` the latest a
    /// retry may be due (the run's end plus its timeout). The reasons are checked in this order:
    /// out of retries, unparseable, too long, abandoned.
    pub(crate) fn next(
        &self,
        attempt: u32,
        retry_after: Option<&[u8]>,
        received_ns: i64,
        origin_epoch_ns: i64,
        cutoff_ns: i64,
    ) -> Next {
        if attempt > self.retries {
            return Next::GiveUp(GiveUp::OutOfRetries, None);
        }
        let Some(wait) = retry_after
            .and_then(|v| parse_retry_after(v, origin_epoch_ns.saturating_add(received_ns)))
        else {
            return Next::GiveUp(GiveUp::Unparseable, None);
        };
        if wait > self.max_wait {
            return Next::GiveUp(GiveUp::TooLong, Some(wait));
        }
        let due = received_ns.saturating_add(wait.as_nanos().min(i64::MAX as u128) as i64);
        if due > cutoff_ns {
            return Next::GiveUp(GiveUp::Abandoned, Some(wait));
        }
        Next::Retry { due }
    }
}

/// The retries of shed requests over a run: what the generator reports (`LoadReport::retries`)
/// and what the analyzer adds to the summary's `live` block (`live.retries`). Present only when
/// retries were on (`--shed-retries`) or the records hold retry lines. Over the whole run, not
/// the deploy window: retries are outside the schedule, and the contract's figures count each
/// scheduled request once, as it first ended.
///
/// Every scheduled request shed ends its retries one way, so in a finished run
/// `scheduled_shed = served_after_shed + failed_after_shed + gave_up.total()`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct RetrySummary {
    /// Scheduled requests recorded `shed` (each the start of its retries).
    pub scheduled_shed: u64,
    /// Retries sent (`rt` lines).
    pub sent: u64,
    /// Retries by outcome class (only the classes that occurred).
    pub outcomes: BTreeMap<String, u64>,
    /// Scheduled requests shed, then served (`ok`) by a retry.
    pub served_after_shed: u64,
    /// Scheduled requests shed whose last retry failed (any class but `ok` and `shed`).
    pub failed_after_shed: u64,
    /// Scheduled requests shed whose retries the generator gave up, by reason.
    pub gave_up: GaveUp,
    /// The latest a retry went out after it was due, ms (the scheduler's lag does not apply:
    /// retries are not scheduled sends).
    pub send_lag_max_ms: f64,
    /// Retries that failed for a reason on the generator's side (out of fds or ports).
    pub generator_faults: u64,
}

/// Shed requests given up, by reason ([`GiveUp`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct GaveUp {
    /// `Retry-After` above `--shed-retry-max-wait`.
    pub too_long: u64,
    /// `Retry-After` neither delay-seconds nor an HTTP-date.
    pub unparseable: u64,
    /// Due after the run's end plus its timeout, or the run stopped while it waited.
    pub abandoned: u64,
    /// Shed again after the last allowed retry.
    pub out_of_retries: u64,
}

impl GaveUp {
    /// Counts one more give-up for `why`.
    pub fn add(&mut self, why: GiveUp) {
        self.add_n(why, 1);
    }

    /// Counts `n` more give-ups for `why`.
    pub(crate) fn add_n(&mut self, why: GiveUp, n: u64) {
        *self.get_mut(why) += n;
    }

    /// The count of one reason.
    pub fn get(&self, why: GiveUp) -> u64 {
        match why {
            GiveUp::TooLong => self.too_long,
            GiveUp::Unparseable => self.unparseable,
            GiveUp::Abandoned => self.abandoned,
            GiveUp::OutOfRetries => self.out_of_retries,
        }
    }

    fn get_mut(&mut self, why: GiveUp) -> &mut u64 {
        match why {
            GiveUp::TooLong => &mut self.too_long,
            GiveUp::Unparseable => &mut self.unparseable,
            GiveUp::Abandoned => &mut self.abandoned,
            GiveUp::OutOfRetries => &mut self.out_of_retries,
        }
    }

    /// Every give-up, whatever its reason.
    pub fn total(&self) -> u64 {
        GiveUp::ALL.iter().map(|w| self.get(*w)).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::SystemTime;

    const S: i64 = 1_000_000_000;

    /// `t` in ns since the Unix epoch.
    fn epoch_ns(t: SystemTime) -> i64 {
        t.duration_since(UNIX_EPOCH).unwrap().as_nanos() as i64
    }

    #[test]
    fn delay_seconds_are_read_and_anything_else_is_not() {
        assert_eq!(parse_retry_after(b"1", 0), Some(Duration::from_secs(1)));
        assert_eq!(
            parse_retry_after(b" 120\t", 0),
            Some(Duration::from_secs(120))
        );
        assert_eq!(parse_retry_after(b"0", 0), Some(Duration::ZERO));
        assert_eq!(
            parse_retry_after(b"99999999999999999999999", 0),
            Some(Duration::from_secs(u64::MAX))
        );
        for bad in [
            &b""[..],
            b"  ",
            b"-1",
            b"+1",
            b"1.5",
            b"1s",
            b"soon",
            b"\xff",
            b"Fri, 31 Feb 2026 10:00:00 GMT",
        ] {
            assert_eq!(parse_retry_after(bad, 0), None, "{bad:?}");
        }
    }

    #[test]
    fn http_dates_in_their_three_forms_are_read_against_the_arrival() {
        // 2026-12-04T08:00:00Z.
        let at = UNIX_EPOCH + Duration::from_secs(1_796_371_200);
        let now = epoch_ns(at) - 30 * S;
        for date in [
            "Fri, 04 Dec 2026 08:00:00 GMT",
            "Friday, 04-Dec-26 08:00:00 GMT",
            "Fri Dec  4 08:00:00 2026",
        ] {
            assert_eq!(
                parse_retry_after(date.as_bytes(), now),
                Some(Duration::from_secs(30)),
                "{date}"
            );
        }
        // A date already past asks for no wait.
        assert_eq!(
            parse_retry_after(b"Fri, 04 Dec 2026 08:00:00 GMT", now + 60 * S),
            Some(Duration::ZERO)
        );
    }

    #[test]
    fn the_reasons_come_in_their_order() {
        let p = ShedRetryPlan {
            retries: 2,
            max_wait: Duration::from_secs(5),
        };
        let next =
            |attempt, ra: &str, at, cutoff| p.next(attempt, Some(ra.as_bytes()), at, 0, cutoff);
        assert_eq!(next(1, "1", 3 * S, 100 * S), Next::Retry { due: 4 * S });
        assert_eq!(next(2, "0", 3 * S, 100 * S), Next::Retry { due: 3 * S });
        assert_eq!(
            next(3, "junk", 3 * S, 100 * S),
            Next::GiveUp(GiveUp::OutOfRetries, None)
        );
        assert_eq!(
            next(1, "junk", 3 * S, 100 * S),
            Next::GiveUp(GiveUp::Unparseable, None)
        );
        assert_eq!(
            p.next(1, None, 3 * S, 0, 100 * S),
            Next::GiveUp(GiveUp::Unparseable, None)
        );
        assert_eq!(
            next(1, "6", 3 * S, 100 * S),
            Next::GiveUp(GiveUp::TooLong, Some(Duration::from_secs(6)))
        );
        // Exactly the maximum is waited for; due exactly at the cutoff is sent.
        assert_eq!(next(1, "5", 3 * S, 8 * S), Next::Retry { due: 8 * S });
        assert_eq!(
            next(1, "5", 3 * S, 8 * S - 1),
            Next::GiveUp(GiveUp::Abandoned, Some(Duration::from_secs(5)))
        );
    }

    #[test]
    fn give_ups_add_up_by_reason() {
        let mut g = GaveUp::default();
        for w in [GiveUp::TooLong, GiveUp::Abandoned, GiveUp::Abandoned] {
            g.add(w);
        }
        assert_eq!((g.too_long, g.abandoned, g.total()), (1, 2, 3));
        for w in GiveUp::ALL {
            let json = serde_json::to_string(&w).unwrap();
            assert_eq!(json, format!("\"{}\"", w.as_str()));
        }
    }
}
