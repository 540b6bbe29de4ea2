//! The interpreters of osslsigncode, codesign, spctl and stapler output, and the in-process
//! Mach-O signature reader: any input gives a verdict, never a panic.
#![no_main]
use libfuzzer_sys::fuzz_target;
use release_console::verify::{apple, signature};

fuzz_target!(|data: &[u8]| {
    let Some((&flags, rest)) = data.split_first() else {
        return;
    };
    let text = String::from_utf8_lossy(rest);
    let parts: Vec<&str> = text.splitn(4, '\u{0}').collect();
    let part = |i: usize| parts.get(i).copied().unwrap_or("");
    let ok = |bit: u8| flags & (1 << bit) != 0;
    let expected = signature::Expected {
        windows_publisher: ok(4).then(|| "WireTuner Inc".to_owned()),
        windows_cert_sha256: None,
        apple_team_id: ok(5).then(|| "ABCDE12345".to_owned()),
        ca_file: None,
    };
    let _ = signature::interpret_osslsigncode(ok(0), part(0), &expected);
    let _ = apple::parse_codesign_display(part(1));
    let _ = apple::team_of(part(0));
    let _ = apple::publisher_of(part(0));
    let mut outcome = apple::interpret_codesign(
        (ok(1), part(0)),
        part(1),
        ok(2).then(|| (ok(3), part(2))),
        ok(6).then(|| (ok(7), part(3))),
    );
    apple::check_team(&mut outcome, &expected);
    let _ = release_console::verify::macho::verify(std::path::Path::new("fuzz"), rest, &expected);
});
