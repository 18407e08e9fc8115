//! Argon2id password hashing with OWASP's parameters, always off the async
//! threads: a hash costs tens of milliseconds of CPU and 19 MiB by design.

use anyhow::Context;
use argon2::password_hash::{rand_core::OsRng, PasswordHash, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};

/// OWASP Password Storage Cheat Sheet: argon2id, m = 19 MiB, t = 2, p = 1.
fn hasher() -> anyhow::Result<Argon2<'static>> {
    let params = Params::new(19 * 1024, 2, 1, None).map_err(|e| anyhow::anyhow!("argon2 params: {e}"))?;
    Ok(Argon2::new(Algorithm::Argon2id, Version::V0x13, params))
}

type Job = Box<dyn FnOnce() + Send>;

/// Hashing runs on a few long-lived threads of its own, one per core.
/// Each hash allocates 19 MiB; on tokio's blocking pool every new thread
/// got its own malloc arena that kept that memory after the hash (we saw
/// ~380 MiB of RSS after 20 sign-ins). On fixed threads the same memory is
/// reused, and a burst of sign-ins queues here instead of spawning threads.
fn pool() -> &'static std::sync::mpsc::SyncSender<Job> {
    static POOL: std::sync::OnceLock<std::sync::mpsc::SyncSender<Job>> = std::sync::OnceLock::new();
    POOL.get_or_init(|| {
        let n = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(2);
        // Bounded: a flood of requests waits in `run` rather than in memory.
        let (tx, rx) = std::sync::mpsc::sync_channel::<Job>(64);
        let rx = std::sync::Arc::new(std::sync::Mutex::new(rx));
        for i in 0..n {
            let rx = rx.clone();
            let _ = std::thread::Builder::new()
                .name(format!("argon2-{i}"))
                .spawn(move || loop {
                    let job = match rx.lock() {
                        Ok(r) => r.recv(),
                        Err(_) => return,
                    };
                    match job {
                        Ok(job) => job(),
                        Err(_) => return,
                    }
                });
        }
        tx
    })
}

/// Runs `f` on the hashing threads and awaits its result.
async fn run<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> anyhow::Result<T> {
    let (tx, rx) = tokio::sync::oneshot::channel();
    let job: Job = Box::new(move || {
        let _ = tx.send(f());
    });
    let sender = pool().clone();
    // A full queue blocks, so hand it over off the async threads.
    tokio::task::spawn_blocking(move || sender.send(job))
        .await
        .context("hashing queue")?
        .map_err(|_| anyhow::anyhow!("hashing threads are gone"))?;
    rx.await.context("hashing thread dropped the job")
}

