//! The Notes panel: the selected release's notes (`releases/<v>/notes.md`), drafted from the
//! history (the same function as `release notes`), edited as Markdown beside a preview, and
//! saved (audited; ticks "Draft release notes", as `release notes --write` does).
//!
//! The preview reads the Markdown with pulldown-cmark (already in the tree for the feeds' HTML)
//! into a few blocks drawn as egui text: headings, paragraphs, bullets, code, links. It is read
//! again only when the text changes.

use std::collections::BTreeMap;
use std::path::PathBuf;

use pulldown_cmark::{Event, HeadingLevel, Options, Parser, Tag, TagEnd};

use super::command::Command;
use super::panel::{Cx, Panel, Pending};
use super::snapshot::Snapshot;
use super::theme;
use crate::source::{self, NotesDraft, Ticked};

/// Notes panel state.
#[derive(Debug, Default)]
pub struct NotesUi {
    /// The editor's Markdown.
    pub text: String,
    /// What `notes.md` holds (`None`: no file yet), as last read or saved.
    pub saved: Option<String>,
    /// The tag to draft from (empty: the previous release's tag).
    pub from_tag: String,
    /// What the last draft was made of, to say so.
    pub drafted: Option<String>,
    /// The last failure (reading, drafting, saving), in the domain's words.
    pub error: Option<String>,
    /// The workspace and release the editor holds (read again when another is selected).
    loaded_for: Option<(PathBuf, String)>,
    load: Pending<Option<String>>,
    draft: Pending<NotesDraft>,
    save: Pending<Ticked>,
    /// The text being saved, which becomes `saved` when the save succeeds.
    saving: Option<String>,
    /// A draft asked for while the editor has unsaved edits: confirm before replacing them.
    confirm_draft: bool,
    preview: Vec<Block>,
    preview_stale: bool,
    /// Unsaved edits of other releases (workspace, version), kept while another release is
    /// selected and put back when it is selected again.
    kept: BTreeMap<(PathBuf, String), Kept>,
}

/// A release's unsaved edits, kept while another release is selected.
#[derive(Debug, Clone)]
struct Kept {
    text: String,
    drafted: Option<String>,
}

impl NotesUi {
    /// Whether the editor differs from the file.
    pub fn is_dirty(&self) -> bool {
        match &self.saved {
            Some(s) => *s != self.text,
            None => !self.text.trim().is_empty(),
        }
    }

    /// The versions of the workspace at `root` whose unsaved edits are kept while another
    /// release is selected.
    pub fn kept_versions(&self, root: &std::path::Path) -> Vec<String> {
        self.kept
            .keys()
            .filter(|(r, _)| r == root)
            .map(|(_, v)| v.clone())
            .collect()
    }

    /// The preview as blocks (read again after the text changed).
    pub fn preview(&mut self) -> &[Block] {
        if self.preview_stale {
            self.preview = blocks(&self.text);
            self.preview_stale = false;
        }
        &self.preview
    }

    fn set_text(&mut self, text: String) {
        self.text = text;
        self.preview_stale = true;
    }

    fn start_draft(&mut self, cx: &Cx<'_>) {
        let data = cx.snapshot;
        let Some(view) = &data.current else { return };
        let (ws, release) = (data.ws.clone(), view.release.clone());
        let from = Some(self.from_tag.trim().to_owned()).filter(|t| !t.is_empty());
        self.error = None;
        self.confirm_draft = false;
        cx.fetch(&mut self.draft, async move {
            source::draft_notes(&ws, &release, from.as_deref()).await
        });
    }

    fn start_save(&mut self, cx: &Cx<'_>) {
        let data = cx.snapshot;
        let Some(view) = &data.current else { return };
        let (ws, release) = (data.ws.clone(), view.release.clone());
        let text = self.text.clone();
        self.saving = Some(text.clone());
        self.error = None;
        cx.fetch_blocking(&mut self.save, move || {
            source::save_notes(&ws, &release, &text)
        });
    }

