"""A hauler with a SOAP/XML work order service and no webhooks ("Westside Recovery").

    GET  /WorkOrderService?wsdl   the WSDL (WSDL 1.1, SOAP 1.1 document/literal; westside_workorders.wsdl)
    POST /WorkOrderService        the SOAP endpoint; every call carries a WS-Security UsernameToken
                                  (PasswordText) header, else a soap:Client fault "Authentication failed"
        CreateWorkOrder           → WorkOrderNumber ("WR-000001"), Status "RECEIVED"; idempotent on
                                  ClientReference (the same reference answers with the same order)
        CancelWorkOrder           → Status "CANCELLED"
        GetWorkOrderStatus        → Status RECEIVED → SCHEDULED (schedule_delay s; ScheduledDate = the
                                  ServiceDate, window 07:00–11:00) → COMPLETE (complete_delay s later), or
                                  UNABLE_TO_SERVICE (Remarks "Gate locked") for an address containing "NO ACCESS"
    GET  /_sim/orders             the orders as the vendor holds them
    GET  /_sim/stats              create and status calls seen, orders per client and per city reference
    POST /_sim/faults             queue answers for the next SOAP calls, e.g. [{"fault": "server"},
                                  {"status": 503, "retry_after": 1}, {"fault": "client", "message": "..."},
                                  {"delay": 3}]

Invalid input (a missing field, a ServiceDate in the past, an unknown WorkOrderNumber) is a
soap:Client fault; vendor trouble a soap:Server fault. Both come as HTTP 500, as SOAP 1.1 says.

    python -m haulbridge_simulators.soap_hauler   (settings from SIM_SOAP_* environment variables)
"""
from __future__ import annotations

import asyncio
import itertools
import secrets
import time
import xml.etree.ElementTree as ET
from collections import Counter
from datetime import date
from http import HTTPStatus
from pathlib import Path

import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import PlainTextResponse, Response
from pydantic_settings import BaseSettings, SettingsConfigDict

SOAP = "http://schemas.xmlsoap.org/soap/envelope/"
WR = "urn:westside-recovery:workorders:2019"
WSSE = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd"
WSDL = (Path(__file__).parent / "westside_workorders.wsdl").read_text()
WSDL_ADDRESS = "http://127.0.0.1:8102/WorkOrderService"  # as written in the file; replaced when served

ET.register_namespace("soap", SOAP)  # faultcode values ("soap:Client") use this prefix
ET.register_namespace("wr", WR)


class SoapHaulerSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="SIM_SOAP_", extra="ignore")

    host: str = "127.0.0.1"
    port: int = 8102
    username: str = "haulbridge"
    password: str = "westside-demo-password"
    schedule_delay: float = 1.0
    complete_delay: float = 3.0


class ClientFault(Exception):
    """Invalid input: answered as a soap:Client fault."""


def _xml(envelope: ET.Element, status: int = 200) -> Response:
    return Response(ET.tostring(envelope, encoding="utf-8", xml_declaration=True), status_code=status,
                    media_type="text/xml; charset=utf-8")


def _answer(operation: str, fields: dict[str, str | None]) -> Response:
    envelope = ET.Element(f"{{{SOAP}}}Envelope")
    answer = ET.SubElement(ET.SubElement(envelope, f"{{{SOAP}}}Body"), f"{{{WR}}}{operation}Response")
    for name, value in fields.items():
        if value is not None:
            ET.SubElement(answer, f"{{{WR}}}{name}").text = value
    return _xml(envelope)


def _fault(code: str, message: str) -> Response:
    envelope = ET.Element(f"{{{SOAP}}}Envelope")
    fault = ET.SubElement(ET.SubElement(envelope, f"{{{SOAP}}}Body"), f"{{{SOAP}}}Fault")
    ET.SubElement(fault, "faultcode").text = f"soap:{code}"
    ET.SubElement(fault, "faultstring").text = message
    return _xml(envelope, status=500)


