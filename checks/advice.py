"""Concrete next steps for a diagnosed cause, tuned to the gateway that answered and the hop.

The advice is data, not code: three tables, combined by :func:`next_steps`.

* ``_BY_CAUSE``: what to do for each of the seven causes, written "from the origin outward"
  (the guide's rule: check the app first, then the proxy, then the path between them).
* ``_BY_GATEWAY``: extra steps keyed by ``(gateway id, cause)``, naming the platform's own log,
  console, directive or command. The rows spell the ids as strings (``"nginx"``, ``"aws_alb"``);
  they are parsed once, at import, into the typed ids of :mod:`checks.gateways`, so a misspelt
  id stops the import. Looking up an id no row names simply adds nothing.
* ``PHRASE_STEPS``: steps keyed by what a matched log phrase says happened (a keep-alive race,
  a killed worker, a full pool...). ``explain`` leads with them, so the first step fits the phrase
  that matched rather than the cause in general; the live verdict uses the same steps when it sees
  the same thing (``phrase_steps("keepalive_race")``).
* ``_BY_HOP``: steps keyed by ``(hop, cause)``. An ``EDGE_TO_ORIGIN`` break points at the path
  from the proxy or CDN to the origin (allow-lists, security groups, the upstream address and the
  name the proxy resolves); an ``ORIGIN`` break points at the app itself; an ``EDGE`` break at the
  public name and the edge's own certificate.

Placeholders are written in capitals (``PORT``, ``HOST``, ``ORIGIN``) or angle brackets
(``<app>``) so a reader can tell what to substitute.
"""

from __future__ import annotations

from collections.abc import Mapping

from checks.gateways import Source, parse_source
from checks.model import Cause, Hop

__all__ = ["MAX_STEPS", "PHRASE_STEPS", "next_steps", "phrase_steps"]

MAX_STEPS = 6
"""The most steps :func:`next_steps` returns; a short list gets read, a long one skimmed."""

_MAX_GATEWAY_STEPS = 3
_MAX_HOP_STEPS = 3

_RESTART_UPSTREAM = (
    "Restart the upstream, not the proxy: `systemctl restart php-fpm`, `pm2 restart <app>` "
    "or `docker compose restart app`, whichever runs the app."
)
_PROXY_LOG = (
    "Read the proxy's error log while you reproduce: `tail -f /var/log/nginx/error.log` and look "
    "for the word `upstream`; the clause after it names the failure."
)
_LISTENING = "On the origin, check the app is listening: `ss -tlnp | grep :PORT`."
_BYPASS = (
    "Bypass the CDN to compare: `curl -v --resolve HOST:443:ORIGIN_IP https://HOST/`; 200 there "
    "but 502 publicly means the CDN-to-origin link is broken."
)
_FROM_PROXY = (
    "From the proxy host (not your laptop), call the origin exactly as the proxy does: "
    "`curl -v http://<upstream-host>:PORT/`."
)
_OPENSSL = (
    "Inspect the certificate the origin presents: "
    "`openssl s_client -connect ORIGIN:443 -servername HOST`."
)
_CF_IPS = (
    "Allow-list Cloudflare's IP ranges (https://www.cloudflare.com/ips/) in iptables/ufw and any "
    "cloud security group in front of the origin."
)

