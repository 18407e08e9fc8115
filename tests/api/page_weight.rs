//! Issue 14's weight budget: a first visit to the landing page, the
//! directory or a mentor's page loads at most 100 KB of CSS and JavaScript.
//! Sums every `/assets/` file a page links (stylesheets, module scripts) and
//! every module those import, transitively, as the server sends them to a
//! browser that accepts compression.

use std::collections::BTreeSet;

use reqwest::header::{ACCEPT_ENCODING, CONTENT_ENCODING};
use reqwest::StatusCode;

use crate::helpers::{spawn_app, TestApp};
use crate::pages::{browser, get_page, sign_up};

/// The budget, in bytes, of CSS and JavaScript on a first visit.
const BUDGET: usize = 100_000;

/// `/assets/...` paths a page or module refers to: `href="…"`, `src="…"`
/// and static `import … from '…'` / `import '…'`.
fn asset_refs(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    for marker in ["href=\"", "src=\"", "from '", "from \"", "import '", "import \""] {
        let quote = &marker[marker.len() - 1..];
        for (i, _) in text.match_indices(marker) {
            let rest = &text[i + marker.len()..];
            let Some(end) = rest.find(quote) else { continue };
            let path = &rest[..end];
            let path = path.strip_prefix("./").map(|p| format!("/assets/{p}"));
            let path = path.as_deref().unwrap_or(&rest[..end]);
            if path.starts_with("/assets/") {
                out.push(path.to_owned());
            }
        }
    }
    out
}

/// Every asset a page loads on a first visit: (path, bytes uncompressed,
/// bytes as sent with `Accept-Encoding: gzip, br`).
async fn first_visit(app: &TestApp, html: &str) -> Vec<(String, usize, usize)> {
    let http = reqwest::Client::builder().no_gzip().no_brotli().build().unwrap();
    let mut todo = asset_refs(html);
    let mut seen = BTreeSet::new();
    let mut out = Vec::new();
    while let Some(path) = todo.pop() {
        if !seen.insert(path.clone()) {
            continue;
        }
        let res = http.get(app.url(&path)).send().await.unwrap();
        assert_eq!(res.status(), StatusCode::OK, "{path} is linked but not served");
        let body = res.text().await.unwrap();
        let sent = http
            .get(app.url(&path))
            .header(ACCEPT_ENCODING, "gzip, br")
            .send()
            .await
            .unwrap();
        let compressed = sent.headers().contains_key(CONTENT_ENCODING);
        let sent_bytes = sent.bytes().await.unwrap().len();
        let sent_bytes = if compressed { sent_bytes } else { body.len() };
        if path.ends_with(".js") {
            todo.extend(asset_refs(&body));
        }
        out.push((path, body.len(), sent_bytes));
    }
    out
}

#[actix_web::test]
async fn a_first_visit_loads_at_most_100_kb_of_css_and_javascript() {
    let app = spawn_app().await;
    let mentor = app.register("mentor", "Grace Hopper").await;
    app.slot(&mentor, 120, 2).await;
    let mentor_page = format!("/mentors/{}", mentor.id);

    // A visitor, and a signed-in mentee (whose pages may load more: the
    // booking forms and live seats).
    let visitor = browser();
    let mentee = browser();
    sign_up(&mentee, &app, "mentee", "Ada Lovelace").await;
    for (who, b) in [("visitor", &visitor), ("mentee", &mentee)] {
        for path in ["/", "/mentors", "/mentors?q=grace", mentor_page.as_str()] {
            let (status, html) = get_page(b, &app, path).await;
            assert_eq!(status, StatusCode::OK, "{who} {path}");
            let assets = first_visit(&app, &html).await;
            assert!(
                assets.iter().any(|(p, _, _)| p.ends_with(".css")),
                "{who} {path}: no stylesheet found, so the sum below would be wrong"
            );
            let total: usize = assets.iter().map(|a| a.1).sum();
            let sent: usize = assets.iter().map(|a| a.2).sum();
            let list: Vec<String> = assets.iter().map(|(p, b, _)| format!("{p} {b} B")).collect();
            println!(
                "{who} {path}: {total} B of CSS and JavaScript ({sent} B as sent): {}",
                list.join(", ")
            );
            assert!(
                total <= BUDGET,
                "{who} {path} loads {total} B of CSS and JavaScript, over the {BUDGET} B budget: {list:?}"
            );
        }
    }
}

#[test]
fn references_are_found_in_pages_and_modules() {
    let html = r#"<link rel="stylesheet" href="/assets/site.css"><script type="module" src="/assets/site.js"></script>
        <a href="/mentors">x</a><script src="https://elsewhere.example/x.js"></script>"#;
    assert_eq!(asset_refs(html), vec!["/assets/site.css", "/assets/site.js"]);
    let js = "import { a } from '/assets/site.js';\nimport \"./extra.js\";\nconst x = 'from here';";
    assert_eq!(asset_refs(js), vec!["/assets/site.js", "/assets/extra.js"]);
}
