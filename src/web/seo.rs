//! For search engines: `robots.txt` and the sitemap. `/sitemap.xml` is a
//! sitemap index; the URLs are in the files it lists, each within the
//! protocol's 50,000 URLs: `/sitemaps/pages.xml` (the landing page, the
//! directory, the sessions and the boards), `/sitemaps/mentors-{n}.xml`
//! (every mentor's page) and `/sitemaps/threads-{n}.xml` (every thread of a
//! public category, neither hidden nor deleted), [`PER_FILE`] URLs each.

use actix_web::{web, HttpRequest, HttpResponse};
use lyceum_protocol::ErrorCode;

use crate::error::ApiError;
use crate::state::AppState;

/// URLs per sitemap file (the protocol allows 50,000 and 50 MB).
pub const PER_FILE: i64 = 40_000;

const MENTORS: &str = "FROM profiles WHERE is_mentor";
const THREADS: &str = "FROM board_threads t JOIN board_categories c ON c.id = t.category_id
     WHERE c.visibility = 'public' AND t.deleted_at IS NULL AND NOT t.hidden";

fn origin(req: &HttpRequest) -> String {
    let ci = req.connection_info();
    format!("{}://{}", ci.scheme(), ci.host())
}

pub async fn robots(req: HttpRequest) -> HttpResponse {
    HttpResponse::Ok().content_type("text/plain; charset=utf-8").body(format!(
        "User-agent: *\nDisallow: /api/\nDisallow: /app/\nDisallow: /calendar/\nDisallow: /bookings\nDisallow: /profile\nDisallow: /admin\nAllow: /\nSitemap: {}/sitemap.xml\n",
        origin(&req)
    ))
}

fn xml_escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
}

fn xml(body: String) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("application/xml; charset=utf-8")
        .body(body)
}

/// How many files of `PER_FILE` the rows `from` fill (at least one).
async fn files(client: &deadpool_postgres::Client, from: &str) -> Result<i64, ApiError> {
    let n: i64 = client.query_one(&format!("SELECT count(*) {from}"), &[]).await?.get(0);
    Ok(((n + PER_FILE - 1) / PER_FILE).max(1))
}

/// `GET /sitemap.xml`: the sitemap index.
pub async fn sitemap(state: web::Data<AppState>, req: HttpRequest) -> Result<HttpResponse, ApiError> {
    let base = origin(&req);
    let client = state.pool.get().await?;
    let mut out = String::from(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<sitemapindex xmlns=\"http://www.sitemaps.org/schemas/sitemap/0.9\">\n",
    );
    let mut part = |file: String| {
        out.push_str(&format!(
            "<sitemap><loc>{}</loc></sitemap>\n",
            xml_escape(&format!("{base}/sitemaps/{file}"))
        ));
    };
    part("pages.xml".into());
    for n in 1..=files(&client, MENTORS).await? {
        part(format!("mentors-{n}.xml"));
    }
    for n in 1..=files(&client, THREADS).await? {
        part(format!("threads-{n}.xml"));
    }
    out.push_str("</sitemapindex>\n");
    Ok(xml(out))
}

/// `GET /sitemaps/{file}`: one file of the index; `404 not_found` for a
/// name it does not list (a page past the last is an empty `urlset`).
pub async fn sitemap_file(
    state: web::Data<AppState>,
    req: HttpRequest,
    file: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let not_found = || ApiError::new(ErrorCode::NotFound, "no such sitemap");
    let base = origin(&req);
    let mut out = String::from(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<urlset xmlns=\"http://www.sitemaps.org/schemas/sitemap/0.9\">\n",
    );
    let file = file.into_inner();
    if file == "pages.xml" {
        for path in ["/", "/mentors", "/sessions", "/boards"] {
            out.push_str(&format!(
                "<url><loc>{}</loc></url>\n",
                xml_escape(&format!("{base}{path}"))
            ));
        }
    } else {
        let (kind, n) = file
            .strip_suffix(".xml")
            .and_then(|f| f.split_once('-'))
            .ok_or_else(not_found)?;
        let n: i64 = n
            .parse()
            .ok()
            .filter(|n| (1..=100_000).contains(n))
            .ok_or_else(not_found)?;
        let (sql, path) = match kind {
            "mentors" => (
                format!("SELECT user_id, updated_at {MENTORS} ORDER BY user_id LIMIT $1 OFFSET $2"),
                "/mentors/",
            ),
            "threads" => (
                format!("SELECT t.id, t.last_activity_at {THREADS} ORDER BY t.id LIMIT $1 OFFSET $2"),
                "/boards/threads/",
            ),
            _ => return Err(not_found()),
        };
        let client = state.pool.get().await?;
        let rows = client.query(&sql, &[&PER_FILE, &((n - 1) * PER_FILE)]).await?;
        for r in &rows {
            let id: uuid::Uuid = r.get(0);
            let updated: chrono::DateTime<chrono::Utc> = r.get(1);
            out.push_str(&format!(
                "<url><loc>{}</loc><lastmod>{}</lastmod></url>\n",
                xml_escape(&format!("{base}{path}{id}")),
                updated.format("%Y-%m-%d")
            ));
        }
    }
    out.push_str("</urlset>\n");
    Ok(xml(out))
}
