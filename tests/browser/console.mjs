// tests/browser/console.mjs PORT PASSWORD SERVICE_TOKEN SHOTS_DIR — the web
// console in headless Debian chromium (playwright-core): sign in, see a
// risky attempt posted through the API arrive in the alerts list without a
// reload, triage it by keyboard, no console errors (CSP violations
// included). Screenshots of each page in SHOTS_DIR. TAP on stdout.
import { chromium } from "playwright-core";
import { mkdirSync } from "node:fs";

const [port, password, svcToken, shots] = process.argv.slice(2);
const base = `http://127.0.0.1:${port}`;
mkdirSync(shots, { recursive: true });
const browser = await chromium.launch({ executablePath: process.env.CHROMIUM || "/usr/bin/chromium", args: ["--no-sandbox"] });
const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
const problems = [];
page.on("console", (m) => { if (m.type() === "error") problems.push(m.text()); });
page.on("pageerror", (e) => problems.push(e.message));

let n = 0, failed = 0;
async function check(name, fn) {
  n++;
  try {
    await fn();
    console.log(`ok ${n} - ${name}`);
  } catch (e) {
    failed++;
    console.log(`not ok ${n} - ${name}\n#   ${String(e.message).split("\n").slice(0, 6).join("\n#   ")}`);
  }
}
function expect(cond, what) { if (!cond) throw new Error(what); }

await check("the console is served with a strict Content-Security-Policy; a wrong password is refused", async () => {
  const r = await page.goto(base + "/");
  const csp = r.headers()["content-security-policy"] || "";
  expect(r.status() === 200 && csp.includes("script-src 'self'") && csp.includes("frame-ancestors 'none'"), "CSP: " + csp);
  await page.fill("input[name=username]", "root");
  await page.fill("input[name=password]", "not the password at all");
  await page.click("#signin-form button");
  // locators, not waitForFunction: the CSP rightly refuses eval
  await page.locator("#signin-error", { hasText: "invalid username or password" }).waitFor();
  expect(!(await page.isVisible("#nav")), "the navigation bar shows on the sign-in page");
  await page.screenshot({ path: `${shots}/signin.png` });
});

await check("signing in shows the dashboard and the live feed connects", async () => {
  await page.fill("input[name=password]", password);
  await page.click("#signin-form button");
  await page.waitForSelector("#dashboard:not([hidden]) .card b");
  await page.waitForSelector("#live.on");
  expect(await page.isVisible("#nav"), "no navigation bar once signed in");
  expect((await page.textContent("#who")).includes("root (admin)"), "who: " + (await page.textContent("#who")));
  await page.screenshot({ path: `${shots}/dashboard.png` });
});

let alertId;
await check("a risky attempt posted through the API appears in the alerts list without a reload", async () => {
  await page.click("nav a[href='#alerts']");
  await page.waitForSelector("#alerts:not([hidden])");
  const before = await page.$$eval("#alert-list tbody tr", (rows) => rows.length);
  const r = await fetch(base + "/api/login/analyze", {
    method: "POST", headers: { "Content-Type": "application/json", Authorization: "Bearer " + svcToken },
    body: JSON.stringify({ user_id: "browser-victim", ip_address: "185.220.101.77", password_breached: true,
                           device: { user_agent: "python-requests/2.31" } }),
  });
  const d = await r.json();
  expect(d.alert_id, "no alert: " + JSON.stringify(d));
  alertId = d.alert_id;
  await page.waitForSelector(`#alert-list tbody tr[data-id="${alertId}"]`, { timeout: 5000 });
  expect((await page.$$eval("#alert-list tbody tr", (rows) => rows.length)) === before + 1, "one new row");
  await page.screenshot({ path: `${shots}/alerts.png` });
});

