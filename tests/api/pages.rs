use serde_json::json;

use crate::helpers::{POLICY_VERSION, TestApp, spawn_app};

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

/// The policy page's CSRF cookie (as a `Cookie` header pair) and its form's token.
async fn policy_form_with(app: &crate::helpers::TestApp, cookie: Option<&str>) -> (String, String) {
    app.form_page("/sites/demo/policy", cookie, "consentry_csrf")
        .await
}

async fn policy_form(app: &crate::helpers::TestApp) -> (String, String) {
    policy_form_with(app, None).await
}

/// Posts a form as the policy page does: from the server's own origin, with `cookie`.
async fn post_form(
    app: &crate::helpers::TestApp,
    path: &str,
    cookie: &str,
    body: String,
) -> awc::ClientResponse<
    impl futures_util::Stream<Item = Result<actix_web::web::Bytes, awc::error::PayloadError>>,
> {
    app.client
        .post(app.url(path))
        .insert_header(("content-type", "application/x-www-form-urlencoded"))
        .insert_header(("cookie", cookie))
        .insert_header(app.origin())
        .send_body(body)
        .await
        .unwrap()
}

#[actix_web::test]
async fn the_policy_form_records_a_choice_without_javascript() {
    let app = spawn_app().await;
    let (cookie, token) = policy_form(&app).await;
    let form = format!("csrf={token}&action=save&category=analytics");
    let res = post_form(&app, "/sites/demo/policy/preferences", &cookie, form).await;
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
    let res = post_form(
        &app,
        "/sites/demo/policy/preferences",
        &cookie,
        format!("csrf={token}&action=do_not_sell"),
    )
    .await;
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
    let (_, other_token) = policy_form(&app).await;
    let nonce = cookie.trim_start_matches("consentry_csrf=").to_owned();
    let own = app.address.clone();
    let other_scheme = own.replace("http://", "evil://");
    let accept = |t: &str| format!("csrf={t}&action=accept_all");
    // (why, form, cookie, headers)
    type Attempt<'a> = (&'a str, String, String, Vec<(&'a str, &'a str)>);
    let attempts: Vec<Attempt> = vec![
        (
            "no token",
            "action=accept_all".into(),
            cookie.clone(),
            vec![("origin", &own)],
        ),
        (
            "a made-up token",
            accept("wrong"),
            cookie.clone(),
            vec![("origin", &own)],
        ),
        (
            "no cookie",
            accept(&token),
            String::new(),
            vec![("origin", &own)],
        ),
        (
            "the plain double-submit value",
            accept(&nonce),
            cookie.clone(),
            vec![("origin", &own)],
        ),
        (
            "another browser's token",
            accept(&other_token),
            cookie.clone(),
            vec![("origin", &own)],
        ),
        (
            "a foreign origin",
            accept(&token),
            cookie.clone(),
            vec![("origin", "https://evil.example")],
        ),
        (
            "our host and port with another scheme",
            accept(&token),
            cookie.clone(),
            vec![("origin", &other_scheme)],
        ),
        (
            "a rebound Host with a matching Origin",
            accept(&token),
            cookie.clone(),
            vec![("host", "evil.example"), ("origin", "http://evil.example")],
        ),
        (
            "no origin and no referer",
            accept(&token),
            cookie.clone(),
            vec![],
        ),
        (
            "a foreign referer without origin",
            accept(&token),
            cookie.clone(),
            vec![("referer", "https://evil.example/page")],
        ),
    ];
    for (why, form, cookie, headers) in attempts {
        let mut req = app
            .client
            .post(app.url("/sites/demo/policy/preferences"))
            .insert_header(("content-type", "application/x-www-form-urlencoded"));
        if !cookie.is_empty() {
            req = req.insert_header(("cookie", cookie.as_str()));
        }
        for h in headers {
            req = req.insert_header(h);
        }
        let mut res = req.send_body(form.clone()).await.unwrap();
        assert_eq!(res.status().as_u16(), 403, "{why}");
        let body: serde_json::Value = serde_json::from_slice(&res.body().await.unwrap()).unwrap();
        assert!(body["error"]["code"].is_string(), "{why}: {body}");
        assert!(
            res.cookies()
                .unwrap()
                .iter()
                .all(|c| c.name() != "consentry"),
            "{why}"
        );
    }
    let ok = post_form(
        &app,
        "/sites/demo/policy/preferences",
        &cookie,
        accept(&token),
    )
    .await;
    assert_eq!(ok.status().as_u16(), 303, "the page's own token and cookie");
}

