//! Two-factor sign-in (issue 12): enrolment, confirmation, sign-in with a
//! TOTP or recovery code, replay, disabling, regenerating recovery codes,
//! rate limits and the audit log. Codes are computed here with an RFC 6238
//! implementation of the test's own (not the server's).

use hmac::{Hmac, Mac};
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::helpers::{assert_error, spawn_app, spawn_app_with, Session, TestApp, PASSWORD};

/// RFC 4648 base32 (upper case, no padding) decoded.
fn base32_decode(s: &str) -> Vec<u8> {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    let (mut buf, mut bits, mut out) = (0u64, 0u32, Vec::new());
    for c in s.bytes().filter(|c| *c != b'=') {
        let v = ALPHABET.iter().position(|a| *a == c).expect("base32 character") as u64;
        buf = buf << 5 | v;
        bits += 5;
        if bits >= 8 {
            bits -= 8;
            out.push((buf >> bits) as u8);
            buf &= (1 << bits) - 1;
        }
    }
    out
}

/// RFC 6238 with SHA-1, 30 s steps, 6 digits: the code of time step `step`.
fn totp(secret: &[u8], step: i64) -> String {
    let mut mac = Hmac::<sha1::Sha1>::new_from_slice(secret).unwrap();
    mac.update(&(step as u64).to_be_bytes());
    let h = mac.finalize().into_bytes();
    let o = (h[19] & 0x0f) as usize;
    let n = u32::from_be_bytes([h[o] & 0x7f, h[o + 1], h[o + 2], h[o + 3]]) % 1_000_000;
    format!("{n:06}")
}

fn now_step() -> i64 {
    chrono::Utc::now().timestamp().div_euclid(30)
}

#[test]
fn the_tests_totp_matches_rfc6238() {
    // Appendix B, SHA-1 rows, low six of the eight digits.
    let key = b"12345678901234567890";
    assert_eq!(totp(key, 59 / 30), "287082");
    assert_eq!(totp(key, 1111111109 / 30), "081804");
    assert_eq!(totp(key, 1234567890 / 30), "005924");
    assert_eq!(totp(key, 20000000000 / 30), "353130");
    assert_eq!(base32_decode("GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"), key);
}

/// Every response body after enrolment, to check no secret leaks.
#[derive(Default)]
struct Seen(Vec<String>);

impl Seen {
    async fn body(&mut self, res: reqwest::Response) -> (StatusCode, Value) {
        let status = res.status();
        let text = res.text().await.unwrap();
        self.0.push(text.clone());
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    }
}

impl TestApp {
    async fn login_2fa(&self, email: &str, password: &str, extra: Value) -> reqwest::Response {
        let mut body = json!({"email": email, "password": password});
        for (k, v) in extra.as_object().unwrap() {
            body[k] = v.clone();
        }
        self.post_json("/api/auth/login", &body).await
    }

    async fn audit_actions(&self, user: uuid::Uuid) -> Vec<(String, Value)> {
        self.db
            .query(
                "SELECT action, details FROM audit_log WHERE subject_id = $1 ORDER BY id",
                &[&user],
            )
            .await
            .unwrap()
            .iter()
            .map(|r| (r.get(0), r.get(1)))
            .collect()
    }
}