await check("the dashboard's timeline chart (Chart.js from npm, served by riskd) draws the attempts; readable on a phone", async () => {
  await page.click("nav a[href='#dashboard']");
  await page.waitForSelector("#dashboard:not([hidden])");
  const js = await fetch(base + "/vendor/chart.umd.min.js");
  expect(js.status === 200 && (js.headers.get("content-type") || "").includes("javascript"), "chart library: " + js.status);
  // the screen-reader table holds this hour's bucket, with the attempt just posted
  await page.waitForSelector("#timeline-table tbody tr");
  const attempts = await page.$$eval("#timeline-table tbody tr", (rows) => rows.reduce((n, r) => n + Number(r.cells[1].textContent), 0));
  expect(attempts >= 1, "attempts in the timeline: " + attempts);
  // the canvas has been drawn on (not blank) by the chart library
  const inked = await page.$eval("#timeline-chart", (c) => {
    const d = c.getContext("2d").getImageData(0, 0, c.width, c.height).data;
    let n = 0;
    for (let i = 3; i < d.length; i += 4) if (d[i] > 0) n++;
    return { n, w: c.width, h: c.height };
  });
  expect(inked.w > 100 && inked.h > 100 && inked.n > 1000, "canvas: " + JSON.stringify(inked));
  await page.selectOption("#timeline-range", "720:day");
  await page.waitForSelector("#timeline-table tbody tr");
  await page.screenshot({ path: `${shots}/dashboard-timeline.png`, fullPage: true });
  await page.setViewportSize({ width: 390, height: 844 });
  try {
    // the chart follows its box on the next resize observation: give it a moment
    let overflow;
    for (let i = 0; i < 30; i++) {
      overflow = await page.$eval("main", (m) => m.scrollWidth - m.clientWidth);
      if (overflow <= 2) break;
      await page.waitForTimeout(100);
    }
    expect(overflow <= 2, "the page scrolls sideways on a phone by " + overflow + " px");
    await page.screenshot({ path: `${shots}/dashboard-phone.png`, fullPage: true });
  } finally {
    await page.setViewportSize({ width: 1280, height: 800 });
  }
  await page.click("nav a[href='#alerts']");
  await page.waitForSelector("#alerts:not([hidden])");
});

await check("triage by keyboard: open the alert, set investigating with a note, see it in the history", async () => {
  await page.focus(`#alert-list tbody tr[data-id="${alertId}"]`);
  await page.keyboard.press("Enter");
  await page.waitForSelector("#alert-detail:not([hidden])");
  await page.selectOption("#triage select[name=status]", "investigating");
  await page.fill("#triage input[name=note]", "looking at it");
  await page.click("#triage button");
  await page.locator("#alert-history li", { hasText: "investigating by root: looking at it" }).waitFor();
  await page.locator(`#alert-list tr[data-id="${alertId}"] .status`, { hasText: "investigating" }).waitFor();
  await page.screenshot({ path: `${shots}/alert-detail.png` });
});

await check("an attempt's page lists every rule's result and says why the model scored it", async () => {
  await page.click("#alert-events a");
  await page.waitForSelector("#event:not([hidden])");
  await page.locator("#event-rules td", { hasText: "anonymous_network" }).waitFor();
  await page.locator("#event-rules td", { hasText: "bot_client" }).waitFor();
  await page.locator("#event-expected", { hasText: "Baseline score" }).waitFor();
  const bars = await page.locator("#event-explain .bar").count();
  expect(bars >= 10, "only " + bars + " contribution bars");
  await page.screenshot({ path: `${shots}/event.png` });
});

await check("admins see the rules with their hits and errors, and the models page, where a retraining reports its progress", async () => {
  await page.click("nav a[href='#rules']");
  const row = page.locator("#rule-list tr", { hasText: "bot_client" });
  await row.waitFor();
  expect(Number(await row.locator("td").nth(3).textContent()) >= 1, "bot_client has no hit");
  expect((await row.locator("td").nth(1).textContent()) === "reputation", "bot_client's family is not shown");
  const levels = await page.locator("#rule-levels").textContent();
  expect(/high from 60\.00/.test(levels) && /until the calibration has its history/.test(levels), `levels: ${levels}`);
  await page.screenshot({ path: `${shots}/rules.png` });
  await page.click("nav a[href='#models']");
  await page.locator("#model-list td", { hasText: "default.model" }).waitFor();
  // retraining reports its progress; this store holds too few attempts, which it says
  await page.click("#retrain");
  await page.locator("#retrain-progress:not([hidden])").waitFor();
  await page.locator("#retrain-status", { hasText: /failed: only \d+ legitimate events/ }).waitFor({ timeout: 20000 });
  await page.screenshot({ path: `${shots}/models.png` });
  await page.click("nav a[href='#alerts']");
  await page.waitForSelector("#alerts:not([hidden])");
});

async function analyzeBot() {
  const r = await fetch(base + "/api/login/analyze", {
    method: "POST", headers: { "Content-Type": "application/json", Authorization: "Bearer " + svcToken },
    body: JSON.stringify({ user_id: "rule-check", ip_address: "192.0.2.55", device: { user_agent: "curl/8.0" } }),
  });
  const d = await r.json();
  return (d.rules.find((x) => x.name === "bot_client") || {}).reason || "";
}

async function eventually(fn, ms, what) {
  const until = Date.now() + ms;
  for (;;) {
    if (await fn()) return;
    if (Date.now() > until) throw new Error(what + ": not within " + ms + " ms; bot_client now says: " + (await analyzeBot()));
    await new Promise((r) => setTimeout(r, 200));
  }
}

