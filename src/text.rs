//! Text from the server made safe for a terminal: [`sanitize`], [`fold`], [`truncate`]. Used
//! by the screen (`tui::text` re-exports it) and by everything printed outside it (stderr).
//!
//! Everything the server sends (query texts, names, application_name, error messages) may hold
//! bytes that a terminal would interpret: ESC sequences (set the window title, clear the
//! screen, move the cursor), C0 and C1 control characters, DEL, and bidirectional overrides
//! that reorder what is shown. None of it reaches a cell:
//!
//! * ESC sequences (CSI, OSC, DCS, SOS, PM, APC, and two-character escapes) and the 8-bit C1
//!   forms (U+009B CSI, U+009D OSC, ...) are removed with their parameters;
//! * other C0/C1 control characters and DEL become U+FFFD, so the user sees that something
//!   was there;
//! * bidi embeddings, overrides and isolates (U+202A–U+202E, U+2066–U+2069), marks
//!   (U+200E, U+200F, U+061C), zero-width characters (U+200B–U+200D, U+2060, U+FEFF), Unicode
//!   tag characters (U+E0000–U+E007F, invisible text), Hangul fillers (U+115F, U+1160, U+3164,
//!   U+FFA0: blank but not space) and the Mongolian vowel separator (U+180E) are dropped;
//! * at most [`MAX_MARKS`] zero-width (combining) characters follow one base character: the
//!   rest of a stack ("zalgo" text) is dropped, so it cannot smear over neighbouring cells;
//! * `\r\n`, `\r`, U+2028 and U+2029 become `\n`; a tab becomes spaces.
//!
//! Widths are display widths (`unicode-width`): a CJK character takes two columns.

use unicode_width::{UnicodeWidthChar, UnicodeWidthStr};

/// The ellipsis that marks truncated text (one column wide).
pub const ELLIPSIS: char = '…';

/// True for characters that are dropped silently (bidi controls, zero-width and invisible
/// characters).
fn is_dropped(c: char) -> bool {
    matches!(c,
        '\u{202A}'..='\u{202E}'
        | '\u{2066}'..='\u{2069}'
        | '\u{200B}'..='\u{200F}'
        | '\u{061C}'
        | '\u{2060}'..='\u{2064}'
        | '\u{FEFF}'
        | '\u{00AD}'
        | '\u{E0000}'..='\u{E007F}'
        | '\u{115F}'
        | '\u{1160}'
        | '\u{3164}'
        | '\u{FFA0}'
        | '\u{180E}')
}

/// The most zero-width (combining) characters kept after one base character.
pub const MAX_MARKS: usize = 2;

/// A character that takes no column of its own and stacks on the one before: combining
/// marks, variation selectors.
fn is_mark(c: char) -> bool {
    !c.is_control() && c.width() == Some(0)
}

/// Skip the rest of an escape sequence whose introducer was already consumed.
/// `kind` is the character after ESC (or the C1 equivalent mapped to it).
fn skip_sequence(kind: char, chars: &mut std::iter::Peekable<std::str::Chars<'_>>) {
    match kind {
        // CSI: parameters and intermediates (0x20..0x3F), then one final byte 0x40..0x7E.
        '[' => {
            while let Some(&c) = chars.peek() {
                chars.next();
                if ('\u{40}'..='\u{7E}').contains(&c) {
                    break;
                }
                if !('\u{20}'..='\u{3F}').contains(&c) {
                    // malformed: stop at anything else (already consumed)
                    break;
                }
            }
        }
        // OSC, DCS, SOS, PM, APC: a string ended by BEL, ST (ESC \) or the C1 ST (U+009C).
        ']' | 'P' | 'X' | '^' | '_' => {
            while let Some(c) = chars.next() {
                match c {
                    '\u{07}' | '\u{9C}' => break,
                    '\u{1B}' => {
                        if chars.peek() == Some(&'\\') {
                            chars.next();
                        }
                        break;
                    }
                    _ => {}
                }
            }
        }
        // nF escapes: intermediates 0x20..0x2F then a final byte.
        '\u{20}'..='\u{2F}' => {
            for c in chars.by_ref() {
                if !('\u{20}'..='\u{2F}').contains(&c) {
                    break;
                }
            }
        }
        // Any other two-character escape (ESC 7, ESC c, ...): already consumed.
        _ => {}
    }
}

