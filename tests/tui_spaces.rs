//! The space browser: keys and worker events in, state and effects out; and
//! snapshots of the whole frame at 80×24 and 120×40.

use std::path::PathBuf;
use std::time::Duration;

use confluence_tui::confluence::client::{AuthMode, Deployment, WaitReason};
use confluence_tui::confluence::model::{Page, Space, User};
use confluence_tui::exit::ErrorClass;
use confluence_tui::session::Snapshot;
use confluence_tui::tui::app::{App, Clip, Effect, Msg, Screen};
use confluence_tui::tui::session::SessionView;
use confluence_tui::tui::theme::Theme;
use confluence_tui::tui::view;
use confluence_tui::worker::{
    Command, Event, Generation, Generational, Listing, Query, QueryKind, SiteInfo, Wait,
    WorkerError,
};
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers, MouseEvent, MouseEventKind};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use time::macros::datetime;

const SITE: &str = "https://example.atlassian.net/wiki";
/// Stands in for a session cookie: must never reach the screen.
const SENTINEL: &str = "SENTINEL-cookie-value-7f3a";

const WORDS: &[&str] = &[
    "Engineering",
    "Marketing",
    "Platform",
    "Design System",
    "Data Pipeline",
    "Customer Success",
    "Security",
    "Mobile Apps",
    "Finance",
    "People Ops",
    "Release Notes",
    "Support Runbooks",
];

fn space(i: usize) -> Space {
    let key = format!("SP{i:04}");
    let name = format!("{} {}", WORDS[i % WORDS.len()], i / WORDS.len());
    Space {
        id: format!("{}", 98_000 + i),
        url: format!("{SITE}/spaces/{key}"),
        kind: if i % 7 == 3 { "personal" } else { "global" }.into(),
        status: if i % 11 == 5 { "archived" } else { "current" }.into(),
        description: Some(format!("Everything the {name} team writes down.")),
        homepage_id: Some(format!("{}", 500_000 + i)),
        key,
        name,
    }
}

fn spaces(range: std::ops::Range<usize>) -> Vec<Space> {
    range.map(space).collect()
}

fn page(space_key: &str, i: usize) -> Page {
    Page {
        id: format!("{}", 700_000 + i),
        title: format!("{} page {i}", WORDS[(i * 5) % WORDS.len()]),
        parent_id: (i > 0).then(|| "700000".to_string()),
        version: Some(1 + (i as u64 % 9)),
        updated_at: Some(format!(
            "2026-11-{:02}T{:02}:15:00.000Z",
            1 + i % 20,
            i % 24
        )),
        url: format!("{SITE}/spaces/{space_key}/pages/{}", 700_000 + i),
    }
}

fn app() -> App {
    let session = SessionView::new(&SiteInfo {
        site: Some(SITE.into()),
        deployment: Some(Deployment::Cloud),
        login_page: Some("https://example.atlassian.net/login".into()),
        env_file: PathBuf::from(".env"),
        data_dir: "/tmp/confluence-tui-test".into(),
        browser: None,
    });
    App::new(
        session,
        datetime!(2026-11-21 12:00 UTC),
        time::Duration::days(14),
    )
}

/// The generation of the spaces listing among `effects`, if one was asked for.
fn listing_generation(effects: &[Effect]) -> Option<Generation> {
    effects.iter().find_map(|e| match e {
        Effect::Worker(Command::Query(Query::ListSpaces {
            generation,
            max: None,
        })) => Some(*generation),
        _ => None,
    })
}

/// An app signed in with cookies, on the spaces screen, its listing asked
/// for; and that listing's generation.
fn signed_in() -> (App, Generation) {
    let mut a = app();
    let effects = a.update(Msg::Worker(Event::Session(Snapshot::signed_in(
        User {
            kind: "known".into(),
            display_name: "Dana Example".into(),
            id: Some("abc".into()),
            email: None,
        },
        AuthMode::Cookie,
        "stored cookies".into(),
        Deployment::Cloud,
    ))));
    let generation = listing_generation(&effects).expect("signing in lists the spaces");
    a.update(key(KeyCode::Char('2')));
    a.flash = None;
    (a, generation)
}

