#!/usr/bin/python3
"""dom0's control agent: the host's hands in dom0 (test/xen-host/control.ts is the other end).

It speaks JSON lines on the virtio-serial port `vifd.ctl`: every request {"id", "op", ...}
gets exactly one reply {"id", "ok": true, ...} or {"id", "ok": false, "error"}; requests run
concurrently, each in its own thread, so a long command never holds up a short one. The agent
also sends events, unasked: {"event": "ready"} when it starts, {"event": "exited"} when a
background process ends, {"event": "bridge-closed"} when dom0's side of a QMP bridge goes.

Ops: hello; run (a command, bounded by its timeout; exit code, stdout, stderr); start / stop (a
background process in its own session, its output in <out>/procs/<name>.out|.err on the shared
directory); write (a file or a tty); bridge-open / bridge-close (a byte pipe between a
virtio-serial port and a unix socket in dom0); poweroff.

Python's standard library only: it runs from the host's root, which has python3 and nothing
else we could count on.
"""

import argparse
import glob
import json
import os
import re
import select
import signal
import socket
import subprocess
import sys
import threading
import time

CTL_PORT = 'vifd.ctl'
BRIDGE_PORTS = ('vifd.qmp0', 'vifd.qmp1', 'vifd.qmp2')
NAME = re.compile(r'^[A-Za-z0-9_.-]{1,64}$')


def find_port(name, timeout=10.0):
    """/dev/vportNpM of the virtio-serial port called name (no udev here for /dev/virtio-ports)."""
    deadline = time.monotonic() + timeout
    while True:
        for f in glob.glob('/sys/class/virtio-ports/*/name'):
            with open(f) as fh:
                if fh.read().strip() == name:
                    return '/dev/' + os.path.basename(os.path.dirname(f))
        if time.monotonic() > deadline:
            raise RuntimeError(f'no virtio-serial port named {name}')
        time.sleep(0.05)


def write_all(fd, data):
    while data:
        n = os.write(fd, data)
        data = data[n:]


class Channel:
    """The control port: one writer at a time, lines in, lines out."""

    def __init__(self, path):
        self.fd = os.open(path, os.O_RDWR)
        self.lock = threading.Lock()

    def send(self, msg):
        line = (json.dumps(msg) + '\n').encode()
        with self.lock:
            write_all(self.fd, line)

    def lines(self):
        buf = b''
        while True:
            chunk = os.read(self.fd, 65536)
            if not chunk:
                # A virtio port reads as end-of-file while the host's side is not connected.
                time.sleep(0.1)
                continue
            buf += chunk
            while b'\n' in buf:
                line, buf = buf.split(b'\n', 1)
                if line.strip():
                    yield line


class Background:
    def __init__(self, name, proc):
        self.name = name
        self.proc = proc
        self.done = threading.Event()


