//! History: sparklines of transactions/s, connections, interval cache hit ratio and
//! replication lag over the last 10 minutes, hour, 6 hours or day (`h` cycles through
//! [`SPANS`]); each column is the worst value of its slice of time (the lowest hit ratio,
//! the highest of the others), an empty column a time without a sample. The model keeps
//! the points ([`crate::model::history`]), loaded from the recording when there is one.

use ratatui::buffer::Buffer;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Sparkline, Widget};

use super::{View, panel_block};
use crate::model::history::{Series, SeriesUnit};
use crate::model::{format_bytes, format_count};

/// The series drawn, with their titles.
pub const SERIES: [(Series, &str); 4] = [
    (Series::XACT_PER_S, "transactions/s"),
    (Series::CONNECTIONS, "connections"),
    (Series::CACHE_HIT_RATIO, "cache hit % (interval)"),
    (Series::REPLAY_LAG_BYTES, "replay lag"),
];

/// The spans the panel shows, seconds and label; `h` cycles through them.
pub const SPANS: [(f64, &str); 4] = [
    (600.0, "10 min"),
    (3600.0, "1 h"),
    (21_600.0, "6 h"),
    (86_400.0, "24 h"),
];

/// A value of `series` for a label.
pub fn label(series: Series, v: f64) -> String {
    match series.unit {
        SeriesUnit::PerSecond => format!("{}/s", format_count(v)),
        SeriesUnit::Count => format_count(v),
        SeriesUnit::Ratio => format!("{:.1}%", v * 100.0),
        SeriesUnit::Bytes => format_bytes(v),
        SeriesUnit::BytesPerSecond => format!("{}/s", format_bytes(v)),
    }
}

/// Scale values to sparkline bars (u64). The hit ratio is drawn over 0.5..1 (where it
/// matters), the others from 0 to their maximum.
pub fn bars(series: Series, values: &[f64]) -> Vec<u64> {
    match series.unit {
        SeriesUnit::Ratio => values
            .iter()
            .map(|v| (((v - 0.5).max(0.0)) * 1000.0).round() as u64)
            .collect(),
        SeriesUnit::PerSecond
        | SeriesUnit::Count
        | SeriesUnit::Bytes
        | SeriesUnit::BytesPerSecond => values
            .iter()
            .map(|v| {
                if v.is_finite() {
                    v.max(0.0).round() as u64
                } else {
                    0
                }
            })
            .collect(),
    }
}

/// A sparkline as text (`▁▂▃▅▇`) of the last `width` values, for one-line displays.
pub fn spark_text(series: Series, values: &[f64], width: usize) -> String {
    const TICKS: [char; 8] = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];
    let start = values.len().saturating_sub(width);
    let b = bars(series, &values[start..]);
    let max = b.iter().copied().max().unwrap_or(0);
    b.iter()
        .map(|&x| {
            if max == 0 {
                TICKS[0]
            } else {
                TICKS[((x as f64 / max as f64) * 7.0).round() as usize]
            }
        })
        .collect()
}

/// The history panel: one titled sparkline per series over [`SPANS`]`[span]`.
pub struct HistoryPanel<'a> {
    pub view: View<'a>,
    /// Index into [`SPANS`].
    pub span: usize,
}

impl Widget for HistoryPanel<'_> {
    fn render(self, rect: Rect, buf: &mut Buffer) {
        let v = &self.view;
        let theme = v.theme();
        let (span_s, span_label) = SPANS[self.span.min(SPANS.len() - 1)];
        let block = panel_block(&format!("History, last {span_label} (h)"), v, None);
        let inner = block.inner(rect);
        block.render(rect, buf);
        if inner.height < 2 {
            return;
        }
        let parts = Layout::vertical([Constraint::Fill(1); 4]).split(inner);
        for ((series, title), part) in SERIES.iter().zip(parts.iter()) {
            let last = v
                .server
                .history
                .last(*series)
                .map_or_else(|| "-".into(), |x| label(*series, x));
            let (t, rest) = super::split_top(*part, 1);
            let columns = v
                .server
                .history
                .columns(*series, v.now, span_s, usize::from(rest.width));
            let worst = columns
                .iter()
                .flatten()
                .copied()
                .reduce(|a, b| series.unit.worse(a, b));
            let mut head = vec![
                Span::styled(format!("{title} "), theme.heading()),
                Span::raw(last),
            ];
            if let Some(w) = worst {
                let word = match series.unit {
                    SeriesUnit::Ratio => "lowest",
                    _ => "peak",
                };
                head.push(Span::styled(
                    format!("  {word} {}", label(*series, w)),
                    theme.dim(),
                ));
            }
            Paragraph::new(Line::from(head)).render(t, buf);
            if rest.height == 0 {
                continue;
            }
            let data: Vec<Option<u64>> = columns
                .iter()
                .map(|c| c.map(|x| bars(*series, &[x])[0]))
                .collect();
            Sparkline::default()
                .data(data)
                .style(theme.ok())
                .render(rest, buf);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spark_text_scales_to_the_maximum_and_keeps_the_newest() {
        let s = spark_text(Series::XACT_PER_S, &[0.0, 50.0, 100.0], 10);
        assert_eq!(s, "▁▅█");
        let s = spark_text(Series::XACT_PER_S, &[100.0, 0.0, 0.0], 2);
        assert_eq!(s, "▁▁");
        assert_eq!(spark_text(Series::CONNECTIONS, &[], 5), "");
    }
}