fn key(code: KeyCode) -> Msg {
    Msg::Key(KeyEvent::new(code, KeyModifiers::NONE))
}

fn press(a: &mut App, code: KeyCode) -> Vec<Effect> {
    a.update(key(code))
}

fn type_text(a: &mut App, text: &str) {
    for c in text.chars() {
        press(a, KeyCode::Char(c));
    }
}

fn worker(a: &mut App, ev: Event) {
    a.update(Msg::Worker(ev));
}

/// A step of the spaces listing of `generation`.
fn spaces_step(generation: Generation, step: Listing<Space>) -> Event {
    Event::Spaces(Generational::new(generation, step))
}

/// A step of the pages listing of `generation`.
fn pages_step(generation: Generation, step: Listing<Page>) -> Event {
    Event::Pages(Generational::new(generation, step))
}

/// Streams `n` spaces in pages of 250 under `generation`.
fn stream(a: &mut App, generation: Generation, n: usize, done: bool) {
    worker(a, spaces_step(generation, Listing::Started));
    let mut loaded = 0;
    while loaded < n {
        let end = (loaded + 250).min(n);
        worker(
            a,
            spaces_step(
                generation,
                Listing::Items {
                    items: spaces(loaded..end),
                    loaded: end,
                },
            ),
        );
        loaded = end;
    }
    if done {
        worker(a, spaces_step(generation, Listing::Done { total: n }));
    }
}

/// Presses Enter on the selected space: the pages listing asked for, its
/// generation.
fn enter_pages(a: &mut App, space_key: &str) -> Generation {
    let effects = press(a, KeyCode::Enter);
    match effects.as_slice() {
        [
            Effect::Worker(Command::Query(Query::ListPages {
                generation,
                space_key: asked,
                ..
            })),
        ] if asked == space_key => *generation,
        other => panic!("expected ListPages of {space_key}, got {other:?}"),
    }
}

fn selected_key(a: &App) -> String {
    a.spaces
        .selected_space()
        .map(|s| s.key.clone())
        .unwrap_or_default()
}

// ---- update: keys and events in, state and effects out -------------------

#[test]
fn list_is_usable_while_spaces_stream_in() {
    let (mut a, g) = signed_in();
    stream(&mut a, g, 250, false);
    assert!(a.spaces.is_loading());
    press(&mut a, KeyCode::Char('j'));
    press(&mut a, KeyCode::Down);
    assert_eq!(selected_key(&a), "SP0002");
    worker(
        &mut a,
        spaces_step(
            g,
            Listing::Items {
                items: spaces(250..500),
                loaded: 500,
            },
        ),
    );
    assert_eq!(a.spaces.spaces().len(), 500);
    assert_eq!(
        selected_key(&a),
        "SP0002",
        "selection stays put while loading"
    );
    press(&mut a, KeyCode::Char('G'));
    assert_eq!(selected_key(&a), "SP0499");
    worker(&mut a, spaces_step(g, Listing::Done { total: 500 }));
    assert!(!a.spaces.is_loading());
}

#[test]
fn a_new_generation_resets_the_list_and_old_pages_are_ignored() {
    let (mut a, old) = signed_in();
    stream(&mut a, old, 300, false);
    let new = listing_generation(&press(&mut a, KeyCode::Char('r'))).expect("r lists again");
    assert_ne!(new, old);
    worker(&mut a, spaces_step(new, Listing::Started));
    assert!(
        a.spaces.spaces().is_empty(),
        "the new listing's start resets the list"
    );
    worker(
        &mut a,
        spaces_step(
            old,
            Listing::Items {
                items: spaces(300..400),
                loaded: 400,
            },
        ),
    );
    assert!(
        a.spaces.spaces().is_empty(),
        "a page of the old listing is ignored"
    );
    worker(&mut a, spaces_step(old, Listing::Done { total: 400 }));
    assert!(
        a.spaces.is_loading(),
        "the old listing's end does not end the new one"
    );
    worker(
        &mut a,
        spaces_step(
            new,
            Listing::Items {
                items: spaces(0..10),
                loaded: 10,
            },
        ),
    );
    assert_eq!(a.spaces.spaces().len(), 10);
}

