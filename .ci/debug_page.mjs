// Loads the /debug/traces page of a running service in headless Chromium, checks
// that the list shows its traces (errors highlighted) and that opening one shows its
// spans as a waterfall with details on click; prints what it saw as JSON.
//   node .ci/debug_page.mjs http://127.0.0.1:PORT/debug/traces [screenshot.png]
import { createRequire } from "node:module";
const require = createRequire(import.meta.url);
const { chromium } = require("./node_modules/playwright-core");

const [url, screenshot] = process.argv.slice(2);
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  args: ["--no-sandbox"],
});
try {
  const page = await browser.newPage({ viewport: { width: 1200, height: 800 } });
  const errors = [];
  page.on("pageerror", (e) => errors.push(String(e)));
  await page.goto(url);
  await page.waitForSelector("tr.trace", { timeout: 10000 });
  const rows = await page.$$eval("tr.trace", (rs) =>
    rs.map((r) => ({ name: r.querySelector(".name").textContent, error: r.classList.contains("error") })));
  await page.click("tr.trace.error");
  await page.waitForSelector("#waterfall .row.span", { timeout: 10000 });
  const spans = await page.$$eval("#waterfall .row.span", (rs) => rs.map((r) => r.dataset.spanName));
  const errorBars = await page.$$eval("#waterfall .bar.error", (bs) => bs.length);
  await page.click("#waterfall .row.span:last-child");
  const details = await page.textContent("#details");
  const logs = await page.$$eval("#logs tr", (rs) => rs.length);
  // The running list may rightly be empty: wait a little, not forever.
  await page.waitForSelector("#running tbody tr", { timeout: 3000 }).catch(() => {});
  const running = await page.$$eval("#running tbody tr", (rs) => rs.map((r) => r.children[1].textContent));
  if (screenshot) await page.screenshot({ path: screenshot, fullPage: true });
  console.log(JSON.stringify({ rows, spans, errorBars, details, logs, running, errors }));
} finally {
  await browser.close();
}