    fn apply(&mut self, action: Action, cx: &mut Cx<'_>) {
        match action {
            Action::Draft => self.start_draft(cx),
            Action::Save => self.start_save(cx),
            Action::Revert => {
                let back = self.saved.clone().unwrap_or_default();
                self.set_text(back);
                self.drafted = None;
            }
        }
    }

    fn toolbar_ui(&mut self, ui: &mut egui::Ui, has_source: bool, actions: &mut Vec<Action>) {
        let busy = self.draft.is_running() || self.save.is_running() || self.load.is_running();
        ui.horizontal(|ui| {
            let label = ui.label("From tag");
            ui.add_enabled(
                has_source,
                egui::TextEdit::singleline(&mut self.from_tag)
                    .hint_text("the previous release's")
                    .desired_width(160.0),
            )
            .labelled_by(label.id);
            let draft = ui
                .add_enabled(has_source && !busy, egui::Button::new("Draft from history"))
                .on_disabled_hover_text(if has_source {
                    "Busy"
                } else {
                    "Needs [source] in release-console.toml: the product's repository"
                });
            if draft.clicked() {
                if self.is_dirty() {
                    self.confirm_draft = true;
                } else {
                    actions.push(Action::Draft);
                }
            }
            let save = ui.add_enabled(
                !busy && self.is_dirty() && !self.text.trim().is_empty(),
                egui::Button::new("Save notes"),
            );
            if save.clicked() {
                actions.push(Action::Save);
            }
            let revert = ui.add_enabled(!busy && self.is_dirty(), egui::Button::new("Revert"));
            if revert.clicked() {
                actions.push(Action::Revert);
            }
            if busy {
                ui.spinner();
            }
        });
        if self.confirm_draft {
            ui.horizontal(|ui| {
                ui.label(
                    egui::RichText::new("The draft replaces your unsaved edits.")
                        .color(theme::WARN),
                );
                if ui.button("Replace with the draft").clicked() {
                    actions.push(Action::Draft);
                }
                if ui.button("Keep editing").clicked() {
                    self.confirm_draft = false;
                }
            });
        }
    }
}

impl Panel for NotesUi {
    fn logic(&mut self, cx: &mut Cx<'_>) {
        if let Some(result) = self.load.poll() {
            // Edits kept when another release was selected come back over the file.
            let kept = self.loaded_for.as_ref().and_then(|k| self.kept.remove(k));
            match result {
                Ok(saved) => {
                    self.set_text(saved.clone().unwrap_or_default());
                    self.saved = saved;
                }
                Err(e) => self.error = Some(e),
            }
            if let Some(k) = kept {
                self.set_text(k.text);
                self.drafted = k.drafted;
            }
        }
        if let Some(result) = self.draft.poll() {
            match result {
                Ok(d) => {
                    self.drafted = Some(format!(
                        "Drafted from {} commit(s) since {} up to {}: not saved yet.",
                        d.commits,
                        d.from.as_deref().unwrap_or("the first commit"),
                        d.to
                    ));
                    self.set_text(d.markdown);
                }
                Err(e) => self.error = Some(e),
            }
        }
        if let Some(result) = self.save.poll() {
            let text = self.saving.take();
            match result {
                Ok(ticks) => {
                    self.saved = text;
                    self.drafted = None;
                    let mut said = "Saved the release notes".to_owned();
                    if !ticks.ticked.is_empty() {
                        said.push_str(&format!(
                            "; ticked {}",
                            super::widgets::item_titles(cx.snapshot, &ticks.ticked)
                        ));
                    }
                    for g in &ticks.gated {
                        said.push_str(&format!("; not ticked yet: {g}"));
                    }
                    cx.success(said);
                    // The save is audited and may tick: the checklist and the log changed.
                    cx.push(Command::Reload);
                }
                Err(e) => self.error = Some(e),
            }
        }
        let data = cx.snapshot;
        let Some(view) = &data.current else { return };
        let key = (data.ws.root().to_owned(), view.release.version.to_string());
        // Not while a read, draft or save is on its way: its answer is of the release shown.
        if self.loaded_for.as_ref() != Some(&key) && !self.is_busy() {
            // Another release (or workspace): its own notes, read off the UI thread. The
            // unsaved edits of the one shown are kept for when it is selected again.
            if let Some(old) = self.loaded_for.take()
                && self.is_dirty()
            {
                self.kept.insert(
                    old,
                    Kept {
                        text: std::mem::take(&mut self.text),
                        drafted: self.drafted.take(),
                    },
                );
            }
            self.loaded_for = Some(key);
            self.set_text(String::new());
            self.saved = None;
            self.drafted = None;
            self.error = None;
            self.confirm_draft = false;
            let (ws, version) = (data.ws.clone(), view.release.version.clone());
            cx.fetch_blocking(&mut self.load, move || source::read_notes(&ws, &version));
        }
    }

