//! Whether a verified artifact is an installer, and for which platform: its name says which
//! platform it is for (`Platform::of_installer`) and its content must be that kind of file, so
//! a Mach-O named `.dmg` or a Windows program named `.AppImage` is no installer.

use std::io::Read;
use std::path::Path;

use crate::workspace::config::Platform;

/// The Compound File Binary header every MSI starts with.
const CFB_MAGIC: [u8; 8] = [0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1];
/// An RPM package's lead.
const RPM_MAGIC: [u8; 4] = [0xED, 0xAB, 0xEE, 0xDB];

/// The platform `path` (named `name`) installs on: its name's platform, when its bytes are
/// that kind of installer (a disk image's `koly` trailer, a flat package's XAR header, a zip
/// holding an `.app`, an MSI's compound file, a PE program, a Debian `ar` archive, an RPM
/// lead, an ELF `AppImage`); `None` otherwise.
pub fn platform_of(path: &Path, name: &str) -> Option<Platform> {
    let platform = Platform::of_installer(name)?;
    let lower = name.to_ascii_lowercase();
    let ext = lower.rsplit_once('.').map_or("", |(_, e)| e);
    let mut head = [0u8; 24];
    let got = std::fs::File::open(path)
        .and_then(|f| {
            let mut n = 0;
            let mut f = f.take(head.len() as u64);
            loop {
                match f.read(&mut head[n..])? {
                    0 => break,
                    k => n += k,
                }
            }
            Ok(n)
        })
        .unwrap_or(0);
    let head = &head[..got];
    let is = match ext {
        "dmg" => super::dmg::is_dmg(path),
        "pkg" => head.starts_with(b"xar!"),
        "zip" => super::bundle::is_zipped_app(path),
        "msi" => head.starts_with(&CFB_MAGIC),
        "exe" => head.starts_with(b"MZ"),
        "deb" => head.starts_with(b"!<arch>\ndebian-binary"),
        "rpm" => head.starts_with(&RPM_MAGIC),
        "appimage" => {
            head.starts_with(b"\x7fELF") && matches!(head.get(8..11), Some(b"AI\x01" | b"AI\x02"))
        }
        _ => false,
    };
    is.then_some(platform)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(dir: &Path, name: &str, bytes: &[u8]) -> std::path::PathBuf {
        let p = dir.join(name);
        std::fs::write(&p, bytes).expect("write");
        p
    }

    #[test]
    fn an_installer_is_known_by_its_name_and_its_bytes_together() {
        let dir = tempfile::tempdir().expect("dir");
        let d = dir.path();
        let mut msi = CFB_MAGIC.to_vec();
        msi.extend([0u8; 64]);
        assert_eq!(
            platform_of(&file(d, "W-1.0.msi", &msi), "W-1.0.msi"),
            Some(Platform::Windows)
        );
        assert_eq!(
            platform_of(&file(d, "W-1.0.exe", b"MZ\x90\x00rest"), "W-1.0.exe"),
            Some(Platform::Windows)
        );
        let mut deb = b"!<arch>\ndebian-binary   ".to_vec();
        deb.extend([b' '; 40]);
        assert_eq!(
            platform_of(&file(d, "w_1.0_amd64.deb", &deb), "w_1.0_amd64.deb"),
            Some(Platform::Linux)
        );
        let mut rpm = RPM_MAGIC.to_vec();
        rpm.extend([0u8; 92]);
        assert_eq!(
            platform_of(&file(d, "w-1.0.x86_64.rpm", &rpm), "w-1.0.x86_64.rpm"),
            Some(Platform::Linux)
        );
        let mut appimage = b"\x7fELF\x02\x01\x01\x00AI\x02".to_vec();
        appimage.extend([0u8; 32]);
        assert_eq!(
            platform_of(&file(d, "W-1.0.AppImage", &appimage), "W-1.0.AppImage"),
            Some(Platform::Linux)
        );
        // The name alone is not enough: a PE called .AppImage, a Mach-O called .dmg, text
        // called .msi or .pkg, a zip with no app called .app.zip.
        assert_eq!(
            platform_of(&file(d, "x.AppImage", b"MZ\x90\x00"), "x.AppImage"),
            None
        );
        let macho = [0xcf, 0xfa, 0xed, 0xfe, 7, 0, 0, 1];
        assert_eq!(platform_of(&file(d, "x.dmg", &macho), "x.dmg"), None);
        assert_eq!(platform_of(&file(d, "x.msi", b"not an msi"), "x.msi"), None);
        assert_eq!(platform_of(&file(d, "x.pkg", b"not a xar"), "x.pkg"), None);
        assert_eq!(
            platform_of(&file(d, "x.app.zip", b"PK\x05\x06"), "x.app.zip"),
            None
        );
        // Not an installer's name at all, whatever it holds.
        assert_eq!(platform_of(&file(d, "notes.txt", &msi), "notes.txt"), None);
        assert_eq!(platform_of(&d.join("missing.msi"), "missing.msi"), None);
    }
}
