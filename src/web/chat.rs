//! Chat in the browser (issue 15): the viewer's conversations (`/chat`) and
//! one conversation (`/chat/{room_id}`), rendered on the server from the
//! API's own handlers (`GET /api/rooms`, `GET /api/rooms/{id}`, history),
//! then live over the WebSocket (`web/assets/chat.js`). Forms for what is
//! not live (join, leave, invite, mute, remove, create a room, open a direct
//! conversation from a person's page) post here with CSRF and go through the
//! API's handlers. Attachments are served to the page's sign-in through
//! `/chat/files/{id}` (the API's download, with the page cookie).

use std::collections::{HashMap, HashSet};

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use lyceum_actors::{Role, RoomId, UserId};
use lyceum_protocol::{AttachmentId, ErrorCode};
use maud::{html, Markup, PreEscaped};
use serde::Deserialize;
use serde_json::{json, Value};

use super::auth_pages::{see_other, to_sign_in};
use super::bridge::{self, s};
use super::layout::{csrf_field, notice, page, render, Page};
use super::session::Viewer;
use crate::auth::AnyUser;
use crate::error::ApiError;
use crate::routes::chat::{attachments, rooms};
use crate::state::AppState;

/// Messages a conversation page shows before "Load earlier messages".
pub const PAGE_MESSAGES: i64 = 50;

/// "12 KB", "3.4 MB".
fn size_words(bytes: i64) -> String {
    if bytes >= 1024 * 1024 {
        let mb = bytes as f64 / (1024.0 * 1024.0);
        if mb.fract() < 0.05 {
            format!("{mb:.0} MB")
        } else {
            format!("{mb:.1} MB")
        }
    } else if bytes >= 1024 {
        format!("{} KB", (bytes + 512) / 1024)
    } else {
        format!("{bytes} bytes")
    }
}

/// A content type as people say it.
fn type_words(t: &str) -> &str {
    match t {
        "image/png" => "PNG",
        "image/jpeg" => "JPEG",
        "image/gif" => "GIF",
        "image/webp" => "WebP",
        "application/pdf" => "PDF",
        "text/plain" => "plain text",
        other => other,
    }
}

/// What may be attached, in words: "Images (PNG, JPEG), PDF or plain text
/// files, up to 10 MB each."
pub fn limits_words(state: &AppState) -> String {
    let limits = &state.realtime.services.limits;
    let images: Vec<&str> = limits
        .attachment_types
        .iter()
        .filter(|t| t.starts_with("image/"))
        .map(|t| type_words(t))
        .collect();
    let mut kinds: Vec<String> = Vec::new();
    if !images.is_empty() {
        kinds.push(format!("images ({})", images.join(", ")));
    }
    for t in limits.attachment_types.iter().filter(|t| !t.starts_with("image/")) {
        kinds.push(format!("{} files", type_words(t)));
    }
    let list = match kinds.len() {
        0 => "no files".to_owned(),
        1 => kinds[0].clone(),
        n => format!("{} or {}", kinds[..n - 1].join(", "), kinds[n - 1]),
    };
    format!(
        "You can attach {list}, up to {} each.",
        size_words(limits.max_attachment_bytes as i64)
    )
}

/// The text shown for a room's last message in the list.
fn last_text(last: &Value, me: &str) -> String {
    if last.is_null() {
        return "No messages yet".to_owned();
    }
    let text = if !last["ciphertext"].is_null() && last["body"].is_null() {
        "Encrypted message".to_owned()
    } else {
        let b = s(last, "body");
        if b.is_empty() {
            "Attachment".to_owned()
        } else if b.chars().count() > 80 {
            format!("{}…", b.chars().take(80).collect::<String>())
        } else {
            b.to_owned()
        }
    };
    if s(last, "senderId") == me {
        format!("You: {text}")
    } else {
        text
    }
}

/// "Online", or "Last seen <time>" (a `<time>` the page shows in the
/// reader's zone), or "Not seen yet".
fn presence(online: bool, last_seen: &Value) -> Markup {
    html! {
        @if online {
            span class="presence online" data-presence="online" { "Online" }
        } @else if let Some(t) = last_seen.as_str() {
            span class="presence" data-presence="offline" { "Last seen " time datetime=(t) data-local { (t.get(..16).unwrap_or(t).replace('T', " ")) " UTC" } }
        } @else {
            span class="presence" data-presence="offline" { "Not seen yet" }
        }
    }
}

