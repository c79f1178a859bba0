use serde_json::json;

use crate::helpers::{POLICY_VERSION, spawn_app};

async fn get_text(
    app: &crate::helpers::TestApp,
    path: &str,
) -> (u16, awc::http::header::HeaderMap, String) {
    let mut res = app.client.get(app.url(path)).send().await.unwrap();
    let status = res.status().as_u16();
    let headers = res.headers().clone();
    let body = res.body().limit(1 << 20).await.unwrap();
    (status, headers, String::from_utf8(body.to_vec()).unwrap())
}

/// The `value` of the `<input>` whose `name` is `name`.
fn input_value(html: &str, name: &str) -> String {
    let marker = format!("name=\"{name}\"");
    let at = html.find(&marker).expect("the input is on the page");
    let start = html[..at].rfind('<').unwrap();
    let end = at + html[at..].find('>').unwrap();
    let tag = &html[start..end];
    let v = tag.find("value=\"").expect("the input has a value") + 7;
    tag[v..v + tag[v..].find('"').unwrap()].to_owned()
}

#[actix_web::test]
async fn the_demo_page_embeds_the_script_and_gated_examples_in_each_category() {
    let app = spawn_app().await;
    let (status, headers, html) = get_text(&app, "/").await;
    assert_eq!(status, 200);
    assert!(
        headers
            .get("content-type")
            .unwrap()
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    assert!(html.contains("src=\"/consent.js\""));
    assert!(html.contains("data-site=\"demo\""));
    assert!(html.contains("type=\"text/plain\" data-category=\"analytics\""));
    assert!(html.contains("type=\"text/plain\" data-category=\"marketing\""));
    assert!(html.contains("/sites/demo/policy"));
}

#[actix_web::test]
async fn the_policy_page_names_every_configured_category_service_and_cookie() {
    let app = spawn_app().await;
    let (status, _, html) = get_text(&app, "/sites/demo/policy").await;
    assert_eq!(status, 200);
    let settings = consentry::settings::Settings::demo("unused".into());
    let site = settings.site("demo").unwrap();
    for category in &site.categories {
        assert!(html.contains(category.title.get("en")), "{}", category.id);
        assert!(
            html.contains(&format!("data-category=\"{}\"", category.id)),
            "{}",
            category.id
        );
        for service in &category.services {
            assert!(html.contains(&service.name), "{}", service.name);
            for cookie in &service.cookies {
                assert!(html.contains(&cookie.name), "{}", cookie.name);
            }
        }
    }
    assert!(html.contains(POLICY_VERSION), "the version is shown");
    assert!(
        html.contains("privacy@parcelwise.example"),
        "the contact is shown"
    );
    assert!(
        html.contains("consentry-policy-hash"),
        "the archived hash is named"
    );
    assert!(
        html.contains("Do Not Sell or Share"),
        "a non-banner opt-out exists"
    );
    let (_, banner) = app.get_json("/api/v1/sites/demo/banner", &[]).await;
    let versioned = banner["policy_url"].as_str().unwrap();
    let hash_prefix = versioned.rsplit('=').next().unwrap();
    assert!(
        html.contains(hash_prefix),
        "the page is the version the banner links to"
    );
}

/// Fetches the policy page and returns the CSRF cookie and token.
async fn policy_form(app: &crate::helpers::TestApp) -> (String, String) {
    let res = app
        .client
        .get(app.url("/sites/demo/policy"))
        .send()
        .await
        .unwrap();
    let cookie = res
        .cookies()
        .unwrap()
        .iter()
        .find(|c| c.name() == "consentry_csrf")
        .expect("the page sets a CSRF cookie")
        .clone();
    assert_eq!(cookie.http_only(), Some(true));
    assert_eq!(cookie.same_site(), Some(awc::cookie::SameSite::Strict));
    let (_, _, html) = get_text(app, "/sites/demo/policy").await;
    let _ = input_value(&html, "csrf");
    let token = cookie.value().to_owned();
    (format!("consentry_csrf={token}"), token)
}

#[actix_web::test]
async fn the_policy_form_records_a_choice_without_javascript() {
    let app = spawn_app().await;
    let (cookie, token) = policy_form(&app).await;
    let form = format!("csrf={token}&action=save&category=analytics");
    let res = app
        .client
        .post(app.url("/sites/demo/policy/preferences"))
        .insert_header(("content-type", "application/x-www-form-urlencoded"))
        .insert_header(("cookie", cookie.as_str()))
        .send_body(form)
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 303);
    let consent = res
        .cookies()
        .unwrap()
        .iter()
        .find(|c| c.name() == "consentry")
        .expect("the consent cookie is set")
        .clone();
    assert_eq!(consent.same_site(), Some(awc::cookie::SameSite::Lax));
    assert!(consent.max_age().unwrap().whole_seconds() <= 34_128_000);
    let id = consent.value().split('.').next().unwrap().to_owned();
    let (status, record) = app
        .get_json(&format!("/api/v1/sites/demo/consents/{id}"), &[])
        .await;
    assert_eq!(status, 200);
    assert_eq!(
        record["choices"],
        json!({"necessary": true, "analytics": true, "marketing": false})
    );

    // Back on the page, the choice shows ticked, with its receipt.
    let mut res = app
        .client
        .get(app.url("/sites/demo/policy?saved=1"))
        .insert_header(("cookie", format!("consentry={}", consent.value())))
        .send()
        .await
        .unwrap();
    let html = String::from_utf8(res.body().limit(1 << 20).await.unwrap().to_vec()).unwrap();
    assert!(
        html.contains(record["receipt"].as_str().unwrap()),
        "the receipt is shown"
    );
}

