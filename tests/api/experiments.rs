//! Banner experiments: each visitor is shown one variant, drawn by weight; the decision names
//! it and the banner document shown; consent statistics split by it.

use std::collections::BTreeMap;

use consentry::domain::VariantName;
use consentry::domain::variant::{Experiment, FirstLayer, Layout, Variant};
use serde_json::{Value, json};

use crate::helpers::{POLICY_VERSION, TestApp, assert_error, spawn_app_with};

/// `control` (the banner's own texts, a box, the usual order) and `short` (a bar, accept all
/// first, a shorter English title), with equal weights.
fn two_variants() -> Experiment {
    let short_texts = BTreeMap::from([(
        "en".to_owned(),
        BTreeMap::from([("title", "Cookies?".to_owned())]),
    )]);
    Experiment::new(vec![
        Variant {
            name: VariantName::parse("control").unwrap(),
            weight: 1,
            layout: Layout::Box,
            first_layer: FirstLayer::default(),
            texts: BTreeMap::new(),
        },
        Variant {
            name: VariantName::parse("short").unwrap(),
            weight: 1,
            layout: Layout::Bar,
            first_layer: FirstLayer::parse(&["accept_all", "reject_all", "customise"]).unwrap(),
            texts: short_texts,
        },
    ])
}

async fn experiment_app() -> TestApp {
    spawn_app_with(|s| {
        s.sites[0].experiment = two_variants();
        s.min_group_size = 1;
    })
    .await
}

async fn banner(app: &TestApp, query: &str) -> Value {
    let (status, body) = app
        .get_json(&format!("/api/v1/sites/demo/banner?{query}"), &[])
        .await;
    assert_eq!(status, 200, "{body}");
    body
}

async fn decide(app: &TestApp, action: &str, variant: Option<&str>) -> (u16, Value) {
    app.post_json(
        "/api/v1/sites/demo/consents",
        &json!({"action": action, "choices": {}, "policy_version": POLICY_VERSION, "language": "en", "variant": variant}),
    )
    .await
}

#[actix_web::test]
async fn per_variant_opt_in_rates_over_300_decisions_are_the_ones_recorded() {
    let app = experiment_app().await;
    // (decisions, accepted) per variant, as sent.
    let mut sent: BTreeMap<String, (i64, i64)> = BTreeMap::new();
    for _ in 0..300 {
        let shown = banner(&app, "lang=en").await;
        let variant = shown["variant"].as_str().unwrap().to_owned();
        let tally = sent.entry(variant.clone()).or_default();
        // control: 2 of every 5 accept; short: 3 of every 5.
        let accepts = if variant == "short" { 3 } else { 2 };
        let action = if tally.0 % 5 < accepts {
            "accept_all"
        } else {
            "reject_all"
        };
        let (status, record) = decide(&app, action, Some(&variant)).await;
        assert_eq!(status, 201, "{record}");
        assert_eq!(record["variant"], variant.as_str());
        assert_eq!(
            record["banner_hash"], shown["banner_hash"],
            "the decision names the document shown"
        );
        tally.0 += 1;
        tally.1 += i64::from(action == "accept_all");
    }
    let (status, outside) = decide(&app, "accept_all", None).await;
    assert_eq!(status, 201, "{outside}");
    assert!(outside.get("variant").is_none(), "{outside}");

    let drawn: Vec<i64> = sent.values().map(|t| t.0).collect();
    assert_eq!(sent.len(), 2, "both variants are drawn: {sent:?}");
    assert!(
        drawn.iter().all(|n| (100..=200).contains(n)),
        "equal weights draw about half each: {sent:?}"
    );

    let (_, key) = app.api_key("demo").await;
    let (status, answer) = app
        .query_at(
            "consent-stats",
            &key,
            &json!({"metrics": ["decisions", "opt_in_rate", "opt_in_rate_low", "opt_in_rate_high"],
                    "date_range": "today", "dimensions": ["consent:variant"], "order_by": [["consent:variant", "asc"]]}),
        )
        .await;
    assert_eq!(status, 200, "{answer}");
    let rows = answer["results"].as_array().unwrap();
    let names: Vec<&str> = rows
        .iter()
        .map(|r| r["dimensions"][0].as_str().unwrap())
        .collect();
    assert_eq!(names, ["(none)", "control", "short"]);
    assert_eq!(rows[0]["metrics"], json!([1, 100.0, 20.7, 100.0]));
    for row in &rows[1..] {
        let (n, accepted) = sent[row["dimensions"][0].as_str().unwrap()];
        let m = row["metrics"].as_array().unwrap();
        let rate = (accepted as f64 * 1000.0 / n as f64).round() / 10.0;
        assert_eq!(m[0], n, "{row}");
        assert_eq!(m[1].as_f64(), Some(rate), "{row}");
        let (low, high) = (m[2].as_f64().unwrap(), m[3].as_f64().unwrap());
        assert!(low < rate && rate < high, "{row}");
        assert!(high - low > 5.0 && high - low < 25.0, "{row}");
    }
}

#[actix_web::test]
async fn a_variant_shows_its_texts_layout_and_order_from_its_own_archived_document() {
    let app = experiment_app().await;
    let short = banner(&app, "lang=en&variant=short").await;
    assert_eq!(short["variant"], "short");
    assert_eq!(short["layout"], "bar");
    assert_eq!(
        short["buttons"],
        json!(["accept_all", "reject_all", "customise"])
    );
    assert_eq!(short["texts"]["title"], "Cookies?");
    let control = banner(&app, "lang=en&variant=control").await;
    assert_eq!(control["layout"], "box");
    assert_eq!(
        control["buttons"],
        json!(["reject_all", "accept_all", "customise"])
    );
    assert_eq!(control["texts"]["title"], "We value your privacy");
    assert_ne!(short["banner_hash"], control["banner_hash"]);
    let german = banner(&app, "variant=short&lang=de").await;
    assert_eq!(
        german["texts"]["title"], "Ihre Privatsphäre ist uns wichtig",
        "a language the variant does not change keeps the banner's text"
    );

    let (status, doc) = app
        .get_json(
            &format!(
                "/api/v1/sites/demo/notices/{}",
                short["banner_hash"].as_str().unwrap()
            ),
            &[],
        )
        .await;
    assert_eq!(status, 200, "{doc}");
    assert_eq!(doc["texts"]["title"], "Cookies?");
    assert_eq!(
        doc["variant"],
        json!({"name": "short", "layout": "bar", "buttons": ["accept_all", "reject_all", "customise"]})
    );

    let (status, body) = app
        .get_json("/api/v1/sites/demo/banner?variant=nope", &[])
        .await;
    assert_eq!(status, 400, "{body}");
    assert_error(&body, "invalid_request");
    for variant in ["nope", "Not A Name"] {
        let (status, body) = decide(&app, "accept_all", Some(variant)).await;
        assert_eq!(status, 400, "{variant}: {body}");
        assert_error(&body, "invalid_request");
        assert!(
            body["error"]["message"]
                .as_str()
                .unwrap()
                .contains("variant")
        );
    }
}

#[actix_web::test]
async fn a_site_without_an_experiment_shows_its_one_banner_in_the_usual_order() {
    let app = spawn_app_with(|_| {}).await;
    let shown = banner(&app, "lang=en").await;
    assert_eq!(shown["variant"], Value::Null);
    assert_eq!(shown["layout"], "box");
    assert_eq!(
        shown["buttons"],
        json!(["reject_all", "accept_all", "customise"])
    );
    let (status, body) = decide(&app, "accept_all", Some("control")).await;
    assert_eq!(status, 400, "a variant of no experiment: {body}");
}
