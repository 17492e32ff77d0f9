"""Certificates of volunteer service (志愿服务记录证明, SPEC §6): issued by operators, read by
anyone who holds the code, as JSON that proves itself offline and as a printable A4 page."""

from __future__ import annotations

import html
from datetime import date, datetime
from typing import Annotated, Any
from uuid import UUID

import segno
from fastapi import APIRouter, Body, Request
from fastapi.responses import HTMLResponse, Response
from starlette.concurrency import run_in_threadpool

from api.auth import ActorDep, LedgerDep
from api.routes import problems
from api.routes.audit import answer, audit_of
from api.schemas import CertificateIn, CertificateOut
from ledger.application import HourLedger
from ledger.certificate import Certificate, mask_name, read_certificate_code
from ledger.errors import NotFoundError
from ledger.messages import Thing
from projections.audit.log import AuditLog

router = APIRouter(tags=["certificates"])


def certificate_document(ledger: HourLedger, audit: AuditLog, certificate: Certificate, public: bool) -> dict[str, Any]:
    """A certificate with the proof of its issuing event in a signed checkpoint; the issued
    copy also carries that event's record (what the proof's leaf hashes), the public one masks
    the name and says whether a record it counts was reversed since."""
    position = ledger.position_of(certificate.id)
    if position is None:
        raise NotFoundError("thing_not_found", thing=Thing("certificate", certificate.code))
    proof = answer(lambda: audit.proof_in_checkpoint(position))
    zone = ledger.settings.zone
    document: dict[str, Any] = {
        "code": certificate.code,
        "volunteer_id": str(certificate.volunteer_id),
        "volunteer_name": mask_name(certificate.volunteer_name) if public else certificate.volunteer_name,
        "period_from": certificate.period_from,
        "period_to": certificate.period_to,
        "service_minutes": certificate.service_minutes,
        "record_count": certificate.record_count,
        "categories": list(certificate.categories),
        "organizations": [dict(o) for o in certificate.organizations],
        "star_level": certificate.star_level,
        "issued_at": certificate.created_on.astimezone(zone).isoformat(),
        "issued_by": certificate.posted_by,
        "position": position,
        "proof": proof,
    }
    if public:
        document["genuine"] = True
        document["reversed_since"] = bool(ledger.reversed_records(certificate))
    else:
        document["record"] = audit.record_at(position)
    return document


@router.post(
    "/v1/volunteers/{volunteer_id}/certificates", status_code=201, response_model=CertificateOut,
    response_model_exclude_unset=True, responses=problems(404), operation_id="issueCertificate",
)
def issue_certificate(
    request: Request,
    volunteer_id: UUID,
    actor: ActorDep,
    ledger: LedgerDep,
    body: Annotated[CertificateIn | None, Body()] = None,
) -> Any:
    """Issues a certificate of volunteer service (志愿服务记录证明) for a period of local days,
    with the inclusion proof of its issuing event in a signed checkpoint: the JSON proves itself
    offline with the log's verifier key."""
    wanted = body or CertificateIn()
    issued = ledger.issue_certificate(actor, volunteer_id, wanted.period_from, wanted.period_to)
    certificate = issued.aggregate
    assert isinstance(certificate, Certificate)
    return certificate_document(ledger, audit_of(request), certificate, public=False)


def find(ledger: HourLedger, code: str) -> Certificate:
    normal = read_certificate_code(code)
    certificate = ledger.find_certificate(normal) if normal else None
    if certificate is None:
        raise NotFoundError("no_certificate", code=code[:40])
    return certificate


@router.get(
    "/v1/certificates/{code}", response_model=CertificateOut, response_model_exclude_unset=True,
    responses=problems(404), operation_id="getCertificate",
)
def get_certificate(request: Request, code: str, ledger: LedgerDep) -> Any:
    """Public: anyone holding the code may check it; the name is masked."""
    return certificate_document(ledger, audit_of(request), find(ledger, code), public=True)


@router.get("/certificates/certificate.css", include_in_schema=False)
def certificate_style() -> Response:
    """The page's style, from the service itself: its CSP allows no inline style."""
    return Response(PAGE_STYLE, media_type="text/css", headers={"Cache-Control": "public, max-age=3600"})


