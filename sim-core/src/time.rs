//! Simulated time: integer nanoseconds, never floats. Also the workspace's one duration parser
//! ([`parse_duration`], [`parse_duration_or_secs`]): scenario files, command-line flags and the
//! real service's settings all read durations through it.

use std::fmt;
use std::ops::{Add, AddAssign, Mul, Sub};
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A point in simulated time: nanoseconds since the simulation's origin.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SimTime(u64);

/// A span of simulated time in nanoseconds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SimDuration(u64);

impl SimTime {
    /// The origin.
    pub const ZERO: SimTime = SimTime(0);
    /// The latest representable time.
    pub const MAX: SimTime = SimTime(u64::MAX);

    /// A time `ns` nanoseconds after the origin.
    #[inline]
    pub const fn from_nanos(ns: u64) -> SimTime {
        SimTime(ns)
    }

    /// Nanoseconds since the origin.
    #[inline]
    pub const fn as_nanos(self) -> u64 {
        self.0
    }

    /// Seconds since the origin, for reports (never for the clock itself).
    #[inline]
    pub fn as_secs_f64(self) -> f64 {
        self.0 as f64 / 1e9
    }

    /// The span from `earlier` to `self`, zero if `earlier` is later.
    #[inline]
    pub fn saturating_since(self, earlier: SimTime) -> SimDuration {
        SimDuration(self.0.saturating_sub(earlier.0))
    }
}

impl SimDuration {
    /// No time at all.
    pub const ZERO: SimDuration = SimDuration(0);
    /// The longest representable duration (about 584 years): "never" for timeouts that are off.
    pub const MAX: SimDuration = SimDuration(u64::MAX);

    /// A duration of `ns` nanoseconds (the clock's resolution).
    #[inline]
    pub const fn from_nanos(ns: u64) -> SimDuration {
        SimDuration(ns)
    }
    /// A duration of `us` microseconds.
    #[inline]
    pub const fn from_micros(us: u64) -> SimDuration {
        SimDuration(us * 1_000)
    }
    /// A duration of `ms` milliseconds.
    #[inline]
    pub const fn from_millis(ms: u64) -> SimDuration {
        SimDuration(ms * 1_000_000)
    }
    /// A duration of `s` seconds.
    #[inline]
    pub const fn from_secs(s: u64) -> SimDuration {
        SimDuration(s * 1_000_000_000)
    }

    /// The nearest whole nanosecond to `secs` seconds (negative and NaN become zero; values
    /// beyond `u64::MAX` nanoseconds saturate).
    ///
    /// Rounds half up as `floor(x + 0.5)` in `f64` rather than calling `f64::round`, which is a
    /// library call on baseline x86-64 and showed up in profiles: every sampled duration passes
    /// through here. (The two differ only for the one `f64` just below 0.5 ns.)
    #[inline]
    pub fn from_secs_f64(secs: f64) -> SimDuration {
        /// From 2^52 up, every `f64` is a whole number and adding 0.5 could round up.
        const EXACT: f64 = 4_503_599_627_370_496.0;
        let ns = secs * 1e9;
        if ns.is_nan() || ns <= 0.0 {
            SimDuration(0)
        } else if ns < EXACT {
            SimDuration((ns + 0.5) as u64)
        } else {
            // `as` saturates at u64::MAX.
            SimDuration(ns as u64)
        }
    }

    /// The duration in nanoseconds.
    #[inline]
    pub const fn as_nanos(self) -> u64 {
        self.0
    }
    /// The duration in seconds, for reports (never for the clock itself).
    #[inline]
    pub fn as_secs_f64(self) -> f64 {
        self.0 as f64 / 1e9
    }
    /// The duration in milliseconds, for reports (never for the clock itself).
    pub fn as_millis_f64(self) -> f64 {
        self.0 as f64 / 1e6
    }
    /// True for a zero-length duration.
    #[inline]
    pub const fn is_zero(self) -> bool {
        self.0 == 0
    }
    /// `self - other`, or zero when `other` is longer.
    #[inline]
    pub const fn saturating_sub(self, other: SimDuration) -> SimDuration {
        SimDuration(self.0.saturating_sub(other.0))
    }
}

impl Add<SimDuration> for SimTime {
    type Output = SimTime;
    #[inline]
    fn add(self, d: SimDuration) -> SimTime {
        SimTime(
            self.0
                .checked_add(d.0)
                .expect("simulated time overflowed u64 nanoseconds"),
        )
    }
}

impl AddAssign<SimDuration> for SimTime {
    #[inline]
    fn add_assign(&mut self, d: SimDuration) {
        *self = *self + d;
    }
}

