//! Micro-benchmarks of the hot paths a user waits on: parsing a cookie paste
//! in each format, the space list at 100,000 spaces (filter keystrokes and
//! one frame), and opening a 100,000-record audit log.
//!
//! The vault (seal/open at cost 10 and 17, and scrypt alone) lives in
//! `benches/vault.rs` (`cargo bench --bench vault`); it is not repeated here.
//!
//!     cargo bench --bench micro

use std::hint::black_box;
use std::io::Write;
use std::time::Duration;

use confluence_tui::audit::{AuditDetails, AuditEvent, AuditOutcome, AuditRecord, GENESIS_PREV};
use confluence_tui::confluence::client::Deployment;
use confluence_tui::confluence::model::Space;
use confluence_tui::cookies::parse::parse_cookies_at;
use confluence_tui::tui::app::{App, Msg, Screen};
use confluence_tui::tui::screens::audit::load_snapshot;
use confluence_tui::tui::session::SessionView;
use confluence_tui::tui::theme::Theme;
use confluence_tui::tui::view;
use confluence_tui::worker::{Event, Generational, Listing, Query, SiteInfo};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use time::OffsetDateTime;
use time::macros::datetime;

/// Before every expiry in the fixtures, so no cookie is dropped as expired.
const PARSE_NOW: OffsetDateTime = datetime!(2025-06-01 00:00 UTC);
const SPACES: usize = 100_000;
const AUDIT_RECORDS: u64 = 100_000;

/// The fixtures as pasted in tests, each a few hundred bytes.
const FIXTURES: &[(&str, &str)] = &[
    (
        "fixture/cookie_header",
        include_str!("../tests/fixtures/cookies/cookie_header.txt"),
    ),
    (
        "fixture/netscape",
        include_str!("../tests/fixtures/cookies/netscape_cookies.txt"),
    ),
    (
        "fixture/cookie_editor_json",
        include_str!("../tests/fixtures/cookies/cookie_editor.json"),
    ),
    (
        "fixture/curl_bash",
        include_str!("../tests/fixtures/cookies/chrome_curl_bash.txt"),
    ),
    (
        "fixture/curl_cmd",
        include_str!("../tests/fixtures/cookies/chrome_curl_cmd.txt"),
    ),
];

/// A signed-in Cloud browser's cookies: two ~1.1 KB session JWTs and the
/// analytics and feature-flag cookies around them, about 4 KB as a header.
fn realistic_cookies() -> Vec<(String, String)> {
    let jwt = |seed: &str| {
        let body: String = (0..1100)
            .map(|i| {
                let c = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
                    [(i * 7 + seed.len()) % 64];
                c as char
            })
            .collect();
        format!("eyJraWQiOiJzZXNzaW9uLXNlcnZpY2UifQ.{body}.c2ln")
    };
    let mut v = vec![
        ("cloud.session.token".to_string(), jwt("cloud")),
        ("tenant.session.token".to_string(), jwt("tenant")),
        (
            "atlassian.xsrf.token".to_string(),
            "BENCH-xsrf-9f8e7d6c5b4a_lin".to_string(),
        ),
    ];
    for i in 0..21 {
        v.push((
            format!("ajs_analytics_{i:02}"),
            format!("v{i}-{}", "a1b2c3d4".repeat(10)),
        ));
    }
    v
}

