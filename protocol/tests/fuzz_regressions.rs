//! Every input kept under fuzz/regressions/ws_command (crashes the fuzzer
//! found, docs/fuzzing.md) and the seed corpus, replayed without libFuzzer
//! through the same check as fuzz/fuzz_targets/ws_command.rs: the text-frame
//! parser the gateway uses never panics, and what it accepts serialises and
//! parses back to the same command.
#![cfg(feature = "json")]

use std::path::Path;

use lyceum_protocol::frames::{command_frame, error, parse};

fn check(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else { return };
    match parse(text) {
        Ok(env) => {
            let again = command_frame(env.id.clone(), &env.command);
            let back = match parse(&again) {
                Ok(b) => b,
                Err(e) => panic!("{again} does not parse back: {}", e.message),
            };
            if !env.id.as_ref().is_some_and(|v| v.is_f64()) {
                assert_eq!(back.id, env.id);
            }
            let value = |c| serde_json::to_value(c).ok();
            assert_eq!(value(&back.command), value(&env.command));
        }
        Err(e) => {
            let _ = error(&e.id, e.code, &e.message);
        }
    }
}

#[test]
fn ws_command_regressions_and_seeds_replay_cleanly() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz");
    let (mut seeds, mut parsed) = (0, 0);
    for kind in ["regressions", "seeds"] {
        let dir = root.join(kind).join("ws_command");
        let mut files: Vec<_> = std::fs::read_dir(&dir)
            .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
            .map(|e| e.unwrap().path())
            .filter(|p| p.is_file() && p.file_name().is_some_and(|n| n != "README.md"))
            .collect();
        files.sort();
        for path in files {
            eprintln!("replaying {}", path.display());
            let data = std::fs::read(&path).unwrap();
            check(&data);
            if kind == "seeds" {
                seeds += 1;
                // The seeds are the documented commands: each one parses.
                let text = std::str::from_utf8(&data).unwrap();
                assert!(parse(text).is_ok(), "{}", path.display());
                parsed += 1;
            }
        }
    }
    assert!(seeds >= 32 && parsed == seeds, "{parsed} of {seeds} seeds");
}
