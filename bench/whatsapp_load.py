#!/usr/bin/env python3
"""Load generator and stopwatch for scripts/bench-whatsapp (Python 3.11 standard library only).

  whatsapp_load.py intake  --url URL --secret S --number ID --messages N --batch B --connections C
      Posts N Meta-shaped text messages to the webhook (POST /api/v1/chatbot/whatsapp/), B per
      delivery (B changes in one entry, as Meta batches them), each delivery signed with
      X-Hub-Signature-256 = HMAC-SHA256(raw body, app secret), over C keep-alive connections at
      once (asyncio, one process). The bodies and signatures are built before the clock starts.
      Prints one line: deliveries and messages per second accepted (HTTP 200), latency
      p50/p99/max of a POST, and any other status.

  whatsapp_load.py publish --url URL --host HOST --token T --exam-session ID --fake FAKE --expect N
      PATCHes the exam session to published (confirm_outstanding) as the school admin, then
      watches the fake Cloud API until it has received N "results are out" messages (templates
      or texts). Prints the PATCH's time and the time from the PATCH to the first and the N-th
      message, all on the machine's clock. With --probe-after S (and --secret, --number), one
      parent writes "menu" S seconds after the first alert reached the fake, while the others
      go out, and the time until their menu (an interactive message) reaches the fake is
      printed too.
"""

import argparse
import asyncio
import hashlib
import hmac
import http.client
import json
import sys
import time
import urllib.parse
import urllib.request

WEBHOOK = "/api/v1/chatbot/whatsapp/"


def pct(sorted_values, p):
    if not sorted_values:
        return float("nan")
    i = min(len(sorted_values) - 1, max(0, round(p / 100 * len(sorted_values)) - 1))
    return sorted_values[i]


def change(number, sender, wamid, text, now):
    return {
        "field": "messages",
        "value": {
            "messaging_product": "whatsapp",
            "metadata": {"display_phone_number": "15550000000", "phone_number_id": number},
            "contacts": [{"profile": {"name": f"Parent {sender[-4:]}"}, "wa_id": sender}],
            "messages": [{"from": sender, "id": wamid, "timestamp": now, "type": "text",
                          "text": {"body": text}}],
        },
    }


def signed_request(secret, host_header, changes):
    body = json.dumps({"object": "whatsapp_business_account",
                       "entry": [{"id": "WABA-BENCH", "changes": changes}]},
                      separators=(",", ":")).encode()
    signature = "sha256=" + hmac.new(secret, body, hashlib.sha256).hexdigest()
    head = (f"POST {WEBHOOK} HTTP/1.1\r\nHost: {host_header}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
            f"X-Hub-Signature-256: {signature}\r\nUser-Agent: facebookexternalua\r\n\r\n").encode()
    return head + body


def build_requests(args, host_header):
    """Every delivery's raw HTTP/1.1 request, signed; message i comes from sender i % senders."""
    now = str(int(time.time()))
    secret = args.secret.encode()
    requests = []
    for start in range(0, args.messages, args.batch):
        changes = []
        for i in range(start, min(start + args.batch, args.messages)):
            sender = f"234803{1 + i % args.senders:07d}"
            changes.append(change(args.number, sender, f"wamid.{args.prefix}.{i}", args.text, now))
        requests.append(signed_request(secret, host_header, changes))
    return requests


async def post_all(host, port, requests, connections):
    latencies = []
    statuses = {}
    pending = iter(range(len(requests)))

    async def connection():
        reader, writer = await asyncio.open_connection(host, port)
        try:
            for i in pending:
                t = time.perf_counter()
                writer.write(requests[i])
                head = await reader.readuntil(b"\r\n\r\n")
                status = int(head[9:12])
                length = 0
                close = False
                for line in head.split(b"\r\n")[1:]:
                    name, _, value = line.partition(b":")
                    name = name.strip().lower()
                    if name == b"content-length":
                        length = int(value)
                    elif name == b"connection" and value.strip().lower() == b"close":
                        close = True
                if length:
                    await reader.readexactly(length)
                latencies.append(time.perf_counter() - t)
                statuses[status] = statuses.get(status, 0) + 1
                if close:
                    writer.close()
                    reader, writer = await asyncio.open_connection(host, port)
        finally:
            writer.close()

    t0 = time.perf_counter()
    await asyncio.gather(*(connection() for _ in range(connections)))
    return time.perf_counter() - t0, latencies, statuses


def intake(args):
    url = urllib.parse.urlsplit(args.url)
    requests = build_requests(args, args.host)
    if args.warmup:
        warm = argparse.Namespace(**{**vars(args), "messages": args.warmup * args.batch,
                                     "prefix": args.prefix + "-warmup"})
        asyncio.run(post_all(url.hostname, url.port, build_requests(warm, args.host), args.connections))
    seconds, latencies, statuses = asyncio.run(post_all(url.hostname, url.port, requests, args.connections))
    ok = statuses.get(200, 0)
    lat = sorted(x * 1000 for x in latencies)
    accepted = min(args.messages, ok * args.batch)
    bytes_each = sum(len(r) for r in requests) // len(requests)
    others = {k: v for k, v in statuses.items() if k != 200}
    print(f"intake batch={args.batch} connections={args.connections} messages={args.messages} "
          f"deliveries={len(requests)} seconds={seconds:.2f} "
          f"messages_per_s={accepted / seconds:.0f} deliveries_per_s={ok / seconds:.0f} "
          f"p50_ms={pct(lat, 50):.1f} p99_ms={pct(lat, 99):.1f} max_ms={lat[-1]:.1f} "
          f"bytes_per_delivery={bytes_each}" + (f" NOT_200={others}" if others else ""))
    return 0 if not others else 1


