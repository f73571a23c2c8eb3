"""Lists every space of a Confluence Cloud site with a peer Python client.

Used by benches/compare; prints the number of spaces to stdout (the check
that each client really listed them all) and nothing else.

    python list_spaces.py atlassian URL USER TOKEN
    python list_spaces.py cme URL USER TOKEN      # cme's own client, paged
    python list_spaces.py cme-org URL USER TOKEN  # cme's own space listing

`atlassian` is how atlassian-python-api's users list spaces: its docs show
`get_all_spaces(start, limit)` returning one v1 `SpaceArray` page, so callers
loop on `start` until a page comes back without a `next` link (the library
has no public generator for spaces; `_get_paged` is private).

`cme` drives confluence-markdown-exporter the way its `orgs` command does:
credentials from its own config file (CME_CONFIG_PATH), its cached client
from `api_clients.get_confluence_instance` (which probes the site with
`get_all_spaces(limit=1)` first), and the call its `Organization` makes
(`expand=homepage`), paged with `start` like above because cme itself does
not page (see `cme-org`). cme also filters `type=global&status=current`;
that is left out here so every client lists the same 10,000 spaces.

`cme-org` is `Organization.from_url` as-is: ONE `get_all_spaces` call with
the library's default limit of 50, so it returns the first 50 spaces only.
"""

import json
import os
import sys
import tempfile

PAGE = 250  # the most Confluence Cloud returns per v1/v2 page


def page_through(fetch):
    """Calls fetch(start) until a page has no next link; returns the count."""
    start = 0
    total = 0
    while True:
        page = fetch(start)
        results = page.get("results", [])
        total += len(results)
        if not results or "next" not in page.get("_links", {}):
            return total
        start += len(results)


def with_atlassian(url, user, token):
    from atlassian import Confluence

    client = Confluence(url=url, username=user, password=token, cloud=True)
    return page_through(lambda start: client.get_all_spaces(start=start, limit=PAGE))


def cme_config(url, user, token):
    """Writes a throw-away cme config holding the demo credentials."""
    d = tempfile.mkdtemp(prefix="cme-bench-")
    path = os.path.join(d, "app_data.json")
    with open(path, "w", encoding="utf-8") as f:
        json.dump({"auth": {"confluence": {url.rstrip("/"): {"username": user, "api_token": token}}}}, f)
    os.environ["CME_CONFIG_PATH"] = path


def with_cme(url, user, token):
    cme_config(url, user, token)
    from confluence_markdown_exporter.api_clients import get_confluence_instance

    client = get_confluence_instance(url)
    return page_through(
        lambda start: client.get_all_spaces(
            start=start,
            limit=PAGE,
            expand="homepage",
        )
    )


def with_cme_org(url, user, token):
    cme_config(url, user, token)
    from confluence_markdown_exporter.confluence import Organization

    return len(Organization.from_url(url.rstrip("/")).spaces)


def main():
    mode, url, user, token = sys.argv[1:5]
    run = {"atlassian": with_atlassian, "cme": with_cme, "cme-org": with_cme_org}[mode]
    print(run(url, user, token))


if __name__ == "__main__":
    main()
