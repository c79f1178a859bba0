//! Builds the banner bundle served at `GET /consent.js` from `static/consent.js` and
//! `static/consent.css`.
//!
//! The minification is deliberately conservative, so it can never change what the code means:
//!
//! * CSS: `/* */` comments are removed, whitespace runs collapse to one space, and the space
//!   around `{`, `}`, `;`, `,` and `>` (and after `:`) is dropped. The space *before* a `:` is
//!   kept, because in a selector (`.a :focus`) it is a descendant combinator. A `;` right
//!   before `}` is dropped. Quoted strings are copied as they are.
//! * JS: every line is trimmed, and blank lines and lines that are wholly a `//` comment are
//!   dropped. Newlines stay, so automatic semicolon insertion sees the same code, and nothing
//!   inside a line is touched (a URL such as `"https://…"` in a string is safe). The source must
//!   not use multi-line template literals or strings, whose inner lines would be trimmed.
//!
//! The JS must hold the placeholder `"__CONSENTRY_CSS__"` (a string literal, quotes included)
//! once; it is replaced by the minified CSS as a JSON-escaped string literal.

/// The string literal in `consent.js` that stands for the stylesheet.
pub const CSS_PLACEHOLDER: &str = "\"__CONSENTRY_CSS__\"";

/// The served script: minified `js` with the minified `css` inlined in place of the placeholder.
pub fn build_bundle(js: &str, css: &str) -> String {
    let literal = js_string_literal(&minify_css(css));
    minify_js(js).replacen(CSS_PLACEHOLDER, &literal, 1)
}

/// Conservative CSS minification (see the module docs).
pub fn minify_css(css: &str) -> String {
    let chars: Vec<char> = css.chars().collect();
    let mut out = String::with_capacity(css.len());
    let mut space = false;
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c == '/' && chars.get(i + 1) == Some(&'*') {
            i += 2;
            while i < chars.len() && !(chars[i] == '*' && chars.get(i + 1) == Some(&'/')) {
                i += 1;
            }
            i += 2;
            space = true;
            continue;
        }
        if c.is_whitespace() {
            space = true;
            i += 1;
            continue;
        }
        if space {
            space = false;
            let after_punct = out.chars().last().is_none_or(|l| "{};,>:".contains(l));
            if !after_punct && !"{};,>".contains(c) {
                out.push(' ');
            }
        }
        if c == '"' || c == '\'' {
            out.push(c);
            i += 1;
            while i < chars.len() {
                let s = chars[i];
                out.push(s);
                i += 1;
                if s == '\\' {
                    if let Some(&escaped) = chars.get(i) {
                        out.push(escaped);
                        i += 1;
                    }
                } else if s == c {
                    break;
                }
            }
            continue;
        }
        if c == '}' && out.ends_with(';') {
            out.pop();
        }
        out.push(c);
        i += 1;
    }
    out
}

/// Conservative JS minification (see the module docs).
pub fn minify_js(js: &str) -> String {
    let mut out = String::with_capacity(js.len());
    for line in js.lines().map(str::trim) {
        if line.is_empty() || line.starts_with("//") {
            continue;
        }
        out.push_str(line);
        out.push('\n');
    }
    out
}

