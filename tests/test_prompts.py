"""Every sentence lives in prompts/ as a named template with named placeholders. A template that uses
an unknown placeholder fails a test, never a user.

The call-site check reads bot/ as source (ast), so it sees every branch, not just the ones a scenario
happens to run: each `t(...)`, `reply(...)`, `say(...)` and `UserError(...)` whose key is a string
literal (or a conditional between literals, or a local variable only ever set to such literals) must
name an existing template and pass every placeholder that template uses.
"""

from __future__ import annotations

import ast
import logging
import re
import string
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

import prompts
from bot.features import REGISTRY
from bot.flows.checkin import ANSWERS
from bot.periods import WEEKDAYS
from storage.models import Cadence, CheckinStatus, EscalationKind, EscalationStatus, PairStatus

ROOT = Path(__file__).resolve().parent.parent
BOT = ROOT / "bot"
PROMPT_CALLS = frozenset({"t", "reply", "say", "UserError", "ScriptError"})
KEY_RE = re.compile(r"^[a-z][a-z0-9_]*(?:\.[a-z0-9_]+)+$")
# dispatch.run_command adds `usage` to every UserError a subcommand raises (parse_args passes it itself).
ADDED_FOR_ERRORS = frozenset({"usage"})

# Call sites whose key is neither a literal nor an f-string: the generic wrappers that pass a key and
# its params through. Anything else with a key chosen at run time must be added here on purpose.
KEY_PASS_THROUGH = {
    ("context.py", "t"),  # Runtime.t / Ctx.t -> prompts.say(key, lang, **params)
    ("context.py", "reply"),  # Ctx.reply -> self.t(key, **params)
    ("core.py", "said"),  # a UserError becomes rt.t(err.key, **err.params)
    ("console.py", "__init__"),  # ScriptError(key, **params) -> prompts.say(key, **params)
    ("signups.py", "explain"),  # a sign-up row's UserError -> prompts.say(err.key, **err.params)
}
# Calls passing **something the scan cannot resolve to names (a dict literal, or a module function that
# returns dict literals, is resolved). Listed here they are skipped, visibly; unlisted they fail.
UNCHECKED_STAR_CALLS: set[tuple[str, str]] = set()  # (file, key)


@dataclass
class CallSite:
    file: str
    line: int
    function: str
    keys: list[str] | None = None  # the possible keys, when known statically
    pattern: str | None = None  # an f-string key as a regular expression
    dynamic: str | None = None  # the source of any other key expression
    kwargs: set[str] = field(default_factory=set)
    unresolved_star: list[str] = field(default_factory=list)

    @property
    def where(self) -> str:
        return f"{self.file}:{self.line} ({self.function})"


def _call_name(func: ast.expr) -> str | None:
    if isinstance(func, ast.Attribute):
        return func.attr
    if isinstance(func, ast.Name):
        return func.id
    return None


