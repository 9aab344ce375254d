"""GET /api/projects/<id>/audit: the project's log, and its members' account events."""

from teams.audit import audit_record
from teams.models import AuditEvent
from teams.selectors import AUDIT_PAGE_SIZE


def audit(team, who="admin", query=""):
    return team.client(who).get(f"/api/projects/{team.project.pk}/audit{query}")


def test_site_changes_made_through_the_api_are_logged_newest_first(team):
    client = team.client("editor")
    site_url = f"/api/site/{team.site.pk}"
    client.patch(site_url, {"enabled": False}, format="json")
    client.patch(site_url, {"enabled": True}, format="json")
    client.patch(site_url, {"interval": 120}, format="json")
    client.delete(site_url)
    events = audit(team).json()["events"]
    actions = [e["action"] for e in events]
    assert actions[:4] == ["site.deleted", "site.changed", "site.resumed", "site.paused"]
    changed = events[1]
    assert changed["actor"] == "editor"
    assert changed["target"] == {"type": "site", "id": str(team.site.pk), "repr": team.site.name}
    assert changed["detail"] == {"interval": {"from": 60, "to": 120}}
    assert changed["address"] == "127.0.0.1"


def test_members_logins_are_shown_but_not_other_people_s(team):
    audit_record(action="login", actor=team.users["viewer"])
    audit_record(action="login.failed", actor_name="editor")
    audit_record(action="login", actor=team.users["outsider"])
    audit_record(action="login.failed", actor_name="outsider")
    seen = {(e["action"], e["actor"]) for e in audit(team).json()["events"]}
    assert {("login", "viewer"), ("login.failed", "editor")} <= seen
    assert not {a for a in seen if a[1] == "outsider"}


def test_another_project_s_events_are_never_shown(team):
    team.client("outsider").patch(
        f"/api/site/{team.outsider_site.pk}", {"name": "outsider rename"}, format="json"
    )
    # A member deleting a project of their own: that project is not this one's business.
    other = team.client("admin").post("/api/projects", {"name": "Admin's side"}, format="json")
    team.client("admin").delete(f"/api/projects/{other.json()['id']}")
    events = audit(team).json()["events"]
    assert not [e for e in events if "outsider" in str(e) or "Admin's side" in str(e)]


def test_the_log_is_paged_with_a_before_cursor(team):
    for n in range(AUDIT_PAGE_SIZE + 5):
        audit_record(action="site.changed", project=team.project, detail={"n": n})
    first = audit(team).json()
    assert len(first["events"]) == AUDIT_PAGE_SIZE
    second = audit(team, query=f"?before={first['nextBefore']}").json()
    assert second["nextBefore"] is None
    ids = [e["id"] for e in first["events"] + second["events"]]
    assert ids == sorted(ids, reverse=True)
    expected = AuditEvent.objects.filter(project=team.project).count()
    assert len(set(ids)) >= expected


def test_a_bad_cursor_is_refused_naming_it(team):
    for query in ("?before=x", "?before=-1", "?before=0"):
        response = audit(team, query=query)
        assert response.status_code == 400
        assert "before" in response.json()
