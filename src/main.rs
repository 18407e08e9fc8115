//! The `lyceum` binary: `lyceum` serves; `lyceum admin create` makes an admin.

use std::io::Read;

use clap::{Parser, Subcommand};
use lyceum::admin_cli::{create_admin, CreateAdmin};
use lyceum::configuration::Settings;
use lyceum::startup::Application;

#[derive(Parser)]
#[command(name = "lyceum", version, about = "Realtime mentorship server")]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Run the server (the default).
    Serve,
    /// Administer accounts.
    Admin {
        #[command(subcommand)]
        command: AdminCommand,
    },
}

#[derive(Subcommand)]
enum AdminCommand {
    /// Create an admin account, or promote the account with that email.
    Create {
        #[arg(long)]
        email: String,
        #[arg(long, default_value = "Administrator")]
        display_name: String,
        /// Read the password from standard input instead of generating one.
        #[arg(long)]
        password_stdin: bool,
    },
}

#[actix_web::main]
async fn main() -> std::process::ExitCode {
    match run().await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("lyceum: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn run() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let settings = Settings::load()?;
    lyceum::infra::telemetry::init(&settings.log);
    match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => {
            // Every WebSocket is a file descriptor: lift the soft limit to the
            // hard one (commonly 1,024 soft), and say what it is.
            match rlimit::increase_nofile_limit(u64::MAX) {
                Ok(n) => tracing::info!(open_files = n, "file descriptor limit"),
                Err(e) => tracing::warn!(error = %e, "could not raise the file descriptor limit"),
            }
            let app = Application::build(settings).await?;
            tracing::info!(port = app.port(), "lyceum is up");
            app.run_until_stopped().await
        }
        Command::Admin {
            command:
                AdminCommand::Create {
                    email,
                    display_name,
                    password_stdin,
                },
        } => {
            let password = if password_stdin {
                let mut s = String::new();
                std::io::stdin().read_to_string(&mut s)?;
                Some(s.trim_end_matches(['\n', '\r']).to_owned())
            } else {
                None
            };
            create_admin(
                &settings,
                CreateAdmin {
                    email,
                    display_name,
                    password,
                },
            )
            .await
        }
    }
}
