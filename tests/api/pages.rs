//! The web pages with a real cookie jar (as a browser holds them): signing
//! up, in and out by forms, CSRF and cross-site refusals, and a page session
//! that ends with the API's sign-outs.

use reqwest::header::{LOCATION, ORIGIN};
use reqwest::{redirect, Client, StatusCode};
use serde_json::Value;

use crate::helpers::{spawn_app, unique_email, TestApp};

pub const PASSWORD: &str = "correct horse battery staple";

/// A browser-like client: cookies kept, redirects not followed (the tests
/// look at them).
pub fn browser() -> Client {
    Client::builder()
        .cookie_store(true)
        .redirect(redirect::Policy::none())
        .build()
        .unwrap()
}

/// The CSRF token a page's forms carry (the `csrf-token` meta tag).
pub fn csrf_of(html: &str) -> String {
    let marker = r#"<meta name="csrf-token" content=""#;
    let start = html.find(marker).expect("a page carries its CSRF token") + marker.len();
    html[start..start + 48].to_owned()
}

/// GET a page: its status and HTML.
pub async fn get_page(b: &Client, app: &TestApp, path: &str) -> (StatusCode, String) {
    let res = b.get(app.url(path)).send().await.unwrap();
    let status = res.status();
    (status, res.text().await.unwrap())
}