await check("a rule edited in the console is live when the save answers; a broken edit is refused with its line", async () => {
  await page.click("nav a[href='#rules']");
  await page.locator("#rule-list tr[data-rule=bot_client]").click();
  const area = page.locator("#rule-form textarea");
  await page.locator("#rule-title", { hasText: "bot_client.lua" }).waitFor();
  const source = await area.inputValue();
  expect(source.includes("a scripting tool or headless browser"), "source not shown");
  await area.fill(source.replaceAll("a scripting tool or headless browser", "an automation tool"));
  await page.fill("#rule-form input[name=note]", "shorter wording");
  await page.click("#rule-form button");
  await page.locator("#rule-result", { hasText: "version 2 is live" }).waitFor();   // answered once it serves
  await page.locator("#rule-history pre", { hasText: "+" }).first().waitFor();
  await eventually(async () => (await analyzeBot()).includes("an automation tool"), 5000, "the edit");
  await page.screenshot({ path: `${shots}/rule-editor.png` });
  await area.fill("return { name = 'bot_client',\n  evaluate = function( end }\n");
  await page.click("#rule-form button");
  await page.locator("#rule-result", { hasText: /^refused: .*bot_client\.lua:2:/ }).waitFor();
  expect((await analyzeBot()).includes("an automation tool"), "the refused edit replaced the rule");
  await page.screenshot({ path: `${shots}/rule-refused.png` });
  await page.locator("#rule-history li[value='1'] button").click();
  await page.locator("#rule-result", { hasText: "version 1 restored as version 3" }).waitFor();
  await eventually(async () => (await analyzeBot()).includes("a scripting tool or headless browser"), 5000, "the restore");
});

// A drawn canvas: enough non-transparent pixels that a chart is there.
async function inked(sel) {
  return page.$eval(sel, (c) => {
    const d = c.getContext("2d").getImageData(0, 0, c.width, c.height).data;
    let n = 0;
    for (let i = 3; i < d.length; i += 4) if (d[i] > 0) n++;
    return n;
  });
}

await check("the dashboard breaks the last day down by level, country and rule, charts and table alike", async () => {
  await page.click("nav a[href='#dashboard']");
  await page.locator("#breakdown-table td", { hasText: "bot_client" }).first().waitFor();
  for (const id of ["#by-level", "#by-country", "#by-rule"]) expect((await inked(id)) > 500, id + " is blank");
  const note = await page.locator("#breakdown-note").textContent();
  expect(/\d+ attempts in the last 24 hours/.test(note), "note: " + note);
  const shot = await page.locator(".breakdowns").screenshot({ path: `${shots}/breakdowns.png` });
  expect(shot.length > 5000, "breakdowns screenshot is " + shot.length + " bytes");
});

await check("the attempts page searches by user, address, country, level and rule, pages, and links each user", async () => {
  // enough attempts of one user for two pages
  for (let i = 0; i < 23; i++) {
    await fetch(base + "/api/login/analyze", {
      method: "POST", headers: { "Content-Type": "application/json", Authorization: "Bearer " + svcToken },
      body: JSON.stringify({ user_id: "pager-user", ip_address: "198.51.100." + (10 + (i % 2)),
                             location: { country: i % 2 ? "DE" : "FR" }, device: { device_id: "pd" } }),
    });
  }
  await page.click("nav a[href='#events']");
  await page.waitForSelector("#events:not([hidden])");
  await page.fill("#event-filters input[name=user_id]", "pager-user");
  await page.click("#event-filters button");
  await page.locator("#event-pager span", { hasText: "page 1 of 2 (23)" }).waitFor();
  expect((await page.locator("#event-list tbody tr").count()) === 20, "not 20 rows on page 1");
  await page.click("#event-pager [data-step='1']");
  await page.locator("#event-pager span", { hasText: "page 2 of 2" }).waitFor();
  expect((await page.locator("#event-list tbody tr").count()) === 3, "not 3 rows on page 2");
  await page.fill("#event-filters input[name=country]", "de");
  await page.click("#event-filters button");
  await page.locator("#event-pager span", { hasText: "page 1 of 1 (11)" }).waitFor();
  const countries = await page.$$eval("#event-list tbody tr", (rows) => rows.map((r) => r.cells[3].textContent));
  expect(countries.every((c) => c === "DE"), "countries: " + countries);
  await page.fill("#event-filters input[name=user_id]", "");
  await page.fill("#event-filters input[name=country]", "");
  await page.fill("#event-filters input[name=rule]", "bot_client");
  await page.click("#event-filters button");
  await page.locator("#event-list td", { hasText: "bot_client" }).first().waitFor();
  await page.locator("#event-pager span", { hasText: "(11)" }).waitFor({ state: "detached" }).catch(() => {});
  const rules = await page.$$eval("#event-list tbody tr", (rows) => rows.map((r) => r.cells[7].textContent));
  expect(rules.length >= 1 && rules.every((r) => r.includes("bot_client")), "rules: " + rules);
  await page.fill("#event-filters input[name=rule]", "");
  await page.fill("#event-filters input[name=ip_address]", "198.51.100.11");
  await page.selectOption("#event-filters select[name=risk_level]", "");
  await page.click("#event-filters button");
  await page.locator("#event-pager span", { hasText: "(11)" }).waitFor();
  const risks = await page.$$eval("#event-list tbody tr", (rows) => rows.map((r) => r.cells[4].textContent));
  expect(risks.every((x) => /^\d+\.\d$/.test(x)), "risks not rounded to one decimal: " + risks);
  await page.screenshot({ path: `${shots}/events.png`, fullPage: true });
});

