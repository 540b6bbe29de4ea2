//! The shared task runner with real child processes: process-group cancel, redaction, duplicate
//! names, timeouts, bounded logs, queueing and hooks.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use release_console::runner::{
    ProcessSpec, Redactor, Runner, RunnerError, TaskHook, TaskInfo, TaskSpec, TaskState,
};

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime")
}

fn spec(name: &str, timeout_secs: u64) -> TaskSpec {
    TaskSpec::new(name, "test", Duration::from_secs(timeout_secs))
}

fn shell(script: &str) -> ProcessSpec {
    ProcessSpec::new("sh").arg("-c").arg(script)
}

/// Starts a task that runs `script` with sh and succeeds when it exits 0.
fn start_shell(
    runner: &Runner,
    spec: TaskSpec,
    script: &'static str,
) -> release_console::runner::TaskId {
    runner
        .start(spec, move |ctx| async move {
            ctx.run_process(&shell(script)).await?;
            Ok(String::new())
        })
        .expect("start")
}

fn log_lines(runner: &Runner, id: release_console::runner::TaskId) -> Vec<String> {
    let snap = runner.task(id).expect("task");
    let log = snap.log.lock().expect("log");
    log.lines_from(0).map(|(_, l)| l.to_owned()).collect()
}

/// Whether a pid is gone (or a zombie waiting for a reaper, which no longer runs).
fn process_gone(pid: i32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Err(_) => true,
        Ok(stat) => stat
            .rsplit(')')
            .next()
            .is_some_and(|rest| rest.trim_start().starts_with('Z')),
    }
}

