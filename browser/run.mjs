// Doorman's pages in real headless Chromium (the system's /usr/bin/chromium), driven by
// playwright-core. A plain Node script: `steps` below is an array of small named async steps
// sharing one context object `ctx`; each reports PASS, FAIL or SKIP (a step whose input an
// earlier step failed to produce), and the script exits non-zero if any step did not pass.
//
// Any console error in a page (`console.error`, an uncaught exception, a CSP violation, a
// resource that failed to load) fails the step it happened in, unless that step declared it
// with `ctx.allowConsoleError(regex)`.
//
// Environment (scripts/browser-tests.sh sets it from `doorman demo`'s output):
//   DOORMAN_URL                the server, e.g. http://127.0.0.1:8470
//   DOORMAN_MANAGER_EMAIL      DOORMAN_MANAGER_PASSWORD   a building's manager
//   DOORMAN_RESIDENT_EMAIL     DOORMAN_RESIDENT_PASSWORD  a resident of that building
//   DOORMAN_ADDRESS            the building's address, as registered
//   SCREENSHOT_DIR             where full-page PNGs go (default: ./screenshots)
//   CHROMIUM                   the browser (default: /usr/bin/chromium)
//   HEADED=1                   show the browser (needs a display)
//
// To add a step: write `step('what it checks', async (ctx) => { ... })` in `steps`, in the
// order it must run. Use `ctx.need('key')` for what an earlier step left in `ctx`, `check()`
// for assertions, `ctx.visit()` to load a page with the standard checks, `ctx.shot()` for a
// screenshot.

import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { chromium } from 'playwright-core';

// ---------------------------------------------------------------------------------------------
// The harness.

class Skip extends Error {}


function env(name, fallback) {
  const v = process.env[name];
  if (v !== undefined && v !== '') return v;
  if (fallback !== undefined) return fallback;
  throw new Error(`environment variable ${name} is not set`);
}

/** Throws with `message` unless `cond` holds. */
function check(cond, message) {
  if (!cond) throw new Error(message);
}

function step(name, run) {
  return { name, run };
}

