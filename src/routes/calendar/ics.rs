//! iCalendar (RFC 5545) output for calendar feeds and single confirmations:
//! UTC times, escaped text, lines folded at 75 octets, CRLF line ends.

use chrono::{DateTime, Utc};
use uuid::Uuid;

pub struct Event {
    pub uid: Uuid,
    pub starts_at: DateTime<Utc>,
    pub ends_at: DateTime<Utc>,
    pub summary: String,
    pub description: String,
    pub cancelled: bool,
    pub updated_at: DateTime<Utc>,
}

fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            ';' => out.push_str("\\;"),
            ',' => out.push_str("\\,"),
            '\n' => out.push_str("\\n"),
            '\r' => {}
            c => out.push(c),
        }
    }
    out
}

/// Folds a content line: at most 75 octets per line, continuation lines
/// start with a space, never splitting a UTF-8 character.
fn fold(line: &str, out: &mut String) {
    let mut width = 0;
    for c in line.chars() {
        let n = c.len_utf8();
        if width + n > 75 {
            out.push_str("\r\n ");
            width = 1;
        }
        out.push(c);
        width += n;
    }
    out.push_str("\r\n");
}

fn stamp(t: DateTime<Utc>) -> String {
    t.format("%Y%m%dT%H%M%SZ").to_string()
}

pub fn calendar(name: &str, events: &[Event]) -> String {
    let mut out = String::new();
    for l in [
        "BEGIN:VCALENDAR",
        "VERSION:2.0",
        "PRODID:-//Lyceum//Mentorship//EN",
        "CALSCALE:GREGORIAN",
        "METHOD:PUBLISH",
    ] {
        fold(l, &mut out);
    }
    fold(&format!("X-WR-CALNAME:{}", escape(name)), &mut out);
    for e in events {
        fold("BEGIN:VEVENT", &mut out);
        fold(&format!("UID:{}@lyceum", e.uid), &mut out);
        fold(&format!("DTSTAMP:{}", stamp(e.updated_at)), &mut out);
        fold(&format!("DTSTART:{}", stamp(e.starts_at)), &mut out);
        fold(&format!("DTEND:{}", stamp(e.ends_at)), &mut out);
        fold(&format!("SUMMARY:{}", escape(&e.summary)), &mut out);
        if !e.description.is_empty() {
            fold(&format!("DESCRIPTION:{}", escape(&e.description)), &mut out);
        }
        fold(
            &format!("STATUS:{}", if e.cancelled { "CANCELLED" } else { "CONFIRMED" }),
            &mut out,
        );
        // Calendar apps apply an update only when SEQUENCE grows.
        fold(&format!("SEQUENCE:{}", e.updated_at.timestamp()), &mut out);
        fold("END:VEVENT", &mut out);
    }
    fold("END:VCALENDAR", &mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folds_long_lines_and_escapes_text() {
        let e = Event {
            uid: Uuid::nil(),
            starts_at: Utc::now(),
            ends_at: Utc::now(),
            summary: "Résumé review; interviews, offers\nand more ".repeat(5),
            description: String::new(),
            cancelled: false,
            updated_at: Utc::now(),
        };
        let c = calendar("x", &[e]);
        assert!(c.lines().all(|l| l.len() <= 76), "{c}");
        assert!(c.contains("\\;") && c.contains("\\,") && c.contains("\\n"));
        assert!(c.ends_with("END:VCALENDAR\r\n"));
    }
}
