"""Canned platform error responses, copied from docs/fingerprints.md.

One builder or constant per platform response, named after the reference section it comes from.
Where the reference gives the bytes (nginx, ALB, HAProxy, Fastly, Varnish, CloudFront, Envoy,
Traefik, Kong, Apache) they are exact. Where the tests hold two captures of one platform that
differ (header sets, request ids, markup), both are kept, byte for byte, as named variants.
"""

from __future__ import annotations

Headers = tuple[tuple[str, str], ...]


# --- 2.16 nginx, and the nginx-shaped pages of 2.2 ALB, 2.12 App Gateway, 2.17 ingress ---


def nginx_page(status_line: str, footer: str | None, *, old: bool = False, nl: str = "\r\n") -> str:
    """nginx's special_response page (2.16), optionally with the pre-1.15.4 bgcolor body tag."""
    body_tag = '<body bgcolor="white">' if old else "<body>"
    head = (
        f"<html>{nl}<head><title>{status_line}</title></head>{nl}{body_tag}{nl}"
        f"<center><h1>{status_line}</h1></center>{nl}"
    )
    tail = "" if footer is None else f"<hr><center>{footer}</center>{nl}"
    return f"{head}{tail}</body>{nl}</html>{nl}"


NGINX_HEADERS: Headers = (("Server", "nginx/1.24.0"), ("Content-Type", "text/html"))  # 2.16
NGINX_502 = nginx_page("502 Bad Gateway", "nginx/1.22.1")  # 2.16, server_tokens on
NGINX_504 = nginx_page("504 Gateway Time-out", "nginx/1.22.1")  # 2.16, server_tokens on
INGRESS_503 = nginx_page("503 Service Temporarily Unavailable", "nginx")  # 2.17, no endpoints

ALB_HEADERS: Headers = (("Server", "awselb/2.0"), ("Content-Type", "text/html"))  # 2.2
ALB_502 = nginx_page("502 Bad Gateway", None)  # 2.2: nginx's page without the footer
ALB_503 = nginx_page("503 Service Temporarily Unavailable", None)  # 2.2
ALB_504 = nginx_page("504 Gateway Time-out", None)  # 2.2 (length computed, not captured)


# --- 2.1 Cloudflare --------------------------------------------------------------------------

CLOUDFLARE_HEADERS: Headers = (("Server", "cloudflare"), ("CF-RAY", "8c1e2f3a4b5c6d7e-FRA"))
"""2.1: on every response Cloudflare proxies, so not proof that it made the error."""
CLOUDFLARE_HTML_HEADERS: Headers = (
    *CLOUDFLARE_HEADERS,
    ("Content-Type", "text/html; charset=UTF-8"),
)
"""2.1: the same, with the Content-Type of an HTML error page."""

_CF_RAY_FOOTER = 'Cloudflare Ray ID: <strong class="font-semibold">8c1e2f3a4b5c6d7e</strong>'


def cloudflare_page(code: int, title: str, what: str | None = None) -> str:
    """Cloudflare's current 5xx template (2.1): cf-wrapper, code label, Ray ID footer.

    With ``what``: the capture with a "What happened?" section and a bare ``<p>`` footer.
    Without: the shorter capture with a charset meta tag, ``text-black-dark`` and a clearfix footer.
    """
    if what is None:
        meta, h1_class = '<meta charset="UTF-8" />\n', " text-black-dark"
        tail = (
            f'    <div class="clearfix footer">\n      <span>{_CF_RAY_FOOTER}</span>\n    </div>\n'
        )
    else:
        meta, h1_class = "", ""
        tail = (
            '    <div class="w-240 lg:w-full mx-auto mb-8 lg:px-8">\n'
            '      <h2 class="text-3xl font-normal leading-1.3 mb-4">What happened?</h2>\n'
            f"      <p>{what}</p>\n"
            "    </div>\n"
            f"    <p>{_CF_RAY_FOOTER}</p>\n"
        )
    return f"""<!DOCTYPE html>
<html lang="en-US">
<head>
<title>shop.example.com | {code}: {title}</title>
{meta}<link rel="stylesheet" id="cf_styles-css" href="/cdn-cgi/styles/main.css" />
</head>
<body>
<div id="cf-wrapper">
  <div id="cf-error-details" class="p-0">
    <header class="mx-auto pt-10 lg:pt-6 lg:px-8 w-240 lg:w-full mb-8">
      <h1 class="inline-block sm:block sm:mb-2 font-light text-60 lg:text-4xl{h1_class}">
        <span class="inline-block">{title}</span>
        <span class="code-label">Error code {code}</span>
      </h1>
      <div>Visit <a href="https://www.cloudflare.com/5xx-error-landing?utm_source=errorcode_{code}"
        target="_blank" rel="noopener noreferrer">cloudflare.com</a> for more information.</div>
    </header>
{tail}  </div>
</div>
</body>
</html>
"""