def build_app(settings: SoapHaulerSettings | None = None) -> FastAPI:
    s = settings or SoapHaulerSettings()
    app = FastAPI(title="Westside Recovery work order service (simulator)")
    orders: dict[str, dict] = {}
    by_client_reference: dict[str, str] = {}
    faults: list[dict] = []
    calls = {"create_calls": 0, "status_calls": 0}
    numbers = itertools.count(1)
    app.state.orders = orders

    def _authenticated(envelope: ET.Element) -> bool:
        token = envelope.find(f"{{{SOAP}}}Header/{{{WSSE}}}Security/{{{WSSE}}}UsernameToken")
        if token is None:
            return False
        username = token.findtext(f"{{{WSSE}}}Username") or ""
        password = token.findtext(f"{{{WSSE}}}Password") or ""
        return secrets.compare_digest(username, s.username) and secrets.compare_digest(password, s.password)

    def _order(call: ET.Element) -> dict:
        number = _text(call, "WorkOrderNumber", required=True)
        if number not in orders:
            raise ClientFault(f"Unknown work order {number}")
        return orders[number]

    def _state(order: dict) -> dict[str, str | None]:
        """The order as a status query sees it: the vendor's clock moves it along."""
        state = {"WorkOrderNumber": order["WorkOrderNumber"], "Status": "RECEIVED"}
        age = time.monotonic() - order["created"]
        if order["CancelReason"] is not None:
            state["Status"] = "CANCELLED"
        elif age >= s.schedule_delay:
            state |= {"Status": "SCHEDULED", "ScheduledDate": order["ServiceDate"], "TimeWindowStart": "07:00",
                      "TimeWindowEnd": "11:00"}
            if age >= s.schedule_delay + s.complete_delay:
                no_access = "NO ACCESS" in order["Address"].upper()
                state |= {"Status": "UNABLE_TO_SERVICE", "Remarks": "Gate locked"} if no_access else {
                    "Status": "COMPLETE"}
        return state

    def create(call: ET.Element) -> dict[str, str | None]:
        reference = _text(call, "ClientReference", required=True)
        if reference in by_client_reference:
            order = orders[by_client_reference[reference]]
            return {"WorkOrderNumber": order["WorkOrderNumber"], "Status": _state(order)["Status"]}
        service_date = _text(call, "ServiceDate", required=True)
        try:
            day = date.fromisoformat(service_date)
        except ValueError:
            raise ClientFault(f"ServiceDate {service_date!r} is not a date (YYYY-MM-DD)") from None
        if day < date.today():
            raise ClientFault(f"ServiceDate {service_date} is in the past")
        items = [{"Code": _text(i, "Code", required=True), "Description": _text(i, "Description", required=True),
                  "Quantity": _quantity(_text(i, "Quantity", required=True))}
                 for i in call.findall(f"{{{WR}}}Items/{{{WR}}}Item")]
        if not items:
            raise ClientFault("Items must name at least one Item")
        number = f"WR-{next(numbers):06d}"
        orders[number] = {
            "WorkOrderNumber": number, "ClientReference": reference,
            "CityReference": _text(call, "CityReference", required=True), "ServiceDate": service_date,
            "Address": _text(call, "Address", required=True), "Items": items,
            "ContactName": _text(call, "ContactName", required=True), "ContactPhone": _text(call, "ContactPhone"),
            "Notes": _text(call, "Notes"), "CancelReason": None, "created": time.monotonic(),
        }
        by_client_reference[reference] = number
        return {"WorkOrderNumber": number, "Status": "RECEIVED"}

    def cancel(call: ET.Element) -> dict[str, str | None]:
        order = _order(call)
        status = _state(order)["Status"]
        if status in ("COMPLETE", "UNABLE_TO_SERVICE"):
            raise ClientFault(f"Work order {order['WorkOrderNumber']} is {status} and cannot be cancelled")
        if order["CancelReason"] is None:
            order["CancelReason"] = _text(call, "Reason", required=True)
        return {"Status": "CANCELLED"}

    def status(call: ET.Element) -> dict[str, str | None]:
        return _state(_order(call))

    operations = {"CreateWorkOrder": create, "CancelWorkOrder": cancel, "GetWorkOrderStatus": status}

    @app.get("/WorkOrderService")
    async def wsdl(request: Request):
        if "wsdl" not in request.query_params:
            return PlainTextResponse("The service description is at ?wsdl", status_code=404)
        return Response(WSDL.replace(WSDL_ADDRESS, f"{request.base_url}WorkOrderService"), media_type="text/xml")

    @app.post("/WorkOrderService")
    async def soap(request: Request):
        try:
            envelope = ET.fromstring(await request.body())
            call = envelope.find(f"{{{SOAP}}}Body/*")
        except ET.ParseError as exc:
            return _fault("Client", f"Malformed XML: {exc}")
        namespace, _, operation = (call.tag if call is not None else "").rpartition("}")
        if namespace != "{" + WR or operation not in operations:
            return _fault("Client", f"Unknown operation {operation or '(none)'}")
        if operation == "CreateWorkOrder":
            calls["create_calls"] += 1
        elif operation == "GetWorkOrderStatus":
            calls["status_calls"] += 1
        if faults:
            fault = faults.pop(0)
            if "delay" in fault:
                await asyncio.sleep(fault["delay"])
            elif "status" in fault:
                headers = {"Retry-After": str(fault["retry_after"])} if "retry_after" in fault else None
                return PlainTextResponse(HTTPStatus(fault["status"]).phrase, status_code=fault["status"],
                                         headers=headers)
            else:
                return _fault(fault["fault"].capitalize(), fault.get("message", "Simulated fault"))
        if not _authenticated(envelope):
            return _fault("Client", "Authentication failed")
        try:
            return _answer(operation, operations[operation](call))
        except ClientFault as exc:
            return _fault("Client", str(exc))

    @app.get("/_sim/orders")
    async def list_orders():
        return [{**{k: v for k, v in o.items() if k != "created"}, "Status": _state(o)["Status"]}
                for o in orders.values()]

    @app.get("/_sim/stats")
    async def stats():
        return {**calls, "orders_per_client_reference": Counter(o["ClientReference"] for o in orders.values()),
                "orders_per_city_reference": Counter(o["CityReference"] for o in orders.values())}

    @app.post("/_sim/faults", status_code=204)
    async def queue_faults(request: Request):
        faults.extend(await request.json())

    return app


def _text(element: ET.Element, name: str, *, required: bool = False) -> str | None:
    value = (element.findtext(f"{{{WR}}}{name}") or "").strip() or None
    if value is None and required:
        raise ClientFault(f"{name} is required")
    return value


def _quantity(value: str) -> int:
    if not value.isdigit() or int(value) < 1:
        raise ClientFault(f"Quantity {value!r} is not a positive whole number")
    return int(value)


def main() -> None:
    s = SoapHaulerSettings()
    uvicorn.run(build_app(s), host=s.host, port=s.port, log_level="warning")


if __name__ == "__main__":
    main()
