//! Query answers against an independent model over generated datasets: whatever visitors
//! choose, send and erase, the totals count exactly the events of granted categories from
//! visitors who were not erased, from rollups and from raw events alike.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::{Value, json};

use crate::helpers::{POLICY_VERSION, spawn_app_with};

const DAY_A: i64 = 20_720 * 86_400_000;

/// What a visitor chose: (action, choices, analytics granted, marketing granted).
fn choice(rng: &mut StdRng) -> (&'static str, Value, bool, bool) {
    match rng.random_range(0..5) {
        0 => ("accept_all", json!({}), true, true),
        1 => ("reject_all", json!({}), false, false),
        2 => ("save", json!({"analytics": true}), true, false),
        3 => ("save", json!({"marketing": true}), false, true),
        _ => (
            "save",
            json!({"analytics": true, "marketing": true}),
            true,
            true,
        ),
    }
}

#[derive(Default, Debug, PartialEq, Eq)]
struct Model {
    pageviews: i64,
    custom: i64,
    /// Completions of the demo site's goals: `signup` and `purchase` (not `download`).
    goals: i64,
    visitors: i64,
}

#[actix_web::test]
async fn totals_count_exactly_the_consented_events_of_visitors_not_erased() {
    for seed in 0..12u64 {
        let mut rng = StdRng::seed_from_u64(seed);
        let app = spawn_app_with(|s| s.min_group_size = 1).await;
        let (_, key) = app.api_key("demo").await;
        let mut model = Model::default();
        let mut minute = 0;
        let visitors = rng.random_range(2..9);
        for _ in 0..visitors {
            minute += 1;
            app.clock
                .set(consentry::domain::Timestamp(DAY_A + minute * 60_000));
            let (action, choices, analytics, marketing) = choice(&mut rng);
            let (status, body) = app
                .post_json(
                    "/api/v1/sites/demo/consents",
                    &json!({"action": action, "choices": choices, "policy_version": POLICY_VERSION}),
                )
                .await;
            assert_eq!(status, 201, "{body}");
            let id = body["consent_id"].as_str().unwrap().to_owned();
            let erased = rng.random_bool(0.25);
            let mut kept = Model::default();
            for _ in 0..rng.random_range(1..7) {
                // pageview and download are analytics; purchase and signup are configured as
                // marketing, and, sent as analytics events, need both.
                let name = ["pageview", "pageview", "download", "purchase", "signup"]
                    [rng.random_range(0..5)];
                let granted = match name {
                    "purchase" | "signup" => marketing && analytics,
                    _ => analytics,
                };
                let (status, body) = app
                    .send_events(
                        &json!({"consent_id": id, "name": name, "url": "https://parcelwise.example/p"}),
                        &[],
                    )
                    .await;
                assert_eq!(status, 202, "{body}");
                assert_eq!(body["accepted"], i64::from(granted), "{name} {body}");
                if granted {
                    if name == "pageview" {
                        kept.pageviews += 1;
                    } else {
                        kept.custom += 1;
                        kept.goals += i64::from(name != "download");
                    }
                }
            }
            app.analytics.sync_events().await.unwrap();
            if erased {
                let res = app
                    .client
                    .delete(app.url(&format!("/api/v1/sites/demo/consents/{id}")))
                    .insert_header(app.origin())
                    .send()
                    .await
                    .unwrap();
                assert_eq!(res.status().as_u16(), 200);
            } else {
                model.pageviews += kept.pageviews;
                model.custom += kept.custom;
                model.goals += kept.goals;
                model.visitors += i64::from(kept.pageviews + kept.custom > 0);
            }
        }
        let ask = |filters: Value| {
            let body = json!({"metrics": ["visitors", "pageviews", "events", "conversions"],
                "date_range": ["2026-09-24", "2026-09-24"], "filters": filters});
            let app = &app;
            let key = key.clone();
            async move {
                let (status, answer) = app.query(&key, &body).await;
                assert_eq!(status, 200, "{answer}");
                answer
            }
        };
        let expected = json!([
            model.visitors,
            model.pageviews,
            model.pageviews + model.custom,
            model.goals
        ]);
        let plain = ask(json!([])).await;
        assert_eq!(
            plain["results"][0]["metrics"], expected,
            "seed {seed}: {model:?}"
        );
        let widened = ask(json!([["is_not", "visit:os", ["Plan 9"]]])).await;
        assert_eq!(
            widened["results"][0]["metrics"], expected,
            "seed {seed} with a filter that excludes nothing"
        );
    }
}
