//! The update feeds and the downloads page, rendered from what is published: a Sparkle 2
//! appcast for macOS (as in Sparkle's `Resources/SampleAppcast.xml`), `latest.json` for the
//! Windows updater, and a static `index.html` with the checksums. Each carries the version's
//! release notes (`releases/<v>/notes.md`): the appcast's `<description>` as HTML in CDATA (as
//! Sparkle's embedded release notes), `latest.json`'s `notes` as Markdown, the page as HTML.

use std::collections::BTreeMap;

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use crate::workspace::config::Platform;

/// One published file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct File {
    pub name: String,
    pub key: String,
    pub url: String,
    pub size: u64,
    pub sha256: crate::digest::Sha256,
    /// Sparkle's `sparkle:edSignature` of the file (Ed25519, base64), when signed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ed_signature: Option<String>,
}

/// One published version.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Published {
    pub version: String,
    pub at: Timestamp,
    pub by: String,
    pub files: Vec<File>,
}

/// What the feeds are written from.
#[derive(Debug, Clone)]
pub struct FeedInput<'a> {
    pub product: &'a str,
    pub channel: &'a str,
    /// Live versions, newest first (yanked ones left out): the first is what the feeds offer.
    pub versions: &'a [&'a Published],
    pub minimum_system_version: &'a str,
    pub phased_rollout_interval_secs: Option<u64>,
    /// Release notes (Markdown) by version, for the versions that have them.
    pub notes: &'a BTreeMap<String, String>,
}

/// A link target kept in rendered notes: http(s), mailto, or a relative path. Anything else
/// (`javascript:`, `data:`, `file:`) is dropped.
fn safe_url(url: &str) -> bool {
    let lower = url.trim().to_ascii_lowercase();
    if lower.starts_with("https://") || lower.starts_with("http://") || lower.starts_with("mailto:")
    {
        return true;
    }
    // A relative URL has no scheme: no `:` before the first `/`, `?` or `#`.
    let head = lower.split(['/', '?', '#']).next().unwrap_or_default();
    !head.contains(':') && !lower.starts_with("//")
}

/// Release notes in Markdown as HTML: `CommonMark` with tables and strikethrough; raw HTML in
/// the Markdown is shown as text, links and images to anything but http(s), mailto or a
/// relative path lose their target.
pub fn notes_html(markdown: &str) -> String {
    use pulldown_cmark::{CowStr, Event, Options, Parser, Tag};
    let parser = Parser::new_ext(
        markdown,
        Options::ENABLE_TABLES | Options::ENABLE_STRIKETHROUGH,
    )
    .map(|event| match event {
        Event::Html(raw) | Event::InlineHtml(raw) => Event::Text(raw),
        Event::Start(Tag::Link {
            link_type,
            dest_url,
            title,
            id,
        }) if !safe_url(&dest_url) => Event::Start(Tag::Link {
            link_type,
            dest_url: CowStr::Borrowed(""),
            title,
            id,
        }),
        Event::Start(Tag::Image {
            link_type,
            dest_url,
            title,
            id,
        }) if !safe_url(&dest_url) => Event::Start(Tag::Image {
            link_type,
            dest_url: CowStr::Borrowed(""),
            title,
            id,
        }),
        other => other,
    });
    let mut out = String::new();
    pulldown_cmark::html::push_html(&mut out, parser);
    out
}

/// `text` as one CDATA section: a `]]>` inside is split across two sections.
fn cdata(text: &str) -> String {
    format!("<![CDATA[{}]]>", text.replace("]]>", "]]]]><![CDATA[>"))
}

/// A file name's extension, lower case (`""` when it has none).
fn ext(name: &str) -> String {
    std::path::Path::new(name)
        .extension()
        .map(|e| e.to_string_lossy().to_ascii_lowercase())
        .unwrap_or_default()
}

/// The platform an installer is for, by its name.
pub fn platform_of(name: &str) -> Option<&'static str> {
    let lower = name.to_ascii_lowercase();
    let arm = lower.contains("arm64") || lower.contains("aarch64");
    match Platform::of_installer(name)? {
        Platform::Macos => Some("darwin-universal"),
        Platform::Windows if arm => Some("windows-aarch64"),
        Platform::Windows => Some("windows-x86_64"),
        // No updater feed reads Linux packages.
        Platform::Linux => None,
    }
}

fn xml(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&apos;")
}

fn content_type(name: &str) -> &'static str {
    match ext(name).as_str() {
        "dmg" => "application/x-apple-diskimage",
        "pkg" => "application/vnd.apple.installer+xml",
        "msi" => "application/x-msi",
        "exe" => "application/vnd.microsoft.portable-executable",
        _ => "application/octet-stream",
    }
}