#[derive(Deserialize, Default)]
pub struct ListQuery {
    done: Option<String>,
    error: Option<String>,
}

/// `/chat`: the viewer's conversations (newest activity first) with unread
/// counts, the last message and the other person's presence; public group
/// rooms to join; for mentors and admins, a form to start a group room.
pub async fn list_page(
    state: web::Data<AppState>,
    viewer: Viewer,
    q: web::Query<ListQuery>,
) -> Result<HttpResponse, ApiError> {
    let Some(user) = &viewer.user else {
        return Ok(to_sign_in("/chat"));
    };
    let mine = bridge::json_of(rooms::list_mine(state.clone(), AnyUser(user.auth)).await).await?;
    let items = mine["items"].as_array().cloned().unwrap_or_default();
    let public = if user.auth.role == Role::Guest {
        Value::Null
    } else {
        bridge::json_of(rooms::list_public(state.clone(), user.auth).await).await?
    };
    let joined: HashSet<&str> = items.iter().map(|r| s(r, "id")).collect();
    let open: Vec<&Value> = public["items"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|r| !joined.contains(s(r, "id")))
        .collect();
    let me = user.id().to_string();
    let may_create = matches!(user.auth.role, Role::Mentor | Role::Admin);
    let body = html! {
        h1 { "Messages" }
        @match q.done.as_deref() {
            Some("left") => { (notice("ok", "You left the room.")) }
            _ => {}
        }
        @if let Some(e) = &q.error { (notice("error", e)) }
        section aria-labelledby="conversations-h" {
            h2 id="conversations-h" { "Your conversations" }
            @if items.is_empty() {
                p { "No conversations yet. Open one with “Message” on a mentor's page, or join a group room below." }
            }
            ul class="conversations" id="conversations" data-me=(me) {
                @for r in &items {
                    @let direct = s(r, "kind") == "direct";
                    @let name = if direct { s(&r["peer"], "displayName") } else { s(r, "name") };
                    @let unread = r["unread"].as_i64().unwrap_or(0);
                    li data-room=(s(r, "id")) data-peer=[direct.then(|| s(&r["peer"], "userId"))] {
                        a href=(format!("/chat/{}", s(r, "id"))) class="conversation" {
                            span class="name" { (name) }
                            @if unread > 0 {
                                span class="badge unread" data-unread=(unread) { (unread) " unread" }
                            }
                        }
                        @if direct {
                            p class="meta" { (presence(r["peer"]["online"].as_bool() == Some(true), &r["peer"]["lastSeen"])) }
                        } @else {
                            p class="meta" { (if s(r, "visibility") == "public" { "Public group room" } else { "Private group room" }) }
                        }
                        p class="last" { (last_text(&r["lastMessage"], &me)) }
                    }
                }
            }
        }
        @if !open.is_empty() {
            section aria-labelledby="public-h" {
                h2 id="public-h" { "Public group rooms" }
                ul class="conversations" id="public-rooms" {
                    @for r in &open {
                        @let name = s(r, "name");
                        li {
                            span class="name" { (name) }
                            p class="meta" { (r["memberCount"].as_i64().unwrap_or(0)) " members" }
                            form method="post" action=(format!("/chat/{}", s(r, "id"))) class="inline" {
                                (csrf_field(&viewer))
                                input type="hidden" name="action" value="join";
                                button type="submit" { "Join " (name) }
                            }
                        }
                    }
                }
            }
        }
        @if may_create {
            section aria-labelledby="create-h" {
                h2 id="create-h" { "Start a group room" }
                form method="post" action="/chat" class="stack" {
                    (csrf_field(&viewer))
                    label for="room-name" { "Name" }
                    input id="room-name" name="name" required maxlength="80";
                    fieldset {
                        legend { "Who may join" }
                        label class="choice" { input type="radio" name="visibility" value="public" checked; " Anyone signed in (public)" }
                        label class="choice" { input type="radio" name="visibility" value="private"; " Only people I invite (private)" }
                    }
                    label class="choice" { input type="checkbox" name="allowGuests" value="true"; " Let guests join without an account (public rooms only)" }
                    button type="submit" { "Start the room" }
                }
            }
        }
    };
    let pg = Page {
        title: "Messages",
        current: Some("/chat"),
        scripts: &["chat-list.js"],
        ..Default::default()
    };
    Ok(render(&state, &viewer, StatusCode::OK, page(&viewer, pg, body)))
}

