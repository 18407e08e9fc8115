//! RFC 6238 time-based one-time passwords (TOTP), the pieces of two-factor
//! sign-in that need no database: codes, secrets, the `otpauth://` URI and
//! its QR code, recovery codes, and sealing a secret for storage.
//!
//! Written over `hmac` + `sha1` rather than a TOTP crate: RFC 4226/6238 is
//! twenty lines, both crates are already in the lock, and the replay rule
//! (the step a code was accepted at must be stored) needs the matched time
//! step, which TOTP crates do not return.

use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{ChaCha20Poly1305, Key, Nonce};
use hmac::{Mac, SimpleHmac};
use rand::RngCore;
use sha2::{Digest, Sha256};

/// Seconds per time step (RFC 6238's default; every authenticator app's).
pub const STEP_SECS: i64 = 30;
/// Digits of a code.
pub const DIGITS: u32 = 6;
/// Steps either side of now that are still accepted (clock drift).
pub const SKEW_STEPS: i64 = 1;
/// Bytes of a generated secret (160 bits, RFC 4226's recommendation).
pub const SECRET_BYTES: usize = 20;
/// Recovery codes handed out at once.
pub const RECOVERY_CODES: usize = 10;
/// Shown as the issuer in authenticator apps.
pub const ISSUER: &str = "Lyceum";

/// RFC 4226 HOTP: the `digits`-digit code of `counter` under `key`, with
/// any HMAC hash (SHA-1 for authenticator apps; SHA-256/512 for the RFC's
/// other test vectors).
pub fn hotp<D>(key: &[u8], counter: u64, digits: u32) -> u32
where
    D: sha2::Digest + hmac::digest::core_api::BlockSizeUser,
{
    let Ok(mut mac) = <SimpleHmac<D> as KeyInit>::new_from_slice(key) else {
        // HMAC takes keys of any length; unreachable in practice.
        return u32::MAX;
    };
    mac.update(&counter.to_be_bytes());
    let h = mac.finalize().into_bytes();
    let offset = usize::from(h[h.len() - 1] & 0x0f);
    let bin = (u32::from(h[offset]) & 0x7f) << 24
        | u32::from(h[offset + 1]) << 16
        | u32::from(h[offset + 2]) << 8
        | u32::from(h[offset + 3]);
    bin % 10u32.pow(digits)
}

/// The time step of a Unix time.
pub fn step_at(unix_secs: i64) -> i64 {
    unix_secs.div_euclid(STEP_SECS)
}

/// The 6-digit SHA-1 code of a time step, as authenticator apps show it.
pub fn code_at_step(secret: &[u8], step: i64) -> String {
    let n = hotp::<sha1::Sha1>(secret, step.max(0) as u64, DIGITS);
    format!("{n:0width$}", width = DIGITS as usize)
}

/// The step within ±[`SKEW_STEPS`] of `now_step` whose code is `code`, the
/// latest if several match. Comparisons are constant-time. `code` must be
/// exactly six ASCII digits (callers strip spaces first).
pub fn matching_step(secret: &[u8], code: &str, now_step: i64) -> Option<i64> {
    if code.len() != DIGITS as usize || !code.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let mut found = None;
    for step in (now_step - SKEW_STEPS)..=(now_step + SKEW_STEPS) {
        let expected = code_at_step(secret, step);
        if bool::from(subtle::ConstantTimeEq::ct_eq(expected.as_bytes(), code.as_bytes())) {
            found = Some(step);
        }
    }
    found
}

/// A fresh random secret.
pub fn new_secret() -> Vec<u8> {
    let mut s = vec![0u8; SECRET_BYTES];
    rand::rngs::OsRng.fill_bytes(&mut s);
    s
}

/// RFC 4648 base32 without padding, as `otpauth://` URIs and apps expect.
pub fn base32(secret: &[u8]) -> String {
    data_encoding::BASE32_NOPAD.encode(secret)
}

