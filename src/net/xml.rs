//! A small XML tree for the answers of XML APIs (S3) and for reading feeds back: elements by
//! local name (namespace prefixes dropped), their attributes and their text.

use quick_xml::events::Event;

/// One element.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Element {
    /// The local name (`sparkle:version` is `version`).
    pub name: String,
    /// The name as written, with its prefix.
    pub qualified: String,
    pub attributes: Vec<(String, String)>,
    /// The text directly inside, unescaped.
    pub text: String,
    pub children: Vec<Element>,
}

impl Element {
    /// The first child named `name`.
    pub fn child(&self, name: &str) -> Option<&Element> {
        self.children.iter().find(|c| c.name == name)
    }

    /// Every child named `name`.
    pub fn all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a Element> + 'a {
        self.children.iter().filter(move |c| c.name == name)
    }

    /// The text of the first child named `name`.
    pub fn text_of(&self, name: &str) -> Option<&str> {
        self.child(name).map(|c| c.text.as_str())
    }

    /// An attribute by its name as written (`sparkle:edSignature`) or its local name.
    pub fn attr(&self, name: &str) -> Option<&str> {
        self.attributes
            .iter()
            .find(|(k, _)| k == name || local(k) == name)
            .map(|(_, v)| v.as_str())
    }
}

/// Dropped without recursion: a tree is taken apart one level at a time, so no shape of tree
/// can overflow the stack when it goes.
impl Drop for Element {
    fn drop(&mut self) {
        let mut pending = std::mem::take(&mut self.children);
        while let Some(mut child) = pending.pop() {
            pending.append(&mut child.children);
        }
    }
}

/// How deep elements may nest: far beyond any S3 answer or feed, and shallow enough that
/// nothing built from a hostile document can exhaust the stack.
pub const MAX_DEPTH: usize = 256;

fn local(name: &str) -> &str {
    name.rsplit(':').next().unwrap_or(name)
}

