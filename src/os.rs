//! What differs between the operating systems the console runs on, kept in one place: the free
//! space of a file system, the account's name, how a program name is found on `PATH` (with
//! `PATHEXT` on Windows) unless the workspace configures its path, and how a builder's whole
//! process tree is ended.
//! Linux and macOS share the Unix path (process groups, `statvfs`, the password database);
//! Windows has its own (a job object that kills its processes when closed, `GetDiskFreeSpaceExW`).
//! Nothing outside this module calls an OS interface that only one of them has.

use std::path::Path;

/// The bytes this user may still write on the file system that holds `path`, if it can be read.
pub fn free_bytes(path: &Path) -> Option<u64> {
    #[cfg(unix)]
    {
        let st = nix::sys::statvfs::statvfs(path).ok()?;
        Some(st.blocks_available() as u64 * st.fragment_size() as u64)
    }
    #[cfg(windows)]
    {
        windows::free_bytes(path)
    }
}

/// This machine's name (`$HOSTNAME`/`%COMPUTERNAME%`, else the system's), for the entries of a
/// shared workspace; `unknown host` when it cannot say.
pub fn host_name() -> String {
    let from_env = ["HOSTNAME", "COMPUTERNAME"]
        .iter()
        .find_map(|v| std::env::var(v).ok().filter(|h| !h.trim().is_empty()));
    #[cfg(unix)]
    let from_system = || {
        nix::unistd::gethostname()
            .ok()
            .and_then(|h| h.into_string().ok())
    };
    #[cfg(not(unix))]
    let from_system = || None::<String>;
    from_env
        .or_else(from_system)
        .map_or_else(|| "unknown host".to_owned(), |h| h.trim().to_owned())
}

/// The account this process runs as, from the system's own records (the password database
/// on Unix); `None` when it cannot say. (The environment's `USER`/`USERNAME` are read first by
/// the caller.)
pub fn account_name() -> Option<String> {
    #[cfg(unix)]
    {
        let uid = nix::unistd::getuid();
        match nix::unistd::User::from_uid(uid) {
            Ok(Some(user)) => Some(user.name),
            _ => Some(format!("uid {uid}")),
        }
    }
    #[cfg(windows)]
    {
        None
    }
}

/// The file names a program name stands for on this system: on Windows `flutter` is
/// `flutter.bat` or `flutter.exe`, in the order `PATHEXT` gives (`.COM;.EXE;.BAT;.CMD` when it is
/// unset); elsewhere the name itself. A name that already has one of the extensions stands for
/// itself.
fn program_file_names(tool: &str) -> Vec<String> {
    if cfg!(windows) {
        let exts = std::env::var("PATHEXT").unwrap_or_else(|_| ".COM;.EXE;.BAT;.CMD".into());
        names_with_extensions(tool, &exts)
    } else {
        vec![tool.to_owned()]
    }
}

fn names_with_extensions(tool: &str, pathext: &str) -> Vec<String> {
    let exts: Vec<&str> = pathext
        .split(';')
        .map(str::trim)
        .filter(|e| e.starts_with('.') && e.len() > 1)
        .collect();
    let lower = tool.to_ascii_lowercase();
    if exts
        .iter()
        .any(|e| lower.ends_with(&e.to_ascii_lowercase()))
    {
        return vec![tool.to_owned()];
    }
    exts.iter().map(|e| format!("{tool}{e}")).collect()
}

/// Whether `path` is a program this system would run: a file, executable by someone on Unix.
fn is_program(path: &Path) -> bool {
    let Ok(meta) = std::fs::metadata(path) else {
        return false;
    };
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        meta.is_file() && meta.permissions().mode() & 0o111 != 0
    }
    #[cfg(not(unix))]
    {
        meta.is_file()
    }
}

/// Where the program `tool` is, looked for as this system's shell would: in each folder of
/// `path` (a `PATH` value) in turn, with `PATHEXT`'s extensions on Windows. A name with a
/// folder in it is not looked up.
pub fn find_program_in(tool: &str, path: &std::ffi::OsStr) -> Option<std::path::PathBuf> {
    if tool.is_empty() || Path::new(tool).components().count() != 1 {
        return None;
    }
    let names = program_file_names(tool);
    std::env::split_paths(path)
        .filter(|dir| !dir.as_os_str().is_empty())
        .flat_map(|dir| names.iter().map(move |n| dir.join(n)))
        .find(|p| is_program(p))
        // A relative folder is this process's working directory's: made absolute, the path
        // names the same file for a child spawned in another folder.
        .map(|p| std::path::absolute(&p).unwrap_or(p))
}