/// The realistic cookies in each paste format.
fn realistic_pastes() -> Vec<(&'static str, String)> {
    let cookies = realistic_cookies();
    let header = cookies
        .iter()
        .map(|(n, v)| format!("{n}={v}"))
        .collect::<Vec<_>>()
        .join("; ");
    let netscape = std::iter::once("# Netscape HTTP Cookie File\n".to_string())
        .chain(cookies.iter().map(|(n, v)| {
            format!("#HttpOnly_.atlassian.net\tTRUE\t/\tTRUE\t2000000000\t{n}\t{v}\n")
        }))
        .collect::<String>();
    let json = serde_json::to_string_pretty(
        &cookies
            .iter()
            .map(|(n, v)| {
                serde_json::json!({
                    "domain": ".atlassian.net", "expirationDate": 2000000000.5,
                    "hostOnly": false, "httpOnly": true, "name": n, "path": "/",
                    "sameSite": "no_restriction", "secure": true, "session": false,
                    "storeId": "0", "value": v
                })
            })
            .collect::<Vec<_>>(),
    )
    .unwrap();
    let ua = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/136.0.0.0 Safari/537.36";
    let bash = format!(
        "curl 'https://example.atlassian.net/wiki/api/v2/spaces?limit=25' \\\n  -H 'accept: application/json' \\\n  -H 'accept-language: en-GB,en;q=0.9' \\\n  -b '{header}' \\\n  -H 'referer: https://example.atlassian.net/wiki/spaces' \\\n  -H 'user-agent: {ua}' \\\n  --compressed"
    );
    let cmd = format!(
        "curl ^\"https://example.atlassian.net/wiki/api/v2/spaces?limit=25^\" ^\n  -H ^\"accept: application/json^\" ^\n  -H ^\"accept-language: en-GB,en;q=0.9^\" ^\n  -b ^\"{header}^\" ^\n  -H ^\"user-agent: {ua}^\" ^\n  --compressed"
    );
    vec![
        ("4k/cookie_header", format!("Cookie: {header}")),
        ("4k/netscape", netscape),
        ("4k/cookie_editor_json", json),
        ("4k/curl_bash", bash),
        ("4k/curl_cmd", cmd),
    ]
}

fn bench_cookie_parse(c: &mut Criterion) {
    let mut group = c.benchmark_group("cookie_parse");
    let pastes = FIXTURES
        .iter()
        .map(|(n, t)| (*n, t.to_string()))
        .chain(realistic_pastes());
    for (name, text) in pastes {
        // A paste that stopped parsing would time the error path instead.
        let parsed = parse_cookies_at(&text, PARSE_NOW).unwrap();
        assert!(
            !parsed.jar.cookies.is_empty(),
            "{name} parsed to no cookies"
        );
        group.throughput(Throughput::Bytes(text.len() as u64));
        group.bench_function(name, |b| {
            b.iter(|| parse_cookies_at(black_box(&text), PARSE_NOW).unwrap())
        });
    }
    group.finish();
}

fn space(i: usize) -> Space {
    Space {
        id: (100_000 + i).to_string(),
        key: format!("SP{i:06}"),
        name: format!("Engineering space number {i} of the benchmark"),
        kind: if i.is_multiple_of(5) {
            "personal"
        } else {
            "global"
        }
        .into(),
        status: if i.is_multiple_of(11) {
            "archived"
        } else {
            "current"
        }
        .into(),
        url: format!("https://example.atlassian.net/wiki/spaces/SP{i:06}"),
        description: None,
        homepage_id: None,
    }
}

/// An app on the space screen holding `SPACES` spaces, fed as the worker
/// delivers them: pages of 250.
fn app_with_spaces() -> App {
    let now = OffsetDateTime::now_utc();
    let session = SessionView::new(&SiteInfo {
        site: Some("https://example.atlassian.net/wiki".into()),
        deployment: Some(Deployment::Cloud),
        login_page: None,
        env_file: ".env".into(),
        data_dir: "/tmp/confluence-tui-test".into(),
        browser: None,
    });
    let mut app = App::new(session, now, time::Duration::days(14));
    app.screen = Screen::Spaces;
    app.spaces.set_terminal_size(120, 40);
    let Query::ListSpaces { generation, .. } = app.spaces.start_listing() else {
        unreachable!("start_listing asks for the spaces")
    };
    let step = |step| Msg::Worker(Event::Spaces(Generational::new(generation, step)));
    app.update(step(Listing::Started));
    let mut loaded = 0;
    for chunk in (0..SPACES).collect::<Vec<_>>().chunks(250) {
        let items: Vec<Space> = chunk.iter().map(|&i| space(i)).collect();
        loaded += items.len();
        app.update(step(Listing::Items { items, loaded }));
    }
    app.update(step(Listing::Done { total: loaded }));
    assert_eq!(app.spaces.spaces().len(), SPACES, "the app dropped spaces");
    app
}