#[derive(Deserialize)]
pub struct CreateForm {
    csrf: Option<String>,
    name: String,
    visibility: Option<String>,
    #[serde(rename = "allowGuests")]
    allow_guests: Option<String>,
}

/// `POST /chat`: a group room through `POST /api/rooms`, then its page.
pub async fn create(
    state: web::Data<AppState>,
    req: HttpRequest,
    viewer: Viewer,
    form: web::Form<CreateForm>,
) -> Result<HttpResponse, ApiError> {
    let Some(user) = &viewer.user else {
        return Ok(to_sign_in("/chat"));
    };
    let f = form.into_inner();
    viewer.check_csrf(&req, f.csrf.as_deref())?;
    let visibility = f.visibility.unwrap_or_else(|| "public".to_owned());
    let allow_guests = f.allow_guests.as_deref() == Some("true");
    let res = match bridge::body(json!({"name": f.name, "visibility": visibility, "allowGuests": allow_guests})) {
        Ok(b) => bridge::json_of(rooms::create(state.clone(), user.auth, b).await).await,
        Err(e) => Err(e),
    };
    Ok(match res {
        Ok(v) => see_other(&format!("/chat/{}", s(&v, "id"))),
        Err(e) => bridge::back_to("/chat", Err(e)),
    })
}

#[derive(Deserialize)]
pub struct DirectForm {
    csrf: Option<String>,
    #[serde(rename = "userId")]
    user_id: String,
    /// Where to come back with an error (a path on this site).
    back: Option<String>,
    /// "1": the pair's end-to-end encrypted conversation.
    e2ee: Option<String>,
}

/// Only a path on this site (no scheme, no `//host`).
fn local_path(p: Option<&str>, default: &str) -> String {
    match p {
        Some(p) if p.starts_with('/') && !p.starts_with("//") && !p.contains('\\') => p.to_owned(),
        _ => default.to_owned(),
    }
}

/// `POST /chat/direct`: "Message <name>" on a person's page. Opens or
/// finds the direct conversation through `POST /api/rooms/direct` (the
/// server's rules), then goes there; a refusal goes back in words.
pub async fn open_direct(
    state: web::Data<AppState>,
    req: HttpRequest,
    viewer: Viewer,
    form: web::Form<DirectForm>,
) -> Result<HttpResponse, ApiError> {
    let f = form.into_inner();
    let back = local_path(f.back.as_deref(), "/chat");
    let Some(user) = &viewer.user else {
        return Ok(to_sign_in(&back));
    };
    viewer.check_csrf(&req, f.csrf.as_deref())?;
    let e2ee = f.e2ee.as_deref() == Some("1");
    let res = match bridge::body(json!({"userId": f.user_id, "e2ee": e2ee})) {
        Ok(b) => bridge::json_of(rooms::open_direct(state.clone(), user.auth, b).await).await,
        Err(e) => Err(e),
    };
    Ok(match res {
        Ok(v) => see_other(&format!("/chat/{}", s(&v, "id"))),
        Err(e) => bridge::back_to(&back, Err(e)),
    })
}

/// `GET /chat/files/{id}`: an attachment for the page's sign-in (the API's
/// download: members of its room only; anyone else a 404 page).
pub async fn file(
    state: web::Data<AppState>,
    viewer: Viewer,
    path: web::Path<AttachmentId>,
) -> Result<HttpResponse, ApiError> {
    let id = path.into_inner();
    let Some(user) = &viewer.user else {
        return Ok(to_sign_in(&format!("/chat/files/{id}")));
    };
    match attachments::download(state.clone(), AnyUser(user.auth), web::Path::from(id)).await {
        Ok(res) => Ok(res),
        Err(e) if e.code() == ErrorCode::AttachmentNotFound => Ok(super::mentors::not_found(&state, &viewer)),
        Err(e) => Err(e),
    }
}

#[derive(Deserialize, Default)]
pub struct RoomQuery {
    done: Option<String>,
    error: Option<String>,
}