/** The shared context: configuration, the browser, what steps leave for later ones. */
function makeContext(browser) {
  const base = env('DOORMAN_URL').replace(/\/+$/, '');
  const ctx = {
    browser,
    base,
    manager: { email: env('DOORMAN_MANAGER_EMAIL'), password: env('DOORMAN_MANAGER_PASSWORD') },
    resident: { email: env('DOORMAN_RESIDENT_EMAIL'), password: env('DOORMAN_RESIDENT_PASSWORD') },
    address: env('DOORMAN_ADDRESS'),
    screenshotDir: path.resolve(env('SCREENSHOT_DIR', 'screenshots')),
    /** Console errors and failed requests of the running step: { text, page }. */
    errors: [],
    /** Patterns of console errors the running step expects. */
    allowed: [],
    /** Browser contexts opened by `ctx.session()`, by name. */
    sessions: new Map(),

    url(p) {
      return new URL(p, base + '/').toString();
    },

    /** A value an earlier step left in ctx; skips this step if it isn't there. */
    need(key) {
      if (ctx[key] === undefined || ctx[key] === null) {
        throw new Skip(`needs ctx.${key}, which an earlier step did not produce`);
      }
      return ctx[key];
    },

    allowConsoleError(re) {
      ctx.allowed.push(re);
    },

    /** A named browser context (a person's cookies), created on first use, with one page. */
    async session(name, options = {}) {
      let s = ctx.sessions.get(name);
      if (!s) {
        const context = await browser.newContext({ viewport: { width: 1280, height: 800 }, ...options });
        context.setDefaultTimeout(15_000);
        context.setDefaultNavigationTimeout(30_000);
        const page = await ctx.watch(await context.newPage(), name);
        s = { context, page };
        ctx.sessions.set(name, s);
      }
      return s;
    },

    async closeSession(name) {
      const s = ctx.sessions.get(name);
      if (s) {
        ctx.sessions.delete(name);
        await s.context.close();
      }
    },

    /** Records every console error of `page` against the running step. */
    async watch(page, label) {
      const record = (text) => ctx.errors.push({ text, label, url: page.url() });
      page.on('console', (msg) => {
        if (msg.type() === 'error') {
          const loc = msg.location();
          record(`console error: ${msg.text()}${loc && loc.url ? ` (at ${loc.url}:${loc.lineNumber})` : ''}`);
        }
      });
      page.on('pageerror', (err) => record(`uncaught exception: ${err.message}`));
      page.on('requestfailed', (req) => {
        record(`request failed: ${req.method()} ${req.url()}: ${req.failure()?.errorText}`);
      });
      // Chromium also prints CSP violations to the console; this catches them even if it
      // stopped doing so. Init scripts are injected by the browser, outside the page's CSP.
      await page.addInitScript(() => {
        document.addEventListener('securitypolicyviolation', (e) => {
          console.error(
            `CSP violation: ${e.violatedDirective} blocked ${e.blockedURI || '(inline)'} in ${e.sourceFile || document.URL}:${e.lineNumber}`,
          );
        });
      });
      return page;
    },

    /**
     * Loads `p` in `page` and checks what every page must have: the expected status, an
     * HTML document with the strict CSP header, the stylesheet applied, no horizontal
     * scrolling at the page's width. Returns the response.
     */
    async visit(page, p, { status = 200 } = {}) {
      const response = await page.goto(ctx.url(p), { waitUntil: 'load' });
      check(response, `no response for ${p}`);
      await ctx.checkLoaded(page, response, { status });
      return response;
    },

    async checkLoaded(page, response, { status = 200 } = {}) {
      const where = new URL(page.url()).pathname + new URL(page.url()).search;
      check(response.status() === status, `${where}: status ${response.status()}, expected ${status}`);
      const headers = response.headers();
      check((headers['content-type'] || '').startsWith('text/html'), `${where}: content-type ${headers['content-type']}`);
      const csp = headers['content-security-policy'] || '';
      check(csp.includes("default-src 'none'"), `${where}: no strict Content-Security-Policy (got "${csp}")`);
      const facts = await page.evaluate(() => ({
        rules: [...document.styleSheets].reduce((n, s) => n + s.cssRules.length, 0),
        scrollWidth: document.documentElement.scrollWidth,
        clientWidth: document.documentElement.clientWidth,
        title: document.title,
      }));
      check(facts.rules > 0, `${where}: the stylesheet did not load`);
      check(facts.title.includes('Doorman'), `${where}: title "${facts.title}"`);
      check(
        facts.scrollWidth <= facts.clientWidth,
        `${where}: scrolls sideways (${facts.scrollWidth}px wide in a ${facts.clientWidth}px window)`,
      );
    },

    /** A full-page PNG of `page` as SCREENSHOT_DIR/<name>.png. */
    async shot(page, name) {
      await mkdir(ctx.screenshotDir, { recursive: true });
      const file = path.join(ctx.screenshotDir, `${name}.png`);
      await page.screenshot({ path: file, fullPage: true });
      ctx.log(`screenshot ${file}`);
    },

    log(line) {
      console.log(`      ${line}`);
    },
  };
  return ctx;
}

/** The text of the first element matching `selector`, trimmed and with spaces collapsed. */
async function text(page, selector) {
  const el = page.locator(selector).first();
  check((await el.count()) > 0, `no ${selector} on ${page.url()}`);
  return (await el.innerText()).replace(/\s+/g, ' ').trim();
}

async function rows(page, selector) {
  return page.locator(`${selector} tbody tr`).count();
}

