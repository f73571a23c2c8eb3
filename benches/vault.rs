//! Vault cost at the test cost (log_n 10) and the default (log_n 17):
//! open (load + decrypt), save (encrypt + atomic write), and scrypt alone,
//! so the share of scrypt in an open is `kdf / open`.

use std::hint::black_box;
use std::time::Duration;

use confluence_tui::cookies::jar::{Cookie, CookieJar, CookieSource, StoredCookies};
use confluence_tui::secret::SecretString;
use confluence_tui::vault::key::{self, MachineBinding};
use confluence_tui::vault::{
    KdfParams, MachineIdSource, SiteCredentials, Vault, VaultDocument, VaultOptions,
};
use criterion::{BenchmarkGroup, Criterion, SamplingMode, criterion_group, criterion_main};

const COSTS: [u8; 2] = [10, 17];

fn document() -> VaultDocument {
    let now = time::OffsetDateTime::now_utc();
    let cookies = (0..12)
        .map(|i| Cookie {
            name: format!("cookie-{i}"),
            value: SecretString::from(format!("{i:02}-{}", "v".repeat(120))),
            domain: Some("example.atlassian.net".into()),
            path: Some("/".into()),
            expires: None,
            secure: true,
            http_only: true,
        })
        .collect();
    let mut doc = VaultDocument::default();
    doc.sites.insert(
        "https://example.atlassian.net/wiki".into(),
        SiteCredentials {
            cookies: Some(StoredCookies {
                jar: CookieJar { cookies },
                source: CookieSource::Paste,
                saved_at: now,
                expires_at: now + time::Duration::days(14),
                expired: None,
                refreshed_at: None,
            }),
            api_token: Some(SecretString::from("bench-token")),
            token_saved_at: Some(now),
            username: None,
            session: None,
            ..Default::default()
        },
    );
    doc
}

fn machine() -> MachineIdSource {
    MachineIdSource::Fixed("bench-machine-id".into())
}

fn vault(dir: &std::path::Path, log_n: u8) -> Vault {
    Vault::new(
        dir.join("cookies").join("secure_cookies.enc"),
        VaultOptions {
            machine_id: machine(),
            passphrase: Some(SecretString::from("bench-passphrase")),
            kdf_log_n: log_n,
        },
    )
}

/// The default cost takes a large fraction of a second per call: few flat samples.
fn configure(group: &mut BenchmarkGroup<'_, criterion::measurement::WallTime>, log_n: u8) {
    if log_n >= 17 {
        group.sample_size(10).sampling_mode(SamplingMode::Flat);
    } else {
        group.sample_size(50).sampling_mode(SamplingMode::Auto);
    }
}

fn bench_kdf(c: &mut Criterion) {
    let mut group = c.benchmark_group("kdf");
    let binding = MachineBinding::from_source(&machine()).unwrap();
    let pass = SecretString::from("bench-passphrase");
    let salt = [7u8; 16];
    for log_n in COSTS {
        configure(&mut group, log_n);
        let params = KdfParams::with_log_n(log_n);
        group.bench_function(format!("log_n_{log_n}"), |b| {
            b.iter(|| {
                key::derive_key(
                    black_box(&params),
                    black_box(&salt),
                    Some(&binding),
                    Some(&pass),
                )
                .unwrap()
            })
        });
    }
    group.finish();
}

fn bench_open(c: &mut Criterion) {
    let mut group = c.benchmark_group("open");
    let doc = document();
    for log_n in COSTS {
        configure(&mut group, log_n);
        let dir = tempfile::tempdir().unwrap();
        let vault = vault(dir.path(), log_n);
        vault.save(&doc).unwrap();
        group.bench_function(format!("log_n_{log_n}"), |b| {
            b.iter(|| black_box(vault.load().unwrap()))
        });
    }
    group.finish();
}

fn bench_save(c: &mut Criterion) {
    let mut group = c.benchmark_group("save");
    let doc = document();
    for log_n in COSTS {
        configure(&mut group, log_n);
        let dir = tempfile::tempdir().unwrap();
        let vault = vault(dir.path(), log_n);
        group.bench_function(format!("log_n_{log_n}"), |b| {
            b.iter(|| vault.save(black_box(&doc)).unwrap())
        });
    }
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().warm_up_time(Duration::from_secs(1));
    targets = bench_kdf, bench_open, bench_save
}
criterion_main!(benches);
