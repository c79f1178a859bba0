//! The hosted policy page's own words (`templates/policy.html`) in English, German, French and
//! Spanish: its prose, headings, labels and buttons. The site's own texts (categories,
//! services, cookies) come from its settings instead.
//!
//! A text is a trusted HTML fragment (written here, never from input) with `{name}`
//! placeholders; the page fills them with its values, escaped (`http::views::PolicyPage::fill`).
//! Every language is a value of one struct, so a missing text does not compile; the tests
//! below check that each translation names the same placeholders and the same markup.

/// Every text of the policy page in one language.
pub struct PolicyTexts {
    pub title: &'static str,
    pub meta_description: &'static str,
    pub skip_link: &'static str,
    pub choices: &'static str,
    pub version: &'static str,
    pub last_updated: &'static str,
    pub upcoming: &'static str,
    pub lead: &'static str,
    pub summary: [&'static str; 3],
    pub toc_title: &'static str,
    pub h_controller: &'static str,
    pub h_categories: &'static str,
    pub h_legal_bases: &'static str,
    pub h_not_collected: &'static str,
    pub h_recipients: &'static str,
    pub h_retention: &'static str,
    pub h_rights: &'static str,
    pub h_gpc: &'static str,
    pub h_changes: &'static str,
    pub do_not_sell: &'static str,
    pub controller_intro: &'static str,
    pub privacy_contact: &'static str,
    pub dpo: &'static str,
    pub controller_outro: &'static str,
    pub categories_intro: &'static str,
    pub data_choices: &'static str,
    pub data_usage_term: &'static str,
    pub data_usage: &'static str,
    pub data_requests_term: &'static str,
    pub data_requests: &'static str,
    pub categories_list: &'static str,
    pub always_on: &'static str,
    pub with_permission: &'static str,
    pub sale_or_sharing: &'static str,
    pub legal_basis: &'static str,
    pub basis_required: &'static str,
    pub basis_consent: &'static str,
    pub basis_sharing: &'static str,
    pub no_services: &'static str,
    pub provider: &'static str,
    pub purpose: &'static str,
    pub provider_policy: &'static str,
    pub no_cookies: &'static str,
    pub cookies_caption: &'static str,
    pub name: &'static str,
    pub duration: &'static str,
    pub legal_intro: &'static str,
    pub legal_caption: &'static str,
    pub processing: &'static str,
    pub legal_required: &'static str,
    pub legal_consent: &'static str,
    pub records_term: &'static str,
    pub legal_records: &'static str,
    pub technical_term: &'static str,
    pub legal_technical: &'static str,
    pub withdraw: &'static str,
    pub never: [&'static str; 3],
    pub pseudonymous: &'static str,
    pub recipients: [&'static str; 2],
    pub retention_caption: &'static str,
    pub data: &'static str,
    pub how_long: &'static str,
    pub logs_term: &'static str,
    pub logs: &'static str,
    pub events_term: &'static str,
    pub events: &'static str,
    pub inactive_term: &'static str,
    pub inactive: &'static str,
    pub consent_term: &'static str,
    pub consent: &'static str,
    pub refusal_term: &'static str,
    pub refusal: &'static str,
    pub records: &'static str,
    pub erased_term: &'static str,
    pub erased: &'static str,
    pub cookie_lifetimes: &'static str,
    pub rights_gdpr: &'static str,
    pub gdpr: [&'static str; 8],
    pub rights_ccpa: &'static str,
    pub ccpa: [&'static str; 6],
    pub how_to: &'static str,
    pub ways: [&'static str; 3],
    pub how_to_find: &'static str,
    pub how_to_answer: &'static str,
    pub gpc: &'static str,
    pub gpc_on: &'static str,
    pub gpc_off: &'static str,
    pub changes: [&'static str; 2],
    pub this_version: &'static str,
    pub prefs_intro: &'static str,
    pub receipt: &'static str,
    pub receipt_hint: &'static str,
    pub categories: &'static str,
    pub gpc_stays_off: &'static str,
    pub reject_all: &'static str,
    pub accept_all: &'static str,
    pub save: &'static str,
    pub opt_out: &'static str,
    pub your_data: &'static str,
    pub erased_notice: &'static str,
    pub consent_id: &'static str,
    pub download: &'static str,
    pub confirm_question: &'static str,
    pub confirm_erase: &'static str,
    pub cancel: &'static str,
    pub erase: &'static str,
    pub no_id: &'static str,
    pub no_script: &'static str,
    pub footer_version: &'static str,
    pub error_title: &'static str,
    pub error_expired: &'static str,
    pub error_busy: &'static str,
    pub error_invalid: &'static str,
    pub error_unavailable: &'static str,
    pub error_not_found: &'static str,
    pub back: &'static str,
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

impl PolicyTexts {
    /// Every text, in the order of the struct (for the tests, here and of the page).
    pub fn all(&self) -> Vec<&'static str> {
        let mut v = vec![
            self.title,
            self.meta_description,
            self.skip_link,
            self.choices,
            self.version,
            self.last_updated,
            self.upcoming,
            self.lead,
            self.toc_title,
            self.h_controller,
            self.h_categories,
            self.h_legal_bases,
            self.h_not_collected,
            self.h_recipients,
            self.h_retention,
            self.h_rights,
            self.h_gpc,
            self.h_changes,
            self.do_not_sell,
            self.controller_intro,
            self.privacy_contact,
            self.dpo,
            self.controller_outro,
            self.categories_intro,
            self.data_choices,
            self.data_usage_term,
            self.data_usage,
            self.data_requests_term,
            self.data_requests,
            self.categories_list,
            self.always_on,
            self.with_permission,
            self.sale_or_sharing,
            self.legal_basis,
            self.basis_required,
            self.basis_consent,
            self.basis_sharing,
            self.no_services,
            self.provider,
            self.purpose,
            self.provider_policy,
            self.no_cookies,
            self.cookies_caption,
            self.name,
            self.duration,
            self.legal_intro,
            self.legal_caption,
            self.processing,
            self.legal_required,
            self.legal_consent,
            self.records_term,
            self.legal_records,
            self.technical_term,
            self.legal_technical,
            self.withdraw,
            self.pseudonymous,
            self.retention_caption,
            self.data,
            self.how_long,
            self.logs_term,
            self.logs,
            self.events_term,
            self.events,
            self.inactive_term,
            self.inactive,
            self.consent_term,
            self.consent,
            self.refusal_term,
            self.refusal,
            self.records,
            self.erased_term,
            self.erased,
            self.cookie_lifetimes,
            self.rights_gdpr,
            self.rights_ccpa,
            self.how_to,
            self.how_to_find,
            self.how_to_answer,
            self.gpc,
            self.gpc_on,
            self.gpc_off,
            self.this_version,
            self.prefs_intro,
            self.receipt,
            self.receipt_hint,
            self.categories,
            self.gpc_stays_off,
            self.reject_all,
            self.accept_all,
            self.save,
            self.opt_out,
            self.your_data,
            self.erased_notice,
            self.consent_id,
            self.download,
            self.confirm_question,
            self.confirm_erase,
            self.cancel,
            self.erase,
            self.no_id,
            self.no_script,
            self.footer_version,
            self.error_title,
            self.error_expired,
            self.error_busy,
            self.error_invalid,
            self.error_unavailable,
            self.error_not_found,
            self.back,
        ];
        v.extend(self.summary);
        v.extend(self.never);
        v.extend(self.recipients);
        v.extend(self.gdpr);
        v.extend(self.ccpa);
        v.extend(self.ways);
        v.extend(self.changes);
        v
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
