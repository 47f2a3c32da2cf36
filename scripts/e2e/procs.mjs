// Process-tree handling for the E2E harness. Everything the harness starts is stopped by PID:
// we snapshot the whole tree first (from /proc), then SIGTERM it, then SIGKILL what is left.
// Walking /proc instead of killing a process group matters here: Chromium (launched by
// playwright) and code-server's extension host do not all share one group, and the extension
// host deliberately outlives its browser for the reconnection grace time.
import { readFileSync, readdirSync } from 'node:fs';

/** parent pid → child pids, from /proc/<pid>/stat. */
function childrenMap() {
  const map = new Map();
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    let stat;
    try { stat = readFileSync(`/proc/${name}/stat`, 'utf8'); } catch { continue; }
    // Field 4 is the ppid; the command (field 2) may contain spaces, so parse after the last ')'.
    const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
    if (!map.has(ppid)) map.set(ppid, []);
    map.get(ppid).push(Number(name));
  }
  return map;
}

/** pid and all its descendants (pid first). */
export function processTree(pid) {
  const map = childrenMap();
  const out = [];
  const visit = (p) => { out.push(p); for (const c of map.get(p) ?? []) visit(c); };
  visit(pid);
  return out;
}

const alive = (pid) => { try { process.kill(pid, 0); return true; } catch { return false; } };
const signal = (pid, sig) => { try { process.kill(pid, sig); } catch { /* already gone */ } };

/** SIGTERM the tree of `pid`, wait up to graceMs, then SIGKILL every survivor (including late children). */
export async function killTree(pid, graceMs = 5000) {
  if (!pid || !alive(pid)) return;
  const tree = processTree(pid);
  for (const p of tree) signal(p, 'SIGTERM');
  const deadline = Date.now() + graceMs;
  while (Date.now() < deadline && tree.some(alive)) await new Promise((r) => setTimeout(r, 100));
  // Re-snapshot from the survivors so children spawned during shutdown are caught too.
  const left = new Set();
  for (const p of tree) if (alive(p)) for (const q of processTree(p)) left.add(q);
  for (const p of left) signal(p, 'SIGKILL');
}

/** The same, synchronously with SIGKILL only: for process 'exit' handlers, which cannot await. */
export function killTreeNow(pid) {
  if (!pid || !alive(pid)) return;
  for (const p of processTree(pid)) signal(p, 'SIGKILL');
}
