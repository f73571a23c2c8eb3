//! Deterministic generated spaces and pages. Nothing is stored: every space
//! and page is computed from its index, so 10,000 spaces cost no memory.

use time::OffsetDateTime;
use time::macros::format_description;

/// Size of the generated site.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DemoData {
    /// Number of spaces.
    pub spaces: usize,
    /// Number of pages in every space (page 0 is the space's homepage).
    pub pages_per_space: usize,
}

impl Default for DemoData {
    fn default() -> Self {
        DemoData {
            spaces: 60,
            pages_per_space: 30,
        }
    }
}

/// Topic words that name global spaces; the key is the first two letters.
const TOPICS: &[&str] = &[
    "Analytics",
    "Billing",
    "Catalog",
    "Data Platform",
    "Engineering",
    "Finance",
    "Growth",
    "Hiring",
    "Infrastructure",
    "Journeys",
    "Knowledge",
    "Legal",
    "Marketing",
    "Networking",
    "Operations",
    "Product",
    "Quality",
    "Research",
    "Security",
    "Tooling",
];

/// First names that name personal spaces.
const PEOPLE: &[&str] = &["Ada", "Brian", "Chen", "Dana", "Emeka", "Farah", "Goran"];

/// Page title words, cycled.
const PAGE_TOPICS: &[&str] = &[
    "Overview",
    "Runbook",
    "Meeting notes",
    "Roadmap",
    "Decision log",
    "How-to",
    "Retrospective",
    "Onboarding",
    "Architecture",
    "FAQ",
];

const FIRST_SPACE_ID: u64 = 131_072;
const SPACE_ID_STRIDE: u64 = 5;
const FIRST_PAGE_ID: u64 = 10_000_000;
/// 2021-01-01T00:00:00Z: generated dates count from here.
const EPOCH_UNIX: i64 = 1_609_459_200;
/// The demo user's Cloud account id; authors every space and page.
pub(crate) const DEMO_ACCOUNT_ID: &str = "557058:demo-0000-4000-8000-000000000001";
/// The demo user's display name.
pub const DEMO_DISPLAY_NAME: &str = "Demo User";

/// One generated space, all fields derived from its index.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpaceInfo {
    pub index: usize,
    pub id: u64,
    pub key: String,
    pub name: String,
    pub personal: bool,
    pub archived: bool,
}

impl SpaceInfo {
    /// The v2 `type` value.
    pub(crate) fn type_name(&self) -> &'static str {
        if self.personal { "personal" } else { "global" }
    }

    /// The v2/v1 `status` value.
    pub fn status(&self) -> &'static str {
        if self.archived { "archived" } else { "current" }
    }

    /// Plain-text description shown by both APIs.
    pub(crate) fn description(&self) -> String {
        format!(
            "Generated demo space {} ({}) for trying confluence-tui.",
            self.name, self.key
        )
    }

    /// Creation time, spaced a few hours apart per index.
    pub(crate) fn created_at(&self) -> String {
        iso_millis(EPOCH_UNIX + self.index as i64 * 7 * 3600)
    }
}

/// One generated page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PageInfo {
    pub id: u64,
    pub space_index: usize,
    pub position: usize,
    pub title: String,
    pub parent_id: Option<u64>,
    pub version: u32,
}

impl PageInfo {
    /// Creation time of the page.
    pub(crate) fn created_at(&self) -> String {
        iso_millis(EPOCH_UNIX + self.space_index as i64 * 7 * 3600 + self.position as i64 * 600)
    }

    /// Time of the page's latest version.
    pub fn updated_at(&self) -> String {
        iso_millis(
            EPOCH_UNIX
                + self.space_index as i64 * 7 * 3600
                + self.position as i64 * 600
                + i64::from(self.version) * 86_400,
        )
    }

    /// The small storage-format body served with `body-format=storage`.
    pub(crate) fn storage_body(&self) -> String {
        format!(
            "<h1>{}</h1><p>Demo page {} of the generated site.</p>",
            self.title, self.id
        )
    }
}

impl DemoData {
    /// The space at `index`, or `None` past the end.
    pub fn space(&self, index: usize) -> Option<SpaceInfo> {
        if index >= self.spaces {
            return None;
        }
        let personal = index % 7 == 3;
        let archived = index % 11 == 5;
        let (key, name) = if personal {
            let person = PEOPLE[index % PEOPLE.len()];
            (
                format!("~{}{index}", person.to_ascii_lowercase()),
                format!("{person} {index:04}"),
            )
        } else {
            let topic = TOPICS[index % TOPICS.len()];
            let letters: String = topic
                .chars()
                .filter(|c| c.is_ascii_alphabetic())
                .take(2)
                .collect();
            (
                format!("{}{index}", letters.to_ascii_uppercase()),
                format!("{topic} {index:04}"),
            )
        };
        Some(SpaceInfo {
            index,
            id: FIRST_SPACE_ID + index as u64 * SPACE_ID_STRIDE,
            key,
            name,
            personal,
            archived,
        })
    }