/// `s` as a double-quoted JSON string, which is also a JS string literal. `<` is escaped too,
/// so the result can never close a `<script>` or `<style>` element.
pub fn js_string_literal(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '<' => out.push_str("\\u003c"),
            c if (c as u32) < 0x20 || c == '\u{2028}' || c == '\u{2029}' => {
                out.push_str(&format!("\\u{:04x}", c as u32));
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_css_placeholder_is_replaced_by_an_escaped_string() {
        let js = "var css = \"__CONSENTRY_CSS__\";\nuse(css);\n";
        let css = ".a::after { content: \"\\\"q\" }\n";
        let out = build_bundle(js, css);
        assert_eq!(
            out,
            "var css = \".a::after{content:\\\"\\\\\\\"q\\\"}\";\nuse(css);\n"
        );
        assert!(!out.contains("__CONSENTRY_CSS__"));
    }

    #[test]
    fn only_the_placeholder_with_its_quotes_is_replaced() {
        let js = "var a = '__CONSENTRY_CSS__';\nvar b = \"__CONSENTRY_CSS__\";\n";
        let out = build_bundle(js, "a{b:c}");
        assert_eq!(out, "var a = '__CONSENTRY_CSS__';\nvar b = \"a{b:c}\";\n");
    }

    #[test]
    fn a_script_without_the_placeholder_is_only_minified() {
        assert_eq!(build_bundle("  f();  \n\n", "a{}"), "f();\n");
    }

    #[test]
    fn the_escaped_css_can_not_close_a_script_element_or_break_a_line() {
        let lit = js_string_literal("a</style></script>\u{2028}\u{1}\t\r\n");
        assert_eq!(
            lit,
            "\"a\\u003c/style>\\u003c/script>\\u2028\\u0001\\t\\r\\n\""
        );
    }

    #[test]
    fn css_comments_are_removed_and_whitespace_collapsed() {
        let css = "/* head\n comment */\n.a   .b\n{\n  color :  red ;\n  /* inner */ margin: 0  auto;\n}\n";
        assert_eq!(minify_css(css), ".a .b{color :red;margin:0 auto}");
    }

    #[test]
    fn spaces_around_braces_semicolons_commas_and_child_combinators_are_dropped() {
        let css = ".a > .b , .c { x: 1 ; y: 2 }\n@media (max-width: 30em) { .d { z: 3 } }";
        assert_eq!(
            minify_css(css),
            ".a>.b,.c{x:1;y:2}@media (max-width:30em){.d{z:3}}"
        );
    }

    #[test]
    fn a_space_before_a_pseudo_class_is_kept_because_it_is_a_descendant_combinator() {
        assert_eq!(
            minify_css(".r :focus-visible { outline: 0 }"),
            ".r :focus-visible{outline:0}"
        );
        assert_eq!(minify_css(".r *::before { a: b }"), ".r *::before{a:b}");
    }

    #[test]
    fn spaces_inside_calc_and_values_are_kept() {
        assert_eq!(
            minify_css(".a { width: calc(100% - 1rem); font: 15px/1.4 a, b }"),
            ".a{width:calc(100% - 1rem);font:15px/1.4 a,b}"
        );
    }

    #[test]
    fn css_strings_are_copied_untouched() {
        let css = ".a::before { content: \"  /* not a comment */ { ; } \" }\n.b[title='x , y'] {}";
        assert_eq!(
            minify_css(css),
            ".a::before{content:\"  /* not a comment */ { ; } \"}.b[title='x , y']{}"
        );
    }

    #[test]
    fn full_line_js_comments_and_blank_lines_are_removed() {
        let js = "// header\n(function () {\n\n    // inner comment\n    run();   \n})();\n";
        assert_eq!(minify_js(js), "(function () {\nrun();\n})();\n");
    }

    #[test]
    fn a_double_slash_inside_a_line_is_kept() {
        let js = "  var u = \"https://example.org/a\"; // trailing note\n";
        assert_eq!(
            minify_js(js),
            "var u = \"https://example.org/a\"; // trailing note\n"
        );
    }

    #[test]
    fn js_lines_keep_their_newlines_so_asi_is_unaffected() {
        let js = "var a = b\n(c)\nreturn\nx\n";
        assert_eq!(minify_js(js), js);
    }

    #[test]
    fn spaces_inside_js_strings_are_untouched() {
        let js = "    say('  two  spaces  ');\n";
        assert_eq!(minify_js(js), "say('  two  spaces  ');\n");
    }

    #[test]
    fn the_shipped_banner_script_bundles_with_its_stylesheet() {
        let js = include_str!("../../static/consent.js");
        let css = include_str!("../../static/consent.css");
        assert_eq!(js.matches(CSS_PLACEHOLDER).count(), 1);
        let out = build_bundle(js, css);
        assert!(!out.contains("__CONSENTRY_CSS__"));
        assert!(out.contains(".cst-banner{"));
        assert!(!out.contains("/*"), "a CSS comment survived");
        assert!(out.lines().all(|l| !l.trim_start().starts_with("//")));
        assert!(out.len() < js.len() + css.len());
    }
}
