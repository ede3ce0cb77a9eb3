//! The outcome classes of the measurement contract: every request ends in exactly one.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// How one request ended. Exactly one per request, the same in the simulator and the live run.
///
/// `Shed` is a 503 that carried `Retry-After`: the server refused the work on purpose and told the
/// client when to come back. It is counted apart from loss.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Outcome {
    /// A 2xx response.
    #[serde(rename = "ok")]
    Ok,
    /// 502 Bad Gateway (a proxy's upstream refused or reset).
    #[serde(rename = "http_502")]
    Http502,
    /// 503 without `Retry-After`.
    #[serde(rename = "http_503")]
    Http503,
    /// 504 Gateway Timeout.
    #[serde(rename = "http_504")]
    Http504,
    /// Any other 5xx.
    #[serde(rename = "http_5xx_other")]
    Http5xxOther,
    /// The connection was refused (ECONNREFUSED): nothing listening.
    #[serde(rename = "refused")]
    Refused,
    /// ECONNRESET, EPIPE, or the connection closed before a full response (the keep-alive race too).
    #[serde(rename = "reset")]
    Reset,
    /// The client's deadline passed.
    #[serde(rename = "timeout")]
    Timeout,
    /// A 503 that carried `Retry-After`: shed on purpose, not lost.
    #[serde(rename = "shed")]
    Shed,
    /// Anything else (a 4xx, a malformed response, an unexpected local error).
    #[serde(rename = "other")]
    Other,
}

impl Outcome {
    /// Every outcome, in the order the summary and the timeline list them.
    pub const ALL: [Outcome; 10] = [
        Outcome::Ok,
        Outcome::Refused,
        Outcome::Reset,
        Outcome::Http502,
        Outcome::Http503,
        Outcome::Http504,
        Outcome::Http5xxOther,
        Outcome::Timeout,
        Outcome::Shed,
        Outcome::Other,
    ];

    /// The contract's name of this outcome (`"http_502"`, `"refused"`, ...).
    pub const fn as_str(self) -> &'static str {
        match self {
            Outcome::Ok => "ok",
            Outcome::Http502 => "http_502",
            Outcome::Http503 => "http_503",
            Outcome::Http504 => "http_504",
            Outcome::Http5xxOther => "http_5xx_other",
            Outcome::Refused => "refused",
            Outcome::Reset => "reset",
            Outcome::Timeout => "timeout",
            Outcome::Shed => "shed",
            Outcome::Other => "other",
        }
    }

    /// `true` for every outcome that counts as failed: all but `ok` and `shed`.
    pub const fn is_failure(self) -> bool {
        !matches!(self, Outcome::Ok | Outcome::Shed)
    }

    /// `true` when the request got an HTTP response or ran into its deadline. Only these enter
    /// the latency histograms: a refused or reset connection has no response time, and leaving
    /// it out keeps fast failures from making latency look better.
    pub const fn has_latency(self) -> bool {
        !matches!(self, Outcome::Refused | Outcome::Reset | Outcome::Other)
    }

    /// Classifies an HTTP status. `retry_after` says whether the response carried `Retry-After`.
    pub const fn from_status(status: u16, retry_after: bool) -> Outcome {
        match status {
            200..=299 => Outcome::Ok,
            502 => Outcome::Http502,
            503 if retry_after => Outcome::Shed,
            503 => Outcome::Http503,
            504 => Outcome::Http504,
            500..=599 => Outcome::Http5xxOther,
            _ => Outcome::Other,
        }
    }
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A string that names no outcome of the contract.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "unknown outcome {0:?}: expected one of ok, refused, reset, http_502, http_503, http_504, http_5xx_other, timeout, shed, other"
)]
pub struct UnknownOutcome(pub String);

impl FromStr for Outcome {
    type Err = UnknownOutcome;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Outcome::ALL
            .into_iter()
            .find(|o| o.as_str() == s)
            .ok_or_else(|| UnknownOutcome(s.to_string()))
    }
}

