//! nginx time strings (`30s`, `10m`, `500ms`, `1h30m`) as configuration values.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use serde::{Deserialize, Deserializer, de};

/// A duration written like nginx writes them: a sequence of `<number><unit>` with units `ms`,
/// `s`, `m`, `h`, `d` (`1h30m`, `500ms`); a bare number means seconds. TOML integers are
/// accepted as seconds too.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
pub struct NginxDuration(pub Duration);

impl FromStr for NginxDuration {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let text = text.trim();
        if text.is_empty() {
            return Err("empty duration".to_string());
        }
        if let Ok(seconds) = text.parse::<u64>() {
            return Ok(Self(Duration::from_secs(seconds)));
        }
        let mut total = Duration::ZERO;
        let mut rest = text;
        while !rest.is_empty() {
            let digits = rest
                .find(|c: char| !c.is_ascii_digit())
                .unwrap_or(rest.len());
            if digits == 0 {
                return Err(format!("`{text}`: expected a number before `{rest}`"));
            }
            let (number, tail) = rest.split_at(digits);
            let number: u64 = number
                .parse()
                .map_err(|_| format!("`{text}`: number `{number}` is too large"))?;
            let unit_len = tail
                .find(|c: char| c.is_ascii_digit())
                .unwrap_or(tail.len());
            let (unit, tail) = tail.split_at(unit_len);
            let part = match unit {
                "ms" => Duration::from_millis(number),
                "s" | "" => Duration::from_secs(number),
                "m" => Duration::from_secs(number.saturating_mul(60)),
                "h" => Duration::from_secs(number.saturating_mul(3600)),
                "d" => Duration::from_secs(number.saturating_mul(86_400)),
                other => {
                    return Err(format!(
                        "`{text}`: unknown unit `{other}` (use ms, s, m, h or d)"
                    ));
                }
            };
            total = total.saturating_add(part);
            rest = tail;
        }
        Ok(Self(total))
    }
}

impl fmt::Display for NginxDuration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let millis = self.0.as_millis();
        if millis.is_multiple_of(1000) {
            write!(f, "{}s", millis / 1000)
        } else {
            write!(f, "{millis}ms")
        }
    }
}

impl<'de> Deserialize<'de> for NginxDuration {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl de::Visitor<'_> for Visitor {
            type Value = NginxDuration;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a duration such as \"30s\", \"10m\" or \"500ms\", or seconds")
            }
            fn visit_str<E: de::Error>(self, text: &str) -> Result<Self::Value, E> {
                text.parse().map_err(E::custom)
            }
            fn visit_i64<E: de::Error>(self, seconds: i64) -> Result<Self::Value, E> {
                u64::try_from(seconds)
                    .map(|s| NginxDuration(Duration::from_secs(s)))
                    .map_err(|_| E::custom("a duration cannot be negative"))
            }
        }
        deserializer.deserialize_any(Visitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_nginx_time_syntax() {
        let cases = [
            ("30s", Some(30_000)),
            ("10m", Some(600_000)),
            ("500ms", Some(500)),
            ("1h30m", Some(5_400_000)),
            ("60", Some(60_000)),
            ("1d", Some(86_400_000)),
            ("", None),
            ("s", None),
            ("5x", None),
            ("-1s", None),
        ];
        for (text, want) in cases {
            let got = text
                .parse::<NginxDuration>()
                .ok()
                .map(|d| d.0.as_millis() as u64);
            assert_eq!(got, want, "{text:?}");
        }
    }
}
