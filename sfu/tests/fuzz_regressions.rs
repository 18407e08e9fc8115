//! Every input kept under fuzz/regressions/{sdp_offer,demux} (crashes the
//! fuzzers found, docs/fuzzing.md), and the seed corpora, replayed through
//! the fuzz targets' own bodies, without libFuzzer: a plain `cargo test`
//! checks them on every CI run.

use std::path::{Path, PathBuf};

use lyceum_sfu::fuzzing::{DemuxTarget, FuzzShard, SdpOfferTarget, CHROMIUM_OFFER};
use lyceum_sfu::UserId;

fn inputs(kind: &str, target: &str) -> std::io::Result<Vec<(PathBuf, Vec<u8>)>> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../fuzz")
        .join(kind)
        .join(target);
    let mut files = vec![];
    for e in std::fs::read_dir(&dir)? {
        let p = e?.path();
        if p.is_file() && p.file_name().is_some_and(|n| n != "README.md") {
            files.push(p);
        }
    }
    files.sort();
    files
        .into_iter()
        .map(|p| std::fs::read(&p).map(|data| (p, data)))
        .collect()
}

fn replay(target: &str, mut run: impl FnMut(&[u8])) -> std::io::Result<usize> {
    let mut n = 0;
    for kind in ["regressions", "seeds"] {
        for (path, data) in inputs(kind, target)? {
            eprintln!("replaying {}", path.display());
            run(&data);
            n += 1;
        }
    }
    Ok(n)
}

#[test]
fn sdp_offer_regressions_and_seeds_replay_cleanly() {
    let mut t = SdpOfferTarget::new().unwrap();
    let n = replay("sdp_offer", |d| t.run(d)).unwrap();
    assert!(n > 0, "no inputs found");
}

#[test]
fn demux_regressions_and_seeds_replay_cleanly() {
    let mut t = DemuxTarget::new().unwrap();
    let n = replay("demux", |d| t.run(d)).unwrap();
    assert!(n > 0, "no inputs found");
}

/// The seed is a real publish: answered with the three simulcast layers and
/// both media; a subscriber then gets an offer (its tracks come once the
/// publisher's media flows, which needs DTLS).
#[test]
fn the_chromium_seed_offer_is_answered() {
    let mut s = FuzzShard::new().unwrap();
    let (a, b) = (UserId(uuid::Uuid::from_u128(1)), UserId(uuid::Uuid::from_u128(2)));
    let now = std::time::Instant::now();
    let answer = s.publish(a, CHROMIUM_OFFER, now).unwrap();
    for line in ["a=simulcast:recv l;m;h", "m=video", "m=audio", "a=recvonly"] {
        assert!(answer.sdp.contains(line), "{line}: {}", answer.sdp);
    }
    assert_eq!(s.ufrags(a).len(), 1);
    let sub = s.subscribe(b, now).unwrap();
    assert!(sub.sdp.starts_with("v=0"), "{}", sub.sdp);
    s.check();
    assert_eq!(s.counts().peers, 2);
    s.remove(a, now);
    s.remove(b, now);
    s.check();
    assert_eq!(s.counts().peers, 0);
}