/// One message as the page shows it (chat.js renders live ones the same
/// way: keep the two in step).
fn message_item(m: &Value, me: &str, can_moderate: bool, is_member: bool) -> Markup {
    let seq = m["seq"].as_i64().unwrap_or(0);
    let mine = s(m, "senderId") == me;
    let deleted = !m["deletedAt"].is_null();
    let encrypted = !m["ciphertext"].is_null() && m["body"].is_null();
    let created = s(m, "createdAt");
    let sender = if s(m, "senderName").is_empty() {
        "Someone"
    } else {
        s(m, "senderName")
    };
    html! {
        li id=(format!("m-{seq}")) class=(if mine { "msg mine" } else { "msg" }) data-seq=(seq) data-sender=(s(m, "senderId"))
            data-client-msg-id=(s(m, "clientMsgId")) data-deleted=[deleted.then_some("true")] {
            p class="from" {
                strong { (if mine { "You" } else { sender }) }
                " " time datetime=(created) data-local="short" { (created.get(11..16).unwrap_or("")) }
                @if !m["editedAt"].is_null() && !deleted { " " span class="edited" { "(edited)" } }
            }
            @if deleted {
                p class="body deleted" { "This message was deleted." }
            } @else {
                @if encrypted {
                    p class="body encrypted" data-ciphertext=(s(m, "ciphertext")) { "Encrypted message" }
                } @else if !s(m, "body").is_empty() {
                    p class="body" { (s(m, "body")) }
                }
                @for a in m["attachments"].as_array().into_iter().flatten() { (attachment(a)) }
                @if is_member && (mine || can_moderate) {
                    div class="msg-actions" {
                        @if mine && !encrypted { button type="button" class="link" data-action="edit" { "Edit" } }
                        button type="button" class="link" data-action="delete" { "Delete" }
                    }
                }
            }
        }
    }
}

/// An attachment: an image previewed, another file as a link, with its
/// type and size in words.
fn attachment(a: &Value) -> Markup {
    let id = s(a, "id");
    let url = format!("/chat/files/{id}");
    let name = s(a, "fileName");
    let ctype = s(a, "contentType");
    let what = format!("{}, {}", type_words(ctype), size_words(a["size"].as_i64().unwrap_or(0)));
    html! {
        @if ctype.starts_with("image/") {
            figure class="attachment image" {
                a href=(url) { img src=(url) alt=(format!("Image: {name}")) loading="lazy"; }
                figcaption { (name) " (" (what) ")" }
            }
        } @else {
            p class="attachment file" { a href=(url) download=(name) { (name) } " (" (what) ")" }
        }
    }
}

