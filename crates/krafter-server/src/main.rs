//! `krafter`: serves the API and administers it. See `krafter --help`.

mod admin;
mod app;
mod cli;
mod cluster;
mod config;
mod database;
mod demo;
mod import;
mod listing;
mod report;
mod sharing;
mod telemetry;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let command = cli::Cli::parse().command();
    // Every variable is checked before anything starts; a wrong one is an error of the input.
    let config = match config::Config::from_env() {
        Ok(config) => config,
        Err(errors) => {
            for error in &errors.0 {
                eprintln!("error: {error}");
            }
            return ExitCode::from(2);
        }
    };
    if let Err(error) = telemetry::init(config.log_format, &config.log_filter) {
        eprintln!("error: {error}");
        return ExitCode::from(2);
    }
    match app::main(command, &config) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::from(error.exit_code())
        }
    }
}
