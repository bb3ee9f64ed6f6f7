"""TLS from the command line: a failed handshake is a measurement and nothing more (no
unretrieved-future tracebacks), and `check --insecure` / `--ca-file` choose what is trusted."""

from __future__ import annotations

import asyncio
import gc
import json
import logging

import pytest
from test_cli import netvigil

from netvigil.outcome import Outcome
from netvigil.probes import HTTPProbe, HTTPSpec, TLSProbe, TLSSpec
from servers.certs import CertKit
from servers.http import serve_http


async def test_untrusted_certificate_fails_without_logging_an_unretrieved_future(
    cert_kit: CertKit, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="asyncio")
    async with serve_http("127.0.0.1", cert_kit.server_context("untrusted")) as base:
        port = int(base.rsplit(":", 1)[1])
        http, tls = HTTPProbe(), TLSProbe()
        observations = []
        for _ in range(3):
            observations.append(await http.measure(HTTPSpec(name="h", url=f"{base}/ok")))
            observations.append(await tls.measure(TLSSpec(name="t", host="127.0.0.1", port=port)))
        await asyncio.sleep(0.1)  # let the aborted connections report their loss
        await http.close()
    gc.collect()
    await asyncio.sleep(0)
    assert [o.outcome for o in observations] == [Outcome.TLS_CERT_INVALID] * 6
    logged = [r.getMessage() for r in caplog.records if r.name == "asyncio"]
    assert not [m for m in logged if "never retrieved" in m], logged


async def test_check_of_an_untrusted_https_server_writes_nothing_to_stderr(
    cert_kit: CertKit,
) -> None:
    async with serve_http("127.0.0.1", cert_kit.server_context("untrusted")) as base:
        port = base.rsplit(":", 1)[1]
        targets = [f"{base}/ok", f"tls://127.0.0.1:{port}"]
        result = await netvigil("check", "--json", *targets)
        insecure = await netvigil("check", "--json", "--insecure", *targets)
    assert result.code == 1
    assert result.err == ""
    outcomes = [json.loads(line)["outcome"] for line in result.out.splitlines()]
    assert outcomes == [Outcome.TLS_CERT_INVALID, Outcome.TLS_CERT_INVALID]
    assert insecure.code == 0, insecure.out + insecure.err
    assert insecure.err == ""


async def test_check_trusts_the_ca_file_it_is_given(cert_kit: CertKit) -> None:
    async with serve_http("127.0.0.1", cert_kit.server_context("good")) as base:
        port = base.rsplit(":", 1)[1]
        targets = [f"{base}/ok", f"tls://127.0.0.1:{port}"]
        system_cas = await netvigil("check", "--json", *targets)
        own_ca = await netvigil("check", "--json", "--ca-file", str(cert_kit.ca_file), *targets)
    assert system_cas.code == 1
    assert own_ca.code == 0, own_ca.out + own_ca.err
    assert [json.loads(line)["ok"] for line in own_ca.out.splitlines()] == [True, True]
