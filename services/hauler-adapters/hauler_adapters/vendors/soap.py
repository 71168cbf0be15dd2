"""Vendors with a SOAP work order service and no webhooks (e.g. the demo's Westside Recovery).

The WSDL at ``{base}/WorkOrderService?wsdl`` is loaded on first use; calls go to
``{base}/WorkOrderService`` whatever address the WSDL advertises. Every call carries a
WS-Security UsernameToken: the username from the integration's config, the password from the
environment variable named by ``api_key_env``. ``CreateWorkOrder`` is idempotent on
ClientReference, which is the job's idempotency key. Status is polled (``GetWorkOrderStatus``).

A soap:Client fault is the vendor refusing (:class:`VendorRejected`, with its words); a
soap:Server fault, a timeout, a connection error or an HTTP 429/5xx that is no SOAP fault is
:class:`VendorUnavailable`, retried.
"""
from __future__ import annotations

import asyncio
import os
from datetime import date

import httpx
import zeep
from zeep.exceptions import Fault, TransportError, XMLParseError, XMLSyntaxError
from zeep.proxy import AsyncServiceProxy
from zeep.transports import AsyncTransport
from zeep.wsse.username import UsernameToken

from .base import (DispatchReceipt, Integration, InvalidIntegration, PickupJob, VendorRejected, VendorReport,
                   VendorUnavailable)
from .retrying import retry_after, vendor_retrying

BINDING = "{urn:westside-recovery:workorders:2019}WorkOrderServiceSoapBinding"
AUTHENTICATION_FAILED = "Authentication failed"
STATUS_WORDS = {"RECEIVED": "accepted", "SCHEDULED": "confirmed", "COMPLETE": "completed",
                "UNABLE_TO_SERVICE": "missed", "CANCELLED": "cancelled"}


class _Transport(AsyncTransport):
    """zeep's httpx transport, answering "busy" (429, or a 5xx that is no SOAP fault) as
    :class:`VendorUnavailable` with the vendor's Retry-After. SOAP faults come as HTTP 500 with
    an XML body and are left to zeep to read."""

    async def post(self, address, message, headers):
        response = await super().post(address, message, headers)
        busy = response.status_code >= 500 and "xml" not in response.headers.get("content-type", "")
        if response.status_code == 429 or busy:
            raise VendorUnavailable(f"HTTP {response.status_code}", retry_after=retry_after(response))
        return response


class SoapWorkOrderAdapter:
    kind = "soap"

    def __init__(self, integration: Integration, *, timeout: float, attempts: int, retry_initial: float,
                 retry_max: float) -> None:
        if not integration.base_url or not integration.config.get("username"):
            raise InvalidIntegration("soap integrations need a base_url and config.username")
        self.integration = integration
        self.endpoint = f"{integration.base_url.rstrip('/')}/WorkOrderService"
        self.wsse = UsernameToken(integration.config["username"], os.environ.get(integration.api_key_env or "", ""))
        self.transport = _Transport(timeout=timeout, operation_timeout=timeout)
        self.retrying = dict(attempts=attempts, initial=retry_initial, maximum=retry_max)
        self._service = None
        self._loading = asyncio.Lock()

    async def dispatch(self, job: PickupJob) -> DispatchReceipt:
        answer = await self._call(
            "CreateWorkOrder", ClientReference=job.idempotency_key, CityReference=job.reference,
            ServiceDate=date.fromisoformat(job.pickup_date), Address=job.address["text"],
            Items={"Item": [{"Code": i["item"], "Description": i["label"], "Quantity": i["quantity"]}
                            for i in job.items]},
            ContactName=job.contact_name, ContactPhone=job.contact_phone, Notes=job.notes)
        return DispatchReceipt(external_ref=answer.WorkOrderNumber, status="accepted",
                               raw={"WorkOrderNumber": answer.WorkOrderNumber, "Status": answer.Status})

    async def fetch_status(self, external_ref: str) -> VendorReport:
        answer = await self._call("GetWorkOrderStatus", WorkOrderNumber=external_ref)
        if answer.Status not in STATUS_WORDS:
            raise VendorUnavailable(f"unknown work order status {answer.Status!r}")
        start, end = answer.TimeWindowStart, answer.TimeWindowEnd
        return VendorReport(external_ref=external_ref, status=STATUS_WORDS[answer.Status],
                            pickup_date=answer.ScheduledDate.isoformat() if answer.ScheduledDate else None,
                            window={"from": start, "to": end} if start and end else None, reason=answer.Remarks)

    async def cancel(self, external_ref: str, reason: str) -> None:
        await self._call("CancelWorkOrder", WorkOrderNumber=external_ref, Reason=reason)

    async def _call(self, operation: str, **params):
        async for attempt in vendor_retrying(**self.retrying):
            with attempt:
                answer = await self._attempt(operation, params)
        return answer

    async def _attempt(self, operation: str, params: dict):
        try:
            service = await self._service_proxy()
            return await service[operation](**params)
        except Fault as exc:
            # SOAP 1.1 fault codes are QNames, e.g. "soap:Client" or the dotted "soap:Client.Authentication".
            if exc.message == AUTHENTICATION_FAILED:  # our credentials, not the booking: retried, then failed
                raise VendorUnavailable(f"the vendor refused our credentials: {exc.message}") from exc
            if (exc.code or "").rpartition(":")[2].split(".")[0] == "Client":
                raise VendorRejected(exc.message) from exc
            raise VendorUnavailable(f"vendor fault {exc.code}: {exc.message}") from exc
        except httpx.TransportError as exc:  # timeouts included
            raise VendorUnavailable(f"{type(exc).__name__}: {exc}") from exc
        except TransportError as exc:
            raise VendorUnavailable(f"HTTP {exc.status_code}: {exc.message}") from exc
        except (XMLSyntaxError, XMLParseError) as exc:
            raise VendorUnavailable(f"malformed answer: {exc}") from exc

    async def _service_proxy(self):
        async with self._loading:
            if self._service is None:
                # zeep reads WSDLs with a blocking client: off the event loop, which keeps serving.
                client = await asyncio.to_thread(zeep.AsyncClient, f"{self.endpoint}?wsdl", wsse=self.wsse,
                                                 transport=self.transport)
                # (not client.create_service: in zeep 4.3 that gives a blocking proxy even for AsyncClient)
                self._service = AsyncServiceProxy(client, client.wsdl.bindings[BINDING], address=self.endpoint)
        return self._service

    async def close(self) -> None:
        await self.transport.aclose()
        self.transport.wsdl_client.close()