#[test]
fn stale_listing_answers_are_ignored() {
    let mut a = app();
    // Opening the screen lists the spaces (A); r lists them again (B).
    let first = listing_generation(&press(&mut a, KeyCode::Char('2')))
        .expect("opening the screen lists the spaces");
    assert_eq!(a.screen, Screen::Spaces);
    let second =
        listing_generation(&press(&mut a, KeyCode::Char('r'))).expect("r lists the spaces");
    assert_ne!(first, second, "each listing has its own generation");
    worker(
        &mut a,
        spaces_step(
            first,
            Listing::Items {
                items: spaces(0..40),
                loaded: 40,
            },
        ),
    );
    assert!(
        a.spaces.spaces().is_empty(),
        "the answer to the replaced listing is dropped"
    );
    assert!(
        a.spaces.is_loading(),
        "the current listing is still running"
    );
    worker(
        &mut a,
        spaces_step(
            second,
            Listing::Items {
                items: spaces(100..125),
                loaded: 25,
            },
        ),
    );
    assert_eq!(
        a.spaces.spaces().len(),
        25,
        "the current listing's answer fills the list"
    );
    assert_eq!(selected_key(&a), "SP0100");
}

#[test]
fn filter_types_text_even_for_global_keys_enter_keeps_esc_clears() {
    let (mut a, g) = signed_in();
    stream(&mut a, g, 1200, true);
    press(&mut a, KeyCode::Char('/'));
    assert!(a.text_focus());
    // `q` and `2` are global keys; in the field they are text.
    let effects = press(&mut a, KeyCode::Char('q'));
    assert!(effects.is_empty() && !a.quit, "q typed, not quit");
    press(&mut a, KeyCode::Backspace);
    type_text(&mut a, "security 2");
    // Substring matches first (Security 2, 20..29), then fuzzy ones.
    let matched = a.spaces.visible_len();
    assert!((11..100).contains(&matched), "{matched}");
    assert_eq!(selected_key(&a), "SP0030", "Security 2 is SP0030");
    press(&mut a, KeyCode::Enter);
    assert!(!a.text_focus());
    for _ in 0..10 {
        press(&mut a, KeyCode::Char('j'));
        let name = a.spaces.selected_space().unwrap().name.clone();
        assert!(name.starts_with("Security 2"), "{name}");
    }
    press(&mut a, KeyCode::Char('j'));
    let name = a.spaces.selected_space().unwrap().name.clone();
    assert!(
        !name.starts_with("Security 2"),
        "fuzzy matches come after: {name}"
    );
    assert_eq!(a.spaces.visible_len(), matched, "Enter keeps the filter");
    press(&mut a, KeyCode::Char('/'));
    press(&mut a, KeyCode::Esc);
    assert!(!a.text_focus());
    assert_eq!(a.spaces.visible_len(), 1200, "Esc clears the filter");
    assert_eq!(a.screen, Screen::Spaces);
}

#[test]
fn filter_matches_keys_and_fuzzy_subsequences_case_insensitively() {
    let (mut a, g) = signed_in();
    stream(&mut a, g, 1200, true);
    press(&mut a, KeyCode::Char('/'));
    type_text(&mut a, "sp0117");
    assert_eq!(selected_key(&a), "SP0117", "the exact key comes first");
    press(&mut a, KeyCode::Esc);
    press(&mut a, KeyCode::Char('/'));
    type_text(&mut a, "DSYS");
    // No substring "dsys"; d…s…y…s in "Design System N" (and nowhere else).
    assert_eq!(a.spaces.visible_len(), 100);
    assert!(
        a.spaces
            .selected_space()
            .unwrap()
            .name
            .starts_with("Design System")
    );
    type_text(&mut a, "x");
    assert_eq!(a.spaces.visible_len(), 0);
    assert!(screen_text(&a, 80, 24).contains("No space matches"));
}

