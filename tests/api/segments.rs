//! Saved segments: `GET /segments`, `PUT` and `DELETE /segments/{name}`, and queries naming one.

use awc::http::Method;
use consentry::domain::SiteId;
use serde_json::{Value, json};

use crate::binary;
use crate::helpers::{TestApp, assert_error, spawn_app_with};

const SEGMENTS: &str = "/api/v1/sites/demo/segments";

/// The demo site with no group suppressed, and a second site, `shop`.
async fn app() -> TestApp {
    spawn_app_with(|s| {
        s.min_group_size = 1;
        let mut shop = s.sites[0].clone();
        shop.id = SiteId::parse("shop").unwrap();
        s.sites.push(shop);
    })
    .await
}

/// A request with a key (when given) and a JSON body (when given): the status and the body.
async fn call(
    app: &TestApp,
    method: Method,
    path: &str,
    key: Option<&str>,
    body: Option<&Value>,
) -> (u16, Value) {
    let mut req = app.client.request(method, app.url(path));
    if let Some(key) = key {
        req = req.insert_header(("authorization", format!("Bearer {key}")));
    }
    let mut res = match body {
        Some(body) => req
            .insert_header(("content-type", "application/json"))
            .send_body(body.to_string())
            .await
            .unwrap(),
        None => req.send().await.unwrap(),
    };
    let status = res.status().as_u16();
    let bytes = res.body().limit(1 << 20).await.unwrap();
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

async fn put(app: &TestApp, key: &str, name: &str, body: &Value) -> (u16, Value) {
    let path = format!("{SEGMENTS}/{name}");
    call(app, Method::PUT, &path, Some(key), Some(body)).await
}

async fn delete(app: &TestApp, key: &str, name: &str) -> (u16, Value) {
    let path = format!("{SEGMENTS}/{name}");
    call(app, Method::DELETE, &path, Some(key), None).await
}

async fn list(app: &TestApp, key: &str) -> Value {
    let (status, body) = call(app, Method::GET, SEGMENTS, Some(key), None).await;
    assert_eq!(status, 200, "{body}");
    body
}

fn germany() -> Value {
    json!({"filters": [["is", "visit:country", ["DE"]]], "description": "Visitors from Germany"})
}

#[actix_web::test]
async fn a_segment_is_created_with_201_replaced_with_200_listed_by_name_and_deleted_with_204() {
    let app = app().await;
    let (_, key) = app.api_key("demo").await;
    assert_eq!(list(&app, &key).await, json!({"segments": []}));

    let (status, body) = put(&app, &key, "germany", &germany()).await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(
        body,
        json!({"name": "germany", "description": "Visitors from Germany",
               "filters": [["is", "visit:country", ["DE"]]]})
    );
    let google = json!({"filters": [["is", "visit:source", ["Google"]],
                                    ["matches", "event:page", ["^/pric"]]]});
    let (status, body) = put(&app, &key, "from-google_2", &google).await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["description"], "", "the description is optional");

    let replacement = json!({"filters": [["is_not", "visit:country", ["DE", "AT"]]],
                             "description": "Not German-speaking"});
    let (status, body) = put(&app, &key, "germany", &replacement).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body["filters"],
        json!([["is_not", "visit:country", ["DE", "AT"]]])
    );

    let listed = list(&app, &key).await;
    let names: Vec<&str> = listed["segments"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["from-google_2", "germany"], "by name");
    assert_eq!(listed["segments"][1]["description"], "Not German-speaking");
    assert_eq!(
        listed["segments"][0]["filters"],
        json!([
            ["is", "visit:source", ["Google"]],
            ["matches", "event:page", ["^/pric"]]
        ])
    );

    let (status, body) = delete(&app, &key, "germany").await;
    assert_eq!((status, body), (204, Value::Null));
    let listed = list(&app, &key).await;
    assert_eq!(listed["segments"].as_array().unwrap().len(), 1);
    let (status, body) = delete(&app, &key, "germany").await;
    assert_eq!(status, 404, "already gone");
    assert_error(&body, "unknown_segment");
}

