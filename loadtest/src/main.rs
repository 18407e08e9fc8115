//! `lyceum-loadtest`: simulated mentees against a Lyceum deployment, and the
//! measurements the benchmark report is made of. Scenarios: `chat`,
//! `booking`, `faults` (a chat load that survives faults injected from
//! outside and checks nothing acked was lost), `pages` (the server-rendered
//! directory and mentors' pages at an open-loop rate), `board-fanout` (one board
//! thread's replies to many watchers), `calibrate`, and with real WebRTC peers (str0m, from
//! `lyceum-peer`) against the SFU, `webinar` and `call`. It targets loopback
//! by default, bounds every size and duration, and stops by itself.

mod booking;
mod calibrate;
mod call;
mod chat;
mod client;
mod fanout;
mod faults;
mod janus;
mod live;
mod pages;
mod report;
mod webinar;

use std::time::Duration;

use anyhow::Context;
use clap::{Parser, Subcommand};
use serde::Deserialize;

#[derive(Parser)]
#[command(name = "lyceum-loadtest", version, about = "Load tests for Lyceum")]
struct Cli {
    /// The server under test.
    #[arg(long, global = true, default_value = "http://127.0.0.1:8080")]
    url: String,
    /// Allow a target other than loopback (only against your own deployment).
    #[arg(long, global = true)]
    allow_remote: bool,
    /// Scenario parameters from a TOML file ([chat], [booking], [calibrate],
    /// [webinar], [call], [pages], [board-fanout]);
    /// they replace the command-line values of that scenario.
    #[arg(long, global = true)]
    config: Option<std::path::PathBuf>,
    /// Print the result as JSON on standard output.
    #[arg(long, global = true)]
    json: bool,
    /// Write a self-contained HTML chart of throughput and latency over time.
    #[arg(long, global = true)]
    chart: Option<std::path::PathBuf>,
    #[command(subcommand)]
    scenario: Scenario,
}

#[derive(Subcommand)]
enum Scenario {
    /// Mentees chatting in group rooms over WebSockets.
    Chat(chat::ChatArgs),
    /// Mentees racing for the seats of one slot while watching it.
    Booking(booking::BookingArgs),
    /// A chat load that reconnects, resumes and re-sends through server
    /// kills and database outages, then checks every acked message.
    Faults(faults::FaultsArgs),
    /// The raw UDP packets-per-second ceiling on loopback.
    Calibrate(calibrate::CalibrateArgs),
    /// A live group session: publishers and many subscribing WebRTC peers.
    Webinar(webinar::WebinarArgs),
    /// Concurrent one-on-one video calls between WebRTC peers.
    Call(call::CallArgs),
    /// Visitors reading the directory and mentors' pages at a constant
    /// rate (open loop), latency per page kind.
    Pages(pages::PagesArgs),
    /// One board thread watched by many members over WebSockets: the
    /// time from each reply's answer to every watcher's frame.
    BoardFanout(fanout::FanoutArgs),
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    chat: Option<chat::ChatArgs>,
    booking: Option<booking::BookingArgs>,
    faults: Option<faults::FaultsArgs>,
    calibrate: Option<calibrate::CalibrateArgs>,
    webinar: Option<webinar::WebinarArgs>,
    call: Option<call::CallArgs>,
    pages: Option<pages::PagesArgs>,
    #[serde(rename = "board-fanout")]
    board_fanout: Option<fanout::FanoutArgs>,
}

