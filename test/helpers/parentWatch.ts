/**
 * Under `npm run <script>`, npm runs the script in a shell, and a SIGTERM sent to npm alone
 * reaches only that shell, which exits without passing it on: the script's process is left
 * running, orphaned, with nothing to stop it (found by reviews, for the sandbox and for
 * `npm start`). `exec` in the script would fix it, but not on Windows' cmd. Instead, a process
 * started by npm for `script` watches for the shell to go (its parent becomes another process)
 * and then calls `gone`, within a quarter of a second.
 */
export function whenNpmParentGoes(script: string, gone: () => void): void {
  if (process.env.npm_lifecycle_event !== script) return;
  const parent = process.ppid;
  setInterval(() => {
    if (process.ppid !== parent) gone();
  }, 250).unref();
}
