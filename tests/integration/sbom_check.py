#!/usr/bin/env python3
"""Structural checks of kiln's SBOMs, standard library only (no network, no pip).

  sbom_check.py spdx FILE NAME=VERSION=ARCH[=LICENSE] ...
  sbom_check.py cyclonedx FILE NAME=VERSION=ARCH[=LICENSE] ...

Checks the fields the SPDX 2.3 and CycloneDX 1.5 JSON schemas require (and
their formats where a regex decides), then that every expected Debian
package is listed once with its version, its purl
pkg:deb/debian/NAME@VERSION?arch=ARCH... and, when given, its licence.
Prints each problem; exit status 1 if any.
"""
import json
import re
import sys
import urllib.parse

ERRORS = []


def err(msg):
    ERRORS.append(msg)


def need(obj, key, kind, where):
    if not isinstance(obj, dict) or key not in obj:
        err(f"{where}: missing required '{key}'")
        return None
    if not isinstance(obj[key], kind):
        err(f"{where}.{key}: expected {kind.__name__}, got {type(obj[key]).__name__}")
        return None
    return obj[key]


RFC3339 = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$")


def deb_purl(purl):
    """('name', 'version', {'arch': ..}) of a pkg:deb/debian purl, else None."""
    m = re.match(r"^pkg:deb/debian/([^@?#]+)@([^?#]+)(?:\?([^#]*))?$", purl or "")
    if not m:
        return None
    q = dict(urllib.parse.parse_qsl(m.group(3) or ""))
    return urllib.parse.unquote(m.group(1)), urllib.parse.unquote(m.group(2)), q


def check_expected(found, expected):
    """found: name -> list of (version, purl, licence strings)."""
    for spec in expected:
        parts = spec.split("=")
        name, version, arch = parts[0], parts[1], parts[2]
        lic = parts[3] if len(parts) > 3 else None
        got = found.get(name, [])
        if len(got) != 1:
            err(f"package {name}: listed {len(got)} times")
            continue
        v, purl, licences = got[0]
        if v != version:
            err(f"package {name}: version {v!r}, expected {version!r}")
        p = deb_purl(purl)
        if not p:
            err(f"package {name}: purl {purl!r} is not pkg:deb/debian/...")
        elif p[0] != name or p[1] != version or p[2].get("arch") != arch:
            err(f"package {name}: purl {purl!r} does not say {name}@{version}?arch={arch}")
        if lic and lic not in licences:
            err(f"package {name}: licence {lic!r} not in {licences}")


def check_spdx(doc, expected):
    w = "spdx"
    if need(doc, "spdxVersion", str, w) != "SPDX-2.3":
        err("spdxVersion is not SPDX-2.3")
    if need(doc, "dataLicense", str, w) != "CC0-1.0":
        err("dataLicense must be CC0-1.0")
    if need(doc, "SPDXID", str, w) != "SPDXRef-DOCUMENT":
        err("document SPDXID must be SPDXRef-DOCUMENT")
    need(doc, "name", str, w)
    ns = need(doc, "documentNamespace", str, w)
    if ns and (not urllib.parse.urlparse(ns).scheme or "#" in ns):
        err(f"documentNamespace {ns!r} is not an absolute URI without '#'")
    ci = need(doc, "creationInfo", dict, w)
    if ci is not None:
        created = need(ci, "created", str, w + ".creationInfo")
        if created and not RFC3339.match(created):
            err(f"creationInfo.created {created!r} is not a date-time")
        creators = need(ci, "creators", list, w + ".creationInfo")
        if creators is not None and (not creators or not all(
                isinstance(c, str) and re.match(r"^(Tool|Organization|Person): ", c) for c in creators)):
            err(f"creationInfo.creators {creators!r}: need at least one 'Tool: ...'-style entry")
    ids = {"SPDXRef-DOCUMENT"}
    found = {}
    for i, p in enumerate(need(doc, "packages", list, w) or []):
        pw = f"packages[{i}]"
        sid = need(p, "SPDXID", str, pw)
        if sid is not None:
            if not re.match(r"^SPDXRef-[A-Za-z0-9.\-]+$", sid):
                err(f"{pw}.SPDXID {sid!r} has characters SPDX does not allow")
            if sid in ids:
                err(f"{pw}.SPDXID {sid!r} is not unique")
            ids.add(sid)
        need(p, "name", str, pw)
        need(p, "downloadLocation", str, pw)
        purl = None
        for j, r in enumerate(p.get("externalRefs", [])):
            rw = f"{pw}.externalRefs[{j}]"
            cat = need(r, "referenceCategory", str, rw)
            if cat and cat not in ("SECURITY", "PACKAGE-MANAGER", "PERSISTENT-ID", "OTHER",
                                   "PACKAGE_MANAGER", "PERSISTENT_ID"):
                err(f"{rw}.referenceCategory {cat!r} is not an SPDX category")
            need(r, "referenceType", str, rw)
            need(r, "referenceLocator", str, rw)
            if r.get("referenceType") == "purl":
                purl = r.get("referenceLocator")
        lic = [p.get("licenseDeclared", ""), p.get("licenseConcluded", "")]
        if purl and purl.startswith("pkg:deb/"):
            found.setdefault(p.get("name"), []).append((p.get("versionInfo"), purl, lic))
    for i, r in enumerate(need(doc, "relationships", list, w) or []):
        rw = f"relationships[{i}]"
        for k in ("spdxElementId", "relationshipType", "relatedSpdxElement"):
            need(r, k, str, rw)
        for k in ("spdxElementId", "relatedSpdxElement"):
            v = r.get(k)
            if isinstance(v, str) and v not in ids and v not in ("NONE", "NOASSERTION"):
                err(f"{rw}.{k} {v!r} names no element of the document")
    if not any(r.get("relationshipType") == "DESCRIBES" for r in doc.get("relationships", [])) and \
            not doc.get("documentDescribes"):
        err("the document DESCRIBES nothing")
    check_expected(found, expected)