/// The MIME type an object is served with.
pub fn mime(name: &str) -> &'static str {
    let lower = name.to_ascii_lowercase();
    match ext(name).as_str() {
        "xml" => "application/xml",
        "json" => "application/json",
        "html" => "text/html; charset=utf-8",
        "sha256" | "txt" => "text/plain; charset=utf-8",
        _ if lower.ends_with("sha256sums") => "text/plain; charset=utf-8",
        _ => content_type(name),
    }
}

/// The Sparkle 2 appcast: one item per live version that has a macOS installer.
pub fn appcast(input: &FeedInput<'_>) -> String {
    let mut out = String::from(
        "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<rss version=\"2.0\" \
         xmlns:sparkle=\"http://www.andymatuschak.org/xml-namespaces/sparkle\" \
         xmlns:dc=\"http://purl.org/dc/elements/1.1/\">\n    <channel>\n",
    );
    out.push_str(&format!(
        "        <title>{} ({})</title>\n        <description>{} updates, {} channel</description>\n        <language>en</language>\n",
        xml(input.product),
        xml(input.channel),
        xml(input.product),
        xml(input.channel)
    ));
    for v in input.versions {
        let Some(mac) = v
            .files
            .iter()
            .find(|f| platform_of(&f.name) == Some("darwin-universal"))
        else {
            continue;
        };
        out.push_str("        <item>\n");
        out.push_str(&format!(
            "            <title>Version {}</title>\n",
            xml(&v.version)
        ));
        out.push_str(&format!(
            "            <sparkle:version>{0}</sparkle:version>\n            <sparkle:shortVersionString>{0}</sparkle:shortVersionString>\n",
            xml(&v.version)
        ));
        if let Some(notes) = input.notes.get(&v.version) {
            out.push_str(&format!(
                "            <description>{}</description>\n",
                cdata(&notes_html(notes))
            ));
        }
        out.push_str(&format!(
            "            <pubDate>{}</pubDate>\n",
            v.at.strftime("%a, %d %b %Y %H:%M:%S +0000")
        ));
        out.push_str(&format!(
            "            <sparkle:minimumSystemVersion>{}</sparkle:minimumSystemVersion>\n",
            xml(input.minimum_system_version)
        ));
        if let Some(secs) = input.phased_rollout_interval_secs {
            out.push_str(&format!(
                "            <sparkle:phasedRolloutInterval>{secs}</sparkle:phasedRolloutInterval>\n"
            ));
        }
        let signature = mac.ed_signature.as_ref().map_or_else(String::new, |sig| {
            format!(" sparkle:edSignature=\"{}\"", xml(sig))
        });
        out.push_str(&format!(
            "            <enclosure url=\"{}\" length=\"{}\" type=\"{}\"{signature} />\n",
            xml(&mac.url),
            mac.size,
            content_type(&mac.name)
        ));
        out.push_str("        </item>\n");
    }
    out.push_str("    </channel>\n</rss>\n");
    out
}

/// `latest.json` for the Windows (and any other) updater: the newest live version, its release
/// notes (Markdown, empty when it has none), and per platform the newest live version that
/// has an installer for it, with its version, URL, SHA-256 and size. A version published
/// without a platform (not shipped this time) leaves that platform's entry as it was: an
/// updater reads its platform's `version`, which may be older than the top-level one. `None`
/// when nothing is live.
pub fn latest_json(input: &FeedInput<'_>) -> Option<String> {
    let v = input.versions.first()?;
    let notes = input.notes.get(&v.version).map_or("", String::as_str);
    let mut platforms = serde_json::Map::new();
    for older in input.versions {
        for f in &older.files {
            if let Some(p) = platform_of(&f.name) {
                platforms.entry(p).or_insert_with(|| {
                    serde_json::json!({
                        "version": older.version,
                        "url": f.url,
                        "sha256": f.sha256,
                        "size": f.size,
                    })
                });
            }
        }
    }
    let doc = serde_json::json!({
        "version": v.version,
        "pub_date": v.at.strftime("%Y-%m-%dT%H:%M:%SZ").to_string(),
        "notes": notes,
        "platforms": platforms,
    });
    serde_json::to_string_pretty(&doc).ok().map(|s| s + "\n")
}