_BY_CAUSE: Mapping[Cause, tuple[str, ...]] = {
    Cause.ORIGIN_DOWN: (
        _LISTENING,
        "Find the process and call it locally: `ps aux | grep -i node` (or php-fpm, gunicorn, "
        "puma), then `curl -v http://127.0.0.1:PORT/health`.",
        "Read the app's own logs for the crash: `journalctl -u <app> -n 200`, `pm2 logs <app>` "
        "or `docker compose logs app`.",
        _RESTART_UPSTREAM,
        "Check the bind address: the app must listen where the proxy dials (0.0.0.0 or the "
        "private IP), not only on 127.0.0.1.",
        "Let a process manager restart it on crash: systemd `Restart=always`, pm2, or "
        "Kubernetes `restartPolicy: Always`.",
    ),
    Cause.WORKERS_EXHAUSTED: (
        "Check whether every worker is busy: PHP-FPM logs `server reached pm.max_children`; "
        "look at the status page (`pm.status_path`) or the app server's worker stats.",
        "Raise the pool to fit memory: `pm.max_children` (PHP-FPM), gunicorn `--workers`, puma "
        "`workers`/`threads`, Passenger `max_pool_size`.",
        "Find what keeps workers busy: slow queries, locks, calls to external services.",
        "Check the accept queue on the origin: `ss -ltn` (Recv-Q near Send-Q means a full "
        "backlog); raise `listen.backlog` / `net.core.somaxconn` only after fixing the slow path.",
        _RESTART_UPSTREAM,
    ),
    Cause.FIREWALL: (
        _FROM_PROXY,
        "Check the origin's firewall for the proxy's source address: `iptables -L -n -v`, "
        "`ufw status`, and the cloud security group / network ACL on PORT.",
        "If a CDN sits in front, allow-list its published IP ranges on the origin.",
        "Check the route from the proxy: `ip route get ORIGIN_IP` and "
        "`traceroute -T -p PORT ORIGIN_IP`.",
        "A full accept queue also drops SYNs: on the origin, `ss -ltn` (Recv-Q vs Send-Q).",
    ),
    Cause.DNS: (
        "Resolve the upstream name as the proxy does, on the proxy host: "
        "`dig +trace <upstream-host>` and `dig @<resolver> <upstream-host>`.",
        "Check recent DNS changes: the record exists, points at the current origin, and its TTL "
        "has expired everywhere.",
        "nginx resolves static upstream names only at start or reload; with a variable in "
        "`proxy_pass` it needs `resolver <dns-ip> valid=30s;`.",
        "In Kubernetes, check the Service name and namespace, then CoreDNS: "
        "`kubectl -n kube-system logs -l k8s-app=kube-dns`.",
    ),
    Cause.TIMEOUT: (
        "Time the origin directly: `curl -o /dev/null -s -w '%{time_starttransfer}s\\n' "
        "http://127.0.0.1:PORT/the-slow-path`.",
        "Find the slow endpoint: slow queries, locks, external calls, or CPU saturation under "
        "load.",
        "Raise the proxy's read timeout only to confirm (nginx `proxy_read_timeout`, PHP "
        "`fastcgi_read_timeout`), then fix the endpoint and put the timeout back.",
        "Keep the app server's own timeout (gunicorn `--timeout`, PHP `max_execution_time`) "
        "consistent with the proxy's.",
        "Move long work (exports, reports) to a background job and return early.",
    ),
    Cause.TLS: (
        _OPENSSL,
        "Check dates and names: `openssl s_client -connect ORIGIN:443 -servername HOST "
        "</dev/null | openssl x509 -noout -dates -subject -ext subjectAltName`.",
        "Renew the certificate, then reload whatever serves it (`systemctl reload nginx`, "
        "`systemctl reload haproxy`) so the new file is actually used.",
        "Make sure the proxy sends SNI and trusts the issuer (nginx `proxy_ssl_server_name on;`, "
        "`proxy_ssl_name`, `proxy_ssl_trusted_certificate`, `proxy_ssl_verify`).",
        "Make sure TLS goes to a TLS port: an `https://` upstream on the app's plain-HTTP port "
        "fails with `wrong version number`.",
    ),
    Cause.PROTOCOL: (
        "Look at the raw response from the origin: `curl -v --http1.1 http://127.0.0.1:PORT/` "
        "(header size, status line, chunked encoding).",
        "For large headers or cookies raise the proxy buffers: nginx `proxy_buffer_size 16k; "
        "proxy_buffers 8 16k;` (`fastcgi_buffer_size` for PHP-FPM).",
        "Speak HTTP/1.1 with keep-alive to the upstream: nginx `proxy_http_version 1.1;` and "
        '`proxy_set_header Connection "";`.',
        "Set the app's keep-alive timeout longer than the proxy's idle timeout to avoid the "
        "keep-alive race (e.g. Node `server.keepAliveTimeout = 65000`).",
        "Check for workers killed mid-request: `dmesg -T | grep -i -e oom -e killed` and the "
        "app server's worker timeout.",
    ),
    Cause.UNKNOWN: (
        "Diagnose from the origin outward: on the origin, `ss -tlnp | grep :PORT` and "
        "`curl -v http://127.0.0.1:PORT/`.",
        _PROXY_LOG,
        _BYPASS,
        "Note how fast it fails: instantly means refused or crashed; after a round number of "
        "seconds means a timeout (a 504 in disguise).",
        "Check what changed last: deploys, certificate renewals, DNS records, firewall rules.",
    ),
}