/// `/chat/{room_id}`: one conversation.
pub async fn room_page(
    state: web::Data<AppState>,
    viewer: Viewer,
    path: web::Path<RoomId>,
    q: web::Query<RoomQuery>,
) -> Result<HttpResponse, ApiError> {
    let room_id = path.into_inner();
    let here = format!("/chat/{room_id}");
    let Some(user) = &viewer.user else {
        return Ok(to_sign_in(&here));
    };
    let room = match bridge::json_of(rooms::get(state.clone(), AnyUser(user.auth), web::Path::from(room_id)).await)
        .await
    {
        Ok(r) => r,
        Err(e) if matches!(e.code(), ErrorCode::RoomNotFound) => return Ok(super::mentors::not_found(&state, &viewer)),
        Err(e)
            if matches!(
                e.code(),
                ErrorCode::NotAMember | ErrorCode::Forbidden | ErrorCode::GuestNotAllowed
            ) =>
        {
            let body = html! {
                h1 { "Not your conversation" }
                (notice("error", "You are not a member of this conversation, so you cannot read it."))
                p { a href="/chat" { "Back to your messages" } }
            };
            let pg = Page {
                title: "Not your conversation",
                current: Some("/chat"),
                ..Default::default()
            };
            return Ok(render(&state, &viewer, StatusCode::FORBIDDEN, page(&viewer, pg, body)));
        }
        Err(e) => return Err(e),
    };
    let history = bridge::json_of(
        rooms::history(
            state.clone(),
            AnyUser(user.auth),
            web::Path::from(room_id),
            bridge::query(json!({"limit": PAGE_MESSAGES}))?,
        )
        .await,
    )
    .await?;
    let me = user.id().to_string();
    let members = room["members"].as_array().cloned().unwrap_or_default();
    let mine = members.iter().find(|m| s(m, "userId") == me);
    let is_member = mine.is_some();
    let my_room_role = mine.map(|m| s(m, "roomRole")).unwrap_or("");
    let direct = s(&room, "kind") == "direct";
    let is_admin = user.auth.role == Role::Admin;
    let can_moderate = !direct && (is_admin || (is_member && my_room_role != "member"));
    let peer = if direct {
        members.iter().find(|m| s(m, "userId") != me)
    } else {
        None
    };
    let title = match peer {
        Some(p) => s(p, "displayName").to_owned(),
        None => s(&room, "name").to_owned(),
    };
    let e2ee = room["e2ee"].as_bool() == Some(true);
    let events = history["items"].as_array().cloned().unwrap_or_default();
    let first_seq = history["firstSeq"].as_i64().unwrap_or(0);
    let last_seq = history["lastSeq"].as_i64().unwrap_or(0);
    let shown: Vec<&Value> = events.iter().filter(|m| s(m, "kind") == "message").collect();
    let names: HashMap<String, Value> = members
        .iter()
        .map(|m| {
            (
                s(m, "userId").to_owned(),
                json!({"name": s(m, "displayName"), "lastReadSeq": m["lastReadSeq"], "roomRole": s(m, "roomRole")}),
            )
        })
        .collect();
    let limits = &state.realtime.services.limits;
    let data = json!({
        "roomId": room_id, "me": me, "kind": s(&room, "kind"), "name": title, "e2ee": e2ee,
        "lastSeq": last_seq, "firstSeq": first_seq, "member": is_member, "canModerate": can_moderate,
        "myLastRead": mine.map(|m| m["lastReadSeq"].clone()).unwrap_or(json!(0)),
        "members": names, "maxBytes": limits.max_attachment_bytes, "types": limits.attachment_types,
        "maxMessageBytes": limits.max_message_bytes,
        "peer": peer.map(|p| s(p, "userId")),
    });
    // The invite list: people the viewer has a direct conversation with who
    // are not in this room yet (names, never ids to type).
    let contacts: Vec<(String, String)> = if can_moderate {
        let mine = bridge::json_of(rooms::list_mine(state.clone(), AnyUser(user.auth)).await).await?;
        let in_room: HashSet<&str> = members.iter().map(|m| s(m, "userId")).collect();
        mine["items"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|r| s(r, "kind") == "direct")
            .map(|r| {
                (
                    s(&r["peer"], "userId").to_owned(),
                    s(&r["peer"], "displayName").to_owned(),
                )
            })
            .filter(|(id, _)| !id.is_empty() && !in_room.contains(id.as_str()))
            .collect()
    } else {
        Vec::new()
    };
    let now = chrono::Utc::now();
    let body = html! {
        div class="chat-room" {
            p class="crumbs" { a href="/chat" { "All messages" } }
            h1 id="room-title" { (title) }
            @if let Some(p) = peer {
                p class="meta" id="presence" data-user=(s(p, "userId")) { (presence(p["online"].as_bool() == Some(true), &p["lastSeen"])) }
                p { a id="call-peer" href=(format!("/app/#call={}", s(p, "userId"))) { "Call " (title) } }
            } @else {
                p class="meta" {
                    (if s(&room, "visibility") == "public" { "Public group room" } else { "Private group room" })
                    " · " (members.len()) (if members.len() == 1 { " member" } else { " members" })
                }
            }
            @if e2ee { p class="hint" { "End-to-end encrypted: the server stores these messages only as ciphertext." } }
            @if e2ee && is_member {
                // Filled in by chat-e2ee.js from the keys themselves (docs/web.md, "Encryption").
                section id="e2ee-panel" class="e2ee" aria-labelledby="e2ee-h" {
                    h2 id="e2ee-h" { "Encryption keys" }
                    p class="hint" {
                        "Compare these numbers with the ones on the other person's screen, in person or on a call. "
                        "If they match, only your devices and theirs can read this conversation."
                    }
                    h3 { "Yours" }
                    ul id="my-fingerprint" class="fingerprints" {}
                    ul id="my-other-devices" class="fingerprints" {}
                    h3 { (if direct { title.clone() } else { "The other members".to_owned() }) }
                    ul id="peer-fingerprints" class="fingerprints" {}
                    p id="e2ee-status" role="status" {}
                }
            }
            @if room["allowGuests"].as_bool() == Some(true) {
                p class="hint" { "Guests can join without an account from " a href=(format!("/chat/{room_id}/guest")) { "the room's guest page" } " (share its address)." }
            }
            @match q.done.as_deref() {
                Some("invited") => { (notice("ok", "Invited.")) }
                Some("muted") => { (notice("ok", "Muted.")) }
                Some("unmuted") => { (notice("ok", "Unmuted.")) }
                Some("removed") => { (notice("ok", "Removed from the room.")) }
                Some("sent") => { (notice("ok", "Sent.")) }
                _ => {}
            }
            @if let Some(e) = &q.error { (notice("error", e)) }
            div id="conn" class="conn" role="status" data-conn="loading" {}
            div class="history-start" {
                @if first_seq > 1 {
                    button type="button" id="earlier" class="secondary" { "Load earlier messages" }
                } @else {
                    p id="start" class="hint" { "This is the start of the conversation." }
                }
            }
            div id="log" class="messages" role="log" aria-label=(format!("Messages with {title}")) tabindex="0" {
                ol id="messages" {
                    @for m in &shown { (message_item(m, &me, can_moderate, is_member)) }
                }
            }
            @if shown.is_empty() { p id="empty" class="hint" { "No messages yet. Say hello!" } }
            p id="typing" class="typing" aria-live="polite" {}
            @if is_member {
                form id="composer" method="post" action=(here.clone()) class="composer" enctype="application/x-www-form-urlencoded" {
                    (csrf_field(&viewer))
                    input type="hidden" name="action" value="send";
                    label for="text" { "Message" }
                    textarea id="text" name="body" rows="2" maxlength=(limits.max_message_bytes) {}
                    div class="attach" {
                        label for="file" { "Attach a file" }
                        input type="file" id="file" name="file" accept=(limits.attachment_types.join(",")) aria-describedby="file-limits";
                        p id="file-limits" class="hint" { (limits_words(&state)) }
                    }
                    div id="composer-error" role="alert" class="error-text" {}
                    button type="submit" id="send" { "Send" }
                }
            } @else {
                p class="hint" { "You are reading this room as an admin; join it to write." }
            }
            @if !direct {
                section aria-labelledby="members-h" class="members" {
                    h2 id="members-h" { "Members" }
                    ul id="members" {
                        @for m in &members {
                            @let uid = s(m, "userId");
                            @let name = s(m, "displayName");
                            @let muted = m["mutedUntil"].as_str().and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok()).is_some_and(|t| t > now);
                            li data-user=(uid) {
                                span class="name" { (name) @if uid == me { " (you)" } }
                                @match s(m, "roomRole") { "owner" => { " · owner" } "moderator" => { " · moderator" } _ => {} }
                                @if muted { " · muted" }
                                @if can_moderate && uid != me && s(m, "roomRole") != "owner" {
                                    div class="actions" {
                                        @if muted {
                                            (member_form(&viewer, &here, "unmute", uid, &format!("Unmute {name}")))
                                        } @else {
                                            (member_form(&viewer, &here, "mute", uid, &format!("Mute {name} for an hour")))
                                        }
                                        (member_form(&viewer, &here, "remove", uid, &format!("Remove {name}")))
                                    }
                                }
                            }
                        }
                    }
                    @if can_moderate {
                        @if contacts.is_empty() {
                            p class="hint" { "To invite someone, open a conversation with them first; they are then offered here." }
                        } @else {
                            form method="post" action=(here.clone()) class="inline-form" {
                                (csrf_field(&viewer))
                                input type="hidden" name="action" value="invite";
                                label for="invite" { "Invite" }
                                select id="invite" name="userId" {
                                    @for (id, name) in &contacts { option value=(id) { (name) } }
                                }
                                button type="submit" { "Invite to " (title) }
                            }
                        }
                    }
                    @if is_member {
                        form method="post" action=(here.clone()) class="inline" {
                            (csrf_field(&viewer))
                            input type="hidden" name="action" value="leave";
                            button type="submit" class="danger" { "Leave " (title) }
                        }
                    }
                }
            }
        }
        script type="application/json" id="chat-data" { (PreEscaped(data.to_string().replace('<', "\\u003c"))) }
    };
    let page_title = if direct {
        format!("Chat with {title}")
    } else {
        title.clone()
    };
    // An encrypted room plugs e2ee into chat.js's codec (chat-e2ee.js).
    let scripts: &[&str] = if e2ee && is_member {
        &["chat.js", "chat-e2ee.js"]
    } else {
        &["chat.js"]
    };
    let pg = Page {
        title: &page_title,
        scripts,
        current: Some("/chat"),
        ..Default::default()
    };
    Ok(render(&state, &viewer, StatusCode::OK, page(&viewer, pg, body)))
}