/// Percent-encodes a URI component (unreserved characters kept).
fn pct(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The Key Uri Format URI authenticator apps scan:
/// `otpauth://totp/Lyceum:ada%40example.org?secret=…&issuer=Lyceum&algorithm=SHA1&digits=6&period=30`.
pub fn otpauth_uri(secret: &[u8], account: &str) -> String {
    format!(
        "otpauth://totp/{issuer}:{account}?secret={secret}&issuer={issuer}&algorithm=SHA1&digits={DIGITS}&period={STEP_SECS}",
        issuer = pct(ISSUER),
        account = pct(account),
        secret = base32(secret),
    )
}

/// The URI as a QR code, an SVG image in a `data:` URI (shown by an `<img>`
/// without any third-party service).
pub fn qr_svg_data_uri(uri: &str) -> anyhow::Result<String> {
    let code = qrcode::QrCode::with_error_correction_level(uri.as_bytes(), qrcode::EcLevel::M)
        .map_err(|e| anyhow::anyhow!("qr code: {e}"))?;
    let svg = code
        .render::<qrcode::render::svg::Color<'_>>()
        .min_dimensions(200, 200)
        .quiet_zone(true)
        .build();
    Ok(format!(
        "data:image/svg+xml;base64,{}",
        base64::Engine::encode(&base64::engine::general_purpose::STANDARD, svg.as_bytes())
    ))
}

/// Lower-case letters and digits without look-alikes (no 0/o, 1/l/i).
const RECOVERY_ALPHABET: &[u8; 32] = b"23456789abcdefghjkmnpqrstuvwxyz.";

/// A recovery code: 16 characters of a 31-symbol alphabet in four groups
/// (`xxxx-xxxx-xxxx-xxxx`, about 79 bits), so an unsalted SHA-256 of it is
/// safe to store.
pub fn new_recovery_code() -> String {
    let mut out = String::with_capacity(19);
    let mut rng = rand::rngs::OsRng;
    for i in 0..16 {
        if i > 0 && i % 4 == 0 {
            out.push('-');
        }
        // Rejection sampling over the 31 usable symbols (the 32nd is a filler).
        let c = loop {
            let b = (rng.next_u32() & 31) as usize;
            if b < 31 {
                break RECOVERY_ALPHABET[b];
            }
        };
        out.push(char::from(c));
    }
    out
}

/// A recovery code as typed, normalised: case, spaces and hyphens ignored.
pub fn normalise_recovery_code(code: &str) -> String {
    code.chars()
        .filter(|c| !c.is_whitespace() && *c != '-')
        .flat_map(char::to_lowercase)
        .collect()
}

/// Whether the input looks like a TOTP code (six digits once spaces are
/// removed) rather than a recovery code.
pub fn as_totp_code(input: &str) -> Option<String> {
    let s: String = input.chars().filter(|c| !c.is_whitespace()).collect();
    (s.len() == DIGITS as usize && s.bytes().all(|b| b.is_ascii_digit())).then_some(s)
}

/// What is stored for a recovery code: SHA-256 of its normalised form.
pub fn recovery_code_hash(code: &str) -> Vec<u8> {
    Sha256::digest(normalise_recovery_code(code).as_bytes()).to_vec()
}

/// The key TOTP secrets are sealed with, derived from the configured or
/// generated key material.
#[derive(Clone)]
pub struct SecretBox {
    key: Key,
}

impl SecretBox {
    pub fn new(material: &[u8]) -> SecretBox {
        let hk = hkdf::Hkdf::<Sha256>::new(Some(b"lyceum"), material);
        let mut key = [0u8; 32];
        // 32 bytes is far below HKDF-SHA256's 8160-byte limit.
        let _ = hk.expand(b"totp-secret v1", &mut key);
        SecretBox { key: key.into() }
    }

    /// Nonce (12 bytes) ‖ ciphertext, bound to the account (`aad`) so a
    /// sealed secret cannot be moved to another row.
    pub fn seal(&self, secret: &[u8], aad: &[u8]) -> anyhow::Result<Vec<u8>> {
        let mut nonce = [0u8; 12];
        rand::rngs::OsRng.fill_bytes(&mut nonce);
        let ct = ChaCha20Poly1305::new(&self.key)
            .encrypt(Nonce::from_slice(&nonce), Payload { msg: secret, aad })
            .map_err(|_| anyhow::anyhow!("sealing the TOTP secret failed"))?;
        let mut out = nonce.to_vec();
        out.extend_from_slice(&ct);
        Ok(out)
    }

    pub fn open(&self, sealed: &[u8], aad: &[u8]) -> anyhow::Result<Vec<u8>> {
        anyhow::ensure!(sealed.len() > 12, "sealed TOTP secret too short");
        let (nonce, ct) = sealed.split_at(12);
        ChaCha20Poly1305::new(&self.key)
            .decrypt(Nonce::from_slice(nonce), Payload { msg: ct, aad })
            .map_err(|_| anyhow::anyhow!("the TOTP secret does not open with this key (auth.totp_key changed?)"))
    }
}

impl std::fmt::Debug for SecretBox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SecretBox").finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 6238 Appendix B: the seeds are the ASCII strings below (20, 32
    /// and 64 bytes for SHA-1, SHA-256 and SHA-512), eight digits, X = 30.
    #[test]
    fn rfc6238_test_vectors() {
        let sha1_key = b"12345678901234567890";
        let sha256_key = b"12345678901234567890123456789012";
        let sha512_key = b"1234567890123456789012345678901234567890123456789012345678901234";
        let vectors: [(i64, u32, u32, u32); 6] = [
            (59, 94287082, 46119246, 90693936),
            (1111111109, 7081804, 68084774, 25091201),
            (1111111111, 14050471, 67062674, 99943326),
            (1234567890, 89005924, 91819424, 93441116),
            (2000000000, 69279037, 90698825, 38618901),
            (20000000000, 65353130, 77737706, 47863826),
        ];
        for (t, want1, want256, want512) in vectors {
            let counter = step_at(t) as u64;
            assert_eq!(hotp::<sha1::Sha1>(sha1_key, counter, 8), want1, "SHA-1 at {t}");
            assert_eq!(hotp::<sha2::Sha256>(sha256_key, counter, 8), want256, "SHA-256 at {t}");
            assert_eq!(hotp::<sha2::Sha512>(sha512_key, counter, 8), want512, "SHA-512 at {t}");
        }
        // Six digits are the low six of the eight (RFC 4226's modulo).
        assert_eq!(code_at_step(sha1_key, step_at(59)), "287082");
        assert_eq!(code_at_step(sha1_key, step_at(1111111109)), "081804");
    }

    /// RFC 4226 Appendix D (HOTP, counters 0..9).
    #[test]
    fn rfc4226_test_vectors() {
        let want = [
            755224, 287082, 359152, 969429, 338314, 254676, 287922, 162583, 399871, 520489,
        ];
        for (c, w) in want.iter().enumerate() {
            assert_eq!(
                hotp::<sha1::Sha1>(b"12345678901234567890", c as u64, 6),
                *w,
                "counter {c}"
            );
        }
    }

    #[test]
    fn matching_step_accepts_one_step_either_side_only() {
        let secret = new_secret();
        let now = 1_000_000;
        for d in -1..=1 {
            assert_eq!(
                matching_step(&secret, &code_at_step(&secret, now + d), now),
                Some(now + d)
            );
        }
        for d in [-3, -2, 2, 3] {
            let code = code_at_step(&secret, now + d);
            // A far-off code could collide with a near one by chance (1e-6).
            let collides = (-1..=1).any(|n| code_at_step(&secret, now + n) == code);
            assert_eq!(matching_step(&secret, &code, now).is_some(), collides, "offset {d}");
        }
        assert_eq!(matching_step(&secret, "12345", now), None);
        assert_eq!(matching_step(&secret, "1234567", now), None);
        assert_eq!(matching_step(&secret, "12a456", now), None);
    }

    #[test]
    fn otpauth_uri_and_qr() {
        let secret = b"12345678901234567890";
        let uri = otpauth_uri(secret, "ada+x@example.org");
        assert_eq!(
            uri,
            "otpauth://totp/Lyceum:ada%2Bx%40example.org?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ\
             &issuer=Lyceum&algorithm=SHA1&digits=6&period=30"
        );
        let qr = qr_svg_data_uri(&uri).unwrap();
        let b64 = qr.strip_prefix("data:image/svg+xml;base64,").unwrap();
        let svg = base64::Engine::decode(&base64::engine::general_purpose::STANDARD, b64).unwrap();
        let svg = String::from_utf8(svg).unwrap();
        assert!(svg.contains("<svg"), "{svg}");
    }

    #[test]
    fn recovery_codes_are_random_and_normalise() {
        let a = new_recovery_code();
        let b = new_recovery_code();
        assert_ne!(a, b);
        assert_eq!(a.len(), 19);
        assert_eq!(a.matches('-').count(), 3);
        assert!(normalise_recovery_code(&a)
            .bytes()
            .all(|c| RECOVERY_ALPHABET[..31].contains(&c)));
        assert_eq!(
            recovery_code_hash(&a),
            recovery_code_hash(&format!(" {} ", a.to_uppercase().replace('-', " ")))
        );
        assert_ne!(recovery_code_hash(&a), recovery_code_hash(&b));
        assert_eq!(as_totp_code("123 456").as_deref(), Some("123456"));
        assert_eq!(as_totp_code(&a), None);
    }

    #[test]
    fn sealed_secrets_open_only_with_the_key_and_account() {
        let b = SecretBox::new(b"key material key material key material");
        let sealed = b.seal(b"secret", b"user-1").unwrap();
        assert_eq!(b.open(&sealed, b"user-1").unwrap(), b"secret");
        assert!(b.open(&sealed, b"user-2").is_err());
        assert!(SecretBox::new(b"another key another key another key")
            .open(&sealed, b"user-1")
            .is_err());
        assert!(b.open(&sealed[..5], b"user-1").is_err());
    }
}