    fn is_busy(&self) -> bool {
        self.load.is_running() || self.draft.is_running() || self.save.is_running()
    }

    fn ui(&mut self, ui: &mut egui::Ui, cx: &mut Cx<'_>) {
        let mut actions = Vec::new();
        self.draw(ui, cx.snapshot, &mut actions);
        super::panel::apply_all(ui, actions, |a| self.apply(a, cx));
    }
}

/// What a click asks the panel to do once the frame's widgets are drawn.
#[derive(Clone, Copy)]
enum Action {
    /// Draft the notes from the history (replacing the editor's text when it arrives).
    Draft,
    /// Save the editor's text to `notes.md`.
    Save,
    /// Put back what `notes.md` holds.
    Revert,
}

impl NotesUi {
    fn draw(&mut self, ui: &mut egui::Ui, data: &Snapshot, actions: &mut Vec<Action>) {
        ui.label(theme::heading("Release notes"));
        let Some(view) = &data.current else {
            ui.label("No release yet. Create one on the Overview panel.");
            return;
        };
        let version = view.release.version.to_string();
        let file = format!("releases/{version}/{}", source::NOTES_FILE);
        let state = match (&self.saved, self.is_dirty()) {
            (_, _) if self.load.is_running() => "reading…",
            (None, false) => "not written yet",
            (None | Some(_), true) => "unsaved changes",
            (Some(_), false) => "saved",
        };
        ui.horizontal_wrapped(|ui| {
            ui.label(theme::muted(format!(
                "{} {version} · {file} ·",
                data.ws.config().product.name
            )));
            let color = match state {
                "saved" => theme::OK,
                "unsaved changes" => theme::WARN,
                _ => theme::MUTED,
            };
            ui.label(egui::RichText::new(state).color(color));
            let others: Vec<String> = self
                .kept_versions(data.ws.root())
                .into_iter()
                .filter(|v| *v != version)
                .collect();
            if !others.is_empty() {
                ui.label(
                    egui::RichText::new(format!("· unsaved edits kept for {}", others.join(", ")))
                        .color(theme::WARN),
                );
            }
        });
        let has_source = data.ws.config().source.is_some();
        self.toolbar_ui(ui, has_source, actions);
        if let Some(d) = &self.drafted {
            ui.label(theme::muted(d));
        }
        if !has_source {
            ui.label(theme::muted(
                "No [source] in release-console.toml: write the notes here; a draft from the \
                 history needs the product's repository.",
            ));
        }
        if let Some(e) = &self.error {
            ui.label(egui::RichText::new(e).color(theme::BAD));
        }
        ui.add_space(6.0);
        let height = (ui.available_height() - 12.0).max(360.0);
        let hint = format!(
            "# {} {version}\n\n## Fixes\n\n- …",
            data.ws.config().product.name
        );
        ui.columns(2, |cols| {
            let label = cols[0].label(egui::RichText::new("Markdown").strong());
            let edit = egui::ScrollArea::vertical()
                .id_salt("notes-editor")
                .max_height(height)
                .show(&mut cols[0], |ui| {
                    ui.add_sized(
                        [ui.available_width(), height],
                        egui::TextEdit::multiline(&mut self.text)
                            .code_editor()
                            .hint_text(hint),
                    )
                    .labelled_by(label.id)
                })
                .inner;
            if edit.changed() {
                self.preview_stale = true;
            }
            cols[1].label(egui::RichText::new("Preview").strong());
            let blocks = self.preview();
            egui::Frame::group(cols[1].style()).show(&mut cols[1], |ui| {
                ui.set_width(ui.available_width());
                egui::ScrollArea::vertical()
                    .id_salt("notes-preview")
                    .max_height(height - 12.0)
                    .auto_shrink([false, true])
                    .show(ui, |ui| preview_ui(ui, blocks));
            });
        });
    }
}