impl Sub<SimTime> for SimTime {
    type Output = SimDuration;
    /// The span between two times. Panics if `rhs` is later: use `saturating_since` when it can be.
    #[inline]
    fn sub(self, rhs: SimTime) -> SimDuration {
        SimDuration(
            self.0
                .checked_sub(rhs.0)
                .expect("subtracted a later SimTime"),
        )
    }
}

impl Add for SimDuration {
    type Output = SimDuration;
    #[inline]
    fn add(self, d: SimDuration) -> SimDuration {
        SimDuration(
            self.0
                .checked_add(d.0)
                .expect("duration overflowed u64 nanoseconds"),
        )
    }
}

impl AddAssign for SimDuration {
    #[inline]
    fn add_assign(&mut self, d: SimDuration) {
        *self = *self + d;
    }
}

impl Mul<u64> for SimDuration {
    type Output = SimDuration;
    #[inline]
    fn mul(self, k: u64) -> SimDuration {
        SimDuration(
            self.0
                .checked_mul(k)
                .expect("duration overflowed u64 nanoseconds"),
        )
    }
}

impl From<std::time::Duration> for SimDuration {
    #[inline]
    fn from(d: std::time::Duration) -> SimDuration {
        SimDuration(u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
    }
}

impl From<SimDuration> for std::time::Duration {
    #[inline]
    fn from(d: SimDuration) -> std::time::Duration {
        std::time::Duration::from_nanos(d.0)
    }
}

impl fmt::Display for SimTime {
    /// Seconds with nanosecond precision, e.g. `12.500000000s`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}.{:09}s",
            self.0 / 1_000_000_000,
            self.0 % 1_000_000_000
        )
    }
}

impl fmt::Display for SimDuration {
    /// Human form that [`SimDuration::from_str`] reads back, e.g. `1s 500ms`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0 == 0 {
            return f.write_str("0s");
        }
        write!(
            f,
            "{}",
            humantime::format_duration(std::time::Duration::from_nanos(self.0))
        )
    }
}

/// A duration string that could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid duration {input:?}: {reason} (write it like \"250ms\", \"3s\" or \"1m 30s\")")]
pub struct ParseDurationError {
    /// The text as given.
    pub input: String,
    /// Why it is not a duration.
    pub reason: String,
}

impl FromStr for SimDuration {
    type Err = ParseDurationError;

    /// Reads human durations with [`parse_duration`]: `"250ms"`, `"3s"`, `"1m 30s"`, `"0s"`,
    /// `"1.5s"`, `"0"`. A bare number other than `0` is refused (the unit is not guessed).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        parse_duration(s).map(SimDuration::from)
    }
}

/// The units a single `NUMBER UNIT` duration may carry, with their length in nanoseconds.
const UNITS: [(&str, u64); 8] = [
    ("ns", 1),
    ("us", 1_000),
    ("µs", 1_000),
    ("ms", 1_000_000),
    ("s", 1_000_000_000),
    ("m", 60_000_000_000),
    ("min", 60_000_000_000),
    ("h", 3_600_000_000_000),
];

/// What a bare number (no unit) means to [`parse_with`].
#[derive(Clone, Copy, PartialEq, Eq)]
enum BareNumber {
    /// Refused, except `0`: scenario files and settings always name the unit.
    Refused,
    /// Seconds: command-line flags such as `--duration 30`.
    Seconds,
}

/// The one duration parser of the workspace: scenario files, the load generator's and the live
/// driver's flags, and the real service's settings all read durations here.
///
/// Accepts `"0"`, one number with a unit (`"250ms"`, `"1.5s"`, `"0.25ms"`, `"900us"`, `"2m"`,
/// `"1h"`; units `ns`, `us`/`µs`, `ms`, `s`, `m`/`min`, `h`; a fraction with any of them), or
/// anything `humantime` reads (`"1m 30s"`, `"2hours"`). Whole numbers are exact; a fraction is
/// rounded to the nearest nanosecond. A bare number other than `0` is an error (see
/// [`parse_duration_or_secs`] for flags where it means seconds).
pub fn parse_duration(s: &str) -> Result<std::time::Duration, ParseDurationError> {
    parse_with(s, BareNumber::Refused)
}

/// [`parse_duration`], and a bare number is seconds (`"30"`, `"0.5"`): the form the load
/// generator's and the live driver's flags have always taken.
pub fn parse_duration_or_secs(s: &str) -> Result<std::time::Duration, ParseDurationError> {
    parse_with(s, BareNumber::Seconds)
}

