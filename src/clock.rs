//! Time as the ledger sees it: whole UTC seconds written `YYYY-MM-DDTHH:MM:SSZ`,
//! and the one place the current time comes from.

use std::fmt;

use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Name of the variable that fixes "now" for every command. Tests and auditors
/// replaying a past day set it; production runs leave it unset.
pub const NOW_ENV: &str = "GITOPS_LEDGER_NOW";

#[derive(Debug, thiserror::Error)]
pub enum ClockError {
    #[error("`{0}` is not a ledger timestamp: write RFC 3339 in UTC with whole seconds, like 2026-11-24T18:00:00Z")]
    Format(String),
    #[error("{NOW_ENV}={0:?} is not a ledger timestamp (like 2026-11-24T18:00:00Z)")]
    BadNowOverride(String),
    #[error("duration `{0}` is not <n>s, <n>m, <n>h or <n>d (like 24h)")]
    Duration(String),
}

/// A point in time as the ledger writes it. Ordering is chronological.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(i64);

impl Timestamp {
    pub const EPOCH: Timestamp = Timestamp(0);

    /// Parses exactly `YYYY-MM-DDTHH:MM:SSZ`. Offsets, fractions and lower-case
    /// separators are refused so that every timestamp has one spelling, which the
    /// signed canonical form relies on.
    pub fn parse(text: &str) -> Result<Self, ClockError> {
        match Self::parse_canonical(text) {
            Some(parsed) => Ok(parsed),
            None => Self::parse_with_chrono(text),
        }
    }

    /// The canonical spelling of a valid time, read digit by digit: every
    /// record read parses one, and chrono's format interpreter with the round
    /// trip below was a fifth of parsing a record. None for any other text,
    /// which [`Timestamp::parse_with_chrono`] then judges.
    fn parse_canonical(text: &str) -> Option<Self> {
        let b = text.as_bytes();
        let separators = [(4, b'-'), (7, b'-'), (10, b'T'), (13, b':'), (16, b':'), (19, b'Z')];
        if b.len() != 20 || separators.iter().any(|&(at, byte)| b[at] != byte) {
            return None;
        }
        let number = |at: usize, width: usize| {
            b[at..at + width].iter().try_fold(0u32, |n, &d| d.is_ascii_digit().then(|| n * 10 + u32::from(d - b'0')))
        };
        let date = NaiveDate::from_ymd_opt(i32::try_from(number(0, 4)?).ok()?, number(5, 2)?, number(8, 2)?)?;
        let time = date.and_hms_opt(number(11, 2)?, number(14, 2)?, number(17, 2)?)?;
        Some(Timestamp(time.and_utc().timestamp()))
    }

    fn parse_with_chrono(text: &str) -> Result<Self, ClockError> {
        let bad = || ClockError::Format(text.to_string());
        let body = text.strip_suffix('Z').ok_or_else(bad)?;
        if body.len() != 19 {
            return Err(bad());
        }
        let naive = NaiveDateTime::parse_from_str(body, "%Y-%m-%dT%H:%M:%S").map_err(|_| bad())?;
        let parsed = Timestamp(naive.and_utc().timestamp());
        // chrono accepts some lenient forms (e.g. single-digit fields); the round
        // trip makes sure the text was already in the one canonical spelling.
        if parsed.to_string() != text {
            return Err(bad());
        }
        Ok(parsed)
    }

    pub fn from_unix(seconds: i64) -> Option<Self> {
        DateTime::<Utc>::from_timestamp(seconds, 0).map(|_| Timestamp(seconds))
    }

    pub fn unix(self) -> i64 {
        self.0
    }

    /// `self + seconds`, saturating instead of overflowing on absurd inputs.
    pub fn plus_seconds(self, seconds: i64) -> Timestamp {
        Timestamp(self.0.saturating_add(seconds))
    }

    pub fn seconds_since(self, earlier: Timestamp) -> i64 {
        self.0.saturating_sub(earlier.0)
    }
}

impl fmt::Display for Timestamp {
    /// Written digit by digit into one buffer: this runs for every record
    /// canonicalized, and chrono's strftime, or `write!` with six padded
    /// fields, is measurably slower.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use chrono::{Datelike, Timelike};
        let Some(t) = DateTime::<Utc>::from_timestamp(self.0, 0) else { return write!(f, "@{}", self.0) };
        let Ok(year @ 0..=9999) = u32::try_from(t.year()) else {
            // No ledger time is outside four digits; this is only for messages.
            return write!(
                f,
                "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
                t.year(),
                t.month(),
                t.day(),
                t.hour(),
                t.minute(),
                t.second()
            );
        };
        let mut text = *b"0000-00-00T00:00:00Z";
        let fields = [
            (0, 4, year),
            (5, 2, t.month()),
            (8, 2, t.day()),
            (11, 2, t.hour()),
            (14, 2, t.minute()),
            (17, 2, t.second()),
        ];
        for (at, width, mut value) in fields {
            for digit in text[at..at + width].iter_mut().rev() {
                *digit = b'0' + (value % 10) as u8;
                value /= 10;
            }
        }
        f.write_str(std::str::from_utf8(&text).map_err(|_| fmt::Error)?)
    }
}

impl fmt::Debug for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        Timestamp::parse(&text).map_err(serde::de::Error::custom)
    }
}

/// A duration written `<n>s`, `<n>m`, `<n>h` or `<n>d`, kept with its spelling
/// so a policy re-serializes to the bytes that were signed.
#[derive(Clone, PartialEq, Eq)]
pub struct Span {
    text: String,
    seconds: i64,
}