fn member_form(viewer: &Viewer, here: &str, action: &str, user: &str, label: &str) -> Markup {
    html! {
        form method="post" action=(here) class="inline" {
            (csrf_field(viewer))
            input type="hidden" name="action" value=(action);
            input type="hidden" name="userId" value=(user);
            button type="submit" class=(if action == "remove" { "danger" } else { "secondary" }) { (label) }
        }
    }
}

#[derive(Deserialize)]
pub struct RoomForm {
    csrf: Option<String>,
    action: String,
    #[serde(rename = "userId")]
    user_id: Option<String>,
    body: Option<String>,
}

fn user_of(f: &RoomForm) -> Result<UserId, ApiError> {
    f.user_id
        .as_deref()
        .and_then(|u| u.parse::<uuid::Uuid>().ok())
        .map(UserId)
        .ok_or_else(|| ApiError::new(ErrorCode::InvalidMember, "choose a member"))
}

/// `POST /chat/{room_id}`: `join`, `leave`, `invite`, `mute`, `unmute`,
/// `remove`, and `send` (the page without JavaScript), each through the
/// API's handler; back to the page with what happened or the error in words.
pub async fn act(
    state: web::Data<AppState>,
    req: HttpRequest,
    viewer: Viewer,
    path: web::Path<RoomId>,
    form: web::Form<RoomForm>,
) -> Result<HttpResponse, ApiError> {
    let room = path.into_inner();
    let here = format!("/chat/{room}");
    let Some(user) = &viewer.user else {
        return Ok(to_sign_in(&here));
    };
    let f = form.into_inner();
    viewer.check_csrf(&req, f.csrf.as_deref())?;
    let a = user.auth;
    let res: Result<Value, ApiError> = match f.action.as_str() {
        "join" => bridge::json_of(rooms::join(state.clone(), a, web::Path::from(room)).await).await,
        "leave" => {
            bridge::json_of(rooms::remove_member(state.clone(), AnyUser(a), web::Path::from((room, a.id))).await).await
        }
        "remove" => match user_of(&f) {
            Ok(u) => {
                bridge::json_of(rooms::remove_member(state.clone(), AnyUser(a), web::Path::from((room, u))).await).await
            }
            Err(e) => Err(e),
        },
        "mute" | "unmute" => match user_of(&f) {
            Ok(u) => {
                let minutes = if f.action == "mute" { 60 } else { 0 };
                match bridge::body(json!({"minutes": minutes})) {
                    Ok(b) => bridge::json_of(rooms::mute(state.clone(), a, web::Path::from((room, u)), b).await).await,
                    Err(e) => Err(e),
                }
            }
            Err(e) => Err(e),
        },
        "invite" => match user_of(&f) {
            Ok(u) => match bridge::body(json!({"userId": u})) {
                Ok(b) => bridge::json_of(rooms::invite(state.clone(), a, web::Path::from(room), b).await).await,
                Err(e) => Err(e),
            },
            Err(e) => Err(e),
        },
        "send" => match bridge::body(
            json!({"clientMsgId": uuid::Uuid::new_v4().to_string(), "body": f.body.unwrap_or_default()}),
        ) {
            Ok(b) => bridge::json_of(rooms::send(state.clone(), AnyUser(a), web::Path::from(room), b).await).await,
            Err(e) => Err(e),
        },
        _ => Err(ApiError::new(ErrorCode::NotFound, "no such action")),
    };
    Ok(match (f.action.as_str(), res) {
        ("leave", Ok(_)) => see_other("/chat?done=left"),
        ("join", Ok(_)) => see_other(&here),
        ("join", Err(e)) => bridge::back_to("/chat", Err(e)),
        ("send", Ok(_)) => see_other(&here),
        (action, Ok(_)) => {
            let done = match action {
                "invite" => "invited",
                "mute" => "muted",
                "unmute" => "unmuted",
                _ => "removed",
            };
            see_other(&format!("{here}?done={done}"))
        }
        (_, Err(e)) => bridge::back_to(&here, Err(e)),
    })
}

