//! The audit log reader: any bytes in audit.log (and any head) are indexed, verified, paged and
//! searched without a panic, and a log the index calls intact parses entry by entry.
#![no_main]
use libfuzzer_sys::fuzz_target;
use release_console::audit::AuditLog;

fuzz_target!(|data: &[u8]| {
    let Ok(dir) = tempfile::tempdir() else { return };
    let (log_bytes, head) = match data.iter().position(|&b| b == 0) {
        Some(i) => (&data[..i], Some(&data[i + 1..])),
        None => (data, None),
    };
    if std::fs::write(dir.path().join("audit.log"), log_bytes).is_err() {
        return;
    }
    if let Some(h) = head {
        let _ = std::fs::write(dir.path().join("audit.head"), h);
    }
    let log = AuditLog::in_workspace(dir.path());
    let verified = log.verify();
    if let Ok(index) = log.index() {
        let len = index.len();
        let page = log.read_range(&index, 0..len.min(64));
        let _ = log.search(&index, "a", None);
        let _ = log.status(&index);
        if verified.is_ok() {
            let page = page.expect("an intact log can be read");
            assert!(page.iter().all(Result::is_ok), "{page:?}");
        }
    }
});
