"""Joining the tournament from a browser: sign up, sign in, and the account page.

The account page lists the participant's models (with their stakes and this
round's submission), API keys, wallet and ledger entries, with forms to create
a model, create or revoke a key, upload predictions and set a stake. Handlers
only translate: the rules are the domain's (``crowdalpha.tournament``), the same
calls as the API's, and a refused form comes back with the domain error's own
message and the API's status code.

Each request uses one database session and commits once on success; a refused
form rolls everything back. A form's POST takes SQLite's write lock at the start,
except the upload's: it checks and stores the file first (``submissions.submit``
with ``begin_writing``), as the API's ``create_submission`` does. Every POST
carries the session's anti-forgery token (403 without it). Successful forms
redirect (303) to the account page, which shows what happened, except a new
API key: its secret is shown once, in the response to the form, and stored
nowhere.

Money only comes from the operator (``crowdalpha admin deposit``), and from the
optional sign-up grant (the server's ``signup_grant`` setting,
``CROWDALPHA_SIGNUP_GRANT``, default 0), which ``accounts.sign_up`` deposits into
every account created here, in the same transaction as the account.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from decimal import Decimal
from pathlib import PurePosixPath
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, File, Form, Request, UploadFile
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.routing import APIRoute
from sqlalchemy import select
from sqlalchemy.orm import Session

from crowdalpha.errors import CrowdalphaError
from crowdalpha.server.context import ReadsFirstSession, WriteSession, begin_writing, get_services
from crowdalpha.server.errors import RateLimitedError, status_code
from crowdalpha.server.ratelimit import RateLimiter
from crowdalpha.tournament import accounts, keys, ledger, rounds, stakes, submissions
from crowdalpha.tournament import models as models_mod
from crowdalpha.tournament.errors import InvalidSubmissionFileError, InvalidValueError
from crowdalpha.tournament.ledger import ZERO, format_amount
from crowdalpha.tournament.tables import (
    Account,
    ApiKey,
    LedgerKind,
    Model,
    PayoutBasis,
    ReleaseStatus,
    Submission,
)
from crowdalpha.tournament.views.models import LatestScore, latest_score
from crowdalpha.web.rendering import csrf_ok, render, templates

#: Ledger entries shown on the account page, newest first.
JOURNAL_ROWS = 100
#: Scopes a participant can give a key from the account page.
KEY_SCOPES = ("read", "upload", "stake")
KEY_LABEL_MAX = 100

_FORBIDDEN = templates.env.from_string(
    """{% extends "base.html" %}{% block title %}Refused{% endblock %}
{% block content %}<h1>Refused</h1>
<p class="error" id="error">{{ message }}</p>
<p><a href="{{ back }}">Back</a></p>{% endblock %}"""
)


# --- the plumbing: sessions, sign-in, anti-forgery -------------------------------


class _SignInNeeded(Exception):
    def __init__(self, next_path: str) -> None:
        self.next_path = next_path


class _Refused(Exception):
    """A request the page cannot serve at all (forged or malformed form): an error page."""

    def __init__(self, status: int, message: str) -> None:
        self.status = status
        self.message = message


class _PageRoute(APIRoute):
    """Turns the page plumbing's exceptions into pages: a redirect to the sign-in form,
    a 403 page for a form without this session's token, a 400 page for a malformed form."""

    def get_route_handler(self) -> Callable[[Request], Awaitable[Response]]:
        handle = super().get_route_handler()

        async def page(request: Request) -> Response:
            try:
                return await handle(request)
            except _SignInNeeded as need:
                return RedirectResponse(f"/login?{urlencode({'next': need.next_path})}", 303)
            except _Refused as refused:
                return _refused_page(request, refused.status, refused.message)
            except RequestValidationError as invalid:
                fields = sorted({str(e["loc"][-1]) for e in invalid.errors() if e.get("loc")})
                return _refused_page(
                    request, 400, f"invalid_form: the form was incomplete or malformed "
                    f"(fields: {', '.join(fields) or 'none'}); reload the page and try again"
                )

        return page


router = APIRouter(include_in_schema=False, route_class=_PageRoute)


def _refused_page(request: Request, status: int, message: str) -> HTMLResponse:
    back = "/account" if request.session.get("account") else "/"
    return render(request, _FORBIDDEN, status, message=message, back=back)  # type: ignore[arg-type]


DB = WriteSession


