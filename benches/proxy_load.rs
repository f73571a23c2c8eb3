//! The load client of `benches/proxy.sh`: keep-alive GETs of a small JSON
//! answer to several targets (the fake site directly, through the
//! authenticating proxy, through nginx), interleaved round by round so a
//! slow patch of a shared machine hits them all; then a large download
//! through each. Prints per target the median and p99 latency and the
//! throughput, and what the proxy and nginx add over the direct target.
//!
//! Not a criterion benchmark (`harness = false`): it needs live servers,
//! which the script starts and describes in a targets file, one target a
//! line, tab-separated:
//!
//! ```text
//! name  small-url  large-url  header-name  header-value
//! ```
//!
//! The first line is the baseline ("direct"). Each target gets its own
//! client holding one keep-alive HTTP/1.1 connection, and its requests go
//! one after another. A request's latency runs from the send to the last
//! byte of the body.
//!
//! ```text
//! proxy_load --targets FILE [--requests 5000] [--rounds 10] [--warmup 200]
//!            [--large-runs 3] [--large-bytes N] [--watch NAME=PID]... [--clk-tck 100]
//!            [--ca PEM-FILE]   (a certificate every client also trusts)
//!            [--concurrent N]  (then N clients at once per target, each on its own
//!                               keep-alive connection: throughput and p99)
//! ```
//!
//! `--watch NAME=PID` names the server process behind target NAME: its CPU
//! time (utime + stime of all its threads) over that target's timed small
//! GETs, per request, and its peak RSS (`VmHWM`) after the small GETs and
//! after the downloads. A proxy only works while its own target is
//! measured, so the CPU is its own, whatever else the machine runs.
//!
//! ```text
//! ```
//!
//! Without `--targets` (as `cargo bench` runs every bench target) it says
//! what it needs and exits 0.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use futures::StreamExt as _;
use reqwest::header::{HeaderName, HeaderValue};

/// Goal: the proxy adds less than this to the median latency.
const GOAL_ADDED_MEDIAN_MS: f64 = 0.3;
/// Goal: the proxy adds at most this multiple of what nginx adds.
const GOAL_VS_NGINX: f64 = 1.5;

struct Target {
    name: String,
    small: String,
    large: String,
    header: (HeaderName, HeaderValue),
    client: reqwest::Client,
    /// Latency of every timed small request, in order.
    samples: Vec<Duration>,
    /// Wall time of the timed small requests, summed over the rounds.
    busy: Duration,
    /// The server process behind this target, if watched.
    pid: Option<u32>,
    /// Its CPU clock ticks over the timed small requests.
    cpu_ticks: u64,
    large_times: Vec<Duration>,
}

struct Options {
    targets: Option<String>,
    requests: usize,
    rounds: usize,
    warmup: usize,
    large_runs: usize,
    large_bytes: Option<u64>,
    watch: Vec<(String, u32)>,
    clk_tck: u64,
    /// A PEM certificate every client also trusts (the TLS proxy's).
    ca: Option<String>,
    /// Clients at once in the concurrent phase (0: none).
    concurrent: usize,
}

fn parse_args() -> Result<Options, String> {
    let mut o = Options {
        targets: None,
        requests: 5000,
        rounds: 10,
        warmup: 200,
        large_runs: 3,
        large_bytes: None,
        watch: Vec::new(),
        clk_tck: 100,
        ca: None,
        concurrent: 0,
    };
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let mut value = |name: &str| args.next().ok_or(format!("{name} needs a value"));
        let number = |v: String, name: &str| {
            v.parse::<u64>()
                .map_err(|_| format!("{name}: not a number: {v}"))
        };
        match a.as_str() {
            // `cargo bench` passes this to every bench target.
            "--bench" => {}
            "--targets" => o.targets = Some(value("--targets")?),
            "--requests" => o.requests = number(value("--requests")?, "--requests")? as usize,
            "--rounds" => o.rounds = number(value("--rounds")?, "--rounds")? as usize,
            "--warmup" => o.warmup = number(value("--warmup")?, "--warmup")? as usize,
            "--large-runs" => {
                o.large_runs = number(value("--large-runs")?, "--large-runs")? as usize
            }
            "--large-bytes" => {
                o.large_bytes = Some(number(value("--large-bytes")?, "--large-bytes")?);
            }
            "--watch" => {
                let v = value("--watch")?;
                let (name, pid) = v.split_once('=').ok_or("--watch NAME=PID")?;
                let pid = number(pid.to_string(), "--watch")? as u32;
                o.watch.push((name.to_string(), pid));
            }
            "--ca" => o.ca = Some(value("--ca")?),
            "--concurrent" => {
                o.concurrent = number(value("--concurrent")?, "--concurrent")? as usize
            }
            "--clk-tck" => o.clk_tck = number(value("--clk-tck")?, "--clk-tck")?.max(1),
            other => return Err(format!("unknown argument {other}")),
        }
    }
    if o.rounds == 0 || o.requests < o.rounds {
        return Err("--requests must be at least --rounds, and --rounds at least 1".into());
    }
    Ok(o)
}

