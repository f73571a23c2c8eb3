"""Walks a Confluence site with atlassian-python-api, the way a pipeline does.

Reads CONFLUENCE_BASE_URL, CONFLUENCE_USERNAME and CONFLUENCE_API_TOKEN (what
`confluence-tui exec --proxy` gives it), lists every space (paging on
`start` until a page has no `next` link, as the library's users do), the
pages of one space, and the storage body of one page, then prints one JSON
object: {"spaces": [keys], "space": key, "pages": [ids], "page": id,
"title": title, "body": storage value, "base_url": the URL it was given,
"handed": the names of the CONFLUENCE_* variables it was given}.

    python walk.py SPACE_KEY
"""

import json
import os
import sys

from atlassian import Confluence


def main():
    space_key = sys.argv[1]
    confluence = Confluence(
        url=os.environ["CONFLUENCE_BASE_URL"],
        username=os.environ["CONFLUENCE_USERNAME"],
        password=os.environ["CONFLUENCE_API_TOKEN"],
        cloud=os.environ.get("WALK_CLOUD") == "1",
    )
    keys = []
    start = 0
    while True:
        page = confluence.get_all_spaces(start=start, limit=100)
        keys.extend(s["key"] for s in page["results"])
        if "next" not in page.get("_links", {}):
            break
        start += len(page["results"])
    pages = []
    start = 0
    while True:
        batch = confluence.get_all_pages_from_space(space_key, start=start, limit=50)
        pages.extend(batch)
        if len(batch) < 50:
            break
        start += len(batch)
    first = pages[0]
    full = confluence.get_page_by_id(first["id"], expand="body.storage")
    print(
        json.dumps(
            {
                "spaces": keys,
                "space": space_key,
                "pages": [p["id"] for p in pages],
                "page": full["id"],
                "title": full["title"],
                "body": full["body"]["storage"]["value"],
                "base_url": os.environ["CONFLUENCE_BASE_URL"],
                "handed": sorted(k for k in os.environ if k.startswith("CONFLUENCE_")),
            }
        )
    )


if __name__ == "__main__":
    main()