def cloudflare_old_page(title: str, code: str, what: str, *, translated: bool = False) -> str:
    """Cloudflare's older error template (2.1): cf-error-code span, cf.errors.css.

    ``translated``: the capture with ``data-translate`` attributes and a four-line heading.
    """
    if translated:
        h1 = (
            '<h1 data-translate="error_heading">\n'
            '      <span class="cf-error-type" data-translate="error">Error</span>\n'
            f'      <span class="cf-error-code">{code}</span>\n'
            "    </h1>"
        )
        h2 = '<h2 class="cf-subheadline" data-translate="error_desc">'
    else:
        h1 = f'<h1><span class="cf-error-type">Error</span> <span class="cf-error-code">{code}</span></h1>'
        h2 = '<h2 class="cf-subheadline">'
    return f"""<!DOCTYPE html>
<html lang="en-US">
<head>
<title>{title}</title>
<link rel="stylesheet" id="cf_styles-css" href="/cdn-cgi/styles/cf.errors.css" />
</head>
<body>
<div id="cf-wrapper">
  <div id="cf-error-details" class="cf-error-details-wrapper">
    {h1}
    {h2}{what}</h2>
    <p>Ray ID: 8c1e2f3a4b5c6d7e &bull; Performance &amp; security by Cloudflare</p>
  </div>
</div>
</body>
</html>
"""


CLOUDFLARE_521_PAGE = cloudflare_page(521, "Web server is down")  # 2.1, current template
CLOUDFLARE_522_PAGE = cloudflare_old_page(  # 2.1, old template, 522 "What happened?" sentence
    "shop.example.com | 522: Connection timed out",
    "522",
    "The initial connection between Cloudflare&#39;s network and the origin web server timed "
    "out. As a result, the web page can not be displayed.",
)
CLOUDFLARE_1016_PAGE = cloudflare_old_page(
    "Origin DNS error | shop.example.com", "1016", "Error 1016"
)
"""2.1: a 530 whose body names 1016, Origin DNS error."""
CLOUDFLARE_1016_TRANSLATED_PAGE = cloudflare_old_page(
    "Origin DNS error | shop.example.com | Cloudflare", "1016", "Origin DNS error", translated=True
)
"""2.1: the same 1016 page in the capture with data-translate attributes."""
CLOUDFLARE_1033_PAGE = cloudflare_old_page(
    "Argo Tunnel error | shop.example.com", "1033", "Error 1033"
)
"""2.1: a 530 whose body names 1033, Argo Tunnel error."""
CLOUDFLARE_1101_PAGE = cloudflare_old_page(
    "Worker threw exception | shop.example.com", "1101", "Error 1101"
)
"""2.1: cf-error-type 1101, a Worker threw."""
CLOUDFLARE_BRANDED_502 = cloudflare_old_page(
    "shop.example.com | 502: Bad gateway", "502", "The web server reported a bad gateway error."
)
"""Part 1 rule 2: Cloudflare's branded 502, the origin's 502 relayed."""


# --- 2.4 AWS CloudFront ----------------------------------------------------------------------

CLOUDFRONT_REQUEST_ID = "3kT1vQf2rXbHk7yqP0o6wGJm5cN8sLz4eU9aDiVxYtRBnWgCqEhA=="


