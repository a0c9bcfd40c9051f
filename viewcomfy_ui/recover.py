"""A node's class, recovered from what a flattened parameters file keeps of it. Pure.

ViewComfy's ``workflow_api_parameters.json`` names each node by its title
(``"_6-node-class_type-info": "CLIP Text Encode (Positive Prompt)"``), never by its class. The
title may be the class name (a node never renamed, exported without ``_meta``), its display
name, or anything the author typed; the node's saved inputs (names, literal values, links) say
the rest. Rules, in order:

1. a class (or display) name that is the title, when its declaration takes every saved input
   (some required ones may be missing: an older version);
2. else none when the title is shaped like a class name (``WanVideoDecode``) that no
   declaration has: a class these declarations lack, whose look-alikes would lend the form
   their ranges and choices;
3. else the class whose declaration takes every saved input with a value of its type, within
   its range, and has every required input saved: the fewest saved values outside its choices,
   then the fewest that look like another kind (an int for a FLOAT, a prompt for a one-line
   STRING, anything for an any-type input), then the fewest declared inputs left unsaved, then
   the most words shared with the title, then core before custom packs;
4. else the class the title names, though some saved inputs are new to it (a newer version);
5. else the class that takes most saved inputs (at least three, over twice those it lacks, all
   within its ranges);
6. else none fits: the form guesses from names and values, and says so.

Rules 3 and 5 take no custom-pack class on weak evidence: one or two inputs whose names many
classes take (``value``, ``text``, ``image``...) and a title that shares no word with it. A
custom node the declarations lack (comfy-pack's ``CPackInputInt``: ``value``, ``min``,
``max``) is then a node of unknown class, not a look-alike whose range refuses its value.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from weakref import WeakKeyDictionary

from .nodespecs import InputSpec, NodeSpec, NodeSpecs
from .workflow import is_link, is_number

MODEL_EXTENSIONS = (".safetensors", ".ckpt", ".pt", ".pth", ".bin", ".gguf", ".onnx", ".sft")
MOSTLY_MIN = 3  # inputs a class must take to be taken for a node it does not fully fit
GENERIC_MIN = 8  # classes that take an input name for it to tell little about the class
WEAK_MAX = 2  # saved inputs, all with generic names, that are weak evidence for a custom class
CHOICE_MAX = 256  # a longer string is data (a base64 image), not a choice or a file name
PROMPT_WORD = re.compile(r"prompt|text|caption|negative|positive", re.IGNORECASE)
CLASS_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]*[a-z][A-Z][A-Za-z0-9_]*")  # WanVideoDecode
WORDS = re.compile(r"[A-Z]?[a-z]+|[A-Z]+(?![a-z])|\d+")  # "CLIPTextEncode" -> CLIP Text Encode


@dataclass(frozen=True)
class Recovery:
    """The class found for one node (None when none fits) and the rule that found it."""

    class_type: str | None
    rule: str  # "class name", "display name", "unknown class", "inputs", "most inputs", "none fits"


@dataclass(frozen=True)
class _Fit:
    """How well one declaration takes a node's saved inputs (lower is better, in this order)."""

    wrong: int  # saved inputs it does not declare, or literals of another type
    missing: int  # required inputs not saved
    outside: int  # numbers outside the declared range (ComfyUI would refuse them)
    off_list: int  # literals outside a fixed choice list
    loose: int  # literals that fit but look like another kind (an int for a FLOAT...)
    unsaved: int  # declared inputs the node did not save
    taken: int  # saved inputs it declares, literals of their type

    @property
    def takes_all(self) -> bool:
        return not self.wrong and not self.missing and not self.outside

    @property
    def order(self) -> tuple[int, ...]:
        return (self.wrong + self.missing + self.outside, self.off_list, self.loose, self.unsaved)

    @property
    def mostly(self) -> bool:
        """Takes most of the inputs (an older or newer version of the class): at least three,
        more than twice as many as the inputs it lacks or does not declare, none out of range."""
        lacking = self.wrong + self.missing
        return not self.outside and self.taken >= MOSTLY_MIN and self.taken > 2 * lacking


@dataclass
class _Index:
    """Classes by input name and by title-like names, with the lookup level each comes from."""

    by_input: dict[str, list[str]]
    by_name: dict[str, list[str]]  # class name or display name -> classes
    level: dict[str, int]


_INDEXES: WeakKeyDictionary[NodeSpecs, _Index] = WeakKeyDictionary()


def recover_class(
    specs: NodeSpecs, title: str, inputs: Mapping[str, Any], ignored: frozenset[str] = frozenset()
) -> Recovery:
    """The class of a node titled `title` that saved `inputs` (`ignored`: frontend-only keys)."""
    saved = {name: value for name, value in inputs.items() if name not in ignored}
    if title in specs and not _fit(specs.get(title), saved, title).wrong:
        return Recovery(title, "class name")
    index = _index(specs)
    named = {c: _fit(specs.get(c), saved, title) for c in index.by_name.get(title, [])}
    best_named = min(named, key=lambda c: (named[c].order, c != title), default=None)
    if best_named is not None and not named[best_named].wrong:
        return Recovery(best_named, "class name" if best_named == title else "display name")
    if best_named is None and CLASS_NAME.fullmatch(title):
        return Recovery(None, "unknown class")
    declaring = Counter(c for name in saved for c in index.by_input.get(name, ()))
    complete = [c for c, n in declaring.items() if n == len(saved)]  # declares every input
    best = _best(specs, index, complete, saved, title)
    if best is not None and best[1].takes_all and not _weak(index, specs, best[0], saved, title):
        return Recovery(best[0], "inputs")
    if best_named is not None:  # a renamed or newer input: still the node its title names
        return Recovery(best_named, "class name" if best_named == title else "display name")
    most = [c for c, n in declaring.items() if n >= MOSTLY_MIN and n > 2 * (len(saved) - n)]
    best = _best(specs, index, most, saved, title)
    if best is not None and best[1].mostly and not _weak(index, specs, best[0], saved, title):
        return Recovery(best[0], "most inputs")
    return Recovery(None, "none fits")