/// The programs whose path the workspace configuration sets (`[tools]`), by name: a window
/// started from the Finder or the Start menu has no shell `PATH`, so a release manager says
/// where `osslsigncode` or `flutter` is once. Set when a workspace is opened.
static CONFIGURED: std::sync::RwLock<std::collections::BTreeMap<String, std::path::PathBuf>> =
    std::sync::RwLock::new(std::collections::BTreeMap::new());

/// Replaces the configured program paths (see [`CONFIGURED`]) with `paths`.
pub fn set_configured_programs(paths: std::collections::BTreeMap<String, std::path::PathBuf>) {
    *CONFIGURED
        .write()
        .unwrap_or_else(std::sync::PoisonError::into_inner) = paths;
}

/// The path configured for the program `tool`, if one is.
pub fn configured_program(tool: &str) -> Option<std::path::PathBuf> {
    CONFIGURED
        .read()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .get(tool)
        .cloned()
}

/// Where a program was found, and how.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProgramAt {
    /// The configured path (`[tools]`), a program this system can run.
    Configured(std::path::PathBuf),
    /// The configured path, which is no program this system can run (missing, a folder, not
    /// executable): the program is not looked for on `PATH` then.
    ConfiguredBroken(std::path::PathBuf),
    /// Found in a `PATH` folder.
    OnPath(std::path::PathBuf),
    /// Neither configured nor on `PATH`.
    Missing,
}

impl ProgramAt {
    /// The program to run, when there is one.
    pub fn path(&self) -> Option<&Path> {
        match self {
            Self::Configured(p) | Self::OnPath(p) => Some(p),
            Self::ConfiguredBroken(_) | Self::Missing => None,
        }
    }
}

/// Where the program `tool` is: its configured path when one is set (even a broken one: a
/// wrong setting is said, not bypassed), else on this process's `PATH`.
pub fn locate_program(tool: &str) -> ProgramAt {
    if let Some(p) = configured_program(tool) {
        return if is_program(&p) {
            ProgramAt::Configured(p)
        } else {
            ProgramAt::ConfiguredBroken(p)
        };
    }
    std::env::var_os("PATH")
        .and_then(|path| find_program_in(tool, &path))
        .map_or(ProgramAt::Missing, ProgramAt::OnPath)
}

/// The `PATH` a child process gets so that the programs it runs by name are the configured
/// ones too (a builder script calling `osslsigncode`), and only those: on Unix a private folder
/// of this process holding one link per configured program (a broken one is a script that says
/// so and fails, so a wrong setting is never bypassed for `PATH`), first, then this process's
/// `PATH`; on Windows the configured programs' folders first. `None` when no program is
/// configured (the child inherits `PATH` as it is).
pub fn path_with_configured() -> Option<std::ffi::OsString> {
    let configured = CONFIGURED
        .read()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .clone();
    if configured.is_empty() {
        return None;
    }
    let mut dirs: Vec<std::path::PathBuf> = Vec::new();
    #[cfg(unix)]
    dirs.extend(unix_shims(&configured));
    #[cfg(not(unix))]
    for dir in configured.values().filter_map(|p| p.parent()) {
        if !dir.as_os_str().is_empty() && !dirs.iter().any(|d| d == dir) {
            dirs.push(dir.to_path_buf());
        }
    }
    let inherited = std::env::var_os("PATH").unwrap_or_default();
    dirs.extend(std::env::split_paths(&inherited));
    std::env::join_paths(dirs).ok()
}

