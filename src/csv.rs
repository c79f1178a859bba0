//! CSV cells for what a marketer or an auditor opens in a spreadsheet: the query API's CSV
//! answers and the audit export's table.

/// Whether a spreadsheet would read a cell as a formula: it starts with `=`, `+`, `-` or `@`
/// (or their full-width forms), possibly after whitespace or control characters, which
/// spreadsheets skip; or it starts with a tab or a line break.
fn reads_as_formula(raw: &str) -> bool {
    let rest = raw.trim_start_matches(|c: char| c.is_whitespace() || c.is_control());
    raw.starts_with(['\t', '\r', '\n'])
        || rest.starts_with([
            '=', '+', '-', '@', '\u{ff1d}', '\u{ff0b}', '\u{ff0d}', '\u{ff20}',
        ])
}

/// One CSV field: quoted when it must be, and defused (a leading `'`) when a spreadsheet would
/// read it as a formula.
pub fn field(raw: &str) -> String {
    let text = if reads_as_formula(raw) {
        format!("'{raw}")
    } else {
        raw.to_owned()
    };
    if text.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text
    }
}

#[cfg(test)]
mod tests {
    use super::field as csv_field;

    #[test]
    fn csv_fields_are_quoted_and_formulas_defused() {
        assert_eq!(csv_field("/pricing"), "/pricing");
        assert_eq!(csv_field("a,b"), "\"a,b\"");
        assert_eq!(csv_field("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(csv_field("=HYPERLINK(1)"), "'=HYPERLINK(1)");
        assert_eq!(csv_field(" =1+1"), "' =1+1");
        assert_eq!(
            csv_field("\u{a0}\u{3000}@SUM(A1)"),
            "'\u{a0}\u{3000}@SUM(A1)"
        );
        assert_eq!(csv_field("\u{ff1d}1+1"), "'\u{ff1d}1+1");
        assert_eq!(csv_field("\n-1"), "\"'\n-1\"");
        assert_eq!(csv_field("a =1"), "a =1");
    }
}