_BY_GATEWAY: Mapping[tuple[str, Cause], tuple[str, ...]] = {
    # nginx, plain and in Kubernetes
    ("nginx", Cause.ORIGIN_DOWN): (
        "In `tail -f /var/log/nginx/error.log`, `connect() failed (111: Connection refused)` "
        "means nothing listens at the `upstream:` address.",
        "Compare the `proxy_pass` / `upstream` address with `ss -tlnp` on the origin.",
    ),
    ("nginx", Cause.WORKERS_EXHAUSTED): (
        "`(11: Resource temporarily unavailable)` on a unix socket means the PHP-FPM listen queue "
        "is full: raise `pm.max_children` in the pool file (`/etc/php/*/fpm/pool.d/www.conf`).",
        "If nginx logs `worker_connections are not enough`, raise `worker_connections` and "
        "`worker_rlimit_nofile`.",
    ),
    ("nginx", Cause.FIREWALL): (
        "`upstream timed out (110) while connecting to upstream` means SYNs are dropped between "
        "nginx and the upstream: check firewalls and security groups on that path.",
        "Set `proxy_connect_timeout 10s;` so a blocked path fails fast instead of after 60 s.",
    ),
    ("nginx", Cause.DNS): (
        "For `no resolver defined`, add `resolver 127.0.0.53 valid=30s;` (or your VPC / "
        "kube-dns address) to the `http{}` block.",
        "Run `nginx -t`: `host not found in upstream` means a static name failed at load time.",
    ),
    ("nginx", Cause.TIMEOUT): (
        "Raise `proxy_read_timeout` (or `fastcgi_read_timeout` for PHP-FPM) temporarily; if the "
        "502/504 goes away, the endpoint is slow.",
    ),
    ("nginx", Cause.TLS): (
        "Set `proxy_ssl_server_name on;` and `proxy_ssl_name HOST;`, and point "
        "`proxy_ssl_trusted_certificate` at the issuer when `proxy_ssl_verify on;`.",
        "After the upstream's certificate is renewed, reload it there; reload nginx only if "
        "nginx holds the certificate.",
    ),
    ("nginx", Cause.PROTOCOL): (
        "For `upstream sent too big header`, set `proxy_buffer_size 16k;` and "
        "`proxy_buffers 8 16k;` (FastCGI: `fastcgi_buffer_size 32k;`).",
        'Add `proxy_http_version 1.1;` and `proxy_set_header Connection "";` for keep-alive '
        "upstreams.",
    ),
    ("ingress_nginx", Cause.ORIGIN_DOWN): (
        "Check the Service has ready endpoints: `kubectl get endpoints <svc>` and "
        "`kubectl get pods -l <selector>` (readiness probes).",
        "Read the controller log: `kubectl -n ingress-nginx logs deploy/ingress-nginx-controller`.",
    ),
    ("ingress_nginx", Cause.TIMEOUT): (
        "Raise `nginx.ingress.kubernetes.io/proxy-read-timeout` on the Ingress only to confirm "
        "the backend is slow.",
    ),
    ("ingress_nginx", Cause.PROTOCOL): (
        "Set `nginx.ingress.kubernetes.io/proxy-buffer-size: 16k` for large upstream headers.",
        "Use `nginx.ingress.kubernetes.io/backend-protocol` (HTTP, HTTPS, GRPC) matching the pod.",
    ),
    ("ingress_nginx", Cause.TLS): (
        "With `backend-protocol: HTTPS`, check `proxy-ssl-verify` / `proxy-ssl-secret` "
        "annotations against the pod's certificate.",
    ),
    ("kubernetes", Cause.ORIGIN_DOWN): (
        "`has no endpoints` means no ready pod backs the Service: `kubectl get endpoints <svc>`, "
        "then `kubectl describe pod` for failing readiness probes.",
    ),
    ("kubernetes", Cause.FIREWALL): (
        "`has no local endpoints` with `externalTrafficPolicy: Local` drops traffic on nodes "
        "without a pod: spread pods or use `Cluster`.",
        "Check NetworkPolicies between the ingress namespace and the app.",
    ),
    # Cloudflare
    ("cloudflare", Cause.ORIGIN_DOWN): (
        "521: start the web server and check it listens on 443 (Full mode) or 80: "
        "`ss -tlnp | grep -E ':(80|443)'`.",
        _CF_IPS,
        "For 530/1033 (Tunnel), check `systemctl status cloudflared` and its logs.",
    ),
    ("cloudflare", Cause.FIREWALL): (
        _CF_IPS,
        "522/523: check the DNS record in the Cloudflare dashboard points at the current origin "
        "IP, and that the origin is reachable on 80/443.",
    ),
    ("cloudflare", Cause.WORKERS_EXHAUSTED): (
        "522 also appears when an overloaded origin stops accepting: check its accept queue "
        "and worker pool.",
        _CF_IPS,
    ),
    ("cloudflare", Cause.DNS): (
        "530/1016: fix the origin DNS record (A/AAAA or CNAME target) in the Cloudflare dashboard "
        "so it resolves: `dig +trace <origin-name>`.",
    ),
    ("cloudflare", Cause.TIMEOUT): (
        "524: Cloudflare waits 120 s for the first byte; make the endpoint answer sooner or move "
        "the work to a background job.",
        _BYPASS,
    ),
    ("cloudflare", Cause.TLS): (
        "525/526 (Full or Full strict): install a valid certificate for HOST on the origin "
        "(a Cloudflare Origin CA certificate works) and make sure port 443 speaks TLS with SNI.",
        _OPENSSL,
    ),
    ("cloudflare", Cause.PROTOCOL): (
        "520: look in the origin's logs at the Ray ID's timestamp for crashes, empty replies or "
        "headers over 128 KB; try disabling HTTP/2 to origin.",
        _BYPASS,
    ),
    ("cloudflare", Cause.UNKNOWN): (
        "A branded Cloudflare 502 page means the origin itself returned 502: read the origin "
        "proxy's error log for the same timestamp.",
        _BYPASS,
    ),
    # AWS
    ("aws_alb", Cause.ORIGIN_DOWN): (
        "Check target health: `aws elbv2 describe-target-health --target-group-arn <arn>` "
        "(or the Targets tab in the console).",
        "Check the target group port and health-check path match where the app listens.",
    ),
    ("aws_alb", Cause.PROTOCOL): (
        "Set the target's keep-alive timeout above the ALB idle timeout (default 60 s), e.g. "
        "Node `server.keepAliveTimeout = 65000`, gunicorn `--keep-alive 65`.",
        "Check the target's response headers are valid and under 32 KB.",
    ),
    ("aws_alb", Cause.FIREWALL): (
        "The targets' security group must allow the ALB's security group on the target port; "
        "network ACLs must allow the ephemeral ports 1024-65535 back.",
    ),
    ("aws_alb", Cause.TIMEOUT): (
        "Compare the target's processing time with the ALB idle timeout "
        "(`idle_timeout.timeout_seconds`, default 60 s) in the access log.",
    ),
    ("aws_alb", Cause.TLS): (
        "HTTPS targets must complete the TLS handshake within 10 s: check the target's "
        "certificate and ciphers with `openssl s_client`.",
    ),
    ("aws_elb", Cause.ORIGIN_DOWN): (
        "Check instance health: `aws elb describe-instance-health --load-balancer-name <name>`.",
    ),
    ("aws_elb", Cause.WORKERS_EXHAUSTED): (
        "`Back-end server is at capacity`: watch `SurgeQueueLength` / `SpilloverCount` and add "
        "capacity or healthy instances.",
    ),
    ("aws_elb", Cause.PROTOCOL): (
        "Set the instance keep-alive timeout above the ELB idle timeout (default 60 s).",
    ),
    ("cloudfront", Cause.ORIGIN_DOWN): (
        "Check the origin domain name, protocol and port in the distribution's Origins settings.",
        "Allow CloudFront on the origin (managed prefix list "
        "`com.amazonaws.global.cloudfront.origin-facing`).",
    ),
    ("cloudfront", Cause.FIREWALL): (
        "Allow CloudFront on the origin's security group (managed prefix list "
        "`com.amazonaws.global.cloudfront.origin-facing`).",
    ),
    ("cloudfront", Cause.DNS): (
        "The origin domain name must resolve publicly: `dig +trace <origin-domain>`.",
    ),
    ("cloudfront", Cause.TLS): (
        "The origin certificate must match the Origin domain (or Host header) and chain to a "
        "public CA; CloudFront rejects self-signed or expired certificates.",
    ),
    ("cloudfront", Cause.TIMEOUT): (
        "Compare the origin's response time with the Origin response timeout (default 30 s).",
    ),
    ("aws_api_gateway", Cause.TIMEOUT): (
        "API Gateway stops waiting after 29 s (REST) / 30 s (HTTP API): make the integration "
        "answer sooner or go asynchronous.",
    ),
    ("aws_api_gateway", Cause.ORIGIN_DOWN): (
        "Read the integration's logs (the Lambda's CloudWatch log group) and enable "
        "`$context.integrationErrorMessage` in access logs.",
    ),
    # Serverless platforms and PaaS
    ("vercel", Cause.ORIGIN_DOWN): (
        "Open the function logs (dashboard → Logs, or `vercel logs <deployment-url>`): the "
        "function threw or ran out of memory.",
        "Fix the function, not the edge: this is origin-side.",
    ),
    ("vercel", Cause.TIMEOUT): (
        "Raise `maxDuration` for the function (vercel.json or the route config) only after "
        "finding why it is slow.",
    ),
    ("vercel", Cause.WORKERS_EXHAUSTED): (
        "`FUNCTION_THROTTLED`: check the project's concurrency limits and traffic spikes.",
    ),
    ("vercel", Cause.PROTOCOL): (
        "Return a string or Buffer body within the response size limit from the function; "
        "read the function logs for the bad response.",
    ),
    ("vercel", Cause.DNS): (
        "Check the external rewrite target's hostname resolves: `dig +trace <target-host>`.",
    ),
    ("netlify", Cause.TIMEOUT): (
        "Netlify Functions stop after 10 s by default: shorten the work or use a background "
        "function.",
    ),
    ("netlify", Cause.ORIGIN_DOWN): (
        "Read the function log in the Netlify UI (Logs → Functions).",
    ),
    ("heroku", Cause.ORIGIN_DOWN): (
        "Run `heroku logs --tail` and `heroku ps`; restart with `heroku ps:restart web`.",
        "Bind the web process to `$PORT` on 0.0.0.0 within 60 s of boot.",
    ),
    ("heroku", Cause.TIMEOUT): (
        "The router gives up after 30 s to first byte (H12): move long work to a worker dyno.",
    ),
    ("heroku", Cause.WORKERS_EXHAUSTED): (
        "Scale out (`heroku ps:scale web=2`) or raise the app server's concurrency.",
    ),
    ("heroku", Cause.PROTOCOL): (
        "Run `heroku logs --tail` around the request: the dyno sent a malformed response or "
        "closed the socket mid-request.",
    ),
    ("fly", Cause.ORIGIN_DOWN): (
        "Run `fly logs` and `fly status`; the app must listen on 0.0.0.0 (or ::) at the "
        "`internal_port` in fly.toml.",
    ),
    ("fly", Cause.WORKERS_EXHAUSTED): (
        "Raise the service's `concurrency` hard_limit in fly.toml or add Machines "
        "(`fly scale count 2`).",
    ),
    ("render", Cause.ORIGIN_DOWN): (
        "Read the service logs in the Render dashboard; bind to `0.0.0.0:$PORT`, and expect "
        "free instances to spin down.",
    ),
    # CDNs and caches
    ("fastly", Cause.ORIGIN_DOWN): (
        "Check the backend's health check and address in the Fastly service configuration.",
    ),
    ("fastly", Cause.TIMEOUT): (
        "Raise the backend's `first_byte_timeout` (default 15 s) only after finding the slow "
        "endpoint.",
    ),
    ("fastly", Cause.WORKERS_EXHAUSTED): (
        "Raise the backend's `max_conn` or add origin capacity.",
    ),
    ("varnish", Cause.ORIGIN_DOWN): (
        "See backend health with `varnishadm backend.list` and the failing fetches with "
        "`varnishlog -g request -q 'FetchError'`.",
    ),
    ("varnish", Cause.TIMEOUT): (
        "Raise `.first_byte_timeout` / `.between_bytes_timeout` in the backend definition only to "
        "confirm.",
    ),
    ("varnish", Cause.WORKERS_EXHAUSTED): (
        "`busy` means `.max_connections` was reached for the backend: raise it or add capacity.",
    ),
    ("varnish", Cause.PROTOCOL): (
        "Read why the fetch failed: `varnishlog -g request -q 'FetchError'`; `HTC eof` means "
        "the backend closed or reset the connection.",
        "`http format error` from a backend whose response looks valid: its head overflows "
        "Varnish; raise `-p http_max_hdr=256` (64 lines), `-p http_resp_hdr_len=16k` (8k a line) "
        "or `-p http_resp_size=64k` (32k in all).",
    ),
    ("varnish", Cause.FIREWALL): (
        "`FetchError ... fail errno 110` in `varnishlog -g request -q 'FetchError'` is a connect "
        "that timed out after the backend's `.connect_timeout`: packets to it are dropped.",
    ),
    ("varnish", Cause.UNKNOWN): (
        "Find why the fetch failed: `varnishlog -g request -q 'FetchError'`.",
    ),
    ("akamai", Cause.UNKNOWN): (
        "Look up the `Reference #` in Akamai Control Center's error-translation tool.",
    ),
    # Cloud load balancers
    ("google", Cause.ORIGIN_DOWN): (
        "Check backend health: `gcloud compute backend-services get-health <svc> --global`.",
    ),
    ("google", Cause.FIREWALL): (
        "Allow Google's load-balancer ranges 130.211.0.0/22 and 35.191.0.0/16 to the backends.",
    ),
    ("google", Cause.TIMEOUT): (
        "Compare with the backend service timeout (default 30 s): "
        "`gcloud compute backend-services describe <svc> --global`.",
    ),
    ("google", Cause.PROTOCOL): (
        "Set the backend's keep-alive timeout above 600 s (the load balancer's) to avoid the "
        "keep-alive race.",
    ),
    ("azure_front_door", Cause.TIMEOUT): (
        "Compare with the origin response timeout (default 30 s, up to 240 s) in the Front Door "
        "settings.",
    ),
    ("azure_front_door", Cause.TLS): (
        "The origin certificate must match the origin host header and chain to a trusted CA.",
    ),
    ("azure_front_door", Cause.FIREWALL): (
        "Allow the `AzureFrontDoor.Backend` service tag on the origin's network security group.",
    ),
    ("azure_app_gateway", Cause.ORIGIN_DOWN): (
        "Check backend health: `az network application-gateway show-backend-health -g <rg> "
        "-n <gw>`.",
    ),
    ("azure_app_gateway", Cause.FIREWALL): (
        "Check the NSG and UDRs on the backend subnet allow the gateway subnet.",
    ),
    ("azure_app_gateway", Cause.TIMEOUT): (
        "Compare with the backend HTTP settings request timeout (default 20 s).",
    ),
    # Self-hosted proxies
    ("haproxy", Cause.ORIGIN_DOWN): (
        "Read the 4-character termination state in the log (`SC--` = refused) and check servers: "
        "`echo 'show servers state' | socat stdio /run/haproxy/admin.sock`.",
    ),
    ("haproxy", Cause.FIREWALL): (
        "`sC` means `timeout connect` fired: check the firewall from the load balancer to the "
        "server port.",
    ),
    ("haproxy", Cause.TIMEOUT): (
        "`sH` means `timeout server` fired before response headers: find the slow endpoint "
        "before raising `timeout server`.",
    ),
    ("haproxy", Cause.WORKERS_EXHAUSTED): (
        "Check per-server `maxconn`, queue length and `timeout queue`; `PC`/`RC` mean HAProxy "
        "itself ran out of sockets or memory.",
    ),
    ("haproxy", Cause.TLS): (
        "Check the `server ... ssl verify required ca-file ... sni req.hdr(host)` line against "
        "the server's certificate.",
    ),
    ("haproxy", Cause.PROTOCOL): (
        "See the rejected response with `echo 'show errors' | socat stdio "
        "/run/haproxy/admin.sock`.",
    ),
    ("envoy", Cause.ORIGIN_DOWN): (
        "List endpoints and health: `curl -s localhost:15000/clusters` (Istio: "
        "`istioctl proxy-config endpoints <pod>`).",
    ),
    ("envoy", Cause.FIREWALL): (
        "Check the cluster `connect_timeout` and NetworkPolicies between the proxy and the pod.",
    ),
    ("envoy", Cause.WORKERS_EXHAUSTED): (
        "Circuit breakers tripped: check `upstream_rq_pending_overflow` in `/stats` and the "
        "cluster's `max_connections` / `max_pending_requests` (Istio DestinationRule "
        "`connectionPool`).",
    ),
    ("envoy", Cause.TIMEOUT): (
        "The route timeout defaults to 15 s: check the route `timeout` (Istio VirtualService "
        "`timeout`) against the endpoint's real latency.",
    ),
    ("envoy", Cause.TLS): (
        "Check mTLS modes match: PeerAuthentication and DestinationRule `tls.mode` (STRICT vs "
        "DISABLE) on both sides.",
    ),
    ("envoy", Cause.PROTOCOL): (
        "Name Service ports by protocol (`http`, `http2`, `grpc`, or `appProtocol`) so Envoy "
        "speaks the right one to the pod.",
    ),
    ("envoy", Cause.DNS): (
        "Check the cluster's DNS name resolves from the proxy pod: "
        "`kubectl exec <pod> -- nslookup <host>`.",
    ),
    ("traefik", Cause.ORIGIN_DOWN): (
        "Check the service URL and port in Traefik's dynamic configuration and the dashboard's "
        "server health.",
    ),
    ("traefik", Cause.TLS): (
        "Traefik answers 500 on upstream TLS errors: set `serversTransport` `rootCAs` / "
        "`serverName` for the backend.",
    ),
    ("traefik", Cause.TIMEOUT): (
        "Check `serversTransport` `forwardingTimeouts.responseHeaderTimeout`.",
    ),
    ("caddy", Cause.ORIGIN_DOWN): (
        "Check the `reverse_proxy` upstream address and Caddy's log: `journalctl -u caddy -n 100`.",
    ),
    ("caddy", Cause.TLS): (
        "Set `transport http { tls_server_name HOST  tls_trusted_ca_certs <ca.pem> }` for the "
        "upstream.",
    ),
    ("caddy", Cause.TIMEOUT): ("Check `transport http { response_header_timeout }`.",),
    ("apache", Cause.ORIGIN_DOWN): (
        "In `tail -f /var/log/apache2/error.log` look for AH00957 / AH01114 and compare the "
        "`ProxyPass` address with `ss -tlnp` on the backend.",
        "Apache disables a failed worker for 60 s (AH00959): add `retry=0` to `ProxyPass` while "
        "debugging.",
    ),
    ("apache", Cause.TIMEOUT): (
        "Apache reports a slow backend as `502 Proxy Error`: check `ProxyTimeout` or `timeout=` "
        "on `ProxyPass`.",
    ),
    ("apache", Cause.PROTOCOL): (
        "AH10124 in the error log is a backend header line over `ResponseFieldSize` (8192 "
        "bytes): raise it with `responsefieldsize=16384` on `ProxyPass`.",
        "AH01106 is a backend header Apache could not parse, AH01102 a status line it could not "
        "read: the errno in brackets says why (104 reset, 70007 timeout).",
    ),
    ("apache", Cause.FIREWALL): (
        "AH00957 with `(70007)The timeout specified has expired` is a connect that timed out "
        "after `connectiontimeout=` on `ProxyPass`: packets to the backend are dropped.",
    ),
    ("apache", Cause.TLS): (
        "Check `SSLProxyEngine on`, `SSLProxyCACertificateFile` and `SSLProxyCheckPeerName` "
        "against the backend certificate.",
    ),
    ("apache", Cause.DNS): (
        "Resolve the `ProxyPass` host on the Apache server itself: `dig +trace <host>`.",
    ),
    ("kong", Cause.ORIGIN_DOWN): (
        "Check upstream target health: `curl -s localhost:8001/upstreams/<name>/health`.",
    ),
    ("kong", Cause.DNS): (
        "`name resolution failed`: check the service host and Kong's `dns_resolver` setting.",
    ),
    ("kong", Cause.TIMEOUT): (
        "Check the Service's `read_timeout` (milliseconds) against the endpoint's latency.",
    ),
    ("origin", Cause.UNKNOWN): (
        "The origin generated this status itself: read its own logs (app server, or the proxy "
        "on the origin host).",
    ),
}

