//! `release-console`: the GUI when no command is given, else the CLI.

use std::process::ExitCode;

use clap::Parser as _;
use release_console::cli::{self, Args};

fn main() -> ExitCode {
    let args = Args::parse();
    cli::init_logging();
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