fn wait_until(what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !cond() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn cancel_kills_the_whole_process_group() {
    let rt = runtime();
    let runner = Runner::new(rt.handle().clone(), 2);
    // A shell that starts two grandchildren (one ignores SIGTERM) and waits on them.
    let script =
        "sleep 300 & echo child:$!; (trap '' TERM; sleep 300) & echo child:$!; echo ready; wait";
    let id = runner
        .start(spec("group", 60), move |ctx| async move {
            ctx.run_process(&shell(script)).await?;
            Ok("done".into())
        })
        .expect("start");
    wait_until("children to start", || {
        log_lines(&runner, id).iter().any(|l| l == "ready")
    });
    let pids: Vec<i32> = log_lines(&runner, id)
        .iter()
        .filter_map(|l| l.strip_prefix("child:")?.parse().ok())
        .collect();
    assert_eq!(pids.len(), 2, "{:?}", log_lines(&runner, id));
    assert!(
        pids.iter().all(|&p| !process_gone(p)),
        "children are running before cancel"
    );

    runner.cancel(id);
    let snap = rt.block_on(runner.wait(id)).expect("finished");
    assert_eq!(snap.state, TaskState::Cancelled);
    wait_until("every child to die", || {
        pids.iter().all(|&p| process_gone(p))
    });
}

#[test]
fn secrets_are_redacted_in_memory_and_on_disk() {
    let rt = runtime();
    let runner = Runner::new(rt.handle().clone(), 2);
    let dir = tempfile::tempdir().expect("tempdir");
    let log_file = dir.path().join("logs/task.log");
    let mut s = spec("redact", 30);
    s.redactor = Redactor::new(["s3cr3t-pfx-pass".to_owned()]);
    s.log_file = Some(log_file.clone());
    let id = runner
        .start(s, |ctx| async move {
            ctx.log_line("using password s3cr3t-pfx-pass now");
            ctx.run_process(&shell(
                "echo stdout:s3cr3t-pfx-pass; echo stderr:s3cr3t-pfx-pass >&2",
            ))
            .await?;
            Ok("ok".into())
        })
        .expect("start");
    let snap = rt.block_on(runner.wait(id)).expect("finished");
    assert_eq!(snap.state, TaskState::Succeeded, "{:?}", snap.message);
    let lines = log_lines(&runner, id);
    assert!(lines.iter().any(|l| l == "stdout:<redacted>"), "{lines:?}");
    assert!(lines.iter().any(|l| l == "stderr:<redacted>"), "{lines:?}");
    assert!(lines.iter().all(|l| !l.contains("s3cr3t")), "{lines:?}");
    let on_disk = std::fs::read_to_string(&log_file).expect("log file");
    assert!(
        on_disk.contains("using password <redacted> now"),
        "{on_disk}"
    );
    assert!(!on_disk.contains("s3cr3t"), "{on_disk}");
}

#[test]
fn a_second_task_with_the_same_name_is_refused_while_running() {
    let rt = runtime();
    let runner = Runner::new(rt.handle().clone(), 2);
    let id = start_shell(&runner, spec("build", 30), "sleep 30");
    let second = runner.start(spec("build", 30), |_| async { Ok(String::new()) });
    assert!(
        matches!(second, Err(RunnerError::DuplicateName(ref n)) if n == "build"),
        "{second:?}"
    );
    runner.cancel(id);
    rt.block_on(runner.wait(id));
    // Once the first has finished the name is free again.
    let third = runner
        .start(spec("build", 30), |_| async { Ok("again".into()) })
        .expect("name free");
    assert_eq!(
        rt.block_on(runner.wait(third)).expect("done").state,
        TaskState::Succeeded
    );
}

#[test]
fn timeout_fails_the_task_and_kills_its_processes() {
    let rt = runtime();
    let runner = Runner::new(rt.handle().clone(), 2);
    let id = start_shell(&runner, spec("slow", 1), "sleep 300 & echo child:$!; wait");
    let snap = rt.block_on(runner.wait(id)).expect("finished");
    assert_eq!(snap.state, TaskState::Failed);
    assert!(
        snap.message
            .as_deref()
            .is_some_and(|m| m.contains("timed out after 1 s")),
        "{:?}",
        snap.message
    );
    let pid: i32 = log_lines(&runner, id)
        .iter()
        .find_map(|l| l.strip_prefix("child:")?.parse().ok())
        .expect("child pid logged");
    wait_until("the timed-out child to die", || process_gone(pid));
}

#[test]
fn failing_process_fails_the_task_with_its_exit_status() {
    let rt = runtime();
    let runner = Runner::new(rt.handle().clone(), 2);
    let id = start_shell(&runner, spec("fails", 30), "echo about to fail; exit 3");
    let snap = rt.block_on(runner.wait(id)).expect("finished");
    assert_eq!(snap.state, TaskState::Failed);
    assert!(
        snap.message
            .as_deref()
            .is_some_and(|m| m.contains("exit status: 3")),
        "{:?}",
        snap.message
    );
    let missing = runner
        .start(spec("missing-tool", 30), |ctx| async move {
            ctx.run_process(&ProcessSpec::new("no-such-tool-xyz"))
                .await?;
            Ok(String::new())
        })
        .expect("start");
    let snap = rt.block_on(runner.wait(missing)).expect("finished");
    assert!(
        snap.message
            .as_deref()
            .is_some_and(|m| m.contains("cannot run `no-such-tool-xyz`")),
        "{:?}",
        snap.message
    );
}

#[test]
fn a_task_printing_forever_keeps_memory_bounded() {
    let rt = runtime();
    let runner = Runner::new(rt.handle().clone(), 2);
    let mut s = spec("chatty", 60);
    s.max_log_bytes = 4 * 1024 * 1024;
    let id = runner
        .start(s, |ctx| async move {
            ctx.run_process(&shell(
                "yes 'a line of endless output from a runaway build step'",
            ))
            .await?;
            Ok(String::new())
        })
        .expect("start");
    wait_until("lots of output", || {
        runner
            .task(id)
            .is_some_and(|t| t.log.lock().is_ok_and(|l| l.total_lines() > 500_000))
    });
    runner.cancel(id);
    let snap = rt.block_on(runner.wait(id)).expect("finished");
    assert_eq!(snap.state, TaskState::Cancelled);
    let log = snap.log.lock().expect("log");
    assert!(
        log.size_bytes() <= 4 * 1024 * 1024 + 256 * 1024,
        "held {} bytes",
        log.size_bytes()
    );
    assert!(log.first_retained() > 0, "oldest lines were dropped");
    assert!(
        log.line(log.total_lines() - 1)
            .is_some_and(|l| l.starts_with("[cancelled]"))
    );
}

#[test]
fn tasks_beyond_the_limit_queue_and_can_be_cancelled_while_queued() {
    let rt = runtime();
    let runner = Runner::new(rt.handle().clone(), 1);
    let first = start_shell(&runner, spec("first", 30), "sleep 30");
    // The slot goes to whichever task's driver runs first; wait for `first` to hold it.
    wait_until("first to run", || {
        runner
            .task(first)
            .is_some_and(|t| t.state == TaskState::Running)
    });
    let second = runner
        .start(spec("second", 30), |_| async { Ok("ran".into()) })
        .expect("second");
    std::thread::sleep(Duration::from_millis(100));
    assert_eq!(
        runner.task(second).expect("second").state,
        TaskState::Queued
    );
    let third = runner
        .start(spec("third", 30), |_| async { Ok("ran".into()) })
        .expect("third");
    runner.cancel(third);
    assert_eq!(
        rt.block_on(runner.wait(third)).expect("third").state,
        TaskState::Cancelled
    );
    runner.cancel(first);
    let snap = rt.block_on(runner.wait(second)).expect("second");
    assert_eq!(snap.state, TaskState::Succeeded);
    assert_eq!(snap.message.as_deref(), Some("ran"));
}

#[derive(Default)]
struct Recorder(Mutex<Vec<String>>);

impl TaskHook for Recorder {
    fn on_start(&self, task: &TaskInfo) -> Result<(), String> {
        self.0
            .lock()
            .expect("lock")
            .push(format!("start {}", task.name));
        Ok(())
    }
    fn on_finish(&self, task: &TaskInfo, state: TaskState, message: &str) -> Result<(), String> {
        self.0.lock().expect("lock").push(format!(
            "finish {} {} {message}",
            task.name,
            state.as_str()
        ));
        Err("disk full".into())
    }
}

#[test]
fn hooks_see_start_and_finish_before_subscribers_and_errors_reach_the_log() {
    let rt = runtime();
    let runner = Runner::new(rt.handle().clone(), 2);
    let recorder = Arc::new(Recorder::default());
    runner.set_hook(Some(recorder.clone()));
    let mut events = runner.subscribe();
    let id = runner
        .start(spec("hooked", 30), |_| async { Ok("fine".into()) })
        .expect("start");
    let finished = rt.block_on(async {
        loop {
            if let Ok(release_console::runner::TaskEvent::Finished { state, .. }) =
                events.recv().await
            {
                break state;
            }
        }
    });
    assert_eq!(finished, TaskState::Succeeded);
    assert_eq!(
        *recorder.0.lock().expect("lock"),
        ["start hooked", "finish hooked succeeded fine"]
    );
    let lines = log_lines(&runner, id);
    assert!(
        lines
            .iter()
            .any(|l| l.contains("could not record this task: disk full")),
        "{lines:?}"
    );
}

#[test]
fn a_task_that_panics_fails_with_the_panic_message_and_frees_its_name() {
    let rt = runtime();
    let runner = Runner::new(rt.handle().clone(), 2);
    let mut events = runner.subscribe();
    let id = runner
        .start(spec("panics", 30), |ctx| async move {
            ctx.log_line("about to fail");
            let index: usize = "7".parse().expect("number");
            let empty: Vec<u8> = Vec::new();
            // An out-of-bounds index: a panic in the task's own code.
            Ok(format!("{}", empty[index]))
        })
        .expect("start");
    let snap = rt
        .block_on(async {
            tokio::time::timeout(Duration::from_secs(10), runner.wait(id))
                .await
                .expect("the task ends instead of running forever")
        })
        .expect("finished");
    assert_eq!(snap.state, TaskState::Failed);
    let message = snap.message.clone().unwrap_or_default();
    assert!(
        message.starts_with("panicked: index out of bounds"),
        "{message}"
    );
    assert!(
        log_lines(&runner, id)
            .iter()
            .any(|l| l.contains("[failed] panicked: index out of bounds")),
        "the log ends with why"
    );
    // Subscribers hear the end like any other failure.
    let finished = rt.block_on(async {
        loop {
            if let Ok(release_console::runner::TaskEvent::Finished { info, state, .. }) =
                events.recv().await
                && info.id == id
            {
                break state;
            }
        }
    });
    assert_eq!(finished, TaskState::Failed);
    // The name is free again.
    let again = runner
        .start(spec("panics", 30), |_| async { Ok("fine".into()) })
        .expect("the name is free after a panic");
    assert_eq!(
        rt.block_on(runner.wait(again)).expect("done").state,
        TaskState::Succeeded
    );
}

#[test]
fn a_failure_message_is_redacted_before_hooks_subscribers_and_the_tray_see_it() {
    let rt = runtime();
    let runner = Runner::new(rt.handle().clone(), 2);
    let hook = Arc::new(Recorder::default());
    runner.set_hook(Some(hook.clone()));
    let mut s = spec("leaky", 30);
    s.redactor = Redactor::new(["tok-9f8e7d6c".to_owned()]);
    let id = runner
        .start(s, |_| async {
            Err(release_console::runner::TaskError::Failed(
                "the server said: bad token tok-9f8e7d6c".into(),
            ))
        })
        .expect("start");
    let snap = rt.block_on(runner.wait(id)).expect("finished");
    assert_eq!(snap.state, TaskState::Failed);
    let message = snap.message.unwrap_or_default();
    assert_eq!(message, "the server said: bad token <redacted>");
    let seen = hook.0.lock().expect("hook").clone();
    assert!(
        seen.iter().all(|s| !s.contains("tok-9f8e7d6c")) && !seen.is_empty(),
        "{seen:?}"
    );
}

#[test]
fn a_child_with_inherit_only_sees_just_the_base_environment_and_what_it_declares() {
    let rt = runtime();
    let runner = Runner::new(rt.handle().clone(), 2);
    // cargo sets these in every test process: one stands for a declared variable, the other
    // for a token in a CI job's environment that the child must not see.
    assert!(std::env::var_os("CARGO_PKG_NAME").is_some());
    assert!(std::env::var_os("CARGO_MANIFEST_DIR").is_some());
    let id = runner
        .start(spec("env", 30), |ctx| async move {
            let mut p = shell(
                "echo \"declared=${CARGO_PKG_NAME:-unset} token=${CARGO_MANIFEST_DIR:-unset} \
                 given=${RC_TEST_GIVEN:-unset} path=${PATH:+set} home=${HOME:+set}\"",
            );
            p.inherit_only = Some(vec!["CARGO_PKG_NAME".into()]);
            p.env.push(("RC_TEST_GIVEN".into(), "yes".into()));
            ctx.run_process(&p).await?;
            Ok(String::new())
        })
        .expect("start");
    rt.block_on(runner.wait(id)).expect("finished");
    let lines = log_lines(&runner, id);
    assert!(
        lines
            .iter()
            .any(|l| l == "declared=release-console token=unset given=yes path=set home=set"),
        "{lines:?}"
    );
}

#[test]
fn a_short_tool_run_that_times_out_takes_everything_it_started_with_it() {
    let rt = runtime();
    let dir = tempfile::tempdir().expect("dir");
    let pids = dir.path().join("pids");
    let script = format!("sleep 300 & echo \"$$ $!\" > '{}'; wait", pids.display());
    let started = Instant::now();
    let result = rt.block_on(release_console::runner::process::capture(
        "sh",
        &["-c", script.as_str()],
        Duration::from_secs(1),
    ));
    let err = result.expect_err("timed out");
    assert!(err.contains("did not finish within 1 s"), "{err}");
    assert!(started.elapsed() < Duration::from_secs(10));
    let text = std::fs::read_to_string(&pids).expect("pids");
    for pid in text
        .split_whitespace()
        .filter_map(|p| p.parse::<i32>().ok())
    {
        wait_until(&format!("process {pid} to be gone"), || process_gone(pid));
    }
}

/// Issue 28: output floods the bounded broadcast (a slow subscriber lags and skips events), but
/// the lifecycle channel keeps every change of state, so a task's end is never lost.
#[test]
fn a_flood_of_output_never_hides_a_task_s_end_from_lifecycle_receivers() {
    use release_console::runner::TaskEvent;
    let rt = runtime();
    let runner = Runner::new(rt.handle().clone(), 2);
    let mut events = runner.subscribe();
    let mut lifecycle = runner.lifecycle();
    let burst = runner
        .start(spec("burst", 60), |ctx| async move {
            for i in 0..100_000 {
                ctx.log_line(&format!("burst line {i}"));
            }
            Ok("printed".into())
        })
        .expect("start burst");
    rt.block_on(runner.wait(burst)).expect("burst done");
    let chatty = runner
        .start(spec("chatty", 60), |ctx| async move {
            for i in 0..100_000 {
                ctx.log_line(&format!("chatty line {i}"));
            }
            Ok("printed too".into())
        })
        .expect("start chatty");
    rt.block_on(runner.wait(chatty)).expect("chatty done");

    // The broadcast lagged: the burst's end is gone from it.
    let mut lagged = false;
    let mut burst_end_seen = false;
    loop {
        match events.try_recv() {
            Ok(TaskEvent::Finished { info, .. }) if info.id == burst => burst_end_seen = true,
            Ok(_) => {}
            Err(tokio::sync::broadcast::error::TryRecvError::Lagged(_)) => lagged = true,
            Err(_) => break,
        }
    }
    assert!(
        lagged && !burst_end_seen,
        "the broadcast is lossy by design"
    );

    // The lifecycle channel has every change of state, in order, and nothing else.
    let mut seen = Vec::new();
    while let Ok(event) = lifecycle.try_recv() {
        assert!(event.is_lifecycle(), "{event:?}");
        seen.push(match event {
            TaskEvent::Queued(i) => format!("queued {}", i.name),
            TaskEvent::Started(i) => format!("started {}", i.name),
            TaskEvent::Finished {
                info,
                state,
                message,
            } => {
                format!("{} {} {message}", info.name, state.as_str())
            }
            other => format!("{other:?}"),
        });
    }
    assert_eq!(
        seen,
        [
            "queued burst",
            "started burst",
            "burst succeeded printed",
            "queued chatty",
            "started chatty",
            "chatty succeeded printed too",
        ]
    );
    // A dropped receiver is forgotten; the others still hear.
    drop(lifecycle);
    let mut again = runner.lifecycle();
    let last = runner
        .start(spec("last", 60), |_| async { Ok(String::new()) })
        .expect("start last");
    rt.block_on(runner.wait(last)).expect("last done");
    let mut ends = 0;
    while let Ok(event) = again.try_recv() {
        if matches!(event, TaskEvent::Finished { .. }) {
            ends += 1;
        }
    }
    assert_eq!(ends, 1);
}

/// Work that cannot stop where it is (a publish past going live) and ends done within the
/// grace a cancel gives is reported as it ended, not as cancelled: the CLI said "cancelled"
/// (exit 1) for a release that was live.
#[test]
fn work_that_ends_done_within_the_cancel_grace_is_not_called_cancelled() {
    let rt = runtime();
    let runner = Runner::new(rt.handle().clone(), 1);
    let id = runner
        .start(spec("committed", 30), |_| async {
            tokio::time::sleep(Duration::from_millis(500)).await;
            Ok("published".into())
        })
        .expect("start");
    wait_until("it to run", || {
        runner
            .task(id)
            .is_some_and(|t| t.state == TaskState::Running)
    });
    runner.cancel(id);
    let snap = rt.block_on(runner.wait(id)).expect("snapshot");
    assert_eq!(snap.state, TaskState::Succeeded, "{:?}", snap.message);
    assert_eq!(
        snap.message.as_deref(),
        Some("published (it ended before the cancel could stop it)")
    );
    // Work that stops when cancelled is cancelled.
    let id = runner
        .start(spec("stops", 30), |ctx| async move {
            ctx.cancel_token().cancelled().await;
            Err(release_console::runner::TaskError::Cancelled)
        })
        .expect("start");
    wait_until("it to run", || {
        runner
            .task(id)
            .is_some_and(|t| t.state == TaskState::Running)
    });
    runner.cancel(id);
    assert_eq!(
        rt.block_on(runner.wait(id)).expect("snapshot").state,
        TaskState::Cancelled
    );
}