_BY_HOP: Mapping[tuple[Hop, Cause], tuple[str, ...]] = {
    (Hop.EDGE_TO_ORIGIN, Cause.ORIGIN_DOWN): (
        "The origin answers directly, so check the address the proxy dials: nginx `proxy_pass`, "
        "the ALB target group port, the CDN's origin or DNS record.",
        _FROM_PROXY,
    ),
    (Hop.EDGE_TO_ORIGIN, Cause.WORKERS_EXHAUSTED): (
        "Check connection limits on the proxy-to-origin path: upstream `max_conns`, keep-alive "
        "pool size, the CDN's per-origin connection limit.",
        _FROM_PROXY,
    ),
    (Hop.EDGE_TO_ORIGIN, Cause.FIREWALL): (
        "Allow the proxy's or CDN's source addresses on the origin: Cloudflare IP ranges, the ALB "
        "security group, the load balancer's health-check ranges.",
        _FROM_PROXY,
    ),
    (Hop.EDGE_TO_ORIGIN, Cause.DNS): (
        "Resolve the upstream name on the proxy host itself (`dig +trace <upstream-host>`); the "
        "proxy, not your laptop, does the lookup.",
        "Check the origin record configured at the proxy or CDN points at the current origin.",
    ),
    (Hop.EDGE_TO_ORIGIN, Cause.TIMEOUT): (
        "The origin is fast directly, so compare the proxy's timeouts and buffering with the "
        "direct timing: `curl -w '%{time_total}'` both ways.",
        _FROM_PROXY,
    ),
    (Hop.EDGE_TO_ORIGIN, Cause.TLS): (
        "Check the certificate the origin presents for the proxy's SNI: "
        "`openssl s_client -connect ORIGIN:443 -servername HOST`.",
        "Check the proxy's TLS settings for the upstream (verify, trusted CA, server name).",
    ),
    (Hop.EDGE_TO_ORIGIN, Cause.PROTOCOL): (
        "Match the protocol on the proxy-to-origin hop: HTTP/1.1 vs HTTP/2, TLS vs plain on that "
        "port.",
        _FROM_PROXY,
    ),
    (Hop.EDGE_TO_ORIGIN, Cause.UNKNOWN): (
        "The origin answers directly but not through the proxy: debug the path between them.",
        _FROM_PROXY,
    ),
    (Hop.ORIGIN, Cause.ORIGIN_DOWN): (
        "The origin fails too, so work on the origin host: process, port, app logs.",
    ),
    (Hop.ORIGIN, Cause.WORKERS_EXHAUSTED): (
        "The origin fails too, so look at its worker pool and slow requests first.",
    ),
    (Hop.ORIGIN, Cause.FIREWALL): (
        "The origin fails too: check the origin host's own firewall (iptables/ufw vs Docker's "
        "rules).",
    ),
    (Hop.ORIGIN, Cause.DNS): (
        "The origin fails too: check names the app itself resolves (database, upstream APIs).",
    ),
    (Hop.ORIGIN, Cause.TIMEOUT): (
        "The origin is slow too: profile the endpoint on the origin host, not the proxy.",
    ),
    (Hop.ORIGIN, Cause.TLS): (
        "The origin's own certificate fails: renew it on the origin and reload the server that "
        "holds it.",
    ),
    (Hop.ORIGIN, Cause.PROTOCOL): (
        "The origin misbehaves directly too: read the raw response with "
        "`curl -v --http1.1 http://127.0.0.1:PORT/`.",
    ),
    (Hop.ORIGIN, Cause.UNKNOWN): (
        "The origin generated or shares the failure: read the app's logs on the origin host first.",
    ),
    (Hop.EDGE, Cause.DNS): (
        "The public name itself fails: check delegation and records with `dig +trace HOST` and "
        "`dig NS HOST`.",
        "Ask the authoritative servers directly (`dig @<ns> HOST A` and `AAAA`) to tell a missing "
        "record from a broken resolver.",
        "Check recent DNS changes: the record exists, points at the current edge, and its TTL has "
        "expired everywhere.",
    ),
    (Hop.EDGE, Cause.TLS): (
        "The edge's own certificate fails: `openssl s_client -connect HOST:443 -servername HOST` "
        "and renew it where the edge terminates TLS.",
        "After renewing, reload the server that holds the certificate (`nginx -s reload`, the "
        "load balancer listener, the CDN's custom certificate) and check the full chain is served.",
        "Check the certificate covers every public name in its SANs (apex and www) and is not "
        "close to expiry: `curl -vI https://HOST/ 2>&1 | grep -iE 'subject|expire'`.",
    ),
    (Hop.EDGE, Cause.ORIGIN_DOWN): (
        "The public address refuses connections: check the edge or load balancer listener and "
        "the A/AAAA records (`dig HOST`).",
    ),
    (Hop.EDGE, Cause.FIREWALL): (
        "The public address does not answer: check the edge listener, its security group, and "
        "that `dig HOST` returns the right address.",
    ),
    (Hop.EDGE, Cause.UNKNOWN): (
        "The edge itself fails: check `dig +trace HOST` and the public certificate before the "
        "origin.",
    ),
}