/// `/chat/{room_id}/guest`: seed 004's anonymous join, for a public group
/// room that allows guests. "Join as a guest" asks `POST
/// /api/rooms/{id}/guests` from the page (chat.js) and chats with that
/// 15-minute token in this room only; a signed-in viewer is offered to join
/// as themselves. A room that takes no guests says so (200, without its
/// name); an unknown room is a 404 page.
pub async fn guest_page(
    state: web::Data<AppState>,
    viewer: Viewer,
    path: web::Path<RoomId>,
) -> Result<HttpResponse, ApiError> {
    let room_id = path.into_inner();
    let client = state.pool.get().await?;
    let Some(r) = client
        .query_opt(
            "SELECT name, kind = 'group' AND visibility = 'public' AND allow_guests FROM rooms WHERE id = $1",
            &[&room_id],
        )
        .await?
    else {
        return Ok(super::mentors::not_found(&state, &viewer));
    };
    if !r.get::<_, bool>(1) {
        // Said without the room's name: it may be private.
        let body = html! {
            h1 { "Guests cannot join this room" }
            p { "Only some public rooms take guests, and this is not one of them. "
                a href=(format!("/signin?next=/chat/{room_id}")) { "Sign in" } " to see whether you can join it." }
        };
        let pg = Page {
            title: "Guests cannot join this room",
            ..Default::default()
        };
        return Ok(render(&state, &viewer, StatusCode::OK, page(&viewer, pg, body)));
    }
    let name: String = r.get::<_, Option<String>>(0).unwrap_or_default();
    let limits = &state.realtime.services.limits;
    let data = json!({
        "roomId": room_id, "me": "", "kind": "group", "name": name, "e2ee": false, "guest": true,
        "lastSeq": 0, "firstSeq": 0, "member": true, "canModerate": false, "myLastRead": 0,
        "members": {}, "maxBytes": limits.max_attachment_bytes, "types": limits.attachment_types, "peer": null,
    });
    let body = html! {
        div class="chat-room" {
            h1 id="room-title" { (name) }
            p class="meta" { "Public group room" }
            @if viewer.user.is_some() {
                p { "You are signed in: join this room as yourself." }
                form method="post" action=(format!("/chat/{room_id}")) class="inline" {
                    (csrf_field(&viewer))
                    input type="hidden" name="action" value="join";
                    button type="submit" { "Join " (name) }
                }
            } @else {
                div id="guest-join-box" {
                    p { "You can take part without an account: as a guest you get a name such as “guest-123456”, for 15 minutes, in this room only. Nothing about you is asked or kept." }
                    button type="button" id="guest-join" { "Join " (name) " as a guest" }
                    p id="guest-error" role="alert" class="error-text" {}
                    noscript { p { "Joining as a guest needs JavaScript." } }
                    p { "Or " a href=(format!("/signin?next=/chat/{room_id}/guest")) { "sign in" } " to join as yourself." }
                }
                div id="guest-room" hidden {
                    p id="guest-name" class="hint" {}
                    div id="conn" class="conn" role="status" data-conn="loading" {}
                    div class="history-start" {}
                    div id="log" class="messages" role="log" aria-label=(format!("Messages in {name}")) tabindex="0" {
                        ol id="messages" {}
                    }
                    p id="typing" class="typing" aria-live="polite" {}
                    form id="composer" class="composer" {
                        label for="text" { "Message" }
                        textarea id="text" name="body" rows="2" maxlength=(limits.max_message_bytes) {}
                        div class="attach" {
                            label for="file" { "Attach a file" }
                            input type="file" id="file" name="file" accept=(limits.attachment_types.join(",")) aria-describedby="file-limits";
                            p id="file-limits" class="hint" { (limits_words(&state)) }
                        }
                        div id="composer-error" role="alert" class="error-text" {}
                        button type="submit" id="send" { "Send" }
                    }
                }
            }
        }
        script type="application/json" id="chat-data" { (PreEscaped(data.to_string().replace('<', "\\u003c"))) }
    };
    let title = format!("{name} (guests welcome)");
    let pg = Page {
        title: &title,
        scripts: if viewer.user.is_some() { &[] } else { &["chat.js"] },
        ..Default::default()
    };
    Ok(render(&state, &viewer, StatusCode::OK, page(&viewer, pg, body)))
}