fn parse_with(s: &str, bare: BareNumber) -> Result<std::time::Duration, ParseDurationError> {
    let trimmed = s.trim();
    let err = |reason: String| ParseDurationError {
        input: s.to_string(),
        reason,
    };
    if trimmed == "0" {
        return Ok(std::time::Duration::ZERO);
    }
    let split = trimmed
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(trimmed.len());
    let (number, unit) = trimmed.split_at(split);
    let unit = unit.trim();
    let unit_ns = match unit {
        "" if bare == BareNumber::Seconds => Some(1_000_000_000),
        _ => UNITS.iter().find(|(u, _)| *u == unit).map(|&(_, ns)| ns),
    };
    if let Some(unit_ns) = unit_ns.filter(|_| !number.is_empty()) {
        if !number.contains('.') {
            // Whole numbers: exact integer arithmetic.
            let n: u64 = number
                .parse()
                .map_err(|_| err("not a whole number".into()))?;
            return n
                .checked_mul(unit_ns)
                .map(std::time::Duration::from_nanos)
                .ok_or_else(|| err("too long".into()));
        }
        let v: f64 = number.parse().map_err(|_| err("not a number".into()))?;
        if !v.is_finite() || v < 0.0 {
            return Err(err("must be a finite, non-negative number".into()));
        }
        let secs = v * unit_ns as f64 / 1e9;
        return Ok(std::time::Duration::from_nanos(
            SimDuration::from_secs_f64(secs).as_nanos(),
        ));
    }
    humantime::parse_duration(trimmed).map_err(|e| err(e.to_string()))
}

impl Serialize for SimDuration {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for SimDuration {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn human_durations_parse_to_exact_nanoseconds() {
        let p = |s: &str| s.parse::<SimDuration>().unwrap().as_nanos();
        assert_eq!(p("250ms"), 250_000_000);
        assert_eq!(p("3s"), 3_000_000_000);
        assert_eq!(p("1m 30s"), 90_000_000_000);
        assert_eq!(p("1.5s"), 1_500_000_000);
        assert_eq!(p("0s"), 0);
        assert_eq!(p("0"), 0);
        assert_eq!(p("10us"), 10_000);
        assert!("fast".parse::<SimDuration>().is_err());
        assert!("-1s".parse::<SimDuration>().is_err());
        assert!(
            "5".parse::<SimDuration>()
                .unwrap_err()
                .to_string()
                .contains("\"5\"")
        );
    }

    #[test]
    fn one_parser_for_files_flags_and_settings() {
        use std::time::Duration;
        let p = |s: &str| parse_duration(s).unwrap();
        assert_eq!(p("0.25ms"), Duration::from_micros(250));
        assert_eq!(p("2m"), Duration::from_secs(120));
        assert_eq!(p("2min"), Duration::from_secs(120));
        assert_eq!(p("1h"), Duration::from_secs(3600));
        assert_eq!(p("900µs"), Duration::from_micros(900));
        assert_eq!(p("5 s"), Duration::from_secs(5));
        assert_eq!(p("2hours"), Duration::from_secs(7200));
        assert!(parse_duration("30").is_err());
        assert!(parse_duration("").is_err());
        assert!(parse_duration("5x").is_err());
        assert!(parse_duration("-1s").is_err());
        assert!(parse_duration("99999999999999999999s").is_err());
        let f = |s: &str| parse_duration_or_secs(s).unwrap();
        assert_eq!(f("30"), Duration::from_secs(30));
        assert_eq!(f("0.5"), Duration::from_millis(500));
        assert_eq!(f("250ms"), Duration::from_millis(250));
        assert!(parse_duration_or_secs("").is_err());
        assert!(parse_duration_or_secs("5x").is_err());
    }

    #[test]
    fn display_round_trips() {
        for ns in [0, 1, 999, 1_000_000, 1_500_000_000, 90_000_000_000] {
            let d = SimDuration::from_nanos(ns);
            assert_eq!(d.to_string().parse::<SimDuration>().unwrap(), d);
        }
        assert_eq!(
            SimTime::from_nanos(12_500_000_000).to_string(),
            "12.500000000s"
        );
    }

    #[test]
    fn seconds_round_to_the_nearest_nanosecond() {
        let ns = |s: f64| SimDuration::from_secs_f64(s).as_nanos();
        assert_eq!(ns(1.5e-9), 2);
        assert_eq!(ns(1.4e-9), 1);
        assert_eq!(ns(0.25), 250_000_000);
        assert_eq!(ns(2.000_000_000_4), 2_000_000_000);
        assert_eq!(ns(-1.0), 0);
        assert_eq!(ns(f64::NAN), 0);
        assert_eq!(ns(1e300), u64::MAX);
        assert_eq!(ns(5e6), 5_000_000_000_000_000);
    }
}
