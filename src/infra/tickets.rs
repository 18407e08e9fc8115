//! One-time WebSocket tickets. Browsers cannot set an Authorization header on
//! a WebSocket, and an access token in the URL would end up in logs; so a
//! signed-in page asks `POST /api/ws/ticket` for a ticket that is good for
//! one upgrade within `TICKET_TTL`, and connects to `/ws?ticket=...`.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::auth::AuthUser;

pub const TICKET_TTL: Duration = Duration::from_secs(30);
/// Above this many outstanding tickets, expired ones are swept on insert.
const SWEEP_ABOVE: usize = 1024;

#[derive(Default)]
pub struct TicketStore {
    tickets: Mutex<HashMap<String, (AuthUser, Instant)>>,
}

impl TicketStore {
    pub fn issue(&self, user: AuthUser) -> String {
        let ticket = crate::auth::refresh::generate();
        let mut map = self.tickets.lock().unwrap_or_else(|p| p.into_inner());
        if map.len() > SWEEP_ABOVE {
            let now = Instant::now();
            map.retain(|_, (_, exp)| *exp > now);
        }
        map.insert(ticket.clone(), (user, Instant::now() + TICKET_TTL));
        ticket
    }

    /// The ticket's user, once: a ticket cannot be redeemed twice.
    pub fn redeem(&self, ticket: &str) -> Option<AuthUser> {
        let mut map = self.tickets.lock().unwrap_or_else(|p| p.into_inner());
        map.remove(ticket)
            .filter(|(_, exp)| *exp > Instant::now())
            .map(|(u, _)| u)
    }
}