_BY_SOURCE: Mapping[tuple[Source, Cause], tuple[str, ...]] = {
    (parse_source(source), cause): steps for (source, cause), steps in _BY_GATEWAY.items()
}
"""``_BY_GATEWAY`` keyed by typed ids."""


def _gateway_steps(generated_by: str | None, cause: Cause) -> tuple[str, ...]:
    """The steps the table has for ``generated_by`` and ``cause``; none for an unknown id."""
    if not generated_by:
        return ()
    try:
        source = parse_source(generated_by)
    except ValueError:
        return ()
    return _BY_SOURCE.get((source, cause), ())


_EDGE_OWN = frozenset({Cause.DNS, Cause.TLS})


def next_steps(
    cause: Cause, generated_by: str | None = None, hop: Hop | None = None
) -> tuple[str, ...]:
    """Concrete next steps for ``cause``, most specific first, at most :data:`MAX_STEPS`.

    ``generated_by`` is a gateway id (``"nginx"``, ``"cloudflare"``, ``"aws_alb"``...); its own
    steps come first. ``hop`` says which hop is broken and adds steps aimed at it. ``Cause.OK``
    has no steps; ``Cause.UNKNOWN`` gets generic triage, diagnosing from the origin outward.
    """
    if cause is Cause.OK:
        return ()
    gateway = _gateway_steps(generated_by, cause)
    by_hop = _BY_HOP.get((hop, cause), ()) if hop is not None else ()
    # A failing public name or certificate is the edge's own: the cause's general steps are
    # about a proxy's upstream and would send the reader the wrong way.
    general = () if hop is Hop.EDGE and cause in _EDGE_OWN else _BY_CAUSE.get(cause, ())
    combined = gateway[:_MAX_GATEWAY_STEPS] + by_hop[:_MAX_HOP_STEPS] + general
    return _unique(combined)[:MAX_STEPS]