/// Remove everything a terminal could interpret from `s`, keeping line breaks as `\n` and
/// turning a tab into four spaces. For multi-line displays (the detail view).
pub fn sanitize(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars().peekable();
    // zero-width characters since the last base character
    let mut marks = 0usize;
    while let Some(c) = chars.next() {
        if is_mark(c) && !is_dropped(c) {
            marks += 1;
            if marks <= MAX_MARKS {
                out.push(c);
            }
            continue;
        }
        if !is_dropped(c) {
            marks = 0;
        }
        match c {
            '\n' | '\u{2028}' | '\u{2029}' => out.push('\n'),
            '\r' => {
                if chars.peek() == Some(&'\n') {
                    chars.next();
                }
                out.push('\n');
            }
            '\t' => out.push_str("    "),
            '\u{1B}' => {
                if let Some(kind) = chars.next() {
                    skip_sequence(kind, &mut chars)
                }
            }
            '\u{9B}' => skip_sequence('[', &mut chars),
            '\u{9D}' => skip_sequence(']', &mut chars),
            '\u{90}' => skip_sequence('P', &mut chars),
            '\u{98}' => skip_sequence('X', &mut chars),
            '\u{9E}' => skip_sequence('^', &mut chars),
            '\u{9F}' => skip_sequence('_', &mut chars),
            c if c.is_control() => out.push('\u{FFFD}'),
            c if is_dropped(c) => {}
            c => out.push(c),
        }
    }
    out
}

/// [`sanitize`] for one-line displays: line breaks and tabs folded to spaces, runs of
/// whitespace collapsed to one space, leading and trailing whitespace trimmed.
pub fn fold(s: &str) -> String {
    let clean = sanitize(s);
    let mut out = String::with_capacity(clean.len());
    let mut space = false;
    for c in clean.chars() {
        if c.is_whitespace() {
            space = true;
        } else {
            if space && !out.is_empty() {
                out.push(' ');
            }
            space = false;
            out.push(c);
        }
    }
    out
}

/// Display width of `s` in terminal columns.
pub fn width(s: &str) -> usize {
    UnicodeWidthStr::width(s)
}

/// Cut `s` to at most `max` columns, ending with [`ELLIPSIS`] when something was cut. A
/// double-width character that would straddle the limit is left out. `s` must already be
/// sanitized.
pub fn truncate(s: &str, max: usize) -> String {
    if width(s) <= max {
        return s.to_string();
    }
    if max == 0 {
        return String::new();
    }
    let mut out = String::new();
    let mut used = 0;
    for c in s.chars() {
        let w = c.width().unwrap_or(0);
        if used + w > max - 1 {
            break;
        }
        used += w;
        out.push(c);
    }
    out.push(ELLIPSIS);
    out
}

/// One line of at most `max` columns from any server text: folded, sanitized and truncated.
/// Only a prefix of a very long text is examined (a 1 MB query costs no more than a short
/// one).
pub fn one_line(s: &str, max: usize) -> String {
    // Enough characters to fill `max` columns even after escape sequences and whitespace runs
    // are removed; anything beyond is cut anyway.
    let budget = max.saturating_mul(8).saturating_add(256);
    let prefix = match s.char_indices().nth(budget) {
        Some((i, _)) => &s[..i],
        None => s,
    };
    let folded = fold(prefix);
    if prefix.len() < s.len() && width(&folded) <= max {
        // cut only because of the budget: still mark it
        return truncate(&format!("{folded}{ELLIPSIS}{ELLIPSIS}"), max);
    }
    truncate(&folded, max)
}

/// [`fold`] without a width limit, for cells the table truncates itself.
pub fn clean(s: &str) -> String {
    one_line(s, 400)
}