def _signed_in(request: Request, session: DB) -> Account:
    """The signed-in account; otherwise off to the sign-in form (then back here)."""
    name = request.session.get("account")
    account = None
    if isinstance(name, str):
        account = session.scalars(select(Account).where(Account.name == name)).one_or_none()
    if account is None:
        request.session.pop("account", None)
        if request.method == "GET":
            target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        else:  # a form's address cannot be opened with GET: come back to the account page
            target = "/account"
        raise _SignInNeeded(target)
    return account


def _check_csrf(request: Request, csrf: Annotated[str | None, Form()] = None) -> None:
    if not csrf_ok(request, csrf):
        raise _Refused(
            403, "forbidden: this form has no valid anti-forgery token (it expired, or it was "
            "sent from another site); reload the page and send it again",
        )


def _signed_in_form(
    request: Request, account: Annotated[Account, Depends(_signed_in)],
    csrf: Annotated[str | None, Form()] = None,
) -> Account:
    """The signed-in account sending a form of this session (sign-in checked first)."""
    _check_csrf(request, csrf)
    return account


def _signed_in_form_reading_first(
    request: Request, session: ReadsFirstSession, csrf: Annotated[str | None, Form()] = None,
) -> Account:
    """``FormAccount`` on the request's ``ReadsFirstSession``: for a form that checks and
    stores a file before it writes, holding no write lock meanwhile."""
    account = _signed_in(request, session)
    _check_csrf(request, csrf)
    return account


SignedIn = Annotated[Account, Depends(_signed_in)]
FormAccount = Annotated[Account, Depends(_signed_in_form)]
UploadAccount = Annotated[Account, Depends(_signed_in_form_reading_first)]
CHECK_CSRF = [Depends(_check_csrf)]


def _safe_next(target: str | None) -> str:
    """Where to go after signing in: a path on this site only (never another host)."""
    if (target and target.startswith("/") and not target.startswith("//") and "\\" not in target
            and target.isprintable() and " " not in target):  # browsers drop tabs: "/\t/x" is "//x"
        return target
    return "/account"


def _flash(request: Request, message: str) -> None:
    request.session["flash"] = message


def _sign_in(request: Request, name: str) -> None:
    """Start a fresh browser session as ``name`` (a new anti-forgery token comes with it)."""
    request.session.clear()
    request.session["account"] = name


def _limit_sign_in(request: Request) -> None:
    """Refuse more than the ``sign_in_attempts_per_minute`` setting's sign-ins or sign-ups
    per address (each costs a scrypt run)."""
    limiter: RateLimiter = request.app.state.sign_in_limiter
    who = request.client.host if request.client else "unknown"
    wait = limiter.take(f"web-sign-in:{who}")
    if wait > 0:
        raise RateLimitedError(f"address {who}", limiter.limit_per_minute, wait)


# --- sign up, sign in, sign out ----------------------------------------------------


@router.get("/signup")
def signup_form(request: Request) -> Response:
    if request.session.get("account"):
        return RedirectResponse("/account", 303)
    return render(request, "signup.html", grant=_grant_text(request))


def _grant_text(request: Request) -> str | None:
    """The sign-up grant as pages show it; None when there is none."""
    grant = get_services(request).settings.signup_grant
    return format_amount(grant) if grant > 0 else None


@router.post("/signup", dependencies=CHECK_CSRF)
def signup(
    request: Request, session: DB,
    name: Annotated[str, Form()] = "",
    password: Annotated[str, Form()] = "",
    password_again: Annotated[str, Form()] = "",
) -> Response:
    services = get_services(request)
    grant = services.settings.signup_grant
    name = name.strip()
    try:
        _limit_sign_in(request)
        accounts.sign_up(session, name, password, password_again, grant=grant, clock=services.clock)
        session.commit()
    except (CrowdalphaError, RateLimitedError) as error:
        session.rollback()
        return render(request, "signup.html", status_code(error), error=str(error), name=name,
                      grant=_grant_text(request))
    _sign_in(request, name)
    _flash(request, f"welcome, {name}: your account is ready"
           + (f", with a sign-up grant of {format_amount(grant)}" if grant > 0 else ""))
    return RedirectResponse("/account", 303)


@router.get("/login")
def login_form(request: Request, next: str | None = None) -> Response:
    if request.session.get("account"):
        return RedirectResponse(_safe_next(next), 303)
    return render(request, "login.html", next=_safe_next(next))


@router.post("/login", dependencies=CHECK_CSRF)
def login(
    request: Request,
    name: Annotated[str, Form()] = "",
    password: Annotated[str, Form()] = "",
    next: Annotated[str, Form()] = "/account",
) -> Response:
    name = name.strip()
    try:
        _limit_sign_in(request)
        with get_services(request).factory() as session:  # reads only: no write lock
            account = accounts.check_password(session, name, password)
    except (CrowdalphaError, RateLimitedError) as error:
        return render(request, "login.html", status_code(error), error=str(error), name=name,
                      next=_safe_next(next))
    _sign_in(request, account.name)
    return RedirectResponse(_safe_next(next), 303)