/// A run of text with one style.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Span {
    pub text: String,
    pub strong: bool,
    pub emphasis: bool,
    pub code: bool,
    /// Where it links to.
    pub link: Option<String>,
}

/// One block of the preview.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Block {
    Heading(u8, Vec<Span>),
    Paragraph(Vec<Span>),
    /// A list item: its nesting depth (0 for the outermost list) and its marker.
    Item {
        depth: usize,
        marker: String,
        spans: Vec<Span>,
    },
    Code(String),
    Rule,
}

/// The block being filled.
enum Open {
    Heading(u8),
    Paragraph,
    Item { depth: usize, marker: String },
}

/// Reads Markdown into preview blocks: headings, paragraphs (block quotes and table cells
/// included), list items with their depth, code blocks, rules; emphasis, code and links in
/// the text. Raw HTML is shown as text.
pub fn blocks(markdown: &str) -> Vec<Block> {
    let mut out = Vec::new();
    let mut open: Option<(Open, Vec<Span>)> = None;
    // Each list's next number (`None`: bullets).
    let mut lists: Vec<Option<u64>> = Vec::new();
    let (mut strong, mut emphasis) = (0u32, 0u32);
    let mut link: Option<String> = None;
    let mut code: Option<String> = None;

    let flush = |open: &mut Option<(Open, Vec<Span>)>, out: &mut Vec<Block>| {
        if let Some((kind, spans)) = open.take() {
            if spans.iter().all(|s| s.text.trim().is_empty()) {
                return;
            }
            out.push(match kind {
                Open::Heading(level) => Block::Heading(level, spans),
                Open::Paragraph => Block::Paragraph(spans),
                Open::Item { depth, marker } => Block::Item {
                    depth,
                    marker,
                    spans,
                },
            });
        }
    };

    for event in Parser::new_ext(
        markdown,
        Options::ENABLE_STRIKETHROUGH | Options::ENABLE_TABLES,
    ) {
        let push = |open: &mut Option<(Open, Vec<Span>)>, text: &str, is_code: bool| {
            let (_, spans) = open.get_or_insert_with(|| (Open::Paragraph, Vec::new()));
            spans.push(Span {
                text: text.to_owned(),
                strong: strong > 0,
                emphasis: emphasis > 0,
                code: is_code,
                link: link.clone(),
            });
        };
        match event {
            Event::Start(Tag::Heading { level, .. }) => {
                flush(&mut open, &mut out);
                open = Some((Open::Heading(heading_level(level)), Vec::new()));
            }
            // A loose list item's text comes in a paragraph: it stays the item's.
            Event::Start(Tag::Paragraph | Tag::TableRow | Tag::TableHead)
                if !matches!(open, Some((Open::Item { .. }, _))) =>
            {
                flush(&mut open, &mut out);
                open = Some((Open::Paragraph, Vec::new()));
            }
            Event::End(TagEnd::Heading(_) | TagEnd::TableRow | TagEnd::TableHead) => {
                flush(&mut open, &mut out);
            }
            Event::End(TagEnd::Paragraph) => {
                if matches!(open, Some((Open::Item { .. }, _))) {
                    push(&mut open, " ", false);
                } else {
                    flush(&mut open, &mut out);
                }
            }
            Event::Start(Tag::List(first)) => {
                flush(&mut open, &mut out);
                lists.push(first);
            }
            Event::End(TagEnd::List(_)) => {
                flush(&mut open, &mut out);
                lists.pop();
            }
            Event::Start(Tag::Item) => {
                flush(&mut open, &mut out);
                let depth = lists.len().saturating_sub(1);
                let marker = match lists.last_mut() {
                    Some(Some(n)) => {
                        let m = format!("{n}.");
                        *n += 1;
                        m
                    }
                    _ => "•".to_owned(),
                };
                open = Some((Open::Item { depth, marker }, Vec::new()));
            }
            Event::End(TagEnd::Item) => flush(&mut open, &mut out),
            Event::Start(Tag::Strong) => strong += 1,
            Event::End(TagEnd::Strong) => strong = strong.saturating_sub(1),
            Event::Start(Tag::Emphasis) => emphasis += 1,
            Event::End(TagEnd::Emphasis) => emphasis = emphasis.saturating_sub(1),
            Event::Start(Tag::Link { dest_url, .. } | Tag::Image { dest_url, .. }) => {
                link = Some(dest_url.to_string());
            }
            Event::End(TagEnd::Link | TagEnd::Image) => link = None,
            Event::Start(Tag::CodeBlock(_)) => {
                flush(&mut open, &mut out);
                code = Some(String::new());
            }
            Event::End(TagEnd::CodeBlock) => {
                if let Some(c) = code.take() {
                    out.push(Block::Code(c.trim_end().to_owned()));
                }
            }
            Event::Text(t) => match &mut code {
                Some(c) => c.push_str(&t),
                None => push(&mut open, &t, false),
            },
            Event::Code(t) => push(&mut open, &t, true),
            Event::Html(t) | Event::InlineHtml(t) => match &mut code {
                Some(c) => c.push_str(&t),
                None => push(&mut open, t.trim_end_matches('\n'), false),
            },
            Event::SoftBreak => push(&mut open, " ", false),
            Event::HardBreak => push(&mut open, "\n", false),
            Event::End(TagEnd::TableCell) => push(&mut open, "  |  ", false),
            Event::Rule => {
                flush(&mut open, &mut out);
                out.push(Block::Rule);
            }
            _ => {}
        }
    }
    flush(&mut open, &mut out);
    out
}