def _literal_keys(node: ast.expr, bound: dict[str, list[str] | None]) -> list[str] | None:
    """The prompt keys an expression can evaluate to, if they are all literals; else None."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str) and KEY_RE.match(node.value):
        return [node.value]
    if isinstance(node, ast.IfExp):
        body, orelse = _literal_keys(node.body, bound), _literal_keys(node.orelse, bound)
        return body + orelse if body is not None and orelse is not None else None
    if isinstance(node, ast.Name) and node.id in bound:
        return bound[node.id]
    return None


def _fstring_pattern(node: ast.JoinedStr) -> str:
    parts = []
    for value in node.values:
        if isinstance(value, ast.Constant):
            parts.append(re.escape(str(value.value)))
        else:
            parts.append(r"[A-Za-z0-9_]+")
    return "^" + "".join(parts) + "$"


def _bound_keys(function: ast.AST) -> dict[str, list[str] | None]:
    """Local names assigned prompt keys (`key = "a.b" if x else "a.c"`): name -> every key it may hold,
    or None when the name is also assigned something else (then calls using it count as dynamic)."""
    keys: dict[str, list[str]] = {}
    other: set[str] = set()
    for node in ast.walk(function):
        if isinstance(node, ast.Assign):
            pairs = [(t, node.value) for t in node.targets]
        elif isinstance(node, ast.AnnAssign):
            pairs = [(node.target, node.value)]
        elif isinstance(node, ast.AugAssign):
            pairs = [(node.target, None)]
        else:
            continue
        for target, value in pairs:
            if not isinstance(target, ast.Name):
                continue
            found = _literal_keys(value, {}) if value is not None else None
            if found is None:
                other.add(target.id)
            else:
                keys.setdefault(target.id, []).extend(found)
    return {name: (None if name in other else found) for name, found in keys.items()}


def _dict_functions(tree: ast.Module) -> dict[str, set[str]]:
    """Module functions whose every return is a dict literal with string keys: name -> those keys."""
    out: dict[str, set[str]] = {}
    for node in tree.body:
        if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            continue
        returns = [n.value for n in ast.walk(node) if isinstance(n, ast.Return)]
        if returns and all(
            isinstance(r, ast.Dict) and all(isinstance(k, ast.Constant) and isinstance(k.value, str) for k in r.keys)
            for r in returns
        ):
            out[node.name] = {k.value for r in returns for k in r.keys}  # type: ignore[union-attr]
    return out


def scan(source: str, file: str) -> list[CallSite]:
    """Every prompt call in one module."""
    tree = ast.parse(source)
    dict_functions = _dict_functions(tree)
    sites: list[CallSite] = []

    def visit(node: ast.AST, function: str, bound: dict[str, list[str] | None]) -> None:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            function, bound = node.name, _bound_keys(node)
        if isinstance(node, ast.Call) and _call_name(node.func) in PROMPT_CALLS and node.args:
            sites.append(_site(node, file, function, bound, dict_functions))
        for child in ast.iter_child_nodes(node):
            visit(child, function, bound)

    visit(tree, "<module>", {})
    return sites


def _site(call: ast.Call, file: str, function: str, bound: dict[str, list[str] | None],
          dict_functions: dict[str, set[str]]) -> CallSite:
    site = CallSite(file, call.lineno, function)
    first = call.args[0]
    if isinstance(first, ast.JoinedStr):
        site.pattern = _fstring_pattern(first)
    elif (keys := _literal_keys(first, bound)) is not None:
        site.keys = keys
    else:
        site.dynamic = ast.unparse(first)
    for kw in call.keywords:
        if kw.arg is not None:
            site.kwargs.add(kw.arg)
        elif isinstance(kw.value, ast.Dict) and all(isinstance(k, ast.Constant) for k in kw.value.keys):
            site.kwargs |= {str(k.value) for k in kw.value.keys}  # type: ignore[union-attr]
        elif (isinstance(kw.value, ast.Call) and isinstance(kw.value.func, ast.Name)
              and kw.value.func.id in dict_functions):
            site.kwargs |= dict_functions[kw.value.func.id]
        else:
            site.unresolved_star.append(ast.unparse(kw.value))
    return site


def site_problems(site: CallSite, catalog: dict[str, Any]) -> list[str]:
    """What is wrong with one call site, as sentences naming it."""
    problems = []
    if site.pattern is not None:
        if not any(re.match(site.pattern, key) for key in catalog):
            problems.append(f"{site.where}: no template matches the f-string key {site.pattern}")
        return problems
    for key in site.keys or []:
        template = catalog.get(key)
        if not isinstance(template, str):
            problems.append(f"{site.where}: unknown prompt {key!r}")
            continue
        if site.unresolved_star:
            continue  # listed in UNCHECKED_STAR_CALLS, or reported by the test
        allowed = site.kwargs | (ADDED_FOR_ERRORS if key.startswith("error.") else frozenset())
        if missing := prompts.placeholders(template) - allowed:
            problems.append(f"{site.where}: {key!r} needs {sorted(missing)} but gets only {sorted(site.kwargs)}")
    return problems


@pytest.fixture(scope="module")
def sites() -> list[CallSite]:
    found = []
    for root in (BOT, BOT.parent / "adapters"):
        for path in sorted(root.rglob("*.py")):
            found += scan(path.read_text(encoding="utf-8"), str(path.relative_to(root.parent)))
    return found


# --- (a) the code's calls ------------------------------------------------------------------------


def test_the_scan_finds_the_calls(sites: list[CallSite]) -> None:
    # A scan that silently found nothing would pass everything.
    assert len([s for s in sites if s.keys]) > 100
    assert any(s.pattern for s in sites)


def test_every_literal_key_exists_and_gets_its_placeholders(sites: list[CallSite]) -> None:
    catalog = prompts.catalog("en")
    problems = [p for site in sites if site.keys for p in site_problems(site, catalog)]
    assert problems == []


def test_every_fstring_key_matches_a_template(sites: list[CallSite]) -> None:
    catalog = prompts.catalog("en")
    problems = [p for site in sites if site.pattern for p in site_problems(site, catalog)]
    assert problems == []


def test_the_core_speaks_from_prompts_en_only(sites: list[CallSite]) -> None:
    """bot/ knows no platform, so every sentence it says is in prompts/en.toml, none in an adapter's file."""
    core = own_templates("en")
    misplaced = [f"{s.where}: {key}" for s in sites if s.file.startswith("bot")
                 for key in s.keys or [] if key not in core]
    misplaced += [f"{s.where}: {s.pattern}" for s in sites if s.file.startswith("bot") and s.pattern
                  and not any(re.match(s.pattern, key) for key in core)]
    assert misplaced == []


