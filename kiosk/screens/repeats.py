"""Where the questionnaire screens meet repeat groups: which instance a screen belongs to,
the order of the walk, and the points where an open-ended repeat asks 再添加一位？

Only read from the session's public state (its instances, relevance and views): the session
decides what an instance holds; this module decides what the resident is asked between
screens, as ODK Collect does — after the last instance of an open-ended repeat, and where
one with no instance would begin. Nothing here runs for a form without repeats.
"""

from __future__ import annotations

from dataclasses import dataclass

from kiosk.i18n import tr
from surveys.form import Form, Screen
from surveys.session import RepeatSession, address

Key = tuple[float, ...]
END: Key = (float("inf"),)


@dataclass(frozen=True)
class AddPoint:
    """After the last instance of an open-ended repeat (or where its first would be)."""

    key: Key
    repeat: str
    parent: tuple[int, ...]  # the instance of each enclosing repeat

    def place(self, form: Form) -> str:
        """The repeat's place for add_instance (``members``, ``visits[1].services``)."""
        return address(form, self.repeat, self.parent)


class RepeatLayout:
    """The form's repeats as the screens need them, worked out once per form."""

    def __init__(self, form: Form) -> None:
        self.form = form
        self.chains: list[tuple[str, ...]] = [self.chain_of(screen) for screen in form.screens]
        self.start: dict[str, int] = {}
        for screen, chain in zip(form.screens, self.chains, strict=True):
            for repeat in chain:
                self.start.setdefault(repeat, screen.index)

    def chain_of(self, screen: Screen) -> tuple[str, ...]:
        return tuple(self.form.repeat_chain[(screen.group or screen.items[0]).name])

    def key(self, screen_index: int, indices: tuple[int, ...]) -> Key:
        """A place in the walk as a sortable key: the walk visits each instance's screens
        in turn, so a screen sorts by its repeats' first screens and instance numbers."""
        parts: list[float] = []
        for repeat, number in zip(self.chains[screen_index], indices, strict=False):
            parts += [self.start[repeat], number]
        return (*parts, screen_index)

    def position_key(self, session: RepeatSession) -> Key:
        view = session.screen
        return END if view is None else self.key(view.index, view.instance)

    def add_points(self, session: RepeatSession) -> list[AddPoint]:
        """Every place where an open-ended repeat would ask 再添加一位？, in walk order."""
        points: list[AddPoint] = []
        for repeat, item in self.form.repeats.items():
            if repeat not in self.start or session.is_fixed(repeat):
                continue
            chain = self.form.repeat_chain[repeat]
            for parent in self._parents(session, chain[:-1], ()):
                if not self._open_here(session, item.parent, parent):
                    continue
                prefix: list[float] = []
                for outer, number in zip(chain[:-1], parent, strict=True):
                    prefix += [self.start[outer], number]
                count = session.instances(repeat, parent)
                points.append(AddPoint((*prefix, self.start[repeat], count), repeat, parent))
        return sorted(points, key=lambda point: point.key)

    def _parents(self, session: RepeatSession, chain: tuple[str, ...],
                 prefix: tuple[int, ...]) -> list[tuple[int, ...]]:
        if not chain:
            return [prefix]
        found: list[tuple[int, ...]] = []
        for number in range(session.instances(chain[0], prefix)):
            here = (*prefix, number)
            if session.slot_relevance.get((chain[0], here), True):
                found += self._parents(session, chain[1:], here)
        return found

    def _open_here(self, session: RepeatSession, owner: str | None,
                   parent: tuple[int, ...]) -> bool:
        """A repeat inside a group (or instance) that does not apply asks nothing."""
        if owner is None:
            return True
        depth = len(self.form.repeat_chain[owner])
        return session.slot_relevance.get((owner, parent[:depth]), True)

    def points_between(self, session: RepeatSession, before: Key, after: Key
                       ) -> list[AddPoint]:
        """The points a move forward passed, in the order the resident meets them."""
        return [point for point in self.add_points(session) if before < point.key < after]

    def walk(self, session: RepeatSession) -> list[tuple[Screen, tuple[int, ...]]]:
        """Every screen with the instance it is shown for, in the session's order."""
        out: list[tuple[Screen, tuple[int, ...]]] = []

        def visit(index: int, end: int, prefix: tuple[int, ...]) -> None:
            depth = len(prefix)
            while index < end:
                chain = self.chains[index]
                if len(chain) <= depth:
                    out.append((self.form.screens[index], prefix))
                    index += 1
                    continue
                repeat = chain[depth]
                stop = index
                while (stop < end and len(self.chains[stop]) > depth
                       and self.chains[stop][depth] == repeat):
                    stop += 1
                for number in range(session.instances(repeat, prefix)):
                    visit(index, stop, (*prefix, number))
                index = stop

        visit(0, len(self.form.screens), ())
        return out

    def open_repeat(self, session: RepeatSession, indices: tuple[int, ...],
                    screen_index: int) -> tuple[str, tuple[int, ...]] | None:
        """The innermost open-ended repeat a screen's instance belongs to, with that
        instance (what 删除这一位 removes); None on a screen of fixed repeats only."""
        chain = self.chains[screen_index]
        for depth in range(min(len(chain), len(indices)) - 1, -1, -1):
            if not session.is_fixed(chain[depth]):
                return chain[depth], indices[:depth + 1]
        return None

    def label(self, repeat: str, language: str) -> str:
        """The repeat's label (家庭成员) in the form's language ``language``."""
        return self.form.text(self.form.repeats[repeat].label, language) or repeat

    def instance_title(self, chain: tuple[str, ...], indices: tuple[int, ...],
                       language: str, kiosk_language: str) -> str:
        """第 2 位家庭成员 (Household member 2); nested: 第 1 位探访 › 第 2 位服务."""
        return " › ".join(
            tr("repeat.instance", kiosk_language, number=number + 1,
               label=self.form.text(self.form.repeats[repeat].label, language) or repeat)
            for repeat, number in zip(chain, indices, strict=False))


def instance_place(form: Form, repeat: str, indices: tuple[int, ...]) -> str:
    """members[2] for the second member (indices are 0-based)."""
    return address(form, repeat, indices)