def check_cyclonedx(doc, expected):
    w = "cyclonedx"
    if need(doc, "bomFormat", str, w) != "CycloneDX":
        err("bomFormat must be CycloneDX")
    if need(doc, "specVersion", str, w) != "1.5":
        err("specVersion is not 1.5")
    sn = doc.get("serialNumber")
    if sn is not None and not re.match(r"^urn:uuid:[0-9a-f]{8}-[0-9a-f]{4}-[1-5][0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$", sn):
        err(f"serialNumber {sn!r} does not match the schema's pattern")
    v = doc.get("version", 1)
    if not isinstance(v, int) or v < 1:
        err("version must be an integer >= 1")
    ts = doc.get("metadata", {}).get("timestamp")
    if ts is not None and not RFC3339.match(ts):
        err(f"metadata.timestamp {ts!r} is not a date-time")
    types = {"application", "framework", "library", "container", "platform", "operating-system", "device",
             "device-driver", "firmware", "file", "machine-learning-model", "data"}
    refs = set()
    found = {}

    def walk(components, where):
        for i, c in enumerate(components):
            cw = f"{where}[{i}]"
            t = need(c, "type", str, cw)
            if t and t not in types:
                err(f"{cw}.type {t!r} is not a CycloneDX 1.5 component type")
            need(c, "name", str, cw)
            ref = c.get("bom-ref")
            if ref is not None:
                if ref in refs:
                    err(f"{cw}.bom-ref {ref!r} is not unique")
                refs.add(ref)
            lic = []
            for l in c.get("licenses", []):
                if "license" in l:
                    if not any(k in l["license"] for k in ("id", "name")):
                        err(f"{cw}.licenses: a license needs an id or a name")
                    lic.append(l["license"].get("id") or l["license"].get("name"))
                elif "expression" in l:
                    lic.append(l["expression"])
                else:
                    err(f"{cw}.licenses: neither license nor expression")
            purl = c.get("purl")
            if purl and purl.startswith("pkg:deb/"):
                found.setdefault(c.get("name"), []).append((c.get("version"), purl, lic))
            walk(c.get("components", []), cw + ".components")

    mc = doc.get("metadata", {}).get("component")
    if mc is not None:
        walk([mc], "metadata.component")
    walk(need(doc, "components", list, w) or [], "components")
    for i, d in enumerate(doc.get("dependencies", [])):
        if need(d, "ref", str, f"dependencies[{i}]") not in refs:
            err(f"dependencies[{i}].ref names no component")
    check_expected(found, expected)


def main():
    kind, path, expected = sys.argv[1], sys.argv[2], sys.argv[3:]
    with open(path) as f:
        doc = json.load(f)
    {"spdx": check_spdx, "cyclonedx": check_cyclonedx}[kind](doc, expected)
    for e in ERRORS:
        print(f"{kind}: {e}")
    sys.exit(1 if ERRORS else 0)


if __name__ == "__main__":
    main()
