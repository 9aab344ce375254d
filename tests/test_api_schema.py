"""The OpenAPI schema at /api/schema: served to API users, valid, and free of warnings."""

import json

from django.core.management import call_command
from drf_spectacular.drainage import reset_generator_stats
from drf_spectacular.validation import validate_schema

SEED_OPERATIONS = {
    ("/api/ping/{url}", "get"),
    ("/api/site/", "get"),
    ("/api/site/", "post"),
    ("/api/site/{site_id}/", "get"),
    ("/api/site/{site_id}/", "patch"),
    ("/api/site/{site_id}/", "delete"),
    ("/api/check/{site_id}/", "post"),
    ("/api/check-all/", "post"),
    ("/api/status/", "get"),
}
TEAMS_OPERATIONS = {
    ("/api/projects/", "get"),
    ("/api/projects/", "post"),
    ("/api/projects/{project_id}/", "get"),
    ("/api/projects/{project_id}/", "patch"),
    ("/api/projects/{project_id}/", "delete"),
    ("/api/projects/{project_id}/members/", "get"),
    ("/api/projects/{project_id}/members/", "post"),
    ("/api/projects/{project_id}/members/{user_id}/", "patch"),
    ("/api/projects/{project_id}/members/{user_id}/", "delete"),
    ("/api/projects/{project_id}/invitations/", "get"),
    ("/api/projects/{project_id}/invitations/{invitation_id}/", "delete"),
    ("/api/projects/{project_id}/audit/", "get"),
    ("/api/tokens/", "get"),
    ("/api/tokens/", "post"),
    ("/api/tokens/{token_id}/", "delete"),
}

MAINTENANCE_OPERATIONS = {
    ("/api/projects/{project_id}/maintenance/", "get"),
    ("/api/projects/{project_id}/maintenance/", "post"),
    ("/api/maintenance/{window_id}/", "get"),
    ("/api/maintenance/{window_id}/", "patch"),
    ("/api/maintenance/{window_id}/", "delete"),
}
CHANNEL_OPERATIONS = {
    ("/api/channels/", "get"),
    ("/api/channels/", "post"),
    ("/api/channels/{channel_id}/", "get"),
    ("/api/channels/{channel_id}/", "patch"),
    ("/api/channels/{channel_id}/", "delete"),
    ("/api/channels/{channel_id}/test/", "post"),
    ("/api/channel-kinds/", "get"),
}


LOCATION_OPERATIONS = {
    ("/api/locations/", "get"),
    ("/api/locations/", "post"),
    ("/api/locations/{name}/", "patch"),
    ("/api/locations/{name}/", "delete"),
}
ACK_OPERATIONS = {("/api/site/{site_id}/ack/", "post")}
INCIDENT_OPERATIONS = {
    ("/api/site/{site_id}/incidents/", "get"),
    ("/api/site/{site_id}/incidents/{transition_id}/notes/", "post"),
}
STATUS_PAGE_OPERATIONS = {
    ("/api/status-pages/", "get"),
    ("/api/status-pages/", "post"),
    ("/api/status-pages/{page_id}/", "get"),
    ("/api/status-pages/{page_id}/", "patch"),
    ("/api/status-pages/{page_id}/", "delete"),
    ("/api/status-pages/{page_id}/logo/", "put"),
    ("/api/status-pages/{page_id}/logo/", "delete"),
    ("/api/status-pages/{page_id}/incidents/", "get"),
    ("/api/status-pages/{page_id}/incidents/", "post"),
    ("/api/status-pages/{page_id}/incidents/{incident_id}/", "patch"),
    ("/api/status-pages/{page_id}/incidents/{incident_id}/", "delete"),
    ("/api/status-pages/{page_id}/incidents/{incident_id}/updates/", "post"),
}


def test_the_schema_endpoint_answers_valid_openapi_for_every_route(api_client):
    response = api_client.get("/api/schema")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/vnd.oai.openapi+json")
    schema = response.json()
    validate_schema(schema)  # raises on anything OpenAPI 3 does not allow
    operations = {(path, method) for path, item in schema["paths"].items() for method in item}
    assert operations == (
        SEED_OPERATIONS
        | TEAMS_OPERATIONS
        | MAINTENANCE_OPERATIONS
        | CHANNEL_OPERATIONS
        | ACK_OPERATIONS
        | INCIDENT_OPERATIONS
        | STATUS_PAGE_OPERATIONS
        | LOCATION_OPERATIONS
    )


def test_the_schema_describes_the_site_in_camel_case_with_a_nullable_error(api_client):
    components = api_client.get("/api/schema/").json()["components"]
    site = components["schemas"]["SiteOutput"]
    assert {"checkedAt", "nextCheckAt", "responseTimeMs", "statusCode", "up"} <= set(
        site["properties"]
    )
    assert site["properties"]["up"]["nullable"] is True
    assert site["properties"]["error"]["nullable"] is True
    assert {"tokenAuth", "cookieAuth"} <= set(components["securitySchemes"])


def test_the_schema_generates_without_a_single_warning(tmp_path):
    # What `manage.py spectacular --validate --fail-on-warn` checks in CI.
    reset_generator_stats()
    out = tmp_path / "schema.json"
    call_command(
        "spectacular",
        "--validate",
        "--fail-on-warn",
        "--format",
        "openapi-json",
        "--file",
        str(out),
    )
    assert "/api/status/" in json.loads(out.read_text())["paths"]
