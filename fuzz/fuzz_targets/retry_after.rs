//! Retry-After: any header value is a bounded wait or nothing, never a panic.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(v) = std::str::from_utf8(data)
        && let Some(wait) = release_console::net::parse_retry_after(v)
    {
        assert!(wait <= std::time::Duration::from_secs(24 * 3600), "{wait:?} from {v:?}");
    }
});