@router.post("/logout", dependencies=CHECK_CSRF)
def logout(request: Request) -> Response:
    request.session.clear()
    return RedirectResponse("/", 303)


# --- the account page --------------------------------------------------------------


@dataclass(frozen=True)
class _ModelRow:
    """What the account page shows of one model."""

    model: Model
    stake: Decimal
    pending: Decimal
    submission: Submission | None  # its counted submission in the open round
    score: LatestScore | None


@dataclass(frozen=True)
class _EntryRow:
    """One ledger entry of the account, with what it did to the wallet."""

    created_at: Any
    kind: str
    model: str | None
    round_number: int | None
    amount: Decimal
    wallet_change: Decimal
    memo: str | None


def _account_page(
    request: Request,
    session: Session,
    account: Account,
    *,
    status: int = 200,
    error: BaseException | None = None,
    error_for: str | None = None,
    new_key: keys.NewApiKey | None = None,
    values: dict[str, Any] | None = None,
) -> HTMLResponse:
    """The account page; ``error`` (a refused form) is shown next to the form ``error_for``."""
    services = get_services(request)
    now = services.clock.now()
    current = rounds.current_round(session)
    open_round = current if current is not None and now < current.closes_at else None
    owned = models_mod.list_models(session, account)
    rows = [
        _ModelRow(
            model=model,
            stake=stakes.stake_now(session, model),
            pending=stakes.pending_release_balance(session, model),
            submission=None if open_round is None
            else submissions.counted_submission(session, model, open_round),
            score=latest_score(session, model),
        )
        for model in owned
    ]
    wallet = ledger.wallet_of(session, account)
    names = {m.id: m.name for m in owned}
    if error_for is not None and error_for.startswith("model:") and error_for[6:] not in names.values():
        error_for = None  # not one of this account's models: show the error at the top
    entries = [
        _EntryRow(
            created_at=entry.created_at,
            kind=str(entry.kind),
            model=names.get(entry.model_id) if entry.model_id is not None else None,
            round_number=entry.round_number,
            amount=entry.amount,
            wallet_change=sum(
                (line.amount for line in entry.lines if line.ledger_account_id == wallet.id), ZERO
            ),
            memo=entry.memo,
        )
        for entry in ledger.journal(session, account=account, limit=JOURNAL_ROWS)
    ]
    api_keys: list[ApiKey] = keys.list_api_keys(session, account)
    response = render(
        request, "account.html", status,
        account=account,
        models=rows,
        max_models=models_mod.DEFAULT_MAX_MODELS,
        payout_bases=[b.value for b in PayoutBasis],
        current_round=current,
        open_round=open_round,
        api_keys=api_keys,
        key_scopes=KEY_SCOPES,
        new_key=new_key,
        balance=ledger.wallet_balance(session, account),
        entries=entries,
        wallet_kind=LedgerKind.WALLET.value,
        grant=_grant_text(request),
        max_upload_bytes=services.settings.max_upload_bytes,
        flash=request.session.pop("flash", None),
        error=None if error is None else str(error),
        error_for=error_for,
        values=values or {},
        fmt=format_amount,
    )
    if new_key is not None:  # the secret must not linger in a cache
        response.headers["Cache-Control"] = "no-store"
    return response


def _refused_form(
    request: Request, session: Session, account: Account, error: BaseException, *,
    error_for: str, values: dict[str, Any] | None = None,
) -> HTMLResponse:
    """Undo everything the form did and show the account page with the domain's message."""
    session.rollback()
    return _account_page(request, session, account, status=status_code(error), error=error,
                         error_for=error_for, values=values)


@router.get("/account")
def account_page(request: Request, session: DB, account: SignedIn) -> Response:
    return _account_page(request, session, account)


@router.post("/account/models")
def create_model(
    request: Request, session: DB, account: FormAccount,
    name: Annotated[str, Form()] = "",
    payout_basis: Annotated[str, Form()] = PayoutBasis.CORR.value,
) -> Response:
    name = name.strip()
    try:
        model = models_mod.create_model(
            session, account, name, clock=get_services(request).clock, payout_basis=payout_basis
        )
        session.commit()
    except CrowdalphaError as error:
        return _refused_form(request, session, account, error, error_for="models",
                             values={"model_name": name, "payout_basis": payout_basis})
    _flash(request, f"model '{model.name}' created, paid on {model.payout_basis}")
    return RedirectResponse(f"/account#model-{model.name}", 303)