#[test]
fn sorting_by_name_and_back_by_key_reversed() {
    let (mut a, g) = signed_in();
    stream(&mut a, g, 30, true);
    assert_eq!(selected_key(&a), "SP0000");
    press(&mut a, KeyCode::Char('n'));
    // "Customer Success 0" is the first name alphabetically.
    assert_eq!(selected_key(&a), "SP0000", "selection stays on its space");
    press(&mut a, KeyCode::Char('g'));
    assert_eq!(
        a.spaces.selected_space().unwrap().name,
        "Customer Success 0"
    );
    press(&mut a, KeyCode::Char('s'));
    press(&mut a, KeyCode::Char('g'));
    assert_eq!(selected_key(&a), "SP0000");
    press(&mut a, KeyCode::Char('s'));
    press(&mut a, KeyCode::Char('g'));
    assert_eq!(selected_key(&a), "SP0029", "s again reverses");
}

#[test]
fn o_opens_the_space_y_copies_its_url_r_reloads() {
    let (mut a, g) = signed_in();
    stream(&mut a, g, 20, true);
    press(&mut a, KeyCode::Char('j'));
    let effects = press(&mut a, KeyCode::Char('o'));
    assert!(
        matches!(effects.as_slice(), [Effect::OpenUrl(u)] if u == &format!("{SITE}/spaces/SP0001")),
        "o opens the space, not the login page: {effects:?}"
    );
    let effects = press(&mut a, KeyCode::Char('y'));
    assert!(
        matches!(effects.as_slice(), [Effect::CopyToClipboard(Clip::Text(u))] if u == &format!("{SITE}/spaces/SP0001"))
    );
    let effects = press(&mut a, KeyCode::Char('r'));
    assert!(
        matches!(
            effects.as_slice(),
            [Effect::Worker(Command::Query(Query::ListSpaces { generation, max: None }))]
                if *generation != g
        ),
        "r lists again, as a new request: {effects:?}"
    );
    assert!(a.spaces.is_loading());
    // On the status screen `o` is still the login page.
    press(&mut a, KeyCode::Char('1'));
    let effects = press(&mut a, KeyCode::Char('o'));
    assert!(
        matches!(effects.as_slice(), [Effect::OpenUrl(u)] if u == "https://example.atlassian.net/login")
    );
}

#[test]
fn enter_lists_the_pages_esc_goes_back() {
    let (mut a, g) = signed_in();
    stream(&mut a, g, 20, true);
    press(&mut a, KeyCode::Char('j'));
    let effects = press(&mut a, KeyCode::Enter);
    let pages = match effects.as_slice() {
        [
            Effect::Worker(Command::Query(Query::ListPages {
                generation,
                space_key,
                space_id,
            })),
        ] => {
            assert_eq!(space_key, "SP0001");
            assert_eq!(space_id.as_deref(), Some("98001"));
            *generation
        }
        other => panic!("expected ListPages, got {other:?}"),
    };
    assert_ne!(pages, g);
    worker(&mut a, pages_step(pages, Listing::Started));
    // `g` was handed out earlier (to the spaces listing): an older generation.
    worker(
        &mut a,
        pages_step(
            g,
            Listing::Items {
                items: vec![page("SP0001", 99)],
                loaded: 1,
            },
        ),
    );
    assert!(
        a.spaces.pages().is_empty(),
        "an older generation is ignored"
    );
    worker(
        &mut a,
        pages_step(
            pages,
            Listing::Items {
                items: (0..30).map(|i| page("SP0001", i)).collect(),
                loaded: 30,
            },
        ),
    );
    assert_eq!(a.spaces.pages().len(), 30);
    press(&mut a, KeyCode::Char('j'));
    let effects = press(&mut a, KeyCode::Char('o'));
    assert!(
        matches!(effects.as_slice(), [Effect::OpenUrl(u)] if u.ends_with("/pages/700001")),
        "{effects:?}"
    );
    let effects = press(&mut a, KeyCode::Char('y'));
    assert!(
        matches!(effects.as_slice(), [Effect::CopyToClipboard(Clip::Text(u))] if u.ends_with("/pages/700001"))
    );
    // The same filter behaviour.
    press(&mut a, KeyCode::Char('/'));
    type_text(&mut a, "finance");
    assert!(a.text_focus());
    press(&mut a, KeyCode::Enter);
    assert!(
        a.spaces
            .selected_page()
            .unwrap()
            .title
            .starts_with("Finance")
    );
    // Esc clears the kept filter, the next Esc goes back (cancelling the listing).
    press(&mut a, KeyCode::Esc);
    assert_eq!(a.spaces.pages().len(), 30);
    assert!(a.spaces.pages_space().is_some());
    let effects = press(&mut a, KeyCode::Esc);
    assert!(matches!(
        effects.as_slice(),
        [Effect::Worker(Command::Cancel(QueryKind::Pages))]
    ));
    assert!(a.spaces.pages_space().is_none());
    assert_eq!(selected_key(&a), "SP0001", "back on the same space");
    // Pages of a space no longer shown change nothing.
    worker(&mut a, pages_step(pages, Listing::Done { total: 30 }));
    assert!(a.spaces.pages().is_empty());
}