/** Signs `who` in through the form at /signin in `page`; waits for /app. */
async function signIn(ctx, page, who, { screenshot } = {}) {
  await ctx.visit(page, '/signin');
  check((await text(page, 'h1')) === 'Sign in', 'the sign-in page has no "Sign in" heading');
  if (screenshot) await ctx.shot(page, screenshot);
  await page.getByLabel('Email').fill(who.email);
  await page.getByLabel('Password').fill(who.password);
  // The form's POST answers either 303 to /app or the form again with the problem.
  const [response] = await Promise.all([
    page.waitForNavigation({ waitUntil: 'load' }),
    page.getByRole('button', { name: 'Sign in' }).click(),
  ]);
  if (new URL(page.url()).pathname !== '/app') {
    ctx.allowConsoleError(/status of 4\d\d/); // the failed form's own status: reported below
    const problem = (await page.locator('.problem').allInnerTexts()).join(' ');
    throw new Error(`signing in as ${who.email} led to ${page.url()} (status ${response?.status()}), not /app${problem ? `: "${problem}"` : ''}`);
  }
  await ctx.checkLoaded(page, response);
  const bar = await text(page, '.bar');
  check(bar.includes(who.email), `/app does not say who is signed in (${bar})`);
}

/** The public lookup result for the demo's building, as rendered in `page`. */
async function checkLookupResult(ctx, page) {
  check((await page.getByText('No property is registered').count()) === 0, `no property found at "${ctx.address}"`);
  const sections = page.locator('section.property');
  check((await sections.count()) >= 1, 'no property section in the lookup result');
  const heading = await text(page, 'section.property h2');
  check(
    heading.toLowerCase().includes(ctx.address.toLowerCase().split(',')[0]),
    `the lookup result is for "${heading}", not "${ctx.address}"`,
  );
  const devices = await rows(page, 'section.property table:has(caption:text-matches("^Devices"))');
  const carriers = await rows(page, 'section.property table:has(caption:text-matches("^Carriers"))');
  check(devices > 0, 'the lookup result lists no device');
  check(carriers > 0, 'the lookup result lists no carrier');
  const verified = await page.locator('section.property .ok').count();
  const warnings = await page.locator('section.property .warn').count();
  ctx.log(`lookup: ${devices} devices, ${carriers} carriers, ${verified} entries verified, ${warnings} warnings`);
  check(warnings === 0, `the lookup result shows ${warnings} warnings`);
}

// ---------------------------------------------------------------------------------------------
// The steps, in order.

