def test_a_site_pointing_at_a_local_server_is_recorded_up(db, httpserver):
    from monitor.checking import check_sites
    from sites.services import site_create
    from tests.factories import alice_project

    httpserver.expect_request("/").respond_with_data("ok")
    site = site_create(project=alice_project(), url=httpserver.url_for("/"))
    [result] = check_sites([site.id])
    site.refresh_from_db()
    assert result.up and site.status == "up"