impl Span {
    pub fn parse(text: &str) -> Result<Self, ClockError> {
        let bad = || ClockError::Duration(text.to_string());
        let unit = text.chars().last().ok_or_else(bad)?;
        let digits = &text[..text.len() - unit.len_utf8()];
        let well_formed = !digits.is_empty()
            && digits.len() <= 9
            && digits.bytes().all(|b| b.is_ascii_digit())
            && (digits == "0" || !digits.starts_with('0'));
        if !well_formed {
            return Err(bad());
        }
        let n: i64 = digits.parse().map_err(|_| bad())?;
        let scale = match unit {
            's' => 1,
            'm' => 60,
            'h' => 3600,
            'd' => 86_400,
            _ => return Err(bad()),
        };
        Ok(Span { text: text.to_string(), seconds: n * scale })
    }

    pub fn seconds(&self) -> i64 {
        self.seconds
    }
}

impl fmt::Display for Span {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl fmt::Debug for Span {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl Serialize for Span {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.text)
    }
}

impl<'de> Deserialize<'de> for Span {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        Span::parse(&text).map_err(serde::de::Error::custom)
    }
}

/// Where "now" comes from: the system clock, or [`NOW_ENV`] when set.
#[derive(Clone, Copy, Debug)]
pub struct Clock {
    now: Timestamp,
    /// Set by [`NOW_ENV`] or a test: every reading gives the same time.
    fixed: bool,
}

impl Clock {
    pub fn from_env() -> Result<Self, ClockError> {
        match std::env::var(NOW_ENV) {
            Ok(text) => Timestamp::parse(&text).map(Clock::fixed).map_err(|_| ClockError::BadNowOverride(text)),
            Err(_) => Ok(Clock { now: Timestamp(Utc::now().timestamp()), fixed: false }),
        }
    }

    pub fn fixed(now: Timestamp) -> Self {
        Clock { now, fixed: true }
    }

    /// The clock read again, for a change made again later (a push rebuilt
    /// on a moved tip); a fixed clock stays where it is.
    pub fn renewed(self) -> Self {
        if self.fixed {
            self
        } else {
            Clock { now: Timestamp(Utc::now().timestamp()), fixed: false }
        }
    }

    pub fn now(&self) -> Timestamp {
        self.now
    }
}

#[cfg(test)]
mod tests {
    use chrono::{Datelike, Timelike};

    use super::*;

    #[test]
    fn timestamps_have_one_spelling() {
        let t = Timestamp::parse("2026-11-24T18:00:00Z").unwrap();
        assert_eq!(t.to_string(), "2026-11-24T18:00:00Z");
        for bad in [
            "2026-11-24T18:00:00+00:00",
            "2026-11-24T18:00:00.5Z",
            "2026-11-24t18:00:00Z",
            "2026-11-24 18:00:00Z",
            "2026-02-30T18:00:00Z",
            "2026-11-24T18:00:00",
            "",
        ] {
            assert!(Timestamp::parse(bad).is_err(), "{bad} should be refused");
        }
    }

    #[test]
    fn spans_parse_units_and_refuse_odd_spellings() {
        assert_eq!(Span::parse("24h").unwrap().seconds(), 86_400);
        assert_eq!(Span::parse("0s").unwrap().seconds(), 0);
        assert_eq!(Span::parse("2d").unwrap().seconds(), 172_800);
        for bad in ["", "h", "01h", "1w", "-1h", "1.5h", "1234567890s"] {
            assert!(Span::parse(bad).is_err(), "{bad} should be refused");
        }
    }

    #[test]
    fn the_digit_reader_agrees_with_chrono_at_the_edges() {
        for text in [
            "0000-01-01T00:00:00Z",
            "9999-12-31T23:59:59Z",
            "1970-01-01T00:00:00Z",
            "2024-02-29T12:00:00Z",
            "2023-02-29T12:00:00Z",
            "2000-02-29T00:00:00Z",
            "1900-02-29T00:00:00Z",
            "2026-04-31T00:00:00Z",
            "2026-00-10T00:00:00Z",
            "2026-13-10T00:00:00Z",
            "2026-01-00T00:00:00Z",
            "2026-12-31T24:00:00Z",
            "2026-12-31T23:60:00Z",
            "2016-12-31T23:59:60Z",
            "+026-12-31T23:59:59Z",
            "2026-1-31T23:59:599Z",
            "2026-12-31T23:59:5 Z",
        ] {
            assert_eq!(
                format!("{:?}", Timestamp::parse(text)),
                format!("{:?}", Timestamp::parse_with_chrono(text)),
                "{text}"
            );
        }
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(2048))]

        #[test]
        fn the_digit_reader_agrees_with_chrono(
            text in "[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z|[0-9T:Z +-]{18,21}",
            seconds in -70_000_000_000i64..260_000_000_000,
        ) {
            proptest::prop_assert_eq!(
                format!("{:?}", Timestamp::parse(&text)),
                format!("{:?}", Timestamp::parse_with_chrono(&text))
            );
            let written = Timestamp(seconds).to_string();
            let t = DateTime::<Utc>::from_timestamp(seconds, 0).unwrap();
            let with_fmt = format!(
                "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
                t.year(), t.month(), t.day(), t.hour(), t.minute(), t.second()
            );
            proptest::prop_assert_eq!(&written, &with_fmt);
            proptest::prop_assert_eq!(Timestamp::parse(&written).ok(), Timestamp::parse_with_chrono(&written).ok());
            // Chrono also reads a negative year; the digits only the four-digit ones.
            proptest::prop_assert_eq!(
                Timestamp::parse_canonical(&written),
                (0..=9999).contains(&t.year()).then_some(Timestamp(seconds))
            );
        }
    }
}