thread_local! {
    /// The hashing thread's 19 MiB work area, allocated once and reused.
    static BLOCKS: std::cell::RefCell<Vec<argon2::Block>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// Argon2 into `out`, with the thread's reusable work area.
fn argon2_into(a: &Argon2<'_>, params: &Params, pwd: &[u8], salt: &[u8], out: &mut [u8]) -> anyhow::Result<()> {
    BLOCKS.with(|b| {
        let mut blocks = b.borrow_mut();
        if blocks.len() != params.block_count() {
            blocks.clear();
            blocks.resize(params.block_count(), argon2::Block::default());
            blocks.shrink_to_fit();
        }
        a.hash_password_into_with_memory(pwd, salt, out, &mut blocks[..])
            .map_err(|e| anyhow::anyhow!("argon2: {e}"))
    })
}

/// A PHC string (`$argon2id$v=19$m=19456,t=2,p=1$salt$hash`).
fn hash_phc(password: &[u8]) -> anyhow::Result<String> {
    let a = hasher()?;
    let params = a.params().clone();
    let salt = SaltString::generate(&mut OsRng);
    let mut salt_buf = [0u8; 64];
    let salt_bytes = salt
        .decode_b64(&mut salt_buf)
        .map_err(|e| anyhow::anyhow!("salt: {e}"))?;
    let len = params.output_len().unwrap_or(Params::DEFAULT_OUTPUT_LEN);
    let output = argon2::password_hash::Output::init_with(len, |out| {
        argon2_into(&a, &params, password, salt_bytes, out).map_err(|_| argon2::password_hash::Error::Crypto)
    })
    .map_err(|e| anyhow::anyhow!("argon2 output: {e}"))?;
    let phc = PasswordHash {
        algorithm: Algorithm::Argon2id.ident(),
        version: Some(Version::V0x13.into()),
        params: argon2::password_hash::ParamsString::try_from(&params).map_err(|e| anyhow::anyhow!("{e}"))?,
        salt: Some(salt.as_salt()),
        hash: Some(output),
    };
    Ok(phc.to_string())
}

/// Checks a password against a stored PHC string, with the parameters the
/// string names (so older hashes keep verifying after a parameter change).
fn verify_phc(password: &[u8], stored: &str) -> anyhow::Result<bool> {
    let parsed = PasswordHash::new(stored).map_err(|e| anyhow::anyhow!("stored hash: {e}"))?;
    let algorithm = Algorithm::try_from(parsed.algorithm).map_err(|e| anyhow::anyhow!("{e}"))?;
    let version = parsed
        .version
        .map(Version::try_from)
        .transpose()
        .map_err(|e| anyhow::anyhow!("{e}"))?
        .unwrap_or_default();
    let params = Params::try_from(&parsed).map_err(|e| anyhow::anyhow!("{e}"))?;
    let (Some(salt), Some(expected)) = (parsed.salt, parsed.hash) else {
        return Ok(false);
    };
    let mut salt_buf = [0u8; 64];
    let salt_bytes = salt
        .decode_b64(&mut salt_buf)
        .map_err(|e| anyhow::anyhow!("salt: {e}"))?;
    let a = Argon2::new(algorithm, version, params.clone());
    let mut out = vec![0u8; expected.len()];
    argon2_into(&a, &params, password, salt_bytes, &mut out)?;
    let actual = argon2::password_hash::Output::new(&out).map_err(|e| anyhow::anyhow!("{e}"))?;
    // Output's equality is constant-time.
    Ok(actual == expected)
}

pub async fn hash(password: String) -> anyhow::Result<String> {
    run(move || hash_phc(password.as_bytes())).await?
}

/// A hash of a random password, verified against when the account does not
/// exist so that a wrong email costs as long as a wrong password (no
/// account enumeration by timing).
fn dummy_hash() -> &'static str {
    static DUMMY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DUMMY.get_or_init(|| hash_phc(b"not a real password").unwrap_or_default())
}

/// Verifies against the stored hash; with none (no such account), spends
/// the same time on a dummy hash and answers false.
pub async fn verify(password: String, stored: Option<String>) -> anyhow::Result<bool> {
    run(move || match stored {
        Some(h) => verify_phc(password.as_bytes(), &h),
        None => verify_phc(password.as_bytes(), dummy_hash()).map(|_| false),
    })
    .await?
}

#[cfg(test)]
mod tests {
    use super::*;
    use argon2::password_hash::{PasswordHasher, PasswordVerifier};

    #[test]
    fn hashes_verify_and_match_the_reference_implementation() {
        let h = hash_phc(b"correct horse battery").unwrap();
        assert!(h.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{h}");
        assert!(verify_phc(b"correct horse battery", &h).unwrap());
        assert!(!verify_phc(b"wrong horse battery", &h).unwrap());
        // A hash made by the crate's own PasswordHasher verifies here, and ours there.
        let reference = hasher()
            .unwrap()
            .hash_password(b"pw-123456789", &SaltString::generate(&mut OsRng))
            .unwrap()
            .to_string();
        assert!(verify_phc(b"pw-123456789", &reference).unwrap());
        let ours = hash_phc(b"pw-123456789").unwrap();
        assert!(hasher()
            .unwrap()
            .verify_password(b"pw-123456789", &PasswordHash::new(&ours).unwrap())
            .is_ok());
    }
}