/// The folder of links to the configured programs (see [`path_with_configured`]), made once
/// per configuration in a private temporary folder of this process; `None` when it cannot be
/// made (the child then finds programs on `PATH`, as the preflight said).
#[cfg(unix)]
fn unix_shims(
    configured: &std::collections::BTreeMap<String, std::path::PathBuf>,
) -> Option<std::path::PathBuf> {
    type Shims = Option<(
        std::collections::BTreeMap<String, std::path::PathBuf>,
        tempfile::TempDir,
    )>;
    static SHIMS: std::sync::Mutex<Shims> = std::sync::Mutex::new(None);
    let mut shims = SHIMS
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    // A program is looked at again each time: one made or removed since counts.
    if let Some((made_for, dir)) = shims.as_ref()
        && made_for == configured
        && configured
            .iter()
            .all(|(n, p)| is_program(p) == std::fs::read_link(dir.path().join(n)).is_ok())
    {
        return Some(dir.path().to_owned());
    }
    let dir = tempfile::Builder::new()
        .prefix("release-console-tools-")
        .tempdir()
        .ok()?;
    for (name, path) in configured {
        let shim = dir.path().join(name);
        if is_program(path) {
            std::os::unix::fs::symlink(path, &shim).ok()?;
        } else {
            // The name is a program name config load checked (letters, digits, '-', '_', '.').
            let script = format!(
                "#!/bin/sh\necho \"release-console: the path set for {name} ([tools] in the \
                 configuration, Settings > Tools) is not a program this system can run\" >&2\n\
                 exit 127\n"
            );
            std::fs::write(&shim, script).ok()?;
            std::fs::set_permissions(&shim, std::os::unix::fs::PermissionsExt::from_mode(0o755))
                .ok()?;
        }
    }
    let path = dir.path().to_owned();
    *shims = Some((configured.clone(), dir));
    Some(path)
}

/// The program `tool`: its configured path (`[tools]`), else [`find_program_in`] this
/// process's `PATH`.
pub fn find_program(tool: &str) -> Option<std::path::PathBuf> {
    locate_program(tool).path().map(Path::to_path_buf)
}

/// What to spawn for `program`: the configured path of a bare name, else the file
/// [`find_program`] finds for it (so `flutter.bat` runs on Windows, where spawning `flutter`
/// would look for `flutter.exe` only), else `program` as given (a path, or a name that is not
/// installed: spawning it then fails with "not found", which the caller words).
pub fn resolve_program(program: &std::ffi::OsStr) -> std::path::PathBuf {
    let Some(name) = program.to_str() else {
        return std::path::PathBuf::from(program);
    };
    match locate_program(name) {
        ProgramAt::Configured(p) | ProgramAt::ConfiguredBroken(p) | ProgramAt::OnPath(p) => p,
        ProgramAt::Missing => std::path::PathBuf::from(program),
    }
}

/// How a command-line tool is installed on this system, for a "not installed" message: the
/// package manager a release manager there has (Homebrew on macOS, apt on Debian and Ubuntu;
/// Windows has no one name for every tool, so it says where the program must be), and that
/// its path can be set instead (a window started from the Finder or the Start menu does not
/// see the shell's `PATH`).
pub fn install_hint(tool: &str) -> String {
    let install = if cfg!(target_os = "macos") {
        format!("brew install {tool}")
    } else if cfg!(windows) {
        format!("install {tool} (e.g. with winget or scoop) and add its folder to PATH")
    } else {
        format!("apt-get install {tool}, or your distribution's package")
    };
    format!("{install}; or set its path in Settings > Tools ([tools] in release-console.toml)")
}

#[cfg(windows)]
pub use windows::Job;

/// The Windows calls: each `unsafe` block calls one documented Win32 function with arguments
/// that live for the call, and checks its result.
#[cfg(windows)]
#[allow(
    unsafe_code,
    reason = "Win32 calls have no safe wrapper in windows-sys; each is one checked call"
)]
mod windows {
    use std::os::windows::ffi::OsStrExt as _;
    use std::path::Path;

    use windows_sys::Win32::Foundation::{CloseHandle, HANDLE};
    use windows_sys::Win32::Storage::FileSystem::GetDiskFreeSpaceExW;
    use windows_sys::Win32::System::JobObjects::{
        AssignProcessToJobObject, CreateJobObjectW, JOB_OBJECT_LIMIT_KILL_ON_JOB_CLOSE,
        JOBOBJECT_EXTENDED_LIMIT_INFORMATION, JobObjectExtendedLimitInformation,
        SetInformationJobObject, TerminateJobObject,
    };

    pub fn free_bytes(path: &Path) -> Option<u64> {
        let wide: Vec<u16> = path.as_os_str().encode_wide().chain([0]).collect();
        let mut free = 0u64;
        // SAFETY: `wide` is a NUL-terminated UTF-16 path that outlives the call; `free` is a
        // valid u64 to write; the two totals are not asked for (null is allowed).
        let ok = unsafe {
            GetDiskFreeSpaceExW(
                wide.as_ptr(),
                &raw mut free,
                std::ptr::null_mut(),
                std::ptr::null_mut(),
            )
        };
        (ok != 0).then_some(free)
    }