fn check_target(url: &str, allow_remote: bool) -> anyhow::Result<()> {
    let host = url
        .split("://")
        .nth(1)
        .and_then(|r| r.split(['/', ':']).next())
        .context("--url must look like http://host:port")?;
    let loopback = host == "localhost" || host.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback());
    anyhow::ensure!(
        loopback || allow_remote,
        "refusing to load {host}: only loopback unless --allow-remote"
    );
    Ok(())
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    // Thousands of connections need as many descriptors as the hard limit allows.
    let _ = rlimit::increase_nofile_limit(u64::MAX);
    match run().await {
        Ok(true) => std::process::ExitCode::SUCCESS,
        Ok(false) => {
            eprintln!("lyceum-loadtest: checks failed (see the report)");
            std::process::ExitCode::from(2)
        }
        Err(e) => {
            eprintln!("lyceum-loadtest: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn run() -> anyhow::Result<bool> {
    let mut cli = Cli::parse();
    if let Some(path) = &cli.config {
        let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        let file: FileConfig = toml::from_str(&text).with_context(|| format!("parsing {}", path.display()))?;
        match &mut cli.scenario {
            Scenario::Chat(a) => *a = file.chat.unwrap_or_default(),
            Scenario::Booking(a) => *a = file.booking.unwrap_or_default(),
            Scenario::Faults(a) => *a = file.faults.unwrap_or_default(),
            Scenario::Calibrate(a) => *a = file.calibrate.unwrap_or_default(),
            Scenario::Webinar(a) => *a = file.webinar.unwrap_or_default(),
            Scenario::Call(a) => *a = file.call.unwrap_or_default(),
            Scenario::Pages(a) => *a = file.pages.unwrap_or_default(),
            Scenario::BoardFanout(a) => *a = file.board_fanout.unwrap_or_default(),
        }
    }
    let url = cli.url.trim_end_matches('/').to_owned();
    let progress = indicatif::ProgressBar::new_spinner();
    progress.enable_steady_tick(Duration::from_millis(200));
    let (json, table, timeline, ok) = match &cli.scenario {
        Scenario::Chat(a) => {
            a.validate()?;
            check_target(&url, cli.allow_remote)?;
            let r = chat::run(&url, a, &progress).await?;
            (r.json, r.table, r.timeline, r.ok)
        }
        Scenario::Booking(a) => {
            a.validate()?;
            check_target(&url, cli.allow_remote)?;
            let r = booking::run(&url, a, &progress).await?;
            (r.json, r.table, r.timeline, r.ok)
        }
        Scenario::Faults(a) => {
            a.validate()?;
            check_target(&url, cli.allow_remote)?;
            let r = faults::run(&url, a, &progress).await?;
            (r.json, r.table, r.timeline, r.ok)
        }
        Scenario::Calibrate(a) => {
            a.validate()?;
            progress.set_message("sending UDP on loopback");
            let (j, t, ok) = tokio::task::spawn_blocking({
                let a = a.clone();
                move || calibrate::run(&a)
            })
            .await??;
            (j, t, vec![], ok)
        }
        Scenario::Webinar(a) => {
            a.validate()?;
            check_target(&url, cli.allow_remote)?;
            let r = webinar::run(&url, a, &progress).await?;
            (r.json, r.table, r.timeline, r.ok)
        }
        Scenario::Call(a) => {
            a.validate()?;
            check_target(&url, cli.allow_remote)?;
            let r = call::run(&url, a, &progress).await?;
            (r.json, r.table, r.timeline, r.ok)
        }
        Scenario::Pages(a) => {
            a.validate()?;
            check_target(&url, cli.allow_remote)?;
            let r = pages::run(&url, a, &progress).await?;
            (r.json, r.table, r.timeline, r.ok)
        }
        Scenario::BoardFanout(a) => {
            a.validate()?;
            check_target(&url, cli.allow_remote)?;
            let r = fanout::run(&url, a, &progress).await?;
            (r.json, r.table, r.timeline, r.ok)
        }
    };
    progress.finish_and_clear();
    if cli.json {
        println!("{}", serde_json::to_string_pretty(&json)?);
    } else {
        println!("{table}");
    }
    if let Some(path) = &cli.chart {
        let title = format!("lyceum-loadtest {}", json["scenario"].as_str().unwrap_or(""));
        std::fs::write(path, report::html_chart(&title, &timeline))
            .with_context(|| format!("writing {}", path.display()))?;
        eprintln!("chart written to {}", path.display());
    }
    Ok(ok)
}
