"""Amplify's pluralisation of model names (`listTodos`, `syncCategories`).

Amplify uses the `pluralize` npm package; these rules give the same answers for the names
models usually have (regular, -y, -s/-x/-ch/-sh, -f/-fe, -o, -is, Latin and irregular nouns).
"""

from __future__ import annotations

import re

__all__ = ["pluralize"]

_IRREGULAR = {
    "person": "people", "child": "children", "man": "men", "woman": "women", "mouse": "mice",
    "goose": "geese", "foot": "feet", "tooth": "teeth", "ox": "oxen", "die": "dice",
    "criterion": "criteria", "phenomenon": "phenomena", "quiz": "quizzes",
}
_UNCOUNTABLE = frozenset(
    {
        "data", "equipment", "information", "rice", "money", "species", "series", "fish", "sheep",
        "news", "deer", "moose", "feedback", "metadata", "software", "hardware", "media",
        "traffic", "staff", "aircraft", "police", "music", "weather", "jeans", "settings",
    }
)
# Checked in order; the first match wins. Same outcomes as the `pluralize` package Amplify uses.
_RULES: tuple[tuple[str, str], ...] = (
    (r"(matr|cod|mur|sil|vert|ind|append)(?:ix|ex)$", r"\1ices"),
    (r"(alias|[^aou]us|t[lm]as|gas|ris)$", r"\1es"),
    (r"(ax|test)is$", r"\1es"),
    (r"([^aeiouy]|qu)y$", r"\1ies"),
    (r"(x|ch|ss|sh|zz)$", r"\1es"),
    (r"(?:([^f])fe|([lr])f)$", r"\1\2ves"),
    (r"(ar|ea|eo|oa|hoo)f$", r"\1ves"),
    (r"(buffal|tomat|potat|her|ech|vet)o$", r"\1oes"),
    (r"(?<!i)(?<!iu)sis$", "ses"),
    (r"(octop|vir|radi|nucle|fung|cact|stimul)us$", r"\1i"),
    (r"s$", "s"),
    (r"$", "s"),
)


def pluralize(name: str) -> str:
    """`Todo`→`Todos`, `Category`→`Categories`, `Address`→`Addresses`, `Person`→`People`.

    Only the last word of a CamelCase name is inflected (`OrderItem` → `OrderItems`).
    """
    words = re.findall(r"[A-Z]+(?![a-z])|[A-Z]?[a-z0-9]+|[0-9]+", name)
    last = words[-1] if words else name
    head = name[: len(name) - len(last)]
    low = last.lower()
    if low in _UNCOUNTABLE:
        plural = low
    elif low in _IRREGULAR:
        plural = _IRREGULAR[low]
    elif low in _IRREGULAR.values():
        plural = low
    else:
        plural = low
        for pattern, repl in _RULES:
            if re.search(pattern, low):
                plural = re.sub(pattern, repl, low, count=1)
                break
    if last.isupper() and len(last) > 1:
        plural = plural.upper()
    elif last[:1].isupper():
        plural = plural[:1].upper() + plural[1:]
    return head + plural
