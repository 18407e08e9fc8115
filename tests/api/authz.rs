//! The authorisation matrix (issue 12): every HTTP route of
//! `lyceum::routes::ROUTES` and every WebSocket command of
//! `Command::TYPES` x {anonymous, guest, mentee, another mentee, mentor,
//! another mentor, admin} x {own, someone else's resource}, with the outcome
//! docs/api.md, docs/protocol.md and docs/live.md state.
//!
//! A row is one line: the route (or command type), the request (a path or
//! frame with `{placeholders}` filled from the target's fixtures, see
//! `fill`), an optional body, an optional preparation run before each case
//! (for rows whose request destroys what it names) and the expectations
//! (`spec`, parsed by `Spec::parse`):
//!
//! ```text
//! "*:200; anon:401 missing_token; guest:403 guest_not_allowed; mentee:200/403 not_a_member"
//! ```
//!
//! `who:outcome` or `who:own/other`; `who` is `anon`, `guest`, `mentee`
//! (both mentees), `mentor` (both mentors), `admin`, or `*` for every one not
//! named. An HTTP outcome is a status (`200|201` for either) and, for a
//! refusal, its error code (`403 forbidden|not_a_member` for either); a
//! WebSocket outcome is `ack` or the error code. Anonymous and the admin
//! have one case (on A's resources); so does every row for a route with no
//! resource in it (its own/other cases see the same request).
//!
//! Own and other: mentor A and mentee A own world A (a private group room
//! with both in it, a slot the mentee booked, a group session the mentee
//! registered for, a started offering with notes, an attachment, a feed,
//! a board thread the mentee asked with the mentor's reply to it, in the
//! one public board category the admin made),
//! mentor B and mentee B own world B, built the same way; the guest owns
//! room G (a public room of mentor A that allows guests). A principal's
//! "other" is the other world (world A for the guest).
//!
//! The matrix fails on a route or command with no row, and on a row for a
//! route or command that does not exist. Every mismatch is printed in one
//! table. No response to a principal may contain another fixture user's
//! email address or phone number.

use std::collections::{BTreeSet, HashMap};
use std::fmt::Write as _;
use std::sync::atomic::{AtomicI64, Ordering};

use chrono::{Datelike, Duration as Dur, Utc};
use lyceum_protocol::frames::Command;
use reqwest::Method;
use serde_json::{json, Value};

use crate::helpers::*;
use crate::ws::{try_connect, Ws};

/// What to do before each case of a row, so that a request that destroys
/// or changes what it names finds it as the fixtures describe.
#[derive(Clone, Copy, PartialEq)]
enum Prep {
    None,
    /// `{victim}` is a member of the target room.
    InviteVictim,
    /// `{seq}` is a fresh message of the target room's member (the mentee,
    /// or the guest in room G).
    FreshMessage,
    /// `{slot}` is a fresh slot of the target's mentor that its mentee booked.
    FreshSlot,
    /// `{session}` is a fresh group session of the target's mentor that its
    /// mentee registered for.
    FreshSession,
    /// As `FreshSession`, and its mentor has joined its live room (over the
    /// mentor's matrix socket; WebSocket rows only).
    HostJoined,
    /// `{mentorship}` is a fresh pending mentorship the target's mentee
    /// asked its mentor for (any open one of the two is ended first).
    FreshMentorship,
    /// `{call}` is a call the target's mentor places to its mentee, ringing
    /// (over their matrix sockets; WebSocket rows only). The mentor hangs
    /// it up after the case.
    Ringing,
    /// `{post}` is a fresh reply of the target's mentee in the target's
    /// board thread.
    FreshPost,
}

