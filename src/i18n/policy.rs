//! The hosted policy page's own words (`templates/policy.html`) in English, German, French and
//! Spanish: its prose, headings, labels and buttons. The site's own texts (categories,
//! services, cookies) come from its settings instead.
//!
//! A text is a trusted HTML fragment (written here, never from input) with `{name}`
//! placeholders; the page fills them with its values, escaped (`http::views::PolicyPage::fill`).
//! Every language is a value of one struct, so a missing text does not compile; the tests
//! below check that each translation names the same placeholders and the same markup.

/// Declares `PolicyTexts` and its `all()` from one list of fields, so a text cannot be left
/// out of the tests that walk `all()`.
macro_rules! policy_texts {
    (texts: $($text:ident),* ; lists: $($list:ident: $n:literal),* $(,)?) => {
        /// Every text of the policy page in one language.
        pub struct PolicyTexts {
            $(pub $text: &'static str,)*
            $(pub $list: [&'static str; $n],)*
        }

        impl PolicyTexts {
            /// Every text, in the order of the struct (for the tests, here and of the page).
            pub fn all(&self) -> Vec<&'static str> {
                let mut v = vec![$(self.$text),*];
                $(v.extend(self.$list);)*
                v
            }
        }
    };
}

policy_texts! {
    texts: title, meta_description, skip_link, choices, version, last_updated, upcoming, lead, toc_title, h_controller, h_categories, h_legal_bases, h_not_collected, h_recipients, h_retention, h_rights, h_gpc, h_changes, do_not_sell, controller_intro, privacy_contact, dpo, controller_outro, categories_intro, data_choices, data_usage_term, data_usage, data_requests_term, data_requests, categories_list, always_on, with_permission, sale_or_sharing, legal_basis, basis_required, basis_consent, basis_sharing, no_services, provider, purpose, provider_policy, no_cookies, cookies_caption, name, duration, legal_intro, legal_caption, processing, legal_required, legal_consent, records_term, legal_records, technical_term, legal_technical, withdraw, pseudonymous, retention_caption, data, how_long, logs_term, logs, events_term, events, inactive_term, inactive, consent_term, consent, refusal_term, refusal, records, erased_term, erased, cookie_lifetimes, rights_gdpr, rights_ccpa, how_to, how_to_find, how_to_answer, gpc, gpc_on, gpc_off, this_version, prefs_intro, receipt, receipt_hint, categories, gpc_stays_off, reject_all, accept_all, save, opt_out, your_data, erased_notice, consent_id, download, confirm_question, confirm_erase, cancel, erase, no_id, no_script, footer_version, error_title, error_expired, error_busy, error_invalid, error_unavailable, error_not_found, back;
    lists: summary: 3, never: 3, recipients: 2, gdpr: 8, ccpa: 6, ways: 3, changes: 2
}

/// The policy page's texts in `language` (one of `i18n::LANGUAGES`; anything else is English).
pub fn policy_texts(language: &str) -> &'static PolicyTexts {
    match language {
        "de" => &super::policy_de::DE,
        "fr" => &super::policy_fr::FR,
        "es" => &super::policy_es::ES,
        _ => &super::policy_en::EN,
    }
}

/// The `{name}` placeholders of a text, in order.
pub fn placeholders(text: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(open) = rest.find('{') {
        let Some(close) = rest[open..].find('}') else {
            break;
        };
        out.push(&rest[open + 1..open + close]);
        rest = &rest[open + close + 1..];
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::i18n::LANGUAGES;

    /// The tags of a text (`<a`, `</a>`, `<strong>` …), in order.
    fn tags(text: &str) -> Vec<String> {
        text.split('<')
            .skip(1)
            .map(|t| {
                let name: String = t
                    .chars()
                    .take_while(|c| c.is_ascii_alphanumeric() || *c == '/')
                    .collect();
                name
            })
            .collect()
    }

    #[test]
    fn every_translation_names_the_same_placeholders_and_markup_as_english() {
        let en = policy_texts("en").all();
        for l in LANGUAGES {
            let texts = policy_texts(l).all();
            assert_eq!(texts.len(), en.len());
            for (t, e) in texts.iter().zip(&en) {
                assert!(!t.trim().is_empty(), "{l}: an empty text for `{e}`");
                let mut mine = placeholders(t);
                let mut theirs = placeholders(e);
                mine.sort_unstable();
                theirs.sort_unstable();
                assert_eq!(mine, theirs, "{l}: `{t}` against `{e}`");
                let (mut mine, mut theirs) = (tags(t), tags(e));
                mine.sort_unstable();
                theirs.sort_unstable();
                assert_eq!(mine, theirs, "{l}: the markup of `{t}` against `{e}`");
            }
        }
    }

    #[test]
    fn the_other_languages_are_translations_not_copies_of_english() {
        let en = policy_texts("en").all();
        for l in ["de", "fr", "es"] {
            let copied: Vec<&&str> = policy_texts(l)
                .all()
                .iter()
                .zip(&en)
                .filter(|(t, e)| t == e)
                .map(|(_, e)| e)
                .collect();
            // Words that are the same in that language (a brand, an abbreviation).
            let same = [
                "Global Privacy Control",
                "SHA-256",
                "Version",
                "Cookies",
                "Name",
            ];
            assert!(
                copied.iter().all(|c| same.contains(c)),
                "{l} copies English: {copied:?}"
            );
        }
    }
}
