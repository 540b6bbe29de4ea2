//! `release-console`: the GUI when no command is given, else the CLI.

use std::process::ExitCode;

use clap::Parser as _;
use release_console::cli::{self, Args};

fn main() -> ExitCode {
    let args = Args::parse();
    cli::init_logging();
    quiet_on_closed_output();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            cli::report_error(&anyhow::anyhow!("cannot start the async runtime: {e}"));
            return ExitCode::from(cli::EXIT_USAGE);
        }
    };
    let result = if args.command.is_none() {
        release_console::ui::run(args.workspace.as_deref(), runtime.handle().clone())
            .map(|()| ExitCode::SUCCESS)
    } else {
        cli::run(args, runtime.handle().clone())
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            cli::report_error(&e);
            ExitCode::from(cli::EXIT_USAGE)
        }
    }
}

/// A command whose output is piped into a reader that stops early (`| head`) ends quietly, as
/// a Unix tool does on SIGPIPE (exit 141), instead of a panic message and exit 101. Rust
/// ignores SIGPIPE so that sockets report a closed peer as an error; that is kept, and only
/// the standard streams' write failure is turned into the quiet exit.
fn quiet_on_closed_output() {
    let default = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let message = info
            .payload()
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| info.payload().downcast_ref::<&str>().copied())
            .unwrap_or("");
        if message.starts_with("failed printing to std") && message.contains("Broken pipe") {
            std::process::exit(141);
        }
        default(info);
    }));
}