def _unique(steps: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(steps))


# --- steps keyed by what a log phrase says happened ------------------------------------------

_KEEPALIVE_TIMEOUTS = (
    "Keep-alive race: make the app's idle keep-alive timeout LONGER than the proxy's idle timeout "
    "for reused upstream connections, so the proxy always closes first: gunicorn "
    "`--keep-alive 75`, Node `server.keepAliveTimeout = 75000` (and `server.headersTimeout` "
    "above it), uvicorn `--timeout-keep-alive 75`, Puma `persistent_timeout 75`; the proxy side "
    "is nginx `keepalive_timeout` in the `upstream{}` block (60 s default), the AWS ALB idle "
    "timeout (60 s), Google's load balancer (600 s)."
)
_KEEPALIVE_CONFIRM = (
    "Confirm the race: the errors are instant, intermittent, and follow idle periods (not load). "
    "To rule it in, stop reusing upstream connections for a while: nginx without `keepalive` in "
    "the `upstream{}` block, Apache `disablereuse=On` on `ProxyPass` (or `SetEnv "
    "proxy-initial-not-pooled 1`), HAProxy `http-reuse never`."
)
_WORKER_KILLED = (
    "Look in the app server's log at the same second for a killed worker: gunicorn "
    "`[CRITICAL] WORKER TIMEOUT`, uWSGI `HARAKIRI`, PHP-FPM `execution timed out ... "
    "terminating` or `exited on signal 9`, and `dmesg -T | grep -i -e oom -e killed`."
)
_WORKER_TIMEOUT = (
    "The app server killed a worker that ran past its own timeout (gunicorn `--timeout`, "
    "30 s by default; uWSGI `harakiri`; PHP-FPM `request_terminate_timeout`): find the slow "
    "request (the access log entry that ends at the kill), fix or move it to a background job."
)
_APP_TIMEOUT_ORDER = (
    "Keep the timeouts in order, app < proxy: the app server's worker timeout (gunicorn "
    "`--timeout`, uWSGI `harakiri`, PHP `max_execution_time`) below the proxy's read timeout "
    "(nginx `proxy_read_timeout`, 60 s), so a slow request gets a clear error instead of a "
    "closed connection."
)
_POOL_FULL = (
    "Every worker was busy: raise the pool to what memory allows (PHP-FPM `pm.max_children`; "
    "size it as free RAM / average worker RSS from `ps -ylC php-fpm --sort:rss`; gunicorn "
    "`--workers`/`--threads`; uWSGI `processes`/`threads`)."
)
_POOL_SLOW = (
    "Find what keeps workers busy before adding more: PHP-FPM `slowlog` with "
    "`request_slowlog_timeout = 5s`, the status page (`pm.status_path`), slow queries, locks "
    "and external calls."
)
_LISTEN_QUEUE = (
    "uWSGI's listen queue (`--listen`, 100 by default) overflowed: every worker was busy and "
    "100 more requests waited. Raise `processes`/`threads` or find the slow requests; raise "
    "`listen` together with `net.core.somaxconn` only to absorb bursts."
)
_PREMATURE_CLOSE = (
    "The upstream closed the connection without answering: if it happens after idle periods "
    "it is the keep-alive race, if under load or on slow requests a killed worker. Read the "
    "app server's log at the same second first."
)
_BAD_RESPONSE = (
    "Read the raw response the upstream sends: `curl -sv --http1.1 --raw "
    "http://ORIGIN:PORT/ -o /dev/null` (status line, header names, chunk sizes, "
    "Content-Length)."
)
_REFUSED_OR_FIREWALL = (
    "Refused does not always mean down: from the proxy host run `nc -vz ORIGIN PORT`, then on "
    "the server `ss -tlnp | grep :PORT`. If the app listens there but the proxy is refused, a "
    "firewall REJECT rule answers for it (`iptables -S | grep -i reject`, `ufw status`, a cloud "
    "network ACL)."
)
_NO_HEALTHY = (
    "List the cluster's endpoints and their health flags: `curl -s localhost:15000/clusters | "
    "grep <cluster>` (`health_flags::failed_active_hc`, `/pending_active_hc`, "
    "`failed_outlier_check`); Istio: `istioctl proxy-config endpoints <pod> --cluster <name>`."
)
_NO_HEALTHY_DNS = (
    "No endpoint at all can be a failing lookup: a STRICT_DNS / LOGICAL_DNS cluster whose "
    "name does not resolve from the proxy has zero hosts (`kubectl exec <pod> -- nslookup "
    "<host>`; Envoy stat `cluster.<name>.update_failure`)."
)
_NO_HEALTHY_LAG = (
    "Endpoints that exist but are not yet healthy point at the health check: a new or "
    "restarted pod stays out until it passes `healthy_threshold` checks; check its path, port "
    "and timeout, and readiness probes in Kubernetes."
)
_ISTIO_PORTS = (
    "Istio picks the protocol from the Service port name or `appProtocol` (`http`, `http2`, "
    "`grpc`, `tcp`): a wrongly named port makes the sidecar speak the wrong protocol to the "
    "pod; check `kubectl get svc <svc> -o yaml` and `istioctl analyze`."
)

