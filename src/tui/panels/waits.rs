//! The wait profile on screen (the waits area has no tab of its own): the statements
//! table's `wait` cell, the profile bar of a statement's detail, and the activity panel's
//! "waits now / over the window" line. The numbers: [`crate::model::areas::waits`].

use ratatui::text::{Line, Span};

use super::View;
use crate::model::areas::waits::{WINDOW_S, WaitCounts};
use crate::model::format_duration_s;
use crate::sample::Area;
use crate::tui::text;

/// Width of the statements table's `wait` column (`LWLock 100%`).
pub const CELL_WIDTH: u16 = 12;

/// The dominant class and its share, `Lock 71%`; `-` when the statement was not seen
/// active in the window.
pub fn cell(counts: Option<&WaitCounts>) -> String {
    match counts.and_then(WaitCounts::dominant) {
        Some((class, share)) => format!("{} {:.0}%", class.label(), share * 100.0),
        None => "-".into(),
    }
}

/// `Lock 71% · CPU 20% · IO 9%`: every class counted, most first.
pub fn legend(counts: &WaitCounts) -> String {
    counts
        .shares()
        .into_iter()
        .map(|(c, s)| format!("{} {:.0}%", c.label(), s * 100.0))
        .collect::<Vec<_>>()
        .join(" · ")
}

/// The profile as a bar of `width` cells, one coloured run per class (most first, each at
/// least one cell when counted), then the legend.
pub fn bar(v: &View<'_>, counts: &WaitCounts, width: usize) -> Vec<Span<'static>> {
    let theme = v.theme();
    let shares = counts.shares();
    let mut spans = Vec::new();
    let mut used = 0usize;
    for (i, (class, share)) in shares.iter().enumerate() {
        let left = width.saturating_sub(used);
        let cells = if i + 1 == shares.len() {
            left
        } else {
            ((share * width as f64).round() as usize).clamp(1, left)
        };
        if cells > 0 {
            spans.push(Span::styled("█".repeat(cells), theme.wait_class(*class)));
        }
        used += cells;
    }
    spans.push(Span::raw(format!(" {}", legend(counts))));
    spans
}

/// The detail view's wait-profile line of statement `queryid`: the bar and the backend-
/// samples it stands for, or why there is none.
pub fn statement_line(v: &View<'_>, queryid: i64, width: usize) -> Line<'static> {
    let theme = v.theme();
    let window = &v.server.waits;
    if let Some(missing) = window.missing(v.server.facts.as_ref()) {
        return Line::from(Span::styled(text::truncate(&missing, width), theme.dim()));
    }
    match window.of_query(queryid).filter(|c| c.total() > 0) {
        Some(c) => {
            let mut spans = bar(v, c, 24);
            spans.push(Span::styled(
                format!(
                    " ({} backend-samples over {})",
                    c.total(),
                    format_duration_s(window.span_s().min(WINDOW_S))
                ),
                theme.dim(),
            ));
            Line::from(spans)
        }
        None => Line::from(Span::styled(
            format!(
                "not seen active in the last {} ({} samples)",
                format_duration_s(window.span_s().min(WINDOW_S)),
                window.samples()
            ),
            theme.dim(),
        )),
    }
}

/// The note above the statements table when the profile cannot be split by statement
/// (PostgreSQL 12/13, `compute_query_id` off), with the fix; `None` otherwise.
pub fn missing_note(v: &View<'_>, width: usize) -> Option<String> {
    v.server
        .waits
        .missing(v.server.facts.as_ref())
        .map(|m| text::truncate(&m, width))
}

/// `wait profile failing: <error>` when the waits sampler's latest poll failed (it has no tab
/// of its own to carry the `!`), fitted to `width`; `None` while it works.
pub fn failure_note(v: &View<'_>, width: usize) -> Option<String> {
    let (error, _) = v.server.area(Area::Waits).error.as_ref()?;
    let mut line = format!("wait profile failing: {}", text::clean(&error.message));
    if let Some(fix) = &error.fix {
        line.push_str(&format!(" (fix: {})", text::clean(fix)));
    }
    Some(text::truncate(&line, width))
}

/// `waits now Lock:transactionid 2.0 · CPU 1.0 │ 10m00s Lock 60% · CPU 30%`: the wait
/// events of the last [`crate::model::areas::waits::NOW_S`] seconds as average backends, and the window's classes, as
/// many of each as fit in `width`; `None` before the first sample.
pub fn activity_line(v: &View<'_>, width: usize) -> Option<Line<'static>> {
    let window = &v.server.waits;
    if window.samples() == 0 {
        return None;
    }
    let now: Vec<String> = window
        .now(4)
        .into_iter()
        .map(|(class, event, n)| {
            let name = if event.is_empty() {
                class.label().to_string()
            } else {
                text::clean(&event)
            };
            format!("{name} {n:.1}")
        })
        .collect();
    let over: Vec<String> = window
        .server()
        .shares()
        .into_iter()
        .map(|(c, s)| format!("{} {:.0}%", c.label(), s * 100.0))
        .collect();
    let span = format_duration_s(window.span_s().min(WINDOW_S));
    let join = |items: &[String]| {
        if items.is_empty() {
            "nothing active".to_string()
        } else {
            items.join(" · ")
        }
    };
    // the most items of each part that fit, "now" first
    let mut best = None;
    'fit: for n in (1..=now.len().max(1)).rev() {
        for k in (1..=over.len().max(1)).rev() {
            let line = format!(
                "waits now {} │ {span} {}",
                join(&now[..n.min(now.len())]),
                join(&over[..k.min(over.len())])
            );
            if text::width(&line) <= width {
                best = Some(line);
                break 'fit;
            }
        }
    }
    let line = best.unwrap_or_else(|| {
        text::truncate(
            &format!("waits now {}", join(&now[..1.min(now.len())])),
            width,
        )
    });
    Some(Line::from(line))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sample::WaitClass;

    #[test]
    fn the_cell_names_the_dominant_class_and_its_share() {
        let mut c = WaitCounts::default();
        assert_eq!(cell(Some(&c)), "-");
        c.0[WaitClass::Lock.index()] = 71;
        c.0[WaitClass::Cpu.index()] = 29;
        assert_eq!(cell(Some(&c)), "Lock 71%");
        assert_eq!(legend(&c), "Lock 71% · CPU 29%");
        assert!(cell(Some(&c)).len() <= usize::from(CELL_WIDTH));
    }
}