fn key(c: char) -> Msg {
    Msg::Key(KeyEvent::new(KeyCode::Char(c), KeyModifiers::NONE))
}

fn backspace() -> Msg {
    Msg::Key(KeyEvent::new(KeyCode::Backspace, KeyModifiers::NONE))
}

/// Times `key` alone; `undo` (untimed) restores the state for the next run.
fn time_key(app: &mut App, key: char, iters: u64) -> Duration {
    let mut total = Duration::ZERO;
    for _ in 0..iters {
        let msg = self::key(key);
        let start = std::time::Instant::now();
        app.update(black_box(msg));
        total += start.elapsed();
        app.update(backspace());
    }
    total
}

fn bench_spaces(c: &mut Criterion) {
    let mut group = c.benchmark_group("spaces_100k");
    group
        .sample_size(20)
        .measurement_time(Duration::from_secs(4));
    let theme = Theme::plain();
    let area = Rect::new(0, 0, 120, 40);

    // What a user feels while typing in the filter: the first character
    // (a scan of all 100,000) and the next one (narrowing "4" to "42").
    let mut app = app_with_spaces();
    app.update(key('/'));
    assert!(app.spaces.text_focus(), "/ did not open the filter");
    app.update(key('4'));
    let narrowed = app.spaces.visible_len();
    app.update(key('2'));
    assert!(
        app.spaces.visible_len() < narrowed && narrowed < SPACES,
        "the filter does not narrow"
    );
    app.update(backspace());
    group.bench_function("filter_next_keystroke", |b| {
        b.iter_custom(|iters| time_key(&mut app, '2', iters))
    });
    app.update(backspace());
    assert_eq!(app.spaces.visible_len(), SPACES);
    group.bench_function("filter_first_keystroke", |b| {
        b.iter_custom(|iters| time_key(&mut app, '4', iters))
    });

    let app = app_with_spaces();
    let mut buf = Buffer::empty(area);
    group.bench_function("draw_frame_120x40", |b| {
        b.iter(|| {
            buf.reset();
            view::draw(black_box(&app), area, &mut buf, &theme);
        })
    });
    group.finish();
}

/// Writes a valid chained log of `AUDIT_RECORDS` records, one JSON a line,
/// exactly as the writer would (each `prev` is the previous `hash`).
fn write_audit_log(path: &std::path::Path) {
    let file = std::fs::File::create(path).unwrap();
    let mut out = std::io::BufWriter::new(file);
    let start = datetime!(2026-01-01 00:00 UTC);
    let mut prev = GENESIS_PREV.to_string();
    for seq in 1..=AUDIT_RECORDS {
        let event = AuditEvent::ALL[(seq as usize) % AuditEvent::ALL.len()];
        let mut record = AuditRecord {
            time: start + time::Duration::seconds(seq as i64 * 37),
            seq,
            event,
            outcome: AuditOutcome::Success,
            message: format!("{} on https://example.atlassian.net/wiki", event.as_str()),
            details: AuditDetails {
                count: Some(12),
                names: Some(vec![
                    "cloud.session.token".into(),
                    "atlassian.xsrf.token".into(),
                ]),
                mode: Some("cookie".into()),
                ..AuditDetails::default()
            },
            prev: prev.clone(),
            hash: String::new(),
        };
        record.hash = record.compute_hash().unwrap();
        serde_json::to_writer(&mut out, &record).unwrap();
        out.write_all(b"\n").unwrap();
        prev = record.hash;
    }
    out.flush().unwrap();
}

fn bench_audit(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.log");
    write_audit_log(&path);
    let snapshot = load_snapshot(&path);
    assert_eq!(snapshot.records.len() as u64, AUDIT_RECORDS);
    assert!(
        snapshot.chain.is_ok(),
        "generated chain is broken: {:?}",
        snapshot.chain
    );

    let mut group = c.benchmark_group("audit_100k");
    group
        .sample_size(10)
        .measurement_time(Duration::from_secs(8));
    group.bench_function("load_snapshot", |b| {
        b.iter(|| load_snapshot(black_box(&path)))
    });
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));
    targets = bench_cookie_parse, bench_spaces, bench_audit
}
criterion_main!(benches);
