"""RSS and Atom feeds of a status page: incidents, their updates, and scheduled maintenance.

Built with django.utils.feedgenerator (what django.contrib.syndication uses)
from the same data as the page (statuspages.render), so the feeds show no more
than it does. Not through syndication's Feed view: it asks request.get_host(),
which a custom domain outside ALLOWED_HOSTS would fail.
"""

from __future__ import annotations

from django.utils import feedgenerator

IMPACT_TEXT = {"none": "", "minor": " (minor impact)", "major": " (major impact)"}


def feed_bytes(data: dict, links: dict, origin: str, kind: str) -> bytes:
    page_url = origin + links["page"]
    kind_class = feedgenerator.Atom1Feed if kind == "atom" else feedgenerator.Rss201rev2Feed
    feed = kind_class(
        title=data["page"]["title"],
        link=page_url,
        description=data["page"]["description"] or f"Status of {data['page']['title']}",
        language="en",
        feed_url=origin + links[kind],
        feed_guid=page_url,
    )
    for item in _items(data, page_url):
        feed.add_item(**item)
    return feed.writeString("utf-8").encode()


def _items(data: dict, page_url: str) -> list[dict]:
    items = []
    for incident in [*data["incidents"], *data["pastIncidents"]]:
        items.extend(_incident_items(incident, page_url))
    for window in data["maintenance"]:
        link = f"{page_url}#maintenance-{window['id']}"
        when = f"{window['startsAt']:%Y-%m-%d %H:%M} to {window['endsAt']:%Y-%m-%d %H:%M} UTC"
        text = "\n\n".join(
            part
            for part in (
                f"Scheduled maintenance: {when}.",
                window["description"],
                "Affects: " + ", ".join(window["monitors"]),
            )
            if part
        )
        items.append(
            {
                "title": f"Scheduled maintenance: {window['title']}",
                "link": link,
                "description": text,
                "unique_id": f"{link}-{window['startsAt']:%Y%m%dT%H%M}",
                "pubdate": window["startsAt"],
                "updateddate": window["startsAt"],
            }
        )
    items.sort(key=lambda item: item["pubdate"], reverse=True)
    return items


def _incident_items(incident: dict, page_url: str) -> list[dict]:
    """One item per update (a reader sees each as news); one for an incident without any."""
    link = f"{page_url}#incident-{incident['id']}"
    label = "Announcement" if incident["kind"] == "announcement" else "Incident"
    affects = ", ".join(incident["monitors"])
    heading = f"{label}{IMPACT_TEXT.get(incident['impact'], '')}" + (
        f". Affects: {affects}" if affects else ""
    )
    if not incident["updates"]:
        return [
            {
                "title": incident["title"],
                "link": link,
                "description": heading,
                "unique_id": link,
                "pubdate": incident["createdAt"],
                "updateddate": incident["createdAt"],
            }
        ]
    return [
        {
            "title": f"{incident['title']}: {update['statusLabel']}",
            "link": link,
            "description": f"{update['message']}\n\n{heading}",
            "unique_id": f"{link}-update-{index + 1}",
            "pubdate": update["createdAt"],
            "updateddate": update["createdAt"],
        }
        for index, update in enumerate(incident["updates"])
    ]