/// Registers a user and enables two-factor sign-in (code of the current
/// step); returns the session, the secret and the recovery codes.
async fn enabled_user(app: &TestApp, name: &str) -> (Session, Vec<u8>, Vec<String>) {
    let s = app.register("mentee", name).await;
    let res = app.post_auth("/api/me/2fa/enroll", &s.access, &json!({})).await;
    assert_eq!(res.status(), StatusCode::OK);
    let e: Value = res.json().await.unwrap();
    let secret = base32_decode(e["secret"].as_str().unwrap());
    let res = app
        .post_auth(
            "/api/me/2fa/confirm",
            &s.access,
            &json!({"code": totp(&secret, now_step())}),
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    let v: Value = res.json().await.unwrap();
    let codes = v["recoveryCodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap().to_owned())
        .collect();
    (s, secret, codes)
}

#[actix_web::test]
async fn enrol_confirm_then_sign_in_needs_a_code_that_cannot_be_replayed() {
    let app = spawn_app().await;
    let s = app.register("mentee", "Ada").await;
    let mut seen = Seen::default();

    let res = app.get_auth("/api/me/2fa", &s.access).await;
    assert_eq!(res.status(), StatusCode::OK);
    let v: Value = res.json().await.unwrap();
    assert_eq!(
        v,
        json!({"enabled": false, "pending": false, "enabledAt": null, "recoveryCodesRemaining": 0})
    );
    // Confirming before enrolling.
    assert_error(
        app.post_auth("/api/me/2fa/confirm", &s.access, &json!({"code": "123456"}))
            .await,
        StatusCode::CONFLICT,
        "two_factor_not_pending",
    )
    .await;

    let res = app.post_auth("/api/me/2fa/enroll", &s.access, &json!({})).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.headers()["cache-control"], "no-store");
    let e: Value = res.json().await.unwrap();
    let secret_b32 = e["secret"].as_str().unwrap().to_owned();
    assert!(secret_b32.len() >= 32 && !secret_b32.contains('='), "{secret_b32}");
    let secret = base32_decode(&secret_b32);
    assert_eq!(secret.len(), 20);
    let uri = e["otpauthUri"].as_str().unwrap();
    let label = s.email.to_lowercase().replace('@', "%40");
    assert_eq!(
        uri,
        format!("otpauth://totp/Lyceum:{label}?secret={secret_b32}&issuer=Lyceum&algorithm=SHA1&digits=6&period=30")
    );
    let qr = e["qrSvg"].as_str().unwrap();
    let svg = base64::Engine::decode(
        &base64::engine::general_purpose::STANDARD,
        qr.strip_prefix("data:image/svg+xml;base64,").unwrap(),
    )
    .unwrap();
    assert!(String::from_utf8(svg).unwrap().contains("<svg"));

    // Pending: sign-in does not ask for a code yet.
    let (st, v) = seen.body(app.get_auth("/api/me/2fa", &s.access).await).await;
    assert_eq!(st, StatusCode::OK);
    assert_eq!(
        (v["enabled"].clone(), v["pending"].clone()),
        (json!(false), json!(true))
    );
    let (st, _) = seen.body(app.login_raw(&s.email, PASSWORD).await).await;
    assert_eq!(st, StatusCode::OK);

    // A wrong code does not confirm; the right one does, once.
    let wrong = if totp(&secret, now_step()) == "000000" {
        "111111"
    } else {
        "000000"
    };
    let (st, v) = seen
        .body(
            app.post_auth("/api/me/2fa/confirm", &s.access, &json!({"code": wrong}))
                .await,
        )
        .await;
    assert_eq!(
        (st, v["error"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("invalid_two_factor_code"))
    );
    let confirm_code = totp(&secret, now_step());
    let (st, v) = seen
        .body(
            app.post_auth("/api/me/2fa/confirm", &s.access, &json!({"code": confirm_code}))
                .await,
        )
        .await;
    assert_eq!(st, StatusCode::OK, "{v}");
    let codes: Vec<String> = v["recoveryCodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap().to_owned())
        .collect();
    assert_eq!(codes.len(), 10);
    assert_eq!(codes.iter().collect::<std::collections::HashSet<_>>().len(), 10);
    assert!(
        codes.iter().all(|c| c.len() == 19 && c.matches('-').count() == 3),
        "{codes:?}"
    );
    let (st, v) = seen.body(app.get_auth("/api/me/2fa", &s.access).await).await;
    assert_eq!(st, StatusCode::OK);
    assert_eq!(v["enabled"], true);
    assert_eq!(v["pending"], false);
    assert!(v["enabledAt"].is_string());
    assert_eq!(v["recoveryCodesRemaining"], 10);
    // Once on, neither enrolment nor confirmation can run again.
    let (st, v) = seen
        .body(app.post_auth("/api/me/2fa/enroll", &s.access, &json!({})).await)
        .await;
    assert_eq!(
        (st, v["error"].as_str()),
        (StatusCode::CONFLICT, Some("two_factor_already_enabled"))
    );
    let (st, v) = seen
        .body(
            app.post_auth("/api/me/2fa/confirm", &s.access, &json!({"code": "123456"}))
                .await,
        )
        .await;
    assert_eq!(
        (st, v["error"].as_str()),
        (StatusCode::CONFLICT, Some("two_factor_already_enabled"))
    );

    // Sign-in now asks for the code.
    let (st, v) = seen.body(app.login_raw(&s.email, PASSWORD).await).await;
    assert_eq!(
        (st, v["error"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("two_factor_required"))
    );
    assert!(v.get("accessToken").is_none());
    // An empty code counts as none.
    let (st, v) = seen
        .body(app.login_2fa(&s.email, PASSWORD, json!({"totpCode": ""})).await)
        .await;
    assert_eq!(
        (st, v["error"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("two_factor_required"))
    );
    // A wrong password is refused as before, even with a good code, and
    // does not spend the code.
    let login_code = totp(&secret, now_step() + 1);
    let (st, v) = seen
        .body(
            app.login_2fa(&s.email, "wrong password!!", json!({"totpCode": login_code}))
                .await,
        )
        .await;
    assert_eq!(
        (st, v["error"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("invalid_credentials"))
    );
    let (st, v) = seen
        .body(app.login_2fa(&s.email, PASSWORD, json!({"totpCode": wrong})).await)
        .await;
    assert_eq!(
        (st, v["error"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("invalid_two_factor_code"))
    );
    let (st, v) = seen
        .body(app.login_2fa(&s.email, PASSWORD, json!({"totpCode": "12ab56"})).await)
        .await;
    assert_eq!(
        (st, v["error"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("invalid_two_factor_code"))
    );
    // The code used to confirm is spent: it cannot sign in.
    let (st, v) = seen
        .body(
            app.login_2fa(&s.email, PASSWORD, json!({"totpCode": confirm_code}))
                .await,
        )
        .await;
    assert_eq!(
        (st, v["error"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("invalid_two_factor_code"))
    );
    // The next step's code (one step of skew is accepted) signs in.
    let (st, v) = seen
        .body(app.login_2fa(&s.email, PASSWORD, json!({"totpCode": login_code})).await)
        .await;
    assert_eq!(st, StatusCode::OK, "{v}");
    let access = v["accessToken"].as_str().unwrap();
    assert_eq!(app.get_auth("/api/me", access).await.status(), StatusCode::OK);
    // Replaying it within its window is refused.
    let (st, v) = seen
        .body(app.login_2fa(&s.email, PASSWORD, json!({"totpCode": login_code})).await)
        .await;
    assert_eq!(
        (st, v["error"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("invalid_two_factor_code"))
    );
    // Both kinds at once is malformed.
    let (st, v) = seen
        .body(
            app.login_2fa(
                &s.email,
                PASSWORD,
                json!({"totpCode": "123456", "recoveryCode": codes[0]}),
            )
            .await,
        )
        .await;
    assert_eq!(
        (st, v["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_credentials_format"))
    );

    // Audited: enrolment, enabling, the failures (wrong and replayed), the
    // sign-in with its second factor.
    let log = app.audit_actions(s.id).await;
    let actions: Vec<&str> = log.iter().map(|(a, _)| a.as_str()).collect();
    assert!(actions.contains(&"two_factor_enrolment_started"), "{actions:?}");
    assert!(actions.contains(&"two_factor_enabled"), "{actions:?}");
    let failures: Vec<(&str, &str)> = log
        .iter()
        .filter(|(a, _)| a == "two_factor_failed")
        .map(|(_, d)| (d["purpose"].as_str().unwrap(), d["reason"].as_str().unwrap()))
        .collect();
    assert_eq!(
        failures,
        vec![
            ("confirm", "wrong_code"),
            ("sign_in", "wrong_code"),
            ("sign_in", "wrong_code"),
            ("sign_in", "replayed"),
            ("sign_in", "replayed"),
        ]
    );
    assert!(
        log.iter().any(|(a, d)| a == "sign_in" && d["twoFactor"] == "totp"),
        "{log:?}"
    );

    // The secret is stored sealed, and neither it nor a recovery code's
    // hash appears in any response after enrolment.
    let row = app
        .db
        .query_one("SELECT secret_sealed FROM two_factor WHERE user_id = $1", &[&s.id])
        .await
        .unwrap();
    let sealed: Vec<u8> = row.get(0);
    assert!(!sealed.windows(secret.len()).any(|w| w == secret.as_slice()));
    let hashes: Vec<Vec<u8>> = app
        .db
        .query(
            "SELECT code_hash FROM two_factor_recovery_codes WHERE user_id = $1",
            &[&s.id],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(hashes.len(), 10);
    let b64 = |b: &[u8]| base64::Engine::encode(&base64::engine::general_purpose::STANDARD, b);
    for body in &seen.0 {
        assert!(!body.contains(&secret_b32), "{body}");
        assert!(!body.contains(&b64(&secret)), "{body}");
        for h in &hashes {
            assert!(!body.contains(&hex::encode(h)) && !body.contains(&b64(h)), "{body}");
        }
    }
    // And recovery codes are stored only as hashes.
    for c in &codes {
        assert!(!hashes.iter().any(|h| h.windows(c.len()).any(|w| w == c.as_bytes())));
    }
}

#[actix_web::test]
async fn a_recovery_code_signs_in_once() {
    let app = spawn_app().await;
    let (s, _secret, codes) = enabled_user(&app, "Recover").await;

    let res = app
        .login_2fa(&s.email, PASSWORD, json!({"recoveryCode": codes[0]}))
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_error(
        app.login_2fa(&s.email, PASSWORD, json!({"recoveryCode": codes[0]}))
            .await,
        StatusCode::UNAUTHORIZED,
        "invalid_two_factor_code",
    )
    .await;
    // A recovery code is not a TOTP code.
    assert_error(
        app.login_2fa(&s.email, PASSWORD, json!({"totpCode": codes[1]})).await,
        StatusCode::UNAUTHORIZED,
        "invalid_two_factor_code",
    )
    .await;
    // Case, spaces and hyphens do not matter.
    let typed = codes[1].to_uppercase().replace('-', " ");
    let res = app.login_2fa(&s.email, PASSWORD, json!({"recoveryCode": typed})).await;
    assert_eq!(res.status(), StatusCode::OK);
    let v: Value = app.get_auth("/api/me/2fa", &s.access).await.json().await.unwrap();
    assert_eq!(v["recoveryCodesRemaining"], 8);

    let log = app.audit_actions(s.id).await;
    let used: Vec<i64> = log
        .iter()
        .filter(|(a, _)| a == "two_factor_recovery_code_used")
        .map(|(_, d)| d["remaining"].as_i64().unwrap())
        .collect();
    assert_eq!(used, vec![9, 8]);
    assert_eq!(
        log.iter()
            .filter(|(a, d)| a == "sign_in" && d["twoFactor"] == "recovery_code")
            .count(),
        2
    );
}

#[actix_web::test]
async fn disabling_needs_the_password_and_a_code() {
    let app = spawn_app().await;
    let (s, secret, codes) = enabled_user(&app, "Disable").await;
    let code = totp(&secret, now_step() + 1);

    assert_error(
        app.post_auth(
            "/api/me/2fa/disable",
            &s.access,
            &json!({"password": "wrong password!!", "code": code}),
        )
        .await,
        StatusCode::UNAUTHORIZED,
        "invalid_credentials",
    )
    .await;
    assert_error(
        app.post_auth(
            "/api/me/2fa/disable",
            &s.access,
            &json!({"password": PASSWORD, "code": "not a code"}),
        )
        .await,
        StatusCode::UNAUTHORIZED,
        "invalid_two_factor_code",
    )
    .await;
    // Both fields are required.
    assert_error(
        app.post_auth("/api/me/2fa/disable", &s.access, &json!({"password": PASSWORD}))
            .await,
        StatusCode::BAD_REQUEST,
        "invalid_json",
    )
    .await;
    // Without a token.
    assert_error(
        app.post_json("/api/me/2fa/disable", &json!({"password": PASSWORD, "code": code}))
            .await,
        StatusCode::UNAUTHORIZED,
        "missing_token",
    )
    .await;
    assert_eq!(
        app.login_raw(&s.email, PASSWORD).await.status(),
        StatusCode::UNAUTHORIZED,
        "still on"
    );

    let res = app
        .post_auth(
            "/api/me/2fa/disable",
            &s.access,
            &json!({"password": PASSWORD, "code": code}),
        )
        .await;
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    assert_eq!(app.login_raw(&s.email, PASSWORD).await.status(), StatusCode::OK);
    let v: Value = app.get_auth("/api/me/2fa", &s.access).await.json().await.unwrap();
    assert_eq!(v["enabled"], false);
    assert_eq!(v["pending"], false);
    let left: i64 = app
        .db
        .query_one(
            "SELECT (SELECT count(*) FROM two_factor WHERE user_id = $1)
                  + (SELECT count(*) FROM two_factor_recovery_codes WHERE user_id = $1)",
            &[&s.id],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(left, 0, "secret and recovery codes deleted");
    assert_error(
        app.post_auth(
            "/api/me/2fa/disable",
            &s.access,
            &json!({"password": PASSWORD, "code": codes[0]}),
        )
        .await,
        StatusCode::CONFLICT,
        "two_factor_not_enabled",
    )
    .await;
    assert_error(
        app.post_auth("/api/me/2fa/recovery-codes", &s.access, &json!({"code": codes[0]}))
            .await,
        StatusCode::CONFLICT,
        "two_factor_not_enabled",
    )
    .await;

    // With a recovery code instead of a TOTP code.
    let (s2, _, codes2) = enabled_user(&app, "Disable2").await;
    let res = app
        .post_auth(
            "/api/me/2fa/disable",
            &s2.access,
            &json!({"password": PASSWORD, "code": codes2[3]}),
        )
        .await;
    assert_eq!(res.status(), StatusCode::NO_CONTENT);

    let log = app.audit_actions(s.id).await;
    let reasons: Vec<&str> = log
        .iter()
        .filter(|(a, d)| a == "two_factor_failed" && d["purpose"] == "disable")
        .map(|(_, d)| d["reason"].as_str().unwrap())
        .collect();
    assert_eq!(reasons, vec!["wrong_password", "wrong_code"]);
    assert!(log
        .iter()
        .any(|(a, d)| a == "two_factor_disabled" && d["with"] == "totp"));
    let log2 = app.audit_actions(s2.id).await;
    assert!(log2
        .iter()
        .any(|(a, d)| a == "two_factor_disabled" && d["with"] == "recovery_code"));
}

#[actix_web::test]
async fn regenerated_recovery_codes_replace_the_old_ones() {
    let app = spawn_app().await;
    let (s, secret, old) = enabled_user(&app, "Regen").await;
    assert_error(
        app.post_auth("/api/me/2fa/recovery-codes", &s.access, &json!({"code": "000000x"}))
            .await,
        StatusCode::UNAUTHORIZED,
        "invalid_two_factor_code",
    )
    .await;
    let res = app
        .post_auth(
            "/api/me/2fa/recovery-codes",
            &s.access,
            &json!({"code": totp(&secret, now_step() + 1)}),
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    let v: Value = res.json().await.unwrap();
    let new: Vec<String> = v["recoveryCodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap().to_owned())
        .collect();
    assert_eq!(new.len(), 10);
    assert!(new.iter().all(|c| !old.contains(c)));
    assert_error(
        app.login_2fa(&s.email, PASSWORD, json!({"recoveryCode": old[0]})).await,
        StatusCode::UNAUTHORIZED,
        "invalid_two_factor_code",
    )
    .await;
    assert_eq!(
        app.login_2fa(&s.email, PASSWORD, json!({"recoveryCode": new[0]}))
            .await
            .status(),
        StatusCode::OK
    );
    let log = app.audit_actions(s.id).await;
    assert!(log
        .iter()
        .any(|(a, d)| a == "two_factor_recovery_codes_regenerated" && d["with"] == "totp"));
}

async fn assert_rate_limited(res: reqwest::Response) {
    let retry: u64 = res
        .headers()
        .get("retry-after")
        .expect("Retry-After")
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=60).contains(&retry), "{retry}");
    assert_error(res, StatusCode::TOO_MANY_REQUESTS, "rate_limited").await;
}

#[actix_web::test]
async fn code_attempts_are_rate_limited_per_account_and_per_address() {
    let app = spawn_app_with(|s| s.rate_limit.two_factor_per_account_per_minute = 3).await;
    // Confirming counts as the first attempt.
    let (s, secret, codes) = enabled_user(&app, "Brute").await;
    for _ in 0..2 {
        assert_error(
            app.login_2fa(&s.email, PASSWORD, json!({"totpCode": "000000x"})).await,
            StatusCode::UNAUTHORIZED,
            "invalid_two_factor_code",
        )
        .await;
    }
    // Over the limit, even the right code (or a recovery code) waits.
    assert_rate_limited(
        app.login_2fa(&s.email, PASSWORD, json!({"totpCode": totp(&secret, now_step() + 1)}))
            .await,
    )
    .await;
    assert_rate_limited(
        app.login_2fa(&s.email, PASSWORD, json!({"recoveryCode": codes[0]}))
            .await,
    )
    .await;
    assert_rate_limited(
        app.post_auth(
            "/api/me/2fa/disable",
            &s.access,
            &json!({"password": PASSWORD, "code": codes[0]}),
        )
        .await,
    )
    .await;
    // The limited attempts spent nothing.
    let v: Value = app.get_auth("/api/me/2fa", &s.access).await.json().await.unwrap();
    assert_eq!(v["recoveryCodesRemaining"], 10);
    // A password-only sign-in attempt is not a code attempt.
    assert_error(
        app.login_raw(&s.email, PASSWORD).await,
        StatusCode::UNAUTHORIZED,
        "two_factor_required",
    )
    .await;
    // Another account is not affected.
    let (other, other_secret, _) = enabled_user(&app, "Other").await;
    assert_eq!(
        app.login_2fa(
            &other.email,
            PASSWORD,
            json!({"totpCode": totp(&other_secret, now_step() + 1)})
        )
        .await
        .status(),
        StatusCode::OK
    );

    // Per address: three attempts from 127.0.0.1 over two accounts.
    let app = spawn_app_with(|s| s.rate_limit.two_factor_per_ip_per_minute = 3).await;
    let (a, _, _) = enabled_user(&app, "A").await;
    let (b, b_secret, _) = enabled_user(&app, "B").await;
    assert_error(
        app.login_2fa(&a.email, PASSWORD, json!({"totpCode": "000000x"})).await,
        StatusCode::UNAUTHORIZED,
        "invalid_two_factor_code",
    )
    .await;
    assert_rate_limited(
        app.login_2fa(&b.email, PASSWORD, json!({"totpCode": totp(&b_secret, now_step() + 1)}))
            .await,
    )
    .await;
}
