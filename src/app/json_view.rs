//! Shared JSON widgets: highlighted read-only JSON and the highlighting layouter the
//! editor uses. Each place that lays out JSON keeps its last text and the layout of
//! each of its lines: a frame whose text is unchanged reuses the layout after one
//! comparison of the text, and an edit lays out again only the lines between the
//! unchanged head and tail of the text (JSON highlighting is per line; strings cannot
//! span lines), so a keystroke in a 32 KB twin costs one line's layout, not the
//! document's, and no hash of the text. Read-only JSON is held in parts of
//! [`LINES_PER_PART`] lines and only the parts in view are drawn, so what a frame
//! paints and tessellates does not grow with the document.

use std::ops::Range;
use std::sync::Arc;

use egui::text::LayoutJob;
use egui::{Align, Galley, Id, Layout, Rect, Sense, Ui, UiBuilder, vec2};
use egui_extras::syntax_highlighting::{CodeTheme, highlight};

/// Lines in each separately drawn part of read-only JSON.
const LINES_PER_PART: usize = 40;

/// The last layout made for one place, and what it was made from.
#[derive(Clone, Default)]
struct LastLayout {
    text: Arc<str>,
    wrap_width: f32,
    pixels_per_point: f32,
    dark_mode: bool,
    /// The text's layout, in parts of at most `lines_per_part` lines.
    parts: Arc<[Arc<Galley>]>,
    lines_per_part: usize,
    /// Each line's layout, in order (none before the first layout).
    lines: Vec<Arc<Galley>>,
}

/// The highlighted layout of JSON `text`, wrapped at `wrap_width`; `place` names where
/// it is shown, whose last layout (and its lines') is reused for what did not change.
pub fn json_layout(ui: &Ui, place: Id, text: &str, wrap_width: f32) -> Arc<Galley> {
    let parts = json_parts(ui, place, text, wrap_width, usize::MAX);
    Arc::clone(&parts[0])
}

/// The layout of `text` in parts of at most `lines_per_part` lines (at least one part).
fn json_parts(
    ui: &Ui,
    place: Id,
    text: &str,
    wrap_width: f32,
    lines_per_part: usize,
) -> Arc<[Arc<Galley>]> {
    let pixels_per_point = ui.ctx().pixels_per_point();
    let dark_mode = ui.visuals().dark_mode;
    let same_setting = |last: &LastLayout| {
        last.wrap_width == wrap_width
            && last.pixels_per_point == pixels_per_point
            && last.dark_mode == dark_mode
    };
    let unchanged = ui.data_mut(|data| {
        let last = data.get_temp_mut_or_default::<LastLayout>(place);
        (same_setting(last) && last.lines_per_part == lines_per_part && *last.text == *text)
            .then(|| Arc::clone(&last.parts))
    });
    if let Some(parts) = unchanged {
        return parts;
    }
    // Taken out, so that its lines are edited in place rather than copied.
    let last = ui
        .data_mut(|data| data.remove_temp::<LastLayout>(place))
        .filter(|last| same_setting(last) && !last.lines.is_empty());
    let theme = CodeTheme::from_style(ui.style());
    let layout_line = |line: &str| {
        let mut job: LayoutJob = highlight(ui.ctx(), ui.style(), &theme, line, "json");
        job.wrap.max_width = wrap_width;
        ui.fonts_mut(|fonts| fonts.layout_job(job))
    };
    let lines = match last {
        Some(mut last) => {
            let changed = changed_lines(&last.text, text);
            let middle: Vec<Arc<Galley>> = text
                .split('\n')
                .skip(changed.head)
                .take(changed.new_middle)
                .map(layout_line)
                .collect();
            let kept_tail = last.lines.len() - changed.old_tail;
            last.lines.splice(changed.head..kept_tail, middle);
            last.lines
        }
        None => text.split('\n').map(layout_line).collect(),
    };
    let parts: Arc<[Arc<Galley>]> = if lines.len() <= lines_per_part {
        vec![concat(
            text.to_owned(),
            &lines,
            wrap_width,
            pixels_per_point,
        )]
        .into()
    } else {
        lines
            .chunks(lines_per_part)
            .map(|part| {
                let part_text = part.iter().map(|line| line.text()).collect::<Vec<_>>();
                concat(part_text.join("\n"), part, wrap_width, pixels_per_point)
            })
            .collect()
    };
    ui.data_mut(|data| {
        data.insert_temp(
            place,
            LastLayout {
                text: Arc::from(text),
                wrap_width,
                pixels_per_point,
                dark_mode,
                parts: Arc::clone(&parts),
                lines_per_part,
                lines,
            },
        );
    });
    parts
}