fn heading_level(level: HeadingLevel) -> u8 {
    match level {
        HeadingLevel::H1 => 1,
        HeadingLevel::H2 => 2,
        HeadingLevel::H3 => 3,
        HeadingLevel::H4 => 4,
        HeadingLevel::H5 => 5,
        HeadingLevel::H6 => 6,
    }
}

/// Draws the preview's blocks.
fn preview_ui(ui: &mut egui::Ui, blocks: &[Block]) {
    if blocks.is_empty() {
        ui.label(theme::muted("Nothing to preview yet."));
        return;
    }
    for block in blocks {
        match block {
            Block::Heading(level, spans) => {
                ui.add_space(if *level <= 2 { 8.0 } else { 4.0 });
                let size = match level {
                    1 => 22.0,
                    2 => 18.0,
                    _ => 15.0,
                };
                spans_ui(ui, spans, Some(size));
            }
            Block::Paragraph(spans) => {
                ui.add_space(2.0);
                spans_ui(ui, spans, None);
            }
            Block::Item {
                depth,
                marker,
                spans,
            } => {
                ui.horizontal_wrapped(|ui| {
                    ui.add_space(8.0 + 18.0 * *depth as f32);
                    ui.label(marker);
                    ui.spacing_mut().item_spacing.x = 0.0;
                    spans_inline(ui, spans, None);
                });
            }
            Block::Code(text) => {
                egui::Frame::new()
                    .fill(ui.visuals().extreme_bg_color)
                    .inner_margin(egui::Margin::same(6))
                    .corner_radius(4.0)
                    .show(ui, |ui| {
                        ui.set_width(ui.available_width());
                        ui.label(theme::mono(text));
                    });
            }
            Block::Rule => {
                ui.separator();
            }
        }
    }
}

