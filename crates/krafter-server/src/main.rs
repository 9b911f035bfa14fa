//! `krafter`: serves the API and administers it. See `krafter --help`.

mod admin;
mod app;
mod cli;
mod config;
mod demo;
mod sharing;

use std::io::IsTerminal;
use std::process::ExitCode;

use clap::Parser;
use tracing_subscriber::EnvFilter;

/// Malformed requests answered by actix itself (a bad request line, oversized headers, a client
/// gone mid-request) are logged by its HTTP/1 dispatcher at ERROR: any client could fill the
/// error log. That target is silenced unless `RUST_LOG` names `actix_http` itself.
const QUIET_DISPATCHER: &str = "actix_http::h1::dispatcher=off";

/// `RUST_LOG` (or `info` when it does not parse), with the actix dispatcher silenced.
fn log_filter(spec: &str) -> EnvFilter {
    let filter = EnvFilter::try_new(spec).unwrap_or_else(|_| EnvFilter::new("info"));
    if spec.contains("actix_http") {
        return filter;
    }
    filter.add_directive(QUIET_DISPATCHER.parse().expect("a valid directive"))
}

fn main() -> ExitCode {
    let command = cli::Cli::parse().command();
    let config = config::Config::from_env();
    let filter = log_filter(&config.log_filter);
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .init();
    match app::main(command, &config) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::from(error.exit_code())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_dispatcher_is_silenced_unless_asked_for() {
        assert_eq!(
            log_filter("info").to_string(),
            "actix_http::h1::dispatcher=off,info"
        );
        assert_eq!(
            log_filter("krafter=loud").to_string(),
            log_filter("info").to_string()
        );
        assert_eq!(
            log_filter("info,actix_http=debug").to_string(),
            "actix_http=debug,info"
        );
    }
}
