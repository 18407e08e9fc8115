//! Find-or-start by id: the running actor of a room, a mentor's calendar or
//! a live room, started on first use and forgotten when it stops.
//!
//! Each entry carries a generation so that an actor which stops after a
//! newer one took its id does not remove the newer one.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

use actix::{Actor, Addr};

pub struct Registry<K, A: Actor> {
    running: Mutex<HashMap<K, (u64, Addr<A>)>>,
    next_generation: AtomicU64,
}

impl<K: Eq + Hash + Copy, A: Actor> Default for Registry<K, A> {
    fn default() -> Self {
        Registry {
            running: Mutex::new(HashMap::new()),
            next_generation: AtomicU64::new(1),
        }
    }
}

impl<K: Eq + Hash + Copy, A: Actor> Registry<K, A> {
    /// The running actor for `id`, or the one `start(generation)` starts.
    /// `start` runs under the registry's lock, so two callers never start two.
    pub fn get_or_start(&self, id: K, start: impl FnOnce(u64) -> Addr<A>) -> Addr<A> {
        let mut running = self.running.lock().unwrap_or_else(|p| p.into_inner());
        if let Some((_, addr)) = running.get(&id).filter(|(_, a)| a.connected()) {
            return addr.clone();
        }
        let generation = self.next_generation.fetch_add(1, Ordering::Relaxed);
        let addr = start(generation);
        running.insert(id, (generation, addr.clone()));
        addr
    }

    /// The actor for `id` only if it is running (for notices that need not
    /// wake it).
    pub fn running(&self, id: K) -> Option<Addr<A>> {
        let running = self.running.lock().unwrap_or_else(|p| p.into_inner());
        running.get(&id).filter(|(_, a)| a.connected()).map(|(_, a)| a.clone())
    }

    /// Called by an actor as it stops; a newer generation is left alone.
    pub fn forget(&self, id: K, generation: u64) {
        let mut running = self.running.lock().unwrap_or_else(|p| p.into_inner());
        if running.get(&id).is_some_and(|(g, _)| *g == generation) {
            running.remove(&id);
        }
    }

    pub fn len(&self) -> usize {
        self.running.lock().map(|r| r.len()).unwrap_or(0)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}
