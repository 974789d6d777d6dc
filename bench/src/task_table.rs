//! The task table scenario: a project of 100,000 tasks (20,000 with --quick), a third of
//! them annotated and a tenth skipped, and the requests the task table page
//! (`/projects/{id}/data`) makes: `GET /api/tasks/?project=…&page_size=100` with the data
//! manager's filters and orderings, first and last page.
//!
//! Measured: the latency of each request, one at a time on a keep-alive connection over
//! loopback (so it is the server's time plus a loopback round trip), p50/p95/max.

use std::time::Instant;

use anyhow::bail;
use hyper::Method;

use crate::client::Conn;
use crate::report::Row;
use crate::scenarios::Opts;
use crate::server::Server;
use crate::util::now_us;

/// Requests per view of the table.
const SAMPLES: usize = 60;

pub async fn task_table(o: &Opts) -> anyhow::Result<Vec<Row>> {
    let n: u64 = o.pick(100_000, 20_000);
    let server = Server::start(o.backend, &[])?;
    let mut api = Conn::new(server.addr);
    let project = api.create_project("task table").await?;
    let seeding = Instant::now();
    seed(&mut api, project, n).await?;
    eprintln!(
        "   seeded {n} tasks in {:.0} s",
        seeding.elapsed().as_secs_f64()
    );

    let filter = |name: &str, operator: &str, value: &str| {
        format!(
            r#"{{"filters":{{"conjunction":"and","items":[{{"filter":"filter:tasks:{name}","operator":"{operator}","value":{value}}}]}}}}"#
        )
    };
    let last_page = n.div_ceil(100);
    let views: Vec<(String, String)> = vec![
        ("first page, all tasks".into(), "{}".into()),
        (
            format!("page {last_page} (the last), all tasks"),
            "{}".into(),
        ),
        (
            "first page, not labeled".into(),
            filter("completed_at", "empty", "true"),
        ),
        (
            "first page, labeled".into(),
            filter("completed_at", "empty", "false"),
        ),
        (
            "first page, skipped".into(),
            filter("cancelled_annotations", "greater", "0"),
        ),
        (
            "first page, newest first".into(),
            r#"{"ordering":["-tasks:id"]}"#.into(),
        ),
        (
            "first page, most annotations first".into(),
            r#"{"ordering":["-tasks:total_annotations"]}"#.into(),
        ),
    ];
    let mut rows = Vec::new();
    for (i, (label, query)) in views.iter().enumerate() {
        let page = if i == 1 { last_page } else { 1 };
        let path = format!(
            "/api/tasks/?project={project}&page={page}&page_size=100&query={}",
            encode(query)
        );
        // One unmeasured request: the first read of a view warms the page cache.
        api.json(Method::GET, &path, None).await?;
        let mut us = Vec::with_capacity(SAMPLES);
        for _ in 0..SAMPLES {
            let started = now_us();
            let (status, body) = api.call(Method::GET, &path, None).await?;
            us.push(now_us() - started);
            if status != 200 {
                bail!("{path}: {status} {}", String::from_utf8_lossy(&body));
            }
        }
        let (p50, p95, max) = percentiles(us);
        rows.push(
            Row::new(format!("{label} ({n} tasks)"))
                .set("p50_ms", p50)
                .set("p95_ms", p95)
                .set("max_ms", max),
        );
    }
    Ok(rows)
}

/// `n` tasks: every third annotated, every tenth (of the rest) skipped.
async fn seed(api: &mut Conn, project: i64, n: u64) -> anyhow::Result<()> {
    api.import_each(project, n, |k| {
        let annotations = if k % 3 == 0 {
            r#"[{"result":[{"from_name":"label","to_name":"text","type":"choices","value":{"choices":["pos"]}}]}]"#
        } else if k % 10 == 1 {
            r#"[{"result":[],"was_cancelled":true}]"#
        } else {
            "[]"
        };
        format!(
            r#"{{"data":{{"text":"task table task {k}, a sentence of ordinary length"}},"annotations":{annotations}}}"#
        )
    })
    .await
}

fn percentiles(mut us: Vec<i64>) -> (f64, f64, f64) {
    us.sort_unstable();
    let pick = |q: f64| {
        let i = ((us.len() as f64 * q).ceil() as usize).clamp(1, us.len()) - 1;
        us[i] as f64 / 1000.0
    };
    (pick(0.50), pick(0.95), pick(1.0))
}

/// Percent-encoding for a query parameter's value.
fn encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}
