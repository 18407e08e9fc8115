//! Arbitrary bytes as a WebSocket text frame, through the parser the gateway
//! uses (`Connection::handle_text` -> `lyceum_protocol::parse`). actix-ws
//! hands the gateway only valid UTF-8, so other bytes are skipped. The parser
//! must never panic; a parsed command must serialise again and parse back to
//! the same command (compared as JSON values, which sort map keys: what `command_frame` sends is what `parse` reads).
#![no_main]

use libfuzzer_sys::fuzz_target;
use lyceum_protocol::frames::{command_frame, parse};
use lyceum_protocol::ErrorCode;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    match parse(text) {
        Ok(env) => {
            let again = command_frame(env.id.clone(), &env.command);
            let back = match parse(&again) {
                Ok(b) => b,
                Err(e) => panic!("{again} does not parse back: {}", e.message),
            };
            // Floats need not survive a round trip to the last bit (serde_json
            // without `float_roundtrip`); every other id must.
            if !env.id.as_ref().is_some_and(|v| v.is_f64()) {
                assert_eq!(back.id, env.id);
            }
            let value = |c| serde_json::to_value(c).ok();
            assert_eq!(value(&back.command), value(&env.command));
        }
        // What the gateway answers with; it must not panic either.
        Err(e) => {
            let _ = lyceum_protocol::frames::error(&e.id, e.code, &e.message);
        }
    }
});