#[actix_web::test]
async fn a_name_that_is_not_1_to_64_of_lowercase_letters_digits_underscore_and_dash_is_400() {
    let app = app().await;
    let (_, key) = app.api_key("demo").await;
    let too_long = "a".repeat(65);
    for bad in [
        "Germany",
        "de.at",
        "de%20at",
        "d%C3%A9",
        "de+at",
        too_long.as_str(),
    ] {
        let (status, body) = put(&app, &key, bad, &germany()).await;
        assert_eq!(status, 400, "PUT {bad}: {body}");
        assert_error(&body, "invalid_request");
        assert!(
            body["error"]["message"]
                .as_str()
                .unwrap()
                .contains("`name`"),
            "{body}"
        );
        let (status, body) = delete(&app, &key, bad).await;
        assert_eq!(status, 400, "DELETE {bad}: {body}");
    }
    let longest = "a".repeat(64);
    assert_eq!(put(&app, &key, &longest, &germany()).await.0, 201);
    assert_eq!(list(&app, &key).await["segments"][0]["name"], longest);
}

#[actix_web::test]
async fn filters_no_query_could_use_are_refused_at_put_with_the_query_error_codes() {
    let app = app().await;
    let (_, key) = app.api_key("demo").await;
    let unusable = [
        (json!(["is", "visit:shoe_size", ["9"]]), "unknown_dimension"),
        (json!(["like", "visit:country", ["DE"]]), "invalid_request"),
        (json!(["is", "time:day", ["2026-09-24"]]), "invalid_request"),
        (json!(["is", "visit:country", []]), "invalid_request"),
        (
            json!(["is", "visit:country", ["x".repeat(501)]]),
            "invalid_request",
        ),
        (
            json!(["matches", "event:page", ["(unclosed"]]),
            "invalid_request",
        ),
    ];
    for (filter, code) in unusable {
        let (status, answer) = put(&app, &key, "germany", &json!({"filters": [filter]})).await;
        assert_eq!(status, 400, "{filter} → {answer}");
        assert_error(&answer, code);
        let q = json!({"metrics": ["visitors"], "date_range": "7d", "filters": [filter]});
        let (status, answer) = app.query(&key, &q).await;
        assert_eq!(status, 400, "the query refuses {filter} too");
        assert_error(&answer, code);
    }
    let de = json!(["is", "visit:country", ["DE"]]);
    let refused = [
        (json!({"filters": []}), "invalid_request"),
        (json!({"filters": vec![de.clone(); 11]}), "invalid_request"),
        (
            json!({"filters": [de.clone()], "description": "x".repeat(501)}),
            "invalid_request",
        ),
        (
            json!({"filters": [de.clone()], "description": "a\u{202e}b"}),
            "invalid_request",
        ),
        (json!({"description": "no filters"}), "invalid_json"),
        (
            json!({"filters": [de.clone()], "name": "germany"}),
            "invalid_json",
        ),
        (
            json!({"filters": [["is", "visit:country"]]}),
            "invalid_json",
        ),
    ];
    for (body, code) in refused {
        let (status, answer) = put(&app, &key, "germany", &body).await;
        assert_eq!(status, 400, "{body} → {answer}");
        assert_error(&answer, code);
    }
    assert_eq!(list(&app, &key).await, json!({"segments": []}));

    let big = json!({"filters": [["is", "visit:country", ["x".repeat(17 * 1024)]]]});
    let (status, answer) = put(&app, &key, "germany", &big).await;
    assert_eq!(status, 413, "the query's body limit");
    assert_error(&answer, "payload_too_large");
}

#[actix_web::test]
async fn a_site_keeps_at_most_a_hundred_segments_and_the_next_one_is_409() {
    let app = app().await;
    let (_, key) = app.api_key("demo").await;
    for i in 0..100 {
        assert_eq!(put(&app, &key, &format!("s{i}"), &germany()).await.0, 201);
    }
    let (status, body) = put(&app, &key, "one-more", &germany()).await;
    assert_eq!(status, 409, "{body}");
    assert_error(&body, "too_many_segments");
    assert_eq!(
        put(&app, &key, "s7", &germany()).await.0,
        200,
        "replacing is fine"
    );
    assert_eq!(delete(&app, &key, "s7").await.0, 204);
    assert_eq!(put(&app, &key, "one-more", &germany()).await.0, 201);
}

/// Three visitors: V1 comes from Google to `/` then `/pricing`, V2 goes straight to
/// `/pricing`, V3 comes from Google to `/about`.
async fn traffic(app: &TestApp) {
    let google = "https://www.google.com/";
    let v1 = app.consent_id("accept_all", json!({})).await;
    let v2 = app.consent_id("accept_all", json!({})).await;
    let v3 = app.consent_id("accept_all", json!({})).await;
    let mut first = TestApp::pageview(&v1, "/");
    first["referrer"] = json!(google);
    let mut about = TestApp::pageview(&v3, "/about");
    about["referrer"] = json!(google);
    let events = json!([
        first,
        TestApp::pageview(&v1, "/pricing"),
        TestApp::pageview(&v2, "/pricing"),
        about
    ]);
    let (status, body) = app.send_events(&events, &[]).await;
    assert_eq!((status, &body["accepted"]), (202, &json!(4)), "{body}");
    app.analytics.sync_events().await.unwrap();
}

