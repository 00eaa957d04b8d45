//! The admission number pattern a school sets (`ADM/{YYYY}/{SEQ:4}`).

/// An admission number from the pattern: `{YYYY}` year, `{YY}` its last two digits,
/// `{SEQ:n}` the running number padded to n digits.
pub fn render(pattern: &str, year: i32, seq: i32) -> String {
    let mut out = pattern
        .replace("{YYYY}", &year.to_string())
        .replace("{YY}", &format!("{:02}", year.rem_euclid(100)));
    while let Some(start) = out.find("{SEQ") {
        let Some(end) = out[start..].find('}').map(|e| start + e) else {
            break;
        };
        // Bounded (validate refuses wider), so a stored pattern can never make numbers
        // longer than the column takes.
        let width: usize = out[start + 4..end]
            .trim_start_matches(':')
            .parse::<usize>()
            .unwrap_or(0)
            .min(MAX_SEQ_WIDTH);
        out.replace_range(start..=end, &format!("{seq:0width$}"));
    }
    out
}

/// The widest running number a pattern may ask for.
pub const MAX_SEQ_WIDTH: usize = 9;

/// Why a pattern cannot be used, if it cannot.
pub fn validate(pattern: &str) -> Result<(), &'static str> {
    if !pattern.contains("{SEQ") {
        return Err("The pattern must contain {SEQ} or {SEQ:n} for the running number.");
    }
    let mut rest = pattern;
    while let Some(start) = rest.find("{SEQ") {
        let Some(end) = rest[start..].find('}').map(|e| start + e) else {
            return Err("Close {SEQ with a }.");
        };
        let width = &rest[start + 4..end];
        let ok = width.is_empty()
            || width
                .strip_prefix(':')
                .and_then(|w| w.parse::<usize>().ok())
                .is_some_and(|w| (1..=MAX_SEQ_WIDTH).contains(&w));
        if !ok {
            return Err("Write the running number as {SEQ} or {SEQ:n} with n from 1 to 9.");
        }
        rest = &rest[end + 1..];
    }
    if pattern.len() > 40 {
        return Err("Use at most 40 characters.");
    }
    Ok(())
}
