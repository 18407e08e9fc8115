//! A post's Markdown into HTML that is safe to put in anyone's page, and the
//! `@mentions` it makes.
//!
//! Two walls: the Markdown events are rewritten before HTML is written (raw
//! HTML becomes visible text, an image becomes a link to it, so a reader's
//! browser never fetches a remote image by itself), and the HTML is then
//! cleaned by ammonia against an allowlist (no script, no style, no event
//! handlers, no `javascript:` URLs, links get `rel="nofollow noopener
//! noreferrer ugc"`). Either wall alone would stop a script; both must fail
//! for one to run.

use std::collections::{BTreeSet, HashSet};

use pulldown_cmark::{CowStr, Event, Options, Parser, Tag, TagEnd, TextMergeStream};

/// The most distinct names one post can mention (the rest are ignored).
pub const MAX_MENTIONS: usize = 10;
/// The longest name after `@` that is looked up.
const MAX_MENTION_CHARS: usize = 64;

/// A rendered post.
pub struct Rendered {
    pub html: String,
    /// The names mentioned (`@name`, lowercased, at most [`MAX_MENTIONS`]),
    /// outside code spans and code blocks.
    pub mentions: Vec<String>,
}

pub fn render(markdown: &str) -> Rendered {
    let mut options = Options::empty();
    options.insert(Options::ENABLE_STRIKETHROUGH);
    options.insert(Options::ENABLE_TABLES);
    let parser = TextMergeStream::new(Parser::new_ext(markdown, options));
    let mut mentions = BTreeSet::new();
    let mut in_code_block = false;
    let events = parser.flat_map(|event| -> Vec<Event<'_>> {
        match event {
            Event::Start(Tag::CodeBlock(kind)) => {
                in_code_block = true;
                vec![Event::Start(Tag::CodeBlock(kind))]
            }
            Event::End(TagEnd::CodeBlock) => {
                in_code_block = false;
                vec![Event::End(TagEnd::CodeBlock)]
            }
            Event::Text(t) => {
                if !in_code_block {
                    collect_mentions(&t, &mut mentions);
                }
                vec![Event::Text(t)]
            }
            // Raw HTML is shown, not obeyed.
            Event::Html(h) | Event::InlineHtml(h) => vec![Event::Text(h)],
            // An image is a link to it: nothing is fetched until the reader
            // chooses to follow it.
            Event::Start(Tag::Image {
                link_type,
                dest_url,
                title,
                id,
            }) => vec![
                Event::Start(Tag::Link {
                    link_type,
                    dest_url,
                    title,
                    id,
                }),
                Event::Text(CowStr::Borrowed("image: ")),
            ],
            Event::End(TagEnd::Image) => vec![Event::End(TagEnd::Link)],
            other => vec![other],
        }
    });
    let mut raw = String::with_capacity(markdown.len() * 3 / 2);
    pulldown_cmark::html::push_html(&mut raw, events);
    Rendered {
        html: clean(&raw),
        mentions: mentions.into_iter().take(MAX_MENTIONS).collect(),
    }
}

/// The allowlist: ammonia's defaults (no script, style, iframe, form or
/// event handler), without images, with only web and mail links.
fn clean(html: &str) -> String {
    let schemes: HashSet<&str> = ["http", "https", "mailto"].into_iter().collect();
    ammonia::Builder::default()
        .rm_tags(["img"])
        .url_schemes(schemes)
        .link_rel(Some("nofollow noopener noreferrer ugc"))
        .clean(html)
        .to_string()
}

/// `@name` tokens of a text: an `@` at the start or after a character that
/// is not a letter, digit or `_` (so `ada@example.org` mentions nobody),
/// then letters, digits, `_`, `.` and `-` (a trailing `.` or `-` is
/// punctuation, not the name), lowercased.
fn collect_mentions(text: &str, out: &mut BTreeSet<String>) {
    let chars: Vec<char> = text.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let starts = chars[i] == '@' && (i == 0 || !(chars[i - 1].is_alphanumeric() || chars[i - 1] == '_'));
        if !starts {
            i += 1;
            continue;
        }
        let mut j = i + 1;
        while j < chars.len() && (chars[j].is_alphanumeric() || matches!(chars[j], '_' | '.' | '-')) {
            j += 1;
        }
        let name: String = chars[i + 1..j].iter().collect();
        let name = name.trim_end_matches(['.', '-']);
        if !name.is_empty() && name.chars().count() <= MAX_MENTION_CHARS {
            out.insert(name.to_lowercase());
        }
        i = j.max(i + 1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn script_and_handlers_are_inert() {
        let r = render("hi <script>alert(1)</script> <img src=x onerror=alert(1)> [a](javascript:alert(1))");
        assert!(!r.html.contains("<script"), "{}", r.html);
        assert!(!r.html.contains("<img"), "{}", r.html);
        assert!(!r.html.contains("javascript:"), "{}", r.html);
        assert!(r.html.contains("&lt;script&gt;"), "{}", r.html);
    }

    #[test]
    fn images_become_links() {
        let r = render("![a cat](https://example.org/cat.png)");
        assert!(!r.html.contains("<img"), "{}", r.html);
        assert!(r.html.contains(r#"href="https://example.org/cat.png""#), "{}", r.html);
        assert!(r.html.contains("image: a cat"), "{}", r.html);
        assert!(r.html.contains("nofollow"), "{}", r.html);
    }

    #[test]
    fn markdown_still_formats() {
        let r = render("**bold** and `code`\n\n```\nfn main() {}\n```");
        assert!(r.html.contains("<strong>bold</strong>"), "{}", r.html);
        assert!(r.html.contains("<code>code</code>"), "{}", r.html);
        assert!(r.html.contains("<pre>"), "{}", r.html);
    }

    #[test]
    fn mentions() {
        let r = render("thanks @AdaLovelace, and @bob. not ada@example.org, `@code`\n\n```\n@block\n```\n@ alone");
        assert_eq!(r.mentions, vec!["adalovelace".to_owned(), "bob".to_owned()]);
    }
}
