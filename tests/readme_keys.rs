//! The README's keys table is the one the key tables make: it fails when a
//! binding changes and the README does not, printing the table to paste.

const BEGIN: &str = "<!-- keys:begin -->\n";
const END: &str = "<!-- keys:end -->";

#[test]
fn the_readme_keys_table_matches_the_key_tables() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/README.md");
    let readme = std::fs::read_to_string(path).expect("README.md");
    let expected = confluence_tui::tui::readme_table();
    let section = readme
        .split_once(BEGIN)
        .and_then(|(_, rest)| rest.split_once(END))
        .map(|(table, _)| table);
    assert!(
        section == Some(expected.as_str()),
        "README.md's keys table (between {BEGIN:?} and {END:?}) differs from the \
         key tables; paste this between the markers:\n\n{expected}"
    );
}