@router.post("/account/keys")
def create_key(
    request: Request, session: DB, account: FormAccount,
    scopes: Annotated[list[str] | None, Form()] = None,
    label: Annotated[str, Form()] = "",
) -> Response:
    label = label.strip()
    try:
        if len(label) > KEY_LABEL_MAX:
            raise InvalidValueError(
                f"key label is {len(label)} characters long, at most {KEY_LABEL_MAX} are allowed"
            )
        new_key = keys.create_api_key(
            session, account, clock=get_services(request).clock, scopes=scopes or [],
            label=label or None,
        )
        session.commit()
    except CrowdalphaError as error:
        return _refused_form(request, session, account, error, error_for="keys",
                             values={"scopes": scopes or [], "label": label})
    return _account_page(request, session, account, new_key=new_key)


@router.post("/account/keys/{public_id}/revoke")
def revoke_key(request: Request, session: DB, account: FormAccount, public_id: str) -> Response:
    try:
        key = keys.revoke_api_key(session, public_id, clock=get_services(request).clock, by=account)
        session.commit()
    except CrowdalphaError as error:
        return _refused_form(request, session, account, error, error_for="keys")
    _flash(request, f"API key {key.public_id} revoked: it no longer works")
    return RedirectResponse("/account#keys", 303)


def _own_model(session: Session, account: Account, name: str) -> Model:
    model = models_mod.get_model(session, name)
    models_mod.require_owner(model, account)
    return model


@router.post("/models/{name}/submissions")
def upload_predictions(
    request: Request, session: ReadsFirstSession, account: UploadAccount, name: str,
    file: Annotated[UploadFile | None, File()] = None,
) -> Response:
    """Same rules and the same domain call as the API (``submissions.submit``): the owner
    only, the open round only, the server's size cap; the file is checked and stored
    before the write lock is taken (``begin_writing``)."""
    services = get_services(request)
    max_bytes = services.settings.max_upload_bytes
    try:
        model = _own_model(session, account, name)
        round = rounds.round_open_for_submissions(
            session, now=services.clock.now(), schedule=services.schedule
        )
        filename = PurePosixPath((file.filename or "") if file else "").name
        if file is None or not filename:
            raise InvalidSubmissionFileError(
                f"no file was chosen for model '{name}'; choose a .csv or .parquet file"
            )
        if file.size is not None and file.size > max_bytes:  # refuse before reading it
            raise InvalidSubmissionFileError(
                f"'{filename}' for round {round.number} is {file.size} bytes, the limit is {max_bytes}"
            )
        row = submissions.submit(
            session, services.store, model, round, file.file.read(max_bytes + 1), filename,
            by=account, clock=services.clock, live_ids=services.live_ids(round.number),
            live_fingerprint=services.live_fingerprint(round.number),
            max_bytes=max_bytes, begin_writing=lambda: begin_writing(session),
        )
        session.commit()
    except CrowdalphaError as error:
        return _refused_form(request, session, account, error, error_for=f"model:{name}")
    _flash(request, f"round {round.number}: submission {row.public_id} of model '{name}' "
           f"accepted, {row.rows} rows from '{filename}'")
    return RedirectResponse(f"/account#model-{name}", 303)


@router.post("/models/{name}/stake")
def set_stake(
    request: Request, session: DB, account: FormAccount, name: str,
    amount: Annotated[str, Form()] = "",
) -> Response:
    """Raise or lower the model's stake to ``amount`` (numerapi's ``stake_set``)."""
    clock = get_services(request).clock
    try:
        model = _own_model(session, account, name)
        done = stakes.set_stake(session, model, amount, by=account, clock=clock, memo="set stake")
        target, change = format_amount(done.target), format_amount(abs(done.change))
        if done.release is not None:
            back = ("went back to your wallet" if done.release.status == ReleaseStatus.RELEASED
                    else f"goes back to your wallet when round {done.release.release_after_round} "
                    "resolves")
            message = f"stake of '{name}' lowered to {target}: {change} {back}"
        elif done.entry is not None:
            message = (f"stake of '{name}' raised to {target}: {change} moved from your wallet; "
                       "it counts from the next round to close")
        else:
            message = f"stake of '{name}' is already {target}"
        session.commit()
    except CrowdalphaError as error:
        return _refused_form(request, session, account, error, error_for=f"model:{name}",
                             values={f"stake:{name}": amount})
    _flash(request, message)
    return RedirectResponse(f"/account#model-{name}", 303)


__all__ = ["DB", "FormAccount", "SignedIn", "router"]