#[actix_web::test]
async fn a_query_naming_a_segment_answers_as_the_same_query_with_its_filters_inline() {
    let app = app().await;
    let (_, key) = app.api_key("demo").await;
    traffic(&app).await;
    let from_google = json!({"filters": [["is", "visit:source", ["Google"]]]});
    assert_eq!(put(&app, &key, "from-google", &from_google).await.0, 201);

    let own = json!([["contains", "event:page", ["/"]]]);
    let both = json!([
        ["contains", "event:page", ["/"]],
        ["is", "visit:source", ["Google"]]
    ]);
    let query = |filters: &Value, segment: Option<&str>| {
        let mut q = json!({"metrics": ["visitors", "pageviews"], "date_range": "7d",
                           "dimensions": ["event:page"], "filters": filters});
        if let Some(s) = segment {
            q["segment"] = json!(s);
        }
        q
    };
    let (status, segmented) = app.query(&key, &query(&own, Some("from-google"))).await;
    assert_eq!(status, 200, "{segmented}");
    let (_, inline) = app.query(&key, &query(&both, None)).await;
    let (_, everyone) = app.query(&key, &query(&own, None)).await;
    assert_eq!(segmented["results"], inline["results"]);
    assert_ne!(
        segmented["results"], everyone["results"],
        "the segment narrows the answer: {everyone}"
    );
    let mut rows: Vec<String> = segmented["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r.to_string())
        .collect();
    rows.sort();
    assert_eq!(
        rows,
        [
            json!({"dimensions": ["/"], "metrics": [1, 1]}).to_string(),
            json!({"dimensions": ["/about"], "metrics": [1, 1]}).to_string(),
            json!({"dimensions": ["/pricing"], "metrics": [1, 1]}).to_string(),
        ],
        "V1 and V3 came from Google; V2 did not"
    );

    // The same through the CSV export.
    let csv = |query: String| {
        let app = &app;
        let key = key.clone();
        async move {
            let mut res = app
                .client
                .get(app.url(&format!("/api/v1/sites/demo/export.csv?{query}")))
                .insert_header(("authorization", format!("Bearer {key}")))
                .send()
                .await
                .unwrap();
            assert_eq!(res.status().as_u16(), 200);
            String::from_utf8(res.body().await.unwrap().to_vec()).unwrap()
        }
    };
    let base = "metrics=visitors,pageviews&date_range=7d&dimensions=event:page";
    let segmented = csv(format!("{base}&segment=from-google")).await;
    let inline = csv(format!(
        "{base}&filters=%5B%5B%22is%22%2C%22visit%3Asource%22%2C%5B%22Google%22%5D%5D%5D"
    ))
    .await;
    assert_eq!(segmented, inline);
    assert_eq!(segmented.lines().count(), 4, "{segmented}");
    assert!(segmented.contains("\r\n/pricing,1,1\r\n"), "{segmented}");

    // Every query is logged with its parameters, the segment's name included.
    let log = app.access.query_log().await.unwrap();
    assert!(
        log.iter()
            .any(|l| l.contains("\"segment\":\"from-google\"")),
        "{log:?}"
    );
}

#[actix_web::test]
async fn a_query_naming_an_unknown_segment_is_404_and_a_malformed_one_is_400() {
    let app = app().await;
    let (_, key) = app.api_key("demo").await;
    let q = json!({"metrics": ["visitors"], "date_range": "7d", "segment": "nobody"});
    let (status, body) = app.query(&key, &q).await;
    assert_eq!(status, 404, "{body}");
    assert_error(&body, "unknown_segment");
    let res = app
        .client
        .get(app.url("/api/v1/sites/demo/export.csv?metrics=visitors&date_range=7d&segment=nobody"))
        .insert_header(("authorization", format!("Bearer {key}")))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 404);

    let q = json!({"metrics": ["visitors"], "date_range": "7d", "segment": "No Body"});
    let (status, body) = app.query(&key, &q).await;
    assert_eq!(status, 400, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("`segment`")
    );

    // A segment of the site next door is not this site's.
    let (_, shop_key) = app.api_key("shop").await;
    let path = "/api/v1/sites/shop/segments/germany";
    let (status, _) = call(&app, Method::PUT, path, Some(&shop_key), Some(&germany())).await;
    assert_eq!(status, 201);
    let q = json!({"metrics": ["visitors"], "date_range": "7d", "segment": "germany"});
    assert_eq!(app.query(&key, &q).await.0, 404);
    assert_eq!(list(&app, &key).await, json!({"segments": []}));

    // Consent statistics have no segments.
    let q = json!({"metrics": ["decisions"], "date_range": "7d", "segment": "germany"});
    let (status, body) = app.query_at("consent-stats", &key, &q).await;
    assert_eq!(status, 400, "{body}");
}