fn read_targets(path: &str, ca: Option<&str>) -> Result<Vec<Target>, String> {
    let ca = match ca {
        Some(file) => Some(
            reqwest::Certificate::from_pem(
                &std::fs::read(file).map_err(|e| format!("{file}: {e}"))?,
            )
            .map_err(|e| format!("{file}: {e}"))?,
        ),
        None => None,
    };
    let text = std::fs::read_to_string(path).map_err(|e| format!("{path}: {e}"))?;
    let mut targets = Vec::new();
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let f: Vec<&str> = line.split('\t').collect();
        let [name, small, large, hname, hvalue] = f[..] else {
            return Err(format!("{path}: expected 5 tab-separated fields per line"));
        };
        let header = (
            HeaderName::from_bytes(hname.as_bytes()).map_err(|e| format!("{name}: {e}"))?,
            HeaderValue::from_str(hvalue).map_err(|e| format!("{name}: {e}"))?,
        );
        let mut builder = reqwest::Client::builder();
        if let Some(ca) = &ca {
            builder = builder.add_root_certificate(ca.clone());
        }
        let client = builder
            .no_proxy()
            .http1_only()
            .pool_max_idle_per_host(1)
            .redirect(reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(120))
            .build()
            .map_err(|e| e.to_string())?;
        targets.push(Target {
            name: name.to_string(),
            small: small.to_string(),
            large: large.to_string(),
            header,
            client,
            samples: Vec::new(),
            busy: Duration::ZERO,
            pid: None,
            cpu_ticks: 0,
            large_times: Vec::new(),
        });
    }
    if targets.len() < 2 {
        return Err(format!(
            "{path}: at least two targets (the first is the baseline)"
        ));
    }
    Ok(targets)
}

impl Target {
    /// One small GET on the kept-alive connection: its latency and body.
    async fn get_small(&self) -> Result<(Duration, axum::body::Bytes), String> {
        let started = Instant::now();
        let r = self
            .client
            .get(&self.small)
            .header(self.header.0.clone(), self.header.1.clone())
            .send()
            .await
            .map_err(|e| format!("{}: {e}", self.name))?;
        let status = r.status();
        let body = r.bytes().await.map_err(|e| format!("{}: {e}", self.name))?;
        let took = started.elapsed();
        if status != 200 {
            return Err(format!(
                "{}: status {status}: {}",
                self.name,
                String::from_utf8_lossy(&body[..body.len().min(300)])
            ));
        }
        Ok((took, body))
    }

    /// The large download, streamed and counted, never held.
    async fn get_large(&self, expected: Option<u64>) -> Result<Duration, String> {
        let started = Instant::now();
        let r = self
            .client
            .get(&self.large)
            .header(self.header.0.clone(), self.header.1.clone())
            .send()
            .await
            .map_err(|e| format!("{}: {e}", self.name))?;
        if r.status() != 200 {
            return Err(format!(
                "{}: large download: status {}",
                self.name,
                r.status()
            ));
        }
        let mut stream = r.bytes_stream();
        let mut received = 0u64;
        while let Some(chunk) = stream.next().await {
            received += chunk.map_err(|e| format!("{}: {e}", self.name))?.len() as u64;
        }
        let took = started.elapsed();
        if let Some(n) = expected
            && received != n
        {
            return Err(format!(
                "{}: received {received} bytes, expected {n}",
                self.name
            ));
        }
        Ok(took)
    }
}

/// The q-quantile (nearest rank) of sorted samples, in ms.
fn quantile_ms(sorted: &[Duration], q: f64) -> f64 {
    let rank = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1].as_secs_f64() * 1e3
}

fn median_ms(samples: &[Duration]) -> f64 {
    let mut s = samples.to_vec();
    s.sort();
    let n = s.len();
    let mid = if n % 2 == 1 {
        s[n / 2].as_secs_f64()
    } else {
        (s[n / 2 - 1].as_secs_f64() + s[n / 2].as_secs_f64()) / 2.0
    };
    mid * 1e3
}

/// Peak resident set (`VmHWM`) of a process, KiB.
fn peak_rss_kib(pid: u32) -> Option<u64> {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()?
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}

