// Look at matrix.html as a person at a laptop does: a 1600 x 1000 window, nothing clicked
// yet; then follow every link of its table of contents, one after the other.
// usage: node layout.cjs <node prefix> <chromium> <url> <png> [width height]
// Prints JSON:
//   height           the page's height as it opens (scenarios that passed are closed)
//   requests         every URL the page asked for (offline: only itself)
//   links            per table-of-contents link: its target, whether the target exists,
//                    where the target's top is after the click, and whether it is shown
//   grids            per users x actions grid (every section opened): the right edge of its
//                    last column header, its width and its container's
//   notes            per collapsed-row note: its width, the width its text needs, its right edge
// and takes a screenshot of the window (not of the whole page) into <png>.
const path = require("path");
const [prefix, executablePath, url, png, width, height] = process.argv.slice(2);
const { chromium } = require(path.join(prefix, "node_modules", "playwright-core"));
const args = JSON.parse(process.env.ROLECALL_CHROMIUM_ARGS || "[]");

(async () => {
  const browser = await chromium.launch({ executablePath, args, timeout: 60000 });
  try {
    const viewport = { width: Number(width || 1600), height: Number(height || 1000) };
    const page = await browser.newPage({ viewport });
    const requests = [];
    page.on("request", (r) => requests.push(r.url()));
    await page.goto(url, { waitUntil: "load", timeout: 60000 });
    await page.screenshot({ path: png });
    const opened = await page.evaluate(() => document.documentElement.scrollHeight);
    const hrefs = await page.$$eval("nav#contents a", (as) => as.map((a) => a.getAttribute("href")));
    const links = [];
    for (const href of hrefs) {
      await page.locator(`nav#contents a[href="${href}"]`).first().click();
      await page.waitForTimeout(50);
      links.push(await page.evaluate((href) => {
        const target = document.getElementById(href.slice(1));
        if (!target) return { href, exists: false };
        const box = target.getBoundingClientRect();
        return { href, exists: true, top: Math.round(box.top), height: Math.round(box.height),
                 shown: target.checkVisibility() };
      }, href));
    }
    await page.evaluate(() => document.querySelectorAll("details").forEach((d) => { d.open = true; }));
    const grids = await page.$$eval("table.grid", (tables) => tables.map((t) => {
      const heads = t.querySelectorAll("thead th");
      const last = heads[heads.length - 1];
      return { section: (t.closest("section") || {}).id || "", last: last.innerText,
               right: Math.round(last.getBoundingClientRect().right),
               width: Math.round(t.scrollWidth), container: Math.round(t.parentElement.clientWidth) };
    }));
    const notes = await page.$$eval("td.note", (tds) => tds.map((td) => ({
      section: (td.closest("section") || {}).id || "", text: td.innerText.slice(0, 60),
      client: td.clientWidth, needs: td.scrollWidth,
      right: Math.round(td.getBoundingClientRect().right) })));
    console.log(JSON.stringify({ height: opened, requests, links, grids, notes }));
  } finally {
    await browser.close();
  }
})().catch((err) => { console.error(String(err && err.stack || err)); process.exit(1); });
