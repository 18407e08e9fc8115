//! For search engines: `robots.txt` and `sitemap.xml` (the public pages:
//! the landing page, the directory, every mentor's page, the boards and
//! every thread of a public category).

use actix_web::{web, HttpRequest, HttpResponse};

use crate::error::ApiError;
use crate::state::AppState;

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

pub async fn sitemap(state: web::Data<AppState>, req: HttpRequest) -> Result<HttpResponse, ApiError> {
    let base = origin(&req);
    let client = state.pool.get().await?;
    let mentors = client
        .query(
            "SELECT user_id, updated_at FROM profiles WHERE is_mentor ORDER BY user_id LIMIT 50000",
            &[],
        )
        .await?;
    let mut out = String::from(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<urlset xmlns=\"http://www.sitemaps.org/schemas/sitemap/0.9\">\n",
    );
    for path in ["/", "/mentors", "/sessions", "/boards"] {
        out.push_str(&format!(
            "<url><loc>{}</loc></url>\n",
            xml_escape(&format!("{base}{path}"))
        ));
    }
    for r in &mentors {
        let id: uuid::Uuid = r.get(0);
        let updated: chrono::DateTime<chrono::Utc> = r.get(1);
        out.push_str(&format!(
            "<url><loc>{}</loc><lastmod>{}</lastmod></url>\n",
            xml_escape(&format!("{base}/mentors/{id}")),
            updated.format("%Y-%m-%d")
        ));
    }
    // Threads of public categories, neither hidden nor deleted.
    let threads = client
        .query(
            "SELECT t.id, t.last_activity_at FROM board_threads t JOIN board_categories c ON c.id = t.category_id
              WHERE c.visibility = 'public' AND t.deleted_at IS NULL AND NOT t.hidden
              ORDER BY t.last_activity_at DESC LIMIT 40000",
            &[],
        )
        .await?;
    for r in &threads {
        let id: uuid::Uuid = r.get(0);
        let updated: chrono::DateTime<chrono::Utc> = r.get(1);
        out.push_str(&format!(
            "<url><loc>{}</loc><lastmod>{}</lastmod></url>\n",
            xml_escape(&format!("{base}/boards/threads/{id}")),
            updated.format("%Y-%m-%d")
        ));
    }
    out.push_str("</urlset>\n");
    Ok(HttpResponse::Ok()
        .content_type("application/xml; charset=utf-8")
        .body(out))
}