/// Signs up through the form; returns the email. The client then holds the
/// page session.
pub async fn sign_up(b: &Client, app: &TestApp, role: &str, name: &str) -> String {
    let (_, html) = get_page(b, app, "/signup").await;
    let email = unique_email(name);
    let res = b
        .post(app.url("/signup"))
        .form(&[
            ("csrf", csrf_of(&html).as_str()),
            ("role", role),
            ("displayName", name),
            ("email", &email),
            ("password", PASSWORD),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::SEE_OTHER, "{}", res.text().await.unwrap());
    email
}

/// An access token of the client's page session (what the page's scripts use).
pub async fn page_token(b: &Client, app: &TestApp) -> Value {
    let (_, html) = get_page(b, app, "/").await;
    let res = b
        .post(app.url("/web/token"))
        .header("X-CSRF-Token", csrf_of(&html))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    res.json().await.unwrap()
}

#[actix_web::test]
async fn a_visitor_signs_up_by_form_and_the_header_shows_their_name_and_role() {
    let app = spawn_app().await;
    let b = browser();
    let (status, html) = get_page(&b, &app, "/").await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains(r#"href="/signup""#) && html.contains(r#"href="/signin""#));
    assert!(!html.contains("My bookings"));

    // A weak password: the form again, the rule in words, the name kept.
    let (_, signup) = get_page(&b, &app, "/signup").await;
    assert!(
        signup.contains("10 to 128 characters"),
        "the password rules are shown before any error"
    );
    let res = b
        .post(app.url("/signup"))
        .form(&[
            ("csrf", csrf_of(&signup).as_str()),
            ("role", "mentee"),
            ("displayName", "Mia Mentee"),
            ("email", &unique_email("mia")),
            ("password", "short"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    let html = res.text().await.unwrap();
    assert!(html.contains(r#"role="alert""#) && html.contains("A password needs at least 10 characters"));
    assert!(html.contains(r#"value="Mia Mentee""#));

    sign_up(&b, &app, "mentee", "Mia Mentee").await;
    let (_, html) = get_page(&b, &app, "/").await;
    assert!(html.contains("Mia Mentee"), "the header names the signed-in user");
    assert!(
        html.contains(r#"href="/bookings""#),
        "a mentee's navigation has their bookings"
    );
    assert!(
        !html.contains(r#"href="/app/""#),
        "a mentee has no live-room link of a host"
    );
    assert!(html.contains(r#"data-signed-in="true""#));

    let token = page_token(&b, &app).await;
    assert_eq!(token["role"], "mentee");
    let me = app.get_auth("/api/me", token["accessToken"].as_str().unwrap()).await;
    assert_eq!(me.status(), StatusCode::OK, "the page's token works on the API");
}

#[actix_web::test]
async fn forms_without_the_csrf_token_or_from_another_site_are_refused() {
    let app = spawn_app().await;
    let b = browser();
    let email = sign_up(&b, &app, "mentee", "Cy").await;
    let (_, html) = get_page(&b, &app, "/").await;
    let csrf = csrf_of(&html);

    // No token, a wrong one, another site's Origin: refused, still signed in.
    for (form_csrf, origin) in [
        ("", None),
        ("0".repeat(48).as_str(), None),
        (csrf.as_str(), Some("https://evil.example")),
    ] {
        let mut req = b.post(app.url("/signout")).form(&[("csrf", form_csrf)]);
        if let Some(o) = origin {
            req = req.header(ORIGIN, o);
        }
        let res = req.send().await.unwrap();
        assert_eq!(res.status(), StatusCode::FORBIDDEN);
        let (_, html) = get_page(&b, &app, "/").await;
        assert!(
            html.contains(r#"data-signed-in="true""#),
            "a refused sign-out changes nothing"
        );
    }
    // A client without the CSRF cookie (another site's form) cannot sign in
    // even with a token copied from a page.
    let other = browser();
    let res = other
        .post(app.url("/signin"))
        .form(&[("csrf", csrf.as_str()), ("email", &email), ("password", PASSWORD)])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    // Nor get a token for the scripts without the header.
    let res = b.post(app.url("/web/token")).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
}

#[actix_web::test]
async fn sign_in_and_out_by_form_and_the_api_sign_outs_end_the_page_session() {
    let app = spawn_app().await;
    let b = browser();
    let email = sign_up(&b, &app, "mentor", "Max Mentor").await;
    let (_, html) = get_page(&b, &app, "/").await;
    assert!(
        html.contains(r#"href="/calendar""#) && html.contains(r#"href="/profile""#),
        "a mentor's navigation has the calendar and the profile"
    );

    // Sign out by form: the page session is over.
    let res = b
        .post(app.url("/signout"))
        .form(&[("csrf", csrf_of(&html))])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let (_, html) = get_page(&b, &app, "/").await;
    assert!(html.contains(r#"data-signed-in="false""#));

    // A wrong password: 401, in words, the email kept; then the right one.
    let (_, signin) = get_page(&b, &app, "/signin?next=/sessions").await;
    let res = b
        .post(app.url("/signin"))
        .form(&[
            ("csrf", csrf_of(&signin).as_str()),
            ("email", &email),
            ("password", "not the password at all"),
            ("next", "/sessions"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    let html = res.text().await.unwrap();
    assert!(html.contains("The email or the password is wrong"));
    let res = b
        .post(app.url("/signin"))
        .form(&[
            ("csrf", csrf_of(&signin).as_str()),
            ("email", &email),
            ("password", PASSWORD),
            ("next", "/sessions"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        res.headers()[LOCATION],
        "/sessions",
        "back to where the visitor was going"
    );

    // "Sign out everywhere" through the API ends the page session too.
    let token = page_token(&b, &app).await;
    let res = app
        .http
        .post(app.url("/api/auth/logout-all"))
        .bearer_auth(token["accessToken"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    let (_, html) = get_page(&b, &app, "/").await;
    assert!(
        html.contains(r#"data-signed-in="false""#),
        "the page session was revoked with the rest"
    );

    // `next` never leads to another site.
    let (_, signin) = get_page(&b, &app, "/signin").await;
    let res = b
        .post(app.url("/signin"))
        .form(&[
            ("csrf", csrf_of(&signin).as_str()),
            ("email", &email),
            ("password", PASSWORD),
            ("next", "//evil.example/"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.headers()[LOCATION], "/");
}

#[actix_web::test]
async fn pages_carry_a_strict_content_security_policy() {
    let app = spawn_app().await;
    for path in ["/", "/signin", "/signup"] {
        let res = app.http.get(app.url(path)).send().await.unwrap();
        assert_eq!(res.status(), StatusCode::OK, "{path}");
        let csp = res.headers()["content-security-policy"].to_str().unwrap().to_owned();
        assert!(
            csp.contains("script-src 'self'") && csp.contains("frame-ancestors 'none'"),
            "{path}: {csp}"
        );
        assert!(
            !csp.contains("unsafe-inline") && !csp.contains("unsafe-eval"),
            "{path}: {csp}"
        );
        let html = res.text().await.unwrap();
        assert!(!html.contains("<script>"), "{path}: no inline script");
    }
}

#[actix_web::test]
async fn a_mentee_finds_a_mentor_by_skill_and_books_a_slot_with_an_agenda_by_form() {
    let app = spawn_app().await;
    let mentor = app.register("mentor", "Grace Hopper").await;
    let res = app
        .patch_profile(
            &mentor.access,
            &serde_json::json!({"headline": "Compilers and COBOL", "skills": [{"name": "Rust", "level": "expert"}], "phone": "+1 555 0100"}),
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    let slot = app.slot(&mentor, 120, 1).await;
    let slot_id = slot["id"].as_str().unwrap().to_owned();

    // Anyone reads the directory and the mentor's page.
    let visitor = browser();
    let (status, html) = get_page(&visitor, &app, "/mentors?skill=rust&q=&minYears=").await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("Grace Hopper") && html.contains(&format!("/mentors/{}", mentor.id)));
    let (status, html) = get_page(&visitor, &app, "/mentors?skill=haskell").await;
    assert_eq!(status, StatusCode::OK);
    assert!(!html.contains("Grace Hopper") && html.contains("No mentor matches"));
    let (status, html) = get_page(&visitor, &app, "/mentors?minYears=lots").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        html.contains("Minimum years must be a whole number"),
        "the error in words"
    );

    let page_path = format!("/mentors/{}", mentor.id);
    let (status, html) = get_page(&visitor, &app, &page_path).await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("<title>Grace Hopper · Lyceum</title>"));
    assert!(
        html.contains(r#"<meta name="description" content="Grace Hopper: Compilers and COBOL. Mentor on Lyceum.">"#)
    );
    assert!(html.contains(&format!(r#"<link rel="canonical" href="{page_path}">"#)));
    assert!(html.contains(r#"property="og:title""#) && html.contains(r#""@type":"Person""#));
    assert!(html.contains("1 of 1 seats left"));
    assert!(
        !html.contains(&mentor.email) && !html.contains("555 0100"),
        "no private details on a public page"
    );
    assert!(html.contains("Sign in to book"));

    // A mentee books it with an agenda; a second one joins the waitlist.
    let b = browser();
    sign_up(&b, &app, "mentee", "Mia").await;
    let (_, html) = get_page(&b, &app, &page_path).await;
    let res = b
        .post(app.url(&format!("{page_path}/book")))
        .form(&[
            ("csrf", csrf_of(&html).as_str()),
            ("slotId", &slot_id),
            ("goals", "Land a compiler job"),
            ("questions", "How to start?\nWhich books?"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let to = res.headers()[LOCATION].to_str().unwrap().to_owned();
    assert!(to.contains("booked=confirmed"), "{to}");
    let (_, html) = get_page(&b, &app, &to).await;
    assert!(html.contains("Your seat is confirmed") && html.contains("0 of 1 seats left"));
    let bookings: Value = app
        .http
        .get(app.url(&format!("/api/slots/{slot_id}/bookings")))
        .bearer_auth(&mentor.access)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let agenda = &bookings["items"][0]["agenda"];
    assert_eq!(agenda["goals"], "Land a compiler job");
    assert_eq!(
        agenda["questions"],
        serde_json::json!(["How to start?", "Which books?"])
    );

    // Booking again: refused in words, nothing changed.
    let res = b
        .post(app.url(&format!("{page_path}/book")))
        .form(&[("csrf", csrf_of(&html).as_str()), ("slotId", &slot_id)])
        .send()
        .await
        .unwrap();
    let to = res.headers()[LOCATION].to_str().unwrap().to_owned();
    let (_, html) = get_page(&b, &app, &to).await;
    assert!(html.contains("You have already booked this one"), "{to}");

    let c = browser();
    sign_up(&c, &app, "mentee", "Noor").await;
    let (_, html) = get_page(&c, &app, &page_path).await;
    assert!(html.contains("Join the waitlist"));
    let res = c
        .post(app.url(&format!("{page_path}/book")))
        .form(&[("csrf", csrf_of(&html).as_str()), ("slotId", &slot_id)])
        .send()
        .await
        .unwrap();
    let to = res.headers()[LOCATION].to_str().unwrap().to_owned();
    assert!(to.contains("booked=waitlisted&position=1"), "{to}");

    // The sitemap lists the mentor's page; robots.txt points to it.
    // The sitemap is an index of files within the protocol's 50,000 URLs.
    let (_, index) = get_page(&visitor, &app, "/sitemap.xml").await;
    for file in [
        "/sitemaps/pages.xml</loc>",
        "/sitemaps/mentors-1.xml</loc>",
        "/sitemaps/threads-1.xml</loc>",
    ] {
        assert!(index.contains(file), "{index}");
    }
    let xml = app.sitemap().await;
    assert!(xml.contains(&format!("/mentors/{}</loc>", mentor.id)));
    assert!(xml.contains("/mentors</loc>"), "{xml}");
    let (status, past) = get_page(&visitor, &app, "/sitemaps/mentors-2.xml").await;
    assert_eq!(status, StatusCode::OK);
    assert!(past.contains("<urlset") && !past.contains("<url>"), "{past}");
    for bad in [
        "/sitemaps/nope.xml",
        "/sitemaps/mentors-0.xml",
        "/sitemaps/mentors-x.xml",
        "/sitemaps/users-1.xml",
    ] {
        let (status, _) = get_page(&visitor, &app, bad).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{bad}");
    }
    let (_, robots) = get_page(&visitor, &app, "/robots.txt").await;
    assert!(robots.contains("Sitemap: ") && robots.contains("Disallow: /api/"));
}

#[actix_web::test]
async fn a_session_page_is_public_with_its_event_and_a_mentee_registers_by_form() {
    let app = spawn_app().await;
    let mentor = app.register("mentor", "Ada Host").await;
    let starts = chrono::Utc::now() + chrono::Duration::hours(3);
    let res = app
        .http
        .post(app.url("/api/sessions"))
        .bearer_auth(&mentor.access)
        .json(&serde_json::json!({"title": "Interview prep webinar", "startsAt": starts, "durationMinutes": 60, "capacity": 50}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::CREATED);
    let session: Value = res.json().await.unwrap();
    let path = format!("/sessions/{}", session["id"].as_str().unwrap());

    let visitor = browser();
    let (_, list) = get_page(&visitor, &app, "/sessions").await;
    assert!(list.contains("Interview prep webinar") && list.contains(&path));
    let (status, html) = get_page(&visitor, &app, &path).await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("<title>Interview prep webinar · Lyceum</title>") && html.contains(r#""@type":"Event""#));
    assert!(html.contains("Ada Host") && !html.contains(&mentor.email));
    let (status, _) = get_page(&visitor, &app, &format!("/sessions/{}", uuid::Uuid::new_v4())).await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    let b = browser();
    sign_up(&b, &app, "mentee", "Reg").await;
    let (_, html) = get_page(&b, &app, &path).await;
    let res = b
        .post(app.url(&format!("{path}/register")))
        .form(&[("csrf", csrf_of(&html).as_str()), ("goals", "Practise")])
        .send()
        .await
        .unwrap();
    let to = res.headers()[LOCATION].to_str().unwrap().to_owned();
    assert!(to.contains("registered=confirmed"), "{to}");
    let (_, html) = get_page(&b, &app, &to).await;
    assert!(html.contains("49 of 50 seats left"));
}

#[actix_web::test]
async fn my_bookings_lists_cancels_and_exports_and_a_cancel_promotes_the_waitlist() {
    let app = spawn_app().await;
    let mentor = app.register("mentor", "Lin Mentor").await;
    let slot = app.slot(&mentor, 90, 1).await;
    let slot_id = slot["id"].as_str().unwrap().to_owned();
    let page_path = format!("/mentors/{}", mentor.id);

    // Signed-in pages send a visitor to sign in, and back.
    let visitor = browser();
    let res = visitor.get(app.url("/bookings")).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(res.headers()[LOCATION], "/signin?next=/bookings");

    let (a, b) = (browser(), browser());
    sign_up(&a, &app, "mentee", "First").await;
    sign_up(&b, &app, "mentee", "Second").await;
    for who in [&a, &b] {
        let (_, html) = get_page(who, &app, &page_path).await;
        let res = who
            .post(app.url(&format!("{page_path}/book")))
            .form(&[("csrf", csrf_of(&html).as_str()), ("slotId", &slot_id)])
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::SEE_OTHER);
    }
    let (_, html) = get_page(&b, &app, "/bookings").await;
    assert!(
        html.contains("Waitlist, number 1"),
        "the second is first on the waitlist"
    );
    let (status, html) = get_page(&a, &app, "/bookings").await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("Confirmed") && html.contains("Lin Mentor"));
    let ics_start = html.find("/bookings/").unwrap();
    let ics_path = &html[ics_start..html[ics_start..].find('"').unwrap() + ics_start];
    let res = a.get(app.url(ics_path)).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK, "{ics_path}");
    assert!(res.text().await.unwrap().contains("BEGIN:VEVENT"));
    // Another mentee cannot fetch it.
    let res = b.get(app.url(ics_path)).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::NOT_FOUND);

    let res = a
        .post(app.url("/bookings/cancel"))
        .form(&[
            ("csrf", csrf_of(&html).as_str()),
            ("offeringId", slot_id.as_str()),
            ("kind", "slot"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.headers()[LOCATION], "/bookings?cancelled=1");
    let (_, html) = get_page(&a, &app, "/bookings").await;
    assert!(html.contains("Cancelled"));
    let (_, html) = get_page(&b, &app, "/bookings").await;
    assert!(html.contains("Confirmed"), "the waitlisted mentee was promoted");

    let (status, html) = get_page(&a, &app, "/notifications").await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("<h1>Notifications</h1>"));
}