/// utime + stime of a process (all its threads), in clock ticks.
fn cpu_ticks(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name may hold spaces; the fields after it are fixed.
    let rest = &stat[stat.rfind(')')? + 2..];
    let f: Vec<&str> = rest.split(' ').collect();
    Some(f.get(11)?.parse::<u64>().ok()? + f.get(12)?.parse::<u64>().ok()?)
}

fn rss_line(rss: &[(String, u32)]) -> String {
    rss.iter()
        .map(|(name, pid)| match peak_rss_kib(*pid) {
            Some(k) => format!("{name} {k} KiB"),
            None => format!("{name} ?"),
        })
        .collect::<Vec<_>>()
        .join(", ")
}

async fn run(o: Options, path: String) -> Result<(), String> {
    let mut targets = read_targets(&path, o.ca.as_deref())?;
    for (name, pid) in &o.watch {
        let t = targets
            .iter_mut()
            .find(|t| &t.name == name)
            .ok_or(format!("--watch {name}: no such target"))?;
        t.pid = Some(*pid);
    }
    let per_round = o.requests / o.rounds;

    // Warm-up: connections open, caches and allocators settle. The first
    // answer of each target is shown so a reader sees what was measured.
    for t in &targets {
        let (_, body) = t.get_small().await?;
        let shown = String::from_utf8_lossy(&body[..body.len().min(160)]).replace('\n', " ");
        println!("{:<7} {} B: {shown}…", t.name, body.len());
        for _ in 1..o.warmup {
            t.get_small().await?;
        }
    }
    println!(
        "\n{} keep-alive GETs per target, {} rounds of {per_round}, targets interleaved (order rotated every round), after {} warm-up GETs each",
        per_round * o.rounds,
        o.rounds,
        o.warmup
    );
    let n = targets.len();
    for round in 0..o.rounds {
        for k in 0..n {
            let t = &mut targets[(round + k) % n];
            let cpu_before = t.pid.and_then(cpu_ticks);
            let started = Instant::now();
            for _ in 0..per_round {
                let (took, _) = t.get_small().await?;
                t.samples.push(took);
            }
            t.busy += started.elapsed();
            if let (Some(a), Some(b)) = (cpu_before, t.pid.and_then(cpu_ticks)) {
                t.cpu_ticks += b - a;
            }
        }
    }
    if !o.watch.is_empty() {
        println!("peak RSS after the small GETs: {}", rss_line(&o.watch));
        for t in targets.iter().filter(|t| t.pid.is_some()) {
            let ms = t.cpu_ticks as f64 * 1e3 / o.clk_tck as f64;
            println!(
                "{} server CPU: {ms:.0} ms over {} GETs = {:.1} µs per request (1 tick = {} ms)",
                t.name,
                t.samples.len(),
                ms * 1e3 / t.samples.len() as f64,
                1000 / o.clk_tck
            );
        }
    }

    struct Row {
        median: f64,
        p99: f64,
        rps: f64,
    }
    let rows: Vec<Row> = targets
        .iter()
        .map(|t| {
            let mut s = t.samples.clone();
            s.sort();
            Row {
                median: median_ms(&s),
                p99: quantile_ms(&s, 0.99),
                rps: s.len() as f64 / t.busy.as_secs_f64(),
            }
        })
        .collect();
    let base = &rows[0];
    println!(
        "\n| target | median ms | p99 ms | req/s | added median ms | added p99 ms | throughput vs {} |",
        targets[0].name
    );
    println!("|---|---|---|---|---|---|---|");
    let mut added: BTreeMap<String, f64> = BTreeMap::new();
    for (t, r) in targets.iter().zip(&rows) {
        let (am, ap) = (r.median - base.median, r.p99 - base.p99);
        added.insert(t.name.clone(), am);
        println!(
            "| {} | {:.3} | {:.3} | {:.0} | {:+.3} | {:+.3} | {:.2}× |",
            t.name,
            r.median,
            r.p99,
            r.rps,
            am,
            ap,
            r.rps / base.rps
        );
    }

    if let Some(each) = o.requests.checked_div(o.concurrent) {
        let each = each.max(1);
        let ca = match o.ca.as_deref() {
            Some(f) => Some(
                reqwest::Certificate::from_pem(&std::fs::read(f).map_err(|e| e.to_string())?)
                    .map_err(|e| e.to_string())?,
            ),
            None => None,
        };
        println!(
            "\n{} clients at once per target, {each} GETs each, one keep-alive connection per client:",
            o.concurrent
        );
        println!("| target | req/s | median ms | p99 ms |");
        println!("|---|---|---|---|");
        for t in &targets {
            let mut builder = reqwest::Client::builder();
            if let Some(ca) = &ca {
                builder = builder.add_root_certificate(ca.clone());
            }
            let client = builder
                .no_proxy()
                .http1_only()
                .pool_max_idle_per_host(o.concurrent)
                .timeout(Duration::from_secs(120))
                .build()
                .map_err(|e| e.to_string())?;
            let started = Instant::now();
            let tasks: Vec<_> = (0..o.concurrent)
                .map(|_| {
                    let (client, url, header) = (client.clone(), t.small.clone(), t.header.clone());
                    tokio::spawn(async move {
                        let mut took = Vec::with_capacity(each);
                        for _ in 0..each {
                            let sent = Instant::now();
                            let r = client
                                .get(&url)
                                .header(header.0.clone(), header.1.clone())
                                .send()
                                .await
                                .map_err(|e| e.to_string())?;
                            let status = r.status();
                            r.bytes().await.map_err(|e| e.to_string())?;
                            if !status.is_success() {
                                return Err(format!("{url}: {status}"));
                            }
                            took.push(sent.elapsed());
                        }
                        Ok::<_, String>(took)
                    })
                })
                .collect();
            let mut all = Vec::new();
            for task in tasks {
                all.extend(task.await.map_err(|e| e.to_string())??);
            }
            let elapsed = started.elapsed();
            all.sort();
            println!(
                "| {} | {:.0} | {:.3} | {:.3} |",
                t.name,
                all.len() as f64 / elapsed.as_secs_f64(),
                median_ms(&all),
                quantile_ms(&all, 0.99)
            );
        }
    }

    if o.large_runs > 0 {
        for _ in 0..o.large_runs {
            for t in &mut targets {
                let took = t.get_large(o.large_bytes).await?;
                t.large_times.push(took);
            }
        }
        let mib = o.large_bytes.map(|b| b as f64 / (1024.0 * 1024.0));
        println!(
            "\nlarge download ({}), median of {} runs, interleaved:",
            mib.map_or("unchecked size".to_string(), |m| format!("{m:.0} MiB")),
            o.large_runs
        );
        println!("| target | median s | MiB/s | all runs s |");
        println!("|---|---|---|---|");
        for t in &targets {
            let med = median_ms(&t.large_times) / 1e3;
            let all: Vec<String> = t
                .large_times
                .iter()
                .map(|d| format!("{:.2}", d.as_secs_f64()))
                .collect();
            println!(
                "| {} | {med:.2} | {} | {} |",
                t.name,
                mib.map_or("?".to_string(), |m| format!("{:.0}", m / med)),
                all.join(", ")
            );
        }
        if !o.watch.is_empty() {
            println!("peak RSS after the downloads: {}", rss_line(&o.watch));
        }
    }

    println!();
    if let Some(&proxy) = added.get("proxy") {
        let ok = proxy < GOAL_ADDED_MEDIAN_MS;
        println!(
            "goal: proxy adds < {GOAL_ADDED_MEDIAN_MS} ms to the median: {proxy:.3} ms — {}",
            if ok { "met" } else { "MISSED" }
        );
        if let Some(&nginx) = added.get("nginx") {
            let ok = proxy <= GOAL_VS_NGINX * nginx;
            println!(
                "goal: proxy adds ≤ {GOAL_VS_NGINX} × nginx's added median ({:.3} ms): {proxy:.3} ms = {:.2} × nginx — {}",
                GOAL_VS_NGINX * nginx,
                proxy / nginx,
                if ok { "met" } else { "MISSED" }
            );
            // The anchors in this stack: what a proxy that only forwards adds.
            for bare in ["bare_hyper", "bare_reqwest"] {
                if let Some(&b) = added.get(bare) {
                    println!(
                        "anchor: {bare} adds {b:.3} ms = {:.2} × nginx; the proxy adds {:.3} ms more than it",
                        b / nginx,
                        proxy - b
                    );
                }
            }
        }
    }
    Ok(())
}

fn main() {
    let o = match parse_args() {
        Ok(o) => o,
        Err(e) => {
            eprintln!("proxy_load: {e}");
            std::process::exit(2);
        }
    };
    let Some(path) = o.targets.clone() else {
        eprintln!("proxy_load needs live servers: run benches/proxy.sh (it passes --targets)");
        return;
    };
    // One thread: the client's own cost is the same for every target, and
    // it does not compete with the servers for the cores more than it must.
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    if let Err(e) = rt.block_on(run(o, path)) {
        eprintln!("proxy_load: {e}");
        std::process::exit(1);
    }
}