#[actix_web::test]
async fn a_segment_and_the_querys_own_filters_make_at_most_ten_together() {
    let app = app().await;
    let (_, key) = app.api_key("demo").await;
    let ten: Vec<Value> = (0..10)
        .map(|i| json!(["is_not", "visit:country", [format!("X{i}")]]))
        .collect();
    assert_eq!(
        put(&app, &key, "ten", &json!({"filters": ten})).await.0,
        201
    );
    let alone = json!({"metrics": ["visitors"], "date_range": "7d", "segment": "ten"});
    assert_eq!(app.query(&key, &alone).await.0, 200);
    let one_more = json!({"metrics": ["visitors"], "date_range": "7d", "segment": "ten",
                          "filters": [["is", "visit:device", ["desktop"]]]});
    let (status, body) = app.query(&key, &one_more).await;
    assert_eq!(status, 400, "{body}");
    assert_error(&body, "invalid_request");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .starts_with("`segment`"),
        "{body}"
    );
}

#[actix_web::test]
async fn segments_need_a_key_of_their_own_site() {
    let app = app().await;
    let (_, shop_key) = app.api_key("shop").await;
    let path = format!("{SEGMENTS}/germany");
    let body = germany();
    let requests = [
        (Method::GET, SEGMENTS, None),
        (Method::PUT, path.as_str(), Some(&body)),
        (Method::DELETE, path.as_str(), None),
    ];
    for (method, path, body) in requests {
        let (status, answer) = call(&app, method.clone(), path, None, body).await;
        assert_eq!(status, 401, "{method} {path} without a key");
        assert_error(&answer, "unauthorized");
        let (status, answer) = call(&app, method.clone(), path, Some(&shop_key), body).await;
        assert_eq!(status, 403, "{method} {path} with another site's key");
        assert_error(&answer, "forbidden");
    }
    let (status, _) = call(
        &app,
        Method::GET,
        "/api/v1/sites/nope/segments",
        Some(&shop_key),
        None,
    )
    .await;
    assert_eq!(status, 404, "unknown site");
}

/// The first `key: ` line a `consentry keys create` printed.
fn created_key(out: &str) -> String {
    out.lines()
        .find_map(|l| l.strip_prefix("key: "))
        .expect("the key is printed")
        .to_owned()
}

#[actix_web::test]
async fn segments_survive_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let (ok, out, err) = binary::run_cli(dir.path(), &["keys", "create", "--site", "demo"]);
    assert!(ok, "{err}");
    let auth = format!("Bearer {}", created_key(&out));
    let client = awc::Client::default();

    let server = binary::start(dir.path());
    let mut res = client
        .put(server.url(&format!("{SEGMENTS}/germany")))
        .insert_header(("authorization", auth.as_str()))
        .insert_header(("content-type", "application/json"))
        .send_body(germany().to_string())
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 201, "{:?}", res.body().await);
    let status = server.terminate();
    assert!(status.success(), "{status:?}");

    let server = binary::start(dir.path());
    let mut res = client
        .get(server.url(SEGMENTS))
        .insert_header(("authorization", auth.as_str()))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 200);
    let listed: Value = serde_json::from_slice(&res.body().await.unwrap()).unwrap();
    assert_eq!(
        listed,
        json!({"segments": [{"name": "germany", "description": "Visitors from Germany",
                             "filters": [["is", "visit:country", ["DE"]]]}]})
    );
    let mut res = client
        .post(server.url("/api/v1/sites/demo/query"))
        .insert_header(("authorization", auth.as_str()))
        .insert_header(("content-type", "application/json"))
        .send_body(
            json!({"metrics": ["visitors"], "date_range": "7d", "segment": "germany"}).to_string(),
        )
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 200, "{:?}", res.body().await);
    server.kill();
}
