/**
 * Cross-process file locks for state several processes share (Slurm array tasks on one workspace, possibly over
 * NFS): the judge cache, vector folders, run manifests.
 *
 * A lock is a file created with O_EXCL (`wx`), holding who took it: host, pid, time. A lock is stale when its
 * holder is a dead process on this host, or when it is older than `staleMs` (a holder on another host, or one
 * that hangs); a stale lock is taken over by renaming it aside first, so two processes that both see it stale
 * cannot both take it. Waiting is synchronous (Atomics.wait) because the critical sections are short file writes
 * that callers make synchronously. A lock that cannot be had within `timeoutMs` fails with a message naming the
 * holder.
 */
import { closeSync, openSync, readFileSync, renameSync, statSync, unlinkSync, writeSync } from 'node:fs';
import { hostname } from 'node:os';
import { PipelineError } from '../errors.js';

export interface LockOptions {
  /** Give up after this long (default 60 s). */
  timeoutMs?: number;
  /** A lock older than this is taken over even when its holder cannot be checked (default 10 min). */
  staleMs?: number;
}

export interface LockHolder { host: string; pid: number; at: string }

const sleepSync = (ms: number) => Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);

function readHolder(file: string): LockHolder | undefined {
  try { return JSON.parse(readFileSync(file, 'utf8')) as LockHolder; } catch { return undefined; }
}

function alive(pid: number): boolean {
  try { process.kill(pid, 0); return true; } catch (e) { return (e as NodeJS.ErrnoException).code === 'EPERM'; }
}

/** Why the lock at `file` may be taken over, or undefined while its holder is alive and the lock fresh. */
function staleReason(file: string, staleMs: number): string | undefined {
  let mtime: number;
  try { mtime = statSync(file).mtimeMs; } catch { return undefined; } // gone: the next try creates it
  const h = readHolder(file);
  if (h && h.host === hostname() && !alive(h.pid)) return `holder pid ${h.pid} on ${h.host} is gone`;
  // A half-written holder (crash between create and write) is judged by age alone.
  if (Date.now() - mtime > staleMs) return `older than ${Math.round(staleMs / 1000)} s`;
  return undefined;
}

export function describeHolder(file: string): string {
  const h = readHolder(file);
  return h ? `pid ${h.pid} on ${h.host} since ${h.at}` : 'an unknown holder';
}

/** Takes the lock (creating `file`), or throws after the timeout naming the holder. Returns the release function. */
export function acquireLock(file: string, options: LockOptions = {}): () => void {
  const timeoutMs = options.timeoutMs ?? 60_000;
  const staleMs = options.staleMs ?? 600_000;
  const me: LockHolder = { host: hostname(), pid: process.pid, at: new Date().toISOString() };
  const deadline = Date.now() + timeoutMs;
  let wait = 2;
  for (;;) {
    try {
      const fd = openSync(file, 'wx');
      try { writeSync(fd, JSON.stringify(me)); } finally { closeSync(fd); }
      return () => {
        // Only remove the lock if it is still ours (a takeover after we were judged stale must not be undone).
        const h = readHolder(file);
        if (h && h.pid === me.pid && h.host === me.host && h.at === me.at) { try { unlinkSync(file); } catch { /* already gone */ } }
      };
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    }
    const stale = staleReason(file, staleMs);
    if (stale) {
      // Rename aside, then retry the exclusive create: of several racing takers only one rename succeeds.
      const aside = `${file}.stale-${me.host}-${me.pid}-${Date.now()}`;
      try { renameSync(file, aside); unlinkSync(aside); } catch { /* another process took it over first */ }
      continue;
    }
    if (Date.now() >= deadline) {
      throw new PipelineError('locked', `${file} is locked by ${describeHolder(file)}; waited ${Math.round(timeoutMs / 1000)} s. ` +
        'If that process is gone (e.g. on another host), delete the lock file.');
    }
    sleepSync(wait);
    wait = Math.min(wait * 2, 100);
  }
}

/** Runs `fn` holding the lock `file`. */
export function withLock<T>(file: string, fn: () => T, options?: LockOptions): T {
  const release = acquireLock(file, options);
  try { return fn(); } finally { release(); }
}