def cloudfront_page(
    reason: str,
    *,
    status: int = 502,
    request_id: str = CLOUDFRONT_REQUEST_ID,
    address: bool = False,
) -> str:
    """CloudFront's "request could not be satisfied" page (2.4); ``address`` adds the empty block."""
    address_block = "<ADDRESS>\n</ADDRESS>\n" if address else ""
    return f"""<!DOCTYPE HTML PUBLIC "-//W3C//DTD HTML 4.01 Transitional//EN" \
"http://www.w3.org/TR/html4/loose.dtd">
<HTML><HEAD><META HTTP-EQUIV="Content-Type" CONTENT="text/html; charset=iso-8859-1">
<TITLE>ERROR: The request could not be satisfied</TITLE>
</HEAD><BODY>
<H1>{status} ERROR</H1>
<H2>The request could not be satisfied.</H2>
<HR noshade size="1px">
{reason}
We can't connect to the server for this app or website at this time. There might be too much \
traffic or a configuration error. Try again later, or contact the app or website owner.
<BR clear="all">
<HR noshade size="1px">
<PRE>
Generated by cloudfront (CloudFront)
Request ID: {request_id}
</PRE>
{address_block}</BODY></HTML>"""


def cloudfront_headers(
    distribution: str, pop: str, request_id: str, *, content_type: str | None = None
) -> Headers:
    """CloudFront's error headers (2.4), with Content-Type after Server when given."""
    typed = () if content_type is None else (("Content-Type", content_type),)
    return (
        ("Server", "CloudFront"),
        *typed,
        ("X-Cache", "Error from cloudfront"),
        ("Via", f"1.1 {distribution}.cloudfront.net (CloudFront)"),
        ("X-Amz-Cf-Pop", pop),
        ("X-Amz-Cf-Id", request_id),
    )


CLOUDFRONT_HEADERS = cloudfront_headers(
    "5f4e3d2c1b0a99887766554433221100", "FRA56-P5", CLOUDFRONT_REQUEST_ID
)
"""2.4: the headers of a CloudFront-generated error."""

_CLOUDFRONT_OTHER_ID = "q1Zb8XwVvQ3n4T0m2kYcJx5u7P9aRfLdE6sG8hHiOjK=="
CLOUDFRONT_HTML_HEADERS = cloudfront_headers(
    "5f3c0a1b2d4e6f708192a3b4c5d6e7f8",
    "FRA56-P1",
    _CLOUDFRONT_OTHER_ID,
    content_type="text/html",
)
"""2.4: a second capture's headers, with Content-Type."""
CLOUDFRONT_502_PAGE = cloudfront_page(
    "CloudFront wasn't able to connect to the origin.",
    request_id=_CLOUDFRONT_OTHER_ID,
    address=True,
)
"""2.4: the second capture's 502 body, with its empty <ADDRESS> block."""


# --- 2.5 AWS API Gateway, 2.7 Netlify, 2.14 Fly.io -------------------------------------------

APIGW_HEADERS: Headers = (  # 2.5: x-amzn-RequestId, x-amz-apigw-id
    ("Content-Type", "application/json"),
    ("x-amzn-RequestId", "7f1c2d3e-4b5a-6978-8a9b-0c1d2e3f4a5b"),
    ("x-amz-apigw-id", "Ab1CdEfGhIjKlM="),
)
NETLIFY_HEADERS: Headers = (
    ("Server", "Netlify"),
    ("X-Nf-Request-Id", "01HV8Z6N2Q7W3E4R5T6Y7U8I9O"),
)
"""2.7: Server: Netlify, X-Nf-Request-Id."""
FLY_HEADERS: Headers = (  # 2.14: server Fly/…, via fly.io, fly-request-id
    ("server", "Fly/8a7b6c5d (2024-05-01)"),
    ("via", "1.1 fly.io"),
    ("fly-request-id", "01HV8Z6N2Q7W3E4R5T6Y7U8I9O-ams"),
)


# --- 2.6 Vercel ------------------------------------------------------------------------------

VERCEL_HEADERS: Headers = (
    ("server", "Vercel"),
    ("x-vercel-id", "hnd1::iad1::8tqxv-1700000000000-0a1b2c3d4e5f"),
)
"""2.6: server: Vercel, x-vercel-id."""
VERCEL_504_PAGE = """<!DOCTYPE html><html><body>
<main><p>504: GATEWAY_TIMEOUT</p>
<p>Code: FUNCTION_INVOCATION_TIMEOUT</p>
<p>ID: hnd1::iad1::8tqxv-1700000000000-0a1b2c3d4e5f</p></main>
</body></html>
"""
"""2.6: the HTML page with the 504: GATEWAY_TIMEOUT / Code / ID lines."""

