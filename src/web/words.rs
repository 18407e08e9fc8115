//! Errors in words for people: what went wrong and what to do next. The API
//! gives a code and a message for programs; a page says it as a sentence.

use lyceum_protocol::ErrorCode;

use crate::error::ApiError;

/// What a person reads for an error, with what to do next.
pub fn explain(e: &ApiError) -> String {
    use ErrorCode as C;
    let next = match e.code() {
        C::InvalidEmail => "Check the email address: it should look like name@example.org.",
        C::WeakPassword => "Choose a longer password that is not a common one and not your email.",
        C::InvalidDisplayName => "Use a name of 1 to 80 letters, digits, spaces or punctuation.",
        C::EmailTaken => "An account with this email already exists: sign in instead, or use another email.",
        C::InvalidCredentials => "The email or the password is wrong. Check both and try again.",
        C::TwoFactorRequired => "Enter the six-digit code from your authenticator app.",
        C::InvalidTwoFactorCode => "That code did not work. Enter the current code from your app, or a recovery code.",
        C::RateLimited => "Too many attempts in a short time. Wait a minute and try again.",
        C::AlreadyBooked => "You have already booked this one: it is in My bookings.",
        C::BookingClosed => "This slot has started, is over or was cancelled, so it can no longer be booked.",
        C::OfferingNotFound | C::NotFound => "It may have been cancelled or removed. Go back and choose another.",
        C::NotBooked => "You have no booking for this, so there is nothing to cancel.",
        C::Overlap => "It overlaps another of your slots or sessions. Choose another time.",
        C::InvalidSlot => "Check the date, the times and the number of seats.",
        C::InvalidAgenda => "Shorten the goals or questions and try again.",
        C::InvalidProfile => "Check the highlighted field and try again.",
        C::InvalidReview => "Choose a rating from 1 to 5 and keep the text under 4000 characters.",
        C::NotAttended => {
            "Reviews open once you have attended: join the session, or ask the mentor to mark you present."
        }
        C::InvalidMentorship => {
            "Check the dates (starting today or later, ending after the start) and write your goals."
        }
        C::MentorshipExists => "You already have an open mentorship with this mentor: it is in Mentorships.",
        C::MentorshipClosed => "This mentorship has moved on already; the list shows where it stands.",
        C::InvalidQuestionnaire => {
            "Check the skills, the time (To after From) and the time zone (such as Europe/Berlin)."
        }
        C::AlreadyReviewed => "You have reviewed this one already; you can change that review for 14 days.",
        C::NotificationNotFound => "Nothing was marked read.",
        C::Forbidden | C::GuestNotAllowed => "Your account cannot do this. Sign in with an account that can.",
        C::DatabaseUnavailable | C::Unavailable | C::Overloaded => {
            "The service is busy or briefly unavailable. Nothing was changed: try again in a moment."
        }
        C::Internal => {
            "Something went wrong on our side. Nothing was changed: try again, and tell us if it keeps happening."
        }
        _ => "",
    };
    let mut said = match e {
        ApiError::Refused { message, .. } => sentence(message),
        ApiError::TooManyRequests { retry_after_secs } => {
            format!("Too many attempts: you can try again in {retry_after_secs} seconds.")
        }
        _ => String::new(),
    };
    if matches!(e, ApiError::TooManyRequests { .. }) {
        return said;
    }
    if !next.is_empty() {
        if !said.is_empty() {
            said.push(' ');
        }
        said.push_str(next);
    }
    if said.is_empty() {
        said = "That did not work. Try again.".to_owned();
    }
    said
}

/// "a password needs …" → "A password needs ….".
fn sentence(message: &str) -> String {
    let m = message.trim();
    let mut c = m.chars();
    let mut s = match c.next() {
        Some(f) => f.to_uppercase().collect::<String>() + c.as_str(),
        None => return String::new(),
    };
    if !s.ends_with(['.', '!', '?']) {
        s.push('.');
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_error_reads_as_a_sentence_with_what_to_do() {
        let e = ApiError::new(ErrorCode::WeakPassword, "a password needs at least 10 characters");
        assert_eq!(
            explain(&e),
            "A password needs at least 10 characters. Choose a longer password that is not a common one and not your email."
        );
        let e = ApiError::TooManyRequests { retry_after_secs: 7 };
        assert_eq!(explain(&e), "Too many attempts: you can try again in 7 seconds.");
    }
}
