//! Small helpers: clocks, percentiles, process statistics from /proc, machine facts.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// Wall clock in microseconds since the Unix epoch (the clock the server stamps
/// `created_at` with, so the two can be compared on one machine).
pub fn now_us() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_micros() as i64)
        .unwrap_or(0)
}

/// Parses the server's `2026-01-02T03:04:05.123456Z` into microseconds since the epoch.
pub fn parse_rfc3339_us(text: &str) -> Option<i64> {
    // Fixed layout: YYYY-MM-DDTHH:MM:SS(.ffffff)?Z
    let b = text.as_bytes();
    if b.len() < 20 {
        return None;
    }
    let num = |from: usize, to: usize| -> Option<i64> { text.get(from..to)?.parse().ok() };
    let (y, mo, d) = (num(0, 4)?, num(5, 7)?, num(8, 10)?);
    let (h, mi, s) = (num(11, 13)?, num(14, 16)?, num(17, 19)?);
    let mut micros = 0i64;
    if b.get(19) == Some(&b'.') {
        let end = text[20..].find(|c: char| !c.is_ascii_digit())? + 20;
        let frac = &text[20..end];
        let mut value: i64 = frac.parse().ok()?;
        for _ in frac.len()..6 {
            value *= 10;
        }
        for _ in 6..frac.len() {
            value /= 10;
        }
        micros = value;
    }
    // Days from civil (Howard Hinnant's algorithm).
    let y = if mo <= 2 { y - 1 } else { y };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400;
    let mp = (mo + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    Some(((days * 86_400 + h * 3600 + mi * 60 + s) * 1_000_000) + micros)
}

/// Percentiles of a sample of durations in microseconds.
#[derive(Debug, Clone, Copy, Default, serde::Serialize)]
pub struct Dist {
    pub count: usize,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
    pub mean_ms: f64,
}

pub fn dist(mut us: Vec<i64>) -> Dist {
    if us.is_empty() {
        return Dist::default();
    }
    us.sort_unstable();
    let pick = |q: f64| {
        let i = ((us.len() as f64 * q).ceil() as usize).clamp(1, us.len()) - 1;
        us[i] as f64 / 1000.0
    };
    let sum: i64 = us.iter().sum();
    Dist {
        count: us.len(),
        p50_ms: pick(0.50),
        p99_ms: pick(0.99),
        max_ms: *us.last().unwrap() as f64 / 1000.0,
        mean_ms: sum as f64 / us.len() as f64 / 1000.0,
    }
}

pub fn median(values: &[f64]) -> f64 {
    let mut v: Vec<f64> = values.iter().copied().filter(|x| x.is_finite()).collect();
    if v.is_empty() {
        return f64::NAN;
    }
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

pub fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_default()
}

pub fn machine() -> serde_json::Value {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split(':').nth(1))
                .map(|m| m.trim().to_string())
        })
        .unwrap_or_default();
    let mem_kb = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|s| {
            s.lines().find(|l| l.starts_with("MemTotal")).and_then(|l| {
                l.split_whitespace()
                    .nth(1)
                    .and_then(|v| v.parse::<u64>().ok())
            })
        })
        .unwrap_or(0);
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    serde_json::json!({
        "cpus": std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0),
        "cpu_model": cpu,
        "memory_gib": (mem_kb as f64 / 1024.0 / 1024.0 * 10.0).round() / 10.0,
        "kernel": kernel.trim(),
        "loadavg": loadavg(),
    })
}

fn clock_ticks() -> f64 {
    // SAFETY: sysconf has no preconditions.
    let t = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if t > 0 { t as f64 } else { 100.0 }
}

/// CPU seconds (user + system) a process has used.
pub fn cpu_seconds(pid: u32) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the command name, which is in parentheses and may contain spaces.
    let rest = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let utime: f64 = fields.get(11)?.parse().ok()?;
    let stime: f64 = fields.get(12)?.parse().ok()?;
    Some((utime + stime) / clock_ticks())
}

