"""ANAF's e-Factura API client (activities/anaf_client.py) against the SPV stand-in served
over real HTTP (starter/devstack/spv.py), and the company's OAuth2 access to it
(activities/efactura_access.py)."""

from __future__ import annotations

import dataclasses
import io
import re
import xml.etree.ElementTree as ElementTree
import zipfile
from typing import Any

import asyncpg
import pytest

from activities.anaf_client import (
    AnafClient,
    AnafError,
    AnafNotConnected,
    AnafRefused,
    UploadState,
)
from activities.efactura_access import EfacturaAccess
from activities.efactura_rules import EXAMPLES_DIR
from db.store import default_company_id
from domain.efactura import CUSTOMIZATION_ID
from settings import Settings
from starter.devstack.spv import SpvStandIn
from tests.conftest import API_KEY, PUBLIC_URL, connect_to_spv, spv_settings

SELLER_CIF = "RO1234567890"  # the seller of ANAF's example invoice
ERROR_NS = "{mfp:anaf:dgti:spv:reqErrorMessage}"


def example(name: str = "eInvoice_ex.xml", *, current: bool = True) -> bytes:
    """ANAF's example document; `current` gives it today's CustomizationID (as published
    it carries CIUS-RO 1.0.0 and breaks BR-RO-001, and only that)."""
    xml = (EXAMPLES_DIR / name).read_bytes()
    if current:
        xml = re.sub(
            rb"(<cbc:CustomizationID>)[^<]*(</cbc:CustomizationID>)",
            rb"\g<1>" + CUSTOMIZATION_ID.encode() + rb"\g<2>",
            xml,
        )
    return xml


def client(spv: SpvStandIn) -> AnafClient:
    return AnafClient(spv.base_url, spv.issue_tokens()["access_token"])


