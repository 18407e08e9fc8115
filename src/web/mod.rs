//! The web pages (issue 14): rendered on the server with maud, enhanced by
//! small ES modules for what is live. `session` holds page sign-ins and CSRF,
//! `layout` the one layout and the page headers, `bridge` the calls into the
//! API's handlers, `words` errors as sentences; the rest are the pages.
//! The routes are in `routes::ROUTES` with the API's.

pub mod admin;
pub mod assets;
pub mod auth_pages;
pub mod boards;
pub mod bookings;
pub mod bridge;
pub mod calendar;
pub mod chat;
pub mod home;
pub mod layout;
pub mod live_room;
pub mod mentors;
pub mod mentorships;
pub mod profile;
pub mod seo;
pub mod session;
pub mod sessions;
pub mod words;

pub use session::{Viewer, WebKeys};