PHRASE_STEPS: Mapping[str, tuple[str, ...]] = {
    "keepalive_race": (_KEEPALIVE_TIMEOUTS, _KEEPALIVE_CONFIRM, _WORKER_KILLED),
    "premature_close": (_PREMATURE_CLOSE, _WORKER_KILLED, _KEEPALIVE_TIMEOUTS),
    "worker_timeout": (_WORKER_TIMEOUT, _APP_TIMEOUT_ORDER),
    "worker_killed": (_WORKER_KILLED, _WORKER_TIMEOUT),
    "pool_full": (_POOL_FULL, _POOL_SLOW),
    "listen_queue": (_LISTEN_QUEUE, _POOL_SLOW),
    "bad_response": (_BAD_RESPONSE,),
    "refused_or_firewall": (_REFUSED_OR_FIREWALL,),
    "no_healthy_upstream": (_NO_HEALTHY, _NO_HEALTHY_DNS, _NO_HEALTHY_LAG, _ISTIO_PORTS),
    "istio_ports": (_ISTIO_PORTS,),
}
"""Steps for what a matched phrase says happened, keyed by the rule's ``advice`` name."""


def phrase_steps(key: str | None) -> tuple[str, ...]:
    """The steps for one phrase family (``"keepalive_race"``...); empty for None or unknown."""
    return PHRASE_STEPS.get(key, ()) if key else ()