def unzip(data: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


async def test_a_valid_invoice_is_ok_and_its_answer_holds_it_with_a_signature(
    spv: SpvStandIn,
) -> None:
    anaf = client(spv)
    xml = example()
    index = await anaf.upload(xml, cif=SELLER_CIF, standard="UBL")
    assert index.isdigit()
    status = await anaf.status(index)
    assert status.state is UploadState.OK and status.download_id
    files = unzip(await anaf.download(status.download_id))
    assert set(files) == {f"{index}.xml", f"semnatura_{index}.xml"}
    assert files[f"{index}.xml"] == xml
    signature = ElementTree.fromstring(files[f"semnatura_{index}.xml"])
    assert signature.tag == "{http://www.w3.org/2000/09/xmldsig#}Signature"
    assert spv.upload_count == 1


async def test_a_credit_note_goes_as_cn_and_a_broken_invoice_is_nok_with_its_rule_ids(
    spv: SpvStandIn,
) -> None:
    anaf = client(spv)
    note = await anaf.upload(
        example("creditNote_ex.xml"), cif="SE123451234501"[2:12], standard="CN"
    )
    assert (await anaf.status(note)).state is UploadState.OK

    index = await anaf.upload(example(current=False), cif=SELLER_CIF, standard="UBL")
    status = await anaf.status(index)
    assert status.state is UploadState.NOK and status.download_id
    files = unzip(await anaf.download(status.download_id))
    assert set(files) == {f"{index}.xml", f"semnatura_{index}.xml"}
    errors = ElementTree.fromstring(files[f"{index}.xml"])
    assert errors.tag == f"{ERROR_NS}header"
    assert errors.get("Index_incarcare") == index
    assert errors.get("Cif_emitent") == "1234567890"
    messages = [error.get("errorMessage", "") for error in errors.iter(f"{ERROR_NS}Error")]
    assert len(messages) == 1
    assert "BR-RO-001" in messages[0] and messages[0].startswith("E: ")


async def test_status_is_in_processing_for_the_configured_polls_then_ok(spv: SpvStandIn) -> None:
    spv.processing_polls = 2
    anaf = client(spv)
    index = await anaf.upload(example(), cif=SELLER_CIF, standard="UBL")
    # Nothing in the list while ANAF is still at it.
    assert await anaf.messages(SELLER_CIF, 1) == []
    first, second = await anaf.status(index), await anaf.status(index)
    assert first.state is second.state is UploadState.PROCESSING
    assert first.download_id is None
    third = await anaf.status(index)
    assert third.state is UploadState.OK and third.download_id is not None


async def test_the_message_list_shows_sent_invoices_and_errors(spv: SpvStandIn) -> None:
    anaf = client(spv)
    assert await anaf.messages(SELLER_CIF, 60) == []
    good = await anaf.upload(example(), cif=SELLER_CIF, standard="UBL")
    bad = await anaf.upload(example(current=False), cif=SELLER_CIF, standard="UBL")
    listed = {message.upload_index: message for message in await anaf.messages(SELLER_CIF, 1)}
    assert set(listed) == {good, bad}
    assert listed[good].kind == "FACTURA TRIMISA"
    assert listed[bad].kind == "ERORI FACTURA"
    assert listed[good].download_id == (await anaf.status(good)).download_id
    assert listed[good].cif == "1234567890"
    assert listed[good].details == (
        f"Factura cu id_incarcare={good} emisa de cif_emitent=1234567890 "
        "pentru cif_beneficiar=987456123"
    )
    assert re.fullmatch(r"[0-9]{12}", listed[good].created_at)
    # Another CIF's list does not show them.
    assert await anaf.messages("RO987456123", 1) == []


async def test_refused_requests_raise_anafs_own_message(spv: SpvStandIn) -> None:
    anaf = client(spv)
    # An invoice sent as a credit note: refused at upload (ExecutionStatus=1).
    with pytest.raises(AnafRefused, match="CN"):
        await anaf.upload(example(), cif=SELLER_CIF, standard="CN")
    with pytest.raises(AnafRefused, match="nu este valid"):
        await anaf.upload(b"<Invoice>not closed", cif=SELLER_CIF, standard="UBL")
    with pytest.raises(AnafRefused, match="Nu aveti dreptul"):
        await anaf.status("999")
    with pytest.raises(AnafRefused, match="nu exista"):
        await anaf.download("999")
    with pytest.raises(AnafRefused):
        await anaf.messages(SELLER_CIF, 61)
    assert spv.upload_count == 0
    # A token ANAF does not know: 401, and without a way to refresh, not connected.
    with pytest.raises(AnafNotConnected):
        await AnafClient(spv.base_url, "not-a-token").messages(SELLER_CIF, 1)
    spv.expire_access_tokens()
    with pytest.raises(AnafNotConnected):
        await anaf.status("1")


async def test_an_answer_lost_after_the_upload_leaves_the_upload_recorded(
    spv: SpvStandIn,
) -> None:
    """The fault switch the submission's crash test uses: the upload happens, its answer
    never arrives, the client says "try again" (AnafError, not a refusal), and the message
    list shows the upload."""
    anaf = client(spv)
    spv.drop_next_upload = True
    with pytest.raises(AnafError) as lost:
        await anaf.upload(example(), cif=SELLER_CIF, standard="UBL")
    assert not isinstance(lost.value, AnafRefused)
    assert spv.upload_count == 1
    (message,) = await anaf.messages(SELLER_CIF, 1)
    assert message.kind == "FACTURA TRIMISA"
    # The switch is for one upload only.
    assert (await anaf.upload(example(), cif=SELLER_CIF, standard="UBL")).isdigit()
    assert spv.upload_count == 2


async def test_an_unreachable_spv_is_an_error_to_retry() -> None:
    anaf = AnafClient("http://127.0.0.1:9/prod/FCTEL/rest", "token")
    with pytest.raises(AnafError) as failed:
        await anaf.status("1")
    assert not isinstance(failed.value, AnafRefused)


# --- the company's access: tokens stored encrypted, refreshed, and a client for it --------


def access_settings(spv: SpvStandIn, database_url: str, **more: Any) -> Settings:
    return Settings(
        database_url=database_url,
        temporal_address="unused",
        temporal_namespace="default",
        smtp_url="smtp://unused",
        public_url=PUBLIC_URL,
        api_key=API_KEY,
        api_url=PUBLIC_URL,
        mail_from="q2c tests <invoices@q2c.test>",
        **(spv_settings(spv) | more),
    )


async def test_a_connected_company_gets_a_working_client_and_others_are_refused(
    spv: SpvStandIn, db: asyncpg.Pool, database_url: str
) -> None:
    settings = access_settings(spv, database_url)
    access = EfacturaAccess(db, settings)
    async with db.acquire() as conn:
        company_id = await default_company_id(conn)
    with pytest.raises(AnafNotConnected, match="q2c efactura connect"):
        await access.client_for(company_id)
    assert await connect_to_spv(spv, db, settings) == company_id
    anaf = await access.client_for(company_id)
    assert anaf.base_url == spv.base_url
    index = await anaf.upload(example(), cif=SELLER_CIF, standard="UBL")
    assert (await anaf.status(index)).state is UploadState.OK
    off = EfacturaAccess(db, dataclasses.replace(settings, efactura_url=None))
    with pytest.raises(AnafNotConnected, match="off"):
        await off.client_for(company_id)