_VERCEL_OTHER_ID = "fra1::fra1::abcde-1712345678901-0123456789ab"


def vercel_error_headers(code: str) -> Headers:
    """Vercel's headers (2.6) with ``x-vercel-error: code``, on a plain-text error."""
    return (
        ("Server", "Vercel"),
        ("x-vercel-id", _VERCEL_OTHER_ID),
        ("x-vercel-error", code),
        ("Content-Type", "text/plain; charset=utf-8"),
    )


def vercel_text_page(status_line: str, code: str) -> str:
    """Vercel's plain-text error (2.6): status line, Code and ID lines."""
    return (
        f"An error occurred with your deployment\n\n{status_line}\nCode: {code}\n"
        f"ID: {_VERCEL_OTHER_ID}\n"
    )


# --- 2.8 Fastly and Varnish ------------------------------------------------------------------


def fastly_page(response: str) -> str:
    """Fastly's synthetic 503 (2.8), with its own spelling "Guru Mediation"."""
    return f"""<?xml version="1.0" encoding="utf-8"?>
<!DOCTYPE html PUBLIC "-//W3C//DTD XHTML 1.0 Strict//EN"
 "http://www.w3.org/TR/xhtml1/DTD/xhtml1-strict.dtd">
<html>
  <head>
    <title>503 {response}</title>
  </head>
  <body>
    <h1>Error 503 {response}</h1>
    <p>{response}</p>
    <h3>Guru Mediation:</h3>
    <p>Details: cache-fty21322-FTY 1572876932 1094470780</p>
    <hr>
    <p>Varnish cache server</p>
  </body>
</html>
"""


FASTLY_HEADERS: Headers = (  # 2.8: via varnish, x-served-by, x-cache, x-cache-hits, x-timer
    ("via", "1.1 varnish"),
    ("x-served-by", "cache-fty21322-FTY"),
    ("x-cache", "MISS"),
    ("x-cache-hits", "0"),
    ("x-timer", "S1572876917.018538,VS0,VE15007"),
)
FASTLY_503_HEADERS: Headers = (
    ("Content-Type", "text/html; charset=utf-8"),
    ("Retry-After", "0"),
    ("Via", "1.1 varnish"),
    ("X-Served-By", "cache-fty21322-FTY"),
    ("X-Cache", "MISS"),
    ("X-Cache-Hits", "0"),
    ("X-Timer", "S1572876932.123456,VS0,VE15001"),
)
"""2.8: a second capture's headers on the synthetic 503: Content-Type, Retry-After, title case."""

VARNISH_503 = """<!DOCTYPE html>
<html>
  <head>
    <title>503 Backend fetch failed</title>
  </head>
  <body>
    <h1>Error 503 Backend fetch failed</h1>
    <p>Backend fetch failed</p>
    <h3>Guru Meditation:</h3>
    <p>XID: 32770</p>
    <hr>
    <p>Varnish cache server</p>
  </body>
</html>
"""
"""2.8: self-hosted Varnish's synthetic "Backend fetch failed", spelt "Guru Meditation"."""


# --- 2.9 Akamai ------------------------------------------------------------------------------

AKAMAI_ENCODED = """<HTML><HEAD>
<TITLE>Service Unavailable</TITLE>
</HEAD><BODY>
<H1>Service Unavailable</H1>
An error occurred while processing your request.<p>
Reference&#32;&#35;18&#46;53b06c9&#46;1785874538&#46;b92b78a6
<P>https&#58;&#47;&#47;errors&#46;edgesuite&#46;net&#47;18&#46;53b06c9&#46;1785874538&#46;b92b78a6</P>
</BODY></HTML>
"""
"""2.9: the entity-encoded Reference and errors.edgesuite.net link."""
AKAMAI_DECODED_TIMEOUT = """<HTML><HEAD>
<TITLE>Gateway Timeout</TITLE>
</HEAD><BODY>
<H1>Gateway Timeout</H1>
Reference #1.53b06c9.1785874538.b92b78a6
</BODY></HTML>
"""
"""2.9: a decoded Reference with the 1.xx (ERR_READ_TIMEOUT) prefix."""


