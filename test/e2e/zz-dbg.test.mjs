import { it } from 'node:test';
import { startFedgate, launchBrowser } from '/work/main/test/e2e/helpers.mjs';
it('dbg', async (t) => {
  const fg = await startFedgate(t);
  const b = await launchBrowser(t);
  const variants = {
    blurOnly: () => document.activeElement.blur(),
    selection: () => { document.activeElement.blur(); getSelection().collapse(document.body, 0); },
  };
  for (const [name, fn] of Object.entries(variants)) for (let i = 0; i < 3; i++) {
    const page = await (await b.newContext({ baseURL: fg.baseURL })).newPage();
    await page.goto('/apps/demo/');
    await page.waitForFunction(() => document.activeElement?.id === 'username');
    await page.evaluate(fn);
    await page.keyboard.press('Tab');
    console.log(name, await page.evaluate(() => document.activeElement.outerHTML.slice(0, 40)));
    await page.context().close();
  }
});