def fake_get(fake, path):
    with urllib.request.urlopen(fake + path, timeout=10) as r:
        return json.load(r)


def probe(args, url):
    """One parent writes "menu" (a webhook delivery, signed); returns when it was accepted."""
    now = str(int(time.time()))
    raw = signed_request(args.secret.encode(), "localhost", [
        change(args.number, args.probe_from, f"wamid.probe.{args.exam_session}.{now}", "menu", now)])
    head, _, body = raw.partition(b"\r\n\r\n")
    headers = dict(line.split(": ", 1) for line in head.decode().split("\r\n")[1:])
    conn = http.client.HTTPConnection(url.hostname, url.port, timeout=30)
    t = time.time()
    conn.request("POST", WEBHOOK, body=body, headers=headers)
    response = conn.getresponse()
    response.read()
    if response.status != 200:
        raise SystemExit(f"probe: HTTP {response.status}")
    return t


def publish(args):
    url = urllib.parse.urlsplit(args.url)
    body = json.dumps({"status": "published", "confirm_outstanding": True})
    conn = http.client.HTTPConnection(url.hostname, url.port, timeout=60)
    t0 = time.time()
    conn.request("PATCH", f"/api/v1/school/exam-sessions/{args.exam_session}/", body=body,
                 headers={"Host": args.host, "Authorization": f"Bearer {args.token}",
                          "Content-Type": "application/json"})
    response = conn.getresponse()
    answer = response.read()
    t_patch = time.time()
    if response.status != 200:
        print(f"publish failed: HTTP {response.status} {answer[:500]!r}", file=sys.stderr)
        return 1
    t_probe = None
    deadline = t0 + args.timeout
    while True:
        events = fake_get(args.fake, "/_times")["messages"]
        alerts = [t for t, kind in events if kind != "other"]
        if args.probe_after and t_probe is None and alerts and time.time() >= alerts[0] + args.probe_after:
            t_probe = probe(args, url)
        replies = [t for t, kind in events if kind == "other" and t_probe and t > t_probe]
        probing = args.probe_after and (t_probe is None or not replies)
        if (len(alerts) >= args.expect and not probing) or time.time() > deadline:
            break
        time.sleep(0.05)
    if len(alerts) < args.expect:
        print(f"publish: only {len(alerts)} of {args.expect} messages after {args.timeout} s", file=sys.stderr)
        return 1
    stats = fake_get(args.fake, "/_stats")
    first, last = alerts[0], alerts[args.expect - 1]
    total = last - t0
    steady = (args.expect - 1) / (last - first) if last > first else float("inf")
    line = (f"publish_to_last rate_limit={args.rate}/s fake_latency_ms={stats['latency_ms']:g} "
            f"messages={args.expect} patch_ms={(t_patch - t0) * 1000:.0f} "
            f"first_message_s={first - t0:.2f} last_message_s={total:.2f} "
            f"messages_per_s={args.expect / total:.1f} sending_messages_per_s={steady:.1f} "
            f"templates={stats['templates']} texts={stats['texts']}")
    if args.probe_after:
        if replies:
            line += (f" probe_menu_at_s={t_probe - t0:.2f} probe_reply_s={replies[0] - t_probe:.2f}"
                     f" (alerts sent before it: {sum(1 for t in alerts if t < replies[0])})")
        else:
            line += " probe_reply=NONE"
    print(line)
    return 0


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    i = sub.add_parser("intake")
    i.add_argument("--url", required=True, help="the server, e.g. http://127.0.0.1:8098")
    i.add_argument("--host", default="localhost", help="Host header (the platform's domain)")
    i.add_argument("--secret", required=True, help="WHATSAPP_APP_SECRET")
    i.add_argument("--number", required=True, help="phone_number_id the messages are addressed to")
    i.add_argument("--messages", type=int, default=20000)
    i.add_argument("--batch", type=int, default=1, help="messages per delivery")
    i.add_argument("--connections", type=int, default=16)
    i.add_argument("--senders", type=int, default=1000, help="distinct senders +2348030000001...")
    i.add_argument("--text", default="menu")
    i.add_argument("--prefix", default="bench", help="wamids are wamid.<prefix>.<i>: unique per run")
    i.add_argument("--warmup", type=int, default=0, help="deliveries posted (and not counted) first")
    p = sub.add_parser("publish")
    p.add_argument("--url", required=True)
    p.add_argument("--host", required=True, help="the school's host, e.g. wapp.localhost")
    p.add_argument("--token", required=True, help="the admin's Bearer token")
    p.add_argument("--exam-session", type=int, required=True)
    p.add_argument("--fake", required=True, help="the fake Cloud API, e.g. http://127.0.0.1:8097")
    p.add_argument("--expect", type=int, default=1000)
    p.add_argument("--timeout", type=float, default=600)
    p.add_argument("--rate", default="?", help="WHATSAPP_MESSAGES_PER_SECOND, for the printout")
    p.add_argument("--probe-after", type=float, default=0.0,
                   help="seconds after the first alert when one parent writes \"menu\" (0: no probe)")
    p.add_argument("--probe-from", default="2348030000001", help="the probing parent (wa_id)")
    p.add_argument("--secret", help="WHATSAPP_APP_SECRET, for the probe")
    p.add_argument("--number", help="the shared phone_number_id, for the probe")
    args = parser.parse_args()
    sys.exit(intake(args) if args.command == "intake" else publish(args))


if __name__ == "__main__":
    main()
