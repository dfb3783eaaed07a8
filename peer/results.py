"""Outcomes of one suite run, per test, with a one-line cause per problem.

Counts are per test method: a test fails when its body or any of its
subtests fails, and errs when anything in it (setUp and tearDown included)
raises something other than an assertion. A test with both counts as an
error. Errors in setUpClass/tearDownClass are entries of their own.
"""

from __future__ import annotations

import json
import linecache
import traceback
import unittest
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, ExitStack
from dataclasses import asdict, dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any

ExcInfo = tuple[type[BaseException], BaseException, TracebackType]

OUTCOMES = ("passed", "failed", "errored", "skipped")


@dataclass
class Problem:
    kind: str  # "failure" or "error"
    cause: str  # the exception, one line
    where: str  # the innermost line of the test file that was running
    subtest: str = ""
    traceback: str = ""


@dataclass
class TestOutcome:
    test: str
    outcome: str = "passed"
    reason: str = ""  # why it was skipped
    problems: list[Problem] = field(default_factory=list)

    def settle(self) -> None:
        kinds = {problem.kind for problem in self.problems}
        if "error" in kinds:
            self.outcome = "errored"
        elif "failure" in kinds:
            self.outcome = "failed"


@dataclass
class SuiteRun:
    suite: str  # "django" or "storages"
    version: str  # of the distribution the tests come from
    mode: str
    description: str
    substitutions: dict[str, str] = field(default_factory=dict)
    tests: list[TestOutcome] = field(default_factory=list)

    @property
    def key(self) -> str:
        return f"{self.suite}-{self.version}-{self.mode}"

    def counts(self) -> Counter[str]:
        counts = Counter({outcome: 0 for outcome in OUTCOMES})
        counts.update(test.outcome for test in self.tests)
        return counts

    def write(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(asdict(self), indent=1))

    @classmethod
    def read(cls, path: Path) -> SuiteRun:
        raw: dict[str, Any] = json.loads(path.read_text())
        tests = [
            TestOutcome(
                **{**test, "problems": [Problem(**p) for p in test["problems"]]}
            )
            for test in raw.pop("tests")
        ]
        return cls(**raw, tests=tests)


def one_line_cause(error: BaseException, limit: int = 240) -> str:
    """``Type: first line of the message``, shortened."""
    line = traceback.format_exception_only(type(error), error)[-1].strip()
    first = line.splitlines()[0] if line else type(error).__name__
    return first if len(first) <= limit else first[: limit - 1] + "…"


def innermost_line(tb: TracebackType | None, test_files: tuple[str, ...]) -> str:
    """``file:line: source`` of the deepest frame in one of ``test_files``."""
    found = ""
    for frame, line in traceback.walk_tb(tb):
        filename = frame.f_code.co_filename
        if filename.endswith(test_files):
            source = linecache.getline(filename, line).strip()
            found = f"{Path(filename).name}:{line}: {source}"
    return found


PerTest = Callable[[unittest.TestCase], AbstractContextManager[Any]]


class CollectingResult(unittest.TestResult):
    """A unittest result that keeps a ``TestOutcome`` per test.

    ``around_each`` is entered before each test (before setUp) and left after
    it (after tearDown and cleanups): the harness gives every test its own
    bucket there. ``after_each`` may return a problem to add to the test.
    """

    def __init__(
        self,
        test_files: tuple[str, ...],
        around_each: PerTest | None = None,
        after_each: Callable[[unittest.TestCase], Problem | None] | None = None,
    ) -> None:
        super().__init__()
        self.test_files = test_files
        self.around_each = around_each
        self.after_each = after_each
        self.outcomes: dict[str, TestOutcome] = {}
        self._stack: ExitStack | None = None

    def outcome(self, test: Any) -> TestOutcome:
        test_id = test.id()
        if test_id not in self.outcomes:
            self.outcomes[test_id] = TestOutcome(test=test_id)
        return self.outcomes[test_id]

    def problem(self, kind: str, err: ExcInfo, subtest: str = "") -> Problem:
        _type, error, tb = err
        return Problem(
            kind=kind,
            cause=one_line_cause(error),
            where=innermost_line(tb, self.test_files),
            subtest=subtest,
            traceback="".join(traceback.format_exception(*err)),
        )

    def startTest(self, test: unittest.TestCase) -> None:
        super().startTest(test)
        self.outcome(test)
        self._stack = ExitStack()
        if self.around_each is not None:
            self._stack.enter_context(self.around_each(test))

    def stopTest(self, test: unittest.TestCase) -> None:
        if self.after_each is not None:
            problem = self.after_each(test)
            if problem is not None:
                self.outcome(test).problems.append(problem)
        if self._stack is not None:
            self._stack.close()
            self._stack = None
        self.outcome(test).settle()
        super().stopTest(test)

    def addError(self, test: Any, err: Any) -> None:
        super().addError(test, err)
        # Also class-level errors, whose "test" is an _ErrorHolder.
        outcome = self.outcome(test)
        outcome.problems.append(self.problem("error", err))
        outcome.settle()

    def addFailure(self, test: Any, err: Any) -> None:
        super().addFailure(test, err)
        self.outcome(test).problems.append(self.problem("failure", err))

    def addSubTest(self, test: Any, subtest: Any, err: Any) -> None:
        super().addSubTest(test, subtest, err)
        if err is None:
            return
        kind = "failure" if issubclass(err[0], test.failureException) else "error"
        self.outcome(test).problems.append(
            self.problem(kind, err, subtest=subtest._subDescription())
        )

    def addSkip(self, test: Any, reason: str) -> None:
        super().addSkip(test, reason)
        outcome = self.outcome(test)
        outcome.outcome = "skipped"
        outcome.reason = reason

    def addExpectedFailure(self, test: Any, err: Any) -> None:
        super().addExpectedFailure(test, err)

    def addUnexpectedSuccess(self, test: Any) -> None:
        super().addUnexpectedSuccess(test)
        self.outcome(test).problems.append(
            Problem(kind="failure", cause="unexpected success", where="")
        )

    def tests(self) -> list[TestOutcome]:
        return list(self.outcomes.values())


def iter_tests(suite: unittest.TestSuite) -> Iterator[unittest.TestCase]:
    for item in suite:
        if isinstance(item, unittest.TestSuite):
            yield from iter_tests(item)
        else:
            yield item