# --- 2.10 Google, 2.11 Azure Front Door ------------------------------------------------------

GOOGLE_502 = """<!DOCTYPE html>
<html lang=en>
  <meta charset=utf-8>
  <title>Error 502 (Server Error)!!1</title>
  <a href=//www.google.com/><span id=logo aria-label=Google></span></a>
  <p><b>502.</b> That’s an error.
  <p>The server encountered a temporary error and could not complete your request.<p>Please try \
again in 30 seconds.  <ins>That’s all we know.</ins>
"""
"""2.10: the Google Front End error page, U+2019 apostrophes."""

AFD_PAGE = """<!DOCTYPE html>
<html>
<head><title>Service unavailable</title></head>
<body>
<h2>Our services aren't available right now</h2>
<p>Ref A: 0D0F6A2B3C4D4E5F Ref B: FRA31EDGE0812 Ref C: 2024-05-01T10:00:00Z</p>
</body>
</html>
"""
"""2.11: Azure Front Door's own "Our services aren't available right now" page."""
AFD_HEADERS: Headers = (  # 2.11: X-Azure-Ref
    ("X-Azure-Ref", "0nH4yZgAAAAD1k2a9Ew7uQ5hFa2bC3dE4fG5h"),
    ("X-Cache", "CONFIG_NOCACHE"),
)


# --- 2.13 Heroku router ----------------------------------------------------------------------

_HEROKU_ROUTER: Headers = (("Server", "Heroku"), ("Via", "1.1 heroku-router"))
_HEROKU_NEL = ("Nel", '{"report_to":"heroku-nel","max_age":3600,"success_fraction":0.005}')
HEROKU_HEADERS: Headers = (
    *_HEROKU_ROUTER,
    (
        "Report-To",
        '{"group":"heroku-nel","max_age":3600,"endpoints":[{"url":"https://nel.heroku.com/reports"}]}',
    ),
    _HEROKU_NEL,
)
"""2.13: Server: Heroku, Via: 1.1 heroku-router, Report-To and Nel."""
HEROKU_HTML_HEADERS: Headers = (
    *_HEROKU_ROUTER,
    ("Content-Type", "text/html; charset=utf-8"),
    ("Cache-Control", "no-cache, no-store"),
    _HEROKU_NEL,
)
"""2.13: a second capture's headers: Content-Type and Cache-Control, no Report-To."""

_HEROKU_SENTENCE = (
    "An error occurred in the application and your page could not be served. If you are the "
    "application owner, check your logs for details. You can do this from the Heroku CLI with the "
    "command"
)


def heroku_page(heading: str, *, pre: bool = False) -> str:
    """Heroku's Application Error page (2.13); ``pre`` puts the command in its own <pre> block."""
    if pre:
        text = f"<p>{_HEROKU_SENTENCE}</p>\n    <pre>heroku logs --tail</pre>"
    else:
        text = f"<p>{_HEROKU_SENTENCE} <code>heroku logs --tail</code></p>"
    return f"""<!DOCTYPE html>
<html>
  <head>
    <meta name="viewport" content="width=device-width, initial-scale=1">
    <meta charset="utf-8">
    <title>Application Error</title>
  </head>
  <body>
    <h1>{heading}</h1>
    {text}
  </body>
</html>
"""


HEROKU_PAGE = heroku_page("Application Error")  # 2.13: heading as the title, inline <code>
HEROKU_PAGE_WITH_PRE = heroku_page("Application error", pre=True)  # 2.13: "Application error"


# --- 2.18 Envoy / Istio ----------------------------------------------------------------------

ENVOY_HEADERS: Headers = (("content-type", "text/plain"), ("server", "envoy"))  # 2.18 local reply
ENVOY_SERVER_FIRST_HEADERS: Headers = (("server", "envoy"), ("content-type", "text/plain"))  # 2.18