await check("a user's page: profile, attempts, alerts and the analyst's mark, reached from a user name", async () => {
  await page.locator("#event-list tbody a[href='#user/pager-user']").first().click();
  await page.waitForSelector("#user:not([hidden])");
  await page.locator("#user-title", { hasText: "User pager-user" }).waitFor();
  await page.locator("#user-devices td", { hasText: "pd" }).waitFor();
  await page.locator("#user-countries td", { hasText: "FR" }).waitFor();
  expect((await page.locator("#user-events tbody tr").count()) === 20, "recent attempts not listed");
  expect((await page.locator("#user-hours .hour").count()) === 24, "no hour bars");
  await page.locator("#user-state-now", { hasText: "No analyst's mark" }).waitFor();
  await page.click("#user-state button[data-state=compromised]");
  await page.locator("#user-state-now", { hasText: "Marked compromised by root" }).waitFor();
  const d = await (await fetch(base + "/api/login/analyze", {
    method: "POST", headers: { "Content-Type": "application/json", Authorization: "Bearer " + svcToken },
    body: JSON.stringify({ user_id: "pager-user", ip_address: "198.51.100.10", location: { country: "FR" }, device: { device_id: "pd" } }),
  })).json();
  expect(d.rules.some((r) => r.name === "account_state"), "the mark does not weigh: " + JSON.stringify(d.rules));
  await page.screenshot({ path: `${shots}/user.png`, fullPage: true });
  await page.click("#user-state button[data-state='']");
  await page.locator("#user-state-now", { hasText: "No analyst's mark" }).waitFor();
  // from the alerts list too
  await page.click("nav a[href='#alerts']");
  await page.locator("#alert-list tbody a[href='#user/browser-victim']").first().click();
  await page.locator("#user-title", { hasText: "User browser-victim" }).waitFor();
  expect((await page.locator("#user-alerts tbody tr").count()) >= 1, "the user's alert is not listed");
});

await check("the phishing page lists analyses with their verdicts, filters, and shows why", async () => {
  const mail = "From: PayPal <service@paypa1-secure.com>\r\nTo: ana@example.com\r\nSubject: Verify your account now\r\n" +
    "Content-Type: text/html\r\n\r\n<p>Your account is suspended. <a href='http://paypa1-secure.com/login'>https://www.paypal.com/</a></p>\r\n";
  const r = await fetch(base + "/api/phishing/analyze", {
    method: "POST", headers: { "Content-Type": "message/rfc822", Authorization: "Bearer " + svcToken }, body: mail });
  expect(r.status === 200, "analyze: " + r.status);
  await page.click("nav a[href='#phishing']");
  await page.locator("#phish-list td", { hasText: "Verify your account now" }).waitFor();
  await page.selectOption("#phish-filters select[name=verdict]", "clean");
  await page.click("#phish-filters button");
  await page.locator("#phish-pager span", { hasText: "(0)" }).waitFor();
  await page.selectOption("#phish-filters select[name=verdict]", "");
  await page.click("#phish-filters button");
  await page.locator("#phish-list tbody tr").first().click();
  await page.locator("#phish-reasons li").first().waitFor();
  await page.screenshot({ path: `${shots}/phishing.png`, fullPage: true });
});

await check("readable on a phone: nothing wider than the screen", async () => {
  await page.setViewportSize({ width: 390, height: 844 });
  const wide = await page.evaluate(() => document.documentElement.scrollWidth);
  expect(wide <= 390, "page is " + wide + " px wide");
  await page.screenshot({ path: `${shots}/alerts-phone.png`, fullPage: true });
});

await check("no error in the browser console (CSP violations included)", async () => {
  // chromium logs the answers the console expects and shows as failed
  // resources: the wrong password's 401, the broken rule's 422
  const real = problems.filter((p) => !p.includes("status of 401") && !p.includes("status of 422"));
  expect(real.length === 0, real.join("\n"));
});

await browser.close();
console.log(`1..${n}`);
process.exit(failed ? 1 : 0);
