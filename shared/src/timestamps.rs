//! Timestamp parsing for every form the sources have used.
//!
//! Amazon Inspector changed the event timestamp format in June 2024, from
//! `Jun 18, 2024, 12:27:04 AM` to `Thu Jun 20 01:47:55.779 UTC 2024`; API output
//! and Inspector Classic use ISO 8601 / RFC 3339, and the JSON APIs use epoch
//! seconds. All of them are read here; everything fanin writes is RFC 3339 UTC
//! (plus epoch milliseconds where OCSF wants `*_time`).

use chrono::{DateTime, NaiveDateTime, TimeZone, Utc};
use serde_json::Value;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unrecognised timestamp {0:?}")]
pub struct TimestampError(pub String);

/// Parses a timestamp given as JSON: a string in any known form, or an epoch
/// number: seconds (fractional allowed), or milliseconds when it is at least
/// [`EPOCH_MILLIS_FROM`].
pub fn parse_json(value: &Value) -> Result<DateTime<Utc>, TimestampError> {
    match value {
        Value::String(text) => parse_text(text),
        Value::Number(number) => number
            .as_f64()
            .and_then(from_epoch_number)
            .ok_or_else(|| TimestampError(number.to_string())),
        other => Err(TimestampError(crate::ids::truncate_for_message(
            &other.to_string(),
        ))),
    }
}

/// Parses a textual timestamp in any of the known forms.
pub fn parse_text(text: &str) -> Result<DateTime<Utc>, TimestampError> {
    let trimmed = text.trim();
    if let Ok(parsed) = DateTime::parse_from_rfc3339(trimmed) {
        return Ok(parsed.with_timezone(&Utc));
    }
    // "Thu Jun 20 01:47:55.779 UTC 2024" (Inspector2 events since June 2024).
    for format in ["%a %b %d %H:%M:%S%.f UTC %Y", "%a %b %e %H:%M:%S%.f UTC %Y"] {
        if let Ok(naive) = NaiveDateTime::parse_from_str(trimmed, format) {
            return Ok(Utc.from_utc_datetime(&naive));
        }
    }
    // "Jun 18, 2024, 12:27:04 AM" (Inspector2 events before June 2024, UTC).
    for format in ["%b %d, %Y, %I:%M:%S %p", "%b %e, %Y, %I:%M:%S %p"] {
        if let Ok(naive) = NaiveDateTime::parse_from_str(trimmed, format) {
            return Ok(Utc.from_utc_datetime(&naive));
        }
    }
    // ISO 8601 without an offset, read as UTC.
    for format in ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%d %H:%M:%S%.f"] {
        if let Ok(naive) = NaiveDateTime::parse_from_str(trimmed, format) {
            return Ok(Utc.from_utc_datetime(&naive));
        }
    }
    Err(TimestampError(crate::ids::truncate_for_message(text)))
}

/// The smallest epoch number read as milliseconds: 10^11 seconds is the
/// year 5138, 10^11 milliseconds is 1973-03-03. Every time a source reports
/// in seconds is far below it, every time in milliseconds since 1973 above.
pub const EPOCH_MILLIS_FROM: f64 = 1e11;

fn from_epoch_number(number: f64) -> Option<DateTime<Utc>> {
    if !number.is_finite() || number < 0.0 {
        return None;
    }
    let millis = if number >= EPOCH_MILLIS_FROM {
        number.round()
    } else {
        (number * 1000.0).round()
    };
    if millis > i64::MAX as f64 {
        return None;
    }
    DateTime::from_timestamp_millis(millis as i64)
}

/// How far ahead of the collector's clock an update time may be: clock
/// skew between AWS hosts, not a time in the future.
pub const FUTURE_TOLERANCE: chrono::TimeDelta = chrono::TimeDelta::minutes(15);

/// The earliest time fanin believes, 2015-01-01T00:00:00Z: Inspector Classic
/// became available in October 2015, Amazon Inspector (v2) in 2021.
pub fn earliest() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2015, 1, 1, 0, 0, 0)
        .single()
        .expect("a valid date")
}

/// Whether `time` is within [`earliest`, `now` + 15 min]: what a version,
/// an archive day or any OCSF time attribute may be.
pub fn is_believable(time: &DateTime<Utc>, now: &DateTime<Utc>) -> bool {
    *time >= earliest() && *time <= *now + FUTURE_TOLERANCE
}

/// RFC 3339 with milliseconds and `Z`, the form fanin writes everywhere.
pub fn rfc3339(time: &DateTime<Utc>) -> String {
    time.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn every_known_form_parses_to_the_same_instant() {
        let expected = "2024-06-20T01:47:55.779Z";
        for input in [
            json!("Thu Jun 20 01:47:55.779 UTC 2024"),
            json!("2024-06-20T01:47:55.779Z"),
            json!("2024-06-20T03:47:55.779+02:00"),
            json!("2024-06-20T01:47:55.779"),
            json!(1718848075.779),
            json!(1718848075779_i64),
            json!(1718848075779.0),
        ] {
            assert_eq!(rfc3339(&parse_json(&input).unwrap()), expected, "{input}");
        }
    }

    #[test]
    fn the_pre_june_2024_form_parses() {
        let parsed = parse_text("Jun 18, 2024, 12:27:04 AM").unwrap();
        assert_eq!(rfc3339(&parsed), "2024-06-18T00:27:04.000Z");
        let afternoon = parse_text("Jun 18, 2024, 1:07:04 PM").unwrap();
        assert_eq!(rfc3339(&afternoon), "2024-06-18T13:07:04.000Z");
        let single_digit_day = parse_text("Thu Jun 6 01:47:55.779 UTC 2024").unwrap();
        assert_eq!(rfc3339(&single_digit_day), "2024-06-06T01:47:55.779Z");
    }

    #[test]
    fn believable_times_are_from_2015_to_a_quarter_hour_ahead() {
        let now = parse_text("2026-01-01T00:00:00Z").unwrap();
        for (text, believable) in [
            ("2015-01-01T00:00:00Z", true),
            ("2014-12-31T23:59:59.999Z", false),
            ("1969-12-31T23:59:59Z", false),
            ("2026-01-01T00:15:00Z", true),
            ("2026-01-01T00:15:00.001Z", false),
            ("9999-12-31T23:59:59Z", false),
        ] {
            let time = parse_text(text).unwrap();
            assert_eq!(is_believable(&time, &now), believable, "{text}");
        }
        // As milliseconds, 253,402,300,800 is 1978: not a version either.
        let year_1978 = parse_json(&json!(253_402_300_800_i64)).unwrap();
        assert_eq!(rfc3339(&year_1978), "1978-01-11T21:31:40.800Z");
        assert!(!is_believable(&year_1978, &now));
        let year_10000 = parse_json(&json!(253_402_300_800_000_i64)).unwrap();
        assert!(!is_believable(&year_10000, &now));
    }

    #[test]
    fn garbage_is_an_error() {
        for input in [
            json!("yesterday"),
            json!(""),
            json!(null),
            json!(-5),
            json!({"a": 1}),
            json!(1e300),
        ] {
            assert!(parse_json(&input).is_err(), "{input}");
        }
    }
}
