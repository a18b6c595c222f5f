"""Reading HTML forms the way a browser would, for tests that walk a customer through pages
(3-D Secure ACS pages, Pagoflex's auto-submitting forwarder)."""

from html.parser import HTMLParser
from urllib.parse import urljoin


class FormReader(HTMLParser):
    """The first form of a page: its action, method and fields."""

    def __init__(self):
        super().__init__()
        self.action, self.method, self.fields, self._in_form = None, "get", {}, False

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "form" and self.action is None:
            self.action, self.method, self._in_form = attrs.get("action", ""), attrs.get("method", "get"), True
        elif tag == "input" and self._in_form and attrs.get("name"):
            self.fields[attrs["name"]] = attrs.get("value", "")

    def handle_endtag(self, tag):
        if tag == "form":
            self._in_form = False


def read_form(response) -> tuple[str, dict]:
    """(absolute action URL, fields) of the first form in a ``requests`` response."""
    assert response.status_code == 200, response.text
    reader = FormReader()
    reader.feed(response.text)
    assert reader.action is not None, f"no form on {response.url}"
    return urljoin(response.url, reader.action), reader.fields