def envoy_reset(reason: str, transport: str | None = None, *, retried: bool = False) -> str:
    """Envoy's "upstream connect error" local reply (2.18), with the transport reason if known."""
    retry = "retried and the latest " if retried else ""
    tail = "" if transport is None else f", transport failure reason: {transport}"
    return f"upstream connect error or disconnect/reset before headers. {retry}reset reason: {reason}{tail}"


ENVOY_REFUSED = envoy_reset("remote connection failure", "delayed connect error: 111")
"""2.18 / 3.2: connection refused, flag UF."""


# --- 2.19 HAProxy ----------------------------------------------------------------------------

HAPROXY_502 = (  # 2.19 http_err_msgs[], content-length 107
    "<html><body><h1>502 Bad Gateway</h1>\n"
    "The server returned an invalid or incomplete response.\n</body></html>\n"
)
HAPROXY_503 = (  # 2.19 http_err_msgs[], content-length 107
    "<html><body><h1>503 Service Unavailable</h1>\n"
    "No server is available to handle this request.\n</body></html>\n"
)
HAPROXY_504 = (  # 2.19 http_err_msgs[], content-length 92
    "<html><body><h1>504 Gateway Time-out</h1>\n"
    "The server didn't respond in time.\n</body></html>\n"
)


# --- 2.20 Traefik ----------------------------------------------------------------------------

TRAEFIK_HEADERS: Headers = (("Content-Type", "text/plain; charset=utf-8"),)  # 2.20, no Server


# --- 2.22 Apache httpd mod_proxy -------------------------------------------------------------

APACHE_SERVER = "Apache/2.4.62 (Debian)"
_APACHE_DOCTYPE = (
    '<!DOCTYPE HTML PUBLIC "-//W3C//DTD HTML 4.01//EN" "http://www.w3.org/TR/html4/strict.dtd">\n'
)


def apache_headers(server: str = APACHE_SERVER) -> Headers:
    """Apache's headers on its own error page (2.22)."""
    return (("Server", server), ("Content-Type", "text/html; charset=iso-8859-1"))


def _apache_signature(server: str, port: int) -> str:
    return f"<hr>\n<address>{server} Server at shop.example.com Port {port}</address>\n"


def apache_proxy_error(
    status: int, reason: str, *, server: str = APACHE_SERVER, port: int = 443
) -> str:
    """An ``ap_proxyerror`` page (2.22): "NNN Proxy Error" with the reason in <strong>."""
    canned = (
        "<p>The proxy server received an invalid\r\nresponse from an upstream server.<br />\r\n"
        if status == 502
        else ""
    )
    return (
        f"{_APACHE_DOCTYPE}<html><head>\n<title>{status} Proxy Error</title>\n</head><body>\n"
        f"<h1>Proxy Error</h1>\n{canned}The proxy server could not handle the request"
        f"<p>Reason: <strong>{reason}</strong></p></p>\n{_apache_signature(server, port)}"
        "</body></html>\n"
    )


APACHE_503 = (  # 2.22: the canned 503 text, as a connect failure (AH01114) sends it
    f"{_APACHE_DOCTYPE}<html><head>\n<title>503 Service Unavailable</title>\n</head><body>\n"
    "<h1>Service Unavailable</h1>\n<p>The server is temporarily unable to service your\n"
    "request due to maintenance downtime or capacity\nproblems. Please try again later.</p>\n"
    f"{_apache_signature(APACHE_SERVER, 443)}</body></html>\n"
)

_APACHE_2_4_57 = "Apache/2.4.57 (Debian)"
APACHE_2_4_57_HEADERS = apache_headers(_APACHE_2_4_57)  # 2.22, an older server's capture
APACHE_2_4_57_502 = apache_proxy_error(  # 2.22: "Error reading from remote server", port 80
    502, "Error reading from remote server", server=_APACHE_2_4_57, port=80
)


# --- 2.23 Kong -------------------------------------------------------------------------------

KONG_502_MESSAGE = "An invalid response was received from the upstream server"


def kong_json(message: str, request_id: str) -> str:
    """Kong's JSON error body (2.23): message and request_id."""
    return f'{{\n  "message":"{message}",\n  "request_id":"{request_id}"\n}}'


