# Peak memory under 60 parallel password guesses for one user (issue 11):
#   fedgate serve --config <quickstart copy> & python3 test/bench/parallel-guesses.py $! http://127.0.0.1:PORT
# prints VmHWM before and after and the answers (5 checked, 55 throttled).
import sys, re, threading, urllib.request, urllib.parse, http.cookiejar, collections
pid, base = int(sys.argv[1]), sys.argv[2]
def hwm():
    for l in open(f"/proc/{pid}/status"):
        if l.startswith("VmHWM"): return int(l.split()[1])//1024
class NoRedir(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *a, **k): return None
jar = http.cookiejar.CookieJar()
op = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar), NoRedir)
try: op.open(base + "/login?app=demo")
except urllib.error.HTTPError as e: loc = e.headers["Location"]
page = op.open(base + loc).read().decode()
csrf = re.search(r'name="csrf" value="([^"]+)"', page).group(1)
up = re.search(r'name="upstream" value="([^"]+)"', page).group(1)
cookie = "; ".join(f"{c.name}={c.value}" for c in jar)
before = hwm(); codes = collections.Counter()
def post():
    data = urllib.parse.urlencode({"csrf": csrf, "upstream": up, "username": "carol", "password": "wrong"}).encode()
    req = urllib.request.Request(base + loc, data=data, headers={"Cookie": cookie})
    try: codes[op.open(req).status] += 1
    except urllib.error.HTTPError as e: codes[e.code] += 1
ts = [threading.Thread(target=post) for _ in range(60)]
[t.start() for t in ts]; [t.join() for t in ts]
print(f"VmHWM before {before} MB, after {hwm()} MB; answers {dict(codes)}")