    /// A job object holding a builder and everything it starts: closed (dropped, or this
    /// console ends in any way, a kill included) it ends them all.
    #[derive(Debug)]
    pub struct Job(HANDLE);

    // SAFETY: a job handle may be used and closed from any thread.
    unsafe impl Send for Job {}
    // SAFETY: the calls made through `&Job` (TerminateJobObject) are thread-safe.
    unsafe impl Sync for Job {}

    impl Job {
        /// A job that kills its processes when its last handle closes, with `process` (a
        /// process handle) in it. Processes `process` starts from now on are in it too.
        pub fn holding(process: std::os::windows::io::RawHandle) -> std::io::Result<Self> {
            // SAFETY: no security attributes and no name (both may be null).
            let handle = unsafe { CreateJobObjectW(std::ptr::null(), std::ptr::null()) };
            if handle.is_null() {
                return Err(std::io::Error::last_os_error());
            }
            let job = Self(handle);
            // SAFETY: an all-zero JOBOBJECT_EXTENDED_LIMIT_INFORMATION is a valid value (no
            // limits); only the kill-on-close flag is set.
            let mut info: JOBOBJECT_EXTENDED_LIMIT_INFORMATION = unsafe { std::mem::zeroed() };
            info.BasicLimitInformation.LimitFlags = JOB_OBJECT_LIMIT_KILL_ON_JOB_CLOSE;
            let size = u32::try_from(std::mem::size_of::<JOBOBJECT_EXTENDED_LIMIT_INFORMATION>())
                .unwrap_or(u32::MAX);
            // SAFETY: `info` lives for the call and `size` is its size.
            let ok = unsafe {
                SetInformationJobObject(
                    job.0,
                    JobObjectExtendedLimitInformation,
                    (&raw const info).cast(),
                    size,
                )
            };
            if ok == 0 {
                return Err(std::io::Error::last_os_error());
            }
            // SAFETY: both handles are open: the job's is ours, the process's is the caller's
            // child's, which it keeps open for the call.
            if unsafe { AssignProcessToJobObject(job.0, process.cast()) } == 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(job)
        }

        /// Lets the processes in the job run on after it is closed (the child ended by
        /// itself; what it started is its own business).
        pub fn release(self) {
            // SAFETY: an all-zero JOBOBJECT_EXTENDED_LIMIT_INFORMATION sets no limit, which
            // clears kill-on-close; `info` lives for the call and `size` is its size.
            let info: JOBOBJECT_EXTENDED_LIMIT_INFORMATION = unsafe { std::mem::zeroed() };
            let size = u32::try_from(std::mem::size_of::<JOBOBJECT_EXTENDED_LIMIT_INFORMATION>())
                .unwrap_or(u32::MAX);
            // SAFETY: the handle is open until `self` drops below.
            unsafe {
                SetInformationJobObject(
                    self.0,
                    JobObjectExtendedLimitInformation,
                    (&raw const info).cast(),
                    size,
                );
            }
        }

        /// Ends every process in the job now.
        pub fn kill(&self) {
            // SAFETY: the handle is open until drop.
            unsafe {
                TerminateJobObject(self.0, 1);
            }
        }
    }