_KONG_ID = "6c1f1e0b2d3a4c5e7f80"
KONG_HEADERS: Headers = (("Server", "kong/3.6.1"), ("X-Kong-Request-Id", _KONG_ID))  # 2.23
KONG_JSON_502 = kong_json(KONG_502_MESSAGE, _KONG_ID)  # 2.23: Kong's message for every 502
KONG_PLAIN_503 = f"failure to get a peer from the ring-balancer\nrequest_id: {_KONG_ID}\n"
"""2.23: the plain-text balancer error, all targets unhealthy."""
KONG_HTML_504 = f"""<!doctype html>
<html>
  <head>
    <meta charset="utf-8">
    <title>Error</title>
  </head>
  <body>
    <h1>Error</h1>
    <p>The upstream server is timing out.</p>
    <p>request_id: {_KONG_ID}</p>
  </body>
</html>
"""
"""2.23: the HTML error body for 504."""

_KONG_3_4_ID = "5f2a7c1e9b3d4a6f8e0c2b4d"
KONG_3_4_HEADERS: Headers = (  # 2.23, an older Kong's capture with Content-Type
    ("Server", "kong/3.4.2"),
    ("Content-Type", "application/json; charset=utf-8"),
    ("X-Kong-Request-Id", _KONG_3_4_ID),
)
KONG_3_4_JSON_502 = kong_json(KONG_502_MESSAGE, _KONG_3_4_ID)  # 2.23, the same capture's body


# --- Variants without the usual footer, and the origin's own 502 passed through -------------
# docs/fingerprints.md, "Marks by gateway": a platform's page that lost its footer (an older
# template, a localised copy, a custom page on top of the platform) still carries the platform's
# other marks; an origin's 502 that the platform only relayed carries its relay marks and none of
# its error marks.


def without(page: str, *parts: str) -> str:
    """``page`` with each of ``parts`` cut out; each must be there, so the variant really differs."""
    for part in parts:
        assert part in page, part
        page = page.replace(part, "")
    return page


ORIGIN_502_JSON = '{"error": "upstream database unavailable", "retry": true}\n'
"""The application's own 502: JSON no platform writes."""
ORIGIN_HEADERS: Headers = (("Server", "gunicorn"), ("Content-Type", "application/json"))
"""The application server's headers on its own 502."""

CLOUDFLARE_521_LOCALISED = without(
    cloudflare_page(521, "Webserver ist nicht erreichbar"),
    f'    <div class="clearfix footer">\n      <span>{_CF_RAY_FOOTER}</span>\n    </div>\n',
    '      <div>Visit <a href="https://www.cloudflare.com/5xx-error-landing?utm_source=errorcode_521"'
    '\n        target="_blank" rel="noopener noreferrer">cloudflare.com</a> for more information.'
    "</div>\n",
)
"""2.1: the current template, title in German, without the Ray ID footer and cloudflare.com link."""

CLOUDFRONT_502_NO_FOOTER = without(
    cloudfront_page("CloudFront wasn't able to connect to the origin."),
    f"<PRE>\nGenerated by cloudfront (CloudFront)\nRequest ID: {CLOUDFRONT_REQUEST_ID}\n</PRE>\n",
)
"""2.4: CloudFront's page without its "Generated by cloudfront" block."""
CLOUDFRONT_RELAYED_HEADERS: Headers = (
    *ORIGIN_HEADERS,
    ("X-Cache", "Error from cloudfront"),
    ("Via", "1.1 5f4e3d2c1b0a99887766554433221100.cloudfront.net (CloudFront)"),
    ("X-Amz-Cf-Pop", "FRA56-P5"),
    ("X-Amz-Cf-Id", CLOUDFRONT_REQUEST_ID),
)
"""2.4: what CloudFront adds to an origin's error it relays ("Error from cloudfront" too)."""

FASTLY_CUSTOM_503 = """<!DOCTYPE html>
<html>
  <head>
    <title>503 first byte timeout</title>
  </head>
  <body>
    <h1>Sorry, the shop is taking too long to answer.</h1>
  </body>
</html>
"""
"""2.8: a vcl_error page of the service's own, keeping Fastly's title, no Guru Mediation."""

