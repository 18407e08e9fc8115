//! See `lyceum_sfu::fuzzing::DemuxTarget` (sfu/src/shard/fuzzing/targets.rs): the
//! same body replays fuzz/regressions/demux in sfu/tests/fuzz_regressions.rs.
#![no_main]

use std::cell::RefCell;

use libfuzzer_sys::fuzz_target;
use lyceum_sfu::fuzzing::DemuxTarget;

thread_local! {
    static TARGET: RefCell<Option<DemuxTarget>> = const { RefCell::new(None) };
}

fuzz_target!(|data: &[u8]| {
    TARGET.with(|t| {
        let mut t = t.borrow_mut();
        if t.is_none() {
            lyceum_sfu::fuzzing::tolerate_caught_panics();
            match DemuxTarget::new() {
                Ok(n) => *t = Some(n),
                Err(e) => panic!("the fuzz shard could not start: {e}"),
            }
        }
        if let Some(t) = t.as_mut() {
            t.run(data);
        }
    });
});