#[actix_web::test]
async fn do_not_sell_on_the_policy_page_turns_marketing_off_in_one_click() {
    let app = spawn_app().await;
    let (cookie, token) = policy_form(&app).await;
    let res = app
        .client
        .post(app.url("/sites/demo/policy/preferences"))
        .insert_header(("content-type", "application/x-www-form-urlencoded"))
        .insert_header(("cookie", cookie.as_str()))
        .send_body(format!("csrf={token}&action=do_not_sell"))
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 303);
    let value = res
        .cookies()
        .unwrap()
        .iter()
        .find(|c| c.name() == "consentry")
        .unwrap()
        .value()
        .to_owned();
    let id = value.split('.').next().unwrap();
    let (_, record) = app
        .get_json(&format!("/api/v1/sites/demo/consents/{id}"), &[])
        .await;
    assert_eq!(record["choices"]["marketing"], false);
}

#[actix_web::test]
async fn the_policy_form_refuses_a_post_without_its_token_or_from_another_site() {
    let app = spawn_app().await;
    let (cookie, token) = policy_form(&app).await;
    let attempts = [
        ("action=accept_all".to_string(), cookie.clone(), None),
        (
            "csrf=wrong&action=accept_all".to_string(),
            cookie.clone(),
            None,
        ),
        (
            format!("csrf={token}&action=accept_all"),
            String::new(),
            None,
        ),
        (
            format!("csrf={token}&action=accept_all"),
            cookie.clone(),
            Some("https://evil.example"),
        ),
    ];
    for (form, cookie, origin) in attempts {
        let mut req = app
            .client
            .post(app.url("/sites/demo/policy/preferences"))
            .insert_header(("content-type", "application/x-www-form-urlencoded"));
        if !cookie.is_empty() {
            req = req.insert_header(("cookie", cookie.as_str()));
        }
        if let Some(o) = origin {
            req = req.insert_header(("origin", o));
        }
        let res = req.send_body(form.clone()).await.unwrap();
        assert_eq!(res.status().as_u16(), 403, "{form} {origin:?}");
        assert!(
            res.cookies()
                .unwrap()
                .iter()
                .all(|c| c.name() != "consentry")
        );
    }
}

#[actix_web::test]
async fn the_policy_page_offers_this_browsers_data_for_download_and_erases_it_on_request() {
    let app = spawn_app().await;
    let (cookie, token) = policy_form(&app).await;
    let res = app
        .client
        .post(app.url("/sites/demo/policy/preferences"))
        .insert_header(("content-type", "application/x-www-form-urlencoded"))
        .insert_header(("cookie", cookie.as_str()))
        .send_body(format!("csrf={token}&action=accept_all"))
        .await
        .unwrap();
    let consent = res
        .cookies()
        .unwrap()
        .iter()
        .find(|c| c.name() == "consentry")
        .unwrap()
        .value()
        .to_owned();
    let id = consent.split('.').next().unwrap().to_owned();
    let both = format!("{cookie}; consentry={consent}");

    let mut res = app
        .client
        .get(app.url("/sites/demo/policy"))
        .insert_header(("cookie", both.as_str()))
        .send()
        .await
        .unwrap();
    let html = String::from_utf8(res.body().limit(1 << 20).await.unwrap().to_vec()).unwrap();
    assert!(
        html.contains(&format!("/api/v1/sites/demo/consents/{id}/export")),
        "a download link"
    );
    let fresh = res
        .cookies()
        .unwrap()
        .iter()
        .find(|c| c.name() == "consentry_csrf")
        .unwrap()
        .value()
        .to_owned();
    let both = format!("consentry_csrf={fresh}; consentry={consent}");

    let res = app
        .client
        .post(app.url("/sites/demo/policy/erase"))
        .insert_header(("content-type", "application/x-www-form-urlencoded"))
        .insert_header(("cookie", both.as_str()))
        .send_body(format!(
            "csrf={fresh}&consent_id={}",
            "0000000000000000000000000a"
        ))
        .await
        .unwrap();
    assert_eq!(
        res.status().as_u16(),
        400,
        "only this browser's own id can be erased here"
    );

    let res = app
        .client
        .post(app.url("/sites/demo/policy/erase"))
        .insert_header(("content-type", "application/x-www-form-urlencoded"))
        .insert_header(("cookie", both.as_str()))
        .send_body(format!("csrf={fresh}&consent_id={id}"))
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 303);
    let cleared = res
        .cookies()
        .unwrap()
        .iter()
        .find(|c| c.name() == "consentry")
        .unwrap()
        .clone();
    assert_eq!(
        cleared.max_age().unwrap().whole_seconds(),
        0,
        "the consent cookie is cleared"
    );
    let (status, _) = app
        .get_json(&format!("/api/v1/sites/demo/consents/{id}/export"), &[])
        .await;
    assert_eq!(status, 404);
}
