//! Times are stored as microseconds since the Unix epoch (UTC) and rendered the way Label
//! Studio renders them: `2021-08-17T13:51:02.590839Z`.

use chrono::{DateTime, SecondsFormat, Utc};

/// Now, in stored form.
pub fn now() -> i64 {
    Utc::now().timestamp_micros()
}

/// Renders a stored time as Label Studio does.
pub fn render(micros: i64) -> String {
    DateTime::<Utc>::from_timestamp_micros(micros)
        .unwrap_or_default()
        .to_rfc3339_opts(SecondsFormat::Micros, true)
}

/// Renders an optional stored time (`null` when absent).
pub fn render_opt(micros: Option<i64>) -> Option<String> {
    micros.map(render)
}

/// Parses an RFC 3339 time (as a client sends it in a filter) into stored form.
pub fn parse(text: &str) -> Option<i64> {
    DateTime::parse_from_rfc3339(text)
        .ok()
        .map(|t| t.with_timezone(&Utc).timestamp_micros())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_like_label_studio() {
        assert_eq!(render(1_629_208_262_590_839), "2021-08-17T13:51:02.590839Z");
        assert_eq!(
            parse("2021-08-17T13:51:02.590839Z"),
            Some(1_629_208_262_590_839)
        );
    }
}