AKAMAI_NO_REFERENCE = without(
    AKAMAI_ENCODED,
    "Reference&#32;&#35;18&#46;53b06c9&#46;1785874538&#46;b92b78a6\n",
    "<P>https&#58;&#47;&#47;errors&#46;edgesuite&#46;net&#47;18&#46;53b06c9&#46;1785874538"
    "&#46;b92b78a6</P>\n",
)
"""2.9: Akamai's page without the reference and the errors.edgesuite.net line."""
AKAMAI_HEADERS: Headers = (
    ("Server", "AkamaiGHost"),
    ("Mime-Version", "1.0"),
    ("Content-Type", "text/html"),
)
"""2.9: the headers on Akamai's own error."""

AFD_PAGE_LOCALISED = AFD_PAGE.replace(
    "Our services aren't available right now", "Unsere Dienste sind derzeit nicht verfügbar"
)
"""2.11: Front Door's page with its sentence in German; the Ref A/B/C line stays."""

GCLB_502 = """<html><head>
<meta http-equiv="content-type" content="text/html;charset=utf-8">
<title>502 Server Error</title>
</head>
<body text=#000000 bgcolor=#ffffff>
<h1>Error: Server Error</h1>
<h2>The server encountered a temporary error and could not complete your request.\
<p>Please try again in 30 seconds.</h2>
<h2></h2>
</body></html>
"""
"""2.10: the load balancer's own plain page: no robot, no "That's all we know." footer."""
GCLB_HEADERS: Headers = (("Content-Type", "text/html; charset=UTF-8"), ("Via", "1.1 google"))

APP_GATEWAY_HEADERS: Headers = (
    ("Server", "Microsoft-Azure-Application-Gateway/v2"),
    ("Content-Type", "text/html"),
)
"""2.12: Application Gateway's Server header."""

ELB_AT_CAPACITY_REASON = "Service Unavailable: Back-end server is at capacity"
"""2.3: the Classic ELB's 503 reason phrase; the body is empty."""
ELB_EMPTY_HEADERS: Headers = (("Content-Length", "0"), ("Connection", "keep-alive"))

HEROKU_FRAMED_PAGE = """<!DOCTYPE html>
<html>
  <head>
    <meta name="viewport" content="width=device-width, initial-scale=1">
    <meta charset="utf-8">
    <title>Application Error</title>
    <style media="screen">
      html,body,iframe { margin: 0; padding: 0; }
      html,body { height: 100%; overflow: hidden; }
      iframe { width: 100%; height: 100%; border: 0; }
    </style>
  </head>
  <body>
    <iframe src="//www.herokucdn.com/error-pages/application-error.html"></iframe>
  </body>
</html>
"""
"""2.13: Heroku's older page, the error text in a frame: no sentence, no log command."""

KONG_LOCALISED_504 = without(
    KONG_HTML_504.replace("The upstream server is timing out.", "Der Upstream antwortet nicht."),
    "<title>Error</title>",
)
"""2.23: a custom Kong template in German, still echoing the request id."""

VARNISH_CUSTOM_REASON = "Backend fetch failed"
"""2.8: Varnish's reason phrase on its synthetic 503, whatever vcl_backend_error writes."""
VARNISH_CUSTOM_503 = "<h1>We'll be right back.</h1>\n"
VARNISH_HEADERS: Headers = (
    ("Server", "Varnish"),
    ("X-Varnish", "32770"),
    ("Retry-After", "5"),
    ("Content-Type", "text/html; charset=utf-8"),
)
"""2.8: the headers of self-hosted Varnish's synthetic response."""
VARNISH_RELAYED_HEADERS: Headers = (
    *ORIGIN_HEADERS,
    ("X-Varnish", "32771 32768"),
    ("Age", "0"),
    ("Via", "1.1 varnish (Varnish/7.1)"),
)
"""2.8: what Varnish adds to a backend's response it relays."""

APACHE_502_NO_SIGNATURE = without(
    apache_proxy_error(502, "Error reading from remote server"),
    _apache_signature(APACHE_SERVER, 443),
)
"""2.22: ``ServerSignature Off``: the page without its <address> line."""

NGINX_OLD_502 = nginx_page("502 Bad Gateway", "nginx/1.14.0", old=True)
"""2.16: the pre-1.15.4 template (bgcolor), the footer nginx always writes."""