/// One galley of `lines` (laid out from `text`, their lines joined by newlines).
fn concat(
    text: String,
    lines: &[Arc<Galley>],
    wrap_width: f32,
    pixels_per_point: f32,
) -> Arc<Galley> {
    let mut whole = LayoutJob::simple_format(text, egui::TextFormat::default());
    whole.wrap.max_width = wrap_width;
    Arc::new(Galley::concat(Arc::new(whole), lines, pixels_per_point))
}

/// Which lines an edit from `old` to `new` touched: the first `head` lines and the last
/// `old_tail` lines of `old` are unchanged (the same lines end `new`), and the
/// `new_middle` lines of `new` after its head replace the rest of `old`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct ChangedLines {
    head: usize,
    old_tail: usize,
    new_middle: usize,
}

fn changed_lines(old: &str, new: &str) -> ChangedLines {
    let (old, new) = (old.as_bytes(), new.as_bytes());
    let prefix = common_prefix(old, new);
    let suffix = common_suffix(&old[prefix..], &new[prefix..]);
    let newlines = |bytes: &[u8], range: Range<usize>| {
        bytes[range].iter().filter(|&&byte| byte == b'\n').count()
    };
    // A line is unchanged if its newline lies in the common prefix, or if the newline
    // before it lies in the common suffix.
    let head = newlines(old, 0..prefix);
    let tail = newlines(old, old.len() - suffix..old.len());
    let new_lines = newlines(new, 0..new.len()) + 1;
    ChangedLines {
        head,
        old_tail: tail,
        new_middle: new_lines - head - tail,
    }
}

/// Bytes compared a block at a time before the byte that differs is looked for.
const COMPARED_AT_ONCE: usize = 64;

/// How many bytes `a` and `b` start with in common.
fn common_prefix(a: &[u8], b: &[u8]) -> usize {
    let blocks = a
        .chunks(COMPARED_AT_ONCE)
        .zip(b.chunks(COMPARED_AT_ONCE))
        .take_while(|(a, b)| a == b)
        .count();
    let start = (blocks * COMPARED_AT_ONCE).min(a.len().min(b.len()));
    start
        + a[start..]
            .iter()
            .zip(&b[start..])
            .take_while(|(a, b)| a == b)
            .count()
}

/// How many bytes `a` and `b` end with in common.
fn common_suffix(a: &[u8], b: &[u8]) -> usize {
    let blocks = a
        .rchunks(COMPARED_AT_ONCE)
        .zip(b.rchunks(COMPARED_AT_ONCE))
        .take_while(|(a, b)| a == b)
        .count();
    let end = (blocks * COMPARED_AT_ONCE).min(a.len().min(b.len()));
    end + a[..a.len() - end]
        .iter()
        .rev()
        .zip(b[..b.len() - end].iter().rev())
        .take_while(|(a, b)| a == b)
        .count()
}

/// Read-only, selectable, highlighted JSON, labelled for screen readers and tests (its
/// accessible value is the whole text). Only the parts in view are drawn; drag to
/// select and Ctrl+C to copy, or right-click to copy the whole text.
pub fn json_block(ui: &mut Ui, label: &str, text: &str) {
    let place = Id::unique(("json-block-layout", label));
    let width = ui.available_width();
    let parts = json_parts(ui, place, text, width, LINES_PER_PART);
    let height = parts.iter().map(|part| part.size().y).sum::<f32>();
    let (rect, response) = ui.allocate_exact_size(vec2(width, height), Sense::hover());
    response.widget_info(|| {
        let mut info = egui::WidgetInfo::labeled(egui::Role::TextInput, true, label);
        info.current_text_value = Some(text.to_owned());
        info
    });
    ui.ctx()
        .accesskit_node_builder(response.id, |node| node.set_read_only());
    let visible = ui.clip_rect();
    let mut top = rect.top();
    for part in parts.iter() {
        let bottom = top + part.size().y;
        if bottom >= visible.top() && top <= visible.bottom() {
            let place = Rect::from_min_size(egui::pos2(rect.left(), top), part.size());
            let shown = ui.scope_builder(
                UiBuilder::new()
                    .max_rect(place)
                    .layout(Layout::top_down(Align::Min)),
                |ui| ui.add(egui::Label::new(Arc::clone(part)).selectable(true)),
            );
            shown.inner.context_menu(|ui| {
                if ui
                    .button(format!("Copy {}", label.to_lowercase()))
                    .clicked()
                {
                    ui.ctx().copy_text(text.to_owned());
                }
            });
        }
        top = bottom;
    }
}