#[test]
fn pages_reload_and_sort_by_date() {
    let (mut a, g) = signed_in();
    stream(&mut a, g, 3, true);
    let generation = enter_pages(&mut a, "SP0000");
    open_pages(&mut a, generation, "SP0000", 40);
    press(&mut a, KeyCode::Char('u'));
    press(&mut a, KeyCode::Char('g'));
    let newest = a
        .spaces
        .selected_page()
        .unwrap()
        .updated_at
        .clone()
        .unwrap();
    assert!(
        a.spaces
            .pages()
            .iter()
            .all(|p| p.updated_at.as_deref().unwrap() <= newest.as_str()),
        "u sorts newest first"
    );
    let effects = press(&mut a, KeyCode::Char('r'));
    assert!(matches!(
        effects.as_slice(),
        [Effect::Worker(Command::Query(Query::ListPages { space_key, .. }))] if space_key == "SP0000"
    ));
}

/// Answers the pages listing `generation` of `space_key` with `n` pages.
fn open_pages(a: &mut App, generation: Generation, space_key: &str, n: usize) {
    worker(a, pages_step(generation, Listing::Started));
    worker(
        a,
        pages_step(
            generation,
            Listing::Items {
                items: (0..n).map(|i| page(space_key, i)).collect(),
                loaded: n,
            },
        ),
    );
    worker(a, pages_step(generation, Listing::Done { total: n }));
}

#[test]
fn errors_stop_the_spinner_and_show_in_the_screen() {
    let (mut a, g) = signed_in();
    stream(&mut a, g, 250, false);
    worker(
        &mut a,
        spaces_step(
            g,
            Listing::Failed(WorkerError::new(
                ErrorClass::Network,
                "network error: connection reset; check the connection, then press r",
            )),
        ),
    );
    assert!(!a.spaces.is_loading());
    assert!(a.spaces.error().unwrap().contains("connection reset"));
    assert!(!a.spaces.needs_load() || a.spaces.spaces().len() == 250);
    let text = screen_text(&a, 80, 24);
    assert!(text.contains("connection reset"), "{text}");
}

#[test]
fn mouse_wheel_moves_the_selection() {
    let (mut a, g) = signed_in();
    stream(&mut a, g, 100, true);
    a.update(Msg::Mouse(MouseEvent {
        kind: MouseEventKind::ScrollDown,
        column: 10,
        row: 10,
        modifiers: KeyModifiers::NONE,
    }));
    assert_eq!(selected_key(&a), "SP0003");
}

#[test]
fn page_down_moves_by_what_fits_on_screen() {
    let (mut a, g) = signed_in();
    stream(&mut a, g, 1000, true);
    a.spaces.set_terminal_size(80, 24);
    press(&mut a, KeyCode::PageDown);
    // 24 rows − header, message, footer − borders − column header = 18.
    assert_eq!(selected_key(&a), "SP0018");
    a.spaces.set_terminal_size(120, 40);
    press(&mut a, KeyCode::PageDown);
    assert_eq!(selected_key(&a), "SP0052");
}