/// The downloads page: the newest live version's files with size and SHA-256, then the older
/// live versions.
pub fn index_html(input: &FeedInput<'_>) -> String {
    let title = format!("{} downloads", xml(input.product));
    let mut out = format!(
        "<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>{title}</title>\n\
         <style>body{{font-family:system-ui,sans-serif;margin:2rem;max-width:60rem}}\
         code{{font-size:.85em;word-break:break-all}}td{{padding:.2rem .6rem}}</style>\n</head>\n<body>\n<h1>{title}</h1>\n"
    );
    let mut first = true;
    for v in input.versions {
        out.push_str(&format!(
            "<h2>{}{}</h2>\n<p>Published {}.</p>\n",
            xml(&v.version),
            if first { " (latest)" } else { "" },
            v.at.strftime("%Y-%m-%d %H:%M UTC")
        ));
        first = false;
        // The notes before the table: a <div> inside a <table> is not HTML.
        if let Some(notes) = input.notes.get(&v.version) {
            out.push_str(&format!(
                "<div class=\"notes\">\n{}</div>\n",
                notes_html(notes)
            ));
        }
        out.push_str("<table>\n<tr><th>File</th><th>Size</th><th>SHA-256</th></tr>\n");
        for f in &v.files {
            out.push_str(&format!(
                "<tr><td><a href=\"{}\">{}</a></td><td>{}</td><td><code>{}</code></td></tr>\n",
                xml(&f.url),
                xml(&f.name),
                f.size,
                f.sha256
            ));
        }
        out.push_str("</table>\n");
    }
    if input.versions.is_empty() {
        out.push_str("<p>Nothing is published on this channel.</p>\n");
    }
    out.push_str("</body>\n</html>\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn published(version: &str, at: Timestamp, files: Vec<File>) -> Published {
        Published {
            version: version.into(),
            at,
            by: "rm".into(),
            files,
        }
    }

    fn file(name: &str) -> File {
        File {
            name: name.into(),
            key: format!("p/{name}"),
            url: format!("https://dl.example.com/p/{name}"),
            size: 1234,
            sha256: "ab".repeat(32).parse().expect("a digest"),
            ed_signature: None,
        }
    }

    #[test]
    fn the_appcast_has_an_item_per_version_with_a_macos_installer() {
        let at: Timestamp = "2026-11-30T08:05:09Z".parse().expect("ts");
        let new = published("1.1.0", at, vec![file("W-1.1.0.dmg"), file("W-1.1.0.msi")]);
        let old = published("1.0.0", at, vec![file("W-1.0.0.msi")]);
        let notes = BTreeMap::new();
        let input = FeedInput {
            product: "W & Co",
            channel: "stable",
            versions: &[&new, &old],
            minimum_system_version: "10.15",
            phased_rollout_interval_secs: Some(86_400),
            notes: &notes,
        };
        let xml = appcast(&input);
        assert_eq!(xml.matches("<item>").count(), 1);
        assert!(xml.contains("<title>W &amp; Co (stable)</title>"));
        assert!(xml.contains("<sparkle:version>1.1.0</sparkle:version>"));
        assert!(xml.contains("<sparkle:shortVersionString>1.1.0</sparkle:shortVersionString>"));
        assert!(
            xml.contains("<pubDate>Mon, 30 Nov 2026 08:05:09 +0000</pubDate>"),
            "{xml}"
        );
        assert!(
            xml.contains("<sparkle:phasedRolloutInterval>86400</sparkle:phasedRolloutInterval>")
        );
        assert!(xml.contains(
            "<enclosure url=\"https://dl.example.com/p/W-1.1.0.dmg\" length=\"1234\" type=\"application/x-apple-diskimage\" />"
        ));
        let latest: serde_json::Value =
            serde_json::from_str(&latest_json(&input).expect("latest")).expect("json");
        assert_eq!(latest["version"], "1.1.0");
        assert_eq!(latest["pub_date"], "2026-11-30T08:05:09Z");
        assert_eq!(latest["platforms"]["darwin-universal"]["size"], 1234);
        assert_eq!(
            latest["platforms"]["windows-x86_64"]["url"],
            "https://dl.example.com/p/W-1.1.0.msi"
        );
    }

    #[test]
    fn a_platform_the_newest_version_does_not_ship_keeps_its_older_entry_in_every_feed() {
        let at: Timestamp = "2026-11-30T08:05:09Z".parse().expect("ts");
        // 1.2.0 ships Windows only (macOS not shipped this time): the macOS feeds keep 1.1.0.
        let newest = published("1.2.0", at, vec![file("W-1.2.0.msi")]);
        let older = published("1.1.0", at, vec![file("W-1.1.0.dmg"), file("W-1.1.0.msi")]);
        let notes = BTreeMap::new();
        let input = FeedInput {
            product: "W",
            channel: "stable",
            versions: &[&newest, &older],
            minimum_system_version: "10.15",
            phased_rollout_interval_secs: None,
            notes: &notes,
        };
        let xml = appcast(&input);
        assert_eq!(xml.matches("<item>").count(), 1, "{xml}");
        assert!(
            xml.contains("<sparkle:version>1.1.0</sparkle:version>"),
            "{xml}"
        );
        let latest: serde_json::Value =
            serde_json::from_str(&latest_json(&input).expect("latest")).expect("json");
        assert_eq!(latest["version"], "1.2.0");
        assert_eq!(latest["platforms"]["windows-x86_64"]["version"], "1.2.0");
        assert_eq!(
            latest["platforms"]["windows-x86_64"]["url"],
            "https://dl.example.com/p/W-1.2.0.msi"
        );
        assert_eq!(latest["platforms"]["darwin-universal"]["version"], "1.1.0");
        assert_eq!(
            latest["platforms"]["darwin-universal"]["url"],
            "https://dl.example.com/p/W-1.1.0.dmg"
        );
    }

    fn sample(name: &str) -> crate::net::xml::Element {
        let path = format!(
            "{}/tests/fixtures/vendor/sparkle/{name}",
            env!("CARGO_MANIFEST_DIR")
        );
        let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
        crate::net::xml::parse(&text).expect("Sparkle's sample parses")
    }

    #[test]
    fn notes_go_into_the_appcast_as_sparkle_reads_them_and_into_the_other_feeds() {
        let at: Timestamp = "2026-11-30T08:05:09Z".parse().expect("ts");
        let new = published("1.1.0", at, vec![file("W-1.1.0.dmg"), file("W-1.1.0.msi")]);
        let markdown = "# W 1.1.0\n\n## Fixes\n\n- crash on <script>alert(1)</script> \
                        ([#7](https://github.com/o/r/pull/7), [bad](javascript:alert(1)))\n- \
                        a `]]>` in code\n";
        let notes = BTreeMap::from([("1.1.0".to_owned(), markdown.to_owned())]);
        let input = FeedInput {
            product: "W",
            channel: "stable",
            versions: &[&new],
            minimum_system_version: "10.15",
            phased_rollout_interval_secs: None,
            notes: &notes,
        };
        let xml = appcast(&input);
        let doc = crate::net::xml::parse(&xml).expect("the appcast parses");
        // The shape of Sparkle's samples: the same root and namespace, and every element of
        // our item is one Sparkle's sample items use (`description` as in its test appcast).
        let samples = [
            sample("SampleAppcast.xml"),
            sample("testappcast_phasedRollout.xml"),
        ];
        assert_eq!(doc.qualified, samples[0].qualified);
        assert_eq!(doc.attr("version"), samples[0].attr("version"));
        assert_eq!(doc.attr("xmlns:sparkle"), samples[0].attr("xmlns:sparkle"));
        let known: std::collections::BTreeSet<&str> = samples
            .iter()
            .flat_map(|s| s.child("channel").into_iter().flat_map(|c| c.all("item")))
            .flat_map(|i| i.children.iter().map(|c| c.qualified.as_str()))
            .collect();
        let item = doc
            .child("channel")
            .and_then(|c| c.child("item"))
            .expect("item");
        for child in &item.children {
            assert!(
                known.contains(child.qualified.as_str()),
                "<{}> is in no Sparkle sample item ({known:?})",
                child.qualified
            );
        }
        // The description is the notes' HTML, whole, through the CDATA (split at `]]>`).
        let html = item.text_of("description").expect("description");
        assert_eq!(html, notes_html(markdown));
        assert!(
            xml.contains("<description><![CDATA[<h1>W 1.1.0</h1>"),
            "{xml}"
        );
        assert!(html.contains("<h2>Fixes</h2>"), "{html}");
        assert!(
            html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"),
            "raw HTML is text: {html}"
        );
        assert!(!html.contains("<script"), "{html}");
        assert!(
            html.contains("<a href=\"https://github.com/o/r/pull/7\">#7</a>"),
            "{html}"
        );
        assert!(!html.contains("javascript:"), "{html}");
        assert!(html.contains("<code>]]&gt;</code>"), "{html}");
        assert_eq!(cdata("a]]>b"), "<![CDATA[a]]]]><![CDATA[>b]]>");

        let latest: serde_json::Value =
            serde_json::from_str(&latest_json(&input).expect("latest")).expect("json");
        assert_eq!(latest["notes"], markdown);
        let page = index_html(&input);
        assert!(
            page.contains("<div class=\"notes\">\n<h1>W 1.1.0</h1>"),
            "{page}"
        );
        assert!(!page.contains("<script"), "{page}");
        // The notes sit before the version's table, never inside it.
        let notes_end = page.find("</div>").expect("notes");
        let table = page.find("<table>").expect("table");
        assert!(notes_end < table, "{page}");
        assert!(!page[table..].contains("<div"), "{page}");
    }
}