/// (current RSS, peak RSS) in MiB.
pub fn rss_mib(pid: u32) -> Option<(f64, f64)> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let field = |name: &str| -> Option<f64> {
        status
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse::<f64>().ok())
            .map(|kb| kb / 1024.0)
    };
    Some((field("VmRSS:")?, field("VmHWM:")?))
}

/// Samples a process's CPU and RSS in the background.
pub struct Sampler {
    samples: Arc<Mutex<Vec<(f64, f64, f64)>>>, // (seconds since start, cpu seconds, rss MiB)
    stop: Arc<std::sync::atomic::AtomicBool>,
    handle: Option<std::thread::JoinHandle<()>>,
    pid: u32,
}

#[derive(Debug, Clone, Copy, Default, serde::Serialize)]
pub struct ProcUsage {
    pub seconds: f64,
    /// Mean CPU use in percent of one core (200% = both cores of this machine).
    pub cpu_percent: f64,
    pub rss_mib_max: f64,
    pub rss_mib_end: f64,
    /// CPU seconds the process used over the window.
    pub cpu_seconds: f64,
}

impl ProcUsage {
    /// Server CPU microseconds per operation (load-independent cost).
    pub fn us_per(&self, ops: u64) -> f64 {
        if ops == 0 {
            f64::NAN
        } else {
            self.cpu_seconds * 1e6 / ops as f64
        }
    }
}

impl Sampler {
    pub fn start(pid: u32) -> Sampler {
        let samples = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let (s2, stop2) = (samples.clone(), stop.clone());
        let handle = std::thread::spawn(move || {
            let start = Instant::now();
            // Bounded: stops when told, or after 2 hours whatever happens.
            while !stop2.load(std::sync::atomic::Ordering::Relaxed)
                && start.elapsed() < Duration::from_secs(7200)
            {
                if let (Some(cpu), Some((rss, _))) = (cpu_seconds(pid), rss_mib(pid)) {
                    s2.lock()
                        .unwrap()
                        .push((start.elapsed().as_secs_f64(), cpu, rss));
                }
                std::thread::sleep(Duration::from_millis(100));
            }
        });
        Sampler {
            samples,
            stop,
            handle: Some(handle),
            pid,
        }
    }

    pub fn finish(mut self) -> ProcUsage {
        if let (Some(cpu), Some((rss, _))) = (cpu_seconds(self.pid), rss_mib(self.pid)) {
            let elapsed = self
                .samples
                .lock()
                .unwrap()
                .last()
                .map_or(0.0, |s| s.0 + 0.05);
            self.samples.lock().unwrap().push((elapsed, cpu, rss));
        }
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
        let s = self.samples.lock().unwrap();
        if s.len() < 2 {
            return ProcUsage::default();
        }
        let (t0, c0, _) = s[0];
        let (t1, c1, rss_end) = s[s.len() - 1];
        let rss_max = s.iter().map(|x| x.2).fold(0.0, f64::max);
        ProcUsage {
            seconds: t1 - t0,
            cpu_percent: if t1 > t0 {
                (c1 - c0) / (t1 - t0) * 100.0
            } else {
                0.0
            },
            rss_mib_max: rss_max,
            rss_mib_end: rss_end,
            cpu_seconds: c1 - c0,
        }
    }
}

pub fn round(x: f64, digits: i32) -> f64 {
    let m = 10f64.powi(digits);
    (x * m).round() / m
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_timestamps() {
        assert_eq!(
            parse_rfc3339_us("1970-01-01T00:00:01.000002Z"),
            Some(1_000_002)
        );
        assert_eq!(
            parse_rfc3339_us("2000-03-01T00:00:00Z"),
            Some(951_868_800_000_000)
        );
    }

    #[test]
    fn percentiles() {
        let d = dist((1..=100).map(|x| x * 1000).collect());
        assert_eq!(d.p50_ms, 50.0);
        assert_eq!(d.p99_ms, 99.0);
        assert_eq!(d.max_ms, 100.0);
    }
}