class Bridge:
    """One virtio-serial port piped to one unix-socket connection in dom0 at a time.

    Timeline of a connection (host = qmp-bridge.ts):
      host connects QEMU's chardev  ->  the port reads as connected here (no POLLHUP)
      host: bridge-open PATH        ->  we wait for that, drop stale bytes, connect PATH, reply
      bytes flow both ways          ->  port_to_sock (one thread per port, for good)
                                        sock_to_port (one thread per connection)
      either side ends it:
        host: bridge-close N        ->  once the N bytes the host sent have gone to the
                                        socket (2 s at most), we close it; its thread ends
                                        quietly
        dom0 side closes            ->  sock_to_port sends bridge-closed with the bytes it
                                        sent and the connection's serial (bridge-open's
                                        reply); the host closes its client once they arrived
    """

    def __init__(self, agent, port):
        self.agent = agent
        self.port = port
        self.fd = os.open(find_port(port), os.O_RDWR | os.O_NONBLOCK)
        self.lock = threading.Lock()
        self.sock = None
        self.received = 0  # port -> socket, this connection
        self.serial = 0  # names the connection in replies and events
        threading.Thread(target=self.port_to_sock, daemon=True).start()

    def host_connected(self):
        p = select.poll()
        p.register(self.fd, select.POLLIN | select.POLLHUP)
        return not any(ev & select.POLLHUP for _, ev in p.poll(0))

    def drain(self):
        while True:
            try:
                if not os.read(self.fd, 65536):
                    return
            except BlockingIOError:
                return

    def open(self, path, timeout):
        with self.lock:
            self.close_locked()
            deadline = time.monotonic() + timeout
            while not self.host_connected():
                if time.monotonic() > deadline:
                    raise RuntimeError(f'{self.port}: the host side is not connected')
                time.sleep(0.02)
            self.drain()
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            s.settimeout(5)
            try:
                s.connect(path)
            except OSError as e:
                s.close()
                raise RuntimeError(f'connect {path}: {e.strerror or e}') from None
            s.settimeout(None)
            self.received = 0
            self.serial += 1
            self.sock = s
            threading.Thread(target=self.sock_to_port, args=(s, self.serial), daemon=True).start()
            return self.serial

    def close(self, received):
        deadline = time.monotonic() + 2
        while self.sock is not None and self.received < received and time.monotonic() < deadline:
            time.sleep(0.01)
        with self.lock:
            self.close_locked()

    def close_locked(self):
        s, self.sock = self.sock, None
        if s is not None:
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            s.close()

    def port_to_sock(self):
        p = select.poll()
        p.register(self.fd, select.POLLIN)
        while True:
            p.poll(500)
            try:
                data = os.read(self.fd, 65536)
            except BlockingIOError:
                continue
            if not data:  # host side not connected
                time.sleep(0.05)
                continue
            s = self.sock
            if s is None:
                continue  # nobody to give it to: dropped, as a closed socket would
            try:
                s.sendall(data)
                self.received += len(data)
            except OSError:
                pass  # sock_to_port sees the same end and reports it

    def sock_to_port(self, s, serial):
        p = select.poll()
        p.register(self.fd, select.POLLOUT)
        reason = 'dom0 side closed'
        sent = 0
        try:
            while True:
                data = s.recv(65536)
                if not data:
                    break
                while data:
                    try:
                        n = os.write(self.fd, data)
                        sent += n
                        data = data[n:]
                    except BlockingIOError:
                        # Writes block while the host's side is away: then nobody reads them.
                        if any(ev & select.POLLHUP for _, ev in p.poll(100)):
                            data = b''
        except OSError as e:
            reason = f'dom0 side: {e.strerror or e}'
        with self.lock:
            if self.sock is not s:
                return  # closed on the host's request: nothing to report
            self.close_locked()
        self.agent.channel.send({'event': 'bridge-closed', 'port': self.port, 'conn': serial, 'reason': reason, 'sent': sent})