def test_star_kwargs_are_resolved_or_listed(sites: list[CallSite]) -> None:
    # (The pass-through wrappers forward **params with a key they do not know; see KEY_PASS_THROUGH.)
    unresolved = {(s.file, key) for s in sites if s.unresolved_star and s.dynamic is None
                  for key in (s.keys or [s.pattern or "?"])}
    # Exactly the listed ones: a new unresolvable call fails, and a stale entry is noticed.
    assert unresolved == UNCHECKED_STAR_CALLS, sorted(unresolved)


def test_keys_chosen_at_run_time_only_in_pass_through_wrappers(sites: list[CallSite]) -> None:
    dynamic = {(Path(s.file).name, s.function) for s in sites if s.dynamic is not None}
    assert dynamic <= KEY_PASS_THROUGH, [s.where + ": " + str(s.dynamic) for s in sites if s.dynamic]


def test_conditional_keys_are_seen_by_the_scan(sites: list[CallSite]) -> None:
    """Keys chosen by `"a" if x else "b"`, directly or through a local variable, are all checked above;
    this list (found by grepping bot/ for such expressions) makes sure the scan really expands them."""
    conditional = {
        "error.no_programs_coordinator", "error.not_coordinator_any",  # access.coordinator_program
        "pairs.none_live", "pairs.none",  # coordinator.pairs
        "status.next_logged", "status.next_checkin",  # membership.status
        "people.none_unmatched", "people.none", "people.head_unmatched", "people.head",  # coordinator.people
        "profile.updated", "profile.show",  # membership.profile: key = ... if opts else ...
        "feedback.thanks", "feedback.thanks_low",  # feedback.rate: key = ...; then key = ...
    }
    catalog = prompts.catalog("en")
    assert {k for k in conditional if not isinstance(catalog.get(k), str)} == set()
    scanned = {key for s in sites if s.keys and len(s.keys) > 1 for key in s.keys}
    assert conditional <= scanned


def test_keys_built_from_values_exist_for_every_value() -> None:
    """The f-string keys, expanded over every value the code can put in them."""
    catalog = prompts.catalog("en")
    expected = [
        *(f"outcome.{s}" for s in CheckinStatus),
        *(f"checkin.thanks_{s}" for s in ANSWERS.values()),
        *(f"pair.status_{s}" for s in PairStatus),
        *(f"escalation.kind_{k}" for k in EscalationKind),
        *(f"escalation.status_{s}" for s in EscalationStatus),
        *(f"cadence.{c}" for c in Cadence),
        *(f"weekday.{d}" for d in WEEKDAYS),
    ]
    missing = [k for k in expected if not isinstance(catalog.get(k), str)]
    assert missing == []
    # None of these is given placeholders at its call sites.
    assert {k: prompts.placeholders(catalog[k]) for k in expected if prompts.placeholders(catalog[k])} == {}


def test_the_scan_catches_an_unknown_placeholder() -> None:
    """The checker itself: a template used without one of its placeholders, or an unknown key, is caught."""
    source = '''
def flow(ctx, key):
    ctx.reply("pair.created", id=1, a="bob")
    raise UserError("error.no_such_thing")
    choice = "pairs.none" if key else "pairs.nope"
    ctx.t(choice, program="x")
    ctx.t(f"outcome.{key}")
    ctx.t(f"nothing.{key}")
    ctx.t("program.created", **params)
'''
    sites = scan(source, "example.py")
    catalog = prompts.catalog("en")
    problems = "\n".join(p for s in sites for p in site_problems(s, catalog))
    assert "'pair.created' needs ['b']" in problems
    assert "unknown prompt 'error.no_such_thing'" in problems
    assert "unknown prompt 'pairs.nope'" in problems
    assert "no template matches the f-string key ^nothing\\." in problems
    assert "outcome" not in problems
    assert [s.unresolved_star for s in sites if s.unresolved_star] == [["params"]]


# --- (b) the language files ----------------------------------------------------------------------


