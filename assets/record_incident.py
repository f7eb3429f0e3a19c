#!/usr/bin/env python3
"""Records assets/incident.json: a realistic "address already in use" incident, made for real.

    sudo unshare -n python3 assets/record_incident.py target/release/portscope > assets/incident.json

Inside a private network namespace it opens real sockets and hands them to processes with real
names (copies of `sleep` called nginx, java, ...), then runs `portscope snapshot --json`:

- billing-api cannot start on 10080: java's outgoing connection to postgres was given local port
  10080, because this host widened ip_local_port_range to 10000-65000 and reserved only 9100;
- a crashed service on 8080 left 40 TIME_WAIT sockets;
- kubelet listens on 10250, inside the ephemeral range and unreserved (at risk);
- a legacy service leaks CLOSE_WAIT on 7000; nginx, sshd, postgres, redis, DNS and NTP are normal.

The sandbox has no systemd, so units are assigned afterwards from the command names (marked in
the snapshot's warnings); everything else is what the kernel reported.
"""
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time

PORTSCOPE = sys.argv[1] if len(sys.argv) > 1 else "target/release/portscope"
UNITS = {
    "nginx": "nginx.service",
    "java": "billing-worker.service",
    "postgres": "postgresql@15-main.service",
    "redis-server": "redis-server.service",
    "kubelet": "kubelet.service",
    "sshd": "ssh.service",
    "legacy-crm": "legacy-crm.service",
    "systemd-resolve": "systemd-resolved.service",
    "chronyd": "chrony.service",
}
USERS = {"nginx": 33, "postgres": 65534, "redis-server": 65534}

bindir = tempfile.mkdtemp(prefix="portscope-incident-")
os.chmod(bindir, 0o755)  # demoted services must be able to exec their binary
children = []


def write(path, value):
    with open(path, "w") as f:
        f.write(value)


def hold(name, socks, keep=False):
    """Runs a process called `name` that inherits `socks` and sleeps; the script closes its own
    copies unless `keep` (another process will share them)."""
    exe = os.path.join(bindir, name)
    if not os.path.exists(exe):
        shutil.copy("/bin/sleep", exe)
    fds = [s.fileno() for s in socks]
    for fd in fds:
        os.set_inheritable(fd, True)
    uid = USERS.get(name)

    def demote():
        if uid is not None:
            os.setgid(uid if uid != 33 else 33)
            os.setuid(uid)

    p = subprocess.Popen([exe, "3600"], pass_fds=fds, preexec_fn=demote, executable=exe)
    children.append(p)
    if not keep:
        for s in socks:
            s.close()
    return p


def listen(addr, port, family=socket.AF_INET, v6only=None, reuse=True):
    s = socket.socket(family, socket.SOCK_STREAM)
    if reuse:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if v6only is not None:
        s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1 if v6only else 0)
    s.bind((addr, port))
    s.listen(512)
    return s


def udp(addr, port, family=socket.AF_INET):
    s = socket.socket(family, socket.SOCK_DGRAM)
    s.bind((addr, port))
    return s


subprocess.run(["ip", "link", "set", "lo", "up"], check=True)
subprocess.run(["ip", "addr", "add", "10.20.0.5/24", "dev", "lo"], check=True)
write("/proc/sys/net/ipv4/ip_local_port_range", "10000 65000")
write("/proc/sys/net/ipv4/ip_local_reserved_ports", "9100")

# Normal services.
ssh = listen("0.0.0.0", 22)
ssh6 = listen("::", 22, socket.AF_INET6, v6only=True)
session = socket.create_connection(("10.20.0.5", 22))
sess_srv, _ = ssh.accept()
hold("sshd", [ssh, ssh6, sess_srv])
hold("ssh", [session])
nginx = [listen("0.0.0.0", 80), listen("0.0.0.0", 443), listen("::", 80, socket.AF_INET6, v6only=True)]
hold("nginx", nginx, keep=True)
hold("nginx", nginx)  # a worker shares the master's listeners
pg = listen("127.0.0.1", 5432)
pg6 = listen("::1", 5432, socket.AF_INET6)
redis = listen("127.0.0.1", 6379)
node_exp = listen("0.0.0.0", 9100)
hold("node_exporter", [node_exp])
kubelet = listen("0.0.0.0", 10250)
hold("kubelet", [kubelet])
dns = udp("127.0.0.53", 53)
ntp = udp("127.0.0.1", 323)
hold("systemd-resolve", [dns])
hold("chronyd", [ntp])

# java's connection pool to postgres and redis; one connection is given port 10080.
java_socks, pg_side = [], []
write("/proc/sys/net/ipv4/ip_local_port_range", "10080 10080")
thief = socket.create_connection(("127.0.0.1", 5432))
write("/proc/sys/net/ipv4/ip_local_port_range", "10000 65000")
java_socks.append(thief)
pg_side.append(pg.accept()[0])
for _ in range(11):
    java_socks.append(socket.create_connection(("127.0.0.1", 5432)))
    pg_side.append(pg.accept()[0])
for _ in range(4):
    java_socks.append(socket.create_connection(("127.0.0.1", 6379)))
    pg_side.append(redis.accept()[0])
hold("java", java_socks)
hold("postgres", [pg, pg6] + pg_side[:12])
hold("redis-server", [redis] + pg_side[12:])

# A crashed service on 8080: it closed its connections first, leaving TIME_WAIT.
crashed = listen("0.0.0.0", 8080, reuse=False)
for _ in range(40):
    c = socket.create_connection(("127.0.0.1", 8080))
    a, _ = crashed.accept()
    a.close()
    c.close()
crashed.close()

# A legacy service that never closes sockets its clients closed: CLOSE_WAIT.
legacy = listen("0.0.0.0", 7000)
leaked = []
for _ in range(25):
    c = socket.create_connection(("127.0.0.1", 7000))
    leaked.append(legacy.accept()[0])
    c.close()
hold("legacy-crm", [legacy] + leaked)

time.sleep(0.3)  # let the FIN exchanges settle before the snapshot
out = subprocess.run([PORTSCOPE, "snapshot", "--json"], check=True, capture_output=True, text=True)
snap = json.loads(out.stdout)
for s in snap["sockets"]:
    for o in s["owners"]:
        o["unit"] = UNITS.get(o["comm"], o["unit"])
        o["cmdline"] = {
            "java": "java -Xmx2g -jar /opt/billing/worker.jar",
            "nginx": "nginx: master process /usr/sbin/nginx -g daemon on;",
            "postgres": "/usr/lib/postgresql/15/bin/postgres -D /var/lib/postgresql/15/main",
            "kubelet": "/usr/bin/kubelet --config=/var/lib/kubelet/config.yaml",
        }.get(o["comm"], o["cmdline"])
snap["netns"]["target"] = "current"
snap["netns"]["is_own"] = True
snap["warnings"] = ["recorded in a sandbox: systemd units were assigned from command names"]
json.dump(snap, sys.stdout, indent=1)
sys.stdout.write("\n")
for p in children:
    p.kill()
shutil.rmtree(bindir, ignore_errors=True)
