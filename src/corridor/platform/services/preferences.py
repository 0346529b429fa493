"""A person's own preferences: the language of pages and messages (issue 15: the
switcher's choice is remembered per user once signed in, on every device)."""

from __future__ import annotations

import dataclasses

from corridor.platform.domain import identity as idn
from corridor.platform.domain.errors import Err
from corridor.platform.domain.identity import User
from corridor.platform.domain.principal import Principal
from corridor.platform.services.ports import Deps


def set_language(deps: Deps, who: Principal, language: str) -> None:
    if language not in idn.LANGUAGES:
        raise Err.INVALID_LANGUAGE.error(f"one of {', '.join(idn.LANGUAGES)}",
                      {"language": f"one of {', '.join(idn.LANGUAGES)}"})
    with deps.uow() as uow:
        user = uow.repo(User).get(who.user_id, for_update=True)
        assert user is not None  # an authenticated principal's user exists
        if user.language != language:
            uow.repo(User).update(dataclasses.replace(user, language=language,
                                                      updated_ms=deps.clock.now_ms()))
            uow.audit(actor_id=who.user_id, actor_kind=who.kind.value,
                      action="user.language", object_type="user", object_id=who.user_id,
                      before={"language": user.language}, after={"language": language},
                      ip=who.ip)
        uow.commit()
