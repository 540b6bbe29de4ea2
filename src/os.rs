//! What differs between the operating systems the console runs on, kept in one place: the free
//! space of a file system, the account's name, and how a builder's whole process tree is ended.
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