    impl Drop for Job {
        fn drop(&mut self) {
            // SAFETY: the handle is open and closed once, here; closing it ends the processes
            // still in the job (kill on close).
            unsafe {
                CloseHandle(self.0);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A child's `PATH` starts with the configured programs and nothing else from their
    /// folders, and a configured path that is no program fails there, never falling through
    /// to `PATH`.
    #[cfg(unix)]
    #[test]
    fn children_run_only_the_configured_programs_and_never_bypass_a_broken_one() {
        let dir = tempfile::tempdir().expect("dir");
        let tools = dir.path().join("tools");
        std::fs::create_dir(&tools).expect("mkdir");
        let write = |name: &str| {
            use std::os::unix::fs::PermissionsExt as _;
            let p = tools.join(name);
            std::fs::write(&p, "#!/bin/sh\necho mine\n").expect("write");
            std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).expect("chmod");
            p
        };
        let mine = write("osslsigncode");
        write("sh-not-configured");
        set_configured_programs(
            [
                ("osslsigncode".to_owned(), mine.clone()),
                ("wixl".to_owned(), dir.path().join("no/such/wixl")),
            ]
            .into_iter()
            .collect(),
        );
        let path = path_with_configured().expect("a PATH");
        let first = std::env::split_paths(&path).next().expect("a folder");
        let mut names: Vec<String> = std::fs::read_dir(&first)
            .expect("shims")
            .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        assert_eq!(names, ["osslsigncode", "wixl"]);
        assert_eq!(
            std::fs::read_link(first.join("osslsigncode")).expect("link"),
            mine
        );
        let out = std::process::Command::new("wixl")
            .env("PATH", &path)
            .output()
            .expect("the shim runs");
        assert_eq!(out.status.code(), Some(127));
        assert!(
            String::from_utf8_lossy(&out.stderr).contains("the path set for wixl"),
            "{out:?}"
        );
        set_configured_programs(std::collections::BTreeMap::new());
        assert_eq!(path_with_configured(), None);
    }

    #[test]
    fn pathext_gives_the_names_a_bare_program_stands_for_in_its_order() {
        assert_eq!(
            names_with_extensions("flutter", ".COM;.EXE;.BAT;.CMD"),
            ["flutter.COM", "flutter.EXE", "flutter.BAT", "flutter.CMD"]
        );
        assert_eq!(names_with_extensions("iscc.exe", ".COM;.EXE"), ["iscc.exe"]);
        assert_eq!(
            names_with_extensions("signtool", " .exe ; ;bat;.cmd"),
            ["signtool.exe", "signtool.cmd"],
            "blanks and entries without a dot are ignored"
        );
    }

    #[cfg(unix)]
    #[test]
    fn a_program_is_found_in_path_order_and_only_when_it_can_run() {
        use std::os::unix::fs::PermissionsExt as _;
        let (a, b) = (
            tempfile::tempdir().expect("a"),
            tempfile::tempdir().expect("b"),
        );
        let make = |dir: &Path, mode: u32| {
            let p = dir.join("tool");
            std::fs::write(&p, "#!/bin/sh\n").expect("write");
            std::fs::set_permissions(&p, std::fs::Permissions::from_mode(mode)).expect("chmod");
            p
        };
        make(a.path(), 0o644);
        let runnable = make(b.path(), 0o755);
        let path = std::env::join_paths([a.path(), b.path()]).expect("join");
        assert_eq!(
            find_program_in("tool", &path),
            Some(runnable),
            "the first folder's copy cannot run, so the second one's is the program"
        );
        assert_eq!(find_program_in("missing", &path), None);
        assert_eq!(
            find_program_in("b/tool", &path),
            None,
            "a name with a folder is not looked up"
        );
        std::fs::create_dir(a.path().join("dir")).expect("mkdir");
        assert_eq!(
            find_program_in("dir", &path),
            None,
            "a folder is no program"
        );
    }

    /// A relative `PATH` folder is this process's working directory's: the program found there
    /// is given as an absolute path, which a child spawned in another folder (a builder in its
    /// project) still runs, not the file of that name under its own folder (or none).
    #[cfg(unix)]
    #[test]
    fn a_program_in_a_relative_path_folder_is_found_as_an_absolute_path() {
        use std::os::unix::fs::PermissionsExt as _;
        let a = tempfile::tempdir().expect("a");
        let tool = a.path().join("tool");
        std::fs::write(&tool, "#!/bin/sh\n").expect("write");
        std::fs::set_permissions(&tool, std::fs::Permissions::from_mode(0o755)).expect("chmod");
        // `a` as seen from the working directory: up to the root, then down.
        let cwd = std::env::current_dir().expect("cwd");
        let mut relative = std::path::PathBuf::new();
        for _ in cwd.components().skip(1) {
            relative.push("..");
        }
        relative.push(a.path().strip_prefix("/").expect("absolute"));
        assert!(relative.is_relative());
        let found = find_program_in("tool", relative.as_os_str()).expect("found");
        assert!(found.is_absolute(), "{}", found.display());
        assert_eq!(
            found.canonicalize().expect("canonical"),
            tool.canonicalize().expect("canonical")
        );
    }
}