fn spans_ui(ui: &mut egui::Ui, spans: &[Span], size: Option<f32>) {
    ui.horizontal_wrapped(|ui| {
        ui.spacing_mut().item_spacing.x = 0.0;
        spans_inline(ui, spans, size);
    });
}

/// Spans side by side; a link to a web address opens in the browser, any other target is shown
/// after its text.
fn spans_inline(ui: &mut egui::Ui, spans: &[Span], size: Option<f32>) {
    for s in spans {
        let mut text = egui::RichText::new(&s.text);
        if let Some(size) = size {
            text = text.size(size).strong();
        }
        if s.strong {
            text = text.strong();
        }
        if s.emphasis {
            text = text.italics();
        }
        if s.code {
            text = text.code();
        }
        match &s.link {
            Some(url) if url.starts_with("https://") || url.starts_with("http://") => {
                ui.hyperlink_to(text, url).on_hover_text(url);
            }
            Some(url) => {
                ui.label(text);
                ui.label(theme::muted(format!(" ({url})")));
            }
            None => {
                ui.label(text);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plain(spans: &[Span]) -> String {
        spans.iter().map(|s| s.text.as_str()).collect()
    }

    #[test]
    fn headings_bullets_links_and_code_become_blocks() {
        let md = "# WireTuner 0.2.0\n\nChanges since v0.1.0.\n\n## Features\n\n\
                  - **layers:** layer panel ([#12](https://github.com/o/r/pull/12))\n\
                  - nested\n  - deeper\n\n1. one\n2. two\n\n```\ncode line\n```\n\n---\n";
        let b = blocks(md);
        assert_eq!(b[0], Block::Heading(1, b_spans(&b[0])));
        assert_eq!(plain(&b_spans(&b[0])), "WireTuner 0.2.0");
        assert_eq!(plain(&b_spans(&b[1])), "Changes since v0.1.0.");
        assert!(matches!(b[2], Block::Heading(2, _)));
        let Block::Item {
            depth,
            marker,
            spans,
        } = &b[3]
        else {
            panic!("{b:?}")
        };
        assert_eq!((*depth, marker.as_str()), (0, "•"));
        assert_eq!(plain(spans), "layers: layer panel (#12)");
        assert!(spans[0].strong);
        let link = spans.iter().find(|s| s.text == "#12").expect("link");
        assert_eq!(link.link.as_deref(), Some("https://github.com/o/r/pull/12"));
        assert!(matches!(&b[5], Block::Item { depth: 1, spans, .. } if plain(spans) == "deeper"));
        assert!(matches!(&b[6], Block::Item { marker, .. } if marker == "1."));
        assert!(matches!(&b[7], Block::Item { marker, .. } if marker == "2."));
        assert_eq!(b[8], Block::Code("code line".into()));
        assert_eq!(b[9], Block::Rule);
        assert_eq!(b.len(), 10);
    }

    fn b_spans(b: &Block) -> Vec<Span> {
        match b {
            Block::Heading(_, s) | Block::Paragraph(s) | Block::Item { spans: s, .. } => s.clone(),
            _ => Vec::new(),
        }
    }

    #[test]
    fn raw_html_is_text_and_empty_input_has_no_blocks() {
        assert!(blocks("").is_empty());
        let b = blocks("<script>alert(1)</script>\n\ntext");
        assert_eq!(plain(&b_spans(&b[0])), "<script>alert(1)</script>");
    }
}
