"""Samples PostgreSQL while a load runs: CPU seconds of the whole cluster (live processes plus
the children the postmaster already reaped) and the peak private memory (RssAnon) of any
backend connected to the given database. Runs until SIGTERM, then prints one line.

    python3 bench/pg_sampler.py PGDATA DBNAME
"""
import os, signal, sys, time

pgdata, dbname = sys.argv[1], sys.argv[2]
tick = os.sysconf("SC_CLK_TCK")
postmaster = int(open(os.path.join(pgdata, "postmaster.pid")).readline())


def stat(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    # fields[0] is state (field 3); utime=14, stime=15, cutime=16, cstime=17, ppid=4
    return int(fields[1]), [int(x) for x in fields[11:15]]


def cluster_cpu():
    total = 0
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        pid = int(name)
        try:
            ppid, (ut, st, cut, cst) = stat(pid)
        except (OSError, ValueError, IndexError):
            continue
        if pid == postmaster:
            total += ut + st + cut + cst
        elif ppid == postmaster:
            total += ut + st
    return total / tick


def backend_peaks():
    peak = 0
    count = 0
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            cmd = open(f"/proc/{name}/cmdline", "rb").read()
            if dbname.encode() not in cmd or b"postgres:" not in cmd:
                continue
            for line in open(f"/proc/{name}/status"):
                if line.startswith("RssAnon:"):
                    kb = int(line.split()[1])
                    peak = max(peak, kb)
                    count += 1
        except OSError:
            continue
    return peak, count


stop = False


def on_term(*_):
    global stop
    stop = True


signal.signal(signal.SIGTERM, on_term)
cpu0 = cluster_cpu()
peak, backends = 0, 0
while not stop:
    p, n = backend_peaks()
    peak, backends = max(peak, p), max(backends, n)
    time.sleep(0.5)
cpu1 = cluster_cpu()
print(f"pg_cpu_s={cpu1 - cpu0:.2f} peak_backend_mib={peak / 1024:.1f} backends={backends}")
