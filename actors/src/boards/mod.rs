//! The boards' live side: who on this node watches which open thread, and
//! handing each thread's changes (a new reply, an edit, a vote, the
//! accepted answer, moderation) to them. One actor for the node,
//! [`Boards`]: a watch is a connection id and its outbox, and a change is
//! one frame serialised once by its sender and queued to every watcher's
//! outbox. The boards' rules and SQL live with their HTTP routes
//! (`src/routes/boards/`), which tell this actor after each commit; what is
//! decided here is only whether a thread may be watched ([`store`]).

pub mod store;

use std::collections::{HashMap, HashSet};

use actix::prelude::*;
use bytestring::ByteString;
use uuid::Uuid;

use crate::core::outbox::Outbox;

/// The actor's mailbox. Watches come through `core::offer` (refused with
/// `overloaded` when full); changes from HTTP through `try_send` (dropped
/// and logged when full: the change is committed, a reader reloading the
/// thread sees it).
pub const MAILBOX: usize = 4096;
/// Threads one connection may watch at once; more is `too_many_watches`.
pub const MAX_WATCHES_PER_CONNECTION: usize = 16;

#[derive(Default)]
pub struct Boards {
    threads: HashMap<Uuid, HashMap<u64, Outbox>>,
    /// The threads each connection watches, to forget them when it closes.
    conns: HashMap<u64, HashSet<Uuid>>,
}

impl Actor for Boards {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        ctx.set_mailbox_capacity(MAILBOX);
    }
}

/// Start sending a thread's changes to this connection.
#[derive(Message)]
#[rtype(result = "()")]
pub struct Watch {
    pub thread: Uuid,
    pub conn: u64,
    pub outbox: Outbox,
}

#[derive(Message)]
#[rtype(result = "()")]
pub struct Unwatch {
    pub thread: Uuid,
    pub conn: u64,
}

/// The connection closed: forget its watches.
#[derive(Message)]
#[rtype(result = "()")]
pub struct Closed {
    pub conn: u64,
}

/// A committed change of a thread, as the `thread_updated` frame its
/// watchers get.
#[derive(Message)]
#[rtype(result = "()")]
pub struct Changed {
    pub thread: Uuid,
    pub frame: ByteString,
}

impl Boards {
    fn forget(&mut self, thread: Uuid, conn: u64) {
        if let Some(w) = self.threads.get_mut(&thread) {
            w.remove(&conn);
            if w.is_empty() {
                self.threads.remove(&thread);
            }
        }
        if let Some(t) = self.conns.get_mut(&conn) {
            t.remove(&thread);
            if t.is_empty() {
                self.conns.remove(&conn);
            }
        }
    }
}

impl Handler<Watch> for Boards {
    type Result = ();
    fn handle(&mut self, m: Watch, _: &mut Context<Self>) {
        self.threads.entry(m.thread).or_default().insert(m.conn, m.outbox);
        self.conns.entry(m.conn).or_default().insert(m.thread);
    }
}

impl Handler<Unwatch> for Boards {
    type Result = ();
    fn handle(&mut self, m: Unwatch, _: &mut Context<Self>) {
        self.forget(m.thread, m.conn);
    }
}

impl Handler<Closed> for Boards {
    type Result = ();
    fn handle(&mut self, m: Closed, _: &mut Context<Self>) {
        for thread in self.conns.remove(&m.conn).unwrap_or_default() {
            if let Some(w) = self.threads.get_mut(&thread) {
                w.remove(&m.conn);
                if w.is_empty() {
                    self.threads.remove(&thread);
                }
            }
        }
    }
}

impl Handler<Changed> for Boards {
    type Result = ();
    fn handle(&mut self, m: Changed, _: &mut Context<Self>) {
        let Some(watchers) = self.threads.get(&m.thread) else {
            return;
        };
        let mut gone = Vec::new();
        for (conn, outbox) in watchers {
            // A full outbox closes its connection as a slow consumer (the
            // outbox's rule); a closed one is forgotten here.
            if outbox.is_closed() || !outbox.text(m.frame.clone()) {
                gone.push(*conn);
            }
        }
        for conn in gone {
            self.forget(m.thread, conn);
        }
    }
}
