//! What the HTML templates see: plain owned values, built from settings by `pages`.
//!
//! Templates know nothing of the domain's types; each page has one view struct here.

use askama::Template;

use crate::i18n::{PolicyTexts, placeholders};
use crate::notices::{CategoryDoc, PolicyDoc};

/// A category as the policy page shows it: the archived policy document's category (so the
/// page renders exactly what the hash in its meta tag names), and whether the form ticks it.
#[derive(Debug, Clone)]
pub struct CategoryView {
    pub doc: CategoryDoc,
    /// The visitor's current choice, never a default.
    pub checked: bool,
}

impl std::ops::Deref for CategoryView {
    type Target = CategoryDoc;

    fn deref(&self) -> &CategoryDoc {
        &self.doc
    }
}

/// The preferences form that works without JavaScript.
#[derive(Debug, Clone)]
pub struct PreferencesForm {
    /// Where the form posts (`application/x-www-form-urlencoded`), e.g. `/sites/demo/policy/preferences`.
    pub action_url: String,
    /// Goes in a hidden field named `csrf`.
    pub csrf_token: String,
    /// A message after a saved choice, e.g. "Your choices were saved."
    pub saved_message: Option<String>,
    /// The receipt of the saved decision, shown so the visitor can keep it.
    pub receipt: Option<String>,
    /// This browser's consent id, when the site is served from here and one is set.
    pub consent_id: Option<String>,
    /// Where "Download my data" links to (the export endpoint of `consent_id`).
    pub export_url: String,
    /// Where the erase form posts.
    pub erase_url: String,
    /// The first step of "Erase my data": the page that asks for confirmation.
    pub confirm_erase_url: String,
    /// The page is asking the visitor to confirm an erasure.
    pub confirm_erase: bool,
    /// An erasure was just completed.
    pub erased: bool,
}

/// `GET /sites/{site}/policy`: the archived policy document (fields reach the template through
/// `Deref`), so the page renders exactly what `policy_hash` names, plus this visitor's state.
#[derive(Template)]
#[template(path = "policy.html")]
pub struct PolicyPage<'a> {
    pub doc: &'a PolicyDoc,
    pub site_id: String,
    pub language: String,
    /// Hex SHA-256 of `doc` as archived.
    pub policy_hash: String,
    pub categories: Vec<CategoryView>,
    pub form: PreferencesForm,
    /// The browser sent `Sec-GPC: 1`.
    pub gpc: bool,
    /// A version announced ahead: (version, effective date, summary).
    pub upcoming: Option<(String, String, String)>,
    /// The page's own words in `language`.
    pub t: &'static PolicyTexts,
    /// The site's origins, space-separated: the pages whose links may hand this page a
    /// consent id (`#consent=`).
    pub origins: String,
}

impl PolicyPage<'_> {
    /// A text of `t` (trusted HTML) with its `{name}` placeholders replaced by this page's
    /// values, each escaped: the one place the page's values meet the catalogue's markup.
    pub fn fill(&self, text: &str) -> String {
        self.fill_with(text, "")
    }

    /// `fill`, with `{service}` as `service`.
    pub fn fill_with(&self, text: &str, service: &str) -> String {
        let mut out = String::with_capacity(text.len() + 64);
        let mut rest = text;
        for name in placeholders(text) {
            let marker = format!("{{{name}}}");
            let Some(at) = rest.find(&marker) else {
                break;
            };
            out.push_str(&rest[..at]);
            out.push_str(&escape(&self.value(name, service)));
            rest = &rest[at + marker.len()..];
        }
        out.push_str(rest);
        out
    }

    fn value(&self, name: &str, service: &str) -> String {
        let d = self.doc;
        let upcoming = |i: usize| {
            self.upcoming
                .as_ref()
                .map(|u| [&u.0, &u.1, &u.2][i].clone())
                .unwrap_or_default()
        };
        match name {
            "site_name" => d.site_name.clone(),
            "controller" => d.controller.clone(),
            "contact_email" => d.contact_email.clone(),
            "version" => d.version.clone(),
            "log_retention_days" => d.log_retention_days.to_string(),
            "event_retention_days" => d.event_retention_days.to_string(),
            "inactivity_deletion_months" => d.inactivity_deletion_months.to_string(),
            "consent_max_age_days" => d.consent_max_age_days.to_string(),
            "reject_max_age_days" => d.reject_max_age_days.to_string(),
            "next_version" => upcoming(0),
            "next_date" => upcoming(1),
            "next_summary" => upcoming(2),
            "consent_id" => self.form.consent_id.clone().unwrap_or_default(),
            "service" => service.to_owned(),
            // A placeholder the page does not know stays visible rather than silently empty;
            // `i18n::policy`'s tests keep every translation to English's placeholders.
            other => format!("{{{other}}}"),
        }
    }
}

/// `text` safe inside HTML text and quoted attribute values: askama's own HTML escaping, the
/// same as the template's.
fn escape(text: &str) -> String {
    let Ok(safe) = askama::filters::escape(text, askama::filters::Html);
    safe.to_string()
}

impl std::ops::Deref for PolicyPage<'_> {
    type Target = PolicyDoc;

    fn deref(&self) -> &PolicyDoc {
        self.doc
    }
}

/// `GET /`: the demo site of the default configuration.
#[derive(Template)]
#[template(path = "demo.html")]
pub struct DemoPage {
    pub site_id: String,
    pub site_name: String,
    /// e.g. `/sites/demo/policy`.
    pub policy_url: String,
}

/// `GET /` when no `demo` site is configured.
#[derive(Template)]
#[template(path = "index.html")]
pub struct IndexPage {
    pub sites: Vec<(String, String)>,
}

/// `GET /dashboard/{site}` when signed in.
#[derive(Template)]
#[template(path = "dashboard.html")]
pub struct DashboardPage {
    pub site_id: String,
    pub site_name: String,
    /// The signed-in key's id (never the key), shown so a marketer knows which key is in use.
    pub key_id: String,
    /// The sign-out form's CSRF token (`http::csrf`).
    pub csrf_token: String,
    /// How many goals the site defines (none: the conversions panel says how to add one).
    pub goals: usize,
    /// The currency of the site's revenue goals, if any (the conversions panel shows revenue).
    pub currency: Option<String>,
}

/// `GET /dashboard/{site}` when signed out, and a failed sign-in.
#[derive(Template)]
#[template(path = "dashboard_signin.html")]
pub struct DashboardSignin {
    pub site_id: String,
    pub site_name: String,
    /// Goes in a hidden field named `csrf` (`http::csrf`).
    pub csrf_token: String,
    /// Why the last sign-in failed, if it did.
    pub error: Option<String>,
}

/// What a browser sees when a policy-page form fails (`http::form_errors`).
#[derive(Template)]
#[template(path = "form_error.html")]
pub struct FormErrorPage {
    pub language: &'static str,
    pub t: &'static PolicyTexts,
    /// The error's code, as in the JSON body.
    pub code: &'static str,
    pub message: &'static str,
    /// The policy page, when the site exists.
    pub back_url: Option<String>,
}