class Agent:
    def __init__(self, out):
        self.out = out
        self.procs_dir = os.path.join(out, 'procs')
        os.makedirs(self.procs_dir, exist_ok=True)
        self.channel = Channel(find_port(CTL_PORT))
        self.background = {}
        self.bridges = {}
        self.lock = threading.Lock()

    # --- dispatch

    def serve(self):
        self.channel.send({'event': 'ready', 'uptime': uptime()})
        for line in self.channel.lines():
            threading.Thread(target=self.handle, args=(line,), daemon=True).start()

    def handle(self, line):
        try:
            req = json.loads(line)
        except ValueError:
            self.channel.send({'event': 'protocol-error', 'line': line[:200].decode(errors='replace')})
            return
        rid = req.get('id')
        op = getattr(self, 'op_' + str(req.get('op', '')).replace('-', '_'), None)
        try:
            if op is None:
                raise RuntimeError(f"unknown op {req.get('op')!r}")
            reply = op(req) or {}
            reply.update({'id': rid, 'ok': True})
        except Exception as e:  # every request gets one reply, whatever happened
            reply = {'id': rid, 'ok': False, 'error': str(e) or type(e).__name__}
        self.channel.send(reply)
        if req.get('op') == 'poweroff':
            os._exit(0)  # stage2.sh powers off when the agent is gone

    # --- ops

    def op_hello(self, req):
        return {'uptime': uptime(), 'pid': os.getpid()}

    def op_run(self, req):
        t0 = time.monotonic()
        timeout = float(req.get('timeout', 60))
        proc = subprocess.Popen(command(req), cwd=req.get('cwd'), env=environment(req),
                                stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                start_new_session=True)
        timed_out = False
        try:
            out, err = proc.communicate((req.get('input') or '').encode(), timeout=timeout)
        except subprocess.TimeoutExpired:
            timed_out = True
            kill_group(proc, signal.SIGKILL)
            out, err = proc.communicate()
        return {'rc': proc.returncode, 'stdout': out.decode(errors='replace'), 'stderr': err.decode(errors='replace'),
                'timedOut': timed_out, 'ms': round((time.monotonic() - t0) * 1000, 1)}

    def op_start(self, req):
        name = req['name']
        if not NAME.match(name):
            raise RuntimeError(f'bad process name {name!r}')
        with self.lock:
            old = self.background.get(name)
            if old is not None and not old.done.is_set():
                raise RuntimeError(f'{name} is already running (pid {old.proc.pid})')
            base = os.path.join(self.procs_dir, name)
            with open(base + '.out', 'wb') as out, open(base + '.err', 'wb') as err:
                proc = subprocess.Popen(command(req), cwd=req.get('cwd'), env=environment(req),
                                        stdin=subprocess.DEVNULL, stdout=out, stderr=err, start_new_session=True)
            bg = Background(name, proc)
            self.background[name] = bg
        threading.Thread(target=self.reap, args=(bg,), daemon=True).start()
        return {'pid': proc.pid, 'stdout': base + '.out', 'stderr': base + '.err'}

    def reap(self, bg):
        rc = bg.proc.wait()
        bg.done.set()
        self.channel.send({'event': 'exited', 'name': bg.name, 'pid': bg.proc.pid, 'rc': rc})

    def op_stop(self, req):
        with self.lock:
            bg = self.background.get(req['name'])
        if bg is None:
            raise RuntimeError(f"no process named {req['name']!r}")
        sig = getattr(signal, 'SIG' + req.get('signal', 'TERM'))
        killed = False
        if not bg.done.is_set():
            kill_group(bg.proc, sig)
            if not bg.done.wait(float(req.get('timeout', 5))):
                killed = True
                kill_group(bg.proc, signal.SIGKILL)
                bg.done.wait(5)
        return {'rc': bg.proc.returncode, 'killed': killed}

    def op_write(self, req):
        path = req['path']
        data = req['data'].encode()
        if path.startswith('/dev/'):
            fd = os.open(path, os.O_WRONLY | os.O_NOCTTY)
        else:
            flags = os.O_WRONLY | os.O_CREAT | (os.O_APPEND if req.get('append') else os.O_TRUNC)
            fd = os.open(path, flags, int(req.get('mode', 0o644)))
        try:
            write_all(fd, data)
        finally:
            os.close(fd)
        return {}

    def op_bridge_open(self, req):
        port = req['port']
        if port not in BRIDGE_PORTS:
            raise RuntimeError(f'no bridge port {port!r}')
        with self.lock:
            bridge = self.bridges.get(port)
            if bridge is None:
                bridge = self.bridges[port] = Bridge(self, port)
        return {'conn': bridge.open(req['path'], float(req.get('timeout', 5)))}

    def op_bridge_close(self, req):
        with self.lock:
            bridge = self.bridges.get(req['port'])
        if bridge is not None:
            bridge.close(int(req.get('received', 0)))
        return {}

    def op_poweroff(self, req):
        return {}


def command(req):
    """argv as given, or a bash command line."""
    if 'argv' in req:
        return [str(a) for a in req['argv']]
    return ['/bin/bash', '-c', req['cmd']]


def environment(req):
    env = dict(os.environ)
    env.update({k: str(v) for k, v in (req.get('env') or {}).items()})
    return env


def kill_group(proc, sig):
    try:
        os.killpg(proc.pid, sig)
    except ProcessLookupError:
        pass


def uptime():
    with open('/proc/uptime') as f:
        return float(f.read().split()[0])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--out', required=True, help='the writable share (per-run directory)')
    args = ap.parse_args()
    Agent(args.out).serve()


if __name__ == '__main__':
    sys.exit(main())