/// Requests sent, and how many ended in each outcome. Field names are the contract's.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OutcomeCounts {
    /// Requests sent (the sum of every outcome below).
    pub sent: u64,
    /// Requests answered with a 2xx.
    pub ok: u64,
    /// Connections refused (nothing listening).
    pub refused: u64,
    /// Connections reset or closed before a full response.
    pub reset: u64,
    /// 502 Bad Gateway responses.
    pub http_502: u64,
    /// 503 responses without `Retry-After`.
    pub http_503: u64,
    /// 504 Gateway Timeout responses.
    pub http_504: u64,
    /// Any other 5xx response.
    pub http_5xx_other: u64,
    /// Requests whose client deadline passed.
    pub timeout: u64,
    /// 503 responses with `Retry-After`: shed on purpose, not counted as failed.
    pub shed: u64,
    /// Anything else (a 4xx, a malformed response, an unexpected local error).
    pub other: u64,
}

impl OutcomeCounts {
    /// Counts one request that ended in `outcome`.
    pub fn add(&mut self, outcome: Outcome) {
        self.sent += 1;
        *self.slot(outcome) += 1;
    }

    /// How many requests ended in `outcome`.
    pub fn get(&self, outcome: Outcome) -> u64 {
        match outcome {
            Outcome::Ok => self.ok,
            Outcome::Http502 => self.http_502,
            Outcome::Http503 => self.http_503,
            Outcome::Http504 => self.http_504,
            Outcome::Http5xxOther => self.http_5xx_other,
            Outcome::Refused => self.refused,
            Outcome::Reset => self.reset,
            Outcome::Timeout => self.timeout,
            Outcome::Shed => self.shed,
            Outcome::Other => self.other,
        }
    }

    fn slot(&mut self, outcome: Outcome) -> &mut u64 {
        match outcome {
            Outcome::Ok => &mut self.ok,
            Outcome::Http502 => &mut self.http_502,
            Outcome::Http503 => &mut self.http_503,
            Outcome::Http504 => &mut self.http_504,
            Outcome::Http5xxOther => &mut self.http_5xx_other,
            Outcome::Refused => &mut self.refused,
            Outcome::Reset => &mut self.reset,
            Outcome::Timeout => &mut self.timeout,
            Outcome::Shed => &mut self.shed,
            Outcome::Other => &mut self.other,
        }
    }

    /// Every request that failed: all outcomes but `ok` and `shed`.
    pub fn failed(&self) -> u64 {
        Outcome::ALL
            .into_iter()
            .filter(|o| o.is_failure())
            .map(|o| self.get(o))
            .sum()
    }

    /// `sent` equals the sum of the outcome counts.
    pub fn is_conserved(&self) -> bool {
        Outcome::ALL.into_iter().map(|o| self.get(o)).sum::<u64>() == self.sent
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_through_serde_and_from_str() {
        for o in Outcome::ALL {
            let json = serde_json::to_string(&o).unwrap();
            assert_eq!(json, format!("\"{}\"", o.as_str()));
            assert_eq!(o.as_str().parse::<Outcome>().unwrap(), o);
        }
        assert!("http502".parse::<Outcome>().is_err());
    }

    #[test]
    fn status_classification_follows_the_contract() {
        assert_eq!(Outcome::from_status(200, false), Outcome::Ok);
        assert_eq!(Outcome::from_status(204, true), Outcome::Ok);
        assert_eq!(Outcome::from_status(503, true), Outcome::Shed);
        assert_eq!(Outcome::from_status(503, false), Outcome::Http503);
        assert_eq!(Outcome::from_status(502, true), Outcome::Http502);
        assert_eq!(Outcome::from_status(504, false), Outcome::Http504);
        assert_eq!(Outcome::from_status(500, false), Outcome::Http5xxOther);
        assert_eq!(Outcome::from_status(404, false), Outcome::Other);
        assert_eq!(Outcome::from_status(301, false), Outcome::Other);
    }

    #[test]
    fn failed_counts_everything_but_ok_and_shed() {
        let mut c = OutcomeCounts::default();
        for o in Outcome::ALL {
            c.add(o);
        }
        assert_eq!(c.sent, 10);
        assert_eq!(c.failed(), 8);
        assert!(c.is_conserved());
    }
}