def _flatten(table: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in table.items():
        if isinstance(value, dict):
            out.update(_flatten(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = value
    return out


def own_templates(lang: str) -> dict[str, Any]:
    """A language file's own entries, without the English fallback catalog() mixes in."""
    with open(Path(prompts.__file__).parent / f"{lang}.toml", "rb") as fh:
        return _flatten(tomllib.load(fh))


def template_problems(key: str, template: Any) -> list[str]:
    texts = template if isinstance(template, list) else [template]
    problems = []
    for text in texts:
        if not isinstance(text, str):
            problems.append(f"{key}: {text!r} is not text")
            continue
        try:
            fields = [name for _, name, _, _ in string.Formatter().parse(text) if name is not None]
        except ValueError as exc:
            problems.append(f"{key}: does not parse ({exc})")
            continue
        problems += [f"{key}: placeholder {{{name}}} is not a plain name" for name in fields if not name.isidentifier()]
    return problems


def language_problems(own: dict[str, Any], english: dict[str, Any]) -> list[str]:
    """Another language may only use keys English has, with the placeholders English uses."""
    problems = []
    for key, template in own.items():
        if key not in english:
            problems.append(f"{key}: not in English")
            continue
        if isinstance(template, str) != isinstance(english[key], str):
            problems.append(f"{key}: English has a {type(english[key]).__name__}")
            continue
        if isinstance(template, str) and (extra := prompts.placeholders(template) - prompts.placeholders(english[key])):
            problems.append(f"{key}: uses {sorted(extra)}, which English does not")
    return problems


@pytest.mark.parametrize("lang", prompts.languages())
def test_every_template_parses_with_named_placeholders(lang: str) -> None:
    own = own_templates(lang)
    assert own
    assert [p for key, template in own.items() for p in template_problems(key, template)] == []


@pytest.mark.parametrize("lang", prompts.languages())
def test_every_template_renders(lang: str, caplog: pytest.LogCaptureFixture) -> None:
    """Given every placeholder it names, each template renders without a logged error."""
    for key, template in prompts.catalog(lang).items():
        if isinstance(template, str):
            text = prompts.say(key, lang, **{name: "x" for name in prompts.placeholders(template)})
            assert isinstance(text, str) and text.strip(), key
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR] == []


def test_other_languages_use_only_english_placeholders() -> None:
    """Checks every translation there is (none ships yet; the test below shows the check bites)."""
    english = own_templates(prompts.DEFAULT_LANGUAGE)
    others = [lang for lang in prompts.languages() if lang != prompts.DEFAULT_LANGUAGE]
    assert {lang: language_problems(own_templates(lang), english) for lang in others} == {lang: [] for lang in others}


def test_the_language_check_catches_a_new_placeholder() -> None:
    english = own_templates(prompts.DEFAULT_LANGUAGE)
    german = {"pair.created": "Gepaart #{id}: {a} und {c}.", "pair.label": "#{id} {mentor} & {mentee}",
              "nope.missing": "x"}
    problems = language_problems(german, english)
    assert problems == ["pair.created: uses ['c'], which English does not", "nope.missing: not in English"]
    assert template_problems("x.y", "broken {brace") and template_problems("x.y", "positional {}")
    assert template_problems("x.y", "{a.b} and {0}") == ["x.y: placeholder {a.b} is not a plain name",
                                                          "x.y: placeholder {0} is not a plain name"]


# --- (c) a missing placeholder at run time ---------------------------------------------------------


def test_a_missing_placeholder_is_logged_not_raised(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.ERROR, logger="prompts"):
        text = prompts.say("pair.created", id=3, a="bob")
    assert text.startswith("Paired #3: bob and ")
    assert "{b}" not in text
    assert any(r.levelno == logging.ERROR and "{b}" in r.getMessage() for r in caplog.records)


def test_an_unknown_key_is_logged_not_raised(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.ERROR, logger="prompts"):
        text = prompts.say("no.such_prompt", who="bob")
    assert text == "no.such_prompt"
    assert any(r.levelno == logging.ERROR and "no.such_prompt" in r.getMessage() for r in caplog.records)


# --- (d) usage and help for every subcommand -------------------------------------------------------


@pytest.mark.parametrize("sub", REGISTRY.subcommands, ids=lambda sub: sub.key)
def test_every_subcommand_has_usage_and_help(sub: Any) -> None:
    catalog = prompts.catalog("en")
    for key in (f"usage.{sub.key}", f"help.{sub.key}"):
        assert isinstance(catalog.get(key), str) and catalog[key].strip(), key
        # dispatch renders both without parameters
        assert prompts.placeholders(catalog[key]) == set(), key
    assert catalog[f"usage.{sub.key}"].startswith(sub.name)
    # Each argument is described (Discord shows it beside the option), each group and named choice too.
    keys = [f"arg.{a.described_as}" for a in sub.arguments]
    keys += [f"{a.choice_prompts}.{c}" for a in sub.arguments if a.choice_prompts for c in a.choices]
    keys += [f"help.group_{sub.path[0]}"] if len(sub.path) > 1 else []
    keys += [f"arg.{a.also}_choice" for a in sub.args if a.also]
    assert [k for k in keys if not isinstance(catalog.get(k), str)] == []