@router.get("/certificates/{code}", response_class=HTMLResponse, include_in_schema=False)
async def certificate_page(request: Request, code: str) -> HTMLResponse:
    ledger: HourLedger = request.app.state.ledger
    try:
        certificate = await run_in_threadpool(find, ledger, code)
        document = await run_in_threadpool(certificate_document, ledger, audit_of(request), certificate, True)
    except NotFoundError:
        return HTMLResponse(NOT_FOUND_PAGE, status_code=404)
    address = str(request.url_for("certificate_page", code=certificate.code))
    return HTMLResponse(render_page(document, address))


def _hours(minutes: int) -> str:
    hours, rest = divmod(minutes, 60)
    return f"{hours} 小时 {rest} 分钟" if rest else f"{hours} 小时"


def _day(text: str) -> str:
    day = date.fromisoformat(text)
    return f"{day.year} 年 {day.month} 月 {day.day} 日"


def render_page(document: dict[str, Any], address: str) -> str:
    """The certificate as an A4 page in Chinese: what Art. 15 asks (service time, content,
    the recording organisations), its code, and a QR code of its public address."""
    e = html.escape
    qr = segno.make(address, error="m").svg_inline(scale=3, dark="#000", light="#fff")
    organizations = "".join(
        f"<tr><td>{e(o['name'])}</td><td>{e(_hours(o['service_minutes']))}</td></tr>" for o in document["organizations"]
    )
    issued = datetime.fromisoformat(document["issued_at"])
    stars = "★" * document["star_level"] or "—"
    warning = (
        '<p class="warning">注意：本证明所计入的部分服务记录已于开具后被冲正，请向开具单位核实。</p>'
        if document["reversed_since"] else ""
    )
    return f"""<!doctype html>
<html lang="zh-CN"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>志愿服务记录证明 {e(document["code"])}</title>
<link rel="stylesheet" href="/certificates/certificate.css"></head>
<body>
<p class="code">证明编号：{e(document["code"])}</p>
<h1>志愿服务记录证明</h1>
<p>兹证明志愿者 <strong>{e(document["volunteer_name"])}</strong> 于 {e(_day(document["period_from"]))} 至
{e(_day(document["period_to"]))} 期间，经记录的志愿服务共 <strong>{document["record_count"]}</strong> 次，
累计服务时间 <strong>{e(_hours(document["service_minutes"]))}</strong>，星级 {e(stars)}。</p>
<table><tr><th>服务内容</th><td>{e("、".join(document["categories"]) or "—")}</td></tr></table>
<table><tr><th>记录单位</th><th>服务时间</th></tr>{organizations}</table>
{warning}
<p>本证明依据《志愿服务记录与证明出具办法（试行）》出具，免费。</p>
<div class="foot">
<div class="small">开具时间：{issued.year} 年 {issued.month} 月 {issued.day} 日 {issued:%H:%M}<br>
开具人：{e(str(document["issued_by"].get("name", "")))}<br>
在线核验：{e(address)}<br>
账本位置 {document["position"]}，已纳入签名检查点（树大小 {document["proof"]["tree_size"]}）</div>
<div>{qr}</div>
</div>
</body></html>"""


PAGE_STYLE = """@page { size: A4; margin: 20mm; }
body { font-family: "Noto Serif CJK SC", "Songti SC", "SimSun", serif; max-width: 170mm; margin: 0 auto; color: #111; }
h1 { text-align: center; letter-spacing: .3em; font-size: 24pt; margin: 12mm 0 8mm; }
.code { text-align: right; font-family: monospace; }
table { width: 100%; border-collapse: collapse; margin: 4mm 0; }
td, th { border: 1px solid #444; padding: 2mm 3mm; text-align: left; }
.foot { display: flex; justify-content: space-between; align-items: flex-end; margin-top: 10mm; }
.warning { color: #a00; font-weight: bold; }
.small { font-size: 9pt; color: #444; word-break: break-all; }
"""

NOT_FOUND_PAGE = """<!doctype html><html lang="zh-CN"><head><meta charset="utf-8"><title>未找到证明</title></head>
<body><h1>未找到该证明</h1><p>请核对证明编号（12 位字母和数字）。</p></body></html>"""
