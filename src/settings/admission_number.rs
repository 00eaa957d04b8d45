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
        let width: usize = out[start + 4..end]
            .trim_start_matches(':')
            .parse()
            .unwrap_or(0);
        out.replace_range(start..=end, &format!("{seq:0width$}"));
    }
    out
}

/// Why a pattern cannot be used, if it cannot.
pub fn validate(pattern: &str) -> Result<(), &'static str> {
    if !pattern.contains("{SEQ") {
        return Err("The pattern must contain {SEQ} or {SEQ:n} for the running number.");
    }
    if pattern.len() > 40 {
        return Err("Use at most 40 characters.");
    }
    Ok(())
}
