//! The SFU must build without the web stack: no actix, no serde_json (the
//! live domain owns WebSockets and JSON). `cargo tree` resolves this crate's
//! own dependency graph, features included, so a default-featured
//! lyceum-protocol (which pulls serde_json) fails here too.

use std::process::Command;

#[test]
fn no_web_stack_in_the_dependency_tree() {
    let out = Command::new(env!("CARGO"))
        .args([
            "tree",
            "--offline",
            "-e",
            "normal",
            "--prefix",
            "none",
            "-p",
            "lyceum-sfu",
        ])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("cargo tree runs");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let tree = String::from_utf8_lossy(&out.stdout);
    let bad: Vec<&str> = tree
        .lines()
        .filter(|l| l.starts_with("actix") || l.starts_with("serde_json "))
        .collect();
    assert!(bad.is_empty(), "lyceum-sfu depends on {bad:?}");
    assert!(
        tree.lines().any(|l| l.starts_with("str0m ")),
        "the tree was read: {tree}"
    );
}
