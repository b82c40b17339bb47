"""Decodes OTLP/HTTP request bodies with PyPI opentelemetry-proto (an independent decoder).

Usage: decode_otlp.py FILE... where each FILE holds one body; its name ends in
`.traces.pb`, `.metrics.pb`, `.traces.json` or `.metrics.json`. Prints one JSON summary.
"""
import json
import sys

from google.protobuf import json_format
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceRequest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest


def value(v):
    kind = v.WhichOneof("value")
    if kind == "array_value":
        return [value(x) for x in v.array_value.values]
    return getattr(v, kind) if kind else None


def main(paths):
    spans, metrics, parents_ok, client = 0, [], True, []
    tenants = set()
    for p in paths:
        data = open(p, "rb").read()
        is_traces = ".traces." in p
        msg = ExportTraceServiceRequest() if is_traces else ExportMetricsServiceRequest()
        if p.endswith(".pb"):
            msg.ParseFromString(data)
        else:
            json_format.Parse(data, msg, ignore_unknown_fields=False)
        if not is_traces:
            for rm in msg.resource_metrics:
                for sm in rm.scope_metrics:
                    metrics += [m.name for m in sm.metrics]
            continue
        for rs in msg.resource_spans:
            for ss in rs.scope_spans:
                ids = {(s.trace_id, s.span_id) for s in ss.spans}
                for s in ss.spans:
                    spans += 1
                    attrs = {a.key: value(a.value) for a in s.attributes}
                    if "cp.tenant_id" in attrs:
                        tenants.add(attrs["cp.tenant_id"])
                    if s.parent_span_id and (s.trace_id, s.parent_span_id) not in ids:
                        parents_ok = False
                    if s.kind == s.SPAN_KIND_CLIENT:
                        client.append({k: v for k, v in attrs.items() if k.startswith("gen_ai.") or k == "error.type"}
                                      | {"name": s.name, "trace_id": s.trace_id.hex(), "status": s.status.code})
    print(json.dumps({"spans": spans, "metrics": metrics, "parents_ok": parents_ok, "client": client,
                      "tenants": sorted(tenants)}, default=list))


if __name__ == "__main__":
    main(sys.argv[1:])
