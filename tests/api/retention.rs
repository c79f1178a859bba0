//! Retention as the demo policy promises it: raw events after 90 days, everything of a visitor
//! inactive for 12 months. The clock is moved, never slept on.

use serde_json::json;

use crate::helpers::{TestApp, spawn_app};

async fn sweep(app: &TestApp) -> consentry::store::SweepReport {
    sweep_until(app, Default::default()).await.unwrap()
}

/// A sweep that stops once `stop` is set.
async fn sweep_until(
    app: &TestApp,
    stop: consentry::analytics::query::Cancel,
) -> Result<consentry::store::SweepReport, consentry::store::StoreError> {
    app.store
        .sweep(
            app.retention.clone(),
            consentry::domain::Clock::now(&app.clock),
            stop,
        )
        .await
}

#[actix_web::test]
async fn raw_events_older_than_the_sites_limit_are_swept_and_newer_ones_stay() {
    let app = spawn_app().await;
    let id = app.consent_id("accept_all", json!({})).await;
    app.send_events(&TestApp::pageview(&id, "/old"), &[]).await;
    app.clock.advance_days(60);
    app.send_events(&TestApp::pageview(&id, "/newer"), &[])
        .await;
    app.export(&id).await;

    app.clock.advance_days(31);
    let report = sweep(&app).await;
    assert_eq!(report.events_deleted, 1);
    assert_eq!(report.visitors_erased, 0);
    let export = app.export(&id).await;
    let paths: Vec<_> = export["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["path"].clone())
        .collect();
    assert_eq!(
        paths,
        [json!("/newer")],
        "day 91: the day-0 event is gone, the day-60 one stays"
    );
    assert_eq!(
        export["current"]["action"], "accept_all",
        "the consent record stays"
    );
}

#[actix_web::test]
async fn a_visitor_inactive_for_twelve_months_is_erased_and_an_active_one_is_not() {
    let app = spawn_app().await;
    let idle = app.consent_id("accept_all", json!({})).await;
    app.send_events(&TestApp::pageview(&idle, "/"), &[]).await;
    app.clock.advance_days(200);
    let active = app.consent_id("accept_all", json!({})).await;
    app.send_events(&TestApp::pageview(&active, "/"), &[]).await;
    app.export(&active).await;

    app.clock.advance_days(160);
    assert_eq!(
        sweep(&app).await.visitors_erased,
        0,
        "day 360: nobody is 12 months idle yet"
    );
    app.clock.advance_days(7);
    let report = sweep(&app).await;
    assert_eq!(report.visitors_erased, 1, "day 367: the idle visitor goes");
    let (status, _) = app
        .get_json(
            &format!("/api/v1/sites/demo/consents/{idle}/export"),
            &[app.origin()],
        )
        .await;
    assert_eq!(status, 404);
    let (status, _) = app
        .get_json(&format!("/api/v1/sites/demo/consents/{active}"), &[])
        .await;
    assert_eq!(status, 200, "the visitor active on day 200 stays");
    let (_, body) = app
        .send_events(&TestApp::pageview(&idle, "/back"), &[])
        .await;
    assert_eq!(body["dropped"][0]["reason"], "no_consent");
}

#[actix_web::test]
async fn events_of_a_withdrawn_category_are_purged_within_a_day_and_the_rest_stay() {
    let app = spawn_app().await;
    let id = app.consent_id("accept_all", json!({})).await;
    let batch = json!([
        TestApp::pageview(&id, "/"),
        {"consent_id": id, "name": "ad_click", "url": "https://parcelwise.example/", "category": "marketing"},
    ]);
    let (_, body) = app.send_events(&batch, &[]).await;
    assert_eq!(body["accepted"], 2);
    let (status, _) = app
        .post_json(
            "/api/v1/sites/demo/consents",
            &json!({"action": "save", "choices": {"analytics": true}, "consent_id": id,
                    "policy_version": crate::helpers::POLICY_VERSION}),
        )
        .await;
    assert_eq!(status, 201, "marketing is withdrawn, analytics kept");
    app.export(&id).await;

    assert_eq!(sweep(&app).await.withdrawn_events_deleted, 0, "not due yet");
    app.clock.advance_days(1);
    let report = sweep(&app).await;
    assert_eq!(report.withdrawn_events_deleted, 1);
    let names: Vec<_> = app.export(&id).await["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["name"].clone())
        .collect();
    assert_eq!(names, [json!("pageview")], "the analytics event stays");
}

#[actix_web::test]
async fn a_category_granted_again_and_withdrawn_again_is_purged_again() {
    let app = spawn_app().await;
    let id = app.consent_id("accept_all", json!({})).await;
    let ad_click = json!([
        {"consent_id": id, "name": "ad_click", "url": "https://parcelwise.example/", "category": "marketing"},
    ]);
    let choose = |marketing: bool| {
        json!({"action": "save", "choices": {"analytics": true, "marketing": marketing},
               "consent_id": id, "policy_version": crate::helpers::POLICY_VERSION})
    };
    let (_, body) = app.send_events(&ad_click, &[]).await;
    assert_eq!(body["accepted"], 1);
    app.export(&id).await;
    let (status, _) = app
        .post_json("/api/v1/sites/demo/consents", &choose(false))
        .await;
    assert_eq!(status, 201);
    app.clock.advance_days(1);
    assert_eq!(sweep(&app).await.withdrawn_events_deleted, 1);
    assert_eq!(
        sweep(&app).await.withdrawn_events_deleted,
        0,
        "the first withdrawal is purged once"
    );

    let (status, _) = app
        .post_json("/api/v1/sites/demo/consents", &choose(true))
        .await;
    assert_eq!(status, 201, "marketing granted again");
    let (_, body) = app.send_events(&ad_click, &[]).await;
    assert_eq!(body["accepted"], 1);
    app.export(&id).await;
    let (status, _) = app
        .post_json("/api/v1/sites/demo/consents", &choose(false))
        .await;
    assert_eq!(status, 201, "and withdrawn again");
    app.clock.advance_days(1);
    assert_eq!(
        sweep(&app).await.withdrawn_events_deleted,
        1,
        "the second withdrawal purges the event sent in between"
    );
    assert!(
        app.export(&id).await["events"]
            .as_array()
            .unwrap()
            .is_empty()
    );
}

#[actix_web::test]
async fn a_sweep_stopped_for_shutdown_erases_nobody_and_the_next_sweep_does_the_work() {
    let app = spawn_app().await;
    let idle = app.consent_id("accept_all", json!({})).await;
    app.send_events(&TestApp::pageview(&idle, "/"), &[]).await;
    app.export(&idle).await;
    app.clock.advance_days(367);
    let stop = consentry::analytics::query::Cancel::default();
    stop.cancel();
    let stopped = sweep_until(&app, stop).await;
    assert!(
        matches!(stopped, Err(consentry::store::StoreError::Cancelled)),
        "{stopped:?}"
    );
    let (status, _) = app
        .get_json(&format!("/api/v1/sites/demo/consents/{idle}"), &[])
        .await;
    assert_eq!(status, 200, "the stopped sweep erased nobody");
    assert_eq!(sweep(&app).await.visitors_erased, 1, "the next one does");
}
