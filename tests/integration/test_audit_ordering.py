"""An audit outage is never hidden (BRIEF invariant 2): a view whose entry cannot be written answers 503, not an
empty 204. The audit writer is killed with the fixtures of ``test_audit_fail_closed`` (where the tests of changes
and their entries committing together are)."""

from __future__ import annotations

from fastapi.testclient import TestClient

from plateledger.app import create_app
from plateledger.platform import Platform
from tests.integration.test_audit_fail_closed import audit_table_refusing
from tests.integration.test_web import BASE, alert_with_crop, sign_in
from tests.integration.web_kit import web_network


def test_alert_crop_answers_503_when_its_view_cannot_be_audited(platform: Platform) -> None:
    """The crop route turns a withheld image into 204; an audit outage must not become that empty answer."""
    network = web_network(platform)
    alert_id, _ = alert_with_crop(platform, network, "7CROP09")
    with TestClient(create_app(platform=platform), base_url=BASE, follow_redirects=False) as client:
        sign_in(client, network.user(network.palm, "investigator"))
        with audit_table_refusing(platform):
            down = client.get(f"/ui/alerts/{alert_id}/crop")
        assert down.status_code == 503, down.text
        assert down.headers["content-type"].startswith("text/html")
        assert client.get(f"/ui/alerts/{alert_id}/crop").status_code == 200  # and answers once the log is back