#[actix_web::test]
async fn the_policy_page_offers_this_browsers_data_for_download_and_erases_it_after_a_confirmation()
{
    let app = spawn_app().await;
    let (cookie, token) = policy_form(&app).await;
    let res = post_form(
        &app,
        "/sites/demo/policy/preferences",
        &cookie,
        format!("csrf={token}&action=accept_all"),
    )
    .await;
    let consent = res
        .cookies()
        .unwrap()
        .iter()
        .find(|c| c.name() == "consentry")
        .unwrap()
        .value()
        .to_owned();
    let id = consent.split('.').next().unwrap().to_owned();
    let visitor = format!("consentry={consent}");
    let (nonce, fresh) = policy_form_with(&app, Some(&visitor)).await;
    let (_, _, html) = get_text(&app, "/sites/demo/policy").await;
    assert!(!html.contains("Confirm erase"), "nothing is asked yet");
    let both = format!("{nonce}; {visitor}");
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

    let res = post_form(
        &app,
        "/sites/demo/policy/erase",
        &both,
        format!("csrf={fresh}&consent_id=0000000000000000000000000a&confirm=yes"),
    )
    .await;
    assert_eq!(
        res.status().as_u16(),
        400,
        "only this browser's own id can be erased here"
    );

    // Step one: the form without confirmation only asks.
    let res = post_form(
        &app,
        "/sites/demo/policy/erase",
        &both,
        format!("csrf={fresh}&consent_id={id}"),
    )
    .await;
    assert_eq!(res.status().as_u16(), 303);
    let asks = res
        .headers()
        .get("location")
        .unwrap()
        .to_str()
        .unwrap()
        .to_owned();
    assert!(asks.contains("confirm_erase=1"), "{asks}");
    let (status, _) = app
        .get_json(&format!("/api/v1/sites/demo/consents/{id}"), &[])
        .await;
    assert_eq!(status, 200, "nothing is erased before the confirmation");
    let (nonce, fresh) = policy_form_with(&app, Some(&visitor)).await;
    let both = format!("{nonce}; {visitor}");
    let mut res = app
        .client
        .get(app.url(&asks))
        .insert_header(("cookie", both.as_str()))
        .send()
        .await
        .unwrap();
    let html = String::from_utf8(res.body().limit(1 << 20).await.unwrap().to_vec()).unwrap();
    assert!(html.contains("Confirm erase"), "the page asks");
    assert!(html.contains("name=\"confirm\" value=\"yes\""));

    // Step two: confirmed.
    let res = post_form(
        &app,
        "/sites/demo/policy/erase",
        &both,
        format!("csrf={fresh}&consent_id={id}&confirm=yes"),
    )
    .await;
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
        .get_json(
            &format!("/api/v1/sites/demo/consents/{id}/export"),
            &[app.origin()],
        )
        .await;
    assert_eq!(status, 404);
}

#[actix_web::test]
async fn a_browser_whose_policy_form_fails_gets_a_page_in_its_language_with_the_same_status() {
    let app = spawn_app().await;
    let (cookie, _) = policy_form(&app).await;
    let post = |path: &'static str, language: &'static str| {
        app.client
            .post(app.url(path))
            .insert_header(("content-type", "application/x-www-form-urlencoded"))
            .insert_header(("accept", "text/html,application/xhtml+xml,*/*;q=0.8"))
            .insert_header(("accept-language", language))
            .insert_header(("origin", app.address.as_str()))
            .insert_header(("cookie", cookie.as_str()))
            .send_body("csrf=expired&action=accept_all&consent_id=x")
    };
    for (path, language, said) in [
        (
            "/sites/demo/policy/preferences",
            "de-DE",
            "Dieses Formular ist abgelaufen",
        ),
        (
            "/sites/demo/policy/erase",
            "fr-FR",
            "Ce formulaire a expiré",
        ),
        (
            "/sites/demo/policy/preferences",
            "en-US",
            "This form has expired",
        ),
        // The language the page was shown in (its form's action carries it) wins.
        (
            "/sites/demo/policy/preferences?lang=es",
            "de-DE",
            "Este formulario ha caducado",
        ),
    ] {
        let mut res = post(path, language).await.unwrap();
        assert_eq!(res.status().as_u16(), 403, "{path}");
        let kind = res.headers().get("content-type").unwrap().to_str().unwrap();
        assert!(kind.starts_with("text/html"), "{path}: {kind}");
        let csp = res.headers().get("content-security-policy").unwrap();
        assert!(
            csp.to_str().unwrap().contains("style-src 'self'"),
            "the page may load its stylesheet: {csp:?}"
        );
        let html = String::from_utf8(res.body().await.unwrap().to_vec()).unwrap();
        assert!(html.contains(said), "{path} in {language}: {html}");
        assert!(
            html.contains(r#"data-code="forbidden""#),
            "the JSON code too: {html}"
        );
        assert!(
            html.contains(r#"href="/sites/demo/policy?lang="#),
            "a way back: {html}"
        );
    }
    // An unknown site: said so, with no link to a policy that does not exist.
    let mut res = app
        .client
        .post(app.url("/sites/nosuch/policy/preferences"))
        .insert_header(("content-type", "application/x-www-form-urlencoded"))
        .insert_header(("accept", "text/html"))
        .insert_header(("accept-language", "es"))
        .send_body("action=accept_all")
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 404);
    let html = String::from_utf8(res.body().await.unwrap().to_vec()).unwrap();
    assert!(html.contains("Ese sitio no existe") && !html.contains("/sites/nosuch/policy"));
    // A client that does not ask for HTML keeps the JSON error.
    let mut res = app
        .client
        .post(app.url("/sites/nosuch/policy/preferences"))
        .insert_header(("content-type", "application/x-www-form-urlencoded"))
        .send_body("action=accept_all")
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 404);
    let body: serde_json::Value = serde_json::from_slice(&res.body().await.unwrap()).unwrap();
    assert_eq!(body["error"]["code"], "unknown_site");
}

