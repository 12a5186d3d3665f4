//! `driftwatch auth`: credentials for `serve`'s `[server.auth]` files. Secrets come
//! in on stdin and go out on stdout once; only their hashes belong in the files.

use std::io::BufRead as _;
use std::process::ExitCode;

use driftwatch::server::access;

use super::exit_usage;

#[derive(Debug, clap::Subcommand)]
pub enum AuthCommand {
    /// Make a bearer token: prints the token (give it to the client, shown once) and
    /// the line for `tokens_file`.
    ///
    /// Example: driftwatch auth token grafana >> /etc/driftwatch/tokens
    Token {
        /// A name for the token, shown in logs (letters, digits, `-`, `_`, `.`).
        name: String,
    },
    /// Hash a password read from stdin (one line) and print the line for `users_file`
    /// (bcrypt, as `htpasswd -B` writes).
    ///
    /// Example: printf '%s\n' "$PASSWORD" | driftwatch auth password alice >> /etc/driftwatch/users
    Password {
        /// The user name (letters, digits, `-`, `_`, `.`, `@`).
        user: String,
    },
}

fn valid_name(name: &str, extra: &[char]) -> bool {
    !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c) || extra.contains(&c))
}

pub fn run(command: AuthCommand) -> ExitCode {
    match command {
        AuthCommand::Token { name } => {
            if !valid_name(&name, &[]) {
                eprintln!("error: token name `{name}`: use letters, digits, `-`, `_` or `.`");
                return exit_usage();
            }
            let (token, line) = access::new_token(&name);
            // The line on stdout (for `>>`), the token on stderr with what to do.
            eprintln!(
                "token for {name} (give it to the client; it is not stored anywhere):\n{token}"
            );
            println!("{line}");
            ExitCode::SUCCESS
        }
        AuthCommand::Password { user } => {
            if !valid_name(&user, &['@']) {
                eprintln!("error: user name `{user}`: use letters, digits, `-`, `_`, `.` or `@`");
                return exit_usage();
            }
            let mut password = String::new();
            if let Err(e) = std::io::stdin().lock().read_line(&mut password) {
                eprintln!("error: cannot read the password from stdin: {e}");
                return exit_usage();
            }
            let password = password.trim_end_matches(['\n', '\r']);
            if password.len() < 12 {
                eprintln!("error: the password (stdin, one line) must have at least 12 characters");
                return exit_usage();
            }
            match access::user_line(&user, password) {
                Ok(line) => {
                    println!("{line}");
                    ExitCode::SUCCESS
                }
                Err(e) => {
                    eprintln!("error: {e}");
                    super::exit_runtime()
                }
            }
        }
    }
}
