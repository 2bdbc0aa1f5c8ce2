"""Custom resolvers for the todo example.

A resolver gets the AppSync Lambda event: {"arguments", "identity", "source", "info", ...}.
"""


def hello(event):
    name = event["arguments"].get("name") or "world"
    return f"Hello, {name}!"