#[actix_web::test]
async fn the_policy_page_speaks_the_visitors_language_and_has_no_english_sentence_of_its_catalogue()
{
    let app = spawn_app().await;
    let english = consentry::i18n::policy_texts("en").all();
    for (language, accept, heading) in [
        ("de", "de-DE,de;q=0.9", "Wer wir sind"),
        ("fr", "fr-FR", "Qui nous sommes"),
        ("es", "es-ES", "Quiénes somos"),
    ] {
        let (said, html) = policy_page(&app, accept).await;
        assert_eq!(said, language);
        assert!(html.contains(&format!(r#"<html lang="{language}">"#)));
        assert!(html.contains(&format!(r#"<h2 id="controller-h">{heading}</h2>"#)));
        let text = html
            .replace("&#39;", "'")
            .replace("&quot;", "\"")
            .replace("&amp;", "&");
        for sentence in english.iter().flat_map(|t| english_fragments(t)) {
            assert!(
                !text.contains(&sentence),
                "{language}: the page still says, in English, “{sentence}”"
            );
        }
        assert!(
            !html.contains("{site_name}") && !html.contains("{controller}"),
            "{language}: every placeholder is filled"
        );
    }
    // English stays English, filled in.
    let (said, html) = policy_page(&app, "en-GB").await;
    assert_eq!(said, "en");
    assert!(html.contains(r#"<html lang="en">"#));
    assert!(html.contains("<title>Privacy policy — "));
}

/// The policy page for an `Accept-Language`: its `Content-Language` and its HTML.
async fn policy_page(app: &TestApp, accept: &str) -> (String, String) {
    let mut res = app
        .client
        .get(app.url("/sites/demo/policy"))
        .insert_header(("accept-language", accept))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 200);
    let said = res
        .headers()
        .get("content-language")
        .unwrap()
        .to_str()
        .unwrap()
        .to_owned();
    let html = String::from_utf8(res.body().limit(1 << 20).await.unwrap().to_vec()).unwrap();
    (said, html)
}

/// The runs of words (three or more) of a catalogue text between its markup and placeholders:
/// what would show through if the text were not translated.
fn english_fragments(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut current = String::new();
    let mut depth = None;
    for c in text.chars() {
        match (depth, c) {
            (None, '<') => depth = Some('>'),
            (None, '{') => depth = Some('}'),
            (Some(end), c) if c == end => {
                depth = None;
                out.push(std::mem::take(&mut current));
                continue;
            }
            (Some(_), _) => continue,
            (None, c) => current.push(c),
        }
        if depth.is_some() {
            out.push(std::mem::take(&mut current));
        }
    }
    out.push(current);
    // Names that every language keeps as they are.
    let kept = ["Global Privacy Control", "Sec-GPC: 1"];
    out.into_iter()
        .map(|f| f.trim().to_owned())
        .filter(|f| f.split_whitespace().count() >= 3 && !kept.contains(&f.as_str()))
        .collect()
}