    /// The space with v2 id `id`.
    pub(crate) fn space_by_id(&self, id: &str) -> Option<SpaceInfo> {
        let id: u64 = id.parse().ok()?;
        let offset = id.checked_sub(FIRST_SPACE_ID)?;
        if offset % SPACE_ID_STRIDE != 0 {
            return None;
        }
        self.space(usize::try_from(offset / SPACE_ID_STRIDE).ok()?)
    }

    /// The space with key `key` (keys end in their index, so no search).
    pub(crate) fn space_by_key(&self, key: &str) -> Option<SpaceInfo> {
        let digits = key.trim_start_matches(|c: char| !c.is_ascii_digit());
        let index: usize = digits.parse().ok()?;
        self.space(index).filter(|s| s.key == key)
    }

    /// The id of page `position` of space `space_index`.
    pub fn page_id(&self, space_index: usize, position: usize) -> u64 {
        FIRST_PAGE_ID + (space_index * self.pages_per_space + position) as u64
    }

    /// Page `position` of space `space_index`, or `None` past the end.
    pub fn page(&self, space_index: usize, position: usize) -> Option<PageInfo> {
        if space_index >= self.spaces || position >= self.pages_per_space {
            return None;
        }
        // A shallow tree: the homepage is the root, every other page hangs
        // under an earlier one, four children per parent.
        let parent_id = (position > 0).then(|| self.page_id(space_index, (position - 1) / 4));
        let title = if position == 0 {
            "Home".to_string()
        } else {
            format!(
                "{} {position:03}",
                PAGE_TOPICS[position % PAGE_TOPICS.len()]
            )
        };
        Some(PageInfo {
            id: self.page_id(space_index, position),
            space_index,
            position,
            title,
            parent_id,
            version: 1 + (position % 5) as u32,
        })
    }

    /// The page with id `id`.
    pub(crate) fn page_by_id(&self, id: &str) -> Option<PageInfo> {
        if self.pages_per_space == 0 {
            return None;
        }
        let id: u64 = id.parse().ok()?;
        let offset = usize::try_from(id.checked_sub(FIRST_PAGE_ID)?).ok()?;
        self.page(offset / self.pages_per_space, offset % self.pages_per_space)
    }

    /// Ancestors of a page, root first.
    pub(crate) fn ancestors(&self, page: &PageInfo) -> Vec<PageInfo> {
        let mut chain = Vec::new();
        let mut position = page.position;
        while position > 0 {
            position = (position - 1) / 4;
            if let Some(p) = self.page(page.space_index, position) {
                chain.push(p);
            }
        }
        chain.reverse();
        chain
    }
}

/// `YYYY-MM-DDTHH:mm:ss.sssZ`, the format both APIs document.
fn iso_millis(unix: i64) -> String {
    let format =
        format_description!("[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]Z");
    OffsetDateTime::from_unix_timestamp(unix)
        .ok()
        .and_then(|t| t.format(&format).ok())
        // Generated timestamps are always in range; the fallback only
        // exists so a formatting bug cannot panic the server.
        .unwrap_or_else(|| "2021-01-01T00:00:00.000Z".to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_unique_and_resolve_back_to_their_space() {
        let data = DemoData {
            spaces: 2000,
            pages_per_space: 3,
        };
        let mut keys = std::collections::HashSet::new();
        for i in 0..data.spaces {
            let s = data.space(i).unwrap();
            assert!(keys.insert(s.key.clone()), "duplicate key {}", s.key);
            assert_eq!(data.space_by_key(&s.key).unwrap().index, i);
            assert_eq!(data.space_by_id(&s.id.to_string()).unwrap().index, i);
        }
        assert!(data.space_by_key("AN99999").is_none());
        assert!(data.space_by_id("131073").is_none());
    }

    #[test]
    fn names_mix_personal_global_and_archived() {
        let data = DemoData::default();
        let spaces: Vec<_> = (0..data.spaces).filter_map(|i| data.space(i)).collect();
        assert_eq!(spaces[0].name, "Analytics 0000");
        assert_eq!(spaces[0].key, "AN0");
        assert!(spaces.iter().any(|s| s.personal));
        assert!(spaces.iter().any(|s| !s.personal));
        assert!(spaces.iter().any(|s| s.archived));
        assert_eq!(spaces[0].created_at(), "2021-01-01T00:00:00.000Z");
    }

    #[test]
    fn pages_round_trip_and_form_a_tree() {
        let data = DemoData::default();
        let page = data.page(4, 13).unwrap();
        assert_eq!(data.page_by_id(&page.id.to_string()), Some(page.clone()));
        let chain = data.ancestors(&page);
        assert_eq!(chain.first().unwrap().position, 0);
        assert_eq!(chain.last().unwrap().id, page.parent_id.unwrap());
        assert!(data.page(4, 30).is_none());
    }
}
