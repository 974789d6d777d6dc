//! Load loops, always bounded by a request count and a deadline.
//!
//! - `closed`: N clients, each one keep-alive connection, send back to back (throughput).
//! - `open`: requests are scheduled at a fixed rate whatever the answers do; latency is
//!   also measured from the scheduled instant, so a stalled server is not hidden
//!   (no coordinated omission).

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::{Duration, Instant};

use bytes::Bytes;
use hyper::Method;

use crate::client::Conn;
use crate::util::{Dist, dist, now_us};

/// Builds request number `k`: (method, path, body).
pub type MakeRequest = Arc<dyn Fn(u64) -> (Method, String, Option<Bytes>) + Send + Sync>;

/// One request of a load run (`sent_us`/`status` are kept for ad-hoc analysis).
#[derive(Debug, Clone, Copy)]
#[allow(dead_code)]
pub struct Sent {
    pub k: u64,
    pub sent_us: i64,
    pub answered_us: i64,
    pub status: u16,
}

#[derive(Debug, Default)]
pub struct LoadResult {
    pub ok: u64,
    pub errors: u64,
    pub seconds: f64,
    /// Successful requests per second.
    pub rate: f64,
    /// From sending to the full answer.
    pub latency: Dist,
    /// Open loop only: from the scheduled instant to the full answer.
    pub latency_from_schedule: Option<Dist>,
    pub sent: Vec<Sent>,
}

/// Sends one request and waits up to 30 s for its answer: its status, 0 for none.
async fn send(conn: &mut Conn, (method, path, body): (Method, String, Option<Bytes>)) -> u16 {
    match tokio::time::timeout(Duration::from_secs(30), conn.call(method, &path, body)).await {
        Ok(Ok((status, _))) => status,
        _ => 0,
    }
}

pub async fn closed(
    addr: SocketAddr,
    clients: usize,
    duration: Duration,
    max_requests: u64,
    make: MakeRequest,
) -> LoadResult {
    closed_over(&[addr], clients, duration, max_requests, make).await
}

/// [`closed`] over several servers (processes on one database): client `i` talks to
/// `addrs[i % addrs.len()]`.
pub async fn closed_over(
    addrs: &[SocketAddr],
    clients: usize,
    duration: Duration,
    max_requests: u64,
    make: MakeRequest,
) -> LoadResult {
    let counter = Arc::new(AtomicU64::new(0));
    let start = Instant::now();
    let deadline = start + duration;
    let mut tasks = Vec::new();
    for i in 0..clients {
        let (counter, make) = (counter.clone(), make.clone());
        let addr = addrs[i % addrs.len()];
        tasks.push(tokio::spawn(async move {
            let mut conn = Conn::new(addr);
            let mut sent = Vec::new();
            let mut lat = Vec::new();
            let mut errors = 0u64;
            while Instant::now() < deadline {
                let k = counter.fetch_add(1, Relaxed);
                if k >= max_requests {
                    break;
                }
                let request = make(k);
                let t0 = Instant::now();
                let sent_us = now_us();
                let status = send(&mut conn, request).await;
                if (200..300).contains(&status) {
                    lat.push(t0.elapsed().as_micros() as i64);
                } else {
                    errors += 1;
                    if status == 0 {
                        tokio::time::sleep(Duration::from_millis(10)).await;
                    }
                }
                sent.push(Sent {
                    k,
                    sent_us,
                    answered_us: now_us(),
                    status,
                });
            }
            (sent, lat, errors)
        }));
    }
    let mut result = LoadResult::default();
    let mut lat = Vec::new();
    for t in tasks {
        if let Ok((sent, l, e)) = t.await {
            result.sent.extend(sent);
            lat.extend(l);
            result.errors += e;
        }
    }
    result.seconds = start.elapsed().as_secs_f64();
    result.ok = lat.len() as u64;
    result.rate = result.ok as f64 / result.seconds;
    result.latency = dist(lat);
    result
}

pub async fn open(
    addr: SocketAddr,
    connections: usize,
    rate: f64,
    duration: Duration,
    make: MakeRequest,
) -> LoadResult {
    let total = (rate * duration.as_secs_f64()).round() as u64;
    let counter = Arc::new(AtomicU64::new(0));
    let begin = Instant::now();
    let start = tokio::time::Instant::now() + Duration::from_millis(20);
    // The window ends on time: requests a slow server did not let us send by then are
    // not sent (the achieved rate shows it).
    let hard_deadline = Instant::now() + duration + Duration::from_millis(50);
    let mut tasks = Vec::new();
    for _ in 0..connections {
        let (counter, make) = (counter.clone(), make.clone());
        tasks.push(tokio::spawn(async move {
            let mut conn = Conn::new(addr);
            let mut lat = Vec::new();
            let mut sent = Vec::new();
            let mut errors = 0u64;
            loop {
                let k = counter.fetch_add(1, Relaxed);
                if k >= total || Instant::now() > hard_deadline {
                    break;
                }
                let scheduled = start + Duration::from_secs_f64(k as f64 / rate);
                tokio::time::sleep_until(scheduled).await;
                let request = make(k);
                let t0 = tokio::time::Instant::now();
                let sent_us = now_us();
                let status = send(&mut conn, request).await;
                let end = tokio::time::Instant::now();
                if (200..300).contains(&status) {
                    lat.push((
                        (end - t0).as_micros() as i64,
                        end.saturating_duration_since(scheduled).as_micros() as i64,
                    ));
                } else {
                    errors += 1;
                }
                sent.push(Sent {
                    k,
                    sent_us,
                    answered_us: now_us(),
                    status,
                });
            }
            (lat, sent, errors)
        }));
    }
    let mut result = LoadResult::default();
    let (mut lat, mut sched) = (Vec::new(), Vec::new());
    for t in tasks {
        if let Ok((l, s, e)) = t.await {
            for (a, b) in l {
                lat.push(a);
                sched.push(b);
            }
            result.sent.extend(s);
            result.errors += e;
        }
    }
    result.seconds = begin.elapsed().as_secs_f64();
    result.ok = lat.len() as u64;
    result.rate = result.ok as f64 / result.seconds;
    result.latency = dist(lat);
    result.latency_from_schedule = Some(dist(sched));
    result
}