#[derive(Clone, Copy)]
enum Body {
    None,
    Json(&'static str),
    /// A small PDF as a raw upload.
    Pdf,
}

struct HttpRow {
    method: &'static str,
    route: &'static str,
    path: &'static str,
    body: Body,
    prep: Prep,
    spec: &'static str,
}

struct WsRow {
    command: &'static str,
    frame: &'static str,
    prep: Prep,
    spec: &'static str,
}

const fn http(method: &'static str, route: &'static str, path: &'static str, spec: &'static str) -> HttpRow {
    HttpRow {
        method,
        route,
        path,
        body: Body::None,
        prep: Prep::None,
        spec,
    }
}

const fn with(mut row: HttpRow, body: Body, prep: Prep) -> HttpRow {
    row.body = body;
    row.prep = prep;
    row
}

const fn ws(command: &'static str, frame: &'static str, prep: Prep, spec: &'static str) -> WsRow {
    WsRow {
        command,
        frame,
        prep,
        spec,
    }
}

use Body::{Json, Pdf};

/// Signed-in routes that are neither per-role nor per-resource.
const SIGNED_IN: &str = "*:200; anon:401 missing_token; guest:403 guest_not_allowed";
/// A two-factor route given a wrong code (nobody in the fixture has two-factor
/// on; an enrolment from the enroll row may be pending).
const TWO_FACTOR_CODE: &str =
    "*:401|409 invalid_two_factor_code|invalid_credentials|two_factor_not_pending|two_factor_not_enabled; \
                               anon:401 missing_token; guest:403 guest_not_allowed";
/// A room route readable by its members (admins: any group room).
const ROOM_READ: &str = "anon:401 missing_token; guest:200/403 guest_not_allowed; mentee:200/403 not_a_member; \
                         mentor:200/403 not_a_member; admin:200";
/// A change to a room's membership by its owner, moderators or admins.
const ROOM_MODERATE: &str =
    "anon:401 missing_token; guest:403 guest_not_allowed; mentee:403 forbidden; mentor:200/403 forbidden; admin:200";
/// Admins only (the fixture appoints no board moderator).
const ADMINS: &str = "anon:401 missing_token; guest:403 guest_not_allowed; *:403 forbidden; admin:200";
const ADMINS_CREATE: &str = "anon:401 missing_token; guest:403 guest_not_allowed; *:403 forbidden; admin:201";
/// Posting on a board: any signed-in account.
const BOARD_WRITE: &str = "anon:401 missing_token; guest:403 guest_not_allowed; *:201";
/// Mentors (and admins) only, no resource.
const MENTORS: &str = "anon:401 missing_token; guest:403 guest_not_allowed; mentee:403 forbidden; *:201";

/// The HTTP rows, in the order they run (rows that change fixtures last).
/// Adding a route: add its line here (one per method, more for routes with
/// several documented cases).
#[rustfmt::skip]
const HTTP_ROWS: &[HttpRow] = &[
    http("GET", "/healthz", "/healthz", "*:200"),
    http("GET", "/readyz", "/readyz", "*:200"),
    http("GET", "/ws", "/ws", "*:400 not_a_websocket; anon:401 missing_token"),
    http("GET", "/metrics", "/metrics", "*:200"),
    http("GET", "/", "/", "*:200"),
    // The pages sign in with a cookie, not a bearer token: to them every
    // principal here is a visitor (tests/api/pages.rs checks them signed in).
    http("GET", "/signin", "/signin", "*:200"),
    http("POST", "/signin", "/signin", "*:400 unsupported_media_type"),
    http("GET", "/signup", "/signup", "*:200"),
    http("POST", "/signup", "/signup", "*:400 unsupported_media_type"),
    http("POST", "/signout", "/signout", "*:400 unsupported_media_type"),
    http("POST", "/web/token", "/web/token", "*:403 forbidden"),
    http("GET", "/assets/{file}", "/assets/site.js", "*:200"),
    http("GET", "/mentors", "/mentors", "*:200"),
    http("GET", "/mentors/{id}", "/mentors/{mentor}", "*:200"),
    http("POST", "/mentors/{id}/book", "/mentors/{mentor}/book", "*:400 unsupported_media_type"),
    with(http("GET", "/sessions", "/sessions", "*:200"), Body::None, Prep::FreshSession),
    with(http("GET", "/sessions/{id}", "/sessions/{session}", "*:200"), Body::None, Prep::FreshSession),
    with(http("POST", "/sessions/{id}/register", "/sessions/{session}/register", "*:400 unsupported_media_type"), Body::None, Prep::FreshSession),
    http("GET", "/bookings", "/bookings", "*:303"),
    http("POST", "/bookings/cancel", "/bookings/cancel", "*:400 unsupported_media_type"),
    http("POST", "/bookings/review", "/bookings/review", "*:400 unsupported_media_type"),
    http("GET", "/matching", "/matching", "*:303"),
    http("GET", "/dashboard", "/dashboard", "*:303"),
    http("GET", "/mentorships", "/mentorships", "*:303"),
    http("POST", "/mentorships", "/mentorships", "*:400 unsupported_media_type"),
    http("POST", "/mentorships/{id}/{action}", "/mentorships/{mentorship}/accept", "*:400 unsupported_media_type"),
    http("GET", "/bookings/{file}", "/bookings/{booking}.ics", "*:303"),
    http("GET", "/notifications", "/notifications", "*:303"),
    http("POST", "/notifications/preferences", "/notifications/preferences", "*:400 unsupported_media_type"),
    http("POST", "/notifications/read-all", "/notifications/read-all", "*:400 unsupported_media_type"),
    http("POST", "/notifications/{id}/read", "/notifications/999999999/read", "*:400 unsupported_media_type"),
    http("GET", "/chat", "/chat", "*:303"),
    http("POST", "/chat", "/chat", "*:400 unsupported_media_type"),
    http("POST", "/chat/direct", "/chat/direct", "*:400 unsupported_media_type"),
    http("GET", "/chat/files/{id}", "/chat/files/{attachment}", "*:303"),
    http("GET", "/chat/{id}", "/chat/{room}", "*:303"),
    http("POST", "/chat/{id}", "/chat/{room}", "*:400 unsupported_media_type"),
    http("GET", "/chat/{id}/guest", "/chat/{room}/guest", "*:200"),
    http("GET", "/boards", "/boards", "*:200"),
    http("GET", "/boards/threads/{id}", "/boards/threads/{thread}", "*:200"),
    http("POST", "/boards/threads", "/boards/threads", "*:400 unsupported_media_type"),
    http("POST", "/boards/threads/{id}/replies", "/boards/threads/{thread}/replies", "*:400 unsupported_media_type"),
    http("POST", "/boards/threads/{id}/accept", "/boards/threads/{thread}/accept", "*:400 unsupported_media_type"),
    http("POST", "/boards/threads/{id}/posts/{post}/vote", "/boards/threads/{thread}/posts/{reply}/vote", "*:400 unsupported_media_type"),
    http("POST", "/boards/threads/{id}/posts/{post}/flag", "/boards/threads/{thread}/posts/{reply}/flag", "*:400 unsupported_media_type"),
    http("POST", "/boards/threads/{id}/posts/{post}/edit", "/boards/threads/{thread}/posts/{reply}/edit", "*:400 unsupported_media_type"),
    http("POST", "/boards/threads/{id}/posts/{post}/review", "/boards/threads/{thread}/posts/{reply}/review", "*:400 unsupported_media_type"),
    // Signed links, not sign-ins: without a valid signature the page says the link does not work.
    http("GET", "/unsubscribe", "/unsubscribe", "*:400 invalid_unsubscribe_link"),
    http("POST", "/unsubscribe", "/unsubscribe", "*:400 invalid_unsubscribe_link"),
    http("GET", "/sitemap.xml", "/sitemap.xml", "*:200"),
    http("GET", "/sitemaps/{file}", "/sitemaps/pages.xml", "*:200"),
    http("GET", "/robots.txt", "/robots.txt", "*:200"),
    http("GET", "/app", "/app", "*:200"),
    http("GET", "/app/{file}", "/app/app.js", "*:200"),
    http("GET", "/app/{file}", "/app/", "*:200"),
    http("GET", "/calendar/{token}", "/calendar/{feed}", "*:200"),
    http("GET", "/calendar", "/calendar", "*:303"),
    http("POST", "/calendar/availability", "/calendar/availability", "*:400 unsupported_media_type"),
    http("POST", "/calendar/availability/weekly", "/calendar/availability/weekly", "*:400 unsupported_media_type"),
    http("POST", "/calendar/sessions", "/calendar/sessions", "*:400 unsupported_media_type"),
    with(http("GET", "/calendar/manage/{id}", "/calendar/manage/{session}", "*:303"), Body::None, Prep::FreshSession),
    with(http("POST", "/calendar/manage/{id}", "/calendar/manage/{session}", "*:400 unsupported_media_type"), Body::None, Prep::FreshSession),
    http("GET", "/profile", "/profile", "*:303"),
    http("POST", "/profile", "/profile", "*:400 unsupported_media_type"),
    http("GET", "/admin", "/admin", "*:303"),
    http("GET", "/admin/audit", "/admin/audit", "*:303"),
    http("POST", "/admin/users/{id}/role", "/admin/users/{victim}/role", "*:400 unsupported_media_type"),
    http("GET", "/avatars/{file}", "/avatars/nobody-0.png", "*:404 not_found"),
    with(http("POST", "/api/auth/register", "/api/auth/register", "*:201"), Json(r#"{"email":"{fresh_email}","password":"correct horse battery staple","displayName":"New","role":"mentee"}"#), Prep::None),
    with(http("POST", "/api/auth/login", "/api/auth/login", "*:200"), Json(r#"{"email":"{victim_email}","password":"correct horse battery staple"}"#), Prep::None),
    with(http("POST", "/api/auth/refresh", "/api/auth/refresh", "*:401 invalid_refresh_token"), Json(r#"{"refreshToken":"not-a-token"}"#), Prep::None),
    with(http("POST", "/api/auth/logout", "/api/auth/logout", "*:204"), Json(r#"{"refreshToken":"not-a-token"}"#), Prep::None),
    http("GET", "/api/me", "/api/me", SIGNED_IN),
    http("GET", "/api/me/profile", "/api/me/profile", SIGNED_IN),
    with(http("PATCH", "/api/me/profile", "/api/me/profile", SIGNED_IN), Json(r#"{"headline":"Matrix"}"#), Prep::None),
    http("GET", "/api/me/2fa", "/api/me/2fa", SIGNED_IN),
    http("POST", "/api/me/2fa/enroll", "/api/me/2fa/enroll", SIGNED_IN),
    with(
        http("POST", "/api/me/2fa/confirm", "/api/me/2fa/confirm", TWO_FACTOR_CODE),
        Json(r#"{"code":"000000"}"#),
        Prep::None,
    ),
    with(
        http("POST", "/api/me/2fa/disable", "/api/me/2fa/disable", TWO_FACTOR_CODE),
        Json(r#"{"password":"not the password","code":"000000"}"#),
        Prep::None,
    ),
    with(
        http("POST", "/api/me/2fa/recovery-codes", "/api/me/2fa/recovery-codes", TWO_FACTOR_CODE),
        Json(r#"{"code":"000000"}"#),
        Prep::None,
    ),
    http("GET", "/api/users/{id}", "/api/users/{mentor}", SIGNED_IN),
    http("GET", "/api/mentors", "/api/mentors", SIGNED_IN),
    http("GET", "/api/admin/audit", "/api/admin/audit", "anon:401 missing_token; guest:403 guest_not_allowed; *:403 forbidden; admin:200"),
    http("GET", "/api/admin/users", "/api/admin/users", "anon:401 missing_token; guest:403 guest_not_allowed; *:403 forbidden; admin:200"),
    http("PUT", "/api/me/avatar", "/api/me/avatar", "*:400 invalid_avatar; anon:401 missing_token; guest:403 guest_not_allowed"),
    http("DELETE", "/api/me/avatar", "/api/me/avatar", SIGNED_IN),
    http("POST", "/api/ws/ticket", "/api/ws/ticket", "*:200; anon:401 missing_token"),
    with(http("PUT", "/api/me/public-key", "/api/me/public-key", SIGNED_IN), Json(r#"{"publicKey":"matrix-key"}"#), Prep::None),
    http("GET", "/api/users/{id}/reviews", "/api/users/{mentor}/reviews", "*:200"),
    http("GET", "/api/me/reviews", "/api/me/reviews", SIGNED_IN),
    http("GET", "/api/me/dashboard", "/api/me/dashboard", "anon:401 missing_token; guest:403 guest_not_allowed; mentee:403 forbidden; *:200"),
    with(http("POST", "/api/reviews", "/api/reviews", "anon:401 missing_token; guest:403 guest_not_allowed; mentee:409 not_attended/404 booking_not_found; mentor:409 not_attended/404 booking_not_found; admin:404 booking_not_found"), Json(r#"{"bookingId":"{booking}","rating":4}"#), Prep::None),
    with(http("PATCH", "/api/reviews/{id}", "/api/reviews/{review}", "anon:401 missing_token; guest:403 guest_not_allowed; mentee:200/403 forbidden; *:403 forbidden"), Json(r#"{"text":"matrix"}"#), Prep::None),
    http("GET", "/api/admin/review-reports", "/api/admin/review-reports", "anon:401 missing_token; guest:403 guest_not_allowed; *:403 forbidden; admin:200"),
    with(http("POST", "/api/admin/review-reports/{id}/resolve", "/api/admin/review-reports/00000000-0000-4000-8000-000000000000/resolve", "anon:401 missing_token; guest:403 guest_not_allowed; *:403 forbidden; admin:404 report_not_found"), Json(r#"{"action":"dismiss"}"#), Prep::None),
    with(http("POST", "/api/matching", "/api/matching", SIGNED_IN), Json(r#"{"timeZone":"UTC","skills":[{"name":"rust","level":"advanced"}]}"#), Prep::None),
    http("GET", "/api/mentorships", "/api/mentorships", SIGNED_IN),
    with(http("POST", "/api/goals", "/api/goals", "anon:401 missing_token; guest:403 guest_not_allowed; mentee:201; *:403 forbidden"), Json(r#"{"title":"Matrix goal"}"#), Prep::None),
    http("GET", "/api/goals", "/api/goals", SIGNED_IN),
    with(http("POST", "/api/me/skills", "/api/me/skills", "anon:401 missing_token; guest:403 guest_not_allowed; mentee:201; *:403 forbidden"), Json(r#"{"skill":"Rust","level":"beginner"}"#), Prep::None),
    http("GET", "/api/users/{id}/skills", "/api/users/{mentee}/skills", "anon:401 missing_token; guest:403 guest_not_allowed; mentee:200/403 forbidden; *:403 forbidden"),
    http("GET", "/api/goals/{id}", "/api/goals/00000000-0000-4000-8000-000000000000", "anon:401 missing_token; guest:403 guest_not_allowed; *:404 goal_not_found"),
    http("GET", "/api/goals/{id}/{action}", "/api/goals/00000000-0000-4000-8000-000000000000/chart.svg", "anon:401 missing_token; guest:403 guest_not_allowed; *:404 goal_not_found"),
    with(http("POST", "/api/goals/{id}/{action}", "/api/goals/00000000-0000-4000-8000-000000000000/feedback", "anon:401 missing_token; guest:403 guest_not_allowed; *:404 goal_not_found"), Json(r#"{"text":"matrix"}"#), Prep::None),
    // Before the rows below, which end the fixture's pending mentorships.
    with(http("POST", "/api/mentorships", "/api/mentorships", "anon:401 missing_token; guest:403 guest_not_allowed; mentee:409 mentorship_exists/201; *:403 forbidden"), Json(r#"{"mentorId":"{mentor}","startDate":"{today}","endDate":"{today}","goals":"matrix"}"#), Prep::None),
    with(http("POST", "/api/mentorships/{id}/{action}", "/api/mentorships/{mentorship}/accept", "anon:401 missing_token; guest:403 guest_not_allowed; mentee:403 forbidden/404 mentorship_not_found; mentor:200/404 mentorship_not_found; admin:404 mentorship_not_found"), Body::None, Prep::FreshMentorship),
    with(http("POST", "/api/mentorships/{id}/{action}", "/api/mentorships/{mentorship}/decline", "anon:401 missing_token; guest:403 guest_not_allowed; mentee:403 forbidden/404 mentorship_not_found; mentor:200/404 mentorship_not_found; admin:404 mentorship_not_found"), Body::None, Prep::FreshMentorship),
    with(http("POST", "/api/mentorships/{id}/{action}", "/api/mentorships/{mentorship}/end", "anon:401 missing_token; guest:403 guest_not_allowed; mentee:200/404 mentorship_not_found; mentor:200/404 mentorship_not_found; admin:404 mentorship_not_found"), Body::None, Prep::FreshMentorship),
    http("GET", "/api/users/{id}/public-key", "/api/users/{mentor}/public-key", SIGNED_IN),
    with(http("PUT", "/api/me/devices/{device}/key", "/api/me/devices/{fresh_slug}/key", "*:201; anon:401 missing_token; guest:403 guest_not_allowed"), Json(r#"{"publicKey":"BGsX0fLhLEJH+Lzm5WOkQPJ3A32BLeszoPShOUXYmMKWT+NC4v4af5uO5+tKfA+eFivOM1drMV7Oy7ZAaDe/UfU="}"#), Prep::None),
    http("DELETE", "/api/me/devices/{device}", "/api/me/devices/{fresh_slug}", "*:404 device_not_found; anon:401 missing_token; guest:403 guest_not_allowed"),
    http("GET", "/api/users/{id}/devices", "/api/users/{mentor}/devices", SIGNED_IN),
    http("GET", "/api/rooms", "/api/rooms", "*:200; anon:401 missing_token"),
    with(http("POST", "/api/rooms", "/api/rooms", "anon:401 missing_token; guest:403 guest_not_allowed; mentee:403 forbidden; *:201"), Json(r#"{"name":"Matrix","visibility":"private"}"#), Prep::None),
    http("GET", "/api/rooms/public", "/api/rooms/public", SIGNED_IN),
    with(http("POST", "/api/rooms/direct", "/api/rooms/direct", "anon:401 missing_token; guest:403 guest_not_allowed; mentee:200|201/403 messages_not_accepted; mentor:400 invalid_room/200|201; admin:200|201"), Json(r#"{"userId":"{mentor}"}"#), Prep::None),
    with(http("POST", "/api/rooms/direct", "/api/rooms/direct", "anon:401 missing_token; guest:403 guest_not_allowed; mentee:400 invalid_room/403 forbidden; mentor:200|201; admin:200|201"), Json(r#"{"userId":"{mentee}"}"#), Prep::None),
    http("GET", "/api/rooms/{id}", "/api/rooms/{room}", ROOM_READ),
    http("POST", "/api/rooms/{id}/join", "/api/rooms/{room}/join", "anon:401 missing_token; guest:403 guest_not_allowed; *:403 forbidden"),
    http("POST", "/api/rooms/{id}/guests", "/api/rooms/{room}/guests", "*:403 forbidden; guest:201/403 forbidden"),
    with(http("POST", "/api/rooms/{id}/members", "/api/rooms/{room}/members", ROOM_MODERATE), Json(r#"{"userId":"{victim}"}"#), Prep::None),
    with(http("PUT", "/api/rooms/{id}/members/{user}/mute", "/api/rooms/{room}/members/{victim}/mute", ROOM_MODERATE), Json(r#"{"minutes":0}"#), Prep::InviteVictim),
    with(http("PUT", "/api/rooms/{id}/members/{user}/role", "/api/rooms/{room}/members/{victim}/role", ROOM_MODERATE), Json(r#"{"roomRole":"member"}"#), Prep::InviteVictim),
    http("GET", "/api/rooms/{id}/messages", "/api/rooms/{room}/messages", ROOM_READ),
    with(http("POST", "/api/rooms/{id}/messages", "/api/rooms/{room}/messages", "anon:401 missing_token; guest:201/403 guest_not_allowed; mentee:201/403 not_a_member; mentor:201/403 not_a_member; admin:403 not_a_member"), Json(r#"{"body":"matrix"}"#), Prep::None),
    with(http("POST", "/api/rooms/{id}/attachments", "/api/rooms/{room}/attachments", "anon:401 missing_token; guest:201/403 guest_not_allowed; mentee:201/403 not_a_member; mentor:201/403 not_a_member; admin:403 not_a_member"), Pdf, Prep::None),
    http("GET", "/api/attachments/{id}", "/api/attachments/{attachment}", "anon:401 missing_token; guest:200/404 attachment_not_found; mentee:200/404 attachment_not_found; mentor:200/404 attachment_not_found; admin:404 attachment_not_found"),
    with(http("POST", "/api/slots", "/api/slots", MENTORS), Json(r#"{"startsAt":"{start}","endsAt":"{end}","maxParticipants":2}"#), Prep::None),
    with(http("POST", "/api/slots/recurring", "/api/slots/recurring", MENTORS), Json(r#"{"weekday":{weekday},"startTime":"10:00","endTime":"10:30","startDate":"{date}","weeks":1,"timeZone":"UTC","maxParticipants":2}"#), Prep::None),
    http("GET", "/api/slots/alumni/{alumni_id}", "/api/slots/alumni/{mentor}", "*:200"),
    http("GET", "/api/slots/my-slots", "/api/slots/my-slots", "anon:401 missing_token; guest:403 guest_not_allowed; mentee:403 forbidden; *:200"),
    http("GET", "/api/slots/my-bookings", "/api/slots/my-bookings", SIGNED_IN),
    http("GET", "/api/slots/{slot_id}/bookings", "/api/slots/{slot}/bookings", "anon:401 missing_token; guest:403 guest_not_allowed; mentee:403 forbidden; mentor:200/403 forbidden; admin:200"),
    http("GET", "/api/sessions", "/api/sessions", SIGNED_IN),
    with(http("POST", "/api/sessions", "/api/sessions", MENTORS), Json(r#"{"title":"Matrix","startsAt":"{start}","durationMinutes":30,"capacity":5}"#), Prep::None),
    http("GET", "/api/sessions/{id}", "/api/sessions/{session}", SIGNED_IN),
    http("GET", "/api/sessions/{id}/registrations", "/api/sessions/{session}/registrations", "anon:401 missing_token; guest:403 guest_not_allowed; mentee:403 forbidden; mentor:200/403 forbidden; admin:200"),
    http("GET", "/api/offerings/{id}/notes", "/api/offerings/{offering}/notes", "anon:401 missing_token; guest:403 guest_not_allowed; mentee:200/403 forbidden; mentor:200/403 forbidden; admin:403 forbidden"),
    with(http("POST", "/api/offerings/{id}/attendance", "/api/offerings/{offering}/attendance", "anon:401 missing_token; guest:403 guest_not_allowed; mentee:403 forbidden; mentor:200/403 forbidden; admin:403 forbidden"), Json(r#"{"menteeId":"{mentee}"}"#), Prep::None),
    with(http("PUT", "/api/offerings/{id}/notes", "/api/offerings/{offering}/notes", "anon:401 missing_token; guest:403 guest_not_allowed; mentee:200/403 forbidden; mentor:200/403 forbidden; admin:403 forbidden"), Json(r#"{"body":"matrix"}"#), Prep::None),
    http("GET", "/api/calendar/feed", "/api/calendar/feed", SIGNED_IN),
    http("GET", "/api/bookings/{file}", "/api/bookings/{booking}.ics", "anon:401 missing_token; guest:403 guest_not_allowed; mentee:200/404 booking_not_found; mentor:200/404 booking_not_found; admin:404 booking_not_found"),
    http("GET", "/api/notifications", "/api/notifications", SIGNED_IN),
    http("GET", "/api/notifications/unread-count", "/api/notifications/unread-count", SIGNED_IN),
    http("POST", "/api/notifications/read-all", "/api/notifications/read-all", SIGNED_IN),
    http("GET", "/api/me/notification-preferences", "/api/me/notification-preferences", SIGNED_IN),
    with(http("PUT", "/api/me/notification-preferences", "/api/me/notification-preferences", SIGNED_IN), Json(r#"{"email":{"board_reply":true}}"#), Prep::None),
    http("POST", "/api/notifications/{id}/read", "/api/notifications/999999999/read", "*:404 notification_not_found; anon:401 missing_token; guest:403 guest_not_allowed"),
    http("GET", "/api/boards/categories", "/api/boards/categories", "*:200"),
    with(http("POST", "/api/boards/categories", "/api/boards/categories", ADMINS_CREATE), Json(r#"{"slug":"{fresh_slug}","name":"Matrix","visibility":"members"}"#), Prep::None),
    with(http("PATCH", "/api/boards/categories/{id}", "/api/boards/categories/{board}", ADMINS), Json(r#"{"description":"Changed by the authz test"}"#), Prep::None),
    http("PUT", "/api/boards/categories/{id}/moderators/{user}", "/api/boards/categories/{board}/moderators/{victim}", ADMINS),
    http("DELETE", "/api/boards/categories/{id}/moderators/{user}", "/api/boards/categories/{board}/moderators/{victim}", "anon:401 missing_token; guest:403 guest_not_allowed; *:403 forbidden; admin:204"),
    with(http("PUT", "/api/boards/categories/{id}/bans/{user}", "/api/boards/categories/{board}/bans/{victim}", ADMINS), Json("{}"), Prep::None),
    http("DELETE", "/api/boards/categories/{id}/bans/{user}", "/api/boards/categories/{board}/bans/{victim}", "anon:401 missing_token; guest:403 guest_not_allowed; *:403 forbidden; admin:204"),
    http("GET", "/api/boards/threads", "/api/boards/threads", "*:200"),
    with(http("POST", "/api/boards/threads", "/api/boards/threads", BOARD_WRITE), Json(r#"{"categoryId":"{board}","title":"Matrix thread","body":"matrix"}"#), Prep::None),
    http("GET", "/api/boards/threads/{id}", "/api/boards/threads/{thread}", "*:200"),
    with(http("POST", "/api/boards/threads/{id}/replies", "/api/boards/threads/{thread}/replies", BOARD_WRITE), Json(r#"{"body":"matrix reply"}"#), Prep::None),
    with(http("POST", "/api/boards/threads/{id}/accept", "/api/boards/threads/{thread}/accept", "anon:401 missing_token; guest:403 guest_not_allowed; mentee:200/403 forbidden; mentor:403 forbidden; admin:403 forbidden"), Json(r#"{"postId":"{reply}"}"#), Prep::None),
    with(http("POST", "/api/boards/threads/{id}/moderate", "/api/boards/threads/{thread}/moderate", ADMINS), Json(r#"{"action":"unlock"}"#), Prep::None),
    with(http("PATCH", "/api/boards/posts/{id}", "/api/boards/posts/{post}", "anon:401 missing_token; guest:403 guest_not_allowed; mentee:200/403 forbidden; mentor:403 forbidden; admin:403 forbidden"), Json(r#"{"body":"edited"}"#), Prep::None),
    with(http("POST", "/api/boards/posts/{id}/vote", "/api/boards/posts/{reply}/vote", "anon:401 missing_token; guest:403 guest_not_allowed; mentee:200; mentor:403 forbidden/200; admin:200"), Json(r#"{"value":1}"#), Prep::None),
    with(http("POST", "/api/boards/posts/{id}/flag", "/api/boards/posts/{post}/flag", "anon:401 missing_token; guest:403 guest_not_allowed; *:200|201"), Json(r#"{"reason":"matrix"}"#), Prep::None),
    http("GET", "/api/boards/posts/{id}/revisions", "/api/boards/posts/{post}/revisions", "*:200"),
    with(http("POST", "/api/boards/posts/{id}/moderate", "/api/boards/posts/{post}/moderate", ADMINS), Json(r#"{"action":"unhide"}"#), Prep::None),
    http("GET", "/api/boards/flags", "/api/boards/flags", ADMINS),
    http("GET", "/api/boards/held", "/api/boards/held", ADMINS),
    with(http("POST", "/api/boards/posts/{id}/review", "/api/boards/posts/{post}/review", "anon:401 missing_token; guest:403 guest_not_allowed; *:403 forbidden; admin:409 post_not_held"), Json(r#"{"decision":"approve"}"#), Prep::None),
    http("POST", "/api/boards/flags/{id}/dismiss", "/api/boards/flags/999999999/dismiss", "anon:401 missing_token; guest:403 guest_not_allowed; *:404 flag_not_found"),
    http("GET", "/api/live/ice-servers", "/api/live/ice-servers", SIGNED_IN),
    // ---- rows that change or destroy what they name ----
    http("POST", "/api/calendar/feed/{rotate}", "/api/calendar/feed/rotate", SIGNED_IN),
    with(http("DELETE", "/api/rooms/{id}/members/{user}", "/api/rooms/{room}/members/{victim}", "anon:401 missing_token; guest:403 forbidden/403 guest_not_allowed; mentee:403 forbidden; mentor:204/403 forbidden; admin:204"), Body::None, Prep::InviteVictim),
    with(http("DELETE", "/api/rooms/{id}/messages/{seq}", "/api/rooms/{room}/messages/{seq}", "anon:401 missing_token; guest:200/403 guest_not_allowed; mentee:200/403 not_a_member; mentor:200/403 not_a_member; admin:200"), Body::None, Prep::FreshMessage),
    with(http("POST", "/api/slots/book", "/api/slots/book", "anon:401 missing_token; guest:403 guest_not_allowed; mentee:409 already_booked/201; mentor:403 forbidden; admin:403 forbidden"), Json(r#"{"slotId":"{slot}"}"#), Prep::FreshSlot),
    with(http("POST", "/api/slots/cancel", "/api/slots/cancel", "anon:401 missing_token; guest:403 guest_not_allowed; mentee:200/404 not_booked; mentor:403 forbidden; admin:403 forbidden"), Json(r#"{"slotId":"{slot}"}"#), Prep::FreshSlot),
    with(http("DELETE", "/api/slots/{slot_id}", "/api/slots/{slot}", "anon:401 missing_token; guest:403 guest_not_allowed; mentee:403 forbidden; mentor:200/403 forbidden; admin:403 forbidden"), Body::None, Prep::FreshSlot),
    with(http("POST", "/api/sessions/{id}/register", "/api/sessions/{session}/register", "anon:401 missing_token; guest:403 guest_not_allowed; mentee:409 already_booked/201; mentor:403 forbidden; admin:403 forbidden"), Body::None, Prep::FreshSession),
    with(http("POST", "/api/sessions/{id}/unregister", "/api/sessions/{session}/unregister", "anon:401 missing_token; guest:403 guest_not_allowed; mentee:200/404 not_booked; *:404 not_booked"), Body::None, Prep::FreshSession),
    with(http("POST", "/api/sessions/{id}/{action}", "/api/sessions/{session}/start", "anon:401 missing_token; guest:403 guest_not_allowed; mentee:403 forbidden; mentor:200/403 forbidden; admin:403 forbidden"), Body::None, Prep::FreshSession),
    with(http("POST", "/api/sessions/{id}/{action}", "/api/sessions/{session}/cancel", "anon:401 missing_token; guest:403 guest_not_allowed; mentee:403 forbidden; mentor:200/403 forbidden; admin:403 forbidden"), Body::None, Prep::FreshSession),
    with(http("POST", "/api/reviews/{id}/reply", "/api/reviews/{review}/reply", "anon:401 missing_token; guest:403 guest_not_allowed; mentee:403 forbidden; mentor:200/403 forbidden; admin:403 forbidden"), Json(r#"{"text":"matrix"}"#), Prep::None),
    with(http("POST", "/api/reviews/{id}/report", "/api/reviews/{review}/report", "anon:401 missing_token; guest:403 guest_not_allowed; mentee:403 forbidden/201; *:201"), Json(r#"{"reason":"matrix"}"#), Prep::None),
    with(http("PUT", "/api/admin/users/{id}/role", "/api/admin/users/{victim}/role", "anon:401 missing_token; guest:403 guest_not_allowed; *:403 forbidden; admin:200"), Json(r#"{"role":"mentee"}"#), Prep::None),
    with(http("DELETE", "/api/boards/posts/{id}", "/api/boards/posts/{post}", "anon:401 missing_token; guest:403 guest_not_allowed; mentee:204/403 forbidden; mentor:403 forbidden; admin:204"), Body::None, Prep::FreshPost),
    http("POST", "/api/auth/logout-all", "/api/auth/logout-all", "*:204; anon:401 missing_token; guest:403 guest_not_allowed"),
];

/// Commands in a room: members (the guest in its own room) ack; others are
/// not members (the guest: `forbidden` outside its room).
const WS_MEMBER: &str = "*:ack/not_a_member; guest:ack/forbidden; admin:not_a_member";
/// Live commands sent without having joined.
const WS_LIVE: &str = "*:not_in_session";

/// The WebSocket rows, keyed by the command's wire `type`. Adding a command:
/// add its line here.
#[rustfmt::skip]
const WS_ROWS: &[WsRow] = &[
    ws("ping", r#"{"type":"ping"}"#, Prep::None, "*:ack"),
    ws("subscribe", r#"{"type":"subscribe","roomId":"{room}"}"#, Prep::None, "*:ack/not_a_member; guest:ack/forbidden; admin:ack"),
    ws("unsubscribe", r#"{"type":"unsubscribe","roomId":"{room}"}"#, Prep::None, "*:ack"),
    ws("send", r#"{"type":"send","roomId":"{room}","body":"matrix"}"#, Prep::None, WS_MEMBER),
    ws("edit", r#"{"type":"edit","roomId":"{room}","seq":{seq},"body":"edited"}"#, Prep::FreshMessage, "mentee:ack/not_a_member; guest:ack/forbidden; mentor:forbidden/not_a_member; admin:not_a_member"),
    ws("delete", r#"{"type":"delete","roomId":"{room}","seq":{seq}}"#, Prep::FreshMessage, "*:ack/not_a_member; guest:ack/forbidden; admin:ack"),
    ws("typing", r#"{"type":"typing","roomId":"{room}","typing":true}"#, Prep::None, WS_MEMBER),
    ws("read", r#"{"type":"read","roomId":"{room}","seq":1}"#, Prep::None, WS_MEMBER),
    ws("history", r#"{"type":"history","roomId":"{room}"}"#, Prep::None, "*:ack/not_a_member; guest:ack/forbidden; admin:ack"),
    ws("watch_calendar", r#"{"type":"watch_calendar","mentorId":"{mentor}"}"#, Prep::None, "*:ack; guest:forbidden"),
    ws("unwatch_calendar", r#"{"type":"unwatch_calendar","mentorId":"{mentor}"}"#, Prep::None, "*:ack"),
    ws("watch_thread", r#"{"type":"watch_thread","threadId":"{thread}"}"#, Prep::None, "*:ack; guest:forbidden"),
    ws("unwatch_thread", r#"{"type":"unwatch_thread","threadId":"{thread}"}"#, Prep::None, "*:ack"),
    ws("reauth", r#"{"type":"reauth","token":"{reauth_token}"}"#, Prep::None, "*:ack/forbidden"),
    ws("session_join", r#"{"type":"session_join","sessionId":"{session}"}"#, Prep::FreshSession, "mentee:session_not_live/not_registered; mentor:ack/not_registered; admin:not_registered; guest:forbidden"),
    ws("session_leave", r#"{"type":"session_leave","sessionId":"{session}"}"#, Prep::FreshSession, "*:ack"),
    ws("session_start", r#"{"type":"session_start","sessionId":"{session}"}"#, Prep::HostJoined, "*:not_in_session; mentor:ack/not_in_session"),
    ws("session_end", r#"{"type":"session_end","sessionId":"{session}"}"#, Prep::HostJoined, "*:not_in_session; mentor:ack/not_in_session"),
    ws("rtc_publish", r#"{"type":"rtc_publish","sessionId":"{session}","sdp":"v=0"}"#, Prep::FreshSession, WS_LIVE),
    ws("rtc_subscribe", r#"{"type":"rtc_subscribe","sessionId":"{session}"}"#, Prep::FreshSession, WS_LIVE),
    ws("rtc_answer", r#"{"type":"rtc_answer","sessionId":"{session}","sdp":"v=0"}"#, Prep::FreshSession, WS_LIVE),
    ws("rtc_restart", r#"{"type":"rtc_restart","sessionId":"{session}"}"#, Prep::FreshSession, WS_LIVE),
    ws("rtc_quality", r#"{"type":"rtc_quality","sessionId":"{session}","quality":"low"}"#, Prep::FreshSession, WS_LIVE),
    ws("media_state", r#"{"type":"media_state","sessionId":"{session}","audio":true,"video":false}"#, Prep::FreshSession, WS_LIVE),
    ws("raise_hand", r#"{"type":"raise_hand","sessionId":"{session}","raised":true}"#, Prep::FreshSession, WS_LIVE),
    ws("set_role", r#"{"type":"set_role","sessionId":"{session}","userId":"{mentee}","role":"speaker"}"#, Prep::FreshSession, WS_LIVE),
    ws("mute", r#"{"type":"mute","sessionId":"{session}","userId":"{mentee}","kind":"audio"}"#, Prep::FreshSession, WS_LIVE),
    ws("remove", r#"{"type":"remove","sessionId":"{session}","userId":"{mentee}"}"#, Prep::FreshSession, WS_LIVE),
    ws("call_invite", r#"{"type":"call_invite","userId":"{victim}","video":false}"#, Prep::None, "mentee:call_not_allowed; mentor:ack; admin:ack; guest:forbidden"),
    ws("call_accept", r#"{"type":"call_accept","callId":"{call}"}"#, Prep::Ringing, "*:call_not_found; mentee:ack/call_not_found; mentor:invalid_command/call_not_found"),
    ws("call_decline", r#"{"type":"call_decline","callId":"{call}"}"#, Prep::Ringing, "*:call_not_found; mentee:ack/call_not_found; mentor:invalid_command/call_not_found"),
    ws("call_cancel", r#"{"type":"call_cancel","callId":"{call}"}"#, Prep::Ringing, "*:call_not_found; mentee:invalid_command/call_not_found; mentor:ack/call_not_found"),
    ws("call_hangup", r#"{"type":"call_hangup","callId":"{call}"}"#, Prep::Ringing, "*:call_not_found; mentee:ack/call_not_found; mentor:ack/call_not_found"),
];

// ---------------------------------------------------------------------------
// Principals, cases and expectations

#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
enum Who {
    Anon,
    Guest,
    MenteeA,
    MenteeB,
    MentorA,
    MentorB,
    Admin,
}

const EVERYONE: [Who; 7] = [
    Who::Anon,
    Who::Guest,
    Who::MenteeA,
    Who::MenteeB,
    Who::MentorA,
    Who::MentorB,
    Who::Admin,
];

impl Who {
    /// The key a spec names this principal by.
    fn key(self) -> &'static str {
        match self {
            Who::Anon => "anon",
            Who::Guest => "guest",
            Who::MenteeA | Who::MenteeB => "mentee",
            Who::MentorA | Who::MentorB => "mentor",
            Who::Admin => "admin",
        }
    }

    /// Whether this principal has an "own" case (anonymous and the admin own
    /// nothing: their one case is on world A).
    fn owns(self) -> bool {
        !matches!(self, Who::Anon | Who::Admin)
    }
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Whose {
    Own,
    Other,
}

/// One expected outcome: statuses (HTTP) and codes (empty: any success; for
/// WebSocket rows `ack` is a code of its own).
#[derive(Clone, Debug, Default)]
struct Outcome {
    statuses: Vec<u16>,
    codes: Vec<String>,
}

impl Outcome {
    fn parse(s: &str) -> Outcome {
        let mut o = Outcome::default();
        for part in s.split_whitespace() {
            for alt in part.split('|') {
                match alt.parse::<u16>() {
                    Ok(n) => o.statuses.push(n),
                    Err(_) => o.codes.push(alt.to_owned()),
                }
            }
        }
        o
    }

    fn show(&self) -> String {
        let s: Vec<String> = self.statuses.iter().map(u16::to_string).collect();
        [s.join("|"), self.codes.join("|")]
            .into_iter()
            .filter(|p| !p.is_empty())
            .collect::<Vec<_>>()
            .join(" ")
    }
}

/// A row's expectations per principal key: (own, other).
struct Spec(HashMap<String, (Outcome, Outcome)>);

impl Spec {
    fn parse(spec: &str) -> Spec {
        let mut m = HashMap::new();
        for cell in spec.split(';').map(str::trim).filter(|c| !c.is_empty()) {
            let (who, outcome) = cell.split_once(':').unwrap_or_else(|| panic!("bad spec cell {cell:?}"));
            let (own, other) = outcome.split_once('/').unwrap_or((outcome, outcome));
            m.insert(who.trim().to_owned(), (Outcome::parse(own), Outcome::parse(other)));
        }
        Spec(m)
    }

    fn expected(&self, who: Who, whose: Whose) -> &Outcome {
        let (own, other) = self
            .0
            .get(who.key())
            .or_else(|| self.0.get("*"))
            .unwrap_or_else(|| panic!("spec names neither {} nor *", who.key()));
        match whose {
            Whose::Own => own,
            Whose::Other => other,
        }
    }
}

/// The cases of a row: (principal, own/other).
fn cases(has_resource: bool) -> Vec<(Who, Whose)> {
    let mut v = Vec::new();
    for who in EVERYONE {
        if who.owns() && has_resource {
            v.push((who, Whose::Own));
        }
        v.push((who, if who.owns() { Whose::Other } else { Whose::Own }));
    }
    v
}

struct Mismatch {
    row: String,
    who: Who,
    whose: Whose,
    expected: String,
    got: String,
}

fn table(title: &str, mismatches: &[Mismatch]) -> String {
    let mut out = format!("{title}: {} mismatches\n", mismatches.len());
    let _ = writeln!(out, "{:<62} {:<8} {:<6} {:<34} got", "row", "who", "whose", "expected");
    for m in mismatches {
        let _ = writeln!(
            out,
            "{:<62} {:<8} {:<6} {:<34} {}",
            m.row,
            format!("{:?}", m.who),
            format!("{:?}", m.whose),
            m.expected,
            m.got
        );
    }
    out
}

// ---------------------------------------------------------------------------
// Fixtures

/// One world's resources (see the module doc).
#[derive(Clone)]
struct Target {
    room: String,
    mentor: String,
    mentee: String,
    slot: String,
    session: String,
    offering: String,
    booking: String,
    attachment: String,
    feed: String,
    /// The mentee's review of the mentor, of the started offering (marked
    /// attended by the mentor).
    review: String,
    /// A pending mentorship the mentee asked the mentor for.
    mentorship: String,
    /// A board thread the mentee asked in the fixture category, its
    /// question (`{post}`) and the mentor's reply to it (`{reply}`).
    thread: String,
    post: String,
    reply: String,
    /// The token of the room's member (the mentee; the guest in room G)
    /// and of its owner, to prepare fresh resources.
    member_token: String,
    owner_token: String,
    /// The world's mentee (who books and registers in fresh offerings).
    mentee_token: String,
}

struct Fixtures {
    app: TestApp,
    tokens: HashMap<Who, String>,
    emails: HashMap<Who, String>,
    phones: HashMap<Who, String>,
    a: Target,
    b: Target,
    g: Target,
    victim: Session,
    guest_id: String,
    clock: AtomicI64,
    /// The public board category every world's thread is in.
    board: String,
}

impl Fixtures {
    /// The target of a case.
    fn target(&self, who: Who, whose: Whose) -> &Target {
        match (who, whose) {
            (Who::MenteeB | Who::MentorB, Whose::Own) | (Who::MenteeA | Who::MentorA, Whose::Other) => &self.b,
            (Who::Guest, Whose::Own) => &self.g,
            _ => &self.a,
        }
    }

    /// A fresh start time, an hour apart from every other the matrix uses.
    fn next_start(&self) -> chrono::DateTime<Utc> {
        let n = self.clock.fetch_add(1, Ordering::Relaxed);
        (Utc::now() + Dur::days(3) + Dur::hours(2 * n)).with_nanosecond0()
    }

    async fn send(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Body,
        vars: &Vars<'_>,
    ) -> (u16, String) {
        let mut req = self.app.http.request(method, self.app.url(path));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        req = match body {
            Body::None => req,
            Body::Json(j) => req.header("content-type", "application/json").body(fill(j, vars)),
            Body::Pdf => req
                .header("content-type", "application/pdf")
                .header("x-file-name", "cv.pdf")
                .body(b"%PDF-1.4 matrix".to_vec()),
        };
        let res = req.send().await.expect("request");
        let status = res.status().as_u16();
        (status, res.text().await.unwrap_or_default())
    }

    async fn post(&self, path: &str, token: &str, body: Value) -> Value {
        let res = self
            .app
            .http
            .post(self.app.url(path))
            .bearer_auth(token)
            .json(&body)
            .send()
            .await
            .expect("request");
        assert!(res.status().is_success(), "fixture {path}: {}", res.status());
        res.json().await.unwrap_or(Value::Null)
    }

    /// A pending mentorship `mentee` asks `mentor` for.
    async fn mentorship(&self, mentor: &str, mentee: &str) -> String {
        let today = Utc::now().date_naive();
        self.post(
            "/api/mentorships",
            mentee,
            json!({"mentorId": mentor, "startDate": today, "endDate": today + Dur::days(30), "goals": "fixture"}),
        )
        .await["id"]
            .as_str()
            .expect("mentorship id")
            .to_owned()
    }

    async fn slot(&self, mentor: &str, mentee: &str) -> (String, String) {
        let start = self.next_start();
        let slot = self
            .post(
                "/api/slots",
                mentor,
                json!({"startsAt": start, "endsAt": start + Dur::minutes(30), "maxParticipants": 3}),
            )
            .await;
        let id = slot["id"].as_str().expect("slot id").to_owned();
        let booked = self.post("/api/slots/book", mentee, json!({"slotId": id})).await;
        (id, booked["booking"]["id"].as_str().expect("booking id").to_owned())
    }

    async fn session(&self, mentor: &str, mentee: &str) -> String {
        let start = self.next_start();
        let s = self
            .post(
                "/api/sessions",
                mentor,
                json!({"title": "Group", "startsAt": start, "durationMinutes": 30, "capacity": 5}),
            )
            .await;
        let id = s["id"].as_str().expect("session id").to_owned();
        self.post(&format!("/api/sessions/{id}/register"), mentee, json!({}))
            .await;
        id
    }

    async fn message(&self, room: &str, token: &str) -> i64 {
        let v = self
            .post(
                &format!("/api/rooms/{room}/messages"),
                token,
                json!({"body": "fixture"}),
            )
            .await;
        v["seq"].as_i64().expect("seq")
    }

    async fn attachment(&self, room: &str, token: &str) -> String {
        let (status, body) = self
            .send(
                Method::POST,
                &format!("/api/rooms/{room}/attachments"),
                Some(token),
                Body::Pdf,
                &Vars::default(),
            )
            .await;
        assert_eq!(status, 201, "fixture attachment: {body}");
        let v: Value = serde_json::from_str(&body).expect("json");
        v["id"].as_str().expect("attachment id").to_owned()
    }

    async fn feed(&self, token: &str) -> String {
        let res = self.app.get_auth("/api/calendar/feed", token).await;
        let v: Value = res.json().await.expect("json");
        let url = v["url"].as_str().expect("feed url");
        url.trim_start_matches("/calendar/").to_owned()
    }

    /// A world: a private room of `mentor` with `mentee` in it and a message
    /// of each, a slot the mentee booked, a session the mentee registered
    /// for, a started offering with the mentee booked and a note of each,
    /// an attachment and the mentee's feed.
    async fn world(&self, mentor: &Session, mentee: &Session) -> Target {
        let room = self
            .post(
                "/api/rooms",
                &mentor.access,
                json!({"name": "World", "visibility": "private"}),
            )
            .await["id"]
            .as_str()
            .expect("room id")
            .to_owned();
        self.post(
            &format!("/api/rooms/{room}/members"),
            &mentor.access,
            json!({"userId": mentee.id}),
        )
        .await;
        self.message(&room, &mentee.access).await;
        self.message(&room, &mentor.access).await;
        let attachment = self.attachment(&room, &mentor.access).await;
        let (slot, booking) = self.slot(&mentor.access, &mentee.access).await;
        let session = self.session(&mentor.access, &mentee.access).await;
        let (offering, offering_booking) = self.slot(&mentor.access, &mentee.access).await;
        let offering_id: Uuid = offering.parse().expect("uuid");
        self.app
            .db
            .execute(
                "UPDATE offerings SET starts_at = now() - interval '2 hours', ends_at = now() - interval '1 hour' \
                 WHERE id = $1",
                &[&offering_id],
            )
            .await
            .expect("offering moved into the past");
        for t in [&mentor.access, &mentee.access] {
            let res = self
                .app
                .http
                .put(self.app.url(&format!("/api/offerings/{offering}/notes")))
                .bearer_auth(t)
                .json(&json!({"body": "a note"}))
                .send()
                .await
                .expect("request");
            assert_eq!(res.status(), 200, "fixture note");
        }
        self.post(
            &format!("/api/offerings/{offering}/attendance"),
            &mentor.access,
            json!({"menteeId": mentee.id}),
        )
        .await;
        let review = self
            .post(
                "/api/reviews",
                &mentee.access,
                json!({"bookingId": offering_booking, "rating": 4, "text": "fixture"}),
            )
            .await["id"]
            .as_str()
            .expect("review id")
            .to_owned();
        let mentorship = self.mentorship(&mentor.id.to_string(), &mentee.access).await;
        // Mentors take messages only from mentees who booked them.
        let res = self
            .app
            .patch_profile(&mentor.access, &json!({"acceptsMessages": false}))
            .await;
        assert!(res.status().is_success());
        let res = self
            .app
            .http
            .put(self.app.url("/api/me/public-key"))
            .bearer_auth(&mentor.access)
            .json(&json!({"publicKey": "fixture-key"}))
            .send()
            .await
            .expect("request");
        assert!(res.status().is_success());
        let thread = self
            .post(
                "/api/boards/threads",
                &mentee.access,
                json!({"categoryId": self.board, "title": "A question", "body": "How?"}),
            )
            .await;
        let thread_id = thread["thread"]["id"].as_str().expect("thread id").to_owned();
        let post = thread["posts"]["items"][0]["id"].as_str().expect("post id").to_owned();
        let reply = self
            .post(
                &format!("/api/boards/threads/{thread_id}/replies"),
                &mentor.access,
                json!({"body": "Like this."}),
            )
            .await["id"]
            .as_str()
            .expect("reply id")
            .to_owned();
        Target {
            thread: thread_id,
            post,
            reply,
            room,
            mentor: mentor.id.to_string(),
            mentee: mentee.id.to_string(),
            slot,
            session,
            offering,
            booking,
            attachment,
            feed: self.feed(&mentee.access).await,
            review,
            mentorship,
            member_token: mentee.access.clone(),
            owner_token: mentor.access.clone(),
            mentee_token: mentee.access.clone(),
        }
    }

    async fn build() -> Fixtures {
        let app = spawn_app().await;
        let mentor_a = app.register("mentor", "Mentor A").await;
        let mentor_b = app.register("mentor", "Mentor B").await;
        let mentee_a = app.register("mentee", "Mentee A").await;
        let mentee_b = app.register("mentee", "Mentee B").await;
        let victim = app.register("mentee", "Victim").await;
        let admin = app.admin().await;
        let mut f = Fixtures {
            app,
            tokens: HashMap::new(),
            emails: HashMap::new(),
            phones: HashMap::new(),
            a: empty_target(),
            b: empty_target(),
            g: empty_target(),
            victim,
            guest_id: String::new(),
            clock: AtomicI64::new(0),
            board: String::new(),
        };
        f.board = f
            .post(
                "/api/boards/categories",
                &admin.access,
                json!({"slug": "matrix", "name": "Matrix", "visibility": "public"}),
            )
            .await["id"]
            .as_str()
            .expect("category id")
            .to_owned();
        f.a = f.world(&mentor_a, &mentee_a).await;
        f.b = f.world(&mentor_b, &mentee_b).await;
        // Room G: public, guests allowed, of mentor A; the guest is in it.
        let g_room = f
            .post(
                "/api/rooms",
                &mentor_a.access,
                json!({"name": "Open", "visibility": "public", "allowGuests": true}),
            )
            .await["id"]
            .as_str()
            .expect("room id")
            .to_owned();
        let guest = f
            .app
            .http
            .post(f.app.url(&format!("/api/rooms/{g_room}/guests")))
            .send()
            .await
            .expect("request");
        assert_eq!(guest.status(), 201);
        let guest: Value = guest.json().await.expect("json");
        let guest_token = guest["accessToken"].as_str().expect("guest token").to_owned();
        f.guest_id = guest["user"]["id"].as_str().expect("guest id").to_owned();
        f.message(&g_room, &guest_token).await;
        let g_attachment = f.attachment(&g_room, &mentor_a.access).await;
        f.g = Target {
            room: g_room,
            attachment: g_attachment,
            member_token: guest_token.clone(),
            ..f.a.clone()
        };
        for (i, who, s) in [
            (Who::MenteeA, &mentee_a),
            (Who::MenteeB, &mentee_b),
            (Who::MentorA, &mentor_a),
            (Who::MentorB, &mentor_b),
            (Who::Admin, &admin),
        ]
        .into_iter()
        .enumerate()
        .map(|(i, (who, s))| (i, who, s))
        {
            f.tokens.insert(who, s.access.clone());
            f.emails.insert(who, s.email.clone());
            let res = f
                .app
                .patch_profile(&s.access, &json!({"phone": format!("+49 30 5550{i:03}")}))
                .await;
            assert!(res.status().is_success());
            let v: Value = res.json().await.expect("json");
            f.phones.insert(who, v["phone"].as_str().expect("phone").to_owned());
        }
        f.tokens.insert(Who::Guest, guest_token);
        f
    }

    /// Runs a row's preparation for a case; returns the variables it sets.
    async fn prepare(&self, prep: Prep, t: &Target, vars: &mut Vars<'_>) {
        match prep {
            Prep::None => {}
            Prep::InviteVictim => {
                self.post(
                    &format!("/api/rooms/{}/members", t.room),
                    &t.owner_token,
                    json!({"userId": self.victim.id}),
                )
                .await;
            }
            Prep::FreshMessage => {
                let seq = self.message(&t.room, &t.member_token).await;
                vars.seq = Some(seq);
            }
            Prep::FreshSlot => {
                let (slot, _) = self.slot(&t.owner_token, &t.mentee_token).await;
                vars.slot = Some(slot);
            }
            Prep::Ringing => {}
            Prep::FreshMentorship => {
                let (mentor, mentee): (Uuid, Uuid) = (t.mentor.parse().expect("uuid"), t.mentee.parse().expect("uuid"));
                self.app
                    .db
                    .execute(
                        "UPDATE mentorships SET status = 'ended', ended_at = now() \
                         WHERE mentor_id = $1 AND mentee_id = $2 AND status IN ('pending', 'accepted')",
                        &[&mentor, &mentee],
                    )
                    .await
                    .expect("open mentorships ended");
                vars.mentorship = Some(self.mentorship(&t.mentor, &t.mentee_token).await);
            }
            Prep::FreshPost => {
                let v = self
                    .post(
                        &format!("/api/boards/threads/{}/replies", t.thread),
                        &t.mentee_token,
                        json!({"body": "A fresh reply"}),
                    )
                    .await;
                vars.post = Some(v["id"].as_str().expect("post id").to_owned());
            }
            Prep::FreshSession | Prep::HostJoined => {
                vars.session = Some(self.session(&t.owner_token, &t.mentee_token).await);
            }
        }
    }

    /// The variables of a case (before its preparation).
    fn vars<'a>(&'a self, who: Who, whose: Whose) -> Vars<'a> {
        let t = self.target(who, whose);
        let start = self.next_start();
        let date = start.date_naive() + Dur::days(400);
        Vars {
            target: Some(t),
            victim: self.victim.id.to_string(),
            victim_email: self.victim.email.clone(),
            fresh_email: unique_email("matrix"),
            fresh_slug: format!("m-{}", &Uuid::new_v4().simple().to_string()[..12]),
            board: self.board.clone(),
            start: start.to_rfc3339(),
            end: (start + Dur::minutes(30)).to_rfc3339(),
            date: date.to_string(),
            today: Utc::now().date_naive().to_string(),
            weekday: date.weekday().number_from_monday().to_string(),
            reauth_token: match whose {
                Whose::Own => self.tokens.get(&who).cloned().unwrap_or_default(),
                Whose::Other => self.tokens.get(&other_of(who)).cloned().unwrap_or_default(),
            },
            ..Vars::default()
        }
    }

    /// Whether a body leaks a fixture user's email or phone to someone else.
    fn leaked(&self, who: Who, body: &str) -> Option<String> {
        let email = self.emails.iter().map(|(w, e)| (w, e, "email"));
        let phone = self.phones.iter().map(|(w, p)| (w, p, "phone"));
        email
            .chain(phone)
            .find(|(w, v, _)| **w != who && body.contains(v.as_str()))
            .map(|(w, _, what)| format!("{w:?}'s {what}"))
    }
}

fn other_of(who: Who) -> Who {
    match who {
        Who::MenteeA => Who::MenteeB,
        Who::MenteeB => Who::MenteeA,
        Who::MentorA => Who::MentorB,
        Who::MentorB => Who::MentorA,
        _ => Who::MentorA,
    }
}

fn empty_target() -> Target {
    Target {
        room: String::new(),
        mentor: String::new(),
        mentee: String::new(),
        slot: String::new(),
        session: String::new(),
        offering: String::new(),
        booking: String::new(),
        attachment: String::new(),
        feed: String::new(),
        review: String::new(),
        mentorship: String::new(),
        thread: String::new(),
        post: String::new(),
        reply: String::new(),
        member_token: String::new(),
        owner_token: String::new(),
        mentee_token: String::new(),
    }
}

trait Second {
    fn with_nanosecond0(self) -> Self;
}

impl Second for chrono::DateTime<Utc> {
    fn with_nanosecond0(self) -> Self {
        use chrono::Timelike;
        self.with_nanosecond(0).unwrap_or(self)
    }
}

use uuid::Uuid;

#[derive(Default)]
struct Vars<'a> {
    target: Option<&'a Target>,
    seq: Option<i64>,
    slot: Option<String>,
    session: Option<String>,
    mentorship: Option<String>,
    victim: String,
    victim_email: String,
    fresh_email: String,
    start: String,
    end: String,
    date: String,
    today: String,
    weekday: String,
    reauth_token: String,
    call: Option<String>,
    post: Option<String>,
    fresh_slug: String,
    board: String,
}

/// A path, body or frame with its `{placeholders}` filled in.
fn fill(template: &str, v: &Vars<'_>) -> String {
    let mut s = template.to_owned();
    if let Some(t) = v.target {
        let seq = v.seq.unwrap_or(1).to_string();
        for (k, val) in [
            ("{room}", t.room.as_str()),
            ("{mentor}", &t.mentor),
            ("{mentee}", &t.mentee),
            ("{slot}", v.slot.as_deref().unwrap_or(&t.slot)),
            ("{session}", v.session.as_deref().unwrap_or(&t.session)),
            ("{offering}", &t.offering),
            ("{booking}", &t.booking),
            ("{review}", &t.review),
            ("{mentorship}", v.mentorship.as_deref().unwrap_or(&t.mentorship)),
            ("{attachment}", &t.attachment),
            ("{feed}", &t.feed),
            ("{thread}", &t.thread),
            ("{post}", v.post.as_deref().unwrap_or(&t.post)),
            ("{reply}", &t.reply),
            ("{seq}", &seq),
        ] {
            s = s.replace(k, val);
        }
    }
    for (k, val) in [
        ("{victim}", v.victim.as_str()),
        ("{victim_email}", &v.victim_email),
        ("{fresh_email}", &v.fresh_email),
        ("{start}", &v.start),
        ("{end}", &v.end),
        ("{date}", &v.date),
        ("{today}", &v.today),
        ("{weekday}", &v.weekday),
        ("{reauth_token}", &v.reauth_token),
        ("{fresh_slug}", &v.fresh_slug),
        ("{board}", &v.board),
        (
            "{call}",
            v.call.as_deref().unwrap_or("00000000-0000-4000-8000-000000000000"),
        ),
    ] {
        s = s.replace(k, val);
    }
    assert!(!s.contains('{') || s.starts_with('{'), "unfilled placeholder in {s}");
    s
}

/// Whether a request template names a resource (its own/other cases differ).
fn names_resource(template: &str) -> bool {
    [
        "{room}",
        "{call}",
        "{mentor}",
        "{mentee}",
        "{slot}",
        "{session}",
        "{offering}",
        "{booking}",
        "{review}",
        "{mentorship}",
        "{attachment}",
        "{feed}",
        "{thread}",
        "{post}",
        "{reply}",
        "{seq}",
        "{reauth_token}",
    ]
    .iter()
    .any(|p| template.contains(p))
}

// ---------------------------------------------------------------------------
// The tests

#[test]
fn every_route_and_command_has_rows() {
    let mounted: BTreeSet<(String, String)> = lyceum::routes::ROUTES
        .iter()
        .map(|(m, p)| ((*m).to_owned(), (*p).to_owned()))
        .collect();
    assert_eq!(mounted.len(), lyceum::routes::ROUTES.len(), "a route is mounted twice");
    let rows: BTreeSet<(String, String)> = HTTP_ROWS
        .iter()
        .map(|r| (r.method.to_owned(), r.route.to_owned()))
        .collect();
    let missing: Vec<_> = mounted.difference(&rows).collect();
    let unknown: Vec<_> = rows.difference(&mounted).collect();
    assert!(
        missing.is_empty() && unknown.is_empty(),
        "routes without rows in tests/api/authz.rs: {missing:?}; rows for routes that are not mounted: {unknown:?}"
    );
    let types: BTreeSet<&str> = Command::TYPES.iter().copied().collect();
    let ws_rows: BTreeSet<&str> = WS_ROWS.iter().map(|r| r.command).collect();
    let missing: Vec<_> = types.difference(&ws_rows).collect();
    let unknown: Vec<_> = ws_rows.difference(&types).collect();
    assert!(
        missing.is_empty() && unknown.is_empty(),
        "commands without rows: {missing:?}; rows for commands that do not exist: {unknown:?}"
    );
    // Every spec names an outcome for every principal (anonymous has no
    // WebSocket session: its one case is the refused upgrade).
    for (spec, anon) in HTTP_ROWS
        .iter()
        .map(|r| (r.spec, true))
        .chain(WS_ROWS.iter().map(|r| (r.spec, false)))
    {
        let s = Spec::parse(spec);
        for who in EVERYONE.into_iter().filter(|w| anon || *w != Who::Anon) {
            s.expected(who, Whose::Own);
        }
    }
}

#[actix_web::test]
async fn the_authorisation_matrix_holds() {
    let mut f = Fixtures::build().await;
    let mut http_mismatches = Vec::new();
    let mut leaks = Vec::new();
    let mut count = 0;
    for row in HTTP_ROWS {
        let spec = Spec::parse(row.spec);
        let has_resource = names_resource(row.path)
            || matches!(row.body, Body::Json(b) if names_resource(b))
            || row.prep != Prep::None;
        for (who, whose) in cases(has_resource) {
            let mut vars = f.vars(who, whose);
            let t = f.target(who, whose);
            f.prepare(row.prep, t, &mut vars).await;
            let path = fill(row.path, &vars);
            let method = Method::from_bytes(row.method.as_bytes()).expect("method");
            let (status, body) = f
                .send(method, &path, f.tokens.get(&who).map(String::as_str), row.body, &vars)
                .await;
            count += 1;
            let code = serde_json::from_str::<Value>(&body)
                .ok()
                .and_then(|v| v["error"].as_str().map(str::to_owned));
            let want = spec.expected(who, whose);
            let status_ok = want.statuses.contains(&status);
            let code_ok = if status >= 400 {
                code.as_ref().is_some_and(|c| want.codes.contains(c))
            } else {
                want.codes.is_empty()
            };
            if !(status_ok && code_ok) {
                http_mismatches.push(Mismatch {
                    row: format!("{} {}", row.method, path_label(row)),
                    who,
                    whose,
                    expected: want.show(),
                    got: format!("{status} {}", code.unwrap_or_default()),
                });
            }
            if let Some(l) = f.leaked(who, &body) {
                leaks.push(format!("{} {} as {who:?} ({whose:?}): {l}", row.method, row.path));
            }
        }
    }

    // WebSocket: anonymous cannot open a session at all.
    let anon = try_connect(&f.app, None, "").await.err();
    let mut ws_mismatches = Vec::new();
    if anon != Some(401) {
        ws_mismatches.push(Mismatch {
            row: "upgrade".to_owned(),
            who: Who::Anon,
            whose: Whose::Own,
            expected: "401".to_owned(),
            got: format!("{anon:?}"),
        });
    }
    // The last HTTP rows sign everyone out everywhere (which revokes their
    // access tokens at once): the WebSocket rows run on fresh sign-ins.
    let emails: Vec<(Who, String)> = f.emails.iter().map(|(w, e)| (*w, e.clone())).collect();
    for (who, email) in emails {
        if who != Who::Guest && who != Who::Anon {
            let s = f.app.login(&email).await;
            if let Some(old) = f.tokens.insert(who, s.access.clone()) {
                for t in [&mut f.a, &mut f.b, &mut f.g] {
                    for tok in [&mut t.member_token, &mut t.owner_token, &mut t.mentee_token] {
                        if *tok == old {
                            tok.clone_from(&s.access);
                        }
                    }
                }
            }
        }
    }
    let mut sockets = HashMap::new();
    for who in EVERYONE.into_iter().filter(|w| *w != Who::Anon) {
        sockets.insert(who, Ws::connect(&f.app, &f.tokens[&who]).await);
    }
    for row in WS_ROWS {
        let spec = Spec::parse(row.spec);
        let has_resource = names_resource(row.frame) || row.prep != Prep::None;
        for (who, whose) in cases(has_resource).into_iter().filter(|(w, _)| *w != Who::Anon) {
            let mut vars = f.vars(who, whose);
            let t = f.target(who, whose);
            f.prepare(row.prep, t, &mut vars).await;
            let host = EVERYONE
                .into_iter()
                .find(|w| f.tokens.get(w) == Some(&t.owner_token))
                .expect("the target's mentor");
            if row.prep == Prep::HostJoined {
                let session = vars.session.clone().expect("a fresh session");
                let ws = sockets.get_mut(&host).expect("socket");
                ws.ok(json!({"type": "session_join", "sessionId": session})).await;
            }
            if row.prep == Prep::Ringing {
                let ws = sockets.get_mut(&host).expect("socket");
                let ack = ws
                    .ok(json!({"type": "call_invite", "userId": t.mentee, "video": false}))
                    .await;
                vars.call = Some(ack["callId"].as_str().expect("call id").to_owned());
            }
            let frame: Value = serde_json::from_str(&fill(row.frame, &vars)).expect("frame template is JSON");
            let ws = sockets.get_mut(&who).expect("socket");
            let answer = ws.cmd(frame).await;
            count += 1;
            // A call the case placed ends with it (a party in a call is busy).
            if let (Some(call), true) = (answer["callId"].as_str(), answer["type"] == "ack") {
                let call = call.to_owned();
                ws.cmd(json!({"type": "call_hangup", "callId": call})).await;
            }
            if let Some(call) = &vars.call {
                let ws = sockets.get_mut(&host).expect("socket");
                ws.cmd(json!({"type": "call_hangup", "callId": call})).await;
            }
            let got = if answer["type"] == "ack" {
                "ack".to_owned()
            } else {
                answer["code"].as_str().unwrap_or("?").to_owned()
            };
            let want = spec.expected(who, whose);
            if !want.codes.contains(&got) {
                ws_mismatches.push(Mismatch {
                    row: row.command.to_owned(),
                    who,
                    whose,
                    expected: want.show(),
                    got,
                });
            }
            if let Some(l) = f.leaked(who, &answer.to_string()) {
                leaks.push(format!("{} as {who:?} ({whose:?}): {l}", row.command));
            }
        }
    }
    // Last, as it ends the guest's fixture: a guest may leave its room
    // (`DELETE …/members/{its own id}`, docs/api.md).
    let (status, _) = f
        .send(
            Method::DELETE,
            &format!("/api/rooms/{}/members/{}", f.g.room, f.guest_id),
            Some(&f.tokens[&Who::Guest]),
            Body::None,
            &Vars::default(),
        )
        .await;
    count += 1;
    if status != 204 {
        http_mismatches.push(Mismatch {
            row: "DELETE /api/rooms/{room}/members/{itself} (leave)".to_owned(),
            who: Who::Guest,
            whose: Whose::Own,
            expected: "204".to_owned(),
            got: status.to_string(),
        });
    }
    eprintln!("authorisation matrix: {count} cases");
    let mut report = String::new();
    if !http_mismatches.is_empty() {
        report += &table("HTTP", &http_mismatches);
    }
    if !ws_mismatches.is_empty() {
        report += &table("WebSocket", &ws_mismatches);
    }
    if !leaks.is_empty() {
        report += &format!("emails or phones leaked:\n{}\n", leaks.join("\n"));
    }
    assert!(report.is_empty(), "\n{report}");
}

fn path_label(row: &HttpRow) -> &'static str {
    row.path
}