/// An editable monospace field of `rows` lines, labelled for screen readers and tests.
pub fn code_field(ui: &mut Ui, text: &mut String, rows: usize, label: &str) -> egui::Response {
    let response = ui.add(
        egui::TextEdit::multiline(text)
            .code_editor()
            .desired_rows(rows)
            .desired_width(f32::INFINITY),
    );
    let label = label.to_owned();
    response
        .widget_info(move || egui::WidgetInfo::labeled(egui::Role::TextInput, true, label.clone()));
    response
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn check(old: &str, new: &str) -> ChangedLines {
        let changed = changed_lines(old, new);
        let old_lines: Vec<&str> = old.split('\n').collect();
        let new_lines: Vec<&str> = new.split('\n').collect();
        let ChangedLines {
            head,
            old_tail,
            new_middle,
        } = changed;
        assert_eq!(head + new_middle + old_tail, new_lines.len(), "{changed:?}");
        assert!(head + old_tail <= old_lines.len(), "{changed:?}");
        assert_eq!(old_lines[..head], new_lines[..head], "head of {changed:?}");
        assert_eq!(
            old_lines[old_lines.len() - old_tail..],
            new_lines[new_lines.len() - old_tail..],
            "tail of {changed:?}"
        );
        changed
    }

    #[test]
    fn a_keystroke_touches_only_its_line() {
        let old = "{\n  \"a\": 1,\n  \"b\": 2\n}";
        let changed = check(old, "{\n  \"a\": 12,\n  \"b\": 2\n}");
        assert_eq!(
            changed,
            ChangedLines {
                head: 1,
                old_tail: 2,
                new_middle: 1
            }
        );
        let split = check(old, "{\n  \"a\": 1,\n\n  \"b\": 2\n}");
        assert_eq!(split.head + split.old_tail, 3, "{split:?}");
        assert_eq!(
            check(old, old).new_middle,
            1,
            "an unchanged text keeps all but one"
        );
        check("", "");
        check("", "\n\n");
        check("a\nb", "");
    }

    proptest! {
        #[test]
        fn common_ends_are_found_a_block_at_a_time(
            a in proptest::collection::vec(0u8..3, 0..300),
            at in 0usize..300,
            removed in 0usize..4,
            inserted in proptest::collection::vec(0u8..3, 0..4),
        ) {
            let at = at.min(a.len());
            let end = (at + removed).min(a.len());
            let b: Vec<u8> = [&a[..at], &inserted, &a[end..]].concat();
            let prefix = a.iter().zip(&b).take_while(|(x, y)| x == y).count();
            prop_assert_eq!(common_prefix(&a, &b), prefix);
            let suffix = a.iter().rev().zip(b.iter().rev()).take_while(|(x, y)| x == y).count();
            prop_assert_eq!(common_suffix(&a, &b), suffix);
        }

        #[test]
        fn the_lines_kept_are_the_lines_the_texts_share(
            old in "[ab\n{}\"é]{0,40}",
            at in 0usize..41,
            removed in 0usize..8,
            inserted in "[ab\n é]{0,6}",
        ) {
            let chars: Vec<char> = old.chars().collect();
            let at = at.min(chars.len());
            let end = (at + removed).min(chars.len());
            let new: String = chars[..at]
                .iter()
                .chain(inserted.chars().collect::<Vec<_>>().iter())
                .chain(chars[end..].iter())
                .collect();
            check(&old, &new);
        }
    }
}
