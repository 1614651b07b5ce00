/**
 * Under `npm run <script>`, npm runs the script in a shell, and a SIGTERM sent to npm alone
 * reaches only that shell, which exits without passing it on: the script's process is left
 * running, orphaned, with nothing to stop it (found by reviews, for the sandbox and for
 * `npm start`). `exec` in the script would fix it, but not on Windows' cmd. Instead, a process
 * started by npm for a script watches for the shell to go: on POSIX systems its parent then
 * becomes another process (init, or a subreaper). Windows does not re-parent processes, so there
 * the watch never fires.
 *
 * The parent is read when this module loads, which a script should make its first import: a
 * shell gone before then (npm stopped in the first second) would otherwise be taken for the
 * parent. One that went even earlier shows as init (pid 1) being the parent already.
 */
const parentAtLoad = process.ppid;

/**
 * Calls `gone` within a quarter of a second of the npm shell going, when this process was started
 * by npm for `script`; answers a function that stops watching.
 */
export function whenNpmParentGoes(script: string, gone: () => void): () => void {
  if (process.env.npm_lifecycle_event !== script) return () => {};
  if (parentAtLoad === 1) {
    setImmediate(gone);
    return () => {};
  }
  const timer = setInterval(() => {
    if (process.ppid !== parentAtLoad) gone();
  }, 250);
  timer.unref();
  return () => clearInterval(timer);
}
