// Render one page in headless Chromium and take a full-page screenshot.
// usage: node screenshot.cjs <node prefix> <chromium> <url> <png> <selector> [width height]
// ROLECALL_CLICKS (a JSON list of texts, or of CSS selectors in [brackets]) are clicked in
// order first, as a person would.
// Prints JSON: the page title, its visible text, how many nodes match <selector>, and
// every URL the page requested (a page readable offline requests nothing but itself).
const path = require("path");
const [prefix, executablePath, url, png, selector, width, height] = process.argv.slice(2);
const { chromium } = require(path.join(prefix, "node_modules", "playwright-core"));
const args = JSON.parse(process.env.ROLECALL_CHROMIUM_ARGS || "[]");
const clicks = JSON.parse(process.env.ROLECALL_CLICKS || "[]");

(async () => {
  const browser = await chromium.launch({ executablePath, args, timeout: 60000 });
  try {
    const page = await browser.newPage({
      viewport: { width: Number(width || 1400), height: Number(height || 900) } });
    const requests = [];
    page.on("request", (r) => requests.push(r.url()));
    await page.goto(url, { waitUntil: "load", timeout: 60000 });
    for (const text of clicks) {
      const target = text.startsWith("[") ? page.locator(text) : page.getByText(text, { exact: true });
      await target.first().click({ timeout: 30000 });
      await page.waitForTimeout(400);
    }
    await page.waitForSelector(selector, { timeout: 60000 });
    await page.waitForTimeout(500);
    await page.screenshot({ path: png, fullPage: true });
    const text = await page.evaluate(() => document.body.innerText);
    const count = await page.locator(selector).count();
    console.log(JSON.stringify({ title: await page.title(), text, count, requests }));
  } finally {
    await browser.close();
  }
})().catch((err) => { console.error(String(err && err.stack || err)); process.exit(1); });