#[test]
fn rate_limit_wait_counts_down_in_the_title() {
    let (mut a, g) = signed_in();
    stream(&mut a, g, 250, false);
    worker(
        &mut a,
        Event::Waiting(Wait {
            query: QueryKind::Spaces,
            wait: Duration::from_secs(12),
            next_attempt: 2,
            reason: WaitReason::RateLimited { status: 429 },
        }),
    );
    assert!(screen_text(&a, 80, 24).contains("retrying in 12 s"));
    a.update(Msg::Tick(datetime!(2026-11-21 12:00:05 UTC)));
    assert!(screen_text(&a, 80, 24).contains("retrying in 7 s"));
}

// ---- snapshots -------------------------------------------------------------

fn terminal(a: &App, w: u16, h: u16) -> Terminal<TestBackend> {
    let mut t = Terminal::new(TestBackend::new(w, h)).unwrap();
    t.draw(|f| view::draw(a, f.area(), f.buffer_mut(), &Theme::plain()))
        .unwrap();
    t
}

fn screen_text(a: &App, w: u16, h: u16) -> String {
    let t = terminal(a, w, h);
    let buf = t.backend().buffer();
    let mut s = String::new();
    for y in 0..h {
        for x in 0..w {
            s.push_str(buf[(x, y)].symbol());
        }
        s.push('\n');
    }
    s
}

/// Snapshots `a` at 80×24 and 120×40, checking no secret leaked.
fn snap(name: &str, a: &mut App) {
    for (w, h) in [(80u16, 24u16), (120, 40)] {
        a.spaces.set_terminal_size(w, h);
        let text = screen_text(a, w, h);
        assert!(!text.contains(SENTINEL), "{name}: secret on screen");
        let t = terminal(a, w, h);
        insta::assert_snapshot!(format!("{name}_{w}x{h}"), t.backend());
    }
}

/// Cookies pasted and saved: the sentinel went in, it must never be drawn.
fn with_secret_pasted(a: &mut App) {
    a.update(Msg::Paste(format!("cloud.session.token={SENTINEL}")));
    a.update(key(KeyCode::Esc));
    a.flash = None;
}

#[test]
fn snapshot_loading() {
    let (mut a, g) = signed_in();
    with_secret_pasted(&mut a);
    stream(&mut a, g, 250, false);
    snap("loading", &mut a);
}

#[test]
fn snapshot_loaded_with_selection() {
    let (mut a, g) = signed_in();
    stream(&mut a, g, 1200, true);
    for _ in 0..25 {
        press(&mut a, KeyCode::Char('j'));
    }
    snap("loaded", &mut a);
}

#[test]
fn snapshot_filtered() {
    let (mut a, g) = signed_in();
    stream(&mut a, g, 1200, true);
    press(&mut a, KeyCode::Char('/'));
    type_text(&mut a, "secur");
    snap("filter_typing", &mut a);
    press(&mut a, KeyCode::Enter);
    press(&mut a, KeyCode::Char('j'));
    snap("filtered", &mut a);
}

#[test]
fn snapshot_details() {
    let (mut a, g) = signed_in();
    stream(&mut a, g, 1200, true);
    press(&mut a, KeyCode::Char('n'));
    press(&mut a, KeyCode::Char('j'));
    press(&mut a, KeyCode::Char('d'));
    snap("details", &mut a);
}

#[test]
fn snapshot_pages() {
    let (mut a, g) = signed_in();
    stream(&mut a, g, 1200, true);
    for _ in 0..4 {
        press(&mut a, KeyCode::Char('j'));
    }
    let generation = enter_pages(&mut a, "SP0004");
    open_pages(&mut a, generation, "SP0004", 40);
    press(&mut a, KeyCode::Char('j'));
    snap("pages", &mut a);
}

#[test]
fn snapshot_empty() {
    let (mut a, g) = signed_in();
    stream(&mut a, g, 0, true);
    snap("empty", &mut a);
}

#[test]
fn snapshot_error() {
    let (mut a, g) = signed_in();
    worker(&mut a, spaces_step(g, Listing::Started));
    a.update(Msg::Worker(spaces_step(
        g,
        Listing::Failed(WorkerError::new(
            ErrorClass::Network,
            "Could not reach example.atlassian.net (connection refused) after 4 attempts; check the network or proxy, then press r",
        )),
    )));
    snap("error", &mut a);
}
