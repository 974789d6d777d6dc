//! labelhook-bench: measured figures for speed, scale and survival.
//!
//! ```text
//! cargo run --release --manifest-path bench/Cargo.toml -- <scenario|all|drills> \
//!     [--backend sqlite|postgres|both] [--quick] [--repeat N]
//! ```
//!
//! Scenarios: ceiling, api, delivery, latency, fanout, backlog, isolation, costly (`all` runs
//! them in that order), export (a million tasks), tasks (the task table's requests at
//! 100,000 tasks) and stream (the event stream to one consumer), not part of `all`. Drills: kill,
//! down, flaky, outage (`drills` runs the four; outage takes 11 minutes). Each writes
//! bench/results/<name>[.postgres][.rate<N>][.env][.quick].json and prints a table.

mod client;
mod costly;
mod drills;
mod export;
mod hostile;
mod load;
mod receiver;
mod report;
mod scenarios;
mod server;
mod stream;
mod task_table;
mod util;

use std::time::Instant;

use report::Report;
use scenarios::Opts;
use server::Backend;

const SCENARIOS: &[&str] = &[
    "ceiling",
    "api",
    "delivery",
    "latency",
    "fanout",
    "backlog",
    "isolation",
    "costly",
];
const DRILLS: &[&str] = &["kill", "down", "flaky", "outage"];
/// Hostile clients (issue 19): not part of `all`.
const HOSTILE: &[&str] = &["slowloris", "bodies", "badtokens"];

fn usage() -> ! {
    eprintln!(
        "usage: labelhook-bench <scenario|all|drills> [--backend sqlite|postgres|both] [--quick] [--repeat N]\n\
         scenarios: {}, export, tasks and stream (not in `all`)\n\
         drills:    {}\n\
         hostile:   {}\n\
         The server binary is $LABELHOOK_BIN or ../target/release/labelhook (build it first:\n\
         `cargo build --release` in the repository root).",
        SCENARIOS.join(", "),
        DRILLS.join(", "),
        HOSTILE.join(", ")
    );
    std::process::exit(2)
}

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("sink") {
        return sink();
    }
    let mut names = Vec::new();
    let mut backends = vec![Backend::Sqlite];
    let mut quick = false;
    let mut repeat = 1usize;
    let mut i = 0;
    while i < args.len() {
        match args[i].as_str() {
            "--quick" => quick = true,
            "--backend" => {
                i += 1;
                backends = match args.get(i).map(String::as_str) {
                    Some("sqlite") => vec![Backend::Sqlite],
                    Some("postgres") => vec![Backend::Postgres],
                    Some("both") => vec![Backend::Sqlite, Backend::Postgres],
                    _ => usage(),
                };
            }
            "--repeat" => {
                i += 1;
                repeat = args
                    .get(i)
                    .and_then(|v| v.parse().ok())
                    .filter(|n| *n >= 1)
                    .unwrap_or_else(|| usage());
            }
            "all" => names.extend(SCENARIOS.iter().map(|s| s.to_string())),
            "export" => names.push("export".to_string()),
            "tasks" => names.push("tasks".to_string()),
            "stream" => names.push("stream".to_string()),
            "drills" => names.extend(DRILLS.iter().map(|s| s.to_string())),
            "hostile" => names.extend(HOSTILE.iter().map(|s| s.to_string())),
            name if SCENARIOS.contains(&name)
                || DRILLS.contains(&name)
                || HOSTILE.contains(&name) =>
            {
                names.push(name.to_string())
            }
            _ => usage(),
        }
        i += 1;
    }
    if names.is_empty() {
        usage();
    }
    let bin = server::binary();
    if !bin.exists() {
        anyhow::bail!(
            "{} not found: run `cargo build --release` in the repository root, or set LABELHOOK_BIN",
            bin.display()
        );
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let started = Instant::now();
    let mut failures = 0;
    for name in &names {
        for &backend in &backends {
            if name == "ceiling" && backend == Backend::Postgres {
                continue; // no database involved
            }
            let opts = Opts { backend, quick };
            let mut report = Report::new(name, backend.as_str(), quick);
            eprintln!(
                "== {name} [{}]{} (load average {})",
                backend.as_str(),
                if quick { " quick" } else { "" },
                util::loadavg()
            );
            for run in 0..repeat {
                let t = Instant::now();
                let result = runtime.block_on(run_one(name, &opts, &mut report.extra));
                match result {
                    Ok(rows) => report.runs.push(rows),
                    Err(error) => {
                        eprintln!("{name} run {} failed: {error:#}", run + 1);
                        failures += 1;
                    }
                }
                eprintln!("   run {} took {:.1} s", run + 1, t.elapsed().as_secs_f64());
            }
            if report.runs.is_empty() {
                continue;
            }
            report.notes.push(format!(
                "load average before {} / after {}",
                report.load_before,
                util::loadavg()
            ));
            println!("{}", report.table());
            let path = report.write()?;
            eprintln!("   wrote {}", path.display());
        }
    }
    eprintln!("total {:.1} s", started.elapsed().as_secs_f64());
    if failures > 0 {
        anyhow::bail!("{failures} run(s) failed");
    }
    Ok(())
}

async fn run_one(
    name: &str,
    o: &Opts,
    extra: &mut std::collections::BTreeMap<String, serde_json::Value>,
) -> anyhow::Result<Vec<report::Row>> {
    match name {
        "ceiling" => scenarios::ceiling(o).await,
        "api" => scenarios::api(o).await,
        "delivery" => scenarios::delivery(o, extra).await,
        "latency" => scenarios::latency(o).await,
        "fanout" => scenarios::fanout(o).await,
        "backlog" => scenarios::backlog(o, extra).await,
        "isolation" => scenarios::isolation(o).await,
        "costly" => costly::costly(o).await,
        "export" => export::export(o).await,
        "tasks" => task_table::task_table(o).await,
        "stream" => stream::stream(o).await,
        "kill" => drills::kill(o).await,
        "down" => drills::down(o).await,
        "flaky" => drills::flaky(o).await,
        "outage" => drills::outage(o).await,
        "slowloris" => hostile::slowloris(o).await,
        "bodies" => hostile::bodies(o).await,
        "badtokens" => hostile::badtokens(o).await,
        _ => unreachable!(),
    }
}

/// The loopback ceiling's other end: a trivial axum server (the stack labelhook uses)
/// answering 201 with a small JSON body, in its own process, on the same runtime shape.
fn sink() -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let app = axum::Router::new().fallback(|body: bytes::Bytes| async move {
            (
                axum::http::StatusCode::CREATED,
                [("content-type", "application/json")],
                format!(r#"{{"id":1,"received":{}}}"#, body.len()),
            )
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        println!("sink listening on http://{}", listener.local_addr()?);
        // Bounded: the benchmark kills it; it also stops by itself after an hour.
        tokio::select! {
            r = axum::serve(listener, app) => r?,
            _ = tokio::time::sleep(std::time::Duration::from_secs(3600)) => {}
        }
        anyhow::Ok(())
    })
}
