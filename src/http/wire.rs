//! JSON shapes shared by several endpoints, and the conversions from domain values.

use std::collections::BTreeMap;

use serde::Serialize;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::domain::{ConsentRecord, Timestamp};

/// RFC 3339 in UTC with milliseconds.
pub fn rfc3339(at: Timestamp) -> String {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(at.millis()) * 1_000_000)
        .ok()
        .and_then(|t| t.format(&Rfc3339).ok())
        .unwrap_or_default()
}

/// The contract's consent record.
#[derive(Debug, Serialize)]
pub struct ConsentJson {
    pub consent_id: String,
    pub action: &'static str,
    pub choices: BTreeMap<String, bool>,
    pub policy_version: String,
    pub regime: &'static str,
    pub jurisdiction: String,
    pub gpc: bool,
    pub recorded_at: String,
    pub expires_at: String,
    pub receipt: String,
    pub policy_hash: String,
    pub banner_hash: String,
    /// The banner variant the decision was made on; absent outside an experiment.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub variant: Option<String>,
    pub language: String,
}

impl From<&ConsentRecord> for ConsentJson {
    fn from(r: &ConsentRecord) -> ConsentJson {
        let d = &r.decision;
        ConsentJson {
            consent_id: d.consent_id.to_string(),
            action: d.action.as_str(),
            choices: d.choices.iter().map(|(k, v)| (k.to_string(), v)).collect(),
            policy_version: d.policy_version.to_string(),
            regime: d.regime.as_str(),
            jurisdiction: d.jurisdiction.clone(),
            gpc: d.gpc,
            recorded_at: rfc3339(d.recorded_at),
            expires_at: rfc3339(d.expires_at),
            receipt: r.receipt.clone(),
            policy_hash: d.policy_hash.clone(),
            banner_hash: d.banner_hash.clone(),
            variant: d.variant.as_ref().map(ToString::to_string),
            language: d.language.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_are_rfc3339_utc_with_milliseconds() {
        assert_eq!(
            rfc3339(Timestamp(1_700_000_000_123)),
            "2023-11-14T22:13:20.123Z"
        );
    }
}
