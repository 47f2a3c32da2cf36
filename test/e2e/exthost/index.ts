/**
 * Mocha entry point for the extension-host suite (VS Code calls `run()` via extensionTestsPath).
 * Bundled to out/e2e/exthost/index.cjs by scripts/e2e/build-tests.mjs; it loads every
 * *.test.cjs next to it (*.untrusted.cjs in the restricted suite, PERSONA_LAB_EXTHOST_UNTRUSTED set). The last line it logs carries the totals for the harness's summary:
 *   PERSONA_LAB_EXTHOST_RESULT {"passed":N,"failed":N,"pending":N}
 */
import { readdirSync } from 'node:fs';
import * as path from 'node:path';
import Mocha from 'mocha';

export function run(): Promise<void> {
  const mocha = new Mocha({ ui: 'bdd', color: false, timeout: 60_000, reporter: 'spec' });
  const grep = process.env.PERSONA_LAB_EXTHOST_GREP;
  if (grep) mocha.grep(grep);
  // The restricted suite (an untrusted workspace) runs *.untrusted.cjs; every other run the *.test.cjs files.
  const suffix = process.env.PERSONA_LAB_EXTHOST_UNTRUSTED ? '.untrusted.cjs' : '.test.cjs';
  for (const f of readdirSync(__dirname).filter((n) => n.endsWith(suffix)).sort()) mocha.addFile(path.join(__dirname, f));
  return new Promise((resolve, reject) => {
    const runner = mocha.run((failures) => {
      const s = runner.stats;
      console.log(`PERSONA_LAB_EXTHOST_RESULT ${JSON.stringify({ passed: s?.passes ?? 0, failed: s?.failures ?? failures, pending: s?.pending ?? 0 })}`);
      if (failures > 0) reject(new Error(`${failures} extension-host test(s) failed`));
      else resolve();
    });
  });
}
