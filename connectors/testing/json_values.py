"""Reading parsed JSON documents in tests."""


def json_leaves(document):
    """Every scalar value (string, number, bool, None) in a parsed JSON document, however deeply
    nested in objects and arrays, in document order."""
    if isinstance(document, dict):
        for value in document.values():
            yield from json_leaves(value)
    elif isinstance(document, list):
        for item in document:
            yield from json_leaves(item)
    else:
        yield document