/// Parses `text` into its root element. Elements nested deeper than [`MAX_DEPTH`] are an
/// error naming the byte where the limit was passed.
pub fn parse(text: &str) -> Result<Element, String> {
    let mut reader = quick_xml::Reader::from_str(text);
    let mut stack: Vec<Element> = Vec::new();
    let mut root = None;
    let open = |e: &quick_xml::events::BytesStart<'_>| -> Result<Element, String> {
        let qualified = String::from_utf8_lossy(e.name().as_ref()).into_owned();
        let mut attributes = Vec::new();
        for a in e.attributes() {
            let a = a.map_err(|err| format!("a bad attribute in <{qualified}>: {err}"))?;
            let value = a
                .normalized_value(quick_xml::XmlVersion::Implicit1_0)
                .map_err(|err| format!("a bad attribute value in <{qualified}>: {err}"))?;
            attributes.push((
                String::from_utf8_lossy(a.key.as_ref()).into_owned(),
                value.into_owned(),
            ));
        }
        Ok(Element {
            name: local(&qualified).to_owned(),
            qualified,
            attributes,
            text: String::new(),
            children: Vec::new(),
        })
    };
    loop {
        let at = reader.buffer_position();
        let event = reader
            .read_event()
            .map_err(|e| format!("not well-formed XML at byte {at}: {e}"))?;
        match event {
            Event::Start(e) => {
                if stack.len() >= MAX_DEPTH {
                    return Err(format!(
                        "elements nested deeper than {MAX_DEPTH} levels at byte {at} (<{}>); \
                         refusing the document",
                        String::from_utf8_lossy(e.name().as_ref())
                    ));
                }
                stack.push(open(&e)?);
            }
            Event::Empty(e) => {
                let el = open(&e)?;
                match stack.last_mut() {
                    Some(parent) => parent.children.push(el),
                    None => root = Some(el),
                }
            }
            Event::End(_) => {
                let el = stack.pop().ok_or("a closing tag without its opening")?;
                match stack.last_mut() {
                    Some(parent) => parent.children.push(el),
                    None => root = Some(el),
                }
            }
            Event::Text(t) => {
                if let Some(el) = stack.last_mut() {
                    let s = t
                        .xml10_content()
                        .map_err(|e| format!("bad text in <{}>: {e}", el.qualified))?;
                    el.text.push_str(&s);
                }
            }
            Event::GeneralRef(r) => {
                if let Some(el) = stack.last_mut() {
                    let name = String::from_utf8_lossy(r.as_ref()).into_owned();
                    let ch = match name.as_str() {
                        "amp" => "&".to_owned(),
                        "lt" => "<".to_owned(),
                        "gt" => ">".to_owned(),
                        "quot" => "\"".to_owned(),
                        "apos" => "'".to_owned(),
                        other => r
                            .resolve_char_ref()
                            .ok()
                            .flatten()
                            .map(String::from)
                            .ok_or_else(|| {
                                format!("unknown entity &{other}; in <{}>", el.qualified)
                            })?,
                    };
                    el.text.push_str(&ch);
                }
            }
            Event::CData(c) => {
                if let Some(el) = stack.last_mut() {
                    el.text.push_str(&String::from_utf8_lossy(&c));
                }
            }
            Event::Eof => break,
            _ => {}
        }
    }
    if !stack.is_empty() {
        return Err(format!(
            "<{}> is never closed",
            stack[stack.len() - 1].qualified
        ));
    }
    root.ok_or_else(|| "no XML element".to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn elements_attributes_text_and_entities() {
        let doc = parse(
            r#"<?xml version="1.0"?>
<rss xmlns:sparkle="http://www.andymatuschak.org/xml-namespaces/sparkle">
  <item><sparkle:version>42</sparkle:version><title>A &amp; B &#x41;</title>
  <enclosure url="https://x/a%20b.dmg?x=1&amp;y=2" sparkle:edSignature="sig" length="3"/></item>
  <item><sparkle:version>43</sparkle:version><![CDATA[<raw>]]></item>
</rss>"#,
        )
        .expect("parse");
        assert_eq!(doc.name, "rss");
        let items: Vec<&Element> = doc.all("item").collect();
        assert_eq!(items.len(), 2);
        assert_eq!(items[0].text_of("version"), Some("42"));
        assert_eq!(
            items[0].child("version").map(|v| v.qualified.as_str()),
            Some("sparkle:version")
        );
        assert_eq!(items[0].text_of("title"), Some("A & B A"));
        let enc = items[0].child("enclosure").expect("enclosure");
        assert_eq!(enc.attr("url"), Some("https://x/a%20b.dmg?x=1&y=2"));
        assert_eq!(enc.attr("edSignature"), Some("sig"));
        assert_eq!(items[1].text.trim(), "<raw>");
    }

    #[test]
    fn a_document_nested_deeper_than_the_limit_is_an_error_not_a_stack_overflow() {
        // An S3 error body 140k levels deep (980 KB) overflowed the stack when its tree was
        // dropped.
        let levels = 140_000;
        let doc = format!("{}{}", "<a>".repeat(levels), "</a>".repeat(levels));
        let err = parse(&doc).expect_err("too deep");
        assert!(err.contains("deeper than 256 levels"), "{err}");
        assert!(err.contains(&format!("at byte {}", 3 * MAX_DEPTH)), "{err}");
        // At the limit itself the document parses.
        let doc = format!("{}{}", "<a>".repeat(MAX_DEPTH), "</a>".repeat(MAX_DEPTH));
        let mut el = &parse(&doc).expect("at the limit");
        let mut depth = 1;
        while let Some(c) = el.child("a") {
            el = c;
            depth += 1;
        }
        assert_eq!(depth, MAX_DEPTH);
    }

    #[test]
    fn a_deep_tree_built_in_code_drops_without_recursion() {
        let mut root = Element::default();
        for _ in 0..200_000 {
            root = Element {
                name: "a".into(),
                qualified: "a".into(),
                attributes: Vec::new(),
                text: String::new(),
                children: vec![root],
            };
        }
        drop(root);
    }

    #[test]
    fn broken_documents_say_where() {
        assert!(parse("<a><b></a>").is_err());
        assert!(parse("<a>").expect_err("open").contains("never closed"));
        assert!(parse("").is_err());
    }
}