const steps = [
  step('home page (public)', async (ctx) => {
    const { page } = await ctx.session('visitor');
    await ctx.visit(page, '/');
    check((await text(page, 'h1')).startsWith('Who can open the door'), 'the home page has not its heading');
    check((await page.locator('form.lookup input[name=address]').count()) === 1, 'the home page has no lookup form');
    const log = await text(page, 'section[aria-labelledby=log-h]');
    const m = log.match(/holds (\d+) entries/);
    check(m && Number(m[1]) > 0, `the home page does not count the log's entries ("${log}")`);
    ctx.logEntries = Number(m[1]);
    ctx.log(`the log holds ${ctx.logEntries} entries`);
    for (const name of ['Look up a building', 'The public log', 'Your buildings']) {
      check((await page.getByRole('navigation').getByRole('link', { name }).count()) === 1, `no "${name}" link in the site's navigation`);
    }
    await ctx.shot(page, 'home');
  }),

  step('harness self-check: a CSP violation in a page is caught', async (ctx) => {
    const { page } = await ctx.session('visitor');
    await ctx.visit(page, '/');
    const violation = /Content Security Policy|CSP violation/;
    ctx.allowConsoleError(violation);
    const error = (re) => page.waitForEvent('console', { predicate: (m) => m.type() === 'error' && re.test(m.text()), timeout: 5_000 });
    const seen = Promise.all([error(/Content Security Policy/), error(/^CSP violation: style-src/)]);
    // An inline stylesheet: the page's policy (style-src 'self') must refuse it.
    const spacing = () => page.evaluate(() => getComputedStyle(document.body).wordSpacing);
    const before = await spacing();
    await page.evaluate(() => {
      const s = document.createElement('style');
      s.textContent = 'body { word-spacing: 17px }';
      document.head.append(s);
    });
    const [chromium, listener] = await seen;
    ctx.log(`caught: ${chromium.text().slice(0, 110)}…`);
    ctx.log(`caught: ${listener.text()}`);
    check(ctx.errors.filter((e) => violation.test(e.text)).length >= 2, 'the console watcher did not record the violation');
    const after = await spacing();
    check(after === before && after !== '17px', `the inline stylesheet was applied (word-spacing ${before} -> ${after})`);
  }),

  step('address lookup by URL (public)', async (ctx) => {
    const { page } = await ctx.session('visitor');
    await ctx.visit(page, `/lookup?address=${encodeURIComponent(ctx.address)}`);
    check((await page.locator('#address').inputValue()) === ctx.address, 'the lookup form does not keep the address');
    await checkLookupResult(ctx, page);
  }),

  step('address lookup through the form on /lookup (public)', async (ctx) => {
    const { page } = await ctx.session('visitor');
    await ctx.visit(page, '/lookup');
    check((await page.locator('section.property').count()) === 0, '/lookup shows a result before any search');
    await page.getByLabel("The building's address").fill(ctx.address);
    const [response] = await Promise.all([
      page.waitForNavigation({ url: (u) => u.pathname === '/lookup' && u.searchParams.has('address'), waitUntil: 'load' }),
      page.getByRole('button', { name: 'Look up' }).click(),
    ]);
    await ctx.checkLoaded(page, response);
    check(new URL(page.url()).searchParams.get('address') === ctx.address, `the form searched ${page.url()}`);
    await checkLookupResult(ctx, page);
    await ctx.shot(page, 'lookup');
  }),

  step('an unknown address (public)', async (ctx) => {
    const { page } = await ctx.session('visitor');
    await ctx.visit(page, `/lookup?address=${encodeURIComponent('99 Nowhere Lane, Atlantis')}`);
    check((await page.getByText('No property is registered').count()) === 1, 'an unknown address does not say "No property is registered"');
    check((await page.locator('section.property').count()) === 0, 'an unknown address shows a property');
  }),

  step('log page (public)', async (ctx) => {
    const { page } = await ctx.session('visitor');
    await ctx.visit(page, '/log');
    check((await text(page, 'h1')) === 'The public log', 'the log page has not its heading');
    const entries = Number(await text(page, 'dl.facts dt:text-is("Entries") + dd'));
    check(entries > 0, `the log page shows ${entries} entries`);
    if (ctx.logEntries !== undefined) {
      check(entries >= ctx.logEntries, `the log page shows ${entries} entries, the home page showed ${ctx.logEntries}`);
    }
    const note = await text(page, 'pre.note-text');
    check(note.includes(String(entries)), 'the checkpoint note does not hold the tree size');
    const verify = await text(page, 'pre code');
    check(verify.startsWith('doorman log verify --url '), `the log page does not say how to verify ("${verify}")`);
    ctx.log(`log: ${entries} entries`);
    await ctx.shot(page, 'log');
  }),

  step('a signed-out visitor of /app is sent to sign in', async (ctx) => {
    const { page } = await ctx.session('visitor');
    await ctx.visit(page, '/app');
    check(new URL(page.url()).pathname === '/signin', `/app without a session led to ${page.url()}`);
  }),

  step('manager signs in through the form at /signin', async (ctx) => {
    const { page } = await ctx.session('manager');
    await signIn(ctx, page, ctx.manager, { screenshot: 'signin' });
    ctx.managerSignedIn = true;
  }),

  step("overview lists the manager's building", async (ctx) => {
    ctx.need('managerSignedIn');
    const { page } = await ctx.session('manager');
    check(new URL(page.url()).pathname === '/app', `expected to be on /app after signing in, not ${page.url()}`);
    check((await text(page, 'h1')) === 'Your buildings', 'the overview has not its heading');
    const row = page.locator('tbody tr', { hasText: ctx.address });
    check((await row.count()) === 1, `the overview has no row for "${ctx.address}"`);
    const cells = (await row.locator('td').allInnerTexts()).map((t) => t.replace(/\s+/g, ' ').trim());
    ctx.log(`overview row: ${cells.join(' | ')}`);
    const link = row.locator('a[href^="/app/properties/"]');
    check((await link.count()) === 1, 'the building has no link to its page');
    ctx.propertyLink = await link.getAttribute('href');
    ctx.propertyName = (await link.innerText()).trim();
    await ctx.shot(page, 'overview');
  }),

  step("property page from the overview: doors, devices, carriers' week grid", async (ctx) => {
    const { page } = await ctx.session('manager');
    const href = ctx.need('propertyLink');
    const [response] = await Promise.all([
      page.waitForNavigation({ url: (u) => u.pathname === href, waitUntil: 'load' }),
      page.getByRole('link', { name: ctx.propertyName, exact: true }).click(),
    ]);
    await ctx.checkLoaded(page, response);
    ctx.propertyUrl = page.url();
    check((await text(page, 'h1')) === ctx.propertyName, 'the property page is not titled with its name');
    const doors = await rows(page, 'table[aria-labelledby=doors-h]');
    const devices = await rows(page, 'table[aria-labelledby=devices-h]');
    check(doors > 0, 'the property page lists no door');
    check(devices > 0, 'the property page lists no device');
    const carriers = page.locator('section.carrier');
    const n = await carriers.count();
    check(n > 0, 'the property page lists no carrier');
    for (let i = 0; i < n; i++) {
      const c = carriers.nth(i);
      const name = (await c.locator('h3').innerText()).trim();
      const svg = c.locator('svg.week');
      check((await svg.count()) === 1, `carrier ${name} has no week grid`);
      const box = await svg.boundingBox();
      check(box && box.width > 100 && box.height > 50, `carrier ${name}'s week grid is not drawn (box ${JSON.stringify(box)})`);
      const spans = await svg.locator('rect').count();
      const days = await svg.locator('text').evaluateAll((ts) => ts.map((t) => t.textContent.trim()).filter((t) => /^[A-Z][a-z]{1,2}$/.test(t)));
      check(days.length === 7, `carrier ${name}'s week grid has ${days.length} day labels`);
      check(spans > 0, `carrier ${name}'s week grid shows no allowed time`);
      ctx.log(`carrier ${name}: ${spans} spans in the week grid, ${Math.round(box.width)}x${Math.round(box.height)} px`);
    }
    ctx.log(`property: ${doors} doors, ${devices} devices, ${n} carriers`);
    await ctx.shot(page, 'property');
  }),

  step('property page weight (a cold load, with its assets)', async (ctx) => {
    const url = ctx.need('propertyUrl');
    const { context } = await ctx.session('manager');
    // A fresh context with the manager's cookies and an empty cache: every asset is fetched.
    const name = 'manager-cold';
    const { page } = await ctx.session(name, { storageState: await context.storageState() });
    try {
      const requests = [];
      page.on('requestfinished', (r) => requests.push(r));
      await ctx.visit(page, url);
      let body = 0;
      let headers = 0;
      for (const r of requests) {
        const s = await r.sizes();
        body += s.responseBodySize;
        headers += s.responseHeadersSize;
        ctx.log(`${(await r.response())?.status()} ${new URL(r.url()).pathname}: ${s.responseBodySize} bytes (+${s.responseHeadersSize} of headers)`);
      }
      check(requests.length > 1, `the page load made ${requests.length} request(s): the stylesheet was not fetched`);
      console.log(`property page weight: ${body} bytes`);
      ctx.log(`${requests.length} responses; ${body + headers} bytes with headers`);
    } finally {
      await ctx.closeSession(name);
    }
  }),

  step('manager signs out with the button on /app', async (ctx) => {
    ctx.need('managerSignedIn');
    const { page } = await ctx.session('manager');
    await ctx.visit(page, '/app');
    check(new URL(page.url()).pathname === '/app', `the manager's /app led to ${page.url()}: no longer signed in`);
    const [response] = await Promise.all([
      page.waitForNavigation({ url: (u) => u.pathname !== '/app', waitUntil: 'load' }),
      page.getByRole('button', { name: 'Sign out' }).click(),
    ]);
    await ctx.checkLoaded(page, response);
    check(new URL(page.url()).pathname === '/', `signing out led to ${page.url()}, not /`);
    const cookies = await page.context().cookies();
    check(!cookies.some((c) => c.name === 'doorman_session' && c.value), 'the session cookie is still set');
    await ctx.visit(page, '/app');
    check(new URL(page.url()).pathname === '/signin', `after signing out, /app led to ${page.url()}`);
    if (ctx.propertyUrl) {
      await ctx.visit(page, ctx.propertyUrl);
      check(new URL(page.url()).pathname === '/signin', `after signing out, the property page led to ${page.url()}`);
    }
  }),

  step('resident signs in and manages no building', async (ctx) => {
    const { page } = await ctx.session('resident');
    await signIn(ctx, page, ctx.resident);
    check((await page.locator('a[href^="/app/properties/"]').count()) === 0, 'the resident sees a building management link');
    const body = await text(page, 'main');
    check(body.includes('You manage no building'), `the resident's /app does not say so ("${body.slice(0, 200)}")`);
  }),

  step("resident gets 404 for the manager's property page", async (ctx) => {
    const url = ctx.need('propertyUrl');
    const { page } = await ctx.session('resident');
    // Chromium logs the 404 of the document itself as a console error: expected here.
    ctx.allowConsoleError(/Failed to load resource: the server responded with a status of 404/);
    await ctx.visit(page, url, { status: 404 });
    check(new URL(page.url()).href === url, `the property page redirected the resident to ${page.url()}`);
    check((await text(page, 'h1')) === 'Not found', 'the 404 page is not titled "Not found"');
    check((await page.locator('table, svg').count()) === 0, 'the 404 page shows building data');
    await ctx.shot(page, 'resident-404');
  }),
];