/// Pad or cut `s` (already sanitized) to exactly `w` columns, aligned right.
pub fn right(s: &str, w: usize) -> String {
    let t = truncate(s, w);
    let pad = w.saturating_sub(width(&t));
    format!("{}{t}", " ".repeat(pad))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn has_no_controls(s: &str) -> bool {
        !s.chars()
            .any(|c| (c.is_control() && c != '\n') || is_dropped(c) || c == '\u{1B}')
    }

    #[test]
    fn escape_sequences_are_removed_with_their_parameters() {
        let s = "a\u{1B}]0;evil title\u{07}b\u{1B}[2Jc\u{1B}[1;31md\u{9B}31me\u{1B}]8;;http://x\u{1B}\\f";
        assert_eq!(sanitize(s), "abcdef");
    }

    #[test]
    fn control_characters_become_replacement_and_bidi_is_dropped() {
        let s = "x\u{08}y\u{7F}z\u{0}w\u{85}v\u{202E}u\u{2066}t\u{200B}s";
        let out = sanitize(s);
        assert_eq!(out, "x\u{FFFD}y\u{FFFD}z\u{FFFD}w\u{FFFD}vuts");
        assert!(has_no_controls(&out));
    }

    #[test]
    fn line_breaks_are_normalized_and_folded() {
        assert_eq!(sanitize("a\r\nb\rc\nd"), "a\nb\nc\nd");
        assert_eq!(fold("  select\n\t*  from\r\n  t  "), "select * from t");
    }

    #[test]
    fn truncation_counts_display_width_and_marks_the_cut() {
        assert_eq!(truncate("hello", 5), "hello");
        assert_eq!(truncate("hello world", 6), "hello…");
        // each CJK character is two columns: 3 of them fit in 7 columns (6 + ellipsis)
        let cjk = "日本語のテキスト";
        let t = truncate(cjk, 7);
        assert_eq!(t, "日本語…");
        assert!(width(&t) <= 7);
        // a wide character that would straddle the limit is left out
        let t = truncate(cjk, 6);
        assert_eq!(t, "日本…");
        assert!(width(&t) <= 6);
        assert_eq!(truncate("abc", 0), "");
        assert_eq!(truncate("abc", 1), "…");
    }

    #[test]
    fn one_line_of_a_huge_text_is_bounded_and_marked() {
        let huge = "select 1; ".repeat(100_000);
        let line = one_line(&huge, 40);
        assert!(width(&line) <= 40);
        assert!(line.ends_with(ELLIPSIS));
        assert!(line.starts_with("select 1; select 1;"));
    }

    #[test]
    fn an_unterminated_escape_eats_only_to_the_end() {
        assert_eq!(sanitize("ok\u{1B}]0;never ends"), "ok");
        assert_eq!(sanitize("ok\u{1B}"), "ok");
        assert_eq!(sanitize("ok\u{1B}[12"), "ok");
    }

    #[test]
    fn tag_characters_hangul_fillers_and_the_mongolian_separator_are_dropped() {
        // "a" + TAG LATIN SMALL LETTER X + CANCEL TAG, then fillers and U+180E
        let s = "a\u{E0001}\u{E0078}\u{E007F}b\u{115F}\u{1160}c\u{3164}d\u{FFA0}e\u{180E}f";
        assert_eq!(sanitize(s), "abcdef");
        assert_eq!(fold("\u{3164}\u{3164}"), "");
    }

    #[test]
    fn stacked_combining_marks_are_capped_per_base_character() {
        let zalgo = format!("a{}b{}c", "\u{0301}".repeat(50), "\u{0336}\u{0489}\u{0300}");
        let out = sanitize(&zalgo);
        assert_eq!(out, "a\u{0301}\u{0301}b\u{0336}\u{0489}c");
        // ordinary accents stay
        assert_eq!(sanitize("cafe\u{0301} n\u{0303}"), "cafe\u{0301} n\u{0303}");
        // a dropped character in between does not reset the count
        let hidden = format!("x{}", "\u{0301}\u{200B}".repeat(10));
        assert_eq!(sanitize(&hidden), "x\u{0301}\u{0301}");
        assert_eq!(width(&out), 3);
    }

    #[test]
    fn right_alignment_pads_to_width() {
        assert_eq!(right("12", 5), "   12");
        assert_eq!(right("123456", 4), "123…");
    }
}