def _weak(
    index: _Index, specs: NodeSpecs, class_type: str, saved: Mapping[str, Any], title: str
) -> bool:
    """Too little says the node is this custom-pack class: at most `WEAK_MAX` saved inputs, all
    with names at least `GENERIC_MIN` classes take, and a title sharing no word with it."""
    return (
        index.level[class_type] > 0
        and len(saved) <= WEAK_MAX
        and all(len(index.by_input.get(name, ())) >= GENERIC_MIN for name in saved)
        and not _shared_words(title, specs.get(class_type))
    )


def _best(
    specs: NodeSpecs, index: _Index, classes: list[str], saved: Mapping[str, Any], title: str
) -> tuple[str, _Fit] | None:
    """The class that fits best: by `_Fit.order`, then the most words shared with the title,
    then the first lookup level (core before custom packs), then by name."""
    fits = {class_type: _fit(specs.get(class_type), saved, title) for class_type in classes}
    if not fits:
        return None
    first = min(fit.order for fit in fits.values())
    best = min(
        (-_shared_words(title, specs.get(c)), index.level[c], c)
        for c, fit in fits.items()
        if fit.order == first
    )[-1]
    return best, fits[best]


def _fit(spec: NodeSpec | None, saved: Mapping[str, Any], title: str) -> _Fit:
    if spec is None:
        return _Fit(len(saved) or 1, 0, 0, 0, 0, 0, 0)
    wrong = off_list = loose = taken = outside = 0
    chosen = spec.chosen_inputs(saved)
    for name, value in saved.items():
        declared = spec.inputs.get(name, chosen.get(name))
        fits = _fits(declared, value) if declared is not None else False
        wrong += fits is False
        off_list += fits is None
        taken += bool(fits)
        if fits and not is_link(value) and value is not None:
            loose += _looks_otherwise(declared, value, f"{title} {name}")
            outside += _outside(declared, value)
    missing = len(spec.required - saved.keys())
    unsaved = len(spec.inputs.keys() - saved.keys())
    return _Fit(wrong, missing, outside, off_list, loose, unsaved, taken)


def _fits(spec: InputSpec, value: Any) -> bool | None:
    """Whether a saved value can be this input's: None for a value outside a fixed choice list."""
    if value is None or is_link(value) or spec.type == "*":
        return True  # a connection (also to a widget turned into a socket), or unset
    if spec.type == "COMBO":  # a choice, never data (several lines, a base64 image)
        if isinstance(value, str) and (len(value) >= CHOICE_MAX or "\n" in value):
            return False
        if spec.upload or spec.open_choices or not spec.choices:  # files that differ per server
            return isinstance(value, str) or not spec.choices
        if not isinstance(value, str | int | float):
            return False
        if isinstance(value, str) and value.lower().endswith(MODEL_EXTENSIONS):
            return True  # a model file: which ones a server has differs
        return True if value in spec.choices else None
    if spec.type == "INT":
        return is_number(value) and float(value).is_integer()
    if spec.type == "FLOAT":
        return is_number(value)
    if spec.type == "BOOLEAN":
        return isinstance(value, bool)
    if spec.type == "STRING":
        return isinstance(value, str)
    return False  # a literal where the node takes a connection (IMAGE, MODEL...)


def _outside(spec: InputSpec, value: Any) -> bool:
    """A number below the input's declared minimum or above its maximum (ComfyUI refuses it)."""
    if spec.type not in ("INT", "FLOAT") or not is_number(value):
        return False
    low, high = spec.options.get("min"), spec.options.get("max")
    return (is_number(low) and value < low) or (is_number(high) and value > high)


def _looks_otherwise(spec: InputSpec, value: Any, words: str) -> bool:
    """A value that fits but was more likely saved by another kind of input: a JSON int for a
    FLOAT and the reverse, anything for an input of any type, a prompt (several lines, or so
    named) for a one-line STRING and the reverse."""
    if spec.type == "FLOAT":
        return isinstance(value, int)
    if spec.type == "INT":
        return isinstance(value, float)
    if spec.type == "*":  # takes anything: a weaker fit than a declared type
        return True
    if spec.type == "STRING":
        prompt = "\n" in value or PROMPT_WORD.search(words) is not None
        return prompt != bool(spec.options.get("multiline"))
    return False


def _shared_words(title: str, spec: NodeSpec | None) -> int:
    if spec is None:
        return 0
    words = {w.lower() for w in WORDS.findall(title)}
    return len(words & {w.lower() for w in WORDS.findall(f"{spec.class_type} {spec.display_name}")})


def _index(specs: NodeSpecs) -> _Index:
    if specs not in _INDEXES:
        index = _Index(by_input={}, by_name={}, level={})
        for level, class_type in specs.class_types():
            if class_type in index.level:  # declared by an earlier level too: that one counts
                continue
            display_name, names, custom = specs.declared(class_type)
            index.level[class_type] = 2 * level + custom  # core, then packs, at each level
            for name in names:
                index.by_input.setdefault(name, []).append(class_type)
            for name in dict.fromkeys((class_type, display_name)):
                index.by_name.setdefault(name, []).append(class_type)
        _INDEXES[specs] = index
    return _INDEXES[specs]