// ---------------------------------------------------------------------------------------------
// Running them.

async function main() {
  const started = Date.now();
  const executablePath = env('CHROMIUM', '/usr/bin/chromium');
  const browser = await chromium.launch({ executablePath, headless: process.env.HEADED !== '1' });
  let ctx;
  try {
    ctx = makeContext(browser);
  } catch (e) {
    await browser.close();
    throw e;
  }
  console.log(`browser tests: ${browser.version()} at ${executablePath}, against ${ctx.base}`);
  const results = { PASS: 0, FAIL: 0, SKIP: 0 };
  for (const [i, s] of steps.entries()) {
    ctx.errors = [];
    ctx.allowed = [];
    const t0 = Date.now();
    let outcome = 'PASS';
    let detail = [];
    try {
      await s.run(ctx);
    } catch (e) {
      if (e instanceof Skip) {
        outcome = 'SKIP';
        detail.push(e.message);
      } else {
        outcome = 'FAIL';
        detail.push(e.message.split('\n')[0]);
      }
    }
    const errors = ctx.errors.filter((e) => !ctx.allowed.some((re) => re.test(e.text)));
    if (errors.length > 0) {
      outcome = 'FAIL';
      for (const e of errors) detail.push(`[${e.label}] ${e.text} (page ${e.url})`);
    }
    results[outcome] += 1;
    const n = String(i + 1).padStart(2);
    console.log(`${outcome} ${n} ${s.name} (${Date.now() - t0} ms)`);
    for (const d of detail) console.log(`      ${outcome === 'SKIP' ? '' : '! '}${d}`);
  }
  for (const name of [...ctx.sessions.keys()]) await ctx.closeSession(name);
  await browser.close();
  console.log(`browser tests: ${((Date.now() - started) / 1000).toFixed(1)} s`);
  console.log(`${results.PASS} passed, ${results.FAIL} failed, ${results.SKIP} skipped`);
  return results.FAIL + results.SKIP === 0 ? 0 : 1;
}

main().then(
  (code) => process.exit(code),
  (e) => {
    console.error(`browser tests: ${e.stack || e}`);
    process.exit(2);
  },
);
