//! The update feeds and the downloads page, rendered from what is published: a Sparkle 2
//! appcast for macOS (as in Sparkle's `Resources/SampleAppcast.xml`), `latest.json` for the
//! Windows updater, and a static `index.html` with the checksums.

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

/// One published file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct File {
    pub name: String,
    pub key: String,
    pub url: String,
    pub size: u64,
    pub sha256: String,
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
    match ext(name).as_str() {
        "dmg" | "pkg" => Some("darwin-universal"),
        "zip" if lower.contains(".app.") => Some("darwin-universal"),
        "msi" | "exe" if arm => Some("windows-aarch64"),
        "msi" | "exe" => Some("windows-x86_64"),
        _ => None,
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

/// `latest.json` for the Windows (and any other) updater: the newest live version with a URL,
/// SHA-256 and size per platform; `None` when nothing is live.
pub fn latest_json(input: &FeedInput<'_>, notes: &str) -> Option<String> {
    let v = input.versions.first()?;
    let mut platforms = serde_json::Map::new();
    for f in &v.files {
        if let Some(p) = platform_of(&f.name) {
            platforms.entry(p).or_insert_with(
                || serde_json::json!({ "url": f.url, "sha256": f.sha256, "size": f.size }),
            );
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
            "<h2>{}{}</h2>\n<p>Published {}.</p>\n<table>\n<tr><th>File</th><th>Size</th><th>SHA-256</th></tr>\n",
            xml(&v.version),
            if first { " (latest)" } else { "" },
            v.at.strftime("%Y-%m-%d %H:%M UTC")
        ));
        first = false;
        for f in &v.files {
            out.push_str(&format!(
                "<tr><td><a href=\"{}\">{}</a></td><td>{}</td><td><code>{}</code></td></tr>\n",
                xml(&f.url),
                xml(&f.name),
                f.size,
                xml(&f.sha256)
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

    fn file(name: &str) -> File {
        File {
            name: name.into(),
            key: format!("p/{name}"),
            url: format!("https://dl.example.com/p/{name}"),
            size: 1234,
            sha256: "ab".repeat(32),
            ed_signature: None,
        }
    }

    #[test]
    fn the_appcast_has_an_item_per_version_with_a_macos_installer() {
        let at: Timestamp = "2026-11-30T08:05:09Z".parse().expect("ts");
        let new = Published {
            version: "1.1.0".into(),
            at,
            by: "rm".into(),
            files: vec![file("W-1.1.0.dmg"), file("W-1.1.0.msi")],
        };
        let old = Published {
            version: "1.0.0".into(),
            at,
            by: "rm".into(),
            files: vec![file("W-1.0.0.msi")],
        };
        let input = FeedInput {
            product: "W & Co",
            channel: "stable",
            versions: &[&new, &old],
            minimum_system_version: "10.15",
            phased_rollout_interval_secs: Some(86_400),
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
            serde_json::from_str(&latest_json(&input, "fixes").expect("latest")).expect("json");
        assert_eq!(latest["version"], "1.1.0");
        assert_eq!(latest["pub_date"], "2026-11-30T08:05:09Z");
        assert_eq!(latest["platforms"]["darwin-universal"]["size"], 1234);
        assert_eq!(
            latest["platforms"]["windows-x86_64"]["url"],
            "https://dl.example.com/p/W-1.1.0.msi"
        );
    }
}
