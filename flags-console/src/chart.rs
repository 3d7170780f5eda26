//! A small bar chart of evaluation counts, as inline SVG made on the server: one bar per
//! minute or hour, stacked by value.

use std::collections::BTreeMap;
use std::fmt::Write as _;

/// The colours of the values, in order (the last repeats).
const COLOURS: [&str; 5] = ["#2b6cb0", "#dd6b20", "#38a169", "#805ad5", "#718096"];
const WIDTH: u32 = 360;
const HEIGHT: u32 = 60;

/// The colour of value number `index`.
pub(crate) fn colour(index: usize) -> &'static str {
    COLOURS[index.min(COLOURS.len() - 1)]
}

/// An SVG of `buckets` (oldest first), the values stacked in the order of `values`;
/// `label` names it for screen readers.
pub(crate) fn bars(
    label: &str,
    buckets: &[(u64, BTreeMap<String, u64>)],
    values: &[String],
) -> String {
    let most = buckets
        .iter()
        .map(|(_, counts)| counts.values().sum::<u64>())
        .max()
        .unwrap_or(0)
        .max(1);
    let slot = WIDTH as f64 / buckets.len().max(1) as f64;
    let mut svg = format!(
        "<svg class=\"chart\" role=\"img\" aria-label=\"{}\" viewBox=\"0 0 {WIDTH} {HEIGHT}\" \
         width=\"{WIDTH}\" height=\"{HEIGHT}\" xmlns=\"http://www.w3.org/2000/svg\">",
        escape(label)
    );
    let _ = write!(
        svg,
        "<line x1=\"0\" y1=\"{HEIGHT}\" x2=\"{WIDTH}\" y2=\"{HEIGHT}\" stroke=\"#a0aec0\"/>"
    );
    for (position, (_, counts)) in buckets.iter().enumerate() {
        let mut top = HEIGHT as f64;
        for (index, value) in values.iter().enumerate() {
            let count = counts.get(value).copied().unwrap_or(0);
            if count == 0 {
                continue;
            }
            let height = count as f64 / most as f64 * (HEIGHT as f64 - 2.0);
            top -= height;
            let _ = write!(
                svg,
                "<rect x=\"{:.1}\" y=\"{top:.1}\" width=\"{:.1}\" height=\"{height:.1}\" fill=\"{}\"><title>{}: {count}</title></rect>",
                position as f64 * slot + 0.5,
                (slot - 1.0).max(0.5),
                colour(index),
                escape(value)
            );
        }
    }
    svg.push_str("</svg>");
    svg
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bars_are_scaled_to_the_busiest_bucket_and_escaped() {
        let buckets = vec![
            (
                1,
                BTreeMap::from([("true".to_owned(), 10), ("false".to_owned(), 30)]),
            ),
            (2, BTreeMap::new()),
            (3, BTreeMap::from([("\"<b>\"".to_owned(), 20)])),
        ];
        let values = vec!["true".to_owned(), "false".to_owned(), "\"<b>\"".to_owned()];
        let svg = bars("counts of x", &buckets, &values);
        assert_eq!(svg.matches("<rect").count(), 3);
        assert!(svg.contains("&quot;&lt;b&gt;&quot;: 20"), "{svg}");
        assert!(!svg.contains("<b>"));
    }
}
